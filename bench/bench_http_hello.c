/*
 * bench_http_hello: the hello-world server scripts/bench-http.sh puts wrk
 * against (bench/go/http_hello.go is its Go twin). Serves "Hello, World!\n"
 * on GET / at 127.0.0.1:PORT until SIGINT or SIGTERM.
 *
 * For the client benchmark (bench_http_client.c, bench/go/http_client.go,
 * which both run against this server) it also serves GET /hold?ms=N, which
 * answers "held\n" after N ms, and GET /held, the number of /hold requests
 * being held right now: a client reads it to know that all its requests
 * are in flight before it measures its memory.
 *
 *   TT_PROCS=2 bench_http_hello PORT
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "tether.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static void hello(tt_http_exchange *ex, void *arg) {
  (void)arg;
  tt_http_respond(ex, 200, "text/plain; charset=utf-8", "Hello, World!\n", 14);
}

static atomic_int held;

static void hold(tt_http_exchange *ex, void *arg) {
  (void)arg;
  char ms[16];
  long n = tt_http_req_query(ex, "ms", ms, sizeof ms) > 0 ? atol(ms) : 0;
  if (n <= 0 || n > 60000) {
    tt_http_respond(ex, 400, "text/plain", "ms=1..60000\n", 12);
    return;
  }
  atomic_fetch_add(&held, 1);
  tt_sleep_ctx(n * 1000000, tt_http_req_ctx(ex)); /* not past a client gone */
  atomic_fetch_sub(&held, 1);
  tt_http_respond(ex, 200, "text/plain", "held\n", 5);
}

static void held_count(tt_http_exchange *ex, void *arg) {
  (void)arg;
  char buf[24];
  int n = snprintf(buf, sizeof buf, "%d\n", atomic_load(&held));
  tt_http_respond(ex, 200, "text/plain", buf, (size_t)n);
}

static void serve(void *arg) {
  const char *port = arg;
  tt_http_server *s;
  int rc = tt_http_server_new(NULL, &s);
  if (rc == 0)
    rc = tt_http_handle(s, "GET", "/", hello, NULL);
  if (rc == 0)
    rc = tt_http_handle(s, "GET", "/hold", hold, NULL);
  if (rc == 0)
    rc = tt_http_handle(s, "GET", "/held", held_count, NULL);
  if (rc == 0)
    rc = tt_http_server_listen(s, "127.0.0.1", port);
  if (rc < 0) {
    fprintf(stderr, "bench_http_hello: %s\n", tt_strerror(rc));
    exit(1);
  }
  printf("listening on %d\n", tt_http_server_port(s));
  fflush(stdout);
  while (!stop)
    tt_sleep(50000000);
  tt_http_server_shutdown(s, 0);
  tt_http_server_free(s);
}

int main(int argc, char **argv) {
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  struct rlimit rl; /* one descriptor per client connection */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  return tt_main(serve, argc > 1 ? argv[1] : "8080") < 0;
}
