/*
 * test_sleep: tt_sleep ordering and accuracy, sleep(0)/negative, many
 * concurrent sleepers, timers firing while workers are busy, tt_now().
 */
#include "harness.h"

#include <pthread.h>

/* generous upper slack for a sleep's wake-up latency */
#define SLACK (TT_TEST_SANITIZED ? TT_MS(1000) : TT_MS(200))

/* ---- ordering ------------------------------------------------------------- */

#define NORD 5
static atomic_int g_order_pos;
static int g_order[NORD];
static int64_t g_order_took[NORD];

typedef struct {
  int idx;
  int64_t ns;
} ord_arg;

static void order_sleeper(void *arg) {
  ord_arg *a = arg;
  int64_t t0 = tt_test_mono_ns();
  CHECK_EQ(tt_sleep(a->ns), TT_OK);
  int64_t took = tt_test_mono_ns() - t0;
  int pos = atomic_fetch_add(&g_order_pos, 1);
  if (pos < NORD) {
    g_order[pos] = a->idx;
    g_order_took[a->idx] = took;
  }
}

/* Spawn sleepers of 50,40,30,20,10 ms (times `unit_ms`/10) in that order;
 * returns 1 if they woke in ascending order of their sleep. */
static int order_attempt(int64_t unit_ms) {
  ord_arg args[NORD];
  tt_wg *wg = tt_wg_make();
  atomic_store(&g_order_pos, 0);
  for (int i = 0; i < NORD; i++) {
    args[i].idx = i;
    args[i].ns = TT_MS((NORD - i) * unit_ms); /* 50,40,30,20,10 */
    CHECK(tt_wg_go(wg, order_sleeper, &args[i]) > 0);
  }
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  tt_wg_free(wg);
  CHECK_EQ(atomic_load(&g_order_pos), NORD);
  int ok = 1;
  for (int p = 0; p < NORD; p++)
    if (g_order[p] != NORD - 1 - p)
      ok = 0; /* the 10 ms one (idx 4) first */
  for (int i = 0; i < NORD; i++)
    CHECK_MSG(g_order_took[i] >= args[i].ns, "sleeper %d: slept %" PRId64 " ns < %" PRId64, i,
              g_order_took[i], args[i].ns);
  if (!ok)
    NOTE("wake order with %" PRId64 " ms steps: %d %d %d %d %d (want 4 3 2 1 0)", unit_ms,
         g_order[0], g_order[1], g_order[2], g_order[3], g_order[4]);
  return ok;
}

static void test_order(void) {
  /* 10 ms steps as specified; on a mis-order retry with wider steps so that a
   * loaded machine does not fail the test, a broken timer order still does */
  int ok = order_attempt(10);
  if (!ok)
    ok = order_attempt(30);
  if (!ok)
    ok = order_attempt(100);
  CHECK_MSG(ok, "sleepers did not wake in ascending order of their sleep");
}

/* ---- accuracy ------------------------------------------------------------------ */

static void test_accuracy(void) {
  for (int i = 0; i < 5; i++) {
    int64_t t0 = tt_now(), m0 = tt_test_mono_ns();
    CHECK_EQ(tt_sleep(TT_MS(20)), TT_OK);
    int64_t dt = tt_now() - t0, dm = tt_test_mono_ns() - m0;
    CHECK_MSG(dt >= TT_MS(20), "tt_now() says sleep(20ms) took %" PRId64 " ns", dt);
    CHECK_MSG(dm >= TT_MS(20), "CLOCK_MONOTONIC says sleep(20ms) took %" PRId64 " ns", dm);
    CHECK_MSG(dm < TT_MS(20) + SLACK, "sleep(20ms) took %" PRId64 " ns", dm);
  }
  /* a 1 ns sleep parks and comes back */
  int64_t m0 = tt_test_mono_ns();
  CHECK_EQ(tt_sleep(1), TT_OK);
  CHECK(tt_test_mono_ns() - m0 < SLACK);
}

/* ---- sleep(0) and negative yield -------------------------------------------- */

static atomic_long g_partner_progress;
static atomic_int g_partner_stop;

static void partner_task(void *arg) {
  (void)arg;
  while (!atomic_load(&g_partner_stop)) {
    atomic_fetch_add(&g_partner_progress, 1);
    tt_yield();
  }
}

/* On one worker: tt_sleep(ns) for ns <= 0 must let the partner run. */
static void yield_like_main(void *arg) {
  (void)arg;
  CHECK_EQ(tt_procs(), 1);
  int64_t values[] = {0, -1, -1000000000LL, INT64_MIN};
  for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
    atomic_store(&g_partner_stop, 0);
    atomic_store(&g_partner_progress, 0);
    tt_wg *wg = tt_wg_make();
    CHECK(tt_wg_go(wg, partner_task, NULL) > 0);
    int64_t m0 = tt_test_mono_ns();
    long calls = 0;
    while (atomic_load(&g_partner_progress) < 10 && calls < 1000) {
      CHECK_EQ(tt_sleep(values[v]), TT_OK);
      calls++;
    }
    int64_t took = tt_test_mono_ns() - m0;
    CHECK_MSG(atomic_load(&g_partner_progress) >= 10,
              "tt_sleep(%" PRId64 ") did not let another task run (%ld calls)", values[v], calls);
    CHECK_MSG(took < SLACK + TT_MS(500), "tt_sleep(%" PRId64 ") x%ld took %" PRId64 " ns",
              values[v], calls, took);
    atomic_store(&g_partner_stop, 1);
    CHECK_EQ(tt_wg_wait(wg), TT_OK);
    tt_wg_free(wg);
  }
  /* many sleep(0) calls alone are quick */
  int64_t m0 = tt_test_mono_ns();
  for (int i = 0; i < 10000; i++)
    tt_sleep(0);
  CHECK(tt_test_mono_ns() - m0 < TT_MS(2000));
}

/* ---- many sleepers ------------------------------------------------------------- */

static atomic_long g_woke, g_early;

static void many_sleeper(void *arg) {
  int64_t ns = (int64_t)(intptr_t)arg;
  int64_t t0 = tt_now();
  if (tt_sleep(ns) != TT_OK)
    atomic_fetch_add(&g_early, 1);
  if (tt_now() - t0 < ns)
    atomic_fetch_add(&g_early, 1);
  atomic_fetch_add(&g_woke, 1);
}

static void test_many_sleepers(void) {
  long n = tt_test_scale_min(10000, 2000);
  tt_wg *wg = tt_wg_make();
  uint32_t x = 12345;
  int64_t t0 = tt_test_mono_ns();
  for (long i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    int64_t ns = TT_MS(1 + (x >> 8) % 50); /* 1..50 ms */
    CHECK_MSG(tt_wg_go(wg, many_sleeper, (void *)(intptr_t)ns) > 0, "spawn %ld", i);
  }
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(atomic_load(&g_woke), n);
  CHECK_EQ(atomic_load(&g_early), 0);
  NOTE("%ld sleepers woke in %.3f s", n, (tt_test_mono_ns() - t0) / 1e9);
  tt_wg_free(wg);
}

/* ---- timers fire while the workers are busy ------------------------------------- */

static atomic_int g_busy_stop;
static void busy_task(void *arg) {
  (void)arg;
  while (!atomic_load(&g_busy_stop)) {
    tt_test_spin_ns(TT_US(10));
    tt_yield();
  }
}

static void busy_workers_main(void *arg) {
  (void)arg;
  atomic_store(&g_busy_stop, 0);
  tt_wg *wg = tt_wg_make();
  for (int i = 0; i < 2 * tt_procs() + 2; i++)
    CHECK(tt_wg_go(wg, busy_task, NULL) > 0);
  for (int i = 0; i < 3; i++) {
    int64_t m0 = tt_test_mono_ns();
    CHECK_EQ(tt_sleep(TT_MS(20)), TT_OK);
    int64_t dm = tt_test_mono_ns() - m0;
    CHECK(dm >= TT_MS(20));
    CHECK_MSG(dm < TT_MS(20) + SLACK, "sleep(20ms) among busy tasks took %" PRId64 " ns", dm);
  }
  atomic_store(&g_busy_stop, 1);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  tt_wg_free(wg);
}

/* ---- tt_now --------------------------------------------------------------------- */

static atomic_long g_now_bad;
static void now_task(void *arg) {
  (void)arg;
  int64_t prev = tt_now();
  for (int i = 0; i < 20000; i++) {
    int64_t t = tt_now();
    if (t < prev)
      atomic_fetch_add(&g_now_bad, 1);
    prev = t;
    if (i % 1000 == 0)
      tt_yield(); /* may move to another worker */
  }
}

static void test_now_in_tasks(void) {
  tt_wg *wg = tt_wg_make();
  for (int i = 0; i < 8; i++)
    CHECK(tt_wg_go(wg, now_task, NULL) > 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(atomic_load(&g_now_bad), 0);
  tt_wg_free(wg);
}

static void test_now_plain(void) {
  int64_t prev = tt_now();
  CHECK(prev > 0);
  long bad = 0;
  for (int i = 0; i < 100000; i++) {
    int64_t t = tt_now();
    if (t < prev)
      bad++;
    prev = t;
  }
  CHECK_EQ(bad, 0);
  int64_t a = tt_now();
  tt_test_sleep_ns(TT_MS(30));
  int64_t b = tt_now();
  CHECK_MSG(b - a >= TT_MS(30), "tt_now advanced %" PRId64 " ns over a 30 ms nanosleep", b - a);
  CHECK_MSG(b - a < TT_MS(30) + TT_MS(5000), "tt_now advanced %" PRId64 " ns", b - a);
}

static void sleep_main(void *arg) {
  (void)arg;
  test_accuracy();
  test_order();
  test_many_sleepers();
  test_now_in_tasks();
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(180);
  test_now_plain();
  RUN_MAIN(2, sleep_main, NULL);
  RUN_MAIN(1, yield_like_main, NULL);
  RUN_MAIN(2, busy_workers_main, NULL);
  RUN_MAIN(1, busy_workers_main, NULL);
  test_now_plain(); /* after shutdown too */
  return TEST_REPORT();
}
