/*
 * Seed pattern 5, leaky: a worker pool without a shutdown.
 *
 *     func leak5() {
 *         jobs := make(chan Job)
 *         for i := 0; i < 10; i++ {
 *             go func() {
 *                 for job := range jobs { process(job) } // waits forever
 *             }()
 *         }
 *         // never close(jobs)
 *     }
 *
 * Three workers here instead of ten, to keep the report short. Exit 0 when
 * tt_verify_none catches all three ("chan receive"), 1 otherwise. The fix
 * is in pattern5_fixed.c.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect_leaks.h"
#include "tether.h"

enum { WORKERS = 3 };
static tt_chan *lost; /* the reference leak5 should have dropped, for main to drop */
static atomic_long processed;

static void worker(void *arg) {
  long job;
  while (tt_chan_recv(arg, &job) == 0) /* Go's range: until jobs is closed */
    atomic_fetch_add(&processed, 1);
}

static void leak5(void) {
  tt_chan *jobs = tt_chan_make(sizeof(long), 0);
  for (int i = 0; i < WORKERS; i++)
    tt_go(worker, jobs); /* leak: spawned here */
  for (long j = 0; j < 10; j++)
    tt_chan_send(jobs, &j);
  lost = jobs; /* never tt_chan_close(jobs) */
}

static int caught;

static void main_task(void *arg) {
  (void)arg;
  leak5();
  caught = expect_leaks(WORKERS, "chan receive");
  tt_chan_unref(lost); /* jobs goes out of scope, never closed */
  caught &= expect_definite(WORKERS, "worker pool without shutdown (seed pattern 5)");
}

int main(void) { return tt_main(main_task, NULL) < 0 || !caught; }
