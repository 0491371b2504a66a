/*
 * The HTTP/1.1 server: options, routes, the listener and its accept task,
 * and shutdown. One connection's life is in conn.c.
 */
#include "http/server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include "http/response.h"

#define SEC 1000000000LL

int tt_http_server_new(const tt_http_server_opts *opts, tt_http_server **out) {
  if (!out)
    return TT_EINVAL;
  *out = NULL;
  tt_http_server_opts o = opts ? *opts : (tt_http_server_opts){0};
  if (o.read_header_timeout < 0 || o.idle_timeout < 0 || o.request_timeout < 0 ||
      o.write_timeout < 0 || o.shutdown_grace < 0 || o.max_body_bytes < 0 || o.max_conns < 0)
    return TT_EINVAL;
  if (!o.read_header_timeout)
    o.read_header_timeout = 10 * SEC;
  if (!o.idle_timeout)
    o.idle_timeout = 120 * SEC;
  if (!o.write_timeout)
    o.write_timeout = 30 * SEC;
  if (!o.shutdown_grace)
    o.shutdown_grace = 5 * SEC;
  if (!o.max_header_bytes)
    o.max_header_bytes = tt__http_default_limits.max_head;
  if (!o.max_body_bytes)
    o.max_body_bytes = tt__http_default_limits.max_body;
  if (!o.max_conns)
    o.max_conns = 10000;
  /* The parser counts spans in 32 bits; a head of 1 GiB is no head. */
  if (o.max_header_bytes > (1u << 30))
    return TT_EINVAL;

  tt_http_server *s = calloc(1, sizeof *s);
  if (!s)
    return TT_ENOMEM;
  s->o = o;
  s->limits = tt__http_default_limits;
  s->limits.max_head = o.max_header_bytes;
  if (s->limits.max_line > o.max_header_bytes)
    s->limits.max_line = o.max_header_bytes;
  s->limits.max_body = o.max_body_bytes;
  s->wg = tt_wg_make();
  s->idle_ctx = tt_with_cancel(NULL);
  s->hard_ctx = tt_with_cancel(NULL);
  if (!s->wg || !s->idle_ctx || !s->hard_ctx) {
    tt_http_server_free(s);
    return TT_ENOMEM;
  }
  *out = s;
  return 0;
}

int tt_http_handle(tt_http_server *s, const char *method, const char *prefix, tt_http_handler_fn fn,
                   void *arg) {
  if (!s || !prefix || !fn)
    return TT_EINVAL;
  /* The routes are read by every connection without a lock: they are
   * fixed once the server listens. */
  if (atomic_load(&s->state) != TT_SRV_NEW)
    return TT_EBUSY;
  return tt__http_mux_add(&s->mux, method, prefix, fn, arg);
}

int tt_http_server_port(const tt_http_server *s) {
  if (!s || atomic_load(&s->state) == TT_SRV_NEW || s->port <= 0)
    return TT_EINVAL;
  return s->port;
}

/* Past max_conns: a 503 written without waiting (a fresh socket's send
 * buffer is empty), then close. Go's server has no such limit; a proxy
 * in front usually does this. */
static void refuse(tt_fd c) {
  static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
                             "Content-Type: text/plain; charset=utf-8\r\n"
                             "Connection: close\r\n"
                             "Content-Length: 24\r\n"
                             "\r\n"
                             "too many open connections";
  int fd = tt_fd_num(c);
  if (fd >= 0) {
    ssize_t w = send(fd, busy, sizeof busy - 2, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)w; /* best effort: the connection is closed either way */
    shutdown(fd, SHUT_WR);
  }
  tt_fd_close(c);
}

/* The accept task: one connection task per accepted socket, until
 * shutdown cancels idle_ctx. */
static void tt_http_accept_loop(void *arg) {
  tt_http_server *s = arg;
  int backoff_ms = 0;
  for (;;) {
    tt_fd c;
    int rc = tt_tcp_accept_ctx(s->listener, &c, s->idle_ctx);
    if (rc < 0) {
      if (tt_context_err(s->idle_ctx) || rc == TT_ECLOSED || rc == TT_EBADF)
        break;
      /* Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS...): wait a
       * little and try again, as Go's server does, rather than spin. */
      backoff_ms = backoff_ms ? (backoff_ms * 2 > 1000 ? 1000 : backoff_ms * 2) : 5;
      tt_sleep_ctx((int64_t)backoff_ms * 1000000, s->idle_ctx);
      continue;
    }
    backoff_ms = 0;
    if (atomic_load(&s->nconns) >= s->o.max_conns) {
      refuse(c);
      continue;
    }
    tt_http_conn_start *st = malloc(sizeof *st);
    if (!st) {
      tt_fd_close(c);
      continue;
    }
    *st = (tt_http_conn_start){.s = s, .fd = c, .accepted = tt_now()};
    atomic_fetch_add(&s->nconns, 1);
    atomic_fetch_add(&s->live, 1);
    tt_spawn_opts so = {.stack_size = s->o.stack_size};
    if (tt_wg_go_opts(s->wg, tt_http_serve_conn, st, &so) < 0) {
      atomic_fetch_sub(&s->live, 1);
      atomic_fetch_sub(&s->nconns, 1);
      tt_fd_close(c);
      free(st);
    }
  }
  tt_fd_close(s->listener);
  atomic_fetch_sub(&s->live, 1);
}

int tt_http_server_listen(tt_http_server *s, const char *host, const char *port) {
  if (!s || !port)
    return TT_EINVAL;
  int expect = TT_SRV_NEW;
  if (atomic_load(&s->state) != TT_SRV_NEW)
    return TT_EBUSY;
  int rc = tt_tcp_listen(host, port, TT_TCP_REUSEADDR, &s->listener);
  if (rc < 0)
    return rc;
  s->port = tt_sock_port(s->listener);
  if (!atomic_compare_exchange_strong(&s->state, &expect, TT_SRV_LISTENING)) {
    tt_fd_close(s->listener);
    return TT_EBUSY;
  }
  atomic_fetch_add(&s->live, 1);
  int64_t id = tt_wg_go(s->wg, tt_http_accept_loop, s);
  if (id < 0) {
    atomic_fetch_sub(&s->live, 1);
    tt_fd_close(s->listener);
    atomic_store(&s->state, TT_SRV_STOPPED);
    return (int)id;
  }
  return 0;
}

/* Waits until the server's tasks are gone or the deadline passes. */
static void wait_grace(tt_http_server *s, int64_t deadline) {
  if (tt_self() != 0) {
    tt_context *t = tt_with_deadline(NULL, deadline);
    if (t) {
      tt_wg_wait_ctx(s->wg, t);
      tt_context_release(t);
      return;
    }
  }
  /* A plain thread (or no memory for a context): poll; shutdown is rare
   * and a millisecond is well under any grace worth giving. */
  while (atomic_load(&s->live) > 0 && tt_now() < deadline) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
}

int tt_http_server_shutdown(tt_http_server *s, int64_t grace_ns) {
  if (!s)
    return TT_EINVAL;
  if (grace_ns < 0)
    grace_ns = s->o.shutdown_grace;
  atomic_store(&s->closing, true);
  /* Stops the accept task and ends every wait between requests. */
  tt_cancel_cause(s->idle_ctx, TT_ESHUTDOWN, "server shutting down");
  int64_t deadline = tt_now() + grace_ns;
  if (deadline < 0) /* overflow: a grace of "for ever" */
    deadline = TT_NO_DEADLINE;
  if (grace_ns > 0)
    wait_grace(s, deadline);
  /* The grace is over: cancel whatever still runs (handlers' contexts,
   * their reads and writes) and wait for it to leave. */
  tt_cancel_cause(s->hard_ctx, TT_ESHUTDOWN, "server shut down");
  tt_wg_wait(s->wg);
  atomic_store(&s->state, TT_SRV_STOPPED);
  return 0;
}

void tt_http_server_free(tt_http_server *s) {
  if (!s)
    return;
  if (atomic_load(&s->state) == TT_SRV_LISTENING)
    tt_http_server_shutdown(s, s->o.shutdown_grace);
  tt__http_mux_free(&s->mux);
  if (s->idle_ctx)
    tt_context_release(s->idle_ctx);
  if (s->hard_ctx)
    tt_context_release(s->hard_ctx);
  if (s->wg)
    tt_wg_free(s->wg);
  free(s);
}
