/*
 * The HTTP client (tether.h, "HTTP client"): what client.c (the public
 * calls, run by the requesting tasks) and client_driver.c (the driver task
 * that owns the curl multi handle, and the socket watchers) share.
 *
 * curl is not thread-safe per handle, and its callbacks must never call it
 * back, so exactly one task touches the multi handle: the driver. Every
 * other task talks to it through one channel of messages (`events`): a
 * request hands over its easy handle (SUBMIT) and parks on a reply channel
 * of its own (`done`); a cancelled one asks for it back (CANCEL); the
 * watcher says that a socket got ready (READY).
 *
 * curl wants level-triggered readiness, the runtime's poller is edge-
 * triggered, and a task per socket would cost a stack per connection. So
 * the client keeps an epoll set of its own, level-triggered, that holds
 * curl's sockets with the events curl asks for (its socket callback edits
 * the set); the set's own descriptor sits on the runtime's poller, and one
 * watcher task waits on it. The driver drains the set with a zero-timeout
 * epoll_wait before it waits for messages, after each READY, and after any
 * call into curl that changed the set, so an edge that arrives while the
 * driver is busy is never lost: the watcher's next wait returns at once
 * (the poller remembers the edge) and the level-triggered set still holds
 * the socket.
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
  void *p; /* client_req (SUBMIT, CANCEL), tt_chan of int (CUT), NULL (READY) */
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

typedef struct req_list {
  client_req *first, *last;
  int n;
} req_list;

struct tt_http_client {
  tt_http_client_opts o; /* defaults filled in */
  char user_agent[96];
  tt_chan *events;          /* client_msg */
  tt_group *group;          /* the driver and the watcher */
  int epfd;                 /* curl's sockets, level-triggered */
  tt_fd epf;                /* the same descriptor, on the runtime's poller */
  atomic_bool ready_queued; /* a READY is on its way to the driver */
  /* Requests between their start and their return, under `lock`. */
  tt_mutex lock;
  tt_cond idle;
  int in_flight;
  CURL **spare; /* reset easy handles for the next requests, max_idle_conns at most */
  int nspare;
  bool closing, shut;
  /* The driver's own. */
  CURLM *multi;
  bool look; /* the set may hold ready sockets: drain it */
  req_list active, waiting;
  int64_t timer_at; /* curl's timeout, TT_NO_DEADLINE when none */
  bool unwatched;   /* a socket could not be watched: fail its request */
  bool cut, stopped;
};

/* The driver's and the watcher's entries (client_driver.c). */
int tt__http_client_driver(tt_context *ctx, void *arg);
int tt__http_client_watch(tt_context *ctx, void *arg);
/* A multi handle whose sockets and timer go to c's driver, or NULL. */
CURLM *tt__http_client_multi(tt_http_client *c);
/* Set up a request's easy handle for client c: 0 or TT_ENOMEM / TT_EINVAL. */
int tt__http_client_prepare(client_req *r, const tt_http_request *req);

#endif
