/*
 * debug_server: a program with leaked tasks that serves its debug
 * endpoints, the C spelling of a Go program with `import _
 * "net/http/pprof"`.
 *
 *   debug_server [host:port] [seconds]
 *
 * Defaults: 127.0.0.1:6060, serve until SIGINT or SIGTERM. It starts a
 * small worker pool (parked on a job channel: alive, not leaked), leaks
 * two tasks the classic ways (a sender nobody receives from, whose channel
 * is dropped; a receive on a nil channel), then serves. It fetches its own
 * goroutineleak profile once, as a client would, and prints its first
 * line. Then look:
 *
 *   curl 'http://127.0.0.1:6060/debug/pprof/goroutine?debug=2'
 *   curl 'http://127.0.0.1:6060/debug/pprof/goroutineleak?debug=1'
 *   go tool pprof http://127.0.0.1:6060/debug/pprof/goroutine
 *   a browser on http://127.0.0.1:6060/debug/tasks
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tether.h"

static tt_chan *jobs;
static volatile sig_atomic_t stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static void pool_worker(void *arg) {
  (void)arg;
  int job;
  while (tt_chan_recv(jobs, &job) == 0) {
  }
}

/* Pattern 1: the result's reader gave up (here: never existed), and the
 * channel's last reference is gone, so the send can never complete. */
static void abandoned_sender(void *arg) {
  tt_chan *result = arg;
  int v = 42;
  tt_chan_send(result, &v);
  tt_chan_unref(result);
}

static void nil_receiver(void *arg) {
  (void)arg;
  int v;
  tt_chan_recv(NULL, &v);
  printf("never printed: %d\n", v);
}

/* GET path from our own server over a socket, as curl would; prints the
 * status line and the first body line. */
static void self_fetch(int port, const char *path) {
  char portstr[16], req[256], buf[8192];
  snprintf(portstr, sizeof portstr, "%d", port);
  tt_fd c;
  if (tt_tcp_connect("127.0.0.1", portstr, &c) < 0) {
    printf("self-fetch: cannot connect\n");
    return;
  }
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
  size_t len = 0;
  if (tt_fd_write_all(c, req, (size_t)n) == n) {
    int64_t r;
    while (len < sizeof buf - 1 && (r = tt_fd_read(c, buf + len, sizeof buf - 1 - len)) > 0)
      len += (size_t)r;
  }
  buf[len] = 0;
  tt_fd_close(c);
  char *body = strstr(buf, "\r\n\r\n");
  char *eol = strstr(buf, "\r\n");
  if (!body || !eol) {
    printf("self-fetch: no response\n");
    return;
  }
  *eol = 0;
  body += 4;
  body[strcspn(body, "\n")] = 0;
  printf("GET %s: %s: %s\n", path, buf, body);
}

typedef struct args {
  const char *addr;
  int seconds;
} args;

static void main_task(void *arg) {
  args *a = arg;
  jobs = tt_chan_make(sizeof(int), 0);
  for (int i = 0; i < 4; i++)
    tt_go(pool_worker, NULL);
  tt_chan *result = tt_chan_make(sizeof(int), 0);
  tt_go_opts(abandoned_sender, result, &(tt_spawn_opts){.give_chans = {result}});
  tt_chan_unref(result); /* the caller walks away: the sender is now leaked */
  tt_go(nil_receiver, NULL);

  tt_http_server *srv;
  int rc = tt_debug_serve(a->addr, &srv);
  if (rc < 0) {
    fprintf(stderr, "debug_server: cannot serve on %s: %s\n", a->addr, tt_strerror(rc));
    return;
  }
  int port = tt_http_server_port(srv);
  printf("serving http://127.0.0.1:%d/debug/pprof/ and /debug/tasks\n", port);
  self_fetch(port, "/debug/pprof/goroutineleak?debug=1");
  fflush(stdout);

  int64_t end = a->seconds > 0 ? tt_now() + (int64_t)a->seconds * 1000000000 : TT_NO_DEADLINE;
  while (!stop && tt_now() < end)
    tt_sleep(100000000);
  tt_http_server_shutdown(srv, 1000000000);
  tt_http_server_free(srv);
  tt_chan_close(jobs);
  tt_chan_unref(jobs);
  printf("stopped\n");
}

int main(int argc, char **argv) {
  args a = {argc > 1 ? argv[1] : "127.0.0.1:6060", argc > 2 ? atoi(argv[2]) : 0};
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  return tt_main(main_task, &a) < 0;
}
