/*
 * fanout: fan-out/fan-in through select. A producer task sends jobs 1..N on
 * `jobs`; 8 worker tasks each loop on a select over (receive from jobs,
 * receive from done) and send 2*job+1 on `results` for every job; the main
 * task collects N results, checks their sum (N^2 + 2N), then closes `done`
 * and joins the workers and the producer. jobs and results have capacity
 * 64; done is a signal channel (element size 0). Reports ns per job
 * (elapsed / N). Go twin: bench/go/fanout.go.
 *
 * usage: bench_fanout [jobs]
 */
#include "bench_util.h"

#define NAME "fanout"
#define WORKERS 8
#define CAP 64

static int64_t g_n;
static tt_chan *g_jobs, *g_results, *g_done;
static double g_ns_per_op;

static void producer(void *arg) {
  (void)arg;
  for (int64_t j = 1; j <= g_n; j++) {
    int rc = tt_chan_send(g_jobs, &j);
    if (rc < 0)
      bench_fail(NAME, "tt_chan_send(jobs): %s", tt_strerror(rc));
  }
}

static void worker(void *arg) {
  (void)arg;
  int64_t job;
  tt_case cases[2] = {tt_case_recv(g_jobs, &job), tt_case_recv(g_done, NULL)};
  for (;;) {
    int k = tt_select(cases, 2, 0, TT_NO_DEADLINE);
    if (k == 1)
      return;
    if (k != 0 || cases[0].err != 0)
      bench_fail(NAME, "tt_select: %d", k);
    int64_t r = 2 * job + 1;
    int rc = tt_chan_send(g_results, &r);
    if (rc < 0)
      bench_fail(NAME, "tt_chan_send(results): %s", tt_strerror(rc));
  }
}

static void bench_main(void *arg) {
  (void)arg;
  g_jobs = tt_chan_make(sizeof(int64_t), CAP);
  g_results = tt_chan_make(sizeof(int64_t), CAP);
  g_done = tt_chan_make(0, 0);
  tt_wg *wg = tt_wg_make();
  if (!g_jobs || !g_results || !g_done || !wg)
    bench_fail(NAME, "out of memory");
  int64_t t0 = tt_now();
  for (int i = 0; i < WORKERS; i++) {
    int64_t id = tt_wg_go(wg, worker, NULL);
    if (id <= 0)
      bench_fail(NAME, "tt_wg_go: %s", tt_strerror((int)id));
  }
  int64_t id = tt_wg_go(wg, producer, NULL);
  if (id <= 0)
    bench_fail(NAME, "tt_wg_go: %s", tt_strerror((int)id));
  int64_t sum = 0;
  for (int64_t i = 0; i < g_n; i++) {
    int64_t r;
    int rc = tt_chan_recv(g_results, &r);
    if (rc < 0)
      bench_fail(NAME, "tt_chan_recv(results): %s", tt_strerror(rc));
    sum += r;
  }
  int64_t t1 = tt_now();
  tt_chan_close(g_done);
  int rc = tt_wg_wait(wg);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_wait: %s", tt_strerror(rc));
  tt_wg_free(wg);
  tt_chan_unref(g_jobs);
  tt_chan_unref(g_results);
  tt_chan_unref(g_done);
  if (sum != g_n * g_n + 2 * g_n)
    bench_fail(NAME, "results sum to %lld, expected %lld", (long long)sum,
               (long long)(g_n * g_n + 2 * g_n));
  g_ns_per_op = (double)(t1 - t0) / (double)g_n;
  bench_result(NAME, g_ns_per_op, "ns/op");
}

int main(int argc, char **argv) {
  g_n = bench_arg(argc, argv, 1, 2000000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ns_per_op <= 0)
    bench_fail(NAME, "the main task did not finish");
  return 0;
}
