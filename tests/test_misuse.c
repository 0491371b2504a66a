/*
 * test_misuse: every documented error code is returned where the header
 * says it is, and misuse leaves the runtime usable.
 */
#include "harness.h"

#include <pthread.h>

static atomic_int g_fn_calls;
static void count_fn(void *arg) {
  (void)arg;
  atomic_fetch_add(&g_fn_calls, 1);
}

/* The task-only calls, made from a thread that is not running a task. */
static void check_task_only_calls_fail(const char *where) {
  int before = atomic_load(&g_fn_calls);
  int rc;
  rc = tt_yield();
  CHECK_MSG(rc == TT_ENOTASK, "%s: tt_yield() = %d", where, rc);
  rc = tt_sleep(TT_MS(1));
  CHECK_MSG(rc == TT_ENOTASK, "%s: tt_sleep(1ms) = %d", where, rc);
  rc = tt_sleep(0);
  CHECK_MSG(rc == TT_ENOTASK, "%s: tt_sleep(0) = %d", where, rc);
  rc = tt_sleep(-5);
  CHECK_MSG(rc == TT_ENOTASK, "%s: tt_sleep(-5) = %d", where, rc);
  rc = tt_set_name("not-a-task");
  CHECK_MSG(rc == TT_ENOTASK, "%s: tt_set_name() = %d", where, rc);
  rc = tt_blocking(count_fn, NULL);
  CHECK_MSG(rc == TT_ENOTASK, "%s: tt_blocking() = %d", where, rc);
  CHECK_MSG(atomic_load(&g_fn_calls) == before, "%s: tt_blocking ran fn outside a task", where);
  CHECK_EQ(tt_self(), 0);
  CHECK_EQ(tt_worker_id(), -1);
}

static void *plain_thread_checks(void *arg) {
  (void)arg;
  check_task_only_calls_fail("plain thread");
  return NULL;
}

/* ---- before tt_init ------------------------------------------------------------------ */

static void test_before_init(void) {
  CHECK_EQ(tt_procs(), 0);
  CHECK_EQ(tt_num_tasks(), 0);
  CHECK_EQ(tt_go(count_fn, NULL), TT_ENOTINIT);
  tt_spawn_opts o = {.name = "x", .stack_size = 0};
  CHECK_EQ(tt_go_opts(count_fn, NULL, &o), TT_ENOTINIT);
  tt_wg *wg = tt_wg_make();
  CHECK(wg != NULL);
  CHECK_EQ(tt_wg_go(wg, count_fn, NULL), TT_ENOTINIT);
  CHECK_EQ(tt_wg_add(wg, -1), TT_ENEGATIVE); /* counter restored to 0 */
  CHECK_EQ(tt_wg_wait(wg), TT_OK);           /* counter 0: returns at once */
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  CHECK_EQ(tt_shutdown(), TT_ENOTINIT);
  CHECK_EQ(tt_main(NULL, NULL), TT_EINVAL);
  CHECK_EQ(tt_procs(), 0); /* and it did not leave a runtime running */
  check_task_only_calls_fail("before tt_init");
  CHECK_EQ(tt_num_tasks(), 0);
  CHECK_EQ(atomic_load(&g_fn_calls), 0);
}

/* ---- bad configuration -------------------------------------------------------------- */

static void test_bad_config(void) {
  tt_config bad = {-1, 0};
  CHECK_EQ(tt_init(&bad), TT_EINVAL);
  CHECK_EQ(tt_procs(), 0);
  CHECK_EQ(tt_go(count_fn, NULL), TT_ENOTINIT); /* nothing was started */
  CHECK_EQ(tt_shutdown(), TT_ENOTINIT);
  tt_config bad2 = {-100, 0};
  CHECK_EQ(tt_init(&bad2), TT_EINVAL);
  CHECK_EQ(tt_procs(), 0);
  tt_config too_many = {1025, 0}; /* max 1024 workers */
  CHECK_EQ(tt_init(&too_many), TT_EINVAL);
  tt_config small_stack = {1, 1000}; /* stacks are 16 KiB to 1 GiB */
  CHECK_EQ(tt_init(&small_stack), TT_EINVAL);
  tt_config huge_stack = {1, (size_t)2 << 30};
  CHECK_EQ(tt_init(&huge_stack), TT_EINVAL);
  CHECK_EQ(tt_procs(), 0);
  /* malformed environment variables (a message on stderr is expected) */
  CHECK_EQ(setenv("TT_PROCS", "lots", 1), 0);
  CHECK_EQ(tt_init(NULL), TT_EINVAL);
  CHECK_EQ(setenv("TT_PROCS", "-3", 1), 0);
  CHECK_EQ(tt_init(NULL), TT_EINVAL);
  CHECK_EQ(unsetenv("TT_PROCS"), 0);
  CHECK_EQ(setenv("TT_STACK_SIZE", "big", 1), 0);
  CHECK_EQ(tt_init(NULL), TT_EINVAL);
  CHECK_EQ(unsetenv("TT_STACK_SIZE"), 0);
  CHECK_EQ(tt_procs(), 0);
  CHECK_EQ(tt_go(count_fn, NULL), TT_ENOTINIT); /* still never started */
  /* a good config still works afterwards */
  tt_config good = {2, 0};
  CHECK_EQ(tt_init(&good), TT_OK);
  CHECK_EQ(tt_procs(), 2);
  TEST_SHUTDOWN();
}

/* ---- while running --------------------------------------------------------------------- */

static atomic_int g_in_task_shutdown_rc = 1, g_in_task_init_rc = 1, g_in_task_blocking_rc = 1;
static atomic_int g_in_task_main_rc = 1;
static void misuse_in_task(void *arg) {
  (void)arg;
  atomic_store(&g_in_task_main_rc, tt_main(count_fn, NULL));
  atomic_store(&g_in_task_shutdown_rc, tt_shutdown());
  tt_config c = {1, 0};
  atomic_store(&g_in_task_init_rc, tt_init(&c));
  atomic_store(&g_in_task_blocking_rc, tt_blocking(NULL, NULL));
}

static tt_wg *g_wg_busy;
static void wg_waiter(void *arg) {
  (void)arg;
  tt_wg_wait(g_wg_busy);
}

static void test_while_running(void) {
  CHECK_EQ(tt_init(NULL), TT_OK);
  /* second init: already running */
  CHECK_EQ(tt_init(NULL), TT_EBUSY);
  tt_config c = {1, 0};
  CHECK_EQ(tt_init(&c), TT_EBUSY);
  tt_config bad = {-1, 0};
  int rc = tt_init(&bad);
  CHECK_MSG(rc == TT_EBUSY || rc == TT_EINVAL, "tt_init(bad) while running = %d", rc);
  CHECK(tt_procs() > 0);

  /* NULL entry functions */
  int64_t before = tt_num_tasks();
  CHECK_EQ(tt_go(NULL, NULL), TT_EINVAL);
  tt_spawn_opts o = {.name = "null", .stack_size = 0};
  CHECK_EQ(tt_go_opts(NULL, NULL, &o), TT_EINVAL);
  tt_wg *wg = tt_wg_make();
  CHECK_EQ(tt_wg_go(wg, NULL, NULL), TT_EINVAL);
  CHECK_EQ(tt_wg_add(wg, -1), TT_ENEGATIVE); /* counter restored after the failed wg_go */
  CHECK_EQ(tt_num_tasks(), before);

  /* a spawn stack size outside 16 KiB .. 1 GiB is rejected */
  tt_spawn_opts tiny = {.name = "tiny", .stack_size = 4096};
  CHECK_EQ(tt_go_opts(count_fn, NULL, &tiny), TT_EINVAL);
  tt_spawn_opts gig = {.name = "gig", .stack_size = ((size_t)1 << 30) + 4096};
  CHECK_EQ(tt_go_opts(count_fn, NULL, &gig), TT_EINVAL);
  CHECK_EQ(tt_num_tasks(), before);

  /* an absurd stack size fails cleanly */
  tt_spawn_opts huge = {.name = "huge", .stack_size = SIZE_MAX / 2};
  int64_t hid = tt_go_opts(count_fn, NULL, &huge);
  CHECK_MSG(hid == TT_ENOMEM || hid == TT_EINVAL, "spawn with a %zu B stack = %" PRId64,
            huge.stack_size, hid);
  CHECK_EQ(tt_num_tasks(), before);

  /* task-only calls from the main thread and from another plain thread */
  check_task_only_calls_fail("main thread, runtime running");
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, plain_thread_checks, NULL), 0);
  pthread_join(th, NULL);

  /* tt_main: NULL fn, and from inside a task */
  CHECK_EQ(tt_main(NULL, NULL), TT_EINVAL);
  CHECK(tt_procs() > 0); /* it did not stop the running runtime */

  /* shutdown / init / blocking(NULL) / tt_main from inside a task */
  CHECK_EQ(tt_wg_go(wg, misuse_in_task, NULL) > 0, 1);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(atomic_load(&g_in_task_shutdown_rc), TT_EBUSY);
  CHECK_EQ(atomic_load(&g_in_task_init_rc), TT_EBUSY);
  CHECK_EQ(atomic_load(&g_in_task_blocking_rc), TT_EINVAL);
  CHECK_EQ(atomic_load(&g_in_task_main_rc), TT_EBUSY);
  CHECK(tt_procs() > 0); /* still running */

  /* WaitGroup counter going negative */
  CHECK_EQ(tt_wg_add(wg, -1), TT_ENEGATIVE);
  CHECK_EQ(tt_wg_done(wg), TT_ENEGATIVE);
  CHECK_EQ(tt_wg_add(wg, 2), TT_OK);
  CHECK_EQ(tt_wg_add(wg, -3), TT_ENEGATIVE); /* counter stays 2 */
  CHECK_EQ(tt_wg_add(wg, INT64_MIN), TT_ENEGATIVE);
  CHECK_EQ(tt_wg_done(wg), TT_OK);           /* 1 */
  CHECK_EQ(tt_wg_add(wg, 0), TT_OK);         /* still 1 */
  CHECK_EQ(tt_wg_add(wg, -2), TT_ENEGATIVE); /* still 1 */
  CHECK_EQ(tt_wg_done(wg), TT_OK);           /* 0 */
  CHECK_EQ(tt_wg_done(wg), TT_ENEGATIVE);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);

  /* tt_wg_free with a task waiting on it */
  g_wg_busy = tt_wg_make();
  CHECK_EQ(tt_wg_add(g_wg_busy, 1), TT_OK);
  int64_t wid = tt_wg_go(wg, wg_waiter, NULL);
  CHECK(wid > 0);
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  tt_test_task t;
  int parked = 0;
  while (!parked && tt_test_mono_ns() < end) {
    parked = tt_test_find_task(wid, &t) && t.info.state == TT_TASK_WAITING;
    if (!parked)
      tt_test_sleep_ns(TT_MS(1));
  }
  CHECK(parked);
  CHECK_EQ(tt_wg_free(g_wg_busy), TT_EBUSY);
  CHECK_EQ(tt_wg_done(g_wg_busy), TT_OK); /* still usable: nothing was freed */
  CHECK_EQ(tt_wg_wait(wg), TT_OK);        /* the waiter finished */
  CHECK_EQ(tt_wg_free(g_wg_busy), TT_OK);
  CHECK_EQ(tt_wg_free(wg), TT_OK);

  /* the runtime still works after all that misuse */
  wg = tt_wg_make();
  int calls = atomic_load(&g_fn_calls);
  for (int i = 0; i < 100; i++)
    CHECK(tt_wg_go(wg, count_fn, NULL) > 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(atomic_load(&g_fn_calls), calls + 100);
  CHECK_EQ(tt_wg_free(wg), TT_OK);

  TEST_SHUTDOWN();
}

/* ---- after shutdown ---------------------------------------------------------------------- */

static void test_after_shutdown(void) {
  CHECK_EQ(tt_procs(), 0);
  CHECK_EQ(tt_num_tasks(), 0);
  /* After a shutdown, spawning gives TT_ESHUTDOWN: the header's error list
   * ("TT_ESHUTDOWN: shut down or shutting down", "TT_ENOTINIT: never
   * started") and docs/API.md ("spawning before tt_init / during or after
   * tt_shutdown: TT_ENOTINIT / TT_ESHUTDOWN") agree on it. */
  int64_t rc = tt_go(count_fn, NULL);
  CHECK_MSG(rc == TT_ESHUTDOWN, "tt_go after shutdown = %" PRId64 " (%s), want TT_ESHUTDOWN", rc,
            tt_strerror((int)rc));
  tt_wg *wg = tt_wg_make();
  rc = tt_wg_go(wg, count_fn, NULL);
  CHECK_MSG(rc == TT_ESHUTDOWN, "tt_wg_go after shutdown = %" PRId64 " (%s), want TT_ESHUTDOWN", rc,
            tt_strerror((int)rc));
  CHECK_EQ(tt_wg_add(wg, -1), TT_ENEGATIVE); /* counter restored */
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  CHECK_EQ(tt_shutdown(), TT_ENOTINIT);
  CHECK_EQ(tt_shutdown(), TT_ENOTINIT);
  check_task_only_calls_fail("after shutdown");
  /* and it can be started again */
  CHECK_EQ(tt_init(NULL), TT_OK);
  CHECK(tt_go(count_fn, NULL) > 0);
  TEST_SHUTDOWN();
}

/* ---- tt_strerror ---------------------------------------------------------------------------- */

static void test_strerror(void) {
  const int codes[] = {TT_OK,       TT_EINVAL,    TT_ENOMEM,    TT_ENOTASK,   TT_ESHUTDOWN,
                       TT_ENOTINIT, TT_ETIMEDOUT, TT_ECANCELED, TT_ECLOSED,   TT_ELEAKED,
                       TT_EBUSY,    TT_EAGAIN,    TT_ENEGATIVE, TT_EUNLOCKED, TT_ENOENT};
  const int n = (int)(sizeof codes / sizeof codes[0]);
  const char *s[sizeof codes / sizeof codes[0]];
  for (int i = 0; i < n; i++) {
    s[i] = tt_strerror(codes[i]);
    CHECK_MSG(s[i] != NULL, "tt_strerror(%d) is NULL", codes[i]);
    CHECK_MSG(s[i] && s[i][0] != '\0', "tt_strerror(%d) is empty", codes[i]);
  }
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      CHECK_MSG(!s[i] || !s[j] || strcmp(s[i], s[j]) != 0, "tt_strerror(%d) == tt_strerror(%d): %s",
                codes[i], codes[j], s[i] ? s[i] : "");
  const int unknown[] = {-15, -999, 1, 42, INT32_MIN, INT32_MAX};
  for (size_t u = 0; u < sizeof unknown / sizeof unknown[0]; u++) {
    const char *x = tt_strerror(unknown[u]);
    CHECK_MSG(x != NULL && x[0] != '\0', "tt_strerror(%d) is NULL or empty", unknown[u]);
    /* an unknown code must not be described as one of the real errors */
    for (int i = 1; x && i < n; i++)
      CHECK_MSG(!s[i] || strcmp(x, s[i]) != 0, "tt_strerror(%d) = \"%s\", same as code %d",
                unknown[u], x, codes[i]);
  }
  NOTE("tt_strerror(TT_EINVAL) = \"%s\", tt_strerror(-999) = \"%s\"", tt_strerror(TT_EINVAL),
       tt_strerror(-999));
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(120);
  test_strerror();
  test_before_init();
  test_bad_config();
  test_while_running();
  test_after_shutdown();
  CHECK_EQ(tt_num_tasks(), 0);
  return TEST_REPORT();
}
