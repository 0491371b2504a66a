/*
 * waitgroup: one WaitGroup, 1,000,000 tasks. The main task runs, N times,
 * tt_wg_add(wg, 1) and tt_go(task), where the task marks its own byte of a
 * flag array and calls tt_wg_done(wg); then one tt_wg_wait(wg). Checks that
 * every task ran once. Reports ns per task (add + spawn + done, the final
 * wait included). The same with tt_wg_go (which adds, spawns and calls Done
 * when the task returns) is timed afterwards and printed on stderr. Go twin:
 * bench/go/waitgroup.go (wg.Add(1); go func() { ...; wg.Done() }();
 * wg.Wait()).
 *
 * usage: bench_waitgroup [tasks]
 */
#include <string.h>

#include "bench_util.h"

#define NAME "waitgroup"

static int64_t g_n;
static unsigned char *g_ran;
static tt_wg *g_wg;
static double g_ns_per_op;

static void task(void *arg) {
  g_ran[(intptr_t)arg]++;
  tt_wg_done(g_wg);
}

static void mark(void *arg) { g_ran[(intptr_t)arg]++; }

static void check_all_ran(const char *how) {
  for (int64_t i = 0; i < g_n; i++)
    if (g_ran[i] != 1)
      bench_fail(NAME, "%s: task %lld ran %d times", how, (long long)i, g_ran[i]);
  memset(g_ran, 0, (size_t)g_n);
}

static void bench_main(void *arg) {
  (void)arg;
  g_wg = tt_wg_make();
  if (!g_wg)
    bench_fail(NAME, "tt_wg_make returned NULL");

  int64_t t0 = tt_now();
  for (int64_t i = 0; i < g_n; i++) {
    if (tt_wg_add(g_wg, 1) < 0)
      bench_fail(NAME, "tt_wg_add failed");
    int64_t id = tt_go(task, (void *)(intptr_t)i);
    if (id <= 0)
      bench_fail(NAME, "tt_go: %s (task %lld)", tt_strerror((int)id), (long long)i);
  }
  int rc = tt_wg_wait(g_wg);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_wait: %s", tt_strerror(rc));
  int64_t t1 = tt_now();
  check_all_ran("tt_wg_add + tt_go");

  int64_t t2 = tt_now();
  for (int64_t i = 0; i < g_n; i++) {
    int64_t id = tt_wg_go(g_wg, mark, (void *)(intptr_t)i);
    if (id <= 0)
      bench_fail(NAME, "tt_wg_go: %s (task %lld)", tt_strerror((int)id), (long long)i);
  }
  rc = tt_wg_wait(g_wg);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_wait: %s", tt_strerror(rc));
  int64_t t3 = tt_now();
  check_all_ran("tt_wg_go");

  /* A task that has called Done may not have returned yet. */
  while (tt_num_tasks() > 1)
    tt_yield();
  rc = tt_wg_free(g_wg);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_free: %s", tt_strerror(rc));
  g_ns_per_op = (double)(t1 - t0) / (double)g_n;
  fprintf(stderr, "%s: add+go+done %.1f ns/task, tt_wg_go %.1f ns/task\n", NAME, g_ns_per_op,
          (double)(t3 - t2) / (double)g_n);
  bench_result(NAME, g_ns_per_op, "ns/op");
}

int main(int argc, char **argv) {
  g_n = bench_arg(argc, argv, 1, 1000000);
  g_ran = calloc((size_t)g_n, 1);
  if (!g_ran)
    bench_fail(NAME, "out of memory");
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ns_per_op <= 0)
    bench_fail(NAME, "the main task did not finish");
  free(g_ran);
  return 0;
}
