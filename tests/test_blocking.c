/*
 * test_blocking: tt_blocking offloads fn to a non-worker thread, shows the
 * caller as waiting in "syscall", and does not stall the worker.
 */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>

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

/* ---- quick calls are never starved by blocked ones ------------------------------------------ */

/* A call that blocks until released (a read nobody answers), and quick calls
 * submitted right beside it: each quick call must get a helper of its own
 * even when the pool has a single idle helper that has not woken yet. */
static atomic_int g_race_release;
static atomic_long g_race_quick_done, g_race_blocked_done;

static void race_blocked_fn(void *arg) {
  (void)arg;
  int64_t end = tt_test_mono_ns() + TT_MS(60000);
  while (!atomic_load(&g_race_release) && tt_test_mono_ns() < end)
    tt_test_sleep_ns(TT_US(100));
}

static void race_quick_fn(void *arg) { (void)arg; }

static void race_blocked_task(void *arg) {
  (void)arg;
  CHECK_EQ(tt_blocking(race_blocked_fn, NULL), TT_OK);
  atomic_fetch_add(&g_race_blocked_done, 1);
}

static void race_quick_task(void *arg) {
  (void)arg;
  CHECK_EQ(tt_blocking(race_quick_fn, NULL), TT_OK);
  atomic_fetch_add(&g_race_quick_done, 1);
}

/* Wait (parked) until *counter reaches want or timeout_ns passes. */
static int await_count(atomic_long *counter, long want, int64_t timeout_ns) {
  int64_t end = tt_test_mono_ns() + timeout_ns;
  while (atomic_load(counter) < want && tt_test_mono_ns() < end)
    tt_sleep(TT_US(200));
  return atomic_load(counter) >= want;
}

/* One cycle on a fresh pool: each round adds a call that stays blocked and
 * submits quick calls right beside it, so the pool keeps only a helper or
 * two idle while jobs arrive faster than they wake. Before the fix the
 * pool started no helper while one was idle, and a quick call queued
 * behind a blocked one waited until the blocked calls were released. */
static void race_main(void *arg) {
  (void)arg;
  enum { ROUNDS = 24, QUICK = 2 };
  atomic_store(&g_race_release, 0);
  atomic_store(&g_race_quick_done, 0);
  atomic_store(&g_race_blocked_done, 0);
  int stuck = 0;
  for (long r = 0; r < ROUNDS && !stuck; r++) {
    CHECK(tt_go(race_blocked_task, NULL) > 0);
    for (int i = 0; i < QUICK; i++)
      CHECK(tt_go(race_quick_task, NULL) > 0);
    /* the quick calls finish while every blocked call still holds a helper */
    stuck = !await_count(&g_race_quick_done, (r + 1) * QUICK, TT_MS(10000));
    CHECK_MSG(!stuck,
              "round %ld: a quick tt_blocking call waited behind blocked ones although the "
              "pool had room (%ld of %ld quick calls done)",
              r, atomic_load(&g_race_quick_done), (r + 1) * QUICK);
    CHECK_EQ(atomic_load(&g_race_blocked_done), 0);
  }
  atomic_store(&g_race_release, 1);
  long rounds = atomic_load(&g_race_quick_done) / QUICK;
  CHECK(await_count(&g_race_blocked_done, rounds + stuck, TT_MS(60000)));
  CHECK(await_count(&g_race_quick_done, (rounds + stuck) * QUICK, TT_MS(60000)));
  /* let the tasks that reported finish exiting before the runtime stops */
  while (tt_num_tasks() > 1)
    tt_sleep(TT_MS(1));
}

/* ---- bounded calls: tt_blocking_until, tt_blocking_ctx ----------------------------------------
 */

/* The call's state lives on the heap: it outlives the task's wait. */
typedef struct {
  atomic_int started, release, finished;
} slow_call;

static void slow_fn(void *arg) {
  slow_call *s = arg;
  atomic_store(&s->started, 1);
  int64_t end = tt_test_mono_ns() + TT_MS(30000);
  while (!atomic_load(&s->release) && tt_test_mono_ns() < end)
    tt_test_sleep_ns(TT_US(200));
  atomic_store(&s->finished, 1);
}

static void await_flag(atomic_int *flag) {
  int64_t end = tt_test_mono_ns() + TT_MS(30000);
  while (!atomic_load(flag) && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK(atomic_load(flag));
}

static tt_context *g_cancel_me;
static void canceller(void *arg) {
  (void)arg;
  tt_sleep(TT_MS(30));
  tt_cancel(g_cancel_me);
}

static void test_bounded(void) {
  /* the deadline passes while fn still runs: the task stops waiting */
  slow_call *s = calloc(1, sizeof *s);
  int64_t t0 = tt_test_mono_ns();
  CHECK_EQ(tt_blocking_until(slow_fn, s, tt_now() + TT_MS(50)), TT_ETIMEDOUT);
  int64_t took = tt_test_mono_ns() - t0;
  CHECK_MSG(took >= TT_MS(45) && took < TT_MS(10000), "returned after %.3f s", took / 1e9);
  CHECK_EQ(atomic_load(&s->finished), 0); /* fn is still running, on its own */
  atomic_store(&s->release, 1);
  await_flag(&s->finished); /* its return touches nothing of ours */
  tt_sleep(TT_MS(5));
  free(s);

  /* fn returns first: 0 */
  s = calloc(1, sizeof *s);
  atomic_store(&s->release, 1);
  CHECK_EQ(tt_blocking_until(slow_fn, s, tt_now() + TT_MS(30000)), TT_OK);
  CHECK_EQ(atomic_load(&s->finished), 1);
  CHECK_EQ(tt_blocking_until(slow_fn, s, TT_NO_DEADLINE), TT_OK);
  free(s);

  /* a context cancelled while fn runs */
  s = calloc(1, sizeof *s);
  g_cancel_me = tt_with_cancel(NULL);
  CHECK(tt_go(canceller, NULL) > 0);
  CHECK_EQ(tt_blocking_ctx(slow_fn, s, g_cancel_me), TT_ECANCELED);
  CHECK_EQ(atomic_load(&s->started), 1);
  CHECK_EQ(atomic_load(&s->finished), 0);
  atomic_store(&s->release, 1);
  await_flag(&s->finished);
  tt_sleep(TT_MS(5));
  free(s);
  /* ...and one already done: fn never starts */
  s = calloc(1, sizeof *s);
  CHECK_EQ(tt_blocking_ctx(slow_fn, s, g_cancel_me), TT_ECANCELED);
  CHECK_EQ(tt_context_release(g_cancel_me), TT_OK);
  /* a context's deadline bounds the call too */
  tt_context *tmo = tt_with_timeout(NULL, TT_MS(40));
  CHECK_EQ(tt_blocking_ctx(slow_fn, s, tmo), TT_ETIMEDOUT);
  CHECK_EQ(tt_context_release(tmo), TT_OK);
  atomic_store(&s->release, 1);
  await_flag(&s->finished);
  tt_sleep(TT_MS(5));
  free(s);
  s = calloc(1, sizeof *s);
  CHECK_EQ(tt_blocking_until(slow_fn, s, tt_now() - 1), TT_ETIMEDOUT); /* already past */
  tt_sleep(TT_MS(20));
  CHECK_EQ(atomic_load(&s->started), 0);
  free(s);

  CHECK_EQ(tt_blocking_until(NULL, NULL, TT_NO_DEADLINE), TT_EINVAL);
  CHECK_EQ(tt_blocking_ctx(NULL, NULL, tt_background()), TT_EINVAL);
  CHECK_EQ(tt_blocking_ctx(slow_fn, NULL, NULL), TT_EINVAL);
}

/* A pool of one helper: a second call queues behind a blocked one. */
static void one_helper_main(void *arg) {
  (void)arg;
  slow_call *s = calloc(1, sizeof *s);
  tt_context *ctx = tt_with_timeout(NULL, TT_MS(60));
  CHECK_EQ(tt_blocking_ctx(slow_fn, s, ctx), TT_ETIMEDOUT); /* its helper stays busy */
  tt_context_release(ctx);
  slow_call *q = calloc(1, sizeof *q);
  atomic_store(&q->release, 1);
  CHECK_EQ(tt_blocking_until(slow_fn, q, tt_now() + TT_MS(100)), TT_ETIMEDOUT);
  CHECK_EQ(atomic_load(&q->started), 0); /* queued: the only helper is taken */
  atomic_store(&s->release, 1);
  await_flag(&q->finished); /* then it runs */
  tt_sleep(TT_MS(5));
  free(s);
  free(q);
}

static void test_pool_size_config(void) {
  setenv("TT_BLOCKING_MAX", "4097", 1);
  CHECK_EQ(tt_init(NULL), TT_EINVAL);
  setenv("TT_BLOCKING_MAX", "0", 1);
  CHECK_EQ(tt_init(NULL), TT_EINVAL);
  setenv("TT_BLOCKING_MAX", "x", 1);
  CHECK_EQ(tt_init(NULL), TT_EINVAL);
  setenv("TT_BLOCKING_MAX", "1", 1);
  CHECK_EQ(tt_init(&(tt_config){2, 0}), TT_OK);
  CHECK_EQ(tt_main(one_helper_main, NULL), TT_OK);
  CHECK_EQ(tt_shutdown(), TT_OK);
  unsetenv("TT_BLOCKING_MAX");
  setenv("TT_SHUTDOWN_WAIT", "-1", 1);
  CHECK_EQ(tt_init(NULL), TT_EINVAL);
  setenv("TT_SHUTDOWN_WAIT", "86400001", 1);
  CHECK_EQ(tt_init(NULL), TT_EINVAL);
  setenv("TT_SHUTDOWN_WAIT", "5s", 1);
  CHECK_EQ(tt_init(NULL), TT_EINVAL);
  setenv("TT_SHUTDOWN_WAIT", "0", 1);
  CHECK_EQ(tt_init(NULL), TT_OK);
  CHECK_EQ(tt_shutdown(), TT_OK);
  unsetenv("TT_SHUTDOWN_WAIT");
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
  test_bounded();
  CHECK_EQ(tt_blocking(spawning_fn, NULL), TT_OK);
  CHECK_EQ(atomic_load(&g_nested_ran), 1);
}

/* ---- tt_shutdown names the blocking calls it waits for ------------------------------------ */

static int g_stuck_pipe[2];

static void read_one_byte(void *arg) {
  (void)arg;
  char c;
  while (read(g_stuck_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
}

static void stuck_caller(void *arg) {
  (void)arg;
  tt_blocking(read_one_byte, NULL);
}

static void *late_writer(void *arg) {
  (void)arg;
  tt_test_sleep_ns(TT_MS(2500)); /* well after the report, due at 1 s */
  ssize_t w = write(g_stuck_pipe[1], "x", 1);
  (void)w;
  return NULL;
}

/* In a child with its stderr captured: a call that blocks until a thread
 * writes to a pipe, 2.5 s into tt_shutdown. */
static void shutdown_with_stuck_call(void *arg) {
  (void)arg;
  if (pipe(g_stuck_pipe) != 0 || tt_init(NULL) != TT_OK)
    _exit(2);
  int64_t id = tt_go(stuck_caller, NULL);
  tt_test_task t = {0};
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  do
    tt_test_sleep_ns(TT_MS(1));
  while (tt_test_find_task(id, &t) &&
         (t.info.state != TT_TASK_WAITING || strcmp(t.wait_reason, "syscall") != 0) &&
         tt_test_mono_ns() < end);
  fprintf(stderr, "caller is task %lld\n", (long long)id);
  pthread_t th;
  if (pthread_create(&th, NULL, late_writer, NULL) != 0)
    _exit(3);
  int64_t t0 = tt_test_mono_ns();
  int rc = tt_shutdown();
  fprintf(stderr, "tt_shutdown returned %d after %lld ms\n", rc,
          (long long)((tt_test_mono_ns() - t0) / 1000000));
  pthread_join(th, NULL);
  _exit(rc == TT_OK ? 0 : 4);
}

static void test_shutdown_names_stuck_call(void) {
  char *err = NULL;
  int status = 0;
  CHECK_EQ(tt_test_capture_child(shutdown_with_stuck_call, NULL, &err, &status), 0);
  if (!err)
    return;
  CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d; stderr:\n%s", status,
            err);
  long long id = 0;
  const char *at = strstr(err, "caller is task ");
  CHECK(at && sscanf(at, "caller is task %lld", &id) == 1);
  char want[160];
  snprintf(want, sizeof want, "called by task %lld (stuck_caller, spawned at ", id);
  /* The function's name needs the symbolizer: the cross build's dladdr
   * fallback cannot name a static function. */
#if defined(__x86_64__)
  const char *fn = "read_one_byte() at 0x";
#else
  const char *fn = "() at 0x";
#endif
  CHECK_MSG(strstr(err, "tt_shutdown is waiting for 1 blocking call(s) to return") &&
                strstr(err, fn) && strstr(err, "running for ") && strstr(err, want) &&
                strstr(err, "test_blocking.c:"),
            "stderr:\n%s", err);
  /* and it still waited for the call: the report came before the return */
  const char *report = strstr(err, "tt_shutdown is waiting");
  const char *done = strstr(err, "tt_shutdown returned 0 after");
  CHECK(report && done && report < done);
  if (report && done)
    NOTE("the report: %.*s", (int)(done - report), report);
  long long ms = done ? atoll(done + strlen("tt_shutdown returned 0 after ")) : 0;
  CHECK_MSG(ms >= 2000, "tt_shutdown returned after %lld ms, before the call did", ms);
  free(err);
}

/* ---- ... and after TT_SHUTDOWN_WAIT returns, leaving them running --------------------------- */

static int g_pipe_a[2], g_pipe_b[2];
static atomic_int g_late_returns;

/* Reads one byte into the caller's buffer, which lives on the calling
 * task's stack: the stack must stay mapped after the shutdown abandons the
 * call. */
static void read_into_task_stack(void *arg) {
  char *buf = arg;
  while (read(g_pipe_a[0], buf, 1) < 0 && errno == EINTR) {
  }
  buf[1] = '!';
  atomic_fetch_add(&g_late_returns, 1);
}

static void read_pipe_b(void *arg) {
  (void)arg;
  char c;
  while (read(g_pipe_b[0], &c, 1) < 0 && errno == EINTR) {
  }
  atomic_fetch_add(&g_late_returns, 1);
}

static void nothing(void *arg) { (void)arg; }

static void caller_a(void *arg) {
  (void)arg;
  char buf[2] = {0};
  tt_blocking(read_into_task_stack, buf);
}

static void caller_b(void *arg) {
  (void)arg;
  tt_blocking_until(read_pipe_b, NULL, TT_NO_DEADLINE);
}

static void caller_queued(void *arg) {
  (void)arg;
  tt_blocking(nothing, NULL); /* both helpers are taken: it waits in the queue */
}

static int g_after_restart = -1;
static void after_restart(void *arg) {
  (void)arg;
  g_after_restart = tt_blocking(nothing, NULL);
}

static void wait_syscall(int64_t id) {
  tt_test_task t = {0};
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  do
    tt_test_sleep_ns(TT_MS(1));
  while (tt_test_find_task(id, &t) &&
         (t.info.state != TT_TASK_WAITING || strcmp(t.wait_reason, "syscall") != 0) &&
         tt_test_mono_ns() < end);
}

/* In a child: two helpers stuck (one in a plain call using its task's
 * stack, one in a bounded call) and a third call queued behind them, with
 * TT_SHUTDOWN_WAIT=1500. */
static void shutdown_abandoning(void *arg) {
  (void)arg;
  setenv("TT_SHUTDOWN_WAIT", "1500", 1);
  setenv("TT_BLOCKING_MAX", "2", 1);
  if (pipe(g_pipe_a) != 0 || pipe(g_pipe_b) != 0 || tt_init(NULL) != TT_OK)
    _exit(2);
  wait_syscall(tt_go(caller_a, NULL));
  wait_syscall(tt_go(caller_b, NULL));
  wait_syscall(tt_go(caller_queued, NULL));
  int64_t t0 = tt_test_mono_ns();
  int rc = tt_shutdown();
  fprintf(stderr, "tt_shutdown returned %d after %lld ms\n", rc,
          (long long)((tt_test_mono_ns() - t0) / 1000000));
  /* A new runtime gets helpers of its own: the pool's two slots are not
   * taken by the abandoned ones. */
  unsetenv("TT_SHUTDOWN_WAIT");
  int mrc = tt_main(after_restart, NULL);
  fprintf(stderr, "restart: tt_main %d, tt_blocking %d\n", mrc, g_after_restart);
  /* The abandoned calls return now; their helpers must touch nothing. */
  if (write(g_pipe_a[1], "x", 1) != 1 || write(g_pipe_b[1], "y", 1) != 1)
    _exit(5);
  int64_t end = tt_test_mono_ns() + TT_MS(5000);
  while (atomic_load(&g_late_returns) < 2 && tt_test_mono_ns() < end)
    tt_test_sleep_ns(TT_MS(5));
  tt_test_sleep_ns(TT_MS(100)); /* the helpers exit */
  fprintf(stderr, "late returns: %d\n", atomic_load(&g_late_returns));
  _exit(rc == TT_OK && mrc == TT_OK ? 0 : 4);
}

static void test_shutdown_abandons_stuck_calls(void) {
  char *err = NULL;
  int status = 0;
  CHECK_EQ(tt_test_capture_child(shutdown_abandoning, NULL, &err, &status), 0);
  if (!err)
    return;
  CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d; stderr:\n%s", status,
            err);
  CHECK_MSG(strstr(err, "tt_shutdown is waiting for 3 blocking call(s) to return"), "stderr:\n%s",
            err);
  CHECK_MSG(strstr(err, "tt_shutdown stopped waiting after 1.5 s (TT_SHUTDOWN_WAIT): 2 blocking "
                        "call(s) left running"),
            "stderr:\n%s", err);
  const char *done = strstr(err, "tt_shutdown returned 0 after ");
  long long ms = done ? atoll(done + strlen("tt_shutdown returned 0 after ")) : -1;
  CHECK_MSG(ms >= 1400 && ms < 4000, "tt_shutdown returned after %lld ms, want about 1500", ms);
  CHECK_MSG(strstr(err, "restart: tt_main 0, tt_blocking 0"), "stderr:\n%s", err);
  CHECK_MSG(strstr(err, "late returns: 2"), "stderr:\n%s", err);
  free(err);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(180);
  test_shutdown_names_stuck_call(); /* first: it forks, and no helper thread runs yet */
  test_shutdown_abandons_stuck_calls();
  RUN_MAIN(2, blocking_main, NULL);
  RUN_MAIN(1, one_worker_main, NULL);
  RUN_MAIN(1, blocking_main, NULL);
  test_pool_size_config();
  CHECK_EQ(tt_blocking_until(slow_fn, NULL, TT_NO_DEADLINE), TT_ENOTASK);
  long cycles = tt_test_scale_min(60, 8);
  int64_t t0 = tt_test_mono_ns();
  for (long c = 0; c < cycles && !tt_test_failures(); c++) {
    RUN_MAIN(2, race_main, NULL);
    RUN_MAIN(1, race_main, NULL);
  }
  NOTE("%ld cycles of quick tt_blocking calls beside blocked ones in %.3f s", cycles,
       (tt_test_mono_ns() - t0) / 1e9);
  CHECK_EQ(tt_num_tasks(), 0);
  return TEST_REPORT();
}
