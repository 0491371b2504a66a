/*
 * mutex: an uncontended lock/unlock pair, tether's tt_mutex beside a
 * pthread_mutex_t (default attributes) in the same program. The main task
 * runs N pairs of lock; counter++; unlock on each, in 4 alternating rounds
 * of N/4 (after a warm-up of N/10 each), and checks the counters. Reports
 * ns per tt_mutex pair as the value and ns per pthread pair as `ref=`
 * (scripts/bench.sh compares the two: target within 1.2x of pthread). Go
 * twin, for reference: bench/go/mutex.go (sync.Mutex, same rounds).
 *
 * usage: bench_mutex [pairs]
 */
#include <pthread.h>

#include "bench_util.h"

#define NAME "mutex"
#define ROUNDS 4

static int64_t g_n;
static tt_mutex g_mu;
static pthread_mutex_t g_pmu = PTHREAD_MUTEX_INITIALIZER;
static int64_t g_tt_count, g_pt_count;
static double g_ns_per_op;

static int64_t run_tt(int64_t n) {
  int64_t t0 = tt_now();
  for (int64_t i = 0; i < n; i++) {
    if (tt_mutex_lock(&g_mu) != 0)
      bench_fail(NAME, "tt_mutex_lock failed");
    g_tt_count++;
    if (tt_mutex_unlock(&g_mu) != 0)
      bench_fail(NAME, "tt_mutex_unlock failed");
  }
  return tt_now() - t0;
}

static int64_t run_pthread(int64_t n) {
  int64_t t0 = tt_now();
  for (int64_t i = 0; i < n; i++) {
    if (pthread_mutex_lock(&g_pmu) != 0)
      bench_fail(NAME, "pthread_mutex_lock failed");
    g_pt_count++;
    if (pthread_mutex_unlock(&g_pmu) != 0)
      bench_fail(NAME, "pthread_mutex_unlock failed");
  }
  return tt_now() - t0;
}

static void bench_main(void *arg) {
  (void)arg;
  run_tt(g_n / 10);
  run_pthread(g_n / 10);
  int64_t per_round = g_n / ROUNDS, tt_ns = 0, pt_ns = 0;
  for (int r = 0; r < ROUNDS; r++) {
    tt_ns += run_tt(per_round);
    pt_ns += run_pthread(per_round);
  }
  int64_t want = g_n / 10 + per_round * ROUNDS;
  if (g_tt_count != want || g_pt_count != want)
    bench_fail(NAME, "counters are %lld and %lld, expected %lld", (long long)g_tt_count,
               (long long)g_pt_count, (long long)want);
  double tt = (double)tt_ns / (double)(per_round * ROUNDS);
  double pt = (double)pt_ns / (double)(per_round * ROUNDS);
  fprintf(stderr, "%s: tt_mutex %.2f ns/pair, pthread_mutex %.2f ns/pair (%.2fx)\n", NAME, tt, pt,
          tt / pt);
  g_ns_per_op = tt;
  printf("RESULT name=%s procs=%d value=%.3f unit=ns/op ref=%.3f\n", NAME, tt_procs(), tt, pt);
  fflush(stdout);
}

int main(int argc, char **argv) {
  g_n = bench_arg(argc, argv, 1, 20000000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ns_per_op <= 0)
    bench_fail(NAME, "the main task did not finish");
  return 0;
}
