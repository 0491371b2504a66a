/*
 * The HTTP/1.1 server (tether.h, "HTTP/1.1 server"): what server.c (the
 * server, its listener and shutdown) and conn.c (one connection's task and
 * the exchange a handler sees) share.
 *
 * Cancellation is two contexts of the server, so that shutdown touches no
 * connection directly: every wait of a connection between requests (and
 * the accept) is bounded by `idle_ctx`, cancelled the moment shutdown
 * starts; every wait inside a request (head, body, response writes, the
 * handler's own context) by `hard_ctx`, cancelled when the grace is over.
 */
#ifndef TT_HTTP_SERVER_H
#define TT_HTTP_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/mux.h"
#include "http/parser.h"
#include "http/response.h"
#include "net/net.h"
#include "tether.h"

enum { TT_SRV_NEW, TT_SRV_LISTENING, TT_SRV_STOPPED };

struct tt_http_server {
  tt_http_server_opts o; /* defaults filled in */
  tt_http_limits limits;
  tt_http_mux mux;
  tt_fd listener;
  int port;
  _Atomic int state;   /* TT_SRV_* */
  atomic_bool closing; /* shutdown has started: answer with Connection: close */
  tt_context *idle_ctx, *hard_ctx;
  tt_wg *wg;            /* the accept task and every connection task */
  _Atomic int64_t live; /* the same tasks, readable: shutdown's grace wait off a task */
  _Atomic int nconns;   /* open connections, for max_conns */
};

/* The connection task's entry (conn.c); arg: a tt_http_conn_start. */
typedef struct tt_http_conn_start {
  tt_http_server *s;
  tt_fd fd;
  int64_t accepted; /* tt_now() at accept: the first head's deadline counts from here */
} tt_http_conn_start;

void tt_http_serve_conn(void *arg);

#endif
