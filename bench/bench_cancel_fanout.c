/*
 * cancel_fanout: context cancellation fanned out to 1,000,000 tasks. Every
 * task calls tt_wg_done(ready) and then blocks in
 * tt_chan_recv(tt_context_done(ctx)), which must return TT_ECLOSED once
 * ctx is cancelled. The main task waits for `ready`, sleeps 50 ms so that
 * the last ones are parked, then measures from tt_cancel(ctx) until
 * tt_wg_wait(all) returns (every task has returned). Reports ns per task
 * (that time / N). Go twin: bench/go/cancel_fanout.go (goroutines blocked
 * on <-ctx.Done(), sync.WaitGroup).
 *
 * usage: bench_cancel_fanout [tasks]
 */
#include "bench_util.h"

#define NAME "cancel_fanout"

static int64_t g_tasks;
static tt_context *g_ctx;
static tt_wg *g_ready;
static double g_ns_per_op;

static void waiter(void *arg) {
  (void)arg;
  tt_wg_done(g_ready);
  int rc = tt_chan_recv(tt_context_done(g_ctx), NULL);
  if (rc != TT_ECLOSED)
    bench_fail(NAME, "receive from the done channel returned %d (%s), expected TT_ECLOSED", rc,
               tt_strerror(rc));
}

static void bench_main(void *arg) {
  (void)arg;
  g_ctx = tt_with_cancel(NULL);
  g_ready = tt_wg_make();
  tt_wg *all = tt_wg_make();
  if (!g_ctx || !g_ready || !all)
    bench_fail(NAME, "out of memory");
  if (tt_wg_add(g_ready, g_tasks) < 0)
    bench_fail(NAME, "tt_wg_add failed");
  int64_t s0 = tt_now();
  for (int64_t i = 0; i < g_tasks; i++) {
    int64_t id = tt_wg_go(all, waiter, NULL);
    if (id <= 0)
      bench_fail(NAME, "tt_wg_go: %s (task %lld)", tt_strerror((int)id), (long long)i);
  }
  int rc = tt_wg_wait(g_ready);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_wait(ready): %s", tt_strerror(rc));
  int64_t s1 = tt_now();
  tt_sleep(50 * 1000 * 1000);
  int64_t live = tt_num_tasks();
  if (live < g_tasks)
    bench_fail(NAME, "only %lld tasks alive, expected %lld", (long long)live, (long long)g_tasks);

  int64_t t0 = tt_now();
  rc = tt_cancel(g_ctx);
  if (rc < 0)
    bench_fail(NAME, "tt_cancel: %s", tt_strerror(rc));
  rc = tt_wg_wait(all);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_wait(all): %s", tt_strerror(rc));
  int64_t t1 = tt_now();
  /* With two workers the last Done can come from a task that is still on
   * its way out on the other worker: give it a moment to be gone. */
  for (int64_t give_up = t1 + 1000 * 1000 * 1000; tt_num_tasks() != 1 && tt_now() < give_up;)
    tt_yield();
  if (tt_num_tasks() != 1)
    bench_fail(NAME, "%lld tasks still alive", (long long)tt_num_tasks() - 1);
  tt_context_release(g_ctx);
  tt_wg_free(g_ready);
  tt_wg_free(all);
  fprintf(stderr, "%s: spawn_ms=%.1f cancel_ms=%.1f\n", NAME, (s1 - s0) / 1e6, (t1 - t0) / 1e6);
  g_ns_per_op = (double)(t1 - t0) / (double)g_tasks;
  bench_result(NAME, g_ns_per_op, "ns/op");
}

int main(int argc, char **argv) {
  g_tasks = bench_arg(argc, argv, 1, 1000000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ns_per_op <= 0)
    bench_fail(NAME, "the main task did not finish");
  return 0;
}
