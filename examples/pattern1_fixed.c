/*
 * Seed pattern 1, fixed: a sender whose receiver may give up.
 *
 * Leaky shape: the worker sends its result on an unbuffered channel; if the
 * caller stops listening, the worker blocks in send forever.
 * Fix A: a buffered channel with room for the one result, so the send never
 * blocks. Fix B: the worker selects between the send and the caller's
 * context, and returns when the caller cancels.
 */
#include <stdio.h>

#include "expect_leaks.h"
#include "tether.h"

typedef struct job {
  tt_chan *out;
  tt_context *ctx;
} job;

static void compute_buffered(void *arg) {
  job *j = arg;
  int answer = 42;
  tt_chan_send(j->out, &answer); /* room for one value: never blocks */
  tt_chan_unref(j->out);
}

static void compute_or_quit(void *arg) {
  job *j = arg;
  tt_sleep(20 * 1000000); /* the work takes longer than the caller waits */
  int answer = 42;
  int rc = tt_chan_send_ctx(j->out, &answer, j->ctx);
  printf("  worker: send %s\n", rc == 0 ? "delivered" : tt_strerror(rc));
  tt_chan_unref(j->out);
  tt_context_unref(j->ctx);
}

static int no_leaks;

static void main_task(void *arg) {
  (void)arg;
  /* Fix A: the caller leaves without receiving; the worker still ends. */
  job a = {.out = tt_chan_make(sizeof(int), 1), .ctx = NULL};
  tt_go(compute_buffered, &(job){.out = tt_chan_ref(a.out)});
  tt_chan_unref(a.out);

  /* Fix B: the caller times out after 5 ms and cancels. */
  tt_context *ctx = tt_with_timeout(NULL, 5 * 1000000);
  tt_chan *out = tt_chan_make(sizeof(int), 0);
  job b = {.out = tt_chan_ref(out), .ctx = tt_context_ref(ctx)};
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, compute_or_quit, &b);
  int v;
  int rc = tt_chan_recv_ctx(out, &v, ctx);
  printf("caller: %s\n", rc == 0 ? "got a result" : tt_strerror(rc));
  tt_context_release(ctx);
  tt_chan_unref(out);

  tt_wg_wait(wg); /* the worker notices the cancel and returns */
  tt_wg_free(wg);
  int64_t left = tasks_left(1); /* fix A's worker returned long ago */
  printf("tasks left besides main: %lld\n", (long long)left);
  if (left != 0)
    tt_dump(stderr);
  no_leaks = expect_no_definite_leak(); /* nor does the leak detector find one */
}

int main(void) {
  int rc = tt_main(main_task, NULL);
  return rc < 0 || !no_leaks;
}
