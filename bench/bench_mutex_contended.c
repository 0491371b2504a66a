/*
 * mutex_contended: 4 tasks each run N rounds of tt_mutex_lock; counter++;
 * tt_mutex_unlock on one shared mutex (meant for TT_PROCS=2: 4 tasks on 2
 * workers). They all wait at a start gate (a WaitGroup) first, so that
 * they really run at the same time. Checks the counter (4N). Reports ns per
 * lock/inc/unlock (elapsed / 4N). Go twin: bench/go/mutex_contended.go
 * (4 goroutines, sync.Mutex, the same gate).
 *
 * usage: bench_mutex_contended [rounds_per_task]
 */
#include "bench_util.h"

#define NAME "mutex_contended"
#define TASKS 4

static int64_t g_n;
static tt_mutex g_mu;
static int64_t g_counter;
static tt_wg *g_start;
static double g_ns_per_op;

static void contender(void *arg) {
  (void)arg;
  int rc = tt_wg_wait(g_start);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_wait(start): %s", tt_strerror(rc));
  for (int64_t i = 0; i < g_n; i++) {
    if ((rc = tt_mutex_lock(&g_mu)) != 0)
      bench_fail(NAME, "tt_mutex_lock: %s", tt_strerror(rc));
    g_counter++;
    if ((rc = tt_mutex_unlock(&g_mu)) != 0)
      bench_fail(NAME, "tt_mutex_unlock: %s", tt_strerror(rc));
  }
}

static void bench_main(void *arg) {
  (void)arg;
  g_start = tt_wg_make();
  tt_wg *all = tt_wg_make();
  if (!g_start || !all)
    bench_fail(NAME, "out of memory");
  tt_wg_add(g_start, 1);
  for (int i = 0; i < TASKS; i++) {
    int64_t id = tt_wg_go(all, contender, NULL);
    if (id <= 0)
      bench_fail(NAME, "tt_wg_go: %s", tt_strerror((int)id));
  }
  int64_t t0 = tt_now();
  tt_wg_done(g_start);
  int rc = tt_wg_wait(all);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_wait: %s", tt_strerror(rc));
  int64_t t1 = tt_now();
  tt_wg_free(all);
  tt_wg_free(g_start);
  if (g_counter != TASKS * g_n)
    bench_fail(NAME, "counter is %lld, expected %lld", (long long)g_counter,
               (long long)(TASKS * g_n));
  g_ns_per_op = (double)(t1 - t0) / (double)(TASKS * g_n);
  bench_result(NAME, g_ns_per_op, "ns/op");
}

int main(int argc, char **argv) {
  g_n = bench_arg(argc, argv, 1, 1000000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ns_per_op <= 0)
    bench_fail(NAME, "the main task did not finish");
  return 0;
}
