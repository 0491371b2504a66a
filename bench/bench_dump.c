/*
 * dump: the time to write a dump of 100,000 parked tasks, in one format:
 * debug2 (Go's debug=2 text), debug1 (Go's counted text), pprof (gzipped
 * protobuf) or json. The tasks wait on one channel from a handful of spawn
 * sites, so the stacks repeat as they do in a real leak. The dump goes to
 * /dev/null; the first dump (which fills the symbol cache) is not timed,
 * then the median of 5 is reported. Go twin: bench/go/dump.go
 * (runtime/pprof's goroutine profile with debug=2, 1 and 0; Go has no JSON).
 *
 * usage: bench_dump debug2|debug1|pprof|json [tasks]
 */
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

static int64_t g_tasks;
static tt_dump_format g_format;
static const char *g_name;
static tt_chan *g_never;
static tt_wg *g_parked;

static void wait_a(void *arg) {
  (void)arg;
  int v;
  tt_wg_done(g_parked);
  tt_chan_recv(g_never, &v);
}

static void wait_b(void *arg) {
  (void)arg;
  int v = 0;
  tt_wg_done(g_parked);
  tt_chan_send(g_never, &v);
}

static void wait_c(void *arg) {
  (void)arg;
  tt_wg_done(g_parked);
  tt_select(NULL, 0, 0, TT_NO_DEADLINE); /* forever: tt_shutdown frees it */
}

static void bench_main(void *arg) {
  (void)arg;
  g_never = tt_chan_make(sizeof(int), 0);
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
  FILE *out = fopen("/dev/null", "w");
  if (!out)
    bench_fail(g_name, "cannot open /dev/null");
  int rc = tt_dump_as(out, g_format);
  if (rc < 0)
    bench_fail(g_name, "tt_dump_as: %s", tt_strerror(rc));
  int64_t times[5];
  for (int r = 0; r < 5; r++) {
    int64_t t0 = tt_now();
    tt_dump_as(out, g_format);
    times[r] = tt_now() - t0;
  }
  fclose(out);
  qsort(times, 5, sizeof times[0], bench_cmp_i64);
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
