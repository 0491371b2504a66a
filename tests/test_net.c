/*
 * test_net: sockets on the runtime's poller. Echo under load (every byte
 * back exactly once), deadlines and contexts on read, accept and connect,
 * close racing a reader, peer reset, refused connects, failed resolution,
 * Unix sockets, shutdown with tasks in I/O, bad handles to every call, and
 * descriptor counts back to their baseline after each case.
 */
#include "harness.h"
#include "net_util.h"

#include <fcntl.h>
#include <stdbool.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Open descriptors before the runtime starts, and while it runs (its epoll
 * and eventfd on top). */
static int g_base_fds, g_outer_fds;

#define CHECK_FDS_BASELINE() CHECK_EQ(tt_test_open_fds(), g_base_fds)

/* ---- Echo: many clients, every byte back exactly once ------------------- */

#define ECHO_MSG 1000

typedef struct echo_server {
  tt_fd listener;
  tt_wg *conns;
  atomic_long served;
} echo_server;

static echo_server g_srv;

static void echo_conn(void *arg) {
  tt_fd c = {(int64_t)(intptr_t)arg};
  char buf[4096];
  for (;;) {
    int64_t n = tt_fd_read(c, buf, sizeof buf);
    if (n <= 0) {
      CHECK_MSG(n == TT_EOF, "server read: %s", tt_strerror((int)n));
      break;
    }
    CHECK_EQ(tt_fd_write_all(c, buf, (size_t)n), n);
  }
  CHECK_EQ(tt_fd_close(c), 0);
  atomic_fetch_add(&g_srv.served, 1);
}

static void echo_acceptor(void *arg) {
  long n = (long)(intptr_t)arg;
  for (long i = 0; i < n; i++) {
    tt_fd c;
    int rc = tt_tcp_accept(g_srv.listener, &c);
    CHECK_MSG(rc == 0, "accept: %s", tt_strerror(rc));
    if (rc < 0)
      break;
    tt_wg_go(g_srv.conns, echo_conn, (void *)(intptr_t)c.h);
  }
}

static char g_port[16];
static atomic_long g_clients_ok;

static void echo_client(void *arg) {
  long id = (long)(intptr_t)arg;
  tt_fd c;
  int rc = tt_tcp_connect("127.0.0.1", g_port, &c);
  CHECK_MSG(rc == 0, "connect: %s", tt_strerror(rc));
  if (rc < 0)
    return;
  char out[ECHO_MSG], in[ECHO_MSG + 1];
  for (int i = 0; i < ECHO_MSG; i++)
    out[i] = (char)(id * 31 + i);
  bool ok = true;
  for (int round = 0; round < 3 && ok; round++) {
    ok = tt_fd_write_all(c, out, sizeof out) == ECHO_MSG &&
         tt_fd_read_full(c, in, ECHO_MSG) == ECHO_MSG && memcmp(in, out, ECHO_MSG) == 0;
  }
  /* Nothing more than was sent comes back: the server sees EOF, closes,
   * and we see EOF. */
  CHECK_EQ(tt_fd_shutdown(c, TT_SHUT_WR), 0);
  int64_t end = tt_fd_read(c, in, 1);
  CHECK_MSG(end == TT_EOF, "after the echo: %lld", (long long)end);
  CHECK(ok);
  if (ok && end == TT_EOF)
    atomic_fetch_add(&g_clients_ok, 1);
  CHECK_EQ(tt_fd_close(c), 0);
}

static void test_echo(void) {
  long n = tt_test_scale_min(1000, 100);
  g_srv.conns = tt_wg_make();
  atomic_store(&g_srv.served, 0);
  atomic_store(&g_clients_ok, 0);
  CHECK_EQ(tt_test_listen(&g_srv.listener, g_port), 0);
  tt_wg *all = tt_wg_make();
  tt_wg_go(all, echo_acceptor, (void *)(intptr_t)n);
  int64_t t0 = tt_test_mono_ns();
  for (long i = 0; i < n; i++)
    tt_wg_go(all, echo_client, (void *)(intptr_t)i);
  CHECK_EQ(tt_wg_wait(all), 0);
  CHECK_EQ(tt_wg_wait(g_srv.conns), 0);
  NOTE("echo: %ld clients x 3 x %d bytes in %.3f s", n, ECHO_MSG, (tt_test_mono_ns() - t0) / 1e9);
  CHECK_EQ(atomic_load(&g_clients_ok), n);
  CHECK_EQ(atomic_load(&g_srv.served), n);
  CHECK_EQ(tt_fd_close(g_srv.listener), 0);
  tt_wg_free(all);
  tt_wg_free(g_srv.conns);
  CHECK_FDS_BASELINE();
}

/* ---- Deadlines ----------------------------------------------------------- */

/* A connected pair over loopback. */
static void make_pair(tt_fd *a, tt_fd *b) {
  tt_fd l;
  char port[16];
  CHECK_EQ(tt_test_listen(&l, port), 0);
  CHECK_EQ(tt_tcp_connect("127.0.0.1", port, a), 0);
  CHECK_EQ(tt_tcp_accept(l, b), 0);
  CHECK_EQ(tt_fd_close(l), 0);
}

/* elapsed within [want, want + slack]: a loaded machine only makes it late. */
static void check_elapsed(int64_t t0, int64_t want, const char *what) {
  int64_t took = tt_test_mono_ns() - t0;
  int64_t slack = TT_MS(TT_TEST_SANITIZED ? 1500 : 500);
  CHECK_MSG(took >= want - TT_MS(1) && took <= want + slack, "%s took %.1f ms, deadline %.1f ms",
            what, took / 1e6, want / 1e6);
}

static void test_deadlines(void) {
  tt_fd a, b;
  make_pair(&a, &b);
  char buf[16];
  int64_t d = TT_MS(100);
  int64_t t0 = tt_test_mono_ns();
  CHECK_EQ(tt_fd_read_until(a, buf, sizeof buf, tt_now() + d), TT_ETIMEDOUT);
  check_elapsed(t0, d, "read_until");
  t0 = tt_test_mono_ns();
  CHECK_EQ(tt_fd_read_full_until(a, buf, sizeof buf, tt_now() + d), TT_ETIMEDOUT);
  check_elapsed(t0, d, "read_full_until");
  /* A call that completes without waiting does, whatever its deadline; a
   * wait past its deadline fails at once. */
  CHECK_EQ(tt_fd_write_all(b, "x", 1), 1);
  tt_sleep(TT_MS(10));
  CHECK_EQ(tt_fd_read_until(a, buf, sizeof buf, tt_now() - 1), 1);
  CHECK_EQ(tt_fd_wait_until(a, TT_READABLE, tt_now() - 1), TT_ETIMEDOUT);
  /* The connection still works after a timed-out read. */
  CHECK_EQ(tt_fd_write_all(b, "hello", 5), 5);
  CHECK_EQ(tt_fd_read_full_until(a, buf, 5, tt_now() + TT_MS(5000)), 5);
  CHECK(memcmp(buf, "hello", 5) == 0);
  /* Writable at once: an empty send buffer. */
  CHECK_EQ(tt_fd_wait_until(a, TT_WRITABLE, tt_now() + TT_MS(5000)), 0);
  CHECK_EQ(tt_fd_close(a), 0);
  CHECK_EQ(tt_fd_close(b), 0);

  tt_fd l;
  char port[16];
  CHECK_EQ(tt_test_listen(&l, port), 0);
  tt_fd c;
  t0 = tt_test_mono_ns();
  CHECK_EQ(tt_tcp_accept_until(l, &c, tt_now() + d), TT_ETIMEDOUT);
  check_elapsed(t0, d, "accept_until");
  tt_context *ctx = tt_with_timeout(NULL, d);
  t0 = tt_test_mono_ns();
  CHECK_EQ(tt_tcp_accept_ctx(l, &c, ctx), TT_ETIMEDOUT);
  check_elapsed(t0, d, "accept_ctx with a timeout");
  tt_context_release(ctx);
  CHECK_EQ(tt_fd_close(l), 0);
  CHECK_FDS_BASELINE();
}

/* A connect that cannot complete: a listener with a full backlog drops the
 * handshake, so connects stay in progress until the deadline. */
static void test_connect_deadline(void) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK_EQ(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
  CHECK_EQ(listen(s, 0), 0);
  socklen_t len = sizeof sa;
  getsockname(s, (struct sockaddr *)&sa, &len);
  char port[16];
  snprintf(port, sizeof port, "%d", ntohs(sa.sin_port));
  tt_fd held[8];
  int nheld = 0, timed_out = 0;
  int64_t d = TT_MS(200);
  for (int i = 0; i < 8 && !timed_out; i++) {
    int64_t t0 = tt_test_mono_ns();
    int rc = tt_tcp_connect_until("127.0.0.1", port, &held[nheld], tt_now() + d);
    if (rc == 0) {
      nheld++;
    } else {
      CHECK_MSG(rc == TT_ETIMEDOUT, "connect: %s", tt_strerror(rc));
      check_elapsed(t0, d, "connect_until");
      timed_out = 1;
    }
  }
  CHECK(timed_out);
  /* The same through a context that is cancelled. */
  tt_context *ctx = tt_with_cancel(NULL);
  tt_fd c;
  tt_cancel(ctx);
  CHECK_EQ(tt_tcp_connect_ctx("127.0.0.1", port, &c, ctx), TT_ECANCELED);
  tt_context_release(ctx);
  for (int i = 0; i < nheld; i++)
    CHECK_EQ(tt_fd_close(held[i]), 0);
  close(s);
  CHECK_FDS_BASELINE();
}

/* ---- Context cancel and close wake a reader ---------------------------------- */

typedef struct reader_arg {
  tt_fd f;
  tt_context *ctx;
  atomic_int started;
  atomic_long rc;
} reader_arg;

static void reader(void *arg) {
  reader_arg *r = arg;
  char buf[8];
  atomic_store(&r->started, 1);
  atomic_store(&r->rc, r->ctx ? tt_fd_read_ctx(r->f, buf, sizeof buf, r->ctx)
                              : tt_fd_read(r->f, buf, sizeof buf));
}

static void wait_parked(tt_wg *wg, reader_arg *r) {
  (void)wg;
  while (!atomic_load(&r->started))
    tt_sleep(TT_MS(1));
  tt_sleep(TT_MS(20));
}

static void test_cancel_and_close(void) {
  tt_fd a, b;
  make_pair(&a, &b);
  reader_arg r = {.f = a, .ctx = tt_with_cancel(NULL)};
  atomic_store(&r.rc, 1);
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, reader, &r);
  wait_parked(wg, &r);
  CHECK_EQ(atomic_load(&r.rc), 1); /* still waiting */
  tt_cancel(r.ctx);
  tt_wg_wait(wg);
  CHECK_EQ(atomic_load(&r.rc), TT_ECANCELED);
  tt_context_release(r.ctx);

  /* Close while several tasks wait on the descriptor: all of them wake
   * with TT_ECLOSED, and the descriptor is closed once they are out. */
  reader_arg rs[4];
  for (int i = 0; i < 4; i++) {
    rs[i] = (reader_arg){.f = a, .ctx = NULL};
    atomic_store(&rs[i].rc, 1);
    tt_wg_go(wg, reader, &rs[i]);
  }
  for (int i = 0; i < 4; i++)
    wait_parked(wg, &rs[i]);
  int fd = tt_fd_num(a);
  CHECK(fd >= 0);
  CHECK_EQ(tt_fd_close(a), 0);
  tt_wg_wait(wg);
  for (int i = 0; i < 4; i++)
    CHECK_EQ(atomic_load(&rs[i].rc), TT_ECLOSED);
  CHECK_EQ(fcntl(fd, F_GETFD), -1); /* closed by now */
  /* The handle stays closed: every call says so. */
  char buf[4];
  CHECK_EQ(tt_fd_read(a, buf, 4), TT_ECLOSED);
  CHECK_EQ(tt_fd_close(a), TT_ECLOSED);
  CHECK_EQ(tt_fd_close(b), 0);
  tt_wg_free(wg);
  CHECK_FDS_BASELINE();
}

/* Close racing a read that may or may not have parked yet. */
static void test_close_race(void) {
  int rounds = (int)tt_test_scale_min(300, 30);
  tt_wg *wg = tt_wg_make();
  for (int i = 0; i < rounds; i++) {
    tt_fd a, b;
    make_pair(&a, &b);
    reader_arg r = {.f = a, .ctx = NULL};
    atomic_store(&r.rc, 1);
    tt_wg_go(wg, reader, &r);
    if (i & 1)
      tt_yield();
    CHECK_EQ(tt_fd_close(a), 0);
    tt_wg_wait(wg);
    int64_t rc = atomic_load(&r.rc);
    CHECK_MSG(rc == TT_ECLOSED, "round %d: %lld", i, (long long)rc);
    CHECK_EQ(tt_fd_close(b), 0);
  }
  tt_wg_free(wg);
  CHECK_FDS_BASELINE();
}

/* ---- Errors from the other side ------------------------------------------------ */

static void test_peer_errors(void) {
  /* Reset: the peer closes with SO_LINGER 0, which sends RST. */
  tt_fd a, b;
  make_pair(&a, &b);
  struct linger lg = {1, 0};
  CHECK_EQ(setsockopt(tt_fd_num(b), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  CHECK_EQ(tt_fd_close(b), 0);
  char buf[8];
  int64_t rc = tt_fd_read(a, buf, sizeof buf);
  CHECK_MSG(rc == TT_ECONNRESET, "read after reset: %s", tt_strerror((int)rc));
  CHECK_EQ(tt_fd_close(a), 0);

  /* Orderly close: EOF, and read_full reports it with what came first. */
  make_pair(&a, &b);
  CHECK_EQ(tt_fd_write_all(b, "abc", 3), 3);
  CHECK_EQ(tt_fd_close(b), 0);
  memset(buf, 0, sizeof buf);
  CHECK_EQ(tt_fd_read_full(a, buf, 8), TT_EOF);
  CHECK(memcmp(buf, "abc", 3) == 0);
  CHECK_EQ(tt_fd_read(a, buf, 8), TT_EOF);
  /* Writing to a peer that is gone: an error, never SIGPIPE. */
  int64_t w = 0;
  static char big[1 << 16];
  for (int i = 0; i < 64 && w >= 0; i++)
    w = tt_fd_write_all(a, big, sizeof big);
  CHECK_MSG(w == TT_ECONNRESET, "write to a closed peer: %s", tt_strerror((int)w));
  CHECK_EQ(tt_fd_close(a), 0);

  /* Refused: nobody listens on the port any more. */
  tt_fd l, c;
  char port[16];
  CHECK_EQ(tt_test_listen(&l, port), 0);
  CHECK_EQ(tt_fd_close(l), 0);
  CHECK_EQ(tt_tcp_connect("127.0.0.1", port, &c), TT_ECONNREFUSED);

  /* Resolution failure, distinct from the rest. */
  CHECK_EQ(tt_tcp_connect("no-such-host.invalid", "80", &c), TT_ERESOLVE);
  struct addrinfo *res = NULL;
  CHECK_EQ(tt_getaddrinfo("no-such-host.invalid", "80", SOCK_STREAM, &res), TT_ERESOLVE);
  CHECK_EQ(tt_getaddrinfo("127.0.0.1", "80", SOCK_STREAM, &res), 0);
  CHECK(res != NULL);
  if (res)
    freeaddrinfo(res);
  CHECK_EQ(tt_getaddrinfo(NULL, NULL, SOCK_STREAM, &res), TT_EINVAL);
  CHECK_EQ(tt_getaddrinfo("localhost", "80", SOCK_STREAM, NULL), TT_EINVAL);
  CHECK_FDS_BASELINE();
}

/* ---- Unix sockets, options ------------------------------------------------------- */

static void test_unix_and_options(void) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/tt_test_net_%d.sock", (int)getpid());
  unlink(path);
  tt_fd l, a, b;
  CHECK_EQ(tt_unix_listen(path, &l), 0);
  CHECK_EQ(tt_unix_listen(path, &b), TT_ESYS(EADDRINUSE));
  CHECK_EQ(tt_unix_connect_until(path, &a, tt_now() + TT_MS(5000)), 0);
  CHECK_EQ(tt_tcp_accept(l, &b), 0);
  CHECK_EQ(tt_fd_write_all(a, "ping", 4), 4);
  char buf[4];
  CHECK_EQ(tt_fd_read_full(b, buf, 4), 4);
  CHECK(memcmp(buf, "ping", 4) == 0);
  CHECK_EQ(tt_tcp_nodelay(a, 1), TT_EINVAL); /* not TCP */
  CHECK_EQ(tt_sock_port(a), TT_EINVAL);
  CHECK_EQ(tt_fd_close(a), 0);
  CHECK_EQ(tt_fd_close(b), 0);
  CHECK_EQ(tt_fd_close(l), 0);
  unlink(path);
  CHECK_EQ(tt_unix_connect(path, &a), TT_ECONNREFUSED);
  char longpath[200];
  memset(longpath, 'x', sizeof longpath - 1);
  longpath[sizeof longpath - 1] = 0;
  CHECK_EQ(tt_unix_listen(longpath, &l), TT_EINVAL);

  make_pair(&a, &b);
  CHECK_EQ(tt_tcp_nodelay(a, 1), 0);
  int v = 0;
  socklen_t vl = sizeof v;
  getsockopt(tt_fd_num(a), IPPROTO_TCP, 1 /* TCP_NODELAY */, &v, &vl);
  CHECK(v != 0);
  CHECK_EQ(tt_tcp_keepalive(a, 1, 30), 0);
  getsockopt(tt_fd_num(a), SOL_SOCKET, SO_KEEPALIVE, &v, &vl);
  CHECK(v != 0);
  CHECK_EQ(tt_tcp_keepalive(a, 1, -1), TT_EINVAL);
  CHECK_EQ(tt_fd_close(a), 0);
  CHECK_EQ(tt_fd_close(b), 0);

  /* Two listeners on one port with TT_TCP_REUSEPORT; without it, refused. */
  char port[16];
  tt_fd l1, l2;
  CHECK_EQ(tt_tcp_listen("127.0.0.1", "0", TT_TCP_REUSEPORT, &l1), 0);
  snprintf(port, sizeof port, "%d", tt_sock_port(l1));
  CHECK_EQ(tt_tcp_listen("127.0.0.1", port, TT_TCP_REUSEPORT, &l2), 0);
  CHECK_EQ(tt_fd_close(l2), 0);
  CHECK_EQ(tt_tcp_listen("127.0.0.1", port, 0, &l2), TT_ESYS(EADDRINUSE));
  CHECK_EQ(tt_fd_close(l1), 0);
  CHECK_FDS_BASELINE();
}

/* ---- Pipes and raw descriptors ----------------------------------------------------- */

static void test_pipe_and_attach(void) {
  int p[2];
  CHECK_EQ(pipe(p), 0);
  tt_fd r, w;
  CHECK_EQ(tt_fd_attach(p[0], &r), 0);
  CHECK_EQ(tt_fd_attach(p[1], &w), 0);
  CHECK_EQ(tt_fd_write_all(w, "pipe", 4), 4);
  char buf[4];
  CHECK_EQ(tt_fd_read_full(r, buf, 4), 4);
  CHECK_EQ(tt_fd_detach(w), p[1]); /* still open, ours again */
  CHECK(fcntl(p[1], F_GETFD) >= 0);
  close(p[1]);
  CHECK_EQ(tt_fd_read(r, buf, 4), TT_EOF);
  CHECK_EQ(tt_fd_close(r), 0);

  /* What epoll cannot watch, and what is not open. */
  int file = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  tt_fd f;
  CHECK_EQ(tt_fd_attach(file, &f), TT_EINVAL);
  close(file);
  CHECK_EQ(tt_fd_attach(file, &f), TT_EBADF);
  CHECK_EQ(tt_fd_attach(-1, &f), TT_EBADF);
  CHECK_EQ(tt_fd_attach(0, NULL), TT_EINVAL);
  CHECK_FDS_BASELINE();
}

/* ---- Bad handles to every call -------------------------------------------------------- */

static void check_bad_handle(tt_fd f, int want) {
  char buf[4];
  tt_fd out;
  tt_context *ctx = tt_with_cancel(NULL);
  CHECK_EQ(tt_fd_read(f, buf, 4), want);
  CHECK_EQ(tt_fd_read_until(f, buf, 4, tt_now() + TT_MS(10)), want);
  CHECK_EQ(tt_fd_read_ctx(f, buf, 4, ctx), want);
  CHECK_EQ(tt_fd_read_full(f, buf, 4), want);
  CHECK_EQ(tt_fd_read_full_until(f, buf, 4, TT_NO_DEADLINE), want);
  CHECK_EQ(tt_fd_read_full_ctx(f, buf, 4, ctx), want);
  CHECK_EQ(tt_fd_write_all(f, "x", 1), want);
  CHECK_EQ(tt_fd_write_all_until(f, "x", 1, TT_NO_DEADLINE), want);
  CHECK_EQ(tt_fd_write_all_ctx(f, "x", 1, ctx), want);
  CHECK_EQ(tt_fd_wait(f, TT_READABLE), want);
  CHECK_EQ(tt_fd_wait_until(f, TT_WRITABLE, TT_NO_DEADLINE), want);
  CHECK_EQ(tt_fd_wait_ctx(f, TT_READABLE, ctx), want);
  CHECK_EQ(tt_fd_shutdown(f, TT_SHUT_WR), want);
  CHECK_EQ(tt_tcp_accept(f, &out), want);
  CHECK_EQ(tt_tcp_accept_until(f, &out, TT_NO_DEADLINE), want);
  CHECK_EQ(tt_tcp_accept_ctx(f, &out, ctx), want);
  CHECK_EQ(tt_tcp_nodelay(f, 1), want);
  CHECK_EQ(tt_tcp_keepalive(f, 1, 0), want);
  CHECK_EQ(tt_sock_port(f), want);
  CHECK_EQ(tt_fd_num(f), want);
  CHECK_EQ(tt_fd_detach(f), want);
  CHECK_EQ(tt_fd_close(f), want);
  tt_context_release(ctx);
}

static void test_bad_handles(void) {
  check_bad_handle((tt_fd){0}, TT_EBADF);
  check_bad_handle((tt_fd){-1}, TT_EBADF);
  check_bad_handle((tt_fd){0x7fffffffffffffffLL}, TT_EBADF);
  tt_fd a, b;
  make_pair(&a, &b);
  CHECK_EQ(tt_fd_close(a), 0);
  check_bad_handle(a, TT_ECLOSED);
  /* Bad arguments on a live handle. */
  char buf[4];
  CHECK_EQ(tt_fd_read(b, NULL, 4), TT_EINVAL);
  CHECK_EQ(tt_fd_read(b, buf, 0), 0);
  CHECK_EQ(tt_fd_write_all(b, NULL, 4), TT_EINVAL);
  CHECK_EQ(tt_fd_wait(b, 0), TT_EINVAL);
  CHECK_EQ(tt_fd_wait(b, TT_READABLE | TT_WRITABLE), TT_EINVAL);
  CHECK_EQ(tt_fd_shutdown(b, 0), TT_EINVAL);
  CHECK_EQ(tt_fd_read_ctx(b, buf, 4, NULL), TT_EINVAL);
  tt_fd out;
  CHECK_EQ(tt_tcp_accept(b, &out), TT_EINVAL); /* not a listener */
  CHECK_EQ(tt_tcp_accept(b, NULL), TT_EINVAL);
  CHECK_EQ(tt_tcp_connect(NULL, "80", &out), TT_EINVAL);
  CHECK_EQ(tt_tcp_connect("127.0.0.1", NULL, &out), TT_EINVAL);
  CHECK_EQ(tt_tcp_listen("127.0.0.1", "0", 99, &out), TT_EINVAL);
  CHECK_EQ(tt_fd_close(b), 0);
  CHECK_FDS_BASELINE();
}

/* System errors keep their errno, apart from every TT_E* code. */
static void test_error_codes(void) {
  CHECK(TT_ESYS(EPERM) != TT_EINVAL);
  CHECK_EQ(tt_errno(TT_ESYS(EADDRINUSE)), EADDRINUSE);
  CHECK_EQ(tt_errno(TT_EINVAL), 0);
  CHECK_EQ(tt_errno(TT_ERESOLVE), 0);
  CHECK_STREQ(tt_strerror(TT_ESYS(ENOENT)), "No such file or directory");
  CHECK_STREQ(tt_strerror(TT_EOF), "end of stream");
  const int codes[] = {TT_EOF,      TT_ECONNRESET, TT_ECONNREFUSED, TT_EBADF,
                       TT_ERESOLVE, TT_ETIMEDOUT,  TT_ECANCELED,    TT_ECLOSED};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    CHECK(strcmp(tt_strerror(codes[i]), "unknown error") != 0);
    for (size_t j = 0; j < i; j++)
      CHECK(strcmp(tt_strerror(codes[i]), tt_strerror(codes[j])) != 0);
  }
}

/* ---- The leak tools see I/O waits ------------------------------------------------------- */

static void bounded_reader(void *arg) {
  reader_arg *r = arg;
  char buf[8];
  atomic_store(&r->started, 1);
  atomic_store(&r->rc, tt_fd_read_until(r->f, buf, sizeof buf, tt_now() + TT_MS(600000)));
}

static void test_io_visible(void) {
  tt_fd a, b, c, d;
  make_pair(&a, &b);
  make_pair(&c, &d);
  reader_arg open_ended = {.f = a, .ctx = NULL}, bounded = {.f = c, .ctx = NULL};
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, reader, &open_ended);
  tt_wg_go(wg, bounded_reader, &bounded);
  wait_parked(wg, &open_ended);
  wait_parked(wg, &bounded);
  char want[64];
  snprintf(want, sizeof want, "[IO wait, fd %d 127.0.0.1:%d]", tt_fd_num(a), tt_sock_port(b));
  char *dump = tt_test_dump(TT_DUMP_GO_DEBUG2);
  CHECK_MSG(dump && strstr(dump, want), "no \"%s\" in the dump:\n%s", want, dump);
  free(dump);
  char *json = tt_test_dump(TT_DUMP_JSON);
  snprintf(want, sizeof want, "\"fd\":%d,\"peer\":\"127.0.0.1:%d\",\"bounded\":false", tt_fd_num(a),
           tt_sock_port(b));
  CHECK_MSG(json && strstr(json, want), "no %s in the JSON", want);
  snprintf(want, sizeof want, "\"fd\":%d,", tt_fd_num(c));
  CHECK(json && strstr(json, want));
  free(json);
  /* A suspect, never a definite leak; the bounded read is neither. */
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  CHECK_EQ(tt_leak_suspects(f, 0), 1);
  fclose(f);
  CHECK_MSG(strstr(buf, "I/O without timeout (seed pattern 4)") != NULL, "%s", buf);
  snprintf(want, sizeof want, "on fd %d to 127.0.0.1:", tt_fd_num(a));
  CHECK_MSG(strstr(buf, want) != NULL, "%s", buf);
  CHECK(strstr(buf, "reader") != NULL); /* its stack */
  free(buf);
  CHECK_EQ(tt_leak_check(), 0);
  CHECK_EQ(tt_fd_close(b), 0); /* EOF for the first */
  CHECK_EQ(tt_fd_close(d), 0);
  tt_wg_wait(wg);
  CHECK_EQ(atomic_load(&open_ended.rc), TT_EOF);
  CHECK_EQ(atomic_load(&bounded.rc), TT_EOF);
  CHECK_EQ(tt_fd_close(a), 0);
  CHECK_EQ(tt_fd_close(c), 0);
  tt_wg_free(wg);
  CHECK_FDS_BASELINE();
}

static void net_main(void *arg) {
  (void)arg;
  g_base_fds = tt_test_open_fds();
  CHECK_EQ(g_base_fds, g_outer_fds + 2);
  test_error_codes();
  test_echo();
  test_deadlines();
  test_connect_deadline();
  test_cancel_and_close();
  test_close_race();
  test_peer_errors();
  test_unix_and_options();
  test_pipe_and_attach();
  test_bad_handles();
  test_io_visible();
}

/* ---- Outside a task, and shutdown with tasks in I/O ---------------------------------- */

static atomic_int g_parked;
static void stuck_reader(void *arg) {
  tt_fd f = {(int64_t)(intptr_t)arg};
  char buf[4];
  atomic_fetch_add(&g_parked, 1);
  tt_fd_read(f, buf, sizeof buf); /* never returns: dropped at shutdown */
  CHECK(0);
}

static void stuck_acceptor(void *arg) {
  tt_fd l = {(int64_t)(intptr_t)arg}, c;
  atomic_fetch_add(&g_parked, 1);
  tt_tcp_accept(l, &c); /* never returns either */
  CHECK(0);
}

static void test_shutdown_in_io(void) {
  g_base_fds = g_outer_fds;
  tt_config cfg = {2, 0};
  CHECK_EQ(tt_init(&cfg), 0);
  /* Plain threads may open and close, but not wait. */
  tt_fd l, c;
  char port[16];
  CHECK_EQ(tt_test_listen(&l, port), 0);
  CHECK_EQ(tt_tcp_accept(l, &c), TT_ENOTASK);
  char buf[4];
  CHECK_EQ(tt_fd_read(l, buf, 4), TT_ENOTASK);
  CHECK_EQ(tt_tcp_connect("127.0.0.1", port, &c), TT_ENOTASK);
  int p[2];
  CHECK_EQ(pipe(p), 0);
  tt_fd r[2];
  CHECK_EQ(tt_fd_attach(p[0], &r[0]), 0);
  CHECK_EQ(tt_fd_attach(p[1], &r[1]), 0);
  atomic_store(&g_parked, 0);
  tt_go(stuck_reader, (void *)(intptr_t)r[0].h);
  tt_go(stuck_acceptor, (void *)(intptr_t)l.h);
  while (atomic_load(&g_parked) < 2)
    tt_test_sleep_ns(TT_MS(1));
  tt_test_sleep_ns(TT_MS(50));
  CHECK(tt_test_open_fds() > g_base_fds);
  CHECK_EQ(tt_shutdown(), 0);
  CHECK_FDS_BASELINE(); /* epoll, eventfd and every registered descriptor */
  /* Handles from a runtime that is gone. */
  CHECK_EQ(tt_fd_close(r[1]), TT_ECLOSED);
  CHECK_EQ(tt_tcp_listen("127.0.0.1", "0", 0, &l), TT_ENOTINIT);
  CHECK_EQ(tt_fd_attach(0, &l), TT_ENOTINIT);
}

static void warm_symbolizer(void *arg) {
  (void)arg;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  tt_leak_suspects(f, 0);
  tt_dump_as(f, TT_DUMP_GO_DEBUG2);
  fclose(f);
  free(buf);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(300);
  /* The symbolizer keeps the executable open once a dump has needed it:
   * let it do so before counting. */
  CHECK_EQ(tt_init(NULL), 0);
  CHECK_EQ(tt_main(warm_symbolizer, NULL), 0);
  CHECK_EQ(tt_shutdown(), 0);
  g_outer_fds = tt_test_open_fds();
  RUN_MAIN(2, net_main, NULL);
  g_base_fds = g_outer_fds;
  CHECK_FDS_BASELINE();
  test_shutdown_in_io();
  RUN_MAIN(1, net_main, NULL);
  g_base_fds = g_outer_fds;
  CHECK_FDS_BASELINE();
  return TEST_REPORT();
}
