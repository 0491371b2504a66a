/*
 * threadring: the classic. 503 tasks in a ring, task k (1-based) receiving
 * on its own unbuffered channel and sending to task k+1's (503's to 1's).
 * The main task hands token N to task 1; each task passes token - 1 on,
 * and the task that receives 0 reports its number, which must be
 * N mod 503 + 1. Then a stop token (-1) goes round once so that every task
 * returns. Reports ns per hop (time until the number is reported / N).
 * Go twin: bench/go/threadring.go.
 *
 * usage: bench_threadring [hops]
 */
#include "bench_util.h"

#define NAME "threadring"
#define RING 503

typedef struct member {
  int64_t num; /* 1..RING */
  tt_chan *in, *out;
} member;

static int64_t g_hops;
static tt_chan *g_result;
static double g_ns_per_op;

static void pass(tt_chan *c, int64_t v) {
  int rc = tt_chan_send(c, &v);
  if (rc < 0)
    bench_fail(NAME, "tt_chan_send: %s", tt_strerror(rc));
}

static void ring_task(void *arg) {
  member *m = arg;
  int stopper = 0; /* this task got 0 and sent the stop token round */
  for (;;) {
    int64_t token;
    int rc = tt_chan_recv(m->in, &token);
    if (rc < 0)
      bench_fail(NAME, "tt_chan_recv: %s", tt_strerror(rc));
    if (token > 0) {
      pass(m->out, token - 1);
    } else if (token == 0) {
      pass(g_result, m->num);
      pass(m->out, -1);
      stopper = 1;
    } else {
      if (!stopper)
        pass(m->out, -1);
      return;
    }
  }
}

static void bench_main(void *arg) {
  (void)arg;
  static member ring[RING];
  static tt_chan *chans[RING];
  g_result = tt_chan_make(sizeof(int64_t), 1);
  tt_wg *wg = tt_wg_make();
  if (!g_result || !wg)
    bench_fail(NAME, "out of memory");
  for (int i = 0; i < RING; i++)
    if (!(chans[i] = tt_chan_make(sizeof(int64_t), 0)))
      bench_fail(NAME, "out of memory");
  for (int i = 0; i < RING; i++) {
    ring[i] = (member){i + 1, chans[i], chans[(i + 1) % RING]};
    int64_t id = tt_wg_go(wg, ring_task, &ring[i]);
    if (id <= 0)
      bench_fail(NAME, "tt_wg_go: %s", tt_strerror((int)id));
  }
  int64_t t0 = tt_now();
  pass(chans[0], g_hops);
  int64_t winner = 0;
  int rc = tt_chan_recv(g_result, &winner);
  if (rc < 0)
    bench_fail(NAME, "tt_chan_recv: %s", tt_strerror(rc));
  int64_t t1 = tt_now();
  rc = tt_wg_wait(wg);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_wait: %s", tt_strerror(rc));
  tt_wg_free(wg);
  for (int i = 0; i < RING; i++)
    tt_chan_unref(chans[i]);
  tt_chan_unref(g_result);
  if (winner != g_hops % RING + 1)
    bench_fail(NAME, "task %lld got the last token, expected %lld", (long long)winner,
               (long long)(g_hops % RING + 1));
  g_ns_per_op = (double)(t1 - t0) / (double)g_hops;
  bench_result(NAME, g_ns_per_op, "ns/op");
}

int main(int argc, char **argv) {
  g_hops = bench_arg(argc, argv, 1, 5000000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ns_per_op <= 0)
    bench_fail(NAME, "the main task did not finish");
  return 0;
}
