/*
 * select2: one task runs a 2-case select whose cases are both always ready:
 * receives from two channels of capacity 1 that are kept full. After each
 * select the task refills the channel it just drained with a non-blocking
 * send (tt_chan_try_send, which must succeed) of the next sequence number.
 * Checks that every select returned one of the two cases, that the values
 * received, plus the two left in the channels, are exactly 0..N+1, and
 * (from N = 10,000 on) that each case was chosen 45-55% of the time: the
 * choice among ready cases is uniformly random. Reports ns per select, its
 * refill included (elapsed / N). Go twin: bench/go/select2.go (select on
 * two receives, then select { case ch <- v: default: } for the refill).
 *
 * usage: bench_select2 [selects]
 */
#include "bench_util.h"

#define NAME "select2"

static int64_t g_n;
static double g_ns_per_op;

static void bench_main(void *arg) {
  (void)arg;
  tt_chan *ch[2] = {tt_chan_make(sizeof(int64_t), 1), tt_chan_make(sizeof(int64_t), 1)};
  if (!ch[0] || !ch[1])
    bench_fail(NAME, "out of memory");
  int64_t next = 0;
  for (int k = 0; k < 2; k++, next++)
    if (tt_chan_try_send(ch[k], &next) != 0)
      bench_fail(NAME, "cannot fill channel %d", k);
  int64_t v[2] = {0, 0}, sum = 0, picks[2] = {0, 0};
  tt_case cases[2] = {tt_case_recv(ch[0], &v[0]), tt_case_recv(ch[1], &v[1])};
  int64_t t0 = tt_now();
  for (int64_t i = 0; i < g_n; i++) {
    int k = tt_select(cases, 2, 0, TT_NO_DEADLINE);
    if (k != 0 && k != 1)
      bench_fail(NAME, "tt_select returned %d", k);
    if (cases[k].err != 0)
      bench_fail(NAME, "case %d failed: %s", k, tt_strerror(cases[k].err));
    sum += v[k];
    picks[k]++;
    if (tt_chan_try_send(ch[k], &next) != 0)
      bench_fail(NAME, "refill of channel %d failed", k);
    next++;
  }
  int64_t t1 = tt_now();
  for (int k = 0; k < 2; k++) {
    int64_t rest;
    if (tt_chan_try_recv(ch[k], &rest) != 0)
      bench_fail(NAME, "channel %d is empty at the end", k);
    sum += rest;
    tt_chan_unref(ch[k]);
  }
  int64_t want = (g_n + 2) * (g_n + 1) / 2; /* 0 + 1 + ... + (N + 1) */
  if (sum != want)
    bench_fail(NAME, "values sum to %lld, expected %lld", (long long)sum, (long long)want);
  for (int k = 0; k < 2 && g_n >= 10000; k++)
    if (picks[k] * 100 < g_n * 45 || picks[k] * 100 > g_n * 55)
      bench_fail(NAME, "case %d chosen %lld times of %lld", k, (long long)picks[k], (long long)g_n);
  fprintf(stderr, "%s: case 0 chosen %lld times, case 1 %lld times\n", NAME, (long long)picks[0],
          (long long)picks[1]);
  g_ns_per_op = (double)(t1 - t0) / (double)g_n;
  bench_result(NAME, g_ns_per_op, "ns/op");
}

int main(int argc, char **argv) {
  g_n = bench_arg(argc, argv, 1, 5000000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ns_per_op <= 0)
    bench_fail(NAME, "the main task did not finish");
  return 0;
}
