/*
 * test_blocking: tt_blocking offloads fn to a non-worker thread, shows the
 * caller as waiting in "syscall", and does not stall the worker.
 */
#include "harness.h"

#include <pthread.h>

/* ---- fn runs off the workers -------------------------------------------------------------- */

typedef struct {
  atomic_int worker; /* tt_worker_id() inside fn */
  atomic_int ran;
  pthread_t thread; /* thread that ran fn */
} where_arg;

static void where_fn(void *arg) {
  where_arg *w = arg;
  atomic_store(&w->worker, tt_worker_id());
  w->thread = pthread_self();
  tt_test_sleep_ns(TT_MS(20)); /* a slow call */
  atomic_store(&w->ran, 1);
}

static void test_runs_off_worker(void) {
  for (int i = 0; i < 5; i++) {
    where_arg w;
    atomic_store(&w.worker, 99);
    atomic_store(&w.ran, 0);
    int64_t me = tt_self();
    pthread_t self = pthread_self();
    CHECK(tt_worker_id() >= 0);
    CHECK_EQ(tt_blocking(where_fn, &w), TT_OK);
    CHECK_EQ(atomic_load(&w.ran), 1); /* returns once fn has returned */
    CHECK_EQ(atomic_load(&w.worker), -1);
    CHECK(!pthread_equal(w.thread, self));
    CHECK_EQ(tt_self(), me);
    CHECK(tt_worker_id() >= 0); /* back on a worker */
  }
}

/* ---- wait reason "syscall" ------------------------------------------------------------------ */

static atomic_int g_release, g_in_fn;

static void held_fn(void *arg) {
  (void)arg;
  atomic_store(&g_in_fn, 1);
  int64_t end = tt_test_mono_ns() + TT_MS(30000);
  while (!atomic_load(&g_release) && tt_test_mono_ns() < end)
    tt_test_sleep_ns(TT_US(200));
}

static atomic_int g_held_rc = 1;
static void held_task(void *arg) {
  (void)arg;
  atomic_store(&g_held_rc, tt_blocking(held_fn, NULL));
}

static void test_syscall_state(void) {
  atomic_store(&g_release, 0);
  atomic_store(&g_in_fn, 0);
  tt_wg *wg = tt_wg_make();
  int64_t id = tt_wg_go(wg, held_task, NULL);
  CHECK(id > 0);
  /* once fn is running (and until it is released) the task is in "syscall" */
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  while (!atomic_load(&g_in_fn) && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK_EQ(atomic_load(&g_in_fn), 1);
  tt_test_task t;
  int seen = tt_test_await_wait_reason(id, "syscall", TT_MS(10000), &t);
  CHECK_MSG(seen, "task %" PRId64 " never showed wait_reason \"syscall\" (last: state %d, \"%s\")",
            id, (int)t.info.state, t.wait_reason);
  if (seen) {
    CHECK_EQ(t.info.state, TT_TASK_WAITING);
    CHECK_STREQ(t.info.state_name, "waiting");
    CHECK(t.info.wait_since > 0);
    CHECK(t.info.wait_since <= tt_now());
    CHECK_STREQ(t.info.entry, "held_task");
  }
  /* it stays in "syscall" for as long as fn runs */
  tt_sleep(TT_MS(20));
  CHECK(tt_test_find_task(id, &t));
  CHECK_STREQ(t.info.wait_reason, "syscall");
  atomic_store(&g_release, 1);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(atomic_load(&g_held_rc), TT_OK);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
}

/* ---- one worker is not stalled --------------------------------------------------------------- */

typedef struct {
  int64_t start, end;                /* CLOCK_MONOTONIC inside fn */
  long ticks_at_start, ticks_at_end; /* the runner's progress, seen from fn */
} span;

static atomic_long g_ticks;
static atomic_int g_blockers_left;
static span g_spans[2];

static void sleep200_fn(void *arg) {
  span *s = arg;
  s->ticks_at_start = atomic_load(&g_ticks);
  s->start = tt_test_mono_ns();
  tt_test_sleep_ns(TT_MS(200)); /* blocking call: no scheduling point */
  s->end = tt_test_mono_ns();
  s->ticks_at_end = atomic_load(&g_ticks);
}

static void blocker_task(void *arg) {
  span *s = arg;
  CHECK_EQ(tt_blocking(sleep200_fn, s), TT_OK);
  atomic_fetch_sub(&g_blockers_left, 1);
}

static atomic_long g_runner_iters_during;
static void runner_task(void *arg) {
  (void)arg;
  long iters = 0;
  int64_t end = tt_test_mono_ns() + TT_MS(30000);
  while (atomic_load(&g_blockers_left) > 0 && tt_test_mono_ns() < end) {
    atomic_fetch_add(&g_ticks, 1);
    iters++;
    tt_yield();
  }
  atomic_store(&g_runner_iters_during, iters);
}

static void one_worker_main(void *arg) {
  (void)arg;
  CHECK_EQ(tt_procs(), 1);
  atomic_store(&g_blockers_left, 2);
  tt_wg *wg = tt_wg_make();
  CHECK(tt_wg_go(wg, blocker_task, &g_spans[0]) > 0);
  CHECK(tt_wg_go(wg, blocker_task, &g_spans[1]) > 0);
  CHECK(tt_wg_go(wg, runner_task, NULL) > 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  span *a = &g_spans[0], *b = &g_spans[1];
  CHECK_MSG(a->start < b->end && b->start < a->end,
            "the two 200 ms blocking calls did not overlap: [%.3f, %.3f] and [%.3f, %.3f] s",
            a->start / 1e9, a->end / 1e9, b->start / 1e9, b->end / 1e9);
  CHECK_MSG(a->ticks_at_end > a->ticks_at_start, "runner made no progress during call 1");
  CHECK_MSG(b->ticks_at_end > b->ticks_at_start, "runner made no progress during call 2");
  CHECK_MSG(atomic_load(&g_runner_iters_during) > 10, "runner iterations: %ld",
            atomic_load(&g_runner_iters_during));
  NOTE("runner iterated %ld times during the blocking calls", atomic_load(&g_runner_iters_during));
  CHECK_EQ(tt_wg_free(wg), TT_OK);
}

/* ---- many concurrent calls ------------------------------------------------------------------- */

static atomic_long g_calls_done, g_calls_bad;
static void short_fn(void *arg) {
  if (tt_worker_id() != -1)
    atomic_fetch_add(&g_calls_bad, 1);
  tt_test_sleep_ns(TT_MS(1));
  atomic_fetch_add(&g_calls_done, (long)(intptr_t)arg);
}

static void many_caller(void *arg) {
  if (tt_blocking(short_fn, arg) != TT_OK)
    atomic_fetch_add(&g_calls_bad, 1);
}

static void test_many_calls(void) {
  long n = 1000, expect = 0;
  atomic_store(&g_calls_done, 0);
  atomic_store(&g_calls_bad, 0);
  tt_wg *wg = tt_wg_make();
  int64_t t0 = tt_test_mono_ns();
  for (long i = 1; i <= n; i++) {
    CHECK_MSG(tt_wg_go(wg, many_caller, (void *)(intptr_t)i) > 0, "%ld", i);
    expect += i;
  }
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(atomic_load(&g_calls_done), expect);
  CHECK_EQ(atomic_load(&g_calls_bad), 0);
  NOTE("%ld concurrent tt_blocking calls in %.3f s", n, (tt_test_mono_ns() - t0) / 1e9);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
}

/* fn may itself use the runtime's non-task API (spawn a task, plain-thread wait) */
static atomic_int g_nested_ran;
static void nested_child(void *arg) {
  (void)arg;
  atomic_store(&g_nested_ran, 1);
}
static void spawning_fn(void *arg) {
  (void)arg;
  tt_wg *wg = tt_wg_make();
  if (tt_wg_go(wg, nested_child, NULL) > 0)
    tt_wg_wait(wg);
  tt_wg_free(wg);
}

static void blocking_main(void *arg) {
  (void)arg;
  atomic_store(&g_nested_ran, 0);
  test_runs_off_worker();
  test_syscall_state();
  test_many_calls();
  CHECK_EQ(tt_blocking(spawning_fn, NULL), TT_OK);
  CHECK_EQ(atomic_load(&g_nested_ran), 1);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(180);
  RUN_MAIN(2, blocking_main, NULL);
  RUN_MAIN(1, one_worker_main, NULL);
  RUN_MAIN(1, blocking_main, NULL);
  CHECK_EQ(tt_num_tasks(), 0);
  return TEST_REPORT();
}
