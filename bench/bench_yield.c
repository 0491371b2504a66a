/*
 * yield: two tasks call tt_yield() in a loop, 2,000,000 times each; with
 * TT_PROCS=1 every yield switches to the other task. Reports ns per yield
 * (elapsed / total yields). Go twin: bench/go/yield.go (runtime.Gosched).
 *
 * usage: bench_yield [yields_per_task]
 */
#include "bench_util.h"

#define NAME "yield"

static int64_t g_iters;
static double g_ns_per_op;

static void yielder(void *arg) {
  (void)arg;
  for (int64_t i = 0; i < g_iters; i++) {
    int rc = tt_yield();
    if (rc < 0)
      bench_fail(NAME, "tt_yield: %s", tt_strerror(rc));
  }
}

static void bench_main(void *arg) {
  (void)arg;
  tt_wg *wg = tt_wg_make();
  if (!wg)
    bench_fail(NAME, "tt_wg_make returned NULL");
  int64_t t0 = tt_now();
  for (int i = 0; i < 2; i++) {
    int64_t id = tt_wg_go(wg, yielder, NULL);
    if (id <= 0)
      bench_fail(NAME, "tt_wg_go: %s", tt_strerror((int)id));
  }
  int rc = tt_wg_wait(wg);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_wait: %s", tt_strerror(rc));
  int64_t t1 = tt_now();
  tt_wg_free(wg);
  g_ns_per_op = (double)(t1 - t0) / (double)(2 * g_iters);
  bench_result(NAME, g_ns_per_op, "ns/op");
}

int main(int argc, char **argv) {
  g_iters = bench_arg(argc, argv, 1, 2000000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ns_per_op <= 0)
    bench_fail(NAME, "the main task did not finish");
  return 0;
}
