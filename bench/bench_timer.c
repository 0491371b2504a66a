/*
 * timer: start and stop a timer that never fires. The main task runs, N
 * times, tt_timer_make(1 hour), tt_timer_stop (which must return 1: it
 * stopped a pending timer) and tt_timer_free. Reports ns per
 * make+stop+free. Go twin: bench/go/timer.go (time.NewTimer(time.Hour),
 * Stop must return true; the garbage collector frees it).
 *
 * usage: bench_timer [timers]
 */
#include "bench_util.h"

#define NAME "timer"
#define HOUR (3600 * (int64_t)1000000000)

static int64_t g_n;
static double g_ns_per_op;

static void bench_main(void *arg) {
  (void)arg;
  int64_t t0 = tt_now();
  for (int64_t i = 0; i < g_n; i++) {
    tt_timer *t = tt_timer_make(HOUR);
    if (!t)
      bench_fail(NAME, "tt_timer_make returned NULL");
    int rc = tt_timer_stop(t);
    if (rc != 1)
      bench_fail(NAME, "tt_timer_stop returned %d, expected 1", rc);
    rc = tt_timer_free(t);
    if (rc < 0)
      bench_fail(NAME, "tt_timer_free: %s", tt_strerror(rc));
  }
  int64_t t1 = tt_now();
  g_ns_per_op = (double)(t1 - t0) / (double)g_n;
  bench_result(NAME, g_ns_per_op, "ns/op");
}

int main(int argc, char **argv) {
  g_n = bench_arg(argc, argv, 1, 2000000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ns_per_op <= 0)
    bench_fail(NAME, "the main task did not finish");
  return 0;
}
