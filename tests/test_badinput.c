/*
 * test_badinput: the inputs a caller can get wrong, each with the result
 * docs/API.md documents: deadlines and timeouts at or near INT64_MAX mean
 * "never" (no overflow into the past), NULL element pointers, counts out of
 * range, handles used twice, a runtime that cannot start, and tt_main
 * racing tt_shutdown. Runs under ASan: a use after free here is a failure.
 */
#include "harness.h"

#include <pthread.h>
#include <sys/resource.h>

/* The "never" values a caller may compute: INT64_MAX itself, a little
 * less, and a timeout that overflows once added to tt_now(). */
static const int64_t g_far[] = {INT64_MAX, INT64_MAX - 1, INT64_MAX - 1000000000LL,
                                INT64_MAX / 2 + 1};
#define NFAR ((int)(sizeof g_far / sizeof *g_far))

/* ---- timeouts and deadlines that mean "never" ------------------------------------------- */

static atomic_int g_sleep_rc;
static atomic_int g_sleep_done;

static void sleeper_task(void *arg) {
  int64_t ns = *(const int64_t *)arg;
  atomic_store(&g_sleep_rc, tt_sleep(ns));
  atomic_store(&g_sleep_done, 1);
}

typedef struct {
  int64_t ns;
  tt_context *ctx;
} sleep_ctx_arg;

static void sleeper_ctx_task(void *arg) {
  sleep_ctx_arg *a = arg;
  atomic_store(&g_sleep_rc, tt_sleep_ctx(a->ns, a->ctx));
  atomic_store(&g_sleep_done, 1);
}

static void test_far_sleeps(void) {
  for (int i = 0; i < NFAR; i++) {
    /* tt_sleep: still asleep a while later (dropped at shutdown; not a leak) */
    atomic_store(&g_sleep_done, 0);
    int64_t id = tt_go(sleeper_task, (void *)&g_far[i]);
    CHECK(id > 0);
    tt_sleep(TT_MS(30));
    CHECK_MSG(!atomic_load(&g_sleep_done), "tt_sleep(%" PRId64 ") returned %d at once", g_far[i],
              atomic_load(&g_sleep_rc));
    tt_test_task t;
    CHECK(tt_test_find_task(id, &t) && strcmp(t.wait_reason, "sleep") == 0);

    /* tt_sleep_ctx: asleep until the context is cancelled */
    sleep_ctx_arg a = {g_far[i], tt_with_cancel(NULL)};
    atomic_store(&g_sleep_done, 0);
    CHECK(tt_go(sleeper_ctx_task, &a) > 0);
    tt_sleep(TT_MS(30));
    CHECK_MSG(!atomic_load(&g_sleep_done), "tt_sleep_ctx(%" PRId64 ") returned %d at once",
              g_far[i], atomic_load(&g_sleep_rc));
    CHECK_EQ(tt_cancel(a.ctx), TT_OK);
    int64_t end = tt_test_mono_ns() + TT_MS(10000);
    while (!atomic_load(&g_sleep_done) && tt_test_mono_ns() < end)
      tt_sleep(TT_MS(1));
    CHECK_EQ(atomic_load(&g_sleep_rc), TT_ECANCELED);
    CHECK_EQ(tt_context_unref(a.ctx), TT_OK);
  }
}

static void test_far_contexts(void) {
  for (int i = 0; i < NFAR; i++) {
    tt_context *ctx = tt_with_timeout(NULL, g_far[i]);
    CHECK(ctx != NULL);
    CHECK_MSG(tt_context_err(ctx) == 0, "tt_with_timeout(%" PRId64 ") is done at once: %d",
              g_far[i], tt_context_err(ctx));
    /* a deadline past the end of the clock is no deadline */
    CHECK(tt_context_deadline(ctx) > tt_now() + TT_MS(1000) * 1000 * 1000);
    tt_context *d = tt_with_deadline(NULL, g_far[i]);
    CHECK_EQ(tt_context_err(d), 0);
    tt_sleep(TT_MS(5));
    CHECK_EQ(tt_context_err(ctx), 0);
    CHECK_EQ(tt_context_err(d), 0);
    CHECK_EQ(tt_context_release(ctx), TT_OK);
    CHECK_EQ(tt_context_release(d), TT_OK);
  }
  /* a negative timeout is already past */
  tt_context *past = tt_with_timeout(NULL, -1);
  CHECK_EQ(tt_context_err(past), TT_ETIMEDOUT);
  CHECK_EQ(tt_context_release(past), TT_OK);
  tt_context *min = tt_with_timeout(NULL, INT64_MIN);
  CHECK_EQ(tt_context_err(min), TT_ETIMEDOUT);
  CHECK_EQ(tt_context_release(min), TT_OK);
}

static void test_far_deadlines(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  int v = 1;
  tt_mutex mu = {0};
  tt_sem sem = {0};
  CHECK_EQ(tt_mutex_lock(&mu), TT_OK);
  /* deadlines in the past fail at once, whatever their size */
  CHECK_EQ(tt_chan_recv_until(c, &v, INT64_MIN), TT_ETIMEDOUT);
  CHECK_EQ(tt_chan_send_until(c, &v, 0), TT_ETIMEDOUT);
  CHECK_EQ(tt_mutex_lock_until(&mu, INT64_MIN), TT_ETIMEDOUT);
  CHECK_EQ(tt_sem_acquire_until(&sem, 1, -5), TT_ETIMEDOUT);
  CHECK_EQ(tt_select(NULL, 0, 0, INT64_MIN), TT_ETIMEDOUT);
  CHECK_EQ(tt_mutex_unlock(&mu), TT_OK);
  CHECK_EQ(tt_chan_unref(c), TT_OK);
}

/* ---- NULL element pointers ------------------------------------------------------------ */

static void test_null_elements(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 1);
  CHECK_EQ(tt_chan_send(c, NULL), TT_EINVAL);
  CHECK_EQ(tt_chan_try_send(c, NULL), TT_EINVAL);
  CHECK_EQ(tt_chan_send_until(c, NULL, tt_now() + TT_MS(1)), TT_EINVAL);
  CHECK_EQ(tt_chan_send_ctx(c, NULL, tt_background()), TT_EINVAL);
  tt_case k = tt_case_send(c, NULL);
  CHECK_EQ(tt_select(&k, 1, TT_SELECT_NONBLOCK, TT_NO_DEADLINE), TT_EINVAL);
  CHECK_EQ(tt_chan_len(c), 0); /* nothing was sent */
  /* a receive may discard (NULL out), and a signal channel needs no element */
  int v = 7;
  CHECK_EQ(tt_chan_send(c, &v), TT_OK);
  CHECK_EQ(tt_chan_recv(c, NULL), TT_OK);
  tt_chan *sig = tt_chan_make(0, 1);
  CHECK_EQ(tt_chan_send(sig, NULL), TT_OK);
  CHECK_EQ(tt_chan_recv(sig, NULL), TT_OK);
  CHECK_EQ(tt_chan_unref(sig), TT_OK);
  CHECK_EQ(tt_chan_unref(c), TT_OK);
  /* select with a negative count or NULL cases and n > 0 */
  CHECK_EQ(tt_select(NULL, 1, 0, TT_NO_DEADLINE), TT_EINVAL);
  CHECK_EQ(tt_select(&k, -1, 0, TT_NO_DEADLINE), TT_EINVAL);
}

/* ---- counts and handles ---------------------------------------------------------------- */

static int fail_fn(tt_context *ctx, void *arg) {
  (void)ctx;
  (void)arg;
  return TT_EINVAL;
}

static void test_counts(void) {
  tt_sem s = {0};
  CHECK_EQ(tt_sem_release(&s, -1), TT_EINVAL);
  CHECK_EQ(tt_sem_release(&s, 0), TT_EINVAL); /* n <= 0 is TT_EINVAL */
  CHECK_EQ(tt_sem_acquire(&s, -1), TT_EINVAL);
  CHECK_EQ(tt_sem_try_acquire(&s, -3), TT_EINVAL);
  CHECK_EQ(tt_sem_acquire_until(&s, -1, TT_NO_DEADLINE), TT_EINVAL);
  CHECK_EQ(tt_sem_acquire_ctx(&s, -1, tt_background()), TT_EINVAL);
  CHECK_EQ(tt_sem_acquire(&s, 0), TT_EINVAL);
  CHECK_EQ(tt_sem_release(&s, INT64_MAX), TT_EINVAL);
  CHECK_EQ(tt_sem_release(NULL, 1), TT_EINVAL);
  CHECK_EQ(tt_sem_acquire(NULL, 1), TT_EINVAL);
  CHECK_EQ(tt_sem_release(&s, 2), TT_OK);
  CHECK_EQ(tt_sem_try_acquire(&s, 3), TT_EAGAIN);
  CHECK_EQ(tt_sem_try_acquire(&s, 2), TT_OK);

  tt_wg *wg = tt_wg_make();
  CHECK_EQ(tt_wg_add(wg, -1), TT_ENEGATIVE);
  CHECK_EQ(tt_wg_done(wg), TT_ENEGATIVE);
  CHECK_EQ(tt_wg_add(NULL, 1), TT_EINVAL);
  CHECK_EQ(tt_wg_wait(NULL), TT_EINVAL);
  CHECK_EQ(tt_wg_free(NULL), TT_EINVAL);
  CHECK_EQ(tt_wg_free(wg), TT_OK);

  /* groups */
  CHECK(tt_group_make(NULL, -1) == NULL);
  CHECK_EQ(tt_group_wait(NULL), TT_EINVAL);
  CHECK_EQ(tt_group_destroy(NULL, 0), TT_EINVAL);
  CHECK(tt_group_context(NULL) == NULL);
  CHECK_EQ(tt_group_go(NULL, fail_fn, NULL), TT_EINVAL);
  tt_group *g = tt_group_make(NULL, 0);
  CHECK(g != NULL);
  CHECK_EQ(tt_group_go(g, NULL, NULL), TT_EINVAL);
  CHECK_EQ(tt_group_destroy(g, -1), TT_OK); /* a negative grace is no grace */
}

static void test_double_unref(void) {
  /* contexts: the extra unref is an error, never a free of freed memory */
  tt_context *ctx = tt_with_cancel(NULL);
  tt_context *kept = tt_with_cancel(ctx); /* keeps ctx's memory alive */
  CHECK_EQ(tt_context_unref(ctx), TT_OK);
  CHECK_EQ(tt_context_unref(ctx), TT_EINVAL);
  CHECK_EQ(tt_context_release(kept), TT_OK);
  CHECK_EQ(tt_context_unref(NULL), TT_EINVAL);
  CHECK_EQ(tt_context_unref(tt_background()), TT_OK); /* a no-op, as documented */
  /* channels: the reference a task waits with is not the caller's */
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  tt_chan_ref(c);
  CHECK_EQ(tt_chan_unref(c), TT_OK);
  CHECK_EQ(tt_chan_unref(c), TT_OK);
  CHECK_EQ(tt_chan_unref(NULL), TT_EINVAL);
}

/* ---- a group destroyed with a grace for ever ------------------------------------------- */

/* Ignores the cancel for a while, as a slow task does, then finishes. */
static int slow_member(tt_context *ctx, void *arg) {
  (void)ctx;
  tt_sleep(TT_MS(20));
  atomic_store((atomic_int *)arg, 1);
  return 0;
}

static void test_far_group_grace(void) {
  for (int i = 0; i < NFAR; i++) {
    atomic_int done = 0;
    tt_group *g = tt_group_make(NULL, 0);
    CHECK(g != NULL);
    CHECK(tt_group_go(g, slow_member, &done) > 0);
    /* A grace near the end of the clock waits for the task; it used to
     * overflow into the past and report the task as leaked at once. */
    CHECK_MSG(tt_group_destroy(g, g_far[i]) == TT_OK, "tt_group_destroy(g, %" PRId64 ")", g_far[i]);
    CHECK_MSG(atomic_load(&done) == 1, "tt_group_destroy(g, %" PRId64 ") returned before its task",
              g_far[i]);
  }
}

/* ---- a timer freed twice ---------------------------------------------------------------- */

static void test_double_timer_free(void) {
  tt_timer *t = tt_timer_make(TT_MS(1000));
  tt_ticker *k = tt_ticker_make(TT_MS(1000));
  CHECK(t != NULL && k != NULL);
  CHECK_EQ(tt_timer_free(t), TT_OK);
  CHECK_EQ(tt_ticker_free(k), TT_OK);
  /* Both wait in this worker's cache: a second free is refused... */
  CHECK_EQ(tt_timer_free(t), TT_EINVAL);
  CHECK_EQ(tt_ticker_free(k), TT_EINVAL);
  /* ...so the cache holds each once, and two new timers are two timers. */
  tt_timer *a = tt_timer_make(TT_MS(1)), *b = tt_timer_make(TT_MS(2));
  CHECK(a != NULL && b != NULL && a != b);
  int64_t at = 0;
  CHECK_EQ(tt_chan_recv(tt_timer_chan(a), &at), TT_OK);
  CHECK_EQ(tt_chan_recv(tt_timer_chan(b), &at), TT_OK);
  CHECK_EQ(tt_timer_free(a), TT_OK);
  CHECK_EQ(tt_timer_free(b), TT_OK);
}

/* ---- timers set for ever ---------------------------------------------------------------- */

static void test_far_timers(void) {
  for (int i = 0; i < NFAR; i++) {
    tt_timer *t = tt_timer_make(g_far[i]);
    CHECK(t != NULL);
    tt_sleep(TT_MS(20));
    int64_t when = 0;
    CHECK_MSG(tt_chan_try_recv(tt_timer_chan(t), &when) == TT_EAGAIN,
              "a timer of %" PRId64 " ns fired at once", g_far[i]);
    CHECK_EQ(tt_timer_reset(t, g_far[i]), 1); /* still pending: reset stops it */
    tt_sleep(TT_MS(5));
    CHECK_EQ(tt_chan_try_recv(tt_timer_chan(t), &when), TT_EAGAIN);
    CHECK_EQ(tt_timer_stop(t), 1);
    CHECK_EQ(tt_timer_free(t), TT_OK);
  }
}

/* ---- tt_shutdown where it would wait for itself ------------------------------------------ */

static atomic_int g_helper_shutdown_rc = 1;
static void shutdown_from_helper(void *arg) {
  (void)arg;
  atomic_store(&g_helper_shutdown_rc, tt_shutdown());
}

static atomic_int g_monitor_shutdown_rc = 1;
static void shutdown_from_monitor(const tt_monitor_event *ev, void *arg) {
  (void)ev;
  (void)arg;
  atomic_store(&g_monitor_shutdown_rc, tt_shutdown());
}

static void spin_task(void *arg) {
  (void)arg;
  tt_test_spin_ns(TT_MS(150)); /* no scheduling point: a stall */
}

static void test_shutdown_from_inside(void) {
  CHECK_EQ(tt_shutdown(), TT_EBUSY); /* from a task */
  CHECK_EQ(tt_blocking(shutdown_from_helper, NULL), TT_OK);
  CHECK_EQ(atomic_load(&g_helper_shutdown_rc), TT_EBUSY);
  tt_monitor_opts o = {
      .interval = TT_MS(10), .stall = TT_MS(30), .callback = shutdown_from_monitor};
  CHECK_EQ(tt_monitor_start(&o), TT_OK);
  tt_wg *wg = tt_wg_make();
  CHECK(tt_wg_go(wg, spin_task, NULL) > 0);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  int64_t end = tt_test_mono_ns() + TT_MS(5000);
  while (atomic_load(&g_monitor_shutdown_rc) == 1 && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(5));
  CHECK_EQ(tt_monitor_stop(), TT_OK);
  if (tt_procs() > 1) /* one worker cannot run the monitor's stall check beside the spinner */
    CHECK_EQ(atomic_load(&g_monitor_shutdown_rc), TT_EBUSY);
  CHECK(tt_procs() > 0); /* still running */
}

/* ---- the runtime itself ---------------------------------------------------------------- */

static void badinput_main(void *arg) {
  (void)arg;
  test_far_sleeps();
  test_far_contexts();
  test_far_deadlines();
  test_null_elements();
  test_counts();
  test_double_unref();
  test_far_timers();
  test_far_group_grace();
  test_double_timer_free();
  test_shutdown_from_inside();
}

static void quick_main(void *arg) { (void)arg; }

static atomic_int g_race_stop;
static void *shutdown_racer(void *arg) {
  (void)arg;
  while (!atomic_load(&g_race_stop))
    tt_shutdown();
  return NULL;
}

/* tt_main on one thread, tt_shutdown on another: every tt_main returns
 * (0, or the error of a runtime that went away under it). */
static void test_main_racing_shutdown(void) {
  atomic_store(&g_race_stop, 0);
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, shutdown_racer, NULL), 0);
  long rounds = tt_test_scale_min(300, 50), ok = 0;
  for (long r = 0; r < rounds; r++) {
    int rc = tt_main(quick_main, NULL);
    CHECK_MSG(rc == 0 || rc == TT_ESHUTDOWN || rc == TT_ENOTINIT || rc == TT_EBUSY, "tt_main: %d",
              rc);
    ok += rc == 0;
  }
  atomic_store(&g_race_stop, 1);
  pthread_join(th, NULL);
  tt_shutdown();
  NOTE("tt_main racing tt_shutdown: %ld rounds, %ld ran main", rounds, ok);
}

/* tt_init under an address-space limit too small for its threads. */
static int child_low_rlimit(void) {
  struct rlimit rl;
  getrlimit(RLIMIT_AS, &rl);
  rl.rlim_cur = 64u << 20; /* the process already maps more: no thread stack fits */
  if (setrlimit(RLIMIT_AS, &rl) != 0)
    return 77;
  tt_config cfg = {8, 0};
  int rc = tt_init(&cfg);
  printf("tt_init: %d\n", rc);
  fflush(stdout);
  if (rc == 0)
    tt_shutdown();
  return rc == TT_ENOMEM ? 0 : 1;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "--low-rlimit") == 0)
    return child_low_rlimit();
  tt_test_watchdog(120);
  RUN_MAIN(2, badinput_main, NULL);
  RUN_MAIN(1, badinput_main, NULL);
  test_main_racing_shutdown();
  /* The sanitizers reserve far more than any limit allows; qemu-user
   * (scripts/test-aarch64.sh) cannot re-execute the test. */
  if (!TT_TEST_SANITIZED && !getenv("TT_TEST_NO_REEXEC")) {
    char *err = NULL;
    int status;
    CHECK_EQ(tt_test_run_self("test_badinput", "--low-rlimit", "TT_X=1", &err, &status), 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "tt_init under a low RLIMIT_AS: status 0x%x\n%s", status, err ? err : "");
    free(err);
  }
  return TEST_REPORT();
}
