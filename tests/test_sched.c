/*
 * test_sched: worker count configuration, migration between workers, work
 * stealing under imbalance, a single worker, and yield fairness.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "harness.h"

#include <sched.h>

#define MAXW 64

/* ---- tt_procs and TT_PROCS ------------------------------------------------ */

static atomic_int g_max_worker_seen;
static atomic_long g_bad_worker;
static int g_expect_procs;

static void note_worker_task(void *arg) {
  (void)arg;
  int w = tt_worker_id();
  if (w < 0 || w >= g_expect_procs)
    atomic_fetch_add(&g_bad_worker, 1);
  int m = atomic_load(&g_max_worker_seen);
  while (w > m && !atomic_compare_exchange_weak(&g_max_worker_seen, &m, w)) {
  }
  tt_test_spin_ns(TT_US(200));
}

/* With the runtime started, run a few tasks and check every worker id they
 * see is in [0, procs). Called from the main thread. */
static void check_worker_ids_in_range(int procs) {
  g_expect_procs = procs;
  atomic_store(&g_bad_worker, 0);
  atomic_store(&g_max_worker_seen, -1);
  tt_wg *wg = tt_wg_make();
  for (int i = 0; i < 200; i++)
    CHECK(tt_wg_go(wg, note_worker_task, NULL) > 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK); /* from a plain thread */
  tt_wg_free(wg);
  CHECK_EQ(atomic_load(&g_bad_worker), 0);
  CHECK(atomic_load(&g_max_worker_seen) >= 0);
  CHECK(atomic_load(&g_max_worker_seen) < procs);
}

static int online_cpus_ok(int n) {
  long a = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  CPU_ZERO(&set);
  int b = -1;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    b = CPU_COUNT(&set);
  return n >= 1 && (n == a || n == b);
}

static void test_procs_config(void) {
  unsetenv("TT_PROCS");
  CHECK_EQ(tt_procs(), 0);

  tt_config c3 = {3, 0};
  CHECK_EQ(tt_init(&c3), TT_OK);
  CHECK_EQ(tt_procs(), 3);
  check_worker_ids_in_range(3);
  TEST_SHUTDOWN();
  CHECK_EQ(tt_procs(), 0);

  /* default: online CPUs */
  CHECK_EQ(tt_init(NULL), TT_OK);
  int n = tt_procs();
  CHECK_MSG(online_cpus_ok(n), "tt_procs()=%d, online CPUs %ld", n, sysconf(_SC_NPROCESSORS_ONLN));
  TEST_SHUTDOWN();

  /* TT_PROCS honoured with a NULL config and with procs = 0 */
  CHECK_EQ(setenv("TT_PROCS", "3", 1), 0);
  CHECK_EQ(tt_init(NULL), TT_OK);
  CHECK_EQ(tt_procs(), 3);
  check_worker_ids_in_range(3);
  TEST_SHUTDOWN();

  tt_config c0 = {0, 0};
  CHECK_EQ(setenv("TT_PROCS", "5", 1), 0);
  CHECK_EQ(tt_init(&c0), TT_OK);
  CHECK_EQ(tt_procs(), 5);
  check_worker_ids_in_range(5);
  TEST_SHUTDOWN();

  /* an explicit procs wins over the environment */
  tt_config c2 = {2, 0};
  CHECK_EQ(tt_init(&c2), TT_OK);
  CHECK_EQ(tt_procs(), 2);
  TEST_SHUTDOWN();
  CHECK_EQ(unsetenv("TT_PROCS"), 0);
  CHECK_EQ(tt_procs(), 0);
}

/* ---- migration ---------------------------------------------------------------- */

static atomic_int g_stop;
static atomic_uint g_wander_mask;
static atomic_long g_wander_bad, g_wander_iters;

static void busy_yielder(void *arg) {
  (void)arg;
  while (!atomic_load(&g_stop)) {
    tt_test_spin_ns(TT_US(20));
    tt_yield();
  }
}

static void wanderer(void *arg) {
  (void)arg;
  unsigned mask = 0;
  long bad = 0, i;
  int64_t end = tt_test_mono_ns() + (TT_TEST_SANITIZED ? TT_MS(20000) : TT_MS(5000));
  for (i = 0;; i++) {
    int w = tt_worker_id();
    if (w < 0 || w >= 2)
      bad++;
    else
      mask |= 1u << w;
    if (mask == 3u && i >= 100)
      break;
    if (tt_test_mono_ns() > end)
      break;
    if (i & 1)
      tt_sleep(TT_US(100));
    else
      tt_yield();
  }
  atomic_store(&g_wander_mask, mask);
  atomic_store(&g_wander_bad, bad);
  atomic_store(&g_wander_iters, i);
}

static void migration_main(void *arg) {
  (void)arg;
  CHECK_EQ(tt_procs(), 2);
  unsigned mask = 0;
  int attempt;
  for (attempt = 0; attempt < 3 && mask != 3u; attempt++) {
    atomic_store(&g_stop, 0);
    tt_wg *busy = tt_wg_make(), *w = tt_wg_make();
    for (int i = 0; i < 4; i++)
      CHECK(tt_wg_go(busy, busy_yielder, NULL) > 0);
    CHECK(tt_wg_go(w, wanderer, NULL) > 0);
    CHECK_EQ(tt_wg_wait(w), TT_OK);
    atomic_store(&g_stop, 1);
    CHECK_EQ(tt_wg_wait(busy), TT_OK);
    tt_wg_free(busy);
    tt_wg_free(w);
    mask = atomic_load(&g_wander_mask);
    CHECK_EQ(atomic_load(&g_wander_bad), 0);
  }
  CHECK_MSG(mask == 3u, "task stayed on worker mask 0x%x after %d attempts (%ld iterations)", mask,
            attempt, atomic_load(&g_wander_iters));
  NOTE("migration observed after %d attempt(s), %ld iterations", attempt,
       atomic_load(&g_wander_iters));
}

/* ---- stealing under imbalance -------------------------------------------------- */

static atomic_long g_ran_on[MAXW];
static atomic_long g_cpu_bad;
static tt_wg *g_cpu_wg;
static atomic_int g_spawner_worker;

static void cpu_task(void *arg) {
  (void)arg;
  int w = tt_worker_id();
  tt_test_spin_ns(TT_US(300)); /* CPU-bound, no scheduling point */
  if (w >= 0 && w < MAXW)
    atomic_fetch_add(&g_ran_on[w], 1);
  else
    atomic_fetch_add(&g_cpu_bad, 1);
}

static void imbalanced_spawner(void *arg) {
  long n = (long)(intptr_t)arg;
  atomic_store(&g_spawner_worker, tt_worker_id());
  /* all spawned from one task without a scheduling point: they land on
   * this worker; the other worker has to steal */
  for (long i = 0; i < n; i++)
    if (tt_wg_go(g_cpu_wg, cpu_task, NULL) <= 0)
      atomic_fetch_add(&g_cpu_bad, 1);
}

static void stealing_main(void *arg) {
  (void)arg;
  long n = 1000;
  int attempt;
  int ok = 0;
  for (attempt = 0; attempt < 5 && !ok; attempt++) {
    for (int i = 0; i < MAXW; i++)
      atomic_store(&g_ran_on[i], 0);
    g_cpu_wg = tt_wg_make();
    tt_wg *sp = tt_wg_make();
    CHECK(tt_wg_go(sp, imbalanced_spawner, (void *)(intptr_t)n) > 0);
    CHECK_EQ(tt_wg_wait(sp), TT_OK);
    CHECK_EQ(tt_wg_wait(g_cpu_wg), TT_OK);
    long total = 0;
    for (int i = 0; i < MAXW; i++)
      total += atomic_load(&g_ran_on[i]);
    CHECK_EQ(total, n);
    CHECK_EQ(atomic_load(&g_cpu_bad), 0);
    ok = atomic_load(&g_ran_on[0]) > 0 && atomic_load(&g_ran_on[1]) > 0;
    NOTE("stealing attempt %d: spawner on worker %d, worker0 ran %ld, worker1 ran %ld", attempt,
         atomic_load(&g_spawner_worker), atomic_load(&g_ran_on[0]), atomic_load(&g_ran_on[1]));
    tt_wg_free(sp);
    tt_wg_free(g_cpu_wg);
  }
  CHECK_MSG(ok, "CPU-bound tasks spawned on one worker never ran on the other");
}

/* ---- one worker --------------------------------------------------------------- */

static atomic_long g_one_sum, g_one_bad;

static void one_worker_task(void *arg) {
  long v = (long)(intptr_t)arg;
  for (int i = 0; i < 5; i++) {
    if (tt_worker_id() != 0)
      atomic_fetch_add(&g_one_bad, 1);
    tt_yield();
  }
  tt_sleep(TT_MS(1));
  if (tt_worker_id() != 0)
    atomic_fetch_add(&g_one_bad, 1);
  atomic_fetch_add(&g_one_sum, v);
}

static void one_worker_main(void *arg) {
  (void)arg;
  CHECK_EQ(tt_procs(), 1);
  CHECK_EQ(tt_worker_id(), 0);
  tt_wg *wg = tt_wg_make();
  long n = tt_test_scale_min(2000, 200), expect = 0;
  for (long i = 1; i <= n; i++) {
    CHECK(tt_wg_go(wg, one_worker_task, (void *)(intptr_t)i) > 0);
    expect += i;
  }
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(atomic_load(&g_one_sum), expect);
  CHECK_EQ(atomic_load(&g_one_bad), 0);
  CHECK_EQ(tt_worker_id(), 0);
  tt_wg_free(wg);
}

/* ---- yield fairness ----------------------------------------------------------- */

#define FAIR_K 8
#define FAIR_BOUND 16
static atomic_long g_fair_cnt[FAIR_K];
static atomic_long g_fair_max_spread;
static long g_fair_iters;

static void fair_task(void *arg) {
  int k = (int)(intptr_t)arg;
  long worst = 0;
  for (long i = 0; i < g_fair_iters; i++) {
    atomic_store(&g_fair_cnt[k], i + 1);
    long mn = g_fair_iters, mx = 0;
    for (int j = 0; j < FAIR_K; j++) {
      long c = atomic_load(&g_fair_cnt[j]);
      if (c < mn)
        mn = c;
      if (c > mx)
        mx = c;
    }
    if (mx - mn > worst)
      worst = mx - mn;
    tt_yield();
  }
  long m = atomic_load(&g_fair_max_spread);
  while (worst > m && !atomic_compare_exchange_weak(&g_fair_max_spread, &m, worst)) {
  }
}

static void fairness_main(void *arg) {
  (void)arg;
  g_fair_iters = tt_test_scale_min(20000, 2000);
  tt_wg *wg = tt_wg_make();
  /* spawn all of them before any runs (one worker, no scheduling point) */
  for (int k = 0; k < FAIR_K; k++)
    CHECK(tt_wg_go(wg, fair_task, (void *)(intptr_t)k) > 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  for (int k = 0; k < FAIR_K; k++)
    CHECK_EQ(atomic_load(&g_fair_cnt[k]), g_fair_iters);
  long spread = atomic_load(&g_fair_max_spread);
  CHECK_MSG(spread <= FAIR_BOUND, "counters of %d yielding tasks drifted apart by %ld", FAIR_K,
            spread);
  NOTE("yield fairness: max spread %ld over %ld iterations", spread, g_fair_iters);
  tt_wg_free(wg);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(240);
  test_procs_config();
  RUN_MAIN(2, migration_main, NULL);
  RUN_MAIN(2, stealing_main, NULL);
  RUN_MAIN(1, one_worker_main, NULL);
  RUN_MAIN(1, fairness_main, NULL);
  CHECK_EQ(tt_num_tasks(), 0);
  return TEST_REPORT();
}
