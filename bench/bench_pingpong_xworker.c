/*
 * pingpong_xworker: the pingpong round trip with the two tasks held on two
 * different workers (run with TT_PROCS=2).
 *
 * tether wakes a parked task on the worker of the task that woke it (its
 * run-next slot), so a blocking ping-pong always collapses onto one worker,
 * whatever the starting placement. To keep the two sides apart neither may
 * park: each waits by polling, with tt_chan_try_recv, a channel of capacity
 * 1 (an unbuffered channel cannot be polled from both sides: a try-send only
 * succeeds when the receiver is parked) and replies with tt_chan_try_send.
 * After 1024 failed polls in a row a side calls tt_yield(), so the program
 * still finishes if the two sides ever share a worker.
 *
 * Placement: the pinger spins (without parking) on its worker until the
 * ponger, which sleeps 20 us at a time until it wakes up on another worker
 * (the idle worker that fires its timer), reports a different worker id.
 * Both sides note every worker they ran on (tt_worker_id() at each round
 * trip); the program prints them on stderr and how many round trips each
 * side made away from its starting worker.
 *
 * Reports ns per round trip. Go twin: bench/go/pingpong_xworker.go, the
 * same polling on capacity-1 channels (select with default, Gosched after
 * 1024 failed polls); Go decides the placement.
 *
 * usage: bench_pingpong_xworker [round_trips]
 */
#include <stdatomic.h>
#include <string.h>

#include "bench_util.h"

#define NAME "pingpong_xworker"
#define SPIN_YIELD 1024

typedef struct side {
  _Atomic int worker; /* where it is now, -1 before it starts */
  int start_worker;
  uint64_t seen;  /* bit w: ran on worker w (w < 64) */
  int64_t away;   /* round trips made off start_worker */
  int64_t yields; /* tt_yield calls after SPIN_YIELD failed polls */
} side;

static int64_t g_iters;
static tt_chan *g_ping, *g_pong;
static side g_side[2];
static int64_t g_t0, g_t1;
static double g_ns_per_op;

static void note(side *s) {
  int w = tt_worker_id();
  if (w >= 0 && w < 64)
    s->seen |= 1ull << w;
  if (w != s->start_worker)
    s->away++;
}

/* Poll c until a value arrives. */
static int64_t poll_recv(tt_chan *c, side *s) {
  int64_t v;
  int fails = 0;
  for (;;) {
    int rc = tt_chan_try_recv(c, &v);
    if (rc == 0)
      return v;
    if (rc != TT_EAGAIN)
      bench_fail(NAME, "tt_chan_try_recv: %s", tt_strerror(rc));
    if (++fails == SPIN_YIELD) {
      fails = 0;
      s->yields++;
      tt_yield();
    }
  }
}

static void poll_send(tt_chan *c, int64_t v, side *s) {
  int fails = 0;
  for (;;) {
    int rc = tt_chan_try_send(c, &v);
    if (rc == 0)
      return;
    if (rc != TT_EAGAIN)
      bench_fail(NAME, "tt_chan_try_send: %s", tt_strerror(rc));
    if (++fails == SPIN_YIELD) {
      fails = 0;
      s->yields++;
      tt_yield();
    }
  }
}

static void ponger(void *arg) {
  (void)arg;
  side *s = &g_side[1];
  /* Wait (parked) until the pinger is running, then until we wake up on
   * another worker than its: the pinger keeps its worker busy, so our timer
   * is fired by the other one. Give up after 2 s and run anyway. */
  int64_t give_up = tt_now() + 2000000000;
  for (;;) {
    int me = tt_worker_id();
    atomic_store(&s->worker, me);
    int other = atomic_load(&g_side[0].worker);
    if ((other >= 0 && other != me) || tt_now() > give_up)
      break;
    tt_sleep(20000);
  }
  s->start_worker = tt_worker_id();
  for (int64_t i = 0; i < g_iters; i++) {
    int64_t v = poll_recv(g_ping, s);
    note(s);
    poll_send(g_pong, v + 1, s);
  }
}

static void pinger(void *arg) {
  (void)arg;
  side *s = &g_side[0];
  int me = tt_worker_id();
  atomic_store(&s->worker, me);
  int64_t give_up = tt_now() + 2000000000;
  while (tt_now() < give_up) {
    int other = atomic_load(&g_side[1].worker);
    if (other >= 0 && other != me)
      break;
    for (int k = 0; k < 100; k++)
      __asm__ volatile("" ::: "memory");
  }
  s->start_worker = tt_worker_id();
  g_t0 = tt_now();
  for (int64_t i = 0; i < g_iters; i++) {
    poll_send(g_ping, i, s);
    int64_t v = poll_recv(g_pong, s);
    note(s);
    if (v != i + 1)
      bench_fail(NAME, "round trip %lld came back as %lld", (long long)i, (long long)v);
  }
  g_t1 = tt_now();
}

static void print_side(const char *who, const side *s) {
  fprintf(stderr, "%s: started on worker %d, ran on workers {", NAME, s->start_worker);
  const char *sep = "";
  for (int w = 0; w < 64; w++)
    if (s->seen >> w & 1) {
      fprintf(stderr, "%s%d", sep, w);
      sep = ",";
    }
  fprintf(stderr, "} (%s); %lld of %lld round trips off its starting worker; %lld yields\n", who,
          (long long)s->away, (long long)g_iters, (long long)s->yields);
}

static void bench_main(void *arg) {
  (void)arg;
  if (tt_procs() < 2)
    bench_fail(NAME, "needs TT_PROCS >= 2 (have %d)", tt_procs());
  g_ping = tt_chan_make(sizeof(int64_t), 1);
  g_pong = tt_chan_make(sizeof(int64_t), 1);
  tt_wg *wg = tt_wg_make();
  if (!g_ping || !g_pong || !wg)
    bench_fail(NAME, "out of memory");
  for (int i = 0; i < 2; i++)
    atomic_store(&g_side[i].worker, -1);
  /* The ponger first: it parks in tt_sleep at once, then the pinger starts
   * spinning on this worker. */
  int64_t id = tt_wg_go(wg, ponger, NULL);
  if (id > 0)
    id = tt_wg_go(wg, pinger, NULL);
  if (id <= 0)
    bench_fail(NAME, "tt_wg_go: %s", tt_strerror((int)id));
  int rc = tt_wg_wait(wg);
  if (rc < 0)
    bench_fail(NAME, "tt_wg_wait: %s", tt_strerror(rc));
  tt_wg_free(wg);
  tt_chan_unref(g_ping);
  tt_chan_unref(g_pong);
  print_side("pinger", &g_side[0]);
  print_side("ponger", &g_side[1]);
  int apart = g_side[0].seen && g_side[1].seen && !(g_side[0].seen & g_side[1].seen);
  fprintf(stderr, "%s: %s\n", NAME,
          apart ? "the two sides never shared a worker"
                : "WARNING: the two sides shared a worker at some point");
  g_ns_per_op = (double)(g_t1 - g_t0) / (double)g_iters;
  bench_result(NAME, g_ns_per_op, "ns/op");
}

int main(int argc, char **argv) {
  g_iters = bench_arg(argc, argv, 1, 1000000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ns_per_op <= 0)
    bench_fail(NAME, "the main task did not finish");
  return 0;
}
