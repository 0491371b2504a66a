/*
 * dump: the time to write a dump of 100,000 parked tasks, in one format:
 * debug2 (Go's debug=2 text), debug1 (Go's counted text), pprof (gzipped
 * protobuf) or json. The tasks wait from three spawn sites (a receive on
 * a channel nobody sends on, a send on another channel nobody receives
 * from, an empty select), so the stacks repeat as they do in a real leak
 * and none pairs off with another: all of them are there when the dump is
 * timed, which is checked. The dump goes to /dev/null; the first dump
 * (which fills the symbol cache) is not timed, then the median of 5 is
 * reported.
 *
 * The stall: a task spinning on another worker notes the longest gap
 * between two turns of its loop during the five timed dumps, reported
 * first as dump_<format>_stall (ms): what a dump costs a running task.
 *
 * Go twin: bench/go/dump.go (runtime/pprof's goroutine profile with
 * debug=2, 1 and 0; Go has no JSON).
 *
 * usage: bench_dump debug2|debug1|pprof|json [tasks]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

static int64_t g_tasks;
static tt_dump_format g_format;
static const char *g_name;
static tt_chan *g_no_sender, *g_no_receiver;
static tt_wg *g_parked;
static atomic_int g_spin_stop, g_spinning, g_measuring;
static atomic_llong g_worst_gap;

static void wait_a(void *arg) {
  (void)arg;
  int v;
  tt_wg_done(g_parked);
  tt_chan_recv(g_no_sender, &v);
}

static void wait_b(void *arg) {
  (void)arg;
  int v = 0;
  tt_wg_done(g_parked);
  tt_chan_send(g_no_receiver, &v);
}

/* Runs on another worker during the dumps, noting its longest pause. */
static void spinner(void *arg) {
  (void)arg;
  atomic_store(&g_spinning, 1);
  int64_t last = tt_now();
  while (!atomic_load_explicit(&g_spin_stop, memory_order_relaxed)) {
    int64_t t = tt_now();
    if (atomic_load_explicit(&g_measuring, memory_order_relaxed) &&
        t - last > atomic_load_explicit(&g_worst_gap, memory_order_relaxed))
      atomic_store_explicit(&g_worst_gap, t - last, memory_order_relaxed);
    last = t;
  }
}

/* From a plain thread the spinner starts on an idle worker, not behind us. */
static void *spawn_spinner(void *arg) {
  *(int64_t *)arg = tt_go(spinner, NULL);
  return NULL;
}

static void wait_c(void *arg) {
  (void)arg;
  tt_wg_done(g_parked);
  tt_select(NULL, 0, 0, TT_NO_DEADLINE); /* forever: tt_shutdown frees it */
}

static void bench_main(void *arg) {
  (void)arg;
  g_no_sender = tt_chan_make(sizeof(int), 0);
  g_no_receiver = tt_chan_make(sizeof(int), 0);
  g_parked = tt_wg_make();
  tt_wg_add(g_parked, g_tasks);
  for (int64_t i = 0; i < g_tasks; i++) {
    int64_t id = i % 3 == 0   ? tt_go(wait_a, NULL)
                 : i % 3 == 1 ? tt_go(wait_b, NULL)
                              : tt_go(wait_c, NULL);
    if (id <= 0)
      bench_fail(g_name, "tt_go: %s", tt_strerror((int)id));
  }
  tt_wg_wait(g_parked);
  tt_sleep(50 * 1000 * 1000); /* let the last ones park */
  int64_t spin_id = 0;
  if (tt_procs() > 1) {
    pthread_t th;
    if (pthread_create(&th, NULL, spawn_spinner, &spin_id) != 0)
      bench_fail(g_name, "pthread_create");
    pthread_join(th, NULL);
    while (!atomic_load(&g_spinning))
      tt_sleep(1000 * 1000);
  }
  /* Every task is there: the parked ones, this one, the spinner. */
  int64_t live = tt_num_tasks();
  if (live != g_tasks + 1 + (spin_id > 0))
    bench_fail(g_name, "%lld tasks live, not %lld", (long long)live,
               (long long)(g_tasks + 1 + (spin_id > 0)));
  FILE *out = fopen("/dev/null", "w");
  if (!out)
    bench_fail(g_name, "cannot open /dev/null");
  int rc = tt_dump_as(out, g_format);
  if (rc < 0)
    bench_fail(g_name, "tt_dump_as: %s", tt_strerror(rc));
  int64_t times[5];
  atomic_store(&g_measuring, 1);
  for (int r = 0; r < 5; r++) {
    int64_t t0 = tt_now();
    tt_dump_as(out, g_format);
    times[r] = tt_now() - t0;
  }
  atomic_store(&g_measuring, 0);
  atomic_store(&g_spin_stop, 1);
  fclose(out);
  qsort(times, 5, sizeof times[0], bench_cmp_i64);
  if (spin_id > 0) {
    char stall[64];
    snprintf(stall, sizeof stall, "%s_stall", g_name);
    bench_result(stall, (double)atomic_load(&g_worst_gap) / 1e6, "ms");
  }
  bench_result(g_name, (double)times[2] / 1e6, "ms");
  /* the tasks stay parked: tt_shutdown frees them */
}

int main(int argc, char **argv) {
  const char *which = argc > 1 ? argv[1] : "debug2";
  static const struct {
    const char *arg, *name;
    tt_dump_format format;
  } formats[] = {{"debug2", "dump_debug2", TT_DUMP_GO_DEBUG2},
                 {"debug1", "dump_debug1", TT_DUMP_GO_DEBUG1},
                 {"pprof", "dump_pprof", TT_DUMP_PPROF},
                 {"json", "dump_json", TT_DUMP_JSON}};
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
    if (strcmp(which, formats[i].arg) == 0) {
      g_name = formats[i].name;
      g_format = formats[i].format;
    }
  if (!g_name)
    bench_fail("dump", "unknown format %s (debug2, debug1, pprof, json)", which);
  g_tasks = bench_arg(argc, argv, 2, 100000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(g_name, "tt_main: %s", tt_strerror(rc));
  return 0;
}
