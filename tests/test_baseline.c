/*
 * test_baseline: the seed's LeakDetector by spawn site. A baseline, then
 * growth at one site past the tolerance and a little at another: the check
 * names the first only, with its before/after counts and the stack of its
 * newest task; within tolerance it says so and returns 0. The monitor,
 * given the baseline, reports the growth as it grows and a stable excess
 * once. Bad arguments get TT_EINVAL.
 */
#include "harness.h"

#include <stdbool.h>

static tt_chan *g_gate; /* closed at the end: every parked task returns */

/* Each checks its receive's result, so that it is no tail call and keeps
 * its frame on the stack the report shows. */
static void parked_a(void *arg) {
  (void)arg;
  CHECK_EQ(tt_chan_recv(g_gate, NULL), TT_ECLOSED);
}

static void parked_b(void *arg) {
  (void)arg;
  CHECK_EQ(tt_chan_recv(g_gate, NULL), TT_ECLOSED);
}

static int64_t spawn_a(int n) {
  int64_t last = 0;
  for (int i = 0; i < n; i++)
    last = tt_go(parked_a, NULL);
  return last;
}

static void settle(void) {
  for (int i = 0; i < 2000; i++) {
    tt_task_counts c;
    tt_count_tasks(&c);
    if (c.runnable == 0 && c.running <= 1)
      return;
    tt_sleep(TT_MS(1));
  }
}

static char *check_text(const tt_baseline *b, int64_t tol, int *rc) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  *rc = tt_baseline_check(b, tol, f);
  fclose(f);
  return buf;
}

static atomic_int g_events;
static _Atomic int64_t g_last_growth;

static void on_event(const tt_monitor_event *ev, void *arg) {
  (void)arg;
  if (ev->kind != TT_MONITOR_BASELINE)
    return;
  for (int i = 0; i < ev->nsites; i++)
    if (strcmp(ev->sites[i].entry, "parked_a") == 0)
      atomic_store(&g_last_growth, ev->site_growth[i]);
  atomic_fetch_add(&g_events, 1);
}

static bool await_events(int want) {
  for (int i = 0; i < 3000 && atomic_load(&g_events) < want; i++)
    tt_sleep(TT_MS(1));
  return atomic_load(&g_events) >= want;
}

static void body(void *arg) {
  (void)arg;
  g_gate = tt_chan_make(0, 0);
  spawn_a(5);
  settle();
  tt_baseline *b = tt_baseline_take();
  CHECK(b != NULL);
  CHECK(tt_baseline_total(b) >= 6); /* the five, and this task */

  int64_t newest = spawn_a(30);
  for (int i = 0; i < 3; i++)
    tt_go(parked_b, NULL);
  settle();
  int rc;
  char *t = check_text(b, 10, &rc);
  CHECK_EQ(rc, 1);
  CHECK(strstr(t, "1 spawn site grew by more than 10") != NULL);
  CHECK(strstr(t, "test_baseline.c:") && strstr(t, "parked_a (spawned in spawn_a): 5 -> 35 (+30)"));
  CHECK(strstr(t, "[chan receive]") != NULL);
  char want[64];
  snprintf(want, sizeof want, "newest task %lld", (long long)newest);
  CHECK(strstr(t, want) != NULL);
  CHECK(strstr(t, "      parked_a\n") != NULL); /* its stack */
  CHECK(strstr(t, "parked_b") == NULL);
  if (tt_test_failures())
    fputs(t, stderr);
  free(t);

  t = check_text(b, 30, &rc);
  CHECK_EQ(rc, 0);
  CHECK(strstr(t, "no spawn site grew by more than 30") != NULL);
  free(t);
  CHECK_EQ(tt_baseline_check(b, 10, NULL), 1);
  CHECK_EQ(tt_baseline_check(b, -1, NULL), TT_EINVAL);
  CHECK_EQ(tt_baseline_check(NULL, 0, NULL), TT_EINVAL);
  CHECK_EQ(tt_baseline_total(NULL), TT_EINVAL);

  /* The monitor, given the baseline: once as the excess appears, again
   * only when it grows. */
  char *log = NULL;
  size_t loglen = 0;
  FILE *lf = open_memstream(&log, &loglen);
  tt_monitor_opts mo = {.interval = TT_MS(20),
                        .stall = -1,
                        .callback = on_event,
                        .log = lf,
                        .baseline = b,
                        .baseline_tolerance = 10};
  CHECK_EQ(tt_monitor_start(&mo), 0);
  CHECK(await_events(1));
  CHECK_EQ(atomic_load(&g_last_growth), 30);
  tt_sleep(TT_MS(200)); /* ten samples with nothing new: no report */
  CHECK_EQ(atomic_load(&g_events), 1);
  spawn_a(20);
  /* A sample may land in the middle of the spawns: each later one that
   * sees more reports again, until all 50 are seen. */
  CHECK(await_events(2));
  for (int i = 0; i < 3000 && atomic_load(&g_last_growth) < 50; i++)
    tt_sleep(TT_MS(1));
  CHECK_EQ(atomic_load(&g_last_growth), 50);
  CHECK_EQ(tt_monitor_stop(), 0);
  fclose(lf);
  CHECK(strstr(log, "tether baseline:") && strstr(log, "(+50)"));
  free(log);
  CHECK_EQ(tt_monitor_start(&(tt_monitor_opts){.baseline_tolerance = -1}), TT_EINVAL);

  tt_baseline_free(b);
  tt_baseline_free(NULL);
  tt_chan_close(g_gate);
  settle();
  tt_chan_unref(g_gate);
}

int main(void) {
  tt_test_watchdog(120);
  CHECK(tt_baseline_take() == NULL); /* not running */
  RUN_MAIN(0, body, NULL);
  return TEST_REPORT();
}
