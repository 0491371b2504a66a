/*
 * buffered: a producer task sends 1, 2, ..., N on a channel of capacity 128
 * and closes it; the main task receives until the channel is closed and
 * checks the sum (N(N+1)/2) and the count. Reports ns per element (elapsed
 * / N: one send plus one receive). Go twin: bench/go/buffered.go.
 *
 * usage: bench_buffered [elements]
 */
#include "bench_util.h"

#define NAME "buffered"
#define CAP 128

static int64_t g_n;
static tt_chan *g_c;
static double g_ns_per_op;

static void producer(void *arg) {
  (void)arg;
  for (int64_t i = 1; i <= g_n; i++) {
    int rc = tt_chan_send(g_c, &i);
    if (rc < 0)
      bench_fail(NAME, "tt_chan_send: %s", tt_strerror(rc));
  }
  tt_chan_close(g_c);
}

static void bench_main(void *arg) {
  (void)arg;
  g_c = tt_chan_make(sizeof(int64_t), CAP);
  tt_wg *wg = tt_wg_make();
  if (!g_c || !wg)
    bench_fail(NAME, "out of memory");
  int64_t t0 = tt_now();
  int64_t id = tt_wg_go(wg, producer, NULL);
  if (id <= 0)
    bench_fail(NAME, "tt_wg_go: %s", tt_strerror((int)id));
  int64_t sum = 0, count = 0, v;
  int rc;
  while ((rc = tt_chan_recv(g_c, &v)) == 0) {
    sum += v;
    count++;
  }
  if (rc != TT_ECLOSED)
    bench_fail(NAME, "tt_chan_recv: %s", tt_strerror(rc));
  int64_t t1 = tt_now();
  rc = tt_wg_wait(wg);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_wait: %s", tt_strerror(rc));
  tt_wg_free(wg);
  tt_chan_unref(g_c);
  if (count != g_n || sum != g_n * (g_n + 1) / 2)
    bench_fail(NAME, "received %lld values summing to %lld, expected %lld summing to %lld",
               (long long)count, (long long)sum, (long long)g_n, (long long)(g_n * (g_n + 1) / 2));
  g_ns_per_op = (double)(t1 - t0) / (double)g_n;
  bench_result(NAME, g_ns_per_op, "ns/op");
}

int main(int argc, char **argv) {
  g_n = bench_arg(argc, argv, 1, 10000000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ns_per_op <= 0)
    bench_fail(NAME, "the main task did not finish");
  return 0;
}
