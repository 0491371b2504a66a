/*
 * The HTTP client (tether.h, "HTTP client"): what client.c (the public
 * calls, run by the requesting tasks) and client_driver.c (the driver task
 * that owns the curl multi handle, and the socket watchers) share.
 *
 * curl is not thread-safe per handle, and its callbacks must never call it
 * back, so exactly one task touches the multi handle: the driver. Every
 * other task talks to it through one channel of messages (`events`): a
 * request hands over its easy handle (SUBMIT) and parks on a reply channel
 * of its own (`done`); a cancelled one asks for it back (CANCEL); a socket
 * watcher says that an edge arrived on a descriptor (READY). Readiness is
 * level-checked by the driver with poll() before it calls curl (curl wants
 * level-triggered events, the runtime's poller is edge-triggered), so an
 * edge that arrives while nobody waits is never lost: the watcher's next
 * wait returns at once (the pollfd remembers it), and any change of what
 * curl wants on a socket queues a level check of its own.
 */
#ifndef TT_HTTP_CLIENT_H
#define TT_HTTP_CLIENT_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tether.h"

enum { MSG_SUBMIT = 1, MSG_CANCEL, MSG_READY, MSG_CUT, MSG_STOP };

typedef struct client_msg {
  int kind;
  void *p; /* client_req (SUBMIT, CANCEL), csock (READY), tt_chan of int (CUT) */
} client_msg;

/* One request. It lives on the requesting task's stack: the driver never
 * touches it after it has sent the result on `done`. */
typedef struct client_req {
  tt_http_client *c;
  CURL *easy;
  struct curl_slist *fields;
  tt_chan *done; /* int, capacity 1: the result */
  tt_http_response *resp;
  tt_http_body_fn on_body;
  void *on_body_arg;
  int64_t max_body;
  size_t body_cap, headers_cap;
  int cancel_code; /* set by the requester before it sends CANCEL */
  int fail;        /* a reason of our own to stop the transfer (TT_ETOOBIG...) */
  /* The driver's. */
  bool active, queued, finished;
  struct client_req *prev, *next; /* the active or the waiting list */
} client_req;

/* A descriptor curl uses, watched through a duplicate registered with the
 * runtime's poller. The duplicate is ours alone: curl may close its number
 * whenever it likes, and a late event finds only our own (closed) handle. */
typedef struct csock {
  tt_http_client *c;
  int fd;      /* curl's number */
  tt_fd f;     /* our duplicate on the poller */
  int want;    /* CURL_POLL_IN / OUT / INOUT (driver only) */
  bool closed; /* curl said REMOVE, the duplicate is closed (driver only) */
  bool pending;
  struct csock *next_pending;
  _Atomic int refs;   /* the table's, each watcher's, each READY message's */
  atomic_bool queued; /* a READY is on its way to the driver */
} csock;

typedef struct req_list {
  client_req *first, *last;
  int n;
} req_list;

struct tt_http_client {
  tt_http_client_opts o; /* defaults filled in */
  char user_agent[96];
  tt_chan *events; /* client_msg */
  tt_group *group; /* the driver and the watchers */
  /* Requests between their start and their return, under `lock`. */
  tt_mutex lock;
  tt_cond idle;
  int in_flight;
  bool closing, shut;
  /* The driver's own. */
  CURLM *multi;
  csock **socks; /* by curl's descriptor number */
  int nsocks;
  csock *pending; /* level checks to make */
  req_list active, waiting;
  int64_t timer_at; /* curl's timeout, TT_NO_DEADLINE when none */
  bool unwatched;   /* a socket could not be watched: fail its request */
  bool cut, stopped;
};

/* The driver's entry (client_driver.c). */
int tt__http_client_driver(tt_context *ctx, void *arg);
/* A multi handle whose sockets and timer go to c's driver, or NULL. */
CURLM *tt__http_client_multi(tt_http_client *c);
/* Set up a request's easy handle for client c: 0 or TT_ENOMEM / TT_EINVAL. */
int tt__http_client_prepare(client_req *r, const tt_http_request *req);

#endif
