/*
 * pingpong: two tasks bounce a counter over two unbuffered channels. The
 * main task sends i on `ping` and waits for i + 1 on `pong`; the other task
 * receives, adds one and sends it back. Reports ns per round trip (elapsed /
 * round trips). Go twin: bench/go/pingpong.go (same two unbuffered channels,
 * the main goroutine pings).
 *
 * usage: bench_pingpong [round_trips]
 */
#include "bench_util.h"

#define NAME "pingpong"

static int64_t g_iters;
static tt_chan *g_ping, *g_pong;
static double g_ns_per_op;

static void ponger(void *arg) {
  (void)arg;
  for (;;) {
    int64_t v;
    int rc = tt_chan_recv(g_ping, &v);
    if (rc == TT_ECLOSED)
      return;
    if (rc < 0)
      bench_fail(NAME, "tt_chan_recv: %s", tt_strerror(rc));
    v++;
    rc = tt_chan_send(g_pong, &v);
    if (rc < 0)
      bench_fail(NAME, "tt_chan_send: %s", tt_strerror(rc));
  }
}

static void bench_main(void *arg) {
  (void)arg;
  g_ping = tt_chan_make(sizeof(int64_t), 0);
  g_pong = tt_chan_make(sizeof(int64_t), 0);
  tt_wg *wg = tt_wg_make();
  if (!g_ping || !g_pong || !wg)
    bench_fail(NAME, "out of memory");
  int64_t id = tt_wg_go(wg, ponger, NULL);
  if (id <= 0)
    bench_fail(NAME, "tt_wg_go: %s", tt_strerror((int)id));
  int64_t t0 = tt_now();
  for (int64_t i = 0; i < g_iters; i++) {
    int64_t v = 0;
    int rc = tt_chan_send(g_ping, &i);
    if (rc < 0)
      bench_fail(NAME, "tt_chan_send: %s", tt_strerror(rc));
    rc = tt_chan_recv(g_pong, &v);
    if (rc < 0)
      bench_fail(NAME, "tt_chan_recv: %s", tt_strerror(rc));
    if (v != i + 1)
      bench_fail(NAME, "round trip %lld came back as %lld", (long long)i, (long long)v);
  }
  int64_t t1 = tt_now();
  tt_chan_close(g_ping);
  int rc = tt_wg_wait(wg);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_wait: %s", tt_strerror(rc));
  tt_wg_free(wg);
  tt_chan_unref(g_ping);
  tt_chan_unref(g_pong);
  g_ns_per_op = (double)(t1 - t0) / (double)g_iters;
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
