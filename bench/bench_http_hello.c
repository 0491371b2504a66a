/*
 * bench_http_hello: the hello-world server scripts/bench-http.sh puts wrk
 * against (bench/go/http_hello.go is its Go twin). Serves "Hello, World!\n"
 * on GET / at 127.0.0.1:PORT until SIGINT or SIGTERM.
 *
 *   TT_PROCS=2 bench_http_hello PORT
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

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

static void serve(void *arg) {
  const char *port = arg;
  tt_http_server *s;
  int rc = tt_http_server_new(NULL, &s);
  if (rc == 0)
    rc = tt_http_handle(s, "GET", "/", hello, NULL);
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
  return tt_main(serve, argc > 1 ? argv[1] : "8080") < 0;
}
