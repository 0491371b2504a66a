/*
 * leakcheck: the time tt_leak_check takes to decide over 1,000,000 blocked
 * tasks, in one of two shapes:
 *   live   every task waits on one channel that the benchmark's main task
 *          still holds: nothing is leaked, one pass over the graph (the
 *          median of 5 checks is reported);
 *   leaky  1% of the tasks wait on a channel only they hold (seed pattern
 *          3): the first check finds them all, which takes two passes, the
 *          proofs and the records with their stacks (that first check is
 *          reported; the value line also names how many it found).
 * Go twin: bench/go/leakcheck.go, a runtime.GC() over as many goroutines
 * blocked the same way: Go finds leaked goroutines during a GC cycle (the
 * goroutineleak profile of Go 1.26), and the marking is the cost both share.
 *
 * usage: bench_leakcheck live|leaky [tasks]
 */
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

static int64_t g_tasks;
static int g_leaky;
static const char *g_name;
static tt_chan *g_never;
static tt_wg *g_parked;

static void wait_live(void *arg) {
  (void)arg;
  int v;
  tt_wg_done(g_parked);
  tt_chan_recv(g_never, &v);
}

static void wait_on_itself(void *arg) {
  (void)arg;
  tt_chan *mine = tt_chan_make(sizeof(int), 0);
  int v;
  tt_wg_done(g_parked);
  tt_chan_recv(mine, &v);
}

static void bench_main(void *arg) {
  (void)arg;
  g_never = tt_chan_make(sizeof(int), 0);
  g_parked = tt_wg_make();
  tt_wg_add(g_parked, g_tasks);
  int64_t leaks = 0;
  for (int64_t i = 0; i < g_tasks; i++) {
    int leak = g_leaky && i % 100 == 0;
    leaks += leak;
    int64_t id = leak ? tt_go(wait_on_itself, NULL) : tt_go(wait_live, NULL);
    if (id <= 0)
      bench_fail(g_name, "tt_go: %s", tt_strerror((int)id));
  }
  tt_wg_wait(g_parked);
  tt_sleep(50 * 1000 * 1000); /* let the last ones park */
  if (g_leaky) {
    int64_t t0 = tt_now();
    int64_t found = tt_leak_check();
    int64_t took = tt_now() - t0;
    if (found != leaks)
      bench_fail(g_name, "found %lld leaks, expected %lld", (long long)found, (long long)leaks);
    fprintf(stderr, "leakcheck leaky: %lld leaks among %lld tasks\n", (long long)found,
            (long long)g_tasks);
    bench_result(g_name, (double)took / 1e6, "ms");
    return; /* the tasks stay parked: tt_shutdown frees them */
  }
  int64_t times[5];
  for (int r = 0; r < 5; r++) {
    int64_t t0 = tt_now();
    int64_t found = tt_leak_check();
    times[r] = tt_now() - t0;
    if (found != 0)
      bench_fail(g_name, "found %lld leaks where there are none", (long long)found);
  }
  qsort(times, 5, sizeof times[0], bench_cmp_i64);
  bench_result(g_name, (double)times[2] / 1e6, "ms");
}

int main(int argc, char **argv) {
  const char *which = argc > 1 ? argv[1] : "live";
  if (strcmp(which, "live") == 0)
    g_name = "leakcheck_live";
  else if (strcmp(which, "leaky") == 0)
    g_name = "leakcheck_leaky", g_leaky = 1;
  else
    bench_fail("leakcheck", "unknown shape %s (live, leaky)", which);
  g_tasks = bench_arg(argc, argv, 2, 1000000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(g_name, "tt_main: %s", tt_strerror(rc));
  return 0;
}
