/*
 * skynet: the 1M skynet tree. Every node with size > 1 spawns 10 children
 * (tt_wg_go on its own WaitGroup), waits, and sums their results, which the
 * children write into the parent's results[10] array; a leaf (size 1) returns
 * its number. 1,111,111 tasks in all, no pool. The sum must be 499999500000.
 * Reports the total time in ms. Go twin: bench/go/skynet.go, same structure
 * (sync.WaitGroup + results array, tether has no channels yet).
 *
 * usage: bench_skynet [leaves]   (a power of 10)
 */
#include "bench_util.h"

#define NAME "skynet"

typedef struct node {
  int64_t num;
  int64_t size;
  int64_t *out;
} node;

static int64_t g_leaves;
static double g_ms;

static void skynet(void *arg) {
  node *n = arg;
  if (n->size == 1) {
    *n->out = n->num;
    return;
  }
  int64_t results[10];
  node kids[10];
  int64_t sub = n->size / 10;
  tt_wg *wg = tt_wg_make();
  if (!wg)
    bench_fail(NAME, "tt_wg_make returned NULL");
  for (int i = 0; i < 10; i++) {
    kids[i] = (node){n->num + i * sub, sub, &results[i]};
    int64_t id = tt_wg_go(wg, skynet, &kids[i]);
    if (id <= 0)
      bench_fail(NAME, "tt_wg_go: %s", tt_strerror((int)id));
  }
  int rc = tt_wg_wait(wg);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_wait: %s", tt_strerror(rc));
  rc = tt_wg_free(wg);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_free: %s", tt_strerror(rc));
  int64_t sum = 0;
  for (int i = 0; i < 10; i++)
    sum += results[i];
  *n->out = sum;
}

static void bench_main(void *arg) {
  (void)arg;
  int64_t sum = -1;
  node root = {0, g_leaves, &sum};
  tt_wg *wg = tt_wg_make();
  if (!wg)
    bench_fail(NAME, "tt_wg_make returned NULL");
  int64_t t0 = tt_now();
  int64_t id = tt_wg_go(wg, skynet, &root);
  if (id <= 0)
    bench_fail(NAME, "tt_wg_go: %s", tt_strerror((int)id));
  int rc = tt_wg_wait(wg);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_wait: %s", tt_strerror(rc));
  int64_t t1 = tt_now();
  tt_wg_free(wg);
  int64_t want = g_leaves * (g_leaves - 1) / 2;
  if (sum != want)
    bench_fail(NAME, "sum is %lld, expected %lld", (long long)sum, (long long)want);
  g_ms = (double)(t1 - t0) / 1e6;
  bench_result(NAME, g_ms, "ms");
}

int main(int argc, char **argv) {
  g_leaves = bench_arg(argc, argv, 1, 1000000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ms <= 0)
    bench_fail(NAME, "the main task did not finish");
  return 0;
}
