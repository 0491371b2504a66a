/*
 * spawn_join: spawn 2,000,000 tasks that each do trivial work (increment
 * their own slot) and join them all, in batches of 10,000: tt_wg_go() for
 * every task of a batch, then tt_wg_wait(). Reports ns per spawn+join.
 * Go twin: bench/go/spawn_join.go (wg.Add(1); go f(); wg.Done; wg.Wait).
 *
 * usage: bench_spawn_join [tasks [batch]]
 */
#include "bench_util.h"

#define NAME "spawn_join"

static int64_t g_tasks, g_batch;
static int64_t *g_slots;
static double g_ns_per_op;

static void work(void *arg) {
  int64_t *slot = arg;
  *slot += 1;
}

static void bench_main(void *arg) {
  (void)arg;
  tt_wg *wg = tt_wg_make();
  if (!wg)
    bench_fail(NAME, "tt_wg_make returned NULL");

  int64_t t0 = tt_now();
  for (int64_t done = 0; done < g_tasks; done += g_batch) {
    int64_t n = g_tasks - done < g_batch ? g_tasks - done : g_batch;
    for (int64_t i = 0; i < n; i++) {
      int64_t id = tt_wg_go(wg, work, &g_slots[i]);
      if (id <= 0)
        bench_fail(NAME, "tt_wg_go: %s (task %lld)", tt_strerror((int)id), (long long)(done + i));
    }
    int rc = tt_wg_wait(wg);
    if (rc < 0)
      bench_fail(NAME, "tt_wg_wait: %s", tt_strerror(rc));
  }
  int64_t t1 = tt_now();

  /* Every slot of a full batch ran once per batch. */
  int64_t total = 0;
  for (int64_t i = 0; i < g_batch; i++)
    total += g_slots[i];
  if (total != g_tasks)
    bench_fail(NAME, "%lld tasks ran, expected %lld", (long long)total, (long long)g_tasks);
  int rc = tt_wg_free(wg);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_free: %s", tt_strerror(rc));

  g_ns_per_op = (double)(t1 - t0) / (double)g_tasks;
  bench_result(NAME, g_ns_per_op, "ns/op");
}

int main(int argc, char **argv) {
  g_tasks = bench_arg(argc, argv, 1, 2000000);
  g_batch = bench_arg(argc, argv, 2, 10000);
  g_slots = calloc((size_t)g_batch, sizeof *g_slots);
  if (!g_slots)
    bench_fail(NAME, "out of memory");
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ns_per_op <= 0)
    bench_fail(NAME, "the main task did not finish");
  free(g_slots);
  return 0;
}
