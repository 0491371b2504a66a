/*
 * test_http_server: the HTTP/1.1 server over real sockets. The server runs
 * in the runtime; the clients are the test's plain threads with blocking
 * sockets (tests/http_client.h), so what the server sends is read exactly
 * as a client gets it: keep-alive, pipelining, chunked bodies both ways,
 * 100-continue, HEAD, 404/405, every limit and timeout, malformed and
 * smuggling-shaped requests, graceful shutdown inside and past its grace,
 * a client going away cancelling its handler's context, 1,000 concurrent
 * connections, and no task left once the server is shut down.
 */
#include "harness.h"
#include "http_client.h"

#include <pthread.h>
#include <sys/resource.h>

/* ---- handlers ------------------------------------------------------------ */

static void h_hello(tt_http_exchange *ex, void *arg) {
  (void)arg;
  tt_http_respond(ex, 200, "text/plain", "hello", 5);
}

/* Echoes the body, read in small pieces so that framing crosses reads. */
static void h_echo(tt_http_exchange *ex, void *arg) {
  (void)arg;
  char *all = NULL;
  size_t n = 0;
  char piece[7];
  for (;;) {
    int64_t r = tt_http_req_body_read(ex, piece, sizeof piece);
    if (r < 0) {
      free(all);
      return; /* the server answers the body's error */
    }
    if (r == 0)
      break;
    all = realloc(all, n + (size_t)r);
    memcpy(all + n, piece, (size_t)r);
    n += (size_t)r;
  }
  tt_http_respond(ex, 200, "application/octet-stream", all, n);
  free(all);
}

static void h_stream(tt_http_exchange *ex, void *arg) {
  (void)arg;
  tt_http_resp_header(ex, "Content-Type", "text/plain");
  tt_http_resp_write(ex, "one,", 4);
  tt_http_resp_write(ex, "two,", 4);
  tt_http_resp_write(ex, "three", 5);
}

static void h_noresp(tt_http_exchange *ex, void *arg) { (void)ex, (void)arg; }

static void h_info(tt_http_exchange *ex, void *arg) {
  (void)arg;
  char q[64], out[256];
  int qn = tt_http_req_query(ex, "q", q, sizeof q);
  const char *x = tt_http_req_header(ex, "x-test");
  snprintf(out, sizeof out, "%s %s q=%s(%d) x=%s", tt_http_req_method(ex), tt_http_req_path(ex),
           qn >= 0 ? q : "-", qn, x ? x : "-");
  tt_http_resp_header(ex, "X-Reply", "yes");
  tt_http_respond(ex, 201, "text/plain", out, strlen(out));
}

static atomic_int g_slow_started, g_slow_cancelled, g_slow_done;
static atomic_int g_wait_started, g_wait_cause, g_wait_err;

/* Sleeps ?ms= milliseconds, bounded by the request's context. */
static void h_slow(tt_http_exchange *ex, void *arg) {
  (void)arg;
  char v[32];
  int ms = tt_http_req_query(ex, "ms", v, sizeof v) >= 0 ? atoi(v) : 100;
  atomic_fetch_add(&g_slow_started, 1);
  int rc = tt_sleep_ctx(TT_MS(ms), tt_http_req_ctx(ex));
  if (rc < 0) {
    atomic_fetch_add(&g_slow_cancelled, 1);
    return;
  }
  atomic_fetch_add(&g_slow_done, 1);
  tt_http_respond(ex, 200, "text/plain", "slept", 5);
}

/* Waits for its context to end and records why. */
static void h_wait(tt_http_exchange *ex, void *arg) {
  (void)arg;
  tt_context *ctx = tt_http_req_ctx(ex);
  atomic_store(&g_wait_started, 1);
  tt_chan_recv(tt_context_done(ctx), NULL);
  atomic_store(&g_wait_err, tt_context_err(ctx));
  atomic_store(&g_wait_cause, tt_context_cause(ctx, NULL));
  tt_http_respond(ex, 503, "text/plain", "gave up", 7);
}

static atomic_int g_big_rc, g_big_done;

/* 32 MiB in one response: more than a socket's buffers hold, so a client
 * that does not read makes the write wait until write_timeout. */
static void h_big(tt_http_exchange *ex, void *arg) {
  (void)arg;
  size_t n = 32u << 20;
  char *b = calloc(1, n);
  int rc = b ? tt_http_respond(ex, 200, "application/octet-stream", b, n) : TT_ENOMEM;
  free(b);
  atomic_store(&g_big_rc, rc);
  atomic_store(&g_big_done, 1);
}

static tt_http_server *start(const tt_http_server_opts *o, int *port) {
  tt_http_server *s = NULL;
  CHECK_EQ(tt_http_server_new(o, &s), 0);
  CHECK_EQ(tt_http_handle(s, "GET", "/hello", h_hello, NULL), 0);
  CHECK_EQ(tt_http_handle(s, "POST", "/echo", h_echo, NULL), 0);
  CHECK_EQ(tt_http_handle(s, "GET", "/stream", h_stream, NULL), 0);
  CHECK_EQ(tt_http_handle(s, NULL, "/noresp", h_noresp, NULL), 0);
  CHECK_EQ(tt_http_handle(s, NULL, "/info/", h_info, NULL), 0);
  CHECK_EQ(tt_http_handle(s, "GET", "/slow", h_slow, NULL), 0);
  CHECK_EQ(tt_http_handle(s, "GET", "/wait", h_wait, NULL), 0);
  CHECK_EQ(tt_http_handle(s, "GET", "/big", h_big, NULL), 0);
  CHECK_EQ(tt_http_server_listen(s, "127.0.0.1", "0"), 0);
  *port = tt_http_server_port(s);
  CHECK(*port > 0);
  return s;
}

static bool wait_flag(atomic_int *f, int64_t ms) {
  int64_t end = tt_test_mono_ns() + TT_MS(ms);
  while (!atomic_load(f) && tt_test_mono_ns() < end)
    tt_test_sleep_ns(TT_MS(1));
  return atomic_load(f) != 0;
}

/* ---- the tests ------------------------------------------------------------- */

static void test_misuse(void) {
  tt_http_server *s = NULL;
  CHECK_EQ(tt_http_server_new(NULL, NULL), TT_EINVAL);
  CHECK_EQ(tt_http_server_new(&(tt_http_server_opts){.idle_timeout = -1}, &s), TT_EINVAL);
  CHECK(s == NULL);
  CHECK_EQ(tt_http_server_new(NULL, &s), 0);
  CHECK_EQ(tt_http_handle(NULL, "GET", "/", h_hello, NULL), TT_EINVAL);
  CHECK_EQ(tt_http_handle(s, "GET", NULL, h_hello, NULL), TT_EINVAL);
  CHECK_EQ(tt_http_handle(s, "GET", "/", NULL, NULL), TT_EINVAL);
  CHECK_EQ(tt_http_handle(s, "G T", "/", h_hello, NULL), TT_EINVAL);
  CHECK_EQ(tt_http_server_port(s), TT_EINVAL);
  CHECK_EQ(tt_http_server_listen(NULL, NULL, "0"), TT_EINVAL);
  CHECK_EQ(tt_http_server_listen(s, "127.0.0.1", "0"), 0);
  CHECK_EQ(tt_http_server_listen(s, "127.0.0.1", "0"), TT_EBUSY);
  CHECK_EQ(tt_http_handle(s, "GET", "/late", h_hello, NULL), TT_EBUSY);
  CHECK_EQ(tt_http_server_shutdown(NULL, 0), TT_EINVAL);
  CHECK_EQ(tt_http_server_shutdown(s, 0), 0);
  CHECK_EQ(tt_http_server_shutdown(s, 0), 0); /* again: nothing left to do */
  CHECK_EQ(tt_http_server_listen(s, "127.0.0.1", "0"), TT_EBUSY);
  tt_http_server_free(s);
  tt_http_server_free(NULL);
  CHECK(tt_http_req_method(NULL) == NULL);
  CHECK(tt_http_req_ctx(NULL) == NULL);
  CHECK_EQ(tt_http_respond(NULL, 200, NULL, NULL, 0), TT_EINVAL);
  CHECK_EQ(tt_http_req_body_read(NULL, NULL, 0), TT_EINVAL);
  CHECK_EQ(tt_http_resp_write(NULL, "x", 1), TT_EINVAL);
  CHECK_EQ(tt_http_resp_header(NULL, "a", "b"), TT_EINVAL);
  CHECK_EQ(tt_http_req_query(NULL, "a", (char[4]){0}, 4), TT_EINVAL);
}

static void test_keepalive_and_routes(int port) {
  int s = cli_connect(port);
  CHECK(s >= 0);
  cli_resp r;
  for (int i = 0; i < 3; i++) {
    CHECK(cli_sends(s, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(cli_read(s, &r, false));
    CHECK_EQ(r.status, 200);
    CHECK_STREQ(r.body, "hello");
    char v[64];
    CHECK(!cli_field(&r, "Connection", v, sizeof v));
    CHECK(cli_field(&r, "Date", v, sizeof v) && strlen(v) == 29);
    cli_free(&r);
  }
  /* HEAD: the framing of a GET, no body (the next response follows at once). */
  CHECK(cli_sends(s, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(cli_read(s, &r, true));
  char v[64];
  CHECK_EQ(r.status, 200);
  CHECK(cli_field(&r, "Content-Length", v, sizeof v) && strcmp(v, "5") == 0);
  cli_free(&r);
  /* 404, 405 with Allow, and the request's pieces as the handler sees them. */
  CHECK(cli_sends(s, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(cli_read(s, &r, false));
  CHECK_EQ(r.status, 404);
  cli_free(&r);
  CHECK(cli_sends(s, "DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(cli_read(s, &r, false));
  CHECK_EQ(r.status, 405);
  CHECK(cli_field(&r, "Allow", v, sizeof v));
  CHECK_STREQ(v, "GET, HEAD");
  cli_free(&r);
  CHECK(cli_sends(s, "PUT /info/a%20b?z=1&q=x%2By+z HTTP/1.1\r\nHost: x\r\nX-Test:  v1 \r\n\r\n"));
  CHECK(cli_read(s, &r, false));
  CHECK_EQ(r.status, 201);
  CHECK_STREQ(r.body, "PUT /info/a%20b q=x+y z(5) x=v1");
  CHECK(cli_field(&r, "X-Reply", v, sizeof v));
  cli_free(&r);
  CHECK(cli_sends(s, "GET /info/ HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(cli_read(s, &r, false));
  CHECK_STREQ(r.body, "GET /info/ q=-(-14) x=-");
  cli_free(&r);
  /* A handler that answers nothing: 500, and the connection goes on. */
  CHECK(cli_sends(s, "GET /noresp HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(cli_read(s, &r, false));
  CHECK_EQ(r.status, 500);
  cli_free(&r);
  /* Connection: close is honoured. */
  CHECK(cli_sends(s, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  CHECK(cli_read(s, &r, false));
  CHECK(cli_field(&r, "Connection", v, sizeof v) && strcmp(v, "close") == 0);
  CHECK(cli_closed(s));
  cli_free(&r);
  close(s);
  /* HTTP/1.0: closed after one response unless keep-alive is asked for. */
  s = cli_connect(port);
  CHECK(cli_sends(s, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  CHECK(cli_read(s, &r, false));
  CHECK(cli_field(&r, "Connection", v, sizeof v) && strcmp(v, "keep-alive") == 0);
  cli_free(&r);
  CHECK(cli_sends(s, "GET /stream HTTP/1.0\r\n\r\n"));
  CHECK(cli_read(s, &r, false));
  CHECK(!r.chunked);
  CHECK_STREQ(r.body, "one,two,three");
  CHECK(cli_closed(s));
  cli_free(&r);
  close(s);
}

static void test_pipelining(int port) {
  int s = cli_connect(port);
  const char *reqs = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"
                     "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer-X: 1\r\n\r\n"
                     "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
  CHECK(cli_sends(s, reqs));
  cli_resp r;
  CHECK(cli_read(s, &r, false));
  CHECK_STREQ(r.body, "hello");
  cli_free(&r);
  CHECK(cli_read(s, &r, false));
  CHECK_STREQ(r.body, "hello world");
  cli_free(&r);
  CHECK(cli_read(s, &r, false));
  CHECK_STREQ(r.body, "abcdefg");
  cli_free(&r);
  CHECK(cli_read(s, &r, true));
  CHECK_EQ(r.status, 200);
  cli_free(&r);
  CHECK(cli_read(s, &r, false));
  CHECK(r.chunked);
  CHECK_STREQ(r.body, "one,two,three");
  cli_free(&r);
  close(s);

  /* A request arriving a byte at a time, its chunked body too. */
  s = cli_connect(port);
  const char *slow = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nHello\r\n7\r\n, world\r\n0\r\n\r\n";
  for (const char *p = slow; *p; p++)
    CHECK(cli_send(s, p, 1));
  CHECK(cli_read(s, &r, false));
  CHECK_STREQ(r.body, "Hello, world");
  cli_free(&r);
  close(s);
}

static void test_continue(int port) {
  int s = cli_connect(port);
  CHECK(cli_sends(s, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     "Content-Length: 5\r\n\r\n"));
  cli_resp r;
  CHECK(cli_read(s, &r, false));
  CHECK_EQ(r.status, 100);
  cli_free(&r);
  CHECK(cli_sends(s, "abcde"));
  CHECK(cli_read(s, &r, false));
  CHECK_EQ(r.status, 200);
  CHECK_STREQ(r.body, "abcde");
  cli_free(&r);
  /* A handler that answers without reading: no 100, and the connection
   * closes (the client never sent the body). */
  CHECK(cli_sends(s, "POST /hello HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     "Content-Length: 5\r\n\r\n"));
  CHECK(cli_read(s, &r, false));
  CHECK_EQ(r.status, 405);
  cli_free(&r);
  close(s);
}

/* A request whose answer must be `status` and a closed connection. */
static void expect_reject(int port, const char *req, int status) {
  int s = cli_connect(port);
  CHECK(cli_sends(s, req));
  cli_resp r;
  bool ok = cli_read(s, &r, false);
  CHECK_MSG(ok && r.status == status, "%.40s...: got %d, want %d", req, r.status, status);
  char v[32];
  CHECK(cli_field(&r, "Connection", v, sizeof v) && strcmp(v, "close") == 0);
  CHECK(cli_closed(s));
  cli_free(&r);
  close(s);
}

static void test_bad_input(int port) {
  expect_reject(port,
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                400);
  expect_reject(port,
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"
                "abcd",
                400);
  expect_reject(port, "GET /hello HTTP/1.1\nHost: x\n\n", 400);
  expect_reject(port, "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n", 400);
  expect_reject(port, "GET /hello HTTP/1.1\r\n\r\n", 400); /* no Host */
  expect_reject(port, "GET /hello HTTP/2.0\r\nHost: x\r\n\r\n", 505);
  expect_reject(port, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
  /* Bad chunk framing found while the handler reads: 400 from the server. */
  expect_reject(port,
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "zz\r\nabc\r\n0\r\n\r\n",
                400);
  /* Garbage and binary. */
  expect_reject(port, "\x01\x02\x03\r\n\r\n", 400);
}

static void test_limits(void) {
  tt_http_server_opts o = {.read_header_timeout = TT_MS(300),
                           .idle_timeout = TT_MS(300),
                           .max_header_bytes = 1024,
                           .max_body_bytes = 100,
                           .max_conns = 3};
  int port;
  tt_http_server *srv = start(&o, &port);
  /* Body limits: by Content-Length (before the body), by chunk size. */
  expect_reject(port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", 413);
  /* Head limit: 431. */
  char big[2048];
  snprintf(big, sizeof big, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: %01500d\r\n\r\n", 0);
  expect_reject(port, big, 431);

  /* Read-header timeout with a partial head: 408 at the deadline. */
  int s = cli_connect(port);
  int64_t t0 = tt_test_mono_ns();
  CHECK(cli_sends(s, "GET /hello HTTP/1.1\r\nHo"));
  cli_resp r;
  CHECK(cli_read(s, &r, false));
  CHECK_EQ(r.status, 408);
  int64_t took = tt_test_mono_ns() - t0;
  CHECK_MSG(took >= TT_MS(250) && took < TT_MS(3000), "408 after %lld ms",
            (long long)(took / 1000000));
  CHECK(cli_closed(s));
  cli_free(&r);
  close(s);
  /* Slowloris: a byte every 40 ms does not extend the deadline. */
  s = cli_connect(port);
  t0 = tt_test_mono_ns();
  const char *drip =
      "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  for (const char *p = drip; *p && tt_test_mono_ns() - t0 < TT_MS(1500); p++) {
    if (!cli_send(s, p, 1))
      break;
    tt_test_sleep_ns(TT_MS(40));
  }
  CHECK(cli_read(s, &r, false));
  CHECK_EQ(r.status, 408);
  cli_free(&r);
  close(s);
  /* A connection that never sends a byte is closed at the deadline, silently. */
  s = cli_connect(port);
  CHECK(cli_closed(s));
  close(s);
  /* Idle timeout between requests: closed without a response. */
  s = cli_connect(port);
  CHECK(cli_sends(s, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(cli_read(s, &r, false));
  cli_free(&r);
  t0 = tt_test_mono_ns();
  CHECK(cli_closed(s));
  took = tt_test_mono_ns() - t0;
  CHECK_MSG(took >= TT_MS(200) && took < TT_MS(3000), "idle close after %lld ms",
            (long long)(took / 1000000));
  close(s);

  /* A pause inside a body longer than idle_timeout: the handler's read
   * fails and the connection closes without an answer. */
  s = cli_connect(port);
  CHECK(cli_sends(s, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"));
  t0 = tt_test_mono_ns();
  CHECK(cli_closed(s));
  took = tt_test_mono_ns() - t0;
  CHECK_MSG(took >= TT_MS(200) && took < TT_MS(3000), "body pause closed after %lld ms",
            (long long)(took / 1000000));
  close(s);

  /* Max connections: the 4th gets 503 and is closed. */
  int held[3];
  for (int i = 0; i < 3; i++) {
    held[i] = cli_connect(port);
    CHECK(cli_sends(held[i], "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(cli_read(held[i], &r, false));
    cli_free(&r);
  }
  s = cli_connect(port);
  CHECK(cli_read(s, &r, false));
  CHECK_EQ(r.status, 503);
  cli_free(&r);
  CHECK(cli_closed(s));
  close(s);
  for (int i = 0; i < 3; i++)
    close(held[i]);
  CHECK_EQ(tt_http_server_shutdown(srv, 0), 0);
  tt_http_server_free(srv);
}

/* write_timeout: a client that stops reading fails the write with
 * TT_ETIMEDOUT and loses the connection. */
static void test_write_timeout(void) {
  int port;
  tt_http_server *srv = start(&(tt_http_server_opts){.write_timeout = TT_MS(200)}, &port);
  atomic_store(&g_big_done, 0);
  int s = cli_connect(port);
  int small = 4096;
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  int64_t t0 = tt_test_mono_ns();
  CHECK(cli_sends(s, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(wait_flag(&g_big_done, 10000));
  int64_t took = tt_test_mono_ns() - t0;
  CHECK_EQ(atomic_load(&g_big_rc), TT_ETIMEDOUT);
  CHECK_MSG(took >= TT_MS(150) && took < TT_MS(5000), "write timed out after %lld ms",
            (long long)(took / 1000000));
  /* The connection is gone: reading on finds its end (after what was sent). */
  char buf[65536];
  ssize_t r;
  size_t got = 0;
  while ((r = recv(s, buf, sizeof buf, 0)) > 0)
    got += (size_t)r;
  CHECK(r == 0 || errno == ECONNRESET);
  CHECK(got < (32u << 20));
  close(s);
  CHECK_EQ(tt_http_server_shutdown(srv, 0), 0);
  tt_http_server_free(srv);
}

static void test_chunked_limit(void) {
  int port;
  tt_http_server *srv = start(&(tt_http_server_opts){.max_body_bytes = 100}, &port);
  char req[512];
  snprintf(req, sizeof req,
           "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           "50\r\n%080d\r\n20\r\n",
           0);
  expect_reject(port, req, 413);
  CHECK_EQ(tt_http_server_shutdown(srv, 0), 0);
  tt_http_server_free(srv);
}

/* A client on its own thread: one request, its response's status. */
typedef struct bg_client {
  int port;
  const char *req;
  pthread_t th;
  int status;
  char conn[32];
  int sock;
} bg_client;

static void *bg_run(void *arg) {
  bg_client *b = arg;
  b->sock = cli_connect(b->port);
  cli_resp r;
  if (b->sock >= 0 && cli_sends(b->sock, b->req) && cli_read(b->sock, &r, false)) {
    b->status = r.status;
    cli_field(&r, "Connection", b->conn, sizeof b->conn);
    cli_free(&r);
  } else {
    b->status = -1;
    cli_free(&r);
  }
  close(b->sock);
  return NULL;
}

static void test_shutdown(void) {
  int64_t base = tt_num_tasks();
  /* Inside the grace: the slow request finishes, the idle connection is
   * closed at once, and shutdown waits for the slow one. */
  int port;
  tt_http_server *srv = start(NULL, &port);
  int idle = cli_connect(port);
  CHECK(cli_sends(idle, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  cli_resp r;
  CHECK(cli_read(idle, &r, false));
  cli_free(&r);
  atomic_store(&g_slow_started, 0);
  atomic_store(&g_slow_done, 0);
  atomic_store(&g_slow_cancelled, 0);
  bg_client b = {.port = port, .req = "GET /slow?ms=400 HTTP/1.1\r\nHost: x\r\n\r\n"};
  pthread_create(&b.th, NULL, bg_run, &b);
  CHECK(wait_flag(&g_slow_started, 5000));
  int64_t t0 = tt_test_mono_ns();
  CHECK_EQ(tt_http_server_shutdown(srv, TT_MS(5000)), 0);
  int64_t took = tt_test_mono_ns() - t0;
  pthread_join(b.th, NULL);
  CHECK_EQ(b.status, 200);
  CHECK_STREQ(b.conn, "close");
  CHECK_EQ(atomic_load(&g_slow_done), 1);
  CHECK_MSG(took >= TT_MS(200) && took < TT_MS(4000), "graceful shutdown took %lld ms",
            (long long)(took / 1000000));
  CHECK(cli_closed(idle));
  close(idle);
  /* Nothing accepts any more. */
  CHECK(cli_connect(port) < 0);
  tt_http_server_free(srv);

  /* Past the grace: the handler's context is cancelled, the cause says why. */
  srv = start(NULL, &port);
  atomic_store(&g_slow_started, 0);
  bg_client b2 = {.port = port, .req = "GET /slow?ms=20000 HTTP/1.1\r\nHost: x\r\n\r\n"};
  pthread_create(&b2.th, NULL, bg_run, &b2);
  CHECK(wait_flag(&g_slow_started, 5000));
  t0 = tt_test_mono_ns();
  CHECK_EQ(tt_http_server_shutdown(srv, TT_MS(100)), 0);
  took = tt_test_mono_ns() - t0;
  pthread_join(b2.th, NULL);
  CHECK_EQ(atomic_load(&g_slow_cancelled), 1);
  CHECK(b2.status != 200);
  CHECK_MSG(took >= TT_MS(80) && took < TT_MS(5000), "shutdown past grace took %lld ms",
            (long long)(took / 1000000));
  tt_http_server_free(srv);

  /* No task of either server is left. */
  int64_t end = tt_test_mono_ns() + TT_MS(2000);
  while (tt_num_tasks() > base && tt_test_mono_ns() < end)
    tt_test_sleep_ns(TT_MS(1));
  CHECK_EQ(tt_num_tasks(), base);
}

/* Shutdown from a task: the grace wait parks the task (tt_wg_wait_ctx),
 * not a worker, so the slow handler still finishes on the same workers. */
typedef struct shut_arg {
  tt_http_server *srv;
  int64_t grace;
  atomic_int done;
  int rc;
} shut_arg;

static void shutter(void *arg) {
  shut_arg *a = arg;
  a->rc = tt_http_server_shutdown(a->srv, a->grace);
  atomic_store(&a->done, 1);
}

static void test_shutdown_from_task(void) {
  int port;
  tt_http_server *srv = start(NULL, &port);
  atomic_store(&g_slow_started, 0);
  atomic_store(&g_slow_done, 0);
  bg_client b = {.port = port, .req = "GET /slow?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n"};
  pthread_create(&b.th, NULL, bg_run, &b);
  CHECK(wait_flag(&g_slow_started, 5000));
  shut_arg a = {.srv = srv, .grace = TT_MS(5000)};
  CHECK(tt_go(shutter, &a) > 0);
  CHECK(wait_flag(&a.done, 10000));
  CHECK_EQ(a.rc, 0);
  pthread_join(b.th, NULL);
  CHECK_EQ(b.status, 200);
  CHECK_EQ(atomic_load(&g_slow_done), 1);
  tt_http_server_free(srv);
}

static void test_disconnect(void) {
  int port;
  tt_http_server *srv = start(NULL, &port);
  atomic_store(&g_wait_started, 0);
  atomic_store(&g_wait_err, 0);
  int s = cli_connect(port);
  CHECK(cli_sends(s, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(wait_flag(&g_wait_started, 5000));
  close(s);
  CHECK(wait_flag(&g_wait_err, 5000));
  CHECK_EQ(atomic_load(&g_wait_err), TT_ECANCELED);
  CHECK_EQ(atomic_load(&g_wait_cause), TT_EOF);

  /* The request timeout ends the context too. */
  CHECK_EQ(tt_http_server_shutdown(srv, 0), 0);
  tt_http_server_free(srv);
  srv = start(&(tt_http_server_opts){.request_timeout = TT_MS(100)}, &port);
  atomic_store(&g_wait_err, 0);
  cli_resp r;
  CHECK(cli_roundtrip(port, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n", &r));
  CHECK_EQ(r.status, 503);
  CHECK_EQ(atomic_load(&g_wait_err), TT_ETIMEDOUT);
  cli_free(&r);
  CHECK_EQ(tt_http_server_shutdown(srv, 0), 0);
  tt_http_server_free(srv);
}

static void test_many(int n) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t need = (rlim_t)n * 2 + 200;
  if (rl.rlim_cur < need) {
    rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < need) {
      n = (int)(rl.rlim_cur - 200) / 2;
      NOTE("RLIMIT_NOFILE allows %d connections only", n);
    }
  }
  int port;
  tt_http_server *srv = start(NULL, &port);
  int *s = calloc((size_t)n, sizeof *s);
  int connected = 0, ok = 0;
  for (int i = 0; i < n; i++)
    if ((s[i] = cli_connect_t(port, 30000)) >= 0)
      connected++;
  for (int i = 0; i < n; i++)
    if (s[i] >= 0)
      cli_sends(s[i], "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  for (int i = 0; i < n; i++) {
    cli_resp r;
    if (s[i] >= 0 && cli_read(s[i], &r, false) && r.status == 200 && strcmp(r.body, "hello") == 0)
      ok++;
    cli_free(&r);
  }
  CHECK_EQ(connected, n);
  CHECK_EQ(ok, n);
  NOTE("%d concurrent connections served", ok);
  /* Shutdown closes every one of them (they are idle) at once. */
  int64_t t0 = tt_test_mono_ns();
  CHECK_EQ(tt_http_server_shutdown(srv, TT_MS(10000)), 0);
  CHECK(tt_test_mono_ns() - t0 < TT_MS(5000));
  int closed = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] >= 0) {
      closed += cli_closed(s[i]);
      close(s[i]);
    }
  }
  CHECK_EQ(closed, n);
  free(s);
  tt_http_server_free(srv);
}

int main(void) {
  tt_test_watchdog(240);
  CHECK_EQ(tt_init(NULL), 0);
  int64_t base = tt_num_tasks();
  test_misuse();
  int port;
  tt_http_server *srv = start(NULL, &port);
  test_keepalive_and_routes(port);
  test_pipelining(port);
  test_continue(port);
  test_bad_input(port);
  CHECK_EQ(tt_http_server_shutdown(srv, TT_MS(1000)), 0);
  tt_http_server_free(srv);
  test_limits();
  test_chunked_limit();
  test_write_timeout();
  test_disconnect();
  test_shutdown();
  test_shutdown_from_task();
  test_many(1000);
  int64_t end = tt_test_mono_ns() + TT_MS(2000);
  while (tt_num_tasks() > base && tt_test_mono_ns() < end)
    tt_test_sleep_ns(TT_MS(1));
  CHECK_EQ(tt_num_tasks(), base);
  CHECK_EQ(tt_shutdown(), 0);
  return TEST_REPORT();
}
