/*
 * idle: 1,000,000 tasks alive at once, each parked in tt_wg_wait() on one
 * shared "release" WaitGroup. Resident bytes per task = (RSS once all are
 * parked - RSS before the first spawn) / N, from /proc/self/statm. Then the
 * tasks are released and joined. Go twin: bench/go/idle.go (goroutines
 * blocked in sync.WaitGroup.Wait).
 *
 * usage: bench_idle [tasks]
 */
#include "bench_util.h"

#define NAME "idle"

static int64_t g_tasks;
static tt_wg *g_ready, *g_release;
static double g_bytes_per_task;

static void idler(void *arg) {
  (void)arg;
  tt_wg_done(g_ready);
  int rc = tt_wg_wait(g_release);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_wait(release): %s", tt_strerror(rc));
}

static void bench_main(void *arg) {
  (void)arg;
  tt_wg *all = tt_wg_make();
  g_ready = tt_wg_make();
  g_release = tt_wg_make();
  if (!all || !g_ready || !g_release)
    bench_fail(NAME, "tt_wg_make returned NULL");
  if (tt_wg_add(g_release, 1) < 0 || tt_wg_add(g_ready, g_tasks) < 0)
    bench_fail(NAME, "tt_wg_add failed");

  int64_t before = bench_rss_bytes();
  int64_t t0 = tt_now();
  for (int64_t i = 0; i < g_tasks; i++) {
    int64_t id = tt_wg_go(all, idler, NULL);
    if (id <= 0)
      bench_fail(NAME, "tt_wg_go: %s (task %lld)", tt_strerror((int)id), (long long)i);
  }
  int rc = tt_wg_wait(g_ready);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_wait(ready): %s", tt_strerror(rc));
  int64_t t1 = tt_now();
  tt_sleep(100 * 1000 * 1000); /* let the last ones reach tt_wg_wait */
  int64_t live = tt_num_tasks();
  int64_t after = bench_rss_bytes();

  int64_t t2 = tt_now();
  tt_wg_done(g_release);
  rc = tt_wg_wait(all);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_wait(all): %s", tt_strerror(rc));
  int64_t t3 = tt_now();
  if (live < g_tasks)
    bench_fail(NAME, "only %lld tasks alive, expected %lld", (long long)live, (long long)g_tasks);
  if (before < 0 || after < 0)
    bench_fail(NAME, "cannot read /proc/self/statm");
  tt_wg_free(all);
  tt_wg_free(g_ready);
  tt_wg_free(g_release);

  g_bytes_per_task = (double)(after - before) / (double)g_tasks;
  fprintf(stderr, "idle: rss_before=%lld rss_after=%lld live=%lld park_ms=%.1f release_ms=%.1f\n",
          (long long)before, (long long)after, (long long)live, (t1 - t0) / 1e6, (t3 - t2) / 1e6);
  bench_result(NAME, g_bytes_per_task, "bytes/task");
}

int main(int argc, char **argv) {
  g_tasks = bench_arg(argc, argv, 1, 1000000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_bytes_per_task <= 0)
    bench_fail(NAME, "the main task did not finish (or RSS did not grow)");
  return 0;
}
