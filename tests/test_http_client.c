/*
 * test_http_client: the HTTP client (libcurl on the runtime's poller)
 * against the project's own server on 127.0.0.1, and against a raw TCP
 * server where a test needs to misbehave or count connections: a timeout
 * fires on time, a context cancels mid-body, a body over the limit is
 * stopped early (counted on the server side), a server that closes
 * mid-response, a refused connection, a name that does not resolve, 1,000
 * requests through 10 slots (the server sees at most 10 at once),
 * shutdown inside and past its grace, keep-alive reuse, and misuse. Every
 * test ends with verify-none (nothing of the client is left) and a leak
 * check that finds nothing.
 */
#include "harness.h"

#include <pthread.h>
#include <stdbool.h>

/* ---- the server's handlers ------------------------------------------------ */

static atomic_int g_cur, g_max;        /* /delay requests being answered */
static atomic_int g_hang_active;       /* /hang handlers still waiting */
static atomic_int g_stream_active;     /* /stream handlers still writing */
static _Atomic int64_t g_stream_bytes; /* what /stream handlers managed to write */

static int64_t query_int(tt_http_exchange *ex, const char *key, int64_t dflt) {
  char buf[32];
  return tt_http_req_query(ex, key, buf, sizeof buf) > 0 ? strtoll(buf, NULL, 10) : dflt;
}

static void h_hello(tt_http_exchange *ex, void *arg) {
  (void)arg;
  tt_http_resp_header(ex, "X-Hello", "  world ");
  tt_http_respond(ex, 200, "text/plain", "hello", 5);
}

static void h_status(tt_http_exchange *ex, void *arg) {
  (void)arg;
  tt_http_respond(ex, (int)query_int(ex, "code", 200), "text/plain", "status", 6);
}

static void h_delay(tt_http_exchange *ex, void *arg) {
  (void)arg;
  int now = atomic_fetch_add(&g_cur, 1) + 1;
  int m = atomic_load(&g_max);
  while (now > m && !atomic_compare_exchange_weak(&g_max, &m, now)) {
  }
  tt_sleep_ctx(TT_MS(query_int(ex, "ms", 10)), tt_http_req_ctx(ex));
  atomic_fetch_sub(&g_cur, 1);
  tt_http_respond(ex, 200, "text/plain", "ok", 2);
}

/* Never answers: waits until the client goes away (or shutdown). */
static void h_hang(tt_http_exchange *ex, void *arg) {
  (void)arg;
  atomic_fetch_add(&g_hang_active, 1);
  tt_sleep_ctx(TT_NO_DEADLINE, tt_http_req_ctx(ex));
  atomic_fetch_sub(&g_hang_active, 1);
}

/* n bytes with a Content-Length. */
static void h_bytes(tt_http_exchange *ex, void *arg) {
  (void)arg;
  size_t n = (size_t)query_int(ex, "n", 0);
  char *b = malloc(n ? n : 1);
  memset(b, 'b', n);
  tt_http_respond(ex, 200, "application/octet-stream", b, n);
  free(b);
}

/* Chunked, no Content-Length: n bytes in 64 KiB chunks, `ms` apart. */
static void h_stream(tt_http_exchange *ex, void *arg) {
  (void)arg;
  atomic_fetch_add(&g_stream_active, 1);
  int64_t n = query_int(ex, "n", 0), ms = query_int(ex, "ms", 0);
  static char chunk[65536];
  memset(chunk, 's', sizeof chunk);
  for (int64_t sent = 0; sent < n;) {
    size_t k = (size_t)(n - sent < (int64_t)sizeof chunk ? n - sent : (int64_t)sizeof chunk);
    if (tt_http_resp_write(ex, chunk, k) != 0)
      break;
    sent += (int64_t)k;
    atomic_fetch_add(&g_stream_bytes, (int64_t)k);
    if (ms && tt_sleep_ctx(TT_MS(ms), tt_http_req_ctx(ex)) != 0)
      break;
  }
  atomic_fetch_sub(&g_stream_active, 1);
}

static void h_echo(tt_http_exchange *ex, void *arg) {
  (void)arg;
  char buf[4096];
  size_t n = 0;
  int64_t r;
  while (n < sizeof buf && (r = tt_http_req_body_read(ex, buf + n, sizeof buf - n)) > 0)
    n += (size_t)r;
  char method_body[4200];
  int len =
      snprintf(method_body, sizeof method_body, "%s %.*s", tt_http_req_method(ex), (int)n, buf);
  tt_http_respond(ex, 200, "text/plain", method_body, (size_t)len);
}

static void h_redirect(tt_http_exchange *ex, void *arg) {
  (void)arg;
  tt_http_resp_header(ex, "Location", "/hello");
  tt_http_respond(ex, 302, "text/plain", "moved", 5);
}

static char g_base[64]; /* http://127.0.0.1:PORT */

static void url(char *out, size_t n, const char *path) { snprintf(out, n, "%s%s", g_base, path); }

/* Wait (up to 3 s) until *v == want. */
static bool await_value(atomic_int *v, int want) {
  for (int i = 0; i < 3000 && atomic_load(v) != want; i++)
    tt_sleep(TT_MS(1));
  return atomic_load(v) == want;
}

/* ---- a raw server: counts connections, and cuts responses short ---------- */

static atomic_int g_raw_accepts;
static tt_context *g_raw_ctx;
static tt_fd g_raw_listener;
static int g_raw_port;

static void raw_conn(void *arg) {
  tt_fd f = {(int64_t)(intptr_t)arg};
  char buf[4096];
  size_t have = 0;
  for (;;) {
    int64_t r = tt_fd_read_ctx(f, buf + have, sizeof buf - 1 - have, g_raw_ctx);
    if (r <= 0)
      break;
    have += (size_t)r;
    buf[have] = 0;
    char *end = strstr(buf, "\r\n\r\n");
    if (!end)
      continue;
    bool cut = strstr(buf, " /cut ") != NULL;
    have = 0;
    if (cut) {
      static const char part[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial";
      tt_fd_write_all(f, part, sizeof part - 1);
      break;
    }
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    if (tt_fd_write_all(f, ok, sizeof ok - 1) < 0)
      break;
  }
  tt_fd_close(f);
}

static void raw_server(void *arg) {
  (void)arg;
  tt_fd c;
  while (tt_tcp_accept_ctx(g_raw_listener, &c, g_raw_ctx) == 0) {
    atomic_fetch_add(&g_raw_accepts, 1);
    tt_go(raw_conn, (void *)(intptr_t)c.h);
  }
}

/* ---- checks after each test -------------------------------------------- */

static tt_verify_snapshot *g_before;

static void clean_after(const char *what) {
  tt_verify_opts vo = {.max_wait = TT_MS(3000), .ignore_current = g_before};
  tt_verify_report *rep = NULL;
  int64_t left = tt_verify_none(&vo, &rep);
  CHECK_MSG(left == 0, "%s: %lld task(s) left", what, (long long)left);
  if (left > 0 && rep)
    tt_verify_report_print(rep, stderr);
  tt_verify_report_free(rep);
  tt_test_no_definite_leaks(__FILE__, __LINE__);
}

static tt_http_client *client(const tt_http_client_opts *o) {
  tt_http_client *c = NULL;
  CHECK_EQ(tt_http_client_new(o, &c), 0);
  return c;
}

static void finish_client(tt_http_client *c, const char *what) {
  CHECK_EQ(tt_http_client_shutdown(c, TT_MS(1000)), 0);
  CHECK_EQ(tt_http_client_free(c), 0);
  clean_after(what);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_get(void) {
  tt_http_client *c = client(NULL);
  char u[128], v[64];
  tt_http_response r;
  url(u, sizeof u, "/hello");
  CHECK_EQ(tt_http_get(c, NULL, u, &r), 0);
  CHECK_EQ(r.status, 200);
  CHECK_STREQ(r.body, "hello");
  CHECK_EQ(r.body_len, 5);
  CHECK_STREQ(r.error, "");
  CHECK_EQ(tt_http_response_header(&r, "x-hello", v, sizeof v), 5);
  CHECK_STREQ(v, "world");
  CHECK_EQ(tt_http_response_header(&r, "Content-Type", v, sizeof v), 10);
  CHECK_STREQ(v, "text/plain");
  CHECK_EQ(tt_http_response_header(&r, "X-Absent", v, sizeof v), TT_ENOENT);
  CHECK_EQ(tt_http_response_header(&r, "X-Hello", v, 3), TT_ENOMEM);
  CHECK_EQ(tt_http_response_header(NULL, "X-Hello", v, sizeof v), TT_EINVAL);
  tt_http_response_free(&r);
  CHECK(r.body == NULL && r.headers == NULL);

  /* A status is a response, not an error. */
  url(u, sizeof u, "/status?code=503");
  CHECK_EQ(tt_http_get(c, NULL, u, &r), 0);
  CHECK_EQ(r.status, 503);
  CHECK_STREQ(r.body, "status");
  tt_http_response_free(&r);
  /* Redirects are not followed: the 3xx is the response. */
  url(u, sizeof u, "/redirect");
  CHECK_EQ(tt_http_get(c, NULL, u, &r), 0);
  CHECK_EQ(r.status, 302);
  CHECK_STREQ(r.body, "moved");
  CHECK_EQ(tt_http_response_header(&r, "Location", v, sizeof v), 6);
  tt_http_response_free(&r);
  url(u, sizeof u, "/nowhere");
  CHECK_EQ(tt_http_get(c, NULL, u, &r), 0);
  CHECK_EQ(r.status, 404);
  tt_http_response_free(&r);

  /* POST and another method, with fields. */
  const char *fields[] = {"X-One: 1", NULL};
  url(u, sizeof u, "/echo");
  tt_http_request q = {.url = u, .body = "payload", .body_len = 7, .headers = fields};
  CHECK_EQ(tt_http_do(c, NULL, &q, &r), 0);
  CHECK_STREQ(r.body, "POST payload");
  tt_http_response_free(&r);
  q.method = "PUT";
  CHECK_EQ(tt_http_do(c, NULL, &q, &r), 0);
  CHECK_STREQ(r.body, "PUT payload");
  tt_http_response_free(&r);
  q = (tt_http_request){.url = u, .method = "DELETE"};
  CHECK_EQ(tt_http_do(c, NULL, &q, &r), 0);
  CHECK_STREQ(r.body, "DELETE ");
  tt_http_response_free(&r);
  finish_client(c, "get");
}

static void test_timeout(void) {
  tt_http_client *c = client(&(tt_http_client_opts){.timeout = TT_MS(1000)});
  char u[128];
  tt_http_response r;
  url(u, sizeof u, "/hang");
  int64_t t0 = tt_now();
  CHECK_EQ(tt_http_get(c, NULL, u, &r), TT_ETIMEDOUT);
  int64_t took = tt_now() - t0;
  CHECK_MSG(took >= TT_MS(990) && took <= TT_MS(1100), "the 1 s timeout took %lld ms",
            (long long)(took / 1000000));
  CHECK(r.error[0] != 0);
  tt_http_response_free(&r);
  /* A request's own timeout wins over the client's. */
  t0 = tt_now();
  CHECK_EQ(tt_http_do(c, NULL, &(tt_http_request){.url = u, .timeout = TT_MS(300)}, &r),
           TT_ETIMEDOUT);
  took = tt_now() - t0;
  CHECK_MSG(took >= TT_MS(297) && took <= TT_MS(330), "the 300 ms timeout took %lld ms",
            (long long)(took / 1000000));
  tt_http_response_free(&r);
  /* A context's deadline too. */
  tt_context *ctx = tt_with_timeout(NULL, TT_MS(200));
  t0 = tt_now();
  CHECK_EQ(tt_http_get(c, ctx, u, &r), TT_ETIMEDOUT);
  took = tt_now() - t0;
  CHECK_MSG(took >= TT_MS(198) && took <= TT_MS(220), "the 200 ms deadline took %lld ms",
            (long long)(took / 1000000));
  tt_http_response_free(&r);
  tt_context_release(ctx);
  /* The server saw each client go away. */
  CHECK(await_value(&g_hang_active, 0));
  finish_client(c, "timeout");
}

typedef struct cancel_arg {
  tt_context *ctx;
  int64_t after;
  int64_t at;
} cancel_arg;

static void cancel_later(void *arg) {
  cancel_arg *a = arg;
  tt_sleep(a->after);
  a->at = tt_now();
  tt_cancel(a->ctx);
}

static int count_body(const void *data, size_t n, void *arg) {
  (void)data;
  *(int64_t *)arg += (int64_t)n;
  return 0;
}

static int stop_body(const void *data, size_t n, void *arg) {
  (void)data, (void)n, (void)arg;
  return 1;
}

static void test_cancel_mid_body(void) {
  tt_http_client *c = client(NULL);
  char u[128];
  tt_http_response r;
  /* 64 KiB every 20 ms, for ever: cancelled after 200 ms. */
  url(u, sizeof u, "/stream?n=1000000000&ms=20");
  tt_context *ctx = tt_with_cancel(NULL);
  cancel_arg a = {ctx, TT_MS(200), 0};
  tt_go(cancel_later, &a);
  int64_t got = 0;
  tt_http_request q = {.url = u, .on_body = count_body, .on_body_arg = &got};
  CHECK_EQ(tt_http_do(c, ctx, &q, &r), TT_ECANCELED);
  int64_t late = tt_now() - a.at;
  CHECK_MSG(late < TT_MS(50), "returned %lld ms after the cancel", (long long)(late / 1000000));
  CHECK(got > 0 && got == (int64_t)r.body_len);
  CHECK(r.body == NULL);
  CHECK_EQ(r.status, 200);
  tt_http_response_free(&r);
  tt_context_release(ctx);
  CHECK(await_value(&g_stream_active, 0)); /* the handler saw the client go */

  /* A body callback that says stop. */
  q.on_body = stop_body;
  CHECK_EQ(tt_http_do(c, NULL, &q, &r), TT_ECANCELED);
  CHECK(strstr(r.error, "callback") != NULL);
  tt_http_response_free(&r);
  CHECK(await_value(&g_stream_active, 0));
  finish_client(c, "cancel mid-body");
}

static void test_body_limit(void) {
  tt_http_client *c = client(&(tt_http_client_opts){.max_body = 1 << 20});
  char u[128];
  tt_http_response r;
  /* Without a Content-Length: stopped at the limit. The server wrote
   * what the sockets' buffers took, far from the 64 MiB asked for. */
  atomic_store(&g_stream_bytes, 0);
  url(u, sizeof u, "/stream?n=67108864");
  CHECK_EQ(tt_http_get(c, NULL, u, &r), TT_ETOOBIG);
  CHECK(r.body_len <= (1 << 20));
  CHECK(strstr(r.error, "limit") != NULL);
  tt_http_response_free(&r);
  CHECK(await_value(&g_stream_active, 0));
  int64_t wrote = atomic_load(&g_stream_bytes);
  NOTE("over the limit: the server wrote %lld bytes of 64 MiB", (long long)wrote);
  CHECK(wrote < (16 << 20));
  /* With one: refused at the head, before any of the body. */
  url(u, sizeof u, "/bytes?n=16777216");
  CHECK_EQ(tt_http_get(c, NULL, u, &r), TT_ETOOBIG);
  CHECK_EQ(r.body_len, 0);
  tt_http_response_free(&r);
  /* Up to the limit is fine; a request's own limit wins. */
  url(u, sizeof u, "/bytes?n=1048576");
  CHECK_EQ(tt_http_get(c, NULL, u, &r), 0);
  CHECK_EQ(r.body_len, 1 << 20);
  tt_http_response_free(&r);
  CHECK_EQ(tt_http_do(c, NULL, &(tt_http_request){.url = u, .max_body = 1000}, &r), TT_ETOOBIG);
  tt_http_response_free(&r);
  finish_client(c, "body limit");
}

static void test_broken_servers(void) {
  tt_http_client *c = client(&(tt_http_client_opts){.timeout = TT_MS(5000)});
  char u[128];
  tt_http_response r;
  /* The server closes after part of the body. */
  snprintf(u, sizeof u, "http://127.0.0.1:%d/cut", g_raw_port);
  CHECK_EQ(tt_http_get(c, NULL, u, &r), TT_ECONNRESET);
  CHECK(r.error[0] != 0);
  tt_http_response_free(&r);
  /* Nobody listens. */
  tt_fd l;
  CHECK_EQ(tt_tcp_listen("127.0.0.1", "0", 0, &l), 0);
  int port = tt_sock_port(l);
  tt_fd_close(l);
  snprintf(u, sizeof u, "http://127.0.0.1:%d/", port);
  CHECK_EQ(tt_http_get(c, NULL, u, &r), TT_ECONNREFUSED);
  tt_http_response_free(&r);
  /* No such name. */
  CHECK_EQ(tt_http_get(c, NULL, "http://no-such-host.invalid/", &r), TT_ERESOLVE);
  tt_http_response_free(&r);
  /* Not HTTP at all: a protocol curl is not allowed to use. */
  CHECK_EQ(tt_http_get(c, NULL, "ftp://127.0.0.1/x", &r), TT_EINVAL);
  tt_http_response_free(&r);
  finish_client(c, "broken servers");
}

typedef struct many_arg {
  tt_http_client *c;
  int per_task;
  atomic_int *ok;
  tt_wg *wg;
} many_arg;

static void many_worker(void *arg) {
  many_arg *a = arg;
  char u[128];
  url(u, sizeof u, "/delay?ms=2");
  for (int i = 0; i < a->per_task; i++) {
    tt_http_response r;
    if (tt_http_get(a->c, NULL, u, &r) == 0 && r.status == 200)
      atomic_fetch_add(a->ok, 1);
    tt_http_response_free(&r);
  }
  tt_wg_done(a->wg);
}

static void test_in_flight_limit(void) {
  tt_http_client *c = client(&(tt_http_client_opts){.max_in_flight = 10});
  int tasks = 50, per = (int)tt_test_scale_min(20, 2);
  atomic_int ok = 0;
  atomic_store(&g_max, 0);
  tt_wg *wg = tt_wg_make();
  tt_wg_add(wg, tasks);
  many_arg a = {c, per, &ok, wg};
  for (int i = 0; i < tasks; i++)
    tt_go(many_worker, &a);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  CHECK_EQ(atomic_load(&ok), tasks * per);
  int seen = atomic_load(&g_max);
  NOTE("%d requests through 10 slots: at most %d at once on the server", tasks * per, seen);
  CHECK(seen <= 10);
  CHECK(seen >= 2);
  CHECK_EQ(tt_http_client_in_flight(c), 0);
  finish_client(c, "in-flight limit");
}

typedef struct shut_arg {
  tt_http_client *c;
  const char *path;
  int rc;
  tt_wg *wg;
} shut_arg;

static void shut_worker(void *arg) {
  shut_arg *a = arg;
  char u[128];
  url(u, sizeof u, a->path);
  tt_http_response r;
  a->rc = tt_http_get(a->c, NULL, u, &r);
  tt_http_response_free(&r);
  tt_wg_done(a->wg);
}

static void run_shutdown(const char *path, int64_t grace, int want_cut, int want_rc) {
  tt_http_client *c = client(NULL);
  shut_arg a[3];
  tt_wg *wg = tt_wg_make();
  tt_wg_add(wg, 3);
  for (int i = 0; i < 3; i++) {
    a[i] = (shut_arg){c, path, 1, wg};
    tt_go(shut_worker, &a[i]);
  }
  for (int i = 0; i < 1000 && tt_http_client_in_flight(c) < 3; i++)
    tt_sleep(TT_MS(1));
  tt_sleep(TT_MS(50)); /* on the wire */
  int64_t t0 = tt_now();
  CHECK_EQ(tt_http_client_shutdown(c, grace), want_cut);
  int64_t took = tt_now() - t0;
  tt_wg_wait(wg);
  tt_wg_free(wg);
  for (int i = 0; i < 3; i++)
    CHECK_EQ(a[i].rc, want_rc);
  if (want_cut)
    CHECK_MSG(took >= grace && took < grace + TT_MS(500), "shutdown took %lld ms",
              (long long)(took / 1000000));
  /* Shut: new requests fail at once; a second shutdown returns 0. */
  tt_http_response r;
  CHECK_EQ(tt_http_get(c, NULL, "http://127.0.0.1:1/", &r), TT_ESHUTDOWN);
  CHECK(strstr(r.error, "shut down") != NULL);
  CHECK_EQ(tt_http_client_shutdown(c, 0), 0);
  CHECK_EQ(tt_http_client_free(c), 0);
  CHECK(await_value(&g_hang_active, 0));
  clean_after("shutdown");
}

static void test_shutdown(void) {
  run_shutdown("/delay?ms=200", TT_MS(3000), 0, 0);   /* grace met */
  run_shutdown("/hang", TT_MS(200), 3, TT_ECANCELED); /* grace exceeded */
}

static void test_keepalive(void) {
  tt_http_client *c = client(NULL);
  char u[128];
  snprintf(u, sizeof u, "http://127.0.0.1:%d/ok", g_raw_port);
  int before = atomic_load(&g_raw_accepts), ok = 0;
  for (int i = 0; i < 20; i++) {
    tt_http_response r;
    if (tt_http_get(c, NULL, u, &r) == 0 && strcmp(r.body, "ok") == 0)
      ok++;
    tt_http_response_free(&r);
  }
  CHECK_EQ(ok, 20);
  CHECK_EQ(atomic_load(&g_raw_accepts) - before, 1);
  finish_client(c, "keep-alive");
}

static void *off_task(void *arg) {
  tt_http_response r;
  *(int *)arg = tt_http_get((tt_http_client *)1, NULL, "http://127.0.0.1:1/", &r);
  return NULL;
}

static void test_misuse(void) {
  tt_http_client *c = NULL;
  tt_http_response r;
  CHECK_EQ(tt_http_client_new(NULL, NULL), TT_EINVAL);
  CHECK_EQ(tt_http_client_new(&(tt_http_client_opts){.timeout = -1}, &c), TT_EINVAL);
  CHECK_EQ(tt_http_client_new(&(tt_http_client_opts){.max_in_flight = -1}, &c), TT_EINVAL);
  CHECK_EQ(tt_http_client_new(&(tt_http_client_opts){.max_body = -1}, &c), TT_EINVAL);
  CHECK(c == NULL);
  c = client(NULL);
  CHECK_EQ(tt_http_get(NULL, NULL, "http://x/", &r), TT_EINVAL);
  CHECK_EQ(tt_http_get(c, NULL, NULL, &r), TT_EINVAL);
  CHECK_EQ(tt_http_get(c, NULL, "http://x/", NULL), TT_EINVAL);
  CHECK_EQ(tt_http_do(c, NULL, NULL, &r), TT_EINVAL);
  CHECK_EQ(tt_http_do(c, NULL, &(tt_http_request){.url = "http://x/", .timeout = -1}, &r),
           TT_EINVAL);
  CHECK_EQ(tt_http_do(c, NULL, &(tt_http_request){.url = "http://x/", .max_body = -1}, &r),
           TT_EINVAL);
  int rc = 0;
  pthread_t th;
  pthread_create(&th, NULL, off_task, &rc);
  pthread_join(th, NULL);
  CHECK_EQ(rc, TT_ENOTASK);
  /* Freeing a running client is refused, and loses nothing. */
  CHECK_EQ(tt_http_client_free(c), TT_EBUSY);
  CHECK_EQ(tt_http_client_free(NULL), TT_EINVAL);
  CHECK_EQ(tt_http_client_shutdown(NULL, 0), TT_EINVAL);
  CHECK_EQ(tt_http_client_shutdown(c, -1), TT_EINVAL);
  char u[128];
  url(u, sizeof u, "/hello");
  CHECK_EQ(tt_http_get(c, NULL, u, &r), 0);
  tt_http_response_free(&r);
  tt_http_response_free(NULL);
  CHECK_EQ(tt_http_client_in_flight(NULL), 0);
  finish_client(c, "misuse");
}

static void all_tests(void *arg) {
  (void)arg;
  tt_http_server *srv;
  CHECK_EQ(tt_http_server_new(NULL, &srv), 0);
  tt_http_handle(srv, "GET", "/hello", h_hello, NULL);
  tt_http_handle(srv, "GET", "/status", h_status, NULL);
  tt_http_handle(srv, "GET", "/delay", h_delay, NULL);
  tt_http_handle(srv, "GET", "/hang", h_hang, NULL);
  tt_http_handle(srv, "GET", "/bytes", h_bytes, NULL);
  tt_http_handle(srv, "GET", "/stream", h_stream, NULL);
  tt_http_handle(srv, NULL, "/echo", h_echo, NULL);
  tt_http_handle(srv, "GET", "/redirect", h_redirect, NULL);
  CHECK_EQ(tt_http_server_listen(srv, "127.0.0.1", "0"), 0);
  snprintf(g_base, sizeof g_base, "http://127.0.0.1:%d", tt_http_server_port(srv));
  g_raw_ctx = tt_with_cancel(NULL);
  CHECK_EQ(tt_tcp_listen("127.0.0.1", "0", 0, &g_raw_listener), 0);
  g_raw_port = tt_sock_port(g_raw_listener);
  tt_go(raw_server, NULL);
  g_before = tt_verify_snapshot_take();

  test_get();
  test_timeout();
  test_cancel_mid_body();
  test_body_limit();
  test_broken_servers();
  test_in_flight_limit();
  test_shutdown();
  test_keepalive();
  test_misuse();

  tt_verify_snapshot_free(g_before);
  tt_cancel(g_raw_ctx);
  tt_sleep(TT_MS(50));
  tt_fd_close(g_raw_listener);
  tt_context_release(g_raw_ctx);
  CHECK_EQ(tt_http_server_shutdown(srv, TT_MS(1000)), 0);
  tt_http_server_free(srv);
}

int main(void) {
  tt_test_watchdog(300);
  tt_http_client *c = NULL;
  CHECK_EQ(tt_http_client_new(NULL, &c), TT_ENOTINIT);
  RUN_MAIN(0, all_tests, NULL);
  return TEST_REPORT();
}
