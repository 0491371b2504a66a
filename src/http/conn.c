/*
 * One connection of the HTTP/1.1 server, served by one task, and the
 * exchange its handlers see.
 *
 *   accept ─► wait for the head's first byte (idle_ctx; read_header_timeout
 *             for the first request, idle_timeout between requests)
 *          ─► read the head to its end (hard_ctx; read_header_timeout: 408)
 *          ─► route, run the handler (body read on demand, response written
 *             as the handler asks), end the response it left open
 *          ─► drain what the handler left of the body, keep the bytes of
 *             the next pipelined request, and start again, or close
 *
 * The connection's bytes live in one buffer: the current request's head
 * from offset 0 (the parser's spans point into it, and the exchange hands
 * out NUL-terminated strings inside it), then the body's raw bytes from
 * `body_pos`, then whatever the client pipelined after them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include "http/mux.h"
#include "http/parser.h"
#include "http/query.h"
#include "http/response.h"
#include "http/server.h"

enum { RESP_NONE, RESP_STREAM, RESP_GATHER, RESP_DONE };

/* What a handler may leave unread of a body and still keep the connection
 * (Go's server reads up to 256 KiB the same way). */
#define DRAIN_MAX 262144
/* After an answer that closes the connection, how long the client gets to
 * stop sending before the socket is closed: closing with unread bytes makes
 * the kernel send a reset, which can destroy the answer in flight. */
#define LINGER_NS 500000000LL

typedef struct tt_http_conn tt_http_conn;

struct tt_http_exchange {
  tt_http_conn *c;
  const char *method, *target;
  char *path;
  const char *query; /* NULL when the target has none */
  size_t query_len;
  bool head;              /* a HEAD request */
  int64_t deadline;       /* request_timeout, from the end of the head */
  tt_context *ctx;        /* made on demand by tt_http_req_ctx */
  bool watching;          /* a watcher task runs for ctx */
  bool watch_pending;     /* start it once the body is read */
  bool body_done;         /* the whole body (and trailers) consumed */
  int body_status;        /* 400/413 when the body turned out bad */
  const char *body_error; /* ...and why */
  bool continue_sent;
  int resp_state;    /* RESP_* */
  int status;        /* for a streamed response */
  bool close;        /* the response says Connection: close */
  tt_bytebuf fields; /* user fields: name NUL value NUL ... */
  tt_bytebuf gather; /* a streamed body for an HTTP/1.0 client */
  bool has_ctype;    /* the user set Content-Type */
};

struct tt_http_conn {
  tt_http_server *s;
  tt_fd fd;
  tt_pollfd *pd; /* a reference held for the connection's life */
  char *buf;
  size_t len, cap, max_head_cap;
  size_t body_pos;
  bool broken; /* a write failed, or the framing is lost: close */
  tt_http_parser p;
  tt_http_exchange ex;
  tt_http_resp_buf resp;
  tt_wg *watch_wg;
  char pathbuf[256]; /* the path when short; longer ones are allocated */
};

/* ---- bytes in and out ------------------------------------------------------ */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Read what is there into buf[len..cap), waiting as ctx and deadline allow. */
static int64_t conn_read(tt_http_conn *c, tt_context *ctx, int64_t deadline) {
  for (;;) {
    ssize_t r = recv(c->pd->fd, c->buf + c->len, c->cap - c->len, 0);
    if (r > 0) {
      c->len += (size_t)r;
      return r;
    }
    if (r == 0)
      return TT_EOF;
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN)
      return tt__net_error(errno);
    int rc = tt__fd_wait(c->pd, TT_READABLE, ctx, deadline);
    if (rc < 0)
      return rc;
  }
}

static int conn_write(tt_http_conn *c, const void *data, size_t n) {
  if (c->broken)
    return TT_ECONNRESET;
  int64_t deadline = tt_now() + c->s->o.write_timeout;
  size_t done = 0;
  while (done < n) {
    ssize_t w = send(c->pd->fd, (const char *)data + done, n - done, MSG_NOSIGNAL);
    if (w >= 0) {
      done += (size_t)w;
      continue;
    }
    if (errno == EINTR)
      continue;
    int rc = errno == EAGAIN ? tt__fd_wait(c->pd, TT_WRITABLE, c->s->hard_ctx, deadline)
                             : tt__net_error(errno);
    if (rc < 0) {
      c->broken = true;
      return rc;
    }
  }
  return 0;
}

/* Room to read into: grow up to `limit` bytes of buffer. */
static bool conn_room(tt_http_conn *c, size_t limit) {
  if (c->len < c->cap)
    return true;
  if (c->cap >= limit)
    return false;
  size_t cap = c->cap * 2 < limit ? c->cap * 2 : limit;
  if (cap == 0)
    return false;
  char *b = realloc(c->buf, cap);
  if (!b)
    return false;
  c->buf = b;
  c->cap = cap;
  return true;
}

/* ---- responses ------------------------------------------------------------- */

static bool will_close(tt_http_conn *c) {
  return !c->p.keep_alive || c->broken || c->ex.body_status || atomic_load(&c->s->closing);
}

/* Status line, Date, the user's fields and the server's, into c->resp. */
static int start_response(tt_http_conn *c, int status, const char *content_type) {
  tt_http_exchange *ex = &c->ex;
  int rc = tt__http_resp_start(&c->resp, status, ex->head, time(NULL));
  if (rc < 0)
    return rc;
  for (size_t off = 0; off < ex->fields.len;) {
    const char *name = (const char *)ex->fields.data + off;
    const char *value = name + strlen(name) + 1;
    off = (size_t)(value - (const char *)ex->fields.data) + strlen(value) + 1;
    tt__http_resp_field(&c->resp, name, value);
  }
  if (content_type && !ex->has_ctype)
    tt__http_resp_field(&c->resp, "Content-Type", content_type);
  ex->close = will_close(c);
  if (ex->close)
    tt__http_resp_field(&c->resp, "Connection", "close");
  else if (c->p.version_minor == 0)
    tt__http_resp_field(&c->resp, "Connection", "keep-alive");
  return 0;
}

static int send_resp(tt_http_conn *c) {
  if (c->resp.out.failed) {
    c->broken = true;
    return TT_ENOMEM;
  }
  int rc = conn_write(c, c->resp.out.data, c->resp.out.len);
  c->resp.out.len = 0;
  return rc;
}

int tt_http_respond(tt_http_exchange *ex, int status, const char *content_type, const void *body,
                    size_t len) {
  if (!ex || (len && !body) || status < 200 || status > 599 || ex->resp_state != RESP_NONE)
    return TT_EINVAL;
  if (content_type && !tt__http_field_ok("Content-Type", content_type))
    return TT_EINVAL;
  if (len && (status == 204 || status == 304))
    return TT_EINVAL;
  tt_http_conn *c = ex->c;
  int rc = start_response(c, status, content_type);
  if (rc < 0)
    return rc;
  rc = tt__http_resp_body(&c->resp, body, len);
  if (rc < 0)
    return rc;
  ex->resp_state = RESP_DONE;
  return send_resp(c);
}

int tt_http_resp_status(tt_http_exchange *ex, int status) {
  if (!ex || status < 200 || status > 599 || ex->resp_state != RESP_NONE)
    return TT_EINVAL;
  ex->status = status;
  return 0;
}

int tt_http_resp_write(tt_http_exchange *ex, const void *data, size_t len) {
  if (!ex || (len && !data))
    return TT_EINVAL;
  tt_http_conn *c = ex->c;
  if (ex->resp_state == RESP_NONE) {
    int status = ex->status ? ex->status : 200;
    if (status == 204 || status == 304)
      return TT_EINVAL;
    int rc = start_response(c, status, NULL);
    if (rc < 0)
      return rc;
    if (c->p.version_minor == 0) {
      /* HTTP/1.0 has no chunked coding: gather, and frame it at the end. */
      ex->resp_state = RESP_GATHER;
    } else {
      tt__http_resp_chunked_begin(&c->resp);
      ex->resp_state = RESP_STREAM;
      if ((rc = send_resp(c)) < 0)
        return rc;
    }
  }
  switch (ex->resp_state) {
  case RESP_GATHER:
    tt__bytebuf_put(&ex->gather, data, len);
    return ex->gather.failed ? TT_ENOMEM : 0;
  case RESP_STREAM:
    if (len == 0 || ex->head)
      return 0;
    tt__http_resp_chunk(&c->resp, data, len);
    return send_resp(c);
  default: return TT_EINVAL;
  }
}

/* Ends whatever the handler left open. */
static void finish_response(tt_http_conn *c) {
  tt_http_exchange *ex = &c->ex;
  switch (ex->resp_state) {
  case RESP_NONE:
    if (ex->body_status)
      tt_http_respond(ex, ex->body_status, "text/plain; charset=utf-8", ex->body_error,
                      strlen(ex->body_error));
    else
      tt_http_respond(ex, 500, "text/plain; charset=utf-8", "handler sent no response\n", 25);
    break;
  case RESP_STREAM:
    tt__http_resp_chunked_end(&c->resp);
    send_resp(c);
    break;
  case RESP_GATHER:
    tt__http_resp_body(&c->resp, ex->gather.data, ex->gather.len);
    send_resp(c);
    break;
  default: break;
  }
  ex->resp_state = RESP_DONE;
}

int tt_http_resp_header(tt_http_exchange *ex, const char *name, const char *value) {
  if (!ex || ex->resp_state != RESP_NONE || !tt__http_field_ok(name, value))
    return TT_EINVAL;
  tt__bytebuf_put(&ex->fields, name, strlen(name) + 1);
  tt__bytebuf_put(&ex->fields, value, strlen(value) + 1);
  if (ex->fields.failed)
    return TT_ENOMEM;
  if (tt__http_caseeq(name, strlen(name), "content-type", 12))
    ex->has_ctype = true;
  return 0;
}

/* An answer of the server's own, outside any handler (a bad head, a
 * timeout): the client's framing is not to be trusted, so it closes. */
static void answer_error(tt_http_conn *c, int status, const char *why) {
  char body[160];
  int n = snprintf(body, sizeof body, "%s\n", why ? why : tt__http_status_text(status));
  if (n < 0 || (size_t)n >= sizeof body)
    n = (int)strlen(body);
  if (tt__http_resp_start(&c->resp, status, false, time(NULL)) < 0)
    return;
  tt__http_resp_field(&c->resp, "Content-Type", "text/plain; charset=utf-8");
  tt__http_resp_field(&c->resp, "Connection", "close");
  tt__http_resp_body(&c->resp, body, (size_t)n);
  send_resp(c);
}

/* ---- the request ----------------------------------------------------------- */

const char *tt_http_req_method(const tt_http_exchange *ex) { return ex ? ex->method : NULL; }
const char *tt_http_req_path(const tt_http_exchange *ex) { return ex ? ex->path : NULL; }

const char *tt_http_req_header(const tt_http_exchange *ex, const char *name) {
  if (!ex || !name)
    return NULL;
  const tt_http_field *f = tt__http_field_get(&ex->c->p, ex->c->buf, name);
  return f ? tt__http_str(ex->c->buf, f->value) : NULL;
}

int tt_http_req_query(const tt_http_exchange *ex, const char *key, char *buf, size_t cap) {
  if (!ex || !key || !buf || cap == 0)
    return TT_EINVAL;
  if (!ex->query) {
    buf[0] = 0;
    return TT_ENOENT;
  }
  size_t len = 0;
  int rc = tt__http_query_get(ex->query, ex->query_len, key, buf, cap, &len);
  if (rc < 0)
    return rc;
  return rc ? (int)len : TT_ENOENT;
}

/* The watcher: while the handler runs with its context, sees the client
 * close or reset the connection and cancels the context. It peeks, so a
 * pipelined request stays where it is (and ends the watch: the client is
 * evidently still there). */
static void tt_http_watch_conn(void *arg) {
  tt_http_conn *c = arg;
  tt_context *ctx = c->ex.ctx;
  for (;;) {
    char b;
    ssize_t r = recv(c->pd->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r > 0)
      return;
    if (r == 0) {
      tt_cancel_cause(ctx, TT_EOF, "client closed the connection");
      return;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN) {
      tt_cancel_cause(ctx, tt__net_error(errno), "client connection broken");
      return;
    }
    if (tt__fd_wait(c->pd, TT_READABLE, ctx, TT_NO_DEADLINE) < 0)
      return; /* the request is over (or timed out, or the server stops) */
  }
}

static void watch_start(tt_http_conn *c) {
  c->ex.watch_pending = false;
  if (!c->watch_wg && !(c->watch_wg = tt_wg_make()))
    return;
  if (tt_wg_go(c->watch_wg, tt_http_watch_conn, c) > 0)
    c->ex.watching = true;
}

tt_context *tt_http_req_ctx(tt_http_exchange *ex) {
  if (!ex)
    return NULL;
  if (ex->ctx)
    return ex->ctx;
  tt_context *parent = ex->c->s->hard_ctx;
  ex->ctx = ex->deadline == TT_NO_DEADLINE ? tt_with_cancel(parent)
                                           : tt_with_deadline(parent, ex->deadline);
  if (!ex->ctx)
    return NULL;
  /* The watcher reads the socket: it may start only when the body is no
   * longer being read. */
  if (ex->body_done)
    watch_start(ex->c);
  else
    ex->watch_pending = true;
  return ex->ctx;
}

static void body_failed(tt_http_exchange *ex) {
  ex->body_status = ex->c->p.status;
  ex->body_error = ex->c->p.error ? ex->c->p.error : "bad request body";
}

int64_t tt_http_req_body_read(tt_http_exchange *ex, void *out, size_t n) {
  if (!ex || (!out && n))
    return TT_EINVAL;
  tt_http_conn *c = ex->c;
  if (ex->body_status)
    return TT_EINVAL;
  if (ex->body_done || n == 0)
    return 0;
  if (c->broken)
    return TT_ECONNRESET;
  if (c->p.expect_continue && !ex->continue_sent && ex->resp_state == RESP_NONE) {
    /* The client waits for this before it sends the body. */
    ex->continue_sent = true;
    c->resp.out.len = 0;
    tt__http_write_continue(&c->resp.out);
    int rc = send_resp(c);
    if (rc < 0)
      return rc;
  }
  for (;;) {
    size_t avail = c->len - c->body_pos;
    if (avail > 0) {
      /* At most n raw bytes in, so at most n data bytes out. */
      size_t give = avail < n ? avail : n, used = 0, dlen = 0;
      const char *data = NULL;
      int r = tt__http_parse_body(&c->p, c->buf + c->body_pos, give, &used, &data, &dlen);
      if (r == TT_HTTP_ERROR) {
        body_failed(ex);
        return TT_EINVAL;
      }
      c->body_pos += used;
      if (dlen)
        memmove(out, data, dlen);
      if (r == TT_HTTP_DONE) {
        ex->body_done = true;
        if (ex->watch_pending)
          watch_start(c);
      }
      if (dlen || r == TT_HTTP_DONE)
        return (int64_t)dlen;
      continue;
    }
    /* Everything buffered is consumed: read more over the consumed part. */
    c->len = c->body_pos = c->p.head_len;
    if (!conn_room(c, c->p.head_len + 16384))
      return TT_ENOMEM;
    int64_t deadline = min64(ex->deadline, tt_now() + c->s->o.idle_timeout);
    int64_t rc = conn_read(c, ex->ctx ? ex->ctx : c->s->hard_ctx, deadline);
    if (rc < 0) {
      c->broken = true; /* the body's end is unknown: the connection cannot go on */
      return rc;
    }
  }
}

/* Reads and drops what the handler left of the body, when it is small. */
static bool drain_body(tt_http_conn *c) {
  tt_http_exchange *ex = &c->ex;
  if (ex->body_done)
    return true;
  if (c->p.expect_continue && !ex->continue_sent)
    return false; /* the client has not sent it and waits to be told */
  if (c->p.content_length > DRAIN_MAX)
    return false;
  char scratch[4096];
  int64_t total = 0;
  while (!ex->body_done && total <= DRAIN_MAX) {
    int64_t r = tt_http_req_body_read(ex, scratch, sizeof scratch);
    if (r < 0)
      return false;
    total += r;
  }
  return ex->body_done;
}

/* ---- the connection task --------------------------------------------------- */

/* NUL-terminates the head's pieces in place: each is followed by a byte
 * the parser is done with (SP after method and target, ':' after a name,
 * CR or whitespace after a value). */
static void terminate_head(tt_http_conn *c) {
  tt_http_parser *p = &c->p;
  c->buf[p->method.off + p->method.len] = 0;
  c->buf[p->target.off + p->target.len] = 0;
  for (int i = 0; i < p->nfields; i++)
    c->buf[p->fields[i].value.off + p->fields[i].value.len] = 0;
}

static void exchange_reset(tt_http_conn *c) {
  tt_http_exchange *ex = &c->ex;
  tt_bytebuf fields = ex->fields, gather = ex->gather;
  fields.len = gather.len = 0;
  fields.failed = gather.failed = false;
  if (ex->path && ex->path != c->pathbuf)
    free(ex->path);
  *ex = (tt_http_exchange){.c = c, .fields = fields, .gather = gather};
}

/* Runs one request whose head is parsed. */
static void run_request(tt_http_conn *c) {
  tt_http_parser *p = &c->p;
  tt_http_exchange *ex = &c->ex;
  exchange_reset(c);
  ex->method = c->buf + p->method.off;
  ex->target = c->buf + p->target.off;
  size_t method_len = p->method.len;
  const char *path;
  size_t path_len;
  tt__http_target_split(ex->target, p->target.len, &path, &path_len, &ex->query, &ex->query_len);
  ex->path = path_len < sizeof c->pathbuf ? c->pathbuf : malloc(path_len + 1);
  if (!ex->path) {
    ex->path = c->pathbuf;
    c->pathbuf[0] = 0;
    answer_error(c, 500, "out of memory");
    c->broken = true;
    return;
  }
  memcpy(ex->path, path, path_len);
  ex->path[path_len] = 0;
  terminate_head(c);
  ex->head = method_len == 4 && memcmp(ex->method, "HEAD", 4) == 0;
  ex->deadline = c->s->o.request_timeout ? tt_now() + c->s->o.request_timeout : TT_NO_DEADLINE;
  ex->body_done = !tt__http_has_body(p);
  c->body_pos = p->head_len;

  const tt_http_route *route = NULL;
  int found = tt__http_mux_find(&c->s->mux, ex->method, method_len, ex->path, path_len, &route);
  if (found == 200) {
    route->handler(ex, route->arg);
  } else if (found == 405) {
    char allow[256];
    tt__http_mux_allow(&c->s->mux, ex->path, path_len, allow, sizeof allow);
    tt_http_resp_header(ex, "Allow", allow);
    tt_http_respond(ex, 405, "text/plain; charset=utf-8", "method not allowed\n", 19);
  } else {
    tt_http_respond(ex, 404, "text/plain; charset=utf-8", "404 page not found\n", 19);
  }

  if (ex->ctx) {
    /* The request is over: its context is done, which also stops the
     * watcher; wait for it before anyone reads the socket again. */
    tt_cancel(ex->ctx);
    if (ex->watching)
      tt_wg_wait(c->watch_wg);
    tt_context_unref(ex->ctx);
    ex->ctx = NULL;
  }
  finish_response(c);
  if (!ex->close && !c->broken && !drain_body(c))
    c->broken = true;
}

/* Closing after an answer: stop sending, give the client a moment to read
 * it and stop sending too, then close (see LINGER_NS). */
static void linger_close(tt_http_conn *c) {
  shutdown(c->pd->fd, SHUT_WR);
  int64_t deadline = tt_now() + LINGER_NS;
  for (size_t total = 0; total < DRAIN_MAX;) {
    c->len = 0;
    int64_t r = conn_read(c, c->s->hard_ctx, deadline);
    if (r < 0)
      break;
    total += (size_t)r;
  }
}

enum { NEXT_REQUEST, CLOSE_QUIET, CLOSE_LINGER };

/* Reads one head: NEXT_REQUEST when it is parsed. */
static int read_head(tt_http_conn *c, bool first, int64_t accepted) {
  tt_http_server *s = c->s;
  tt__http_parser_init(&c->p, &s->limits);
  int64_t head_deadline;
  if (c->len == 0) {
    /* Between requests: the client owes nothing yet. */
    if (atomic_load(&s->closing))
      return CLOSE_QUIET;
    int64_t deadline = first ? accepted + s->o.read_header_timeout : tt_now() + s->o.idle_timeout;
    if (!conn_room(c, c->max_head_cap) || conn_read(c, s->idle_ctx, deadline) < 0)
      return CLOSE_QUIET;
    head_deadline =
        first ? accepted + s->o.read_header_timeout : tt_now() + s->o.read_header_timeout;
  } else {
    head_deadline = tt_now() + s->o.read_header_timeout;
  }
  for (;;) {
    int r = tt__http_parse_head(&c->p, c->buf, c->len);
    if (r == TT_HTTP_DONE)
      return NEXT_REQUEST;
    if (r == TT_HTTP_ERROR) {
      answer_error(c, c->p.status, c->p.error);
      return CLOSE_LINGER;
    }
    if (!conn_room(c, c->max_head_cap)) {
      answer_error(c, 431, "request head too large");
      return CLOSE_LINGER;
    }
    int64_t rc = conn_read(c, s->hard_ctx, head_deadline);
    if (rc == TT_ETIMEDOUT) {
      answer_error(c, 408, "request head not received in time");
      return CLOSE_LINGER;
    }
    if (rc < 0)
      return CLOSE_QUIET;
  }
}

void tt_http_serve_conn(void *arg) {
  tt_http_conn_start st = *(tt_http_conn_start *)arg;
  free(arg);
  tt_http_server *s = st.s;
  tt_http_conn *c = calloc(1, sizeof *c);
  if (!c || tt__pollfd_get(st.fd.h, &c->pd) < 0) {
    free(c);
    goto out;
  }
  c->s = s;
  c->fd = st.fd;
  /* The head must fit; a little more lets a pipelined request's start
   * arrive with it. */
  c->max_head_cap = s->limits.max_head + 1024;
  c->cap = c->max_head_cap < 4096 ? c->max_head_cap : 4096;
  c->buf = malloc(c->cap);
  if (!c->buf)
    goto done;
  tt_tcp_nodelay(c->fd, 1);
  c->ex.c = c;
  for (bool first = true;; first = false) {
    int next = read_head(c, first, st.accepted);
    if (next == CLOSE_LINGER)
      linger_close(c);
    if (next != NEXT_REQUEST)
      break;
    run_request(c);
    if (c->ex.close || c->broken) {
      if (!c->broken)
        linger_close(c);
      break;
    }
    /* Keep the next pipelined request's bytes. */
    memmove(c->buf, c->buf + c->body_pos, c->len - c->body_pos);
    c->len -= c->body_pos;
    c->body_pos = 0;
  }
done:
  exchange_reset(c);
  free(c->ex.fields.data);
  free(c->ex.gather.data);
  tt__http_resp_free(&c->resp);
  if (c->watch_wg)
    tt_wg_free(c->watch_wg);
  free(c->buf);
  tt__pollfd_put(c->pd);
  free(c);
out:
  tt_fd_close(st.fd);
  atomic_fetch_sub(&s->nconns, 1);
  atomic_fetch_sub(&s->live, 1);
}
