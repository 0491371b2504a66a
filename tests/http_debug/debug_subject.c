/*
 * debug_subject: a program in a known state that serves its debug endpoints
 * (tests/http_debug/run.sh reads them with Go's pprof, a Prometheus parser
 * and headless Chromium).
 *
 *   debug_subject
 *
 * Parks 7 tasks in pool_worker (chan receive on a channel nobody sends on
 * yet), 3 in locked_out (a mutex held by the main task) and 1 in
 * leaked_forever (a receive on a nil channel: a proven leak), then serves
 * tt_debug_serve("127.0.0.1:0") and prints "port N" on stdout. It runs
 * until its stdin closes, then stops the server, releases the pool and the
 * mutex waiters, and exits 0 when the server stopped cleanly and every
 * task it can release has gone.
 */
#include <stdio.h>
#include <unistd.h>

#include "tether.h"

enum { POOL = 7, LOCKED = 3 };

static tt_chan *jobs; /* closed at the end: the pool's workers return */
static tt_mutex gate; /* held by the main task until the end */
static tt_wg *released;

__attribute__((noinline)) static void pool_worker(void *arg) {
  (void)arg;
  int job;
  while (tt_chan_recv(jobs, &job) == 0) {
  }
}

__attribute__((noinline)) static void locked_out(void *arg) {
  (void)arg;
  if (tt_mutex_lock(&gate) == 0)
    tt_mutex_unlock(&gate);
}

/* Seed pattern 1's shape at its plainest: nobody can ever send on nil. */
__attribute__((noinline)) static void leaked_forever(void *arg) {
  (void)arg;
  tt_chan_recv(NULL, NULL);
}

/* Runs on a blocking-pool thread: returns when stdin reaches its end. */
static void wait_for_stdin_eof(void *arg) {
  (void)arg;
  char buf[256];
  while (read(STDIN_FILENO, buf, sizeof buf) > 0) {
  }
}

static int status = 1;

static void main_task(void *arg) {
  (void)arg;
  jobs = tt_chan_make(sizeof(int), 0);
  released = tt_wg_make();
  tt_mutex_lock(&gate);
  for (int i = 0; i < POOL; i++)
    tt_wg_go(released, pool_worker, NULL);
  for (int i = 0; i < LOCKED; i++)
    tt_wg_go(released, locked_out, NULL);
  tt_go(leaked_forever, NULL);
  /* Serve only once every task is parked, so the first fetch sees them. */
  tt_task_counts n;
  while (tt_count_tasks(&n) == 0 && n.waiting < POOL + LOCKED + 1)
    tt_sleep(1000000);

  tt_http_server *srv = NULL;
  int rc = tt_debug_serve("127.0.0.1:0", &srv);
  if (rc != 0) {
    fprintf(stderr, "debug_subject: tt_debug_serve: %s\n", tt_strerror(rc));
    tt_mutex_unlock(&gate);
    return;
  }
  printf("port %d\n", tt_http_server_port(srv));
  fflush(stdout);

  tt_blocking(wait_for_stdin_eof, NULL);

  rc = tt_http_server_shutdown(srv, 2LL * 1000000000);
  tt_http_server_free(srv);
  if (rc != 0)
    fprintf(stderr, "debug_subject: tt_http_server_shutdown: %s\n", tt_strerror(rc));
  tt_chan_close(jobs);
  tt_mutex_unlock(&gate);
  tt_wg_wait(released);
  tt_wg_free(released);
  tt_chan_unref(jobs);
  status = rc == 0 ? 0 : 1;
}

int main(void) {
  int rc = tt_main(main_task, NULL);
  if (rc != 0) {
    fprintf(stderr, "debug_subject: tt_main: %s\n", tt_strerror(rc));
    return 1;
  }
  return status;
}
