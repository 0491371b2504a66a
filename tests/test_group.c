/*
 * test_group: task groups (errgroup with a bound and leak reports).
 *
 *  - every task runs, tt_group_wait returns 0 after all of them returned;
 *    tasks get the group's context;
 *  - the first error is returned, cancels the group's context, the other
 *    tasks see it through their ctx argument and stop early; wait still
 *    waits for all of them;
 *  - tt_group_go on a cancelled group returns TT_ECANCELED and never runs
 *    fn (also when the cancel comes while it waits for a slot);
 *  - limit: never more than `limit` running; tt_group_go waits for a slot;
 *    from a plain thread it cannot wait (TT_ENOTASK);
 *  - cancelling (or the deadline of) the parent cancels the group;
 *  - tt_group_destroy cancels and returns 0 promptly when tasks honour
 *    their context; with a task stuck on a channel it returns TT_ELEAKED
 *    after about the grace period and reports the stuck task (its spawn
 *    site and wait reason) on stderr (checked in a child process);
 *  - no lost cancels from groups.
 *
 * Every scenario runs on 1 and on 2 workers.
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <sys/wait.h>

#define PROMPT (TT_TEST_SANITIZED ? TT_MS(4000) : TT_MS(1000))
#define LONG_NS TT_MS(60000)

static int g_procs;

static void join_fn(void *arg) { pthread_join(*(pthread_t *)arg, NULL); }

typedef struct {
  tt_group *g;
  atomic_int ran;
  atomic_int finished;
  atomic_int running;
  atomic_int max_running;
  atomic_int saw_cancel;
  atomic_int wrong_ctx;
  atomic_int flag_ran;
  tt_chan *gate;
  tt_chan *gate2;
  tt_chan *never;
} gstate;

static gstate *gs_new(void) {
  gstate *s = calloc(1, sizeof *s);
  s->gate = tt_chan_make(sizeof(int), 0);
  s->gate2 = tt_chan_make(sizeof(int), 0);
  s->never = tt_chan_make(sizeof(int), 0);
  return s;
}
static void gs_free(gstate *s) {
  tt_chan_unref(s->gate);
  tt_chan_unref(s->gate2);
  tt_chan_unref(s->never);
  free(s);
}

static void enter(gstate *s) {
  int r = atomic_fetch_add(&s->running, 1) + 1;
  int m = atomic_load(&s->max_running);
  while (r > m && !atomic_compare_exchange_weak(&s->max_running, &m, r)) {
  }
}
static void leave(gstate *s) {
  atomic_fetch_sub(&s->running, 1);
  atomic_fetch_add(&s->finished, 1);
}

static void check_ctx(gstate *s, tt_context *ctx) {
  if (!ctx || tt_context_done(ctx) != tt_context_done(tt_group_context(s->g)))
    atomic_fetch_add(&s->wrong_ctx, 1);
}

static int ok_fn(tt_context *ctx, void *arg) {
  gstate *s = arg;
  enter(s);
  check_ctx(s, ctx);
  atomic_fetch_add(&s->ran, 1);
  if (atomic_load(&s->ran) % 3 == 0)
    tt_yield();
  if (atomic_load(&s->ran) % 5 == 0)
    tt_sleep(TT_US(200));
  leave(s);
  return 0;
}

static int flag_fn(tt_context *ctx, void *arg) {
  (void)ctx;
  gstate *s = arg;
  atomic_store(&s->flag_ran, 1);
  return 0;
}

/* ---- all run ------------------------------------------------------------------------- */

static void test_all_run(void) {
  NOTE("all tasks run");
  int64_t lost0 = tt_context_lost_cancels();
  gstate *s = gs_new();
  s->g = tt_group_make(NULL, 0);
  CHECK(s->g != NULL);
  if (!s->g)
    return;
  tt_context *gc = tt_group_context(s->g);
  CHECK(gc != NULL);
  CHECK_EQ(tt_context_err(gc), 0);
  CHECK_EQ(tt_context_deadline(gc), TT_NO_DEADLINE);
  int64_t prev = 0;
  for (int i = 0; i < 100; i++) {
    int64_t id = tt_group_go(s->g, ok_fn, s);
    CHECK(id > prev);
    prev = id;
  }
  CHECK_EQ(tt_group_wait(s->g), 0);
  CHECK_EQ(atomic_load(&s->ran), 100);
  CHECK_EQ(atomic_load(&s->finished), 100);
  CHECK_EQ(atomic_load(&s->wrong_ctx), 0);
  CHECK_EQ(tt_group_go(s->g, NULL, s), TT_EINVAL);
  CHECK_EQ(tt_group_destroy(s->g, PROMPT), 0);
  gs_free(s);

  CHECK(tt_group_make(NULL, -1) == NULL); /* bad limit */

  /* an empty group */
  tt_group *g = tt_group_make(tt_background(), 0);
  int64_t t0 = tt_now();
  CHECK_EQ(tt_group_wait(g), 0);
  CHECK_EQ(tt_group_destroy(g, LONG_NS), 0);
  CHECK(tt_now() - t0 < PROMPT);

  /* destroy without wait, after the tasks are done */
  s = gs_new();
  s->g = tt_group_make(NULL, 0);
  for (int i = 0; i < 20; i++)
    CHECK(tt_group_go(s->g, ok_fn, s) > 0);
  int64_t end = tt_test_mono_ns() + PROMPT;
  while (atomic_load(&s->finished) < 20 && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK_EQ(tt_group_destroy(s->g, PROMPT), 0);
  CHECK_EQ(atomic_load(&s->ran), 20);
  gs_free(s);
  CHECK_EQ(tt_context_lost_cancels(), lost0);
}

/* ---- first error -------------------------------------------------------------------------- */

/* fails when the test sends on s->gate */
static int fail_fast(tt_context *ctx, void *arg) {
  gstate *s = arg;
  enter(s);
  check_ctx(s, ctx);
  int v;
  tt_chan_recv(s->gate, &v);
  leave(s);
  return -1000;
}

/* ignores the context: fails 50 ms after the test sends on s->gate2 */
static int fail_late(tt_context *ctx, void *arg) {
  gstate *s = arg;
  (void)ctx;
  enter(s);
  int v;
  tt_chan_recv(s->gate2, &v);
  tt_sleep(TT_MS(50));
  leave(s);
  return -2000;
}

/* let fail_fast fail, and wait until the group's context shows it */
static void trigger_failure(gstate *s) {
  int one = 1;
  CHECK_EQ(tt_chan_send(s->gate, &one), 0);
  int64_t end = tt_test_mono_ns() + PROMPT;
  while (tt_context_err(tt_group_context(s->g)) == 0 && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK_EQ(tt_context_err(tt_group_context(s->g)), TT_ECANCELED);
}

static int cooperative(tt_context *ctx, void *arg) {
  gstate *s = arg;
  enter(s);
  check_ctx(s, ctx);
  int64_t end = tt_now() + LONG_NS;
  while (tt_now() < end && tt_sleep_ctx(TT_MS(5), ctx) == 0) {
  }
  int err = tt_context_err(ctx);
  if (err != 0)
    atomic_fetch_add(&s->saw_cancel, 1);
  leave(s);
  return err;
}

static void test_first_error(void) {
  NOTE("first error");
  int64_t lost0 = tt_context_lost_cancels();
  gstate *s = gs_new();
  s->g = tt_group_make(NULL, 0);
  enum { NC = 20 };
  for (int i = 0; i < NC / 2; i++)
    CHECK(tt_group_go(s->g, cooperative, s) > 0);
  CHECK(tt_group_go(s->g, fail_fast, s) > 0);
  CHECK(tt_group_go(s->g, fail_late, s) > 0);
  for (int i = 0; i < NC / 2; i++)
    CHECK(tt_group_go(s->g, cooperative, s) > 0);
  tt_sleep(TT_MS(10));
  CHECK_EQ(atomic_load(&s->finished), 0);
  trigger_failure(s);
  int64_t t0 = tt_now();
  int one = 1;
  CHECK_EQ(tt_chan_send(s->gate2, &one), 0);
  CHECK_EQ(tt_group_wait(s->g), -1000);
  int64_t took = tt_now() - t0;
  /* wait returned after every task, the slow failing one included */
  CHECK_EQ(atomic_load(&s->finished), NC + 2);
  CHECK_EQ(atomic_load(&s->saw_cancel), NC);
  CHECK(took >= TT_MS(50));
  CHECK_MSG(took < TT_MS(50) + PROMPT, "group with a failing task took %" PRId64 " ms",
            took / 1000000);
  CHECK_EQ(atomic_load(&s->wrong_ctx), 0);
  tt_context *gc = tt_group_context(s->g);
  CHECK_EQ(tt_context_err(gc), TT_ECANCELED);
  CHECK_EQ(tt_chan_try_recv(tt_context_done(gc), NULL), TT_ECLOSED);
  const char *m = NULL;
  CHECK_EQ(tt_context_cause(gc, &m), -1000); /* the error is the cause */
  NOTE("group context cause message: \"%s\"", m ? m : "(null)");

  /* go after the cancellation: not run */
  CHECK_EQ(tt_group_go(s->g, flag_fn, s), TT_ECANCELED);
  tt_sleep(TT_MS(10));
  CHECK_EQ(atomic_load(&s->flag_ran), 0);
  CHECK_EQ(tt_group_destroy(s->g, PROMPT), 0);
  gs_free(s);

  /* a limited group behaves the same */
  s = gs_new();
  s->g = tt_group_make(NULL, 4);
  for (int i = 0; i < 3; i++)
    CHECK(tt_group_go(s->g, cooperative, s) > 0);
  CHECK(tt_group_go(s->g, fail_fast, s) > 0);
  trigger_failure(s);
  CHECK_EQ(tt_group_wait(s->g), -1000);
  CHECK_EQ(atomic_load(&s->saw_cancel), 3);
  CHECK_EQ(tt_group_go(s->g, flag_fn, s), TT_ECANCELED);
  CHECK_EQ(tt_group_destroy(s->g, PROMPT), 0);
  CHECK_EQ(atomic_load(&s->flag_ran), 0);
  gs_free(s);
  CHECK_EQ(tt_context_lost_cancels(), lost0);
}

/* ---- limit -------------------------------------------------------------------------------------
 */

static int limited(tt_context *ctx, void *arg) {
  gstate *s = arg;
  enter(s);
  check_ctx(s, ctx);
  atomic_fetch_add(&s->ran, 1);
  tt_sleep(TT_MS(2));
  tt_yield();
  leave(s);
  return 0;
}

/* holds its slot until it receives from the gate (or the group is cancelled) */
static int gated(tt_context *ctx, void *arg) {
  gstate *s = arg;
  enter(s);
  int rc = tt_chan_recv_ctx(s->gate, NULL, ctx);
  leave(s);
  return rc == 0 ? 0 : tt_context_err(ctx);
}

typedef struct {
  gstate *s;
  int64_t rc;
  atomic_int returned;
  int64_t t_ret;
} go_call;

static void go_caller(void *arg) {
  go_call *c = arg;
  c->rc = tt_group_go(c->s->g, flag_fn, c->s);
  c->t_ret = tt_now();
  atomic_store(&c->returned, 1);
}

static void *plain_go_full(void *arg) {
  gstate *s = arg;
  CHECK_EQ(tt_group_go(s->g, flag_fn, s), TT_ENOTASK);
  return NULL;
}

static void *plain_go_unlimited(void *arg) {
  gstate *s = arg;
  int64_t id = tt_group_go(s->g, ok_fn, s);
  CHECK(id > 0);
  return NULL;
}

static void test_limit(void) {
  NOTE("limit");
  int64_t lost0 = tt_context_lost_cancels();
  for (int limit = 1; limit <= 3; limit++) {
    gstate *s = gs_new();
    s->g = tt_group_make(NULL, limit);
    for (int i = 0; i < 30; i++)
      CHECK(tt_group_go(s->g, limited, s) > 0);
    CHECK_EQ(tt_group_wait(s->g), 0);
    CHECK_EQ(atomic_load(&s->ran), 30);
    CHECK_MSG(atomic_load(&s->max_running) <= limit, "limit %d: %d ran at once", limit,
              atomic_load(&s->max_running));
    CHECK(atomic_load(&s->max_running) >= 1);
    NOTE("procs %d, limit %d: at most %d at once", g_procs, limit, atomic_load(&s->max_running));
    CHECK_EQ(tt_group_destroy(s->g, PROMPT), 0);
    gs_free(s);
  }

  /* go waits for a slot */
  gstate *s = gs_new();
  s->g = tt_group_make(NULL, 2);
  CHECK(tt_group_go(s->g, gated, s) > 0);
  CHECK(tt_group_go(s->g, gated, s) > 0);
  int64_t end = tt_test_mono_ns() + PROMPT;
  while (atomic_load(&s->running) < 2 && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK_EQ(atomic_load(&s->running), 2);
  go_call gc = {s, 0, 0, 0};
  tt_wg *wg = tt_wg_make();
  CHECK(tt_wg_go(wg, go_caller, &gc) > 0);
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, plain_go_full, s), 0); /* cannot wait on a plain thread */
  CHECK_EQ(tt_blocking(join_fn, &th), TT_OK);
  tt_sleep(TT_MS(30));
  CHECK_EQ(atomic_load(&gc.returned), 0);
  CHECK_EQ(atomic_load(&s->flag_ran), 0);
  CHECK_EQ(atomic_load(&s->running), 2);
  int one = 1;
  int64_t t_free = tt_now();
  CHECK_EQ(tt_chan_send(s->gate, &one), 0); /* one slot frees */
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK(gc.rc > 0);
  CHECK(gc.t_ret >= t_free);
  CHECK(gc.t_ret - t_free < PROMPT);
  CHECK_EQ(tt_chan_send(s->gate, &one), 0);
  CHECK_EQ(tt_group_wait(s->g), 0);
  CHECK_EQ(atomic_load(&s->flag_ran), 1);
  CHECK_EQ(tt_group_destroy(s->g, PROMPT), 0);
  gs_free(s);

  /* the group is cancelled (through its parent) while go waits for a slot */
  tt_context *parent = tt_with_cancel(NULL);
  s = gs_new();
  s->g = tt_group_make(parent, 1);
  CHECK(tt_group_go(s->g, gated, s) > 0);
  go_call gc2 = {s, 0, 0, 0};
  CHECK(tt_wg_go(wg, go_caller, &gc2) > 0);
  tt_sleep(TT_MS(20));
  CHECK_EQ(atomic_load(&gc2.returned), 0);
  CHECK_EQ(tt_cancel(parent), 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(gc2.rc, TT_ECANCELED);
  CHECK_EQ(tt_group_wait(s->g), TT_ECANCELED);
  tt_sleep(TT_MS(5));
  CHECK_EQ(atomic_load(&s->flag_ran), 0);
  CHECK_EQ(tt_group_destroy(s->g, PROMPT), 0);
  CHECK_EQ(tt_context_release(parent), 0);
  gs_free(s);

  /* limit 0: go from a plain thread is fine */
  s = gs_new();
  s->g = tt_group_make(NULL, 0);
  CHECK_EQ(pthread_create(&th, NULL, plain_go_unlimited, s), 0);
  CHECK_EQ(tt_blocking(join_fn, &th), TT_OK);
  CHECK_EQ(tt_group_wait(s->g), 0);
  CHECK_EQ(atomic_load(&s->ran), 1);
  CHECK_EQ(tt_group_destroy(s->g, PROMPT), 0);
  gs_free(s);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  CHECK_EQ(tt_context_lost_cancels(), lost0);
}

/* ---- parent cancellation
 * -------------------------------------------------------------------------- */

static int wait_done(tt_context *ctx, void *arg) {
  gstate *s = arg;
  enter(s);
  check_ctx(s, ctx);
  int rc = tt_chan_recv(tt_context_done(ctx), NULL); /* closed when the group is cancelled */
  if (rc == TT_ECLOSED && tt_context_err(ctx) != 0)
    atomic_fetch_add(&s->saw_cancel, 1);
  leave(s);
  return tt_context_err(ctx);
}

static void test_parent_cancel(void) {
  NOTE("parent cancellation");
  int64_t lost0 = tt_context_lost_cancels();
  tt_context *parent = tt_with_cancel(NULL);
  gstate *s = gs_new();
  s->g = tt_group_make(parent, 0);
  for (int i = 0; i < 10; i++)
    CHECK(tt_group_go(s->g, wait_done, s) > 0);
  tt_sleep(TT_MS(20));
  CHECK_EQ(atomic_load(&s->finished), 0);
  CHECK_EQ(tt_context_err(tt_group_context(s->g)), 0);
  int64_t t0 = tt_now();
  CHECK_EQ(tt_cancel_cause(parent, -77, "parent gone"), 0);
  CHECK_EQ(tt_group_wait(s->g), TT_ECANCELED);
  CHECK(tt_now() - t0 < PROMPT);
  CHECK_EQ(atomic_load(&s->saw_cancel), 10);
  CHECK_EQ(tt_context_err(tt_group_context(s->g)), TT_ECANCELED);
  CHECK_EQ(tt_context_cause(tt_group_context(s->g), NULL), -77);
  CHECK_EQ(tt_group_go(s->g, flag_fn, s), TT_ECANCELED);
  CHECK_EQ(tt_group_destroy(s->g, PROMPT), 0);
  CHECK_EQ(atomic_load(&s->flag_ran), 0);
  gs_free(s);
  CHECK_EQ(tt_context_release(parent), 0);

  /* the parent's deadline */
  parent = tt_with_timeout(NULL, TT_MS(300)); /* room for three spawns on a loaded machine */
  s = gs_new();
  s->g = tt_group_make(parent, 3);
  CHECK_EQ(tt_context_deadline(tt_group_context(s->g)), tt_context_deadline(parent));
  for (int i = 0; i < 3; i++)
    CHECK(tt_group_go(s->g, wait_done, s) > 0);
  CHECK_EQ(tt_group_wait(s->g), TT_ETIMEDOUT);
  CHECK(tt_now() >= tt_context_deadline(parent));
  CHECK_EQ(atomic_load(&s->saw_cancel), 3);
  CHECK_EQ(tt_group_destroy(s->g, PROMPT), 0);
  gs_free(s);
  CHECK_EQ(tt_context_release(parent), 0);

  /* a group made under an already cancelled parent runs nothing */
  parent = tt_with_cancel(NULL);
  tt_cancel(parent);
  s = gs_new();
  s->g = tt_group_make(parent, 0);
  CHECK(s->g != NULL);
  CHECK_EQ(tt_context_err(tt_group_context(s->g)), TT_ECANCELED);
  CHECK_EQ(tt_group_go(s->g, flag_fn, s), TT_ECANCELED);
  int w = tt_group_wait(s->g);
  NOTE("wait on a group that never ran anything, parent cancelled: %d", w);
  CHECK_EQ(tt_group_destroy(s->g, PROMPT), 0);
  CHECK_EQ(atomic_load(&s->flag_ran), 0);
  gs_free(s);
  CHECK_EQ(tt_context_release(parent), 0);

  /* nested: an inner group under an outer task's context */
  CHECK_EQ(tt_context_lost_cancels(), lost0);
}

/* nested groups: an error in the outer group cancels an inner group's tasks */
static gstate *g_inner_state;
static int outer_with_inner(tt_context *ctx, void *arg) {
  (void)arg;
  gstate *in = g_inner_state;
  in->g = tt_group_make(ctx, 2);
  for (int i = 0; i < 5; i++)
    tt_group_go(in->g, cooperative, in);
  int rc = tt_group_wait(in->g);
  int d = tt_group_destroy(in->g, PROMPT);
  return rc == TT_ECANCELED && d == 0 ? 0 : -555;
}

static void test_nested(void) {
  NOTE("nested groups");
  gstate *out = gs_new();
  g_inner_state = gs_new();
  out->g = tt_group_make(NULL, 0);
  CHECK(tt_group_go(out->g, outer_with_inner, out) > 0);
  CHECK(tt_group_go(out->g, fail_fast, out) > 0);
  int64_t end = tt_test_mono_ns() + PROMPT;
  while (atomic_load(&g_inner_state->running) < 2 && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK_EQ(atomic_load(&g_inner_state->running), 2);
  trigger_failure(out);
  CHECK_EQ(tt_group_wait(out->g), -1000);
  /* limit 2 of 5: two ran and saw the cancel; the rest were refused */
  CHECK_EQ(atomic_load(&g_inner_state->saw_cancel), 2);
  CHECK_EQ(atomic_load(&g_inner_state->finished), 2);
  CHECK(atomic_load(&g_inner_state->max_running) <= 2);
  CHECK_EQ(tt_group_destroy(out->g, PROMPT), 0);
  gs_free(out);
  gs_free(g_inner_state);
}

/* ---- destroy
 * ---------------------------------------------------------------------------------------- */

static int block_on_never_ctx(tt_context *ctx, void *arg) {
  gstate *s = arg;
  enter(s);
  int rc = (atomic_load(&s->ran) % 2) ? tt_chan_recv_ctx(s->never, NULL, ctx)
                                      : tt_sleep_ctx(LONG_NS, ctx);
  atomic_fetch_add(&s->ran, 1);
  if (rc == TT_ECANCELED)
    atomic_fetch_add(&s->saw_cancel, 1);
  leave(s);
  return rc;
}

static void test_destroy_prompt(void) {
  NOTE("destroy, cooperative tasks");
  int64_t lost0 = tt_context_lost_cancels();
  int64_t tasks0 = tt_num_tasks();
  gstate *s = gs_new();
  s->g = tt_group_make(NULL, 0);
  for (int i = 0; i < 8; i++)
    CHECK(tt_group_go(s->g, block_on_never_ctx, s) > 0);
  tt_sleep(TT_MS(10));
  CHECK_EQ(atomic_load(&s->finished), 0);
  int64_t t0 = tt_now();
  CHECK_EQ(tt_group_destroy(s->g, LONG_NS), 0);
  int64_t took = tt_now() - t0;
  CHECK_MSG(took < PROMPT, "destroy took %" PRId64 " ms", took / 1000000);
  CHECK_EQ(atomic_load(&s->finished), 8);
  CHECK_EQ(atomic_load(&s->saw_cancel), 8);
  int64_t end = tt_test_mono_ns() + PROMPT;
  while (tt_num_tasks() > tasks0 && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK_EQ(tt_num_tasks(), tasks0);
  gs_free(s);
  CHECK_EQ(tt_context_lost_cancels(), lost0);
}

/* ---- the leak report, in a child process
 * --------------------------------------------------------------
 *
 * The child runs leak_main under tt_main and writes "RESULT ..." on
 * stderr; everything else it prints there is the runtime's report. */

#define LEAK_GRACE TT_MS(150)

static int stuck_recv_line; /* where stuck_on_chan blocks, for the stack check */

static int stuck_on_chan(tt_context *ctx, void *arg) {
  (void)ctx;
  int v;
  stuck_recv_line = __LINE__ + 1;
  tt_chan_recv(arg, &v); /* ignores the context: nobody sends */
  return 0;
}

static int polite(tt_context *ctx, void *arg) {
  (void)arg;
  tt_sleep_ctx(LONG_NS, ctx);
  return 0;
}

static void leak_main(void *arg) {
  (void)arg;
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  tt_group *g = tt_group_make(NULL, 0);
  int64_t tasks0 = tt_num_tasks();
  int64_t stuck = tt_group_go(g, stuck_on_chan, c);
  int stuck_line = __LINE__ - 1;
  int64_t nice = tt_group_go(g, polite, NULL);
  int polite_line = __LINE__ - 1;
  tt_test_task t;
  int parked = tt_test_await_wait_reason(stuck, "chan receive", TT_MS(5000), &t);
  int64_t t0 = tt_now();
  int rc = tt_group_destroy(g, LEAK_GRACE);
  int64_t took = tt_now() - t0;
  fflush(stderr);
  fprintf(stderr,
          "\nRESULT rc=%d took_us=%lld stuck_line=%d polite_line=%d parked=%d recv_line=%d "
          "ids=%lld,%lld\n",
          rc, (long long)(took / 1000), stuck_line, polite_line, parked, stuck_recv_line,
          (long long)stuck, (long long)nice);
  fflush(stderr);
  /* let the leaked task finish: it must be able to, and clean up after itself */
  int v = 1;
  tt_chan_send(c, &v);
  int64_t end = tt_test_mono_ns() + TT_MS(5000);
  while (tt_num_tasks() > tasks0 && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  fprintf(stderr, "AFTER tasks=%lld of %lld\n", (long long)tt_num_tasks(), (long long)tasks0);
  tt_chan_unref(c);
}

static int run_self(const char *mode, const char *procs, char **err_out, int *status) {
  char procs_kv[32];
  snprintf(procs_kv, sizeof procs_kv, "TT_PROCS=%s", procs);
  return tt_test_run_self("test_group", mode, procs_kv, err_out, status);
}

static void test_leak_report(const char *procs) {
  NOTE("destroy with a stuck task (child process, TT_PROCS=%s)", procs);
  char *err = NULL;
  int status = 0;
  CHECK_EQ(run_self("--leak-child", procs, &err, &status), 0);
  if (!err)
    return;
  CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x; stderr:\n%s", status,
            err);
  const char *res = strstr(err, "\nRESULT ");
  CHECK_MSG(res != NULL, "no RESULT line; stderr:\n%s", err);
  if (!res) {
    free(err);
    return;
  }
  int rc = 0, stuck_line = 0, polite_line = 0, parked = 0, recv_line = 0;
  long long took_us = 0;
  CHECK_EQ(sscanf(res + 1,
                  "RESULT rc=%d took_us=%lld stuck_line=%d polite_line=%d parked=%d recv_line=%d",
                  &rc, &took_us, &stuck_line, &polite_line, &parked, &recv_line),
           6);
  CHECK_EQ(parked, 1);
  CHECK_EQ(rc, TT_ELEAKED);
  CHECK_MSG(took_us * 1000 >= LEAK_GRACE, "destroy returned after %lld us, grace %lld us", took_us,
            (long long)(LEAK_GRACE / 1000));
  CHECK_MSG(took_us * 1000 < LEAK_GRACE + PROMPT, "destroy returned after %lld us", took_us);
  /* the report comes before RESULT */
  size_t report_len = (size_t)(res - err);
  char *report = strndup(err, report_len);
  char site[64], polite_site[64];
  snprintf(site, sizeof site, "test_group.c:%d", stuck_line);
  snprintf(polite_site, sizeof polite_site, "test_group.c:%d", polite_line);
  CHECK_MSG(strstr(report, "test_group.c") != NULL, "no spawn file in the report:\n%s", report);
  CHECK_MSG(strstr(report, site) != NULL, "no \"%s\" in the report:\n%s", site, report);
  CHECK_MSG(strstr(report, "chan receive") != NULL, "no wait reason in the report:\n%s", report);
  CHECK_MSG(strstr(report, polite_site) == NULL, "the task that exited is reported too:\n%s",
            report);
  /* ...with its stack: the blocked task's own frame and line come first */
  char frame[96];
  snprintf(frame, sizeof frame, "    stuck_on_chan\n\t%s:%d", __FILE__, recv_line);
  CHECK_MSG(strstr(report, frame) != NULL, "no frame \"%s\" in the report:\n%s", frame, report);
  NOTE("leak report:\n%s", report);
  const char *after = strstr(res, "AFTER tasks=");
  long long left = -1, base = -1;
  if (after)
    sscanf(after, "AFTER tasks=%lld of %lld", &left, &base);
  CHECK_MSG(after && left == base, "the leaked task did not finish after being unblocked: %s",
            after ? after : "(no AFTER line)");
  free(report);
  free(err);
}

/* ---- failures with a message ---------------------------------------------- */

static tt_group *g_failing;

static int waits_for_cancel(tt_context *ctx, void *arg) {
  (void)arg;
  CHECK_EQ(tt_chan_recv(tt_context_done(ctx), NULL), TT_ECLOSED);
  return 0;
}

static int fails_with_message(tt_context *ctx, void *arg) {
  (void)ctx;
  const char *url = arg;
  return tt_group_fail(g_failing, 42, "fetch %s: %s (%d tries)", url, "connection refused", 3);
}

static int fails_plain(tt_context *ctx, void *arg) {
  (void)ctx, (void)arg;
  return TT_ETIMEDOUT;
}

static int fails_own_code(tt_context *ctx, void *arg) {
  (void)ctx, (void)arg;
  return 5;
}

static void test_fail_message(void) {
  NOTE("failures with a message");
  /* A formatted failure: tt_group_wait's code, the message, the cause. */
  g_failing = tt_group_make(NULL, 0);
  CHECK(tt_group_error(g_failing) == NULL);
  CHECK(tt_group_go(g_failing, waits_for_cancel, NULL) > 0);
  CHECK(tt_group_go(g_failing, fails_with_message, "http://example.invalid/a") > 0);
  CHECK_EQ(tt_group_wait(g_failing), 42);
  const char *want = "fetch http://example.invalid/a: connection refused (3 tries)";
  CHECK(tt_group_error(g_failing) && strcmp(tt_group_error(g_failing), want) == 0);
  const char *cause = NULL;
  CHECK_EQ(tt_context_cause(tt_group_context(g_failing), &cause), 42);
  CHECK(cause && strcmp(cause, want) == 0);
  /* Later failures change nothing. */
  CHECK_EQ(tt_group_fail(g_failing, 7, "too late"), 7);
  CHECK_EQ(tt_group_wait(g_failing), 42);
  CHECK(strcmp(tt_group_error(g_failing), want) == 0);
  CHECK_EQ(tt_group_destroy(g_failing, PROMPT), 0);

  /* A task that just returns a code: the message names it. */
  tt_group *g = tt_group_make(NULL, 0);
  int64_t id = tt_group_go(g, fails_plain, NULL);
  CHECK(id > 0);
  CHECK_EQ(tt_group_wait(g), TT_ETIMEDOUT);
  char expect[200];
  snprintf(expect, sizeof expect, "task %lld (fails_plain) returned %d: %s", (long long)id,
           TT_ETIMEDOUT, tt_strerror(TT_ETIMEDOUT));
  CHECK_MSG(tt_group_error(g) && strcmp(tt_group_error(g), expect) == 0, "message: \"%s\"",
            tt_group_error(g) ? tt_group_error(g) : "(null)");
  CHECK_EQ(tt_group_destroy(g, PROMPT), 0);
  /* The caller's own code: no sentence is made up for it. */
  g = tt_group_make(NULL, 0);
  id = tt_group_go(g, fails_own_code, NULL);
  CHECK(id > 0);
  CHECK_EQ(tt_group_wait(g), 5);
  snprintf(expect, sizeof expect, "task %lld (fails_own_code) returned 5", (long long)id);
  CHECK_MSG(tt_group_error(g) && strcmp(tt_group_error(g), expect) == 0, "message: \"%s\"",
            tt_group_error(g) ? tt_group_error(g) : "(null)");
  CHECK_EQ(tt_group_destroy(g, PROMPT), 0);

  /* Failed from outside its tasks, with no format: the code speaks. */
  g = tt_group_make(NULL, 0);
  CHECK(tt_group_go(g, waits_for_cancel, NULL) > 0);
  CHECK_EQ(tt_group_fail(g, TT_ECLOSED, NULL), TT_ECLOSED);
  CHECK_EQ(tt_group_wait(g), TT_ECLOSED);
  snprintf(expect, sizeof expect, "the group failed: %s", tt_strerror(TT_ECLOSED));
  CHECK(tt_group_error(g) && strcmp(tt_group_error(g), expect) == 0);
  /* A long message is cut, not overrun: 255 characters in the group. */
  char longer[600];
  memset(longer, 'x', sizeof longer - 1);
  longer[sizeof longer - 1] = '\0';
  tt_group *g2 = tt_group_make(NULL, 0);
  CHECK_EQ(tt_group_fail(g2, 1, "%s", longer), 1);
  CHECK_EQ(strlen(tt_group_error(g2)), 255);
  CHECK_EQ(tt_group_wait(g2), 1);
  CHECK_EQ(tt_group_destroy(g2, PROMPT), 0);

  /* Bad input. */
  CHECK_EQ(tt_group_fail(NULL, 1, "x"), TT_EINVAL);
  CHECK_EQ(tt_group_fail(g, 0, "x"), TT_EINVAL);
  CHECK(tt_group_error(NULL) == NULL);
  CHECK_EQ(tt_group_wait(g), TT_ECLOSED);
  CHECK_EQ(tt_group_destroy(g, PROMPT), 0);
}

static void group_main(void *arg) {
  (void)arg;
  g_procs = tt_procs();
  test_all_run();
  test_first_error();
  test_limit();
  test_parent_cancel();
  test_nested();
  test_destroy_prompt();
  test_fail_message();
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "--leak-child") == 0) {
    tt_test_watchdog(60);
    return tt_main(leak_main, NULL) == 0 ? 0 : 1;
  }
  tt_test_watchdog(300);
  test_leak_report("1");
  test_leak_report("2");
  RUN_MAIN(1, group_main, NULL);
  RUN_MAIN(2, group_main, NULL);
  CHECK_EQ(tt_num_tasks(), 0);
  return TEST_REPORT();
}
