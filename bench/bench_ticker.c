/*
 * ticker: what delivering one tick costs. The main task makes a ticker
 * whose period (1 ns) is shorter than the delivery path itself, so a tick
 * is always due, and receives K ticks from its channel; the figure is the
 * overhead per tick beyond the ideal, (elapsed - K * period) / K. Each tick
 * is the whole path: the receiver parks on the empty channel, the scheduler
 * finds the ticker due in its timer heap, the callback sends the fire time
 * and re-arms the ticker on its period grid, and the woken receiver runs
 * again. (With a period of a few µs the delivery would be done before the
 * next tick is due, the worker would go to sleep in between, and the figure
 * would be how fast the kernel wakes a sleeping thread.) The fire times must
 * increase and never lie in the receiver's future.
 *
 * Then, for information (stderr), a 50 µs ticker for 1,000 ticks: the mean
 * interval between received ticks (ideal 50 µs; more means ticks came late
 * enough to be dropped), which measures how promptly a sleeping worker
 * wakes up rather than the runtime's own work. Go twin: bench/go/ticker.go
 * (time.NewTicker).
 *
 * usage: bench_ticker [ticks]
 */
#include "bench_util.h"

#define NAME "ticker"
#define PERIOD 1          /* ns: always due once a tick is delivered */
#define SLOW_PERIOD 50000 /* ns */
#define SLOW_TICKS 1000

static int64_t g_ticks;
static double g_ns_per_op;

/* Receive n ticks from a new ticker of the given period; returns elapsed ns
 * from the make to the n-th tick received. */
static int64_t receive_ticks(int64_t period, int64_t n) {
  int64_t t0 = tt_now(), last = 0;
  tt_ticker *tk = tt_ticker_make(period);
  if (!tk)
    bench_fail(NAME, "tt_ticker_make returned NULL");
  for (int64_t i = 0; i < n; i++) {
    int64_t v = 0;
    int rc = tt_chan_recv(tt_ticker_chan(tk), &v);
    if (rc != 0)
      bench_fail(NAME, "receive %lld: %s", (long long)i, tt_strerror(rc));
    if (v <= last || v < t0)
      bench_fail(NAME, "tick %lld carries time %lld after %lld", (long long)i, (long long)v,
                 (long long)last);
    last = v;
  }
  int64_t t1 = tt_now();
  if (last > t1)
    bench_fail(NAME, "the last tick carries a time in the future");
  int rc = tt_ticker_free(tk);
  if (rc < 0)
    bench_fail(NAME, "tt_ticker_free: %s", tt_strerror(rc));
  return t1 - t0;
}

static void bench_main(void *arg) {
  (void)arg;
  int64_t elapsed = receive_ticks(PERIOD, g_ticks);
  g_ns_per_op = (double)(elapsed - g_ticks * PERIOD) / (double)g_ticks;
  int64_t slow = receive_ticks(SLOW_PERIOD, SLOW_TICKS);
  fprintf(stderr,
          "%s: %lld ticks of %d ns: %.1f ns each; %d ticks of %d us: mean interval %.1f us\n", NAME,
          (long long)g_ticks, PERIOD, (double)elapsed / (double)g_ticks, SLOW_TICKS,
          SLOW_PERIOD / 1000, (double)slow / SLOW_TICKS / 1000.0);
  if (g_ns_per_op <= 0)
    bench_fail(NAME, "%lld ticks of %d ns took only %lld ns", (long long)g_ticks, PERIOD,
               (long long)elapsed);
  bench_result(NAME, g_ns_per_op, "ns/op");
}

int main(int argc, char **argv) {
  g_ticks = bench_arg(argc, argv, 1, 1000000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ns_per_op <= 0)
    bench_fail(NAME, "the main task did not finish");
  return 0;
}
