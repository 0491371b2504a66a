/*
 * Seed pattern 5, fixed: a worker pool with a shutdown path.
 *
 * Leaky shape: workers `range` over a jobs channel nobody closes. Fix: the
 * pool is a task group bound to a context; workers stop when the jobs
 * channel is closed or the context is cancelled, and tt_group_destroy
 * checks that every worker really left.
 */
#include <stdatomic.h>
#include <stdio.h>

#include "expect_leaks.h"
#include "tether.h"

typedef struct pool {
  tt_chan *jobs;
  atomic_long done;
} pool;

static int worker(tt_context *ctx, void *arg) {
  pool *p = arg;
  for (;;) {
    long job;
    int rc = tt_chan_recv_ctx(p->jobs, &job, ctx);
    if (rc != 0)
      return 0;       /* jobs closed, or the pool is shutting down */
    tt_sleep(100000); /* "process" the job */
    atomic_fetch_add(&p->done, 1);
  }
}

static int no_leaks;

static void main_task(void *arg) {
  (void)arg;
  pool p = {.jobs = tt_chan_make(sizeof(long), 0)};
  tt_group *g = tt_group_make(NULL, 0);
  for (int i = 0; i < 10; i++)
    tt_group_go(g, worker, &p);
  for (long j = 0; j < 200; j++)
    tt_chan_send(p.jobs, &j);
  tt_chan_close(p.jobs); /* shutdown: no more jobs */
  int rc = tt_group_wait(g);
  printf("pool finished %ld jobs (group: %s)\n", atomic_load(&p.done), tt_strerror(rc));
  rc = tt_group_destroy(g, 100 * 1000000);
  printf("group destroyed: %s\n", tt_strerror(rc));
  tt_chan_unref(p.jobs);
  printf("tasks left besides main: %lld\n", (long long)tasks_left(1));
  no_leaks = expect_no_definite_leak(); /* nor does the leak detector find one */
}

int main(void) { return tt_main(main_task, NULL) < 0 || !no_leaks; }
