/*
 * test_shutdown: tt_main / tt_shutdown with tasks still alive, restarting
 * the runtime, and spawning from plain threads.
 */
#include "harness.h"

#include <pthread.h>
#include <sys/wait.h>

#define PROMPT TT_MS(2000)

/* ---- tt_main drops unfinished tasks promptly ------------------------------------ */

static atomic_long g_spins, g_sleepers_woke, g_waiters_woke, g_spawned_by_task;
static tt_wg *g_never; /* a WaitGroup that never reaches zero */
static int64_t g_fn_returned_at;

static void spinner(void *arg) {
  (void)arg;
  for (;;) {
    atomic_fetch_add(&g_spins, 1);
    tt_yield();
  }
}

static void long_sleeper(void *arg) {
  (void)arg;
  tt_sleep(TT_MS(3600LL * 1000)); /* 1 h */
  atomic_fetch_add(&g_sleepers_woke, 1);
}

static void never_waiter(void *arg) {
  (void)arg;
  tt_wg_wait(g_never);
  atomic_fetch_add(&g_waiters_woke, 1);
}

static void short_child(void *arg) {
  (void)arg;
  tt_yield();
}

static void endless_spawner(void *arg) {
  (void)arg;
  for (;;) {
    if (tt_go(short_child, NULL) > 0)
      atomic_fetch_add(&g_spawned_by_task, 1);
    tt_yield();
  }
}

static void dropping_main(void *arg) {
  (void)arg;
  for (int i = 0; i < 1000; i++)
    CHECK(tt_go(long_sleeper, NULL) > 0);
  for (int i = 0; i < 100; i++)
    CHECK(tt_go(never_waiter, NULL) > 0);
  for (int i = 0; i < 100; i++)
    CHECK(tt_go(spinner, NULL) > 0);
  for (int i = 0; i < 2; i++)
    CHECK(tt_go(endless_spawner, NULL) > 0);
  /* let them all start */
  tt_sleep(TT_MS(50));
  CHECK(tt_num_tasks() >= 1 + 1000 + 100 + 100 + 2);
  CHECK(atomic_load(&g_spins) > 0);
  g_fn_returned_at = tt_test_mono_ns();
}

static void test_main_drops_tasks(void) {
  g_never = tt_wg_make();
  CHECK_EQ(tt_wg_add(g_never, 1), TT_OK);
  int64_t t0 = tt_test_mono_ns();
  CHECK_EQ(tt_main(dropping_main, NULL), TT_OK);
  int64_t t1 = tt_test_mono_ns();
  CHECK_MSG(t1 - g_fn_returned_at < PROMPT, "tt_main took %" PRId64 " ms after fn returned",
            (t1 - g_fn_returned_at) / 1000000);
  NOTE("tt_main: %.3f s total, %.3f s after fn returned", (t1 - t0) / 1e9,
       (t1 - g_fn_returned_at) / 1e9);
  CHECK_EQ(tt_num_tasks(), 0);
  CHECK_EQ(tt_procs(), 0);
  CHECK_EQ(atomic_load(&g_sleepers_woke), 0);
  CHECK_EQ(atomic_load(&g_waiters_woke), 0);
  /* dropped tasks are never resumed */
  long s1 = atomic_load(&g_spins);
  tt_test_sleep_ns(TT_MS(50));
  CHECK_EQ(atomic_load(&g_spins), s1);
  /* its waiters were dropped with the runtime: nobody waits on it any more */
  CHECK_EQ(tt_wg_free(g_never), TT_OK);
}

/* ---- tt_shutdown from the main thread with tasks alive ----------------------------- */

static void test_shutdown_busy(void) {
  CHECK_EQ(tt_init(NULL), TT_OK);
  g_never = tt_wg_make();
  CHECK_EQ(tt_wg_add(g_never, 1), TT_OK);
  for (int i = 0; i < 500; i++)
    CHECK(tt_go(long_sleeper, NULL) > 0);
  for (int i = 0; i < 50; i++)
    CHECK(tt_go(never_waiter, NULL) > 0);
  for (int i = 0; i < 50; i++)
    CHECK(tt_go(spinner, NULL) > 0);
  tt_test_sleep_ns(TT_MS(50));
  CHECK(tt_num_tasks() >= 600);
  int64_t t0 = tt_test_mono_ns();
  TEST_SHUTDOWN();
  int64_t took = tt_test_mono_ns() - t0;
  CHECK_MSG(took < PROMPT, "tt_shutdown took %" PRId64 " ms", took / 1000000);
  CHECK_EQ(tt_num_tasks(), 0);
  CHECK_EQ(tt_procs(), 0);
  long s1 = atomic_load(&g_spins);
  tt_test_sleep_ns(TT_MS(30));
  CHECK_EQ(atomic_load(&g_spins), s1);
  CHECK_EQ(tt_wg_free(g_never), TT_OK);
}

/* ---- a WaitGroup whose waiting tasks were dropped stays usable ----------------------------- */

static tt_wg *g_survivor;
static atomic_int g_survivor_passed;
static void survivor_waiter(void *arg) {
  (void)arg;
  tt_wg_wait(g_survivor);
  atomic_fetch_add(&g_survivor_passed, 1);
}

static void test_wg_survives_shutdown(void) {
  g_survivor = tt_wg_make();
  CHECK_EQ(tt_wg_add(g_survivor, 1), TT_OK);
  CHECK_EQ(tt_init(NULL), TT_OK);
  for (int i = 0; i < 10; i++)
    CHECK(tt_go(survivor_waiter, NULL) > 0);
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  while (tt_num_tasks() < 10 && tt_test_mono_ns() < end)
    tt_test_sleep_ns(TT_MS(1));
  tt_test_sleep_ns(TT_MS(20)); /* let them park */
  TEST_SHUTDOWN();             /* drops the 10 waiters */
  CHECK_EQ(atomic_load(&g_survivor_passed), 0);

  /* new runtime: reaching zero must not touch the dropped (freed) tasks */
  CHECK_EQ(tt_init(NULL), TT_OK);
  CHECK_EQ(tt_wg_done(g_survivor), TT_OK);
  CHECK_EQ(atomic_load(&g_survivor_passed), 0);
  /* and it works for new waiters */
  CHECK_EQ(tt_wg_add(g_survivor, 1), TT_OK);
  tt_wg *joined = tt_wg_make();
  for (int i = 0; i < 5; i++)
    CHECK(tt_wg_go(joined, survivor_waiter, NULL) > 0);
  tt_test_sleep_ns(TT_MS(20));
  CHECK_EQ(atomic_load(&g_survivor_passed), 0);
  CHECK_EQ(tt_wg_done(g_survivor), TT_OK);
  CHECK_EQ(tt_wg_wait(joined), TT_OK);
  CHECK_EQ(atomic_load(&g_survivor_passed), 5);
  CHECK_EQ(tt_wg_free(joined), TT_OK);
  TEST_SHUTDOWN();
  CHECK_EQ(tt_wg_free(g_survivor), TT_OK);
}

/* ---- restart ------------------------------------------------------------------------ */

static atomic_long g_cycle_sum;
static void add_task(void *arg) {
  tt_yield();
  atomic_fetch_add(&g_cycle_sum, (long)(intptr_t)arg);
}

static void test_restart(void) {
  int64_t prev_max = 0;
  int procs_seq[] = {2, 1, 3, 2};
  for (int cycle = 0; cycle < 4; cycle++) {
    tt_config cfg = {procs_seq[cycle], 0};
    CHECK_EQ(tt_init(&cfg), TT_OK);
    CHECK_EQ(tt_procs(), procs_seq[cycle]);
    tt_wg *wg = tt_wg_make();
    atomic_store(&g_cycle_sum, 0);
    long expect = 0;
    int64_t first = 0, last = 0;
    for (long i = 1; i <= 1000; i++) {
      int64_t id = tt_wg_go(wg, add_task, (void *)(intptr_t)i);
      CHECK(id > 0);
      if (i == 1)
        first = id;
      last = id;
      expect += i;
    }
    CHECK_EQ(tt_wg_wait(wg), TT_OK);
    CHECK_EQ(atomic_load(&g_cycle_sum), expect);
    CHECK_MSG(first > prev_max, "cycle %d: id %" PRId64 " reuses an id <= %" PRId64, cycle, first,
              prev_max);
    prev_max = last;
    CHECK_EQ(tt_wg_free(wg), TT_OK);
    TEST_SHUTDOWN();
    CHECK_EQ(tt_num_tasks(), 0);
    CHECK_EQ(tt_procs(), 0);
  }
}

static atomic_int g_main_ran;
static int g_main_procs;
static void tiny_main(void *arg) {
  (void)arg;
  g_main_procs = tt_procs();
  atomic_fetch_add(&g_main_ran, 1);
}

static void test_main_twice(void) {
  CHECK_EQ(tt_main(tiny_main, NULL), TT_OK);
  CHECK_EQ(tt_procs(), 0);
  CHECK_EQ(tt_main(tiny_main, NULL), TT_OK);
  CHECK_EQ(atomic_load(&g_main_ran), 2);
  CHECK_EQ(tt_num_tasks(), 0);
  /* tt_main on a runtime started by tt_init uses it and leaves it running */
  tt_config cfg = {3, 0};
  CHECK_EQ(tt_init(&cfg), TT_OK);
  CHECK_EQ(tt_main(tiny_main, NULL), TT_OK);
  CHECK_EQ(atomic_load(&g_main_ran), 3);
  CHECK_EQ(g_main_procs, 3);
  CHECK_EQ(tt_procs(), 3);
  CHECK_EQ(tt_main(tiny_main, NULL), TT_OK); /* and again */
  CHECK_EQ(atomic_load(&g_main_ran), 4);
  CHECK_EQ(tt_procs(), 3);
  TEST_SHUTDOWN();
  CHECK_EQ(tt_procs(), 0);
  CHECK_EQ(tt_shutdown(), TT_ENOTINIT);
}

/* ---- spawning from plain threads ----------------------------------------------------- */

#define NTHREADS 4
static atomic_long g_plain_ran, g_plain_bad;

static void plain_child(void *arg) {
  (void)arg;
  if (tt_self() <= 0 || tt_worker_id() < 0)
    atomic_fetch_add(&g_plain_bad, 1);
  tt_yield();
  atomic_fetch_add(&g_plain_ran, 1);
}

static void *plain_spawner(void *arg) {
  long n = (long)(intptr_t)arg;
  if (tt_self() != 0 || tt_worker_id() != -1)
    atomic_fetch_add(&g_plain_bad, 1);
  tt_wg *wg = tt_wg_make();
  for (long i = 0; i < n; i++)
    if (tt_wg_go(wg, plain_child, NULL) <= 0)
      atomic_fetch_add(&g_plain_bad, 1);
  tt_wg_wait(wg); /* a plain thread blocks */
  tt_wg_free(wg);
  return NULL;
}

static void test_plain_threads(void) {
  CHECK_EQ(tt_init(NULL), TT_OK);
  long n = tt_test_scale_min(5000, 500);
  pthread_t th[NTHREADS];
  for (int i = 0; i < NTHREADS; i++)
    CHECK_EQ(pthread_create(&th[i], NULL, plain_spawner, (void *)(intptr_t)n), 0);
  for (int i = 0; i < NTHREADS; i++)
    pthread_join(th[i], NULL);
  CHECK_EQ(atomic_load(&g_plain_ran), n * NTHREADS);
  CHECK_EQ(atomic_load(&g_plain_bad), 0);
  /* a single tt_go from a plain thread, joined by polling */
  long before = atomic_load(&g_plain_ran);
  CHECK(tt_go(plain_child, NULL) > 0);
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  while (atomic_load(&g_plain_ran) == before && tt_test_mono_ns() < end)
    tt_test_sleep_ns(TT_MS(1));
  CHECK_EQ(atomic_load(&g_plain_ran), before + 1);
  TEST_SHUTDOWN();
  CHECK_EQ(tt_num_tasks(), 0);
}

/* ---- spawning from a plain thread races with shutdown ------------------------------------ */

static atomic_long g_race_ok;
static atomic_int g_race_rc;

static void *racing_spawner(void *arg) {
  (void)arg;
  for (;;) {
    int64_t id = tt_go(short_child, NULL);
    if (id <= 0) {
      atomic_store(&g_race_rc, (int)id);
      break;
    }
    atomic_fetch_add(&g_race_ok, 1);
  }
  return NULL;
}

static void test_spawn_races_shutdown(void) {
  CHECK_EQ(tt_init(NULL), TT_OK);
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    CHECK_EQ(pthread_create(&th[i], NULL, racing_spawner, NULL), 0);
  while (atomic_load(&g_race_ok) < 100 && atomic_load(&g_race_rc) == 0)
    tt_test_sleep_ns(TT_MS(1));
  tt_test_sleep_ns(TT_MS(5));
  int64_t t0 = tt_test_mono_ns();
  TEST_SHUTDOWN();
  CHECK(tt_test_mono_ns() - t0 < PROMPT);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  int rc = atomic_load(&g_race_rc);
  CHECK_MSG(rc == TT_ESHUTDOWN || rc == TT_ENOTINIT, "tt_go during/after shutdown: %d (%s)", rc,
            tt_strerror(rc));
  CHECK_EQ(tt_num_tasks(), 0);
}

/* The race can crash the process if the runtime gets it wrong: run it in a
 * child so that a crash is reported as a failed check. */
static void test_spawn_races_shutdown_isolated(void) {
  for (int round = 0; round < 20; round++) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid < 0)
      return;
    if (pid == 0) {
      long failed_before = tt_test_failures(); /* inherited from the parent */
      atomic_store(&g_race_ok, 0);
      atomic_store(&g_race_rc, 0);
      test_spawn_races_shutdown();
      fflush(stdout);
      _exit(tt_test_failures() != failed_before ? 1 : 0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "round %d: tt_go from a plain thread racing tt_shutdown: child %s %d", round,
              WIFSIGNALED(status) ? "killed by signal" : "exited with",
              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
      break;
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(120);
  test_main_drops_tasks();
  test_shutdown_busy();
  test_wg_survives_shutdown();
  test_restart();
  test_main_twice();
  test_plain_threads();
  test_spawn_races_shutdown_isolated();
  CHECK_EQ(tt_num_tasks(), 0);
  CHECK_EQ(tt_procs(), 0);
  return TEST_REPORT();
}
