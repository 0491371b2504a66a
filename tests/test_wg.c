/*
 * test_wg: WaitGroup semantics across workers and plain threads.
 */
#include "harness.h"

#include <pthread.h>

static long g_n; /* 100k, scaled */

/* ---- exact counts with many tasks ---------------------------------------------------- */

static tt_wg *g_wg;
static atomic_long g_count;

static void add_then_done(void *arg) {
  atomic_fetch_add_explicit(&g_count, (long)(intptr_t)arg, memory_order_relaxed);
  if ((long)(intptr_t)arg % 3 == 0)
    tt_yield();
  tt_wg_done(g_wg);
}

static void just_add(void *arg) {
  atomic_fetch_add_explicit(&g_count, (long)(intptr_t)arg, memory_order_relaxed);
  if ((long)(intptr_t)arg % 5 == 0)
    tt_sleep(TT_US(50));
}

/* Several spawner tasks (on different workers) feed one WaitGroup. */
static void sub_spawner(void *arg) {
  long n = (long)(intptr_t)arg;
  for (long i = 1; i <= n; i++) {
    if (tt_wg_add(g_wg, 1) != TT_OK || tt_go(add_then_done, (void *)(intptr_t)i) <= 0)
      atomic_fetch_add(&g_count, 1000000000L); /* poison the sum */
  }
  tt_wg_done(g_wg); /* the add made for this spawner */
}

static void test_exact_counts(void) {
  g_wg = tt_wg_make();
  CHECK(g_wg != NULL);

  /* 1: add(N) up front, N tasks each Done; the sum is complete when Wait returns */
  atomic_store(&g_count, 0);
  long expect = 0;
  CHECK_EQ(tt_wg_add(g_wg, g_n), TT_OK);
  for (long i = 1; i <= g_n; i++) {
    CHECK_MSG(tt_go(add_then_done, (void *)(intptr_t)i) > 0, "spawn %ld", i);
    expect += i;
  }
  CHECK_EQ(tt_wg_wait(g_wg), TT_OK);
  CHECK_EQ(atomic_load(&g_count), expect);

  /* 2: tt_wg_go */
  atomic_store(&g_count, 0);
  for (long i = 1; i <= g_n; i++)
    CHECK_MSG(tt_wg_go(g_wg, just_add, (void *)(intptr_t)i) > 0, "%ld", i);
  CHECK_EQ(tt_wg_wait(g_wg), TT_OK);
  CHECK_EQ(atomic_load(&g_count), expect);

  /* 3: add(1) per task from 4 spawner tasks at once */
  atomic_store(&g_count, 0);
  long per = g_n / 4;
  CHECK_EQ(tt_wg_add(g_wg, 4), TT_OK);
  for (int s = 0; s < 4; s++)
    CHECK(tt_go(sub_spawner, (void *)(intptr_t)per) > 0);
  CHECK_EQ(tt_wg_wait(g_wg), TT_OK);
  CHECK_EQ(atomic_load(&g_count), 4 * (per * (per + 1) / 2));

  /* the WaitGroup is reusable and at zero now */
  CHECK_EQ(tt_wg_add(g_wg, -1), TT_ENEGATIVE);
  CHECK_EQ(tt_wg_free(g_wg), TT_OK);
}

/* ---- counter 0: Wait returns at once ---------------------------------------------------- */

static void test_wait_zero_in_task(void) {
  tt_wg *wg = tt_wg_make();
  int64_t t0 = tt_test_mono_ns();
  for (int i = 0; i < 1000; i++)
    CHECK_EQ(tt_wg_wait(wg) == TT_OK, 1);
  CHECK(tt_test_mono_ns() - t0 < TT_MS(1000));
  /* after going up and back down, too */
  CHECK_EQ(tt_wg_add(wg, 3), TT_OK);
  CHECK_EQ(tt_wg_add(wg, -3), TT_OK);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
}

/* ---- tt_wg_go marks Done when the task returns ------------------------------------------------
 */

static atomic_int g_finished;
static void slow_task(void *arg) {
  (void)arg;
  tt_sleep(TT_MS(50));
  tt_yield();
  atomic_store(&g_finished, 1);
  /* no tt_wg_done here: tt_wg_go owes it */
}

static void test_wg_go_done_at_exit(void) {
  tt_wg *wg = tt_wg_make();
  atomic_store(&g_finished, 0);
  int64_t id = tt_wg_go(wg, slow_task, NULL);
  CHECK(id > 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(atomic_load(&g_finished), 1);
  /* the counter went back to exactly zero */
  CHECK_EQ(tt_wg_add(wg, -1), TT_ENEGATIVE);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
}

/* ---- Wait only returns at zero; multiple waiters
 * ------------------------------------------------- */

static tt_wg *g_gate;
static atomic_int g_gate_passed;
static void gate_waiter(void *arg) {
  (void)arg;
  if (tt_wg_wait(g_gate) == TT_OK)
    atomic_fetch_add(&g_gate_passed, 1);
}

static void *plain_gate_waiter(void *arg) {
  (void)arg;
  if (tt_wg_wait(g_gate) == TT_OK)
    atomic_fetch_add(&g_gate_passed, 1);
  return NULL;
}

static void test_many_waiters(void) {
  g_gate = tt_wg_make();
  tt_wg *joined = tt_wg_make();
  atomic_store(&g_gate_passed, 0);
  CHECK_EQ(tt_wg_add(g_gate, 2), TT_OK);
  for (int i = 0; i < 50; i++)
    CHECK(tt_wg_go(joined, gate_waiter, NULL) > 0);
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    CHECK_EQ(pthread_create(&th[i], NULL, plain_gate_waiter, NULL), 0);
  tt_sleep(TT_MS(30));
  CHECK_EQ(atomic_load(&g_gate_passed), 0);
  CHECK_EQ(tt_wg_done(g_gate), TT_OK); /* 1 left: nobody may pass */
  tt_sleep(TT_MS(30));
  CHECK_EQ(atomic_load(&g_gate_passed), 0);
  CHECK_EQ(tt_wg_done(g_gate), TT_OK); /* 0: everyone passes */
  CHECK_EQ(tt_wg_wait(joined), TT_OK);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  CHECK_EQ(atomic_load(&g_gate_passed), 52);
  CHECK_EQ(tt_wg_free(g_gate), TT_OK);
  CHECK_EQ(tt_wg_free(joined), TT_OK);
}

/* Repeated rounds on one WaitGroup (reuse after reaching zero). */
static void test_reuse(void) {
  tt_wg *wg = tt_wg_make();
  for (int round = 0; round < 50; round++) {
    atomic_store(&g_count, 0);
    for (int i = 0; i < 100; i++)
      CHECK_EQ(tt_wg_go(wg, just_add, (void *)(intptr_t)1) > 0, 1);
    CHECK_EQ(tt_wg_wait(wg), TT_OK);
    CHECK_EQ(atomic_load(&g_count), 100);
  }
  CHECK_EQ(tt_wg_free(wg), TT_OK);
}

/* ---- tt_wg_go_opts: a WaitGroup task with a name and a handed reference -------------------------
 */

static tt_chan *g_handed;
static void drain_handed(void *arg) {
  (void)arg;
  char name[32] = "";
  tt_test_task t;
  if (tt_test_find_task(tt_self(), &t))
    snprintf(name, sizeof name, "%s", t.info.name);
  CHECK_STREQ(name, "drainer");
  int v;
  while (tt_chan_recv(g_handed, &v) == TT_OK)
    atomic_fetch_add(&g_count, v);
}

static void test_wg_go_opts(void) {
  atomic_store(&g_count, 0);
  tt_wg *wg = tt_wg_make();
  g_handed = tt_chan_make(sizeof(int), 4);
  /* the task gets its own reference: ours can go at once */
  CHECK(tt_wg_go_opts(wg, drain_handed, NULL,
                      &(tt_spawn_opts){.name = "drainer", .give_chans = {g_handed}}) > 0);
  for (int i = 1; i <= 10; i++)
    CHECK_EQ(tt_chan_send(g_handed, &i), TT_OK);
  CHECK_EQ(tt_chan_close(g_handed), TT_OK);
  CHECK_EQ(tt_chan_unref(g_handed), TT_OK);
  CHECK_EQ(tt_wg_wait(wg), TT_OK); /* Done came from the task's return */
  CHECK_EQ(atomic_load(&g_count), 55);
  /* a bad option fails the spawn and leaves the counter as it was */
  CHECK_EQ(tt_wg_go_opts(wg, drain_handed, NULL, &(tt_spawn_opts){.stack_size = 1}), TT_EINVAL);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
}

static void wg_main(void *arg) {
  (void)arg;
  test_wg_go_opts();
  test_exact_counts();
  test_wait_zero_in_task();
  test_wg_go_done_at_exit();
  test_many_waiters();
  test_reuse();
}

/* ---- tt_wg_wait from a plain thread ------------------------------------------------------------
 */

static void test_wait_from_plain_thread(void) {
  CHECK_EQ(tt_init(NULL), TT_OK);
  /* counter 0: returns at once on a plain thread */
  tt_wg *wg = tt_wg_make();
  int64_t t0 = tt_test_mono_ns();
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK(tt_test_mono_ns() - t0 < TT_MS(1000));

  atomic_store(&g_count, 0);
  long expect = 0;
  for (long i = 1; i <= g_n; i++) {
    CHECK_MSG(tt_wg_go(wg, just_add, (void *)(intptr_t)i) > 0, "%ld", i);
    expect += i;
  }
  CHECK_EQ(tt_wg_wait(wg), TT_OK); /* blocks this (non-task) thread */
  CHECK_EQ(atomic_load(&g_count), expect);

  /* a plain thread waits on tasks that finish later */
  atomic_store(&g_finished, 0);
  CHECK(tt_wg_go(wg, slow_task, NULL) > 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(atomic_load(&g_finished), 1);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  TEST_SHUTDOWN();
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(180);
  g_n = tt_test_scale_min(100000, 1000);
  RUN_MAIN(0, wg_main, NULL);
  RUN_MAIN(1, wg_main, NULL);
  test_wait_from_plain_thread();
  CHECK_EQ(tt_num_tasks(), 0);
  return TEST_REPORT();
}
