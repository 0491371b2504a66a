/*
 * test_verify: verify-none (goleak for C): catching leaked tasks, the ignore
 * options, the backoff that lets exiting tasks go, scopes, bad input and
 * tt_verify_main.
 *
 * Every test leaks on purpose and then unsticks its tasks (closing the
 * channel they wait on) and waits for them to be gone, so that the next
 * test starts clean and the process exits cleanly.
 */
#define _GNU_SOURCE /* pthread_tryjoin_np */
#include "harness.h"

#include <pthread.h>

/* Spawn and remember the line of the spawn: __LINE__ here and inside the
 * tt_go macro both expand to the line of the invocation. */
#define GO_AT(line_var, fn, arg) ((line_var) = __LINE__, tt_go(fn, arg))

#define NOINLINE __attribute__((noinline))

/* A short max_wait for checks that expect leftovers (a leaked task stays
 * leaked: there is nothing to wait for), generous for checks that expect
 * none. */
#define SHORT_WAIT TT_MS(30)

/* ---- helpers ----------------------------------------------------------------------------- */

/* The report as text (malloc'd). */
static char *report_text(const tt_verify_report *r) {
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  if (!mem)
    return strdup("");
  tt_verify_report_print(r, mem);
  fclose(mem);
  return text;
}

/* Verify and return the count; the report text goes to *text (NULL when
 * clean). */
static int64_t verify_text(const tt_verify_opts *o, char **text) {
  tt_verify_report *r = NULL;
  int64_t n = tt_verify_none(o, &r);
  *text = r ? report_text(r) : NULL;
  if (n > 0) {
    CHECK(r != NULL);
    CHECK_EQ(tt_verify_report_count(r), n);
  } else {
    CHECK(r == NULL);
  }
  tt_verify_report_free(r);
  return n;
}

/* Wait (from a task or a thread) until at most `n` tasks are alive. */
static int await_tasks_at_most(int64_t n) {
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  while (tt_num_tasks() > n) {
    if (tt_test_mono_ns() > end)
      return 0;
    if (tt_self())
      tt_sleep(TT_MS(1));
    else
      tt_test_sleep_ns(TT_MS(1));
  }
  return 1;
}

/* Close (unsticking every task blocked on it) and drop a channel. */
static void release(tt_chan *c) {
  tt_chan_close(c);
  tt_chan_unref(c);
}

/* ---- leaked task bodies --------------------------------------------------------------------- */

static NOINLINE void blocked_sender(void *arg) {
  int v = 1;
  tt_chan_send(arg, &v);
}

static NOINLINE void blocked_receiver(void *arg) {
  int v;
  tt_chan_recv(arg, &v);
}

static NOINLINE void inner_wait(tt_chan *c) {
  int v;
  tt_chan_recv(c, &v);
  __asm__ volatile("" ::: "memory"); /* keep the call from becoming a tail call */
}

static NOINLINE void outer_fn(void *arg) {
  inner_wait(arg);
  __asm__ volatile("" ::: "memory");
}

static int64_t NOINLINE spawner_fn(tt_chan *c) { return tt_go(blocked_receiver, c); }

static NOINLINE void named_waiter(void *arg) {
  tt_set_name("bg-flusher");
  blocked_receiver(arg);
}

/* ---- 1. a leak is caught, with its state and spawn site; clean code is not -------------- */

static int g_leak_line;
static int64_t g_leak_id;

static void quick_task(void *arg) {
  (void)arg;
  tt_yield();
}

static void test_catches_leak(void *arg) {
  (void)arg;
  NOTE("a leaked sender is reported with state, spawn site, parent and stack");
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  g_leak_id = GO_AT(g_leak_line, blocked_sender, c);
  CHECK(g_leak_id > 0);
  tt_test_task info;
  CHECK(tt_test_await_wait_reason(g_leak_id, "chan send", TT_MS(10000), &info));
  CHECK_EQ(info.info.spawn_line, g_leak_line);

  char *text = NULL;
  tt_verify_report *r = NULL;
  int64_t t0 = tt_now();
  int64_t n = tt_verify_none(&(tt_verify_opts){.max_wait = TT_MS(50)}, &r);
  int64_t took = tt_now() - t0;
  CHECK_EQ(n, 1);
  CHECK_EQ(tt_verify_report_count(r), 1);
  CHECK_MSG(took >= TT_MS(45), "verify gave up after %lld ns, before max_wait", (long long)took);
  text = report_text(r);
  tt_verify_report_free(r);
  char want[160];
  CHECK_MSG(strstr(text, "found 1 unexpected task ") != NULL, "%s", text);
  snprintf(want, sizeof want, "  task %lld [chan send, waiting ", (long long)g_leak_id);
  CHECK_MSG(strstr(text, want) != NULL, "want \"%s\" in:\n%s", want, text);
  snprintf(want, sizeof want,
           "] spawned at test_verify.c:%d by test_catches_leak (parent task %lld)", g_leak_line,
           (long long)tt_self());
  CHECK_MSG(strstr(text, want) != NULL, "want \"%s\" in:\n%s", want, text);
  CHECK_MSG(strstr(text, "waits on the channel made at test_verify.c:") != NULL, "%s", text);
  /* The stack as Go shows it: the task's own function first, no runtime
   * frame (the wait reason says what it waits in). */
  CHECK_MSG(strstr(text, "  waits on the channel made at") != NULL, "%s", text);
  CHECK_MSG(strstr(strstr(text, "made at"), "\n    blocked_sender(...)\n") ==
                strchr(strstr(text, "made at"), '\n'),
            "the first frame must be the user's:\n%s", text);
  CHECK_MSG(strstr(text, "tt_chan_send") == NULL, "%s", text);
  CHECK_MSG(strstr(text, "/src/sync/") == NULL, "%s", text);
  printf("%s", text);
  free(text);
  /* TT_TRACEBACK=system (Go's GOTRACEBACK=system) shows the runtime's
   * frames above it. */
  setenv("TT_TRACEBACK", "system", 1);
  r = NULL;
  CHECK_EQ(tt_verify_none(&(tt_verify_opts){.max_wait = TT_MS(1)}, &r), 1);
  unsetenv("TT_TRACEBACK");
  text = report_text(r);
  tt_verify_report_free(r);
  CHECK_MSG(text && strstr(text, "    tt_chan_send(...)\n") != NULL, "%s", text ? text : "");
  CHECK_MSG(strstr(text, "    blocked_sender(...)\n") != NULL, "%s", text);
  free(text);

  /* Unstuck, it goes; verify is silent and returns no report. */
  release(c);
  CHECK(await_tasks_at_most(1));
  r = (tt_verify_report *)&r; /* must be reset to NULL */
  CHECK_EQ(tt_verify_none(NULL, &r), 0);
  CHECK(r == NULL);

  NOTE("clean code: tasks that return are never reported");
  tt_wg *wg = tt_wg_make();
  for (int i = 0; i < 20; i++)
    tt_wg_go(wg, quick_task, NULL);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  for (int i = 0; i < 20; i++)
    tt_go(quick_task, NULL); /* still on their way out, maybe */
  CHECK_EQ(verify_text(NULL, &text), 0);
  CHECK(text == NULL);
  CHECK_EQ(tt_verify_none(&(tt_verify_opts){0}, NULL), 0);
}

/* ---- 2. the ignore options --------------------------------------------------------------------
 */

static void test_ignore_options(void *arg) {
  (void)arg;
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  char *text;

  NOTE("ignore_top: the first frame outside the runtime");
  int64_t id = tt_go(blocked_receiver, c);
  tt_test_task info;
  CHECK(tt_test_await_wait_reason(id, "chan receive", TT_MS(10000), &info));
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT}, &text), 1);
  free(text);
  static const char *const top_recv[] = {"blocked_receiver", NULL};
  static const char *const top_other[] = {"blocked_sender", "outer_fn", NULL};
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT, .ignore_top = top_recv}, &text),
           0);
  free(text);
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT, .ignore_top = top_other}, &text),
           1);
  free(text);
  release(c);
  CHECK(await_tasks_at_most(1));

  NOTE("ignore_any: a function anywhere on the stack (and not only on top)");
  c = tt_chan_make(sizeof(int), 0);
  id = tt_go(outer_fn, c);
  CHECK(tt_test_await_wait_reason(id, "chan receive", TT_MS(10000), &info));
  static const char *const outer[] = {"outer_fn", NULL};
  static const char *const inner[] = {"inner_wait", NULL};
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT}, &text), 1);
  CHECK_MSG(text && strstr(text, "    inner_wait(...)\n") && strstr(text, "    outer_fn(...)\n"),
            "%s", text ? text : "");
  free(text);
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT, .ignore_any = outer}, &text), 0);
  free(text);
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT, .ignore_top = outer}, &text), 1);
  free(text);
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT, .ignore_top = inner}, &text), 0);
  free(text);
  release(c);
  CHECK(await_tasks_at_most(1));

  NOTE("ignore_created_by: the function that spawned the task");
  c = tt_chan_make(sizeof(int), 0);
  id = spawner_fn(c);
  CHECK(tt_test_await_wait_reason(id, "chan receive", TT_MS(10000), &info));
  CHECK_STREQ(info.spawn_func, "spawner_fn");
  static const char *const by_spawner[] = {"spawner_fn", NULL};
  static const char *const by_other[] = {"test_ignore_options", NULL};
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT}, &text), 1);
  CHECK_MSG(text && strstr(text, " by spawner_fn (parent task "), "%s", text ? text : "");
  free(text);
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT, .ignore_created_by = by_spawner},
                       &text),
           0);
  free(text);
  CHECK_EQ(
      verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT, .ignore_created_by = by_other}, &text),
      1);
  free(text);
  release(c);
  CHECK(await_tasks_at_most(1));

  NOTE("ignore_names: task names");
  c = tt_chan_make(sizeof(int), 0);
  id = tt_go(named_waiter, c);
  CHECK(tt_test_await_wait_reason(id, "chan receive", TT_MS(10000), &info));
  static const char *const names[] = {"other", "bg-flusher", NULL};
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT}, &text), 1);
  CHECK_MSG(text && strstr(text, "\"bg-flusher\" [chan receive"), "%s", text ? text : "");
  free(text);
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT, .ignore_names = names}, &text), 0);
  free(text);
  release(c);
  CHECK(await_tasks_at_most(1));

  NOTE("ignore_current: tasks alive when the snapshot was taken");
  c = tt_chan_make(sizeof(int), 0);
  int64_t before = tt_go(blocked_receiver, c);
  CHECK(tt_test_await_wait_reason(before, "chan receive", TT_MS(10000), &info));
  tt_verify_snapshot *snap = tt_verify_snapshot_take();
  CHECK(snap != NULL);
  tt_chan *c2 = tt_chan_make(sizeof(int), 0);
  int64_t after = tt_go(blocked_receiver, c2);
  CHECK(tt_test_await_wait_reason(after, "chan receive", TT_MS(10000), &info));
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT}, &text), 2);
  free(text);
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT, .ignore_current = snap}, &text),
           1);
  char want[64];
  snprintf(want, sizeof want, "  task %lld [", (long long)after);
  CHECK_MSG(text && strstr(text, want), "%s", text ? text : "");
  snprintf(want, sizeof want, "  task %lld [", (long long)before);
  CHECK_MSG(text && !strstr(text, want), "%s", text ? text : "");
  free(text);
  release(c2);
  CHECK(await_tasks_at_most(2));
  CHECK_EQ(verify_text(&(tt_verify_opts){.ignore_current = snap}, &text), 0);
  free(text);
  tt_verify_snapshot_free(snap);
  release(c);
  CHECK(await_tasks_at_most(1));
  CHECK_EQ(verify_text(NULL, &text), 0);
}

/* ---- 3. backoff: tasks on their way out are waited for, up to max_wait ------------------- */

static void exits_soon(void *arg) {
  (void)arg;
  tt_sleep(TT_MS(50));
}

static void test_backoff(void *arg) {
  (void)arg;
  NOTE("tasks that exit ~50 ms later are not reported with the default max_wait");
  for (int i = 0; i < 4; i++)
    tt_go(exits_soon, NULL);
  char *text = NULL;
  int64_t t0 = tt_now();
  CHECK_EQ(verify_text(NULL, &text), 0);
  int64_t took = tt_now() - t0;
  CHECK_MSG(text == NULL, "%s", text);
  free(text);
  CHECK_MSG(took >= TT_MS(40), "clean after %lld ns: did it wait for the sleepers?",
            (long long)took);
  CHECK_EQ(tt_num_tasks(), 1);

  NOTE("tasks that outlive max_wait are reported (they go afterwards)");
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  for (int i = 0; i < 3; i++)
    tt_go(blocked_receiver, c);
  t0 = tt_now();
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = TT_MS(80)}, &text), 3);
  took = tt_now() - t0;
  CHECK_MSG(took >= TT_MS(75), "reported after %lld ns, before max_wait", (long long)took);
  CHECK_MSG(text && strstr(text, "found 3 unexpected tasks (still there after 80ms):\n"), "%s",
            text ? text : "");
  free(text);
  release(c);
  CHECK(await_tasks_at_most(1));
}

/* ---- 4. runnable and running tasks are reported too ------------------------------------------ */

static atomic_int g_spin_stop;

static void spinner(void *arg) {
  (void)arg;
  while (!atomic_load(&g_spin_stop))
    tt_yield();
}

static void test_busy_task(void *arg) {
  (void)arg;
  NOTE("a task that never blocks (an endless loop) is reported as runnable or running");
  atomic_store(&g_spin_stop, 0);
  tt_go(spinner, NULL);
  char *text = NULL;
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT}, &text), 1);
  CHECK_MSG(text && (strstr(text, "[runnable] spawned at test_verify.c:") ||
                     strstr(text, "[running] spawned at test_verify.c:")),
            "%s", text ? text : "");
  CHECK_MSG(text && strstr(text, "spinner(...)"), "%s", text ? text : "");
  free(text);
  atomic_store(&g_spin_stop, 1);
  CHECK(await_tasks_at_most(1));
}

/* ---- 5. the caller, and the main task of tt_main, are never counted ------------------------- */

static atomic_llong g_sub_result;

static void sub_verifier(void *arg) {
  (void)arg;
  /* main waits for us in tt_wg_wait: it is not a leak */
  atomic_store(&g_sub_result, tt_verify_none(&(tt_verify_opts){.max_wait = SHORT_WAIT}, NULL));
}

static void *thread_verifier(void *arg) {
  tt_chan *c = arg;
  /* A plain thread: nothing of its own to exclude, backoff by nanosleep. */
  int64_t id = tt_go(blocked_receiver, c);
  CHECK(id > 0);
  char *text = NULL;
  int64_t t0 = tt_test_mono_ns();
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = TT_MS(40)}, &text), 1);
  CHECK(tt_test_mono_ns() - t0 >= TT_MS(35));
  CHECK_MSG(text && strstr(text, "(from a plain thread)"), "%s", text ? text : "");
  free(text);
  return NULL;
}

static void test_self_and_main(void *arg) {
  (void)arg;
  NOTE("verify from a sub-task while main waits for it");
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, sub_verifier, NULL);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  CHECK_EQ(atomic_load(&g_sub_result), 0);

  NOTE("verify from a plain thread");
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, thread_verifier, c), 0);
  /* join without blocking the worker */
  while (pthread_tryjoin_np(th, NULL) != 0)
    tt_sleep(TT_MS(1));
  release(c);
  CHECK(await_tasks_at_most(1));
}

/* ---- 6. scopes ------------------------------------------------------------------------------- */

typedef struct scope_test {
  tt_chan *block;
  int64_t scope;
  int64_t leaked_id;
  int leak_line;
} scope_test;

static void grandchild_leak(void *arg) { blocked_receiver(arg); }

/* Spawns the leak and exits: the leak must still be attributed to its test. */
static void intermediate(void *arg) {
  scope_test *s = arg;
  CHECK_EQ(tt_scope_current(), s->scope);
  s->leaked_id = GO_AT(s->leak_line, grandchild_leak, s->block);
}

static void test_a(void *arg) {
  scope_test *s = arg;
  s->scope = tt_scope_begin();
  CHECK(s->scope > 0);
  CHECK_EQ(tt_scope_current(), s->scope);
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, intermediate, s);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  /* test A ends here, with its leak left behind */
}

static void test_b_helper(void *arg) {
  (void)arg;
  tt_sleep(TT_MS(1));
}

static void test_b(void *arg) {
  scope_test *s = arg;
  s->scope = tt_scope_begin();
  tt_wg *wg = tt_wg_make();
  for (int i = 0; i < 3; i++)
    tt_wg_go(wg, test_b_helper, NULL);
  tt_wg_wait(wg);
  tt_wg_free(wg);
}

typedef struct thread_scope {
  tt_chan *block;
  int64_t scope, id;
} thread_scope;

static void *thread_scoped(void *arg) {
  thread_scope *t = arg;
  CHECK_EQ(tt_scope_current(), 0);
  t->scope = tt_scope_begin();
  CHECK_EQ(tt_scope_current(), t->scope);
  t->id = tt_go(blocked_receiver, t->block);
  return NULL;
}

static void test_scopes(void *arg) {
  (void)arg;
  NOTE("a leak of test A (via an exited intermediate task) is not blamed on test B");
  int64_t outer = tt_scope_current();
  scope_test a = {.block = tt_chan_make(sizeof(int), 0)}, b = {0};
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, test_a, &a);
  tt_wg_wait(wg);
  tt_wg_go(wg, test_b, &b);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  CHECK(a.scope > 0 && b.scope > 0 && a.scope != b.scope);
  CHECK_EQ(tt_scope_current(), outer); /* the tests' scopes were their own */
  tt_test_task info;
  CHECK(tt_test_await_wait_reason(a.leaked_id, "chan receive", TT_MS(10000), &info));

  char *text = NULL;
  CHECK_EQ(verify_text(&(tt_verify_opts){.scope = b.scope}, &text), 0);
  free(text);
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT, .scope = a.scope}, &text), 1);
  char want[160];
  snprintf(want, sizeof want, "found 1 unexpected task in scope %lld ", (long long)a.scope);
  CHECK_MSG(text && strstr(text, want), "want \"%s\" in:\n%s", want, text ? text : "");
  snprintf(want, sizeof want, "] spawned at test_verify.c:%d by intermediate (parent task ",
           a.leak_line);
  CHECK_MSG(text && strstr(text, want), "want \"%s\" in:\n%s", want, text ? text : "");
  CHECK_MSG(text && strstr(text, ", exited)\n"), "%s", text ? text : "");
  free(text);
  /* Unscoped, everything counts. */
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT}, &text), 1);
  free(text);

  NOTE("a plain thread's scope is inherited by the tasks it spawns");
  thread_scope ts = {.block = a.block};
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, thread_scoped, &ts), 0);
  while (pthread_tryjoin_np(th, NULL) != 0)
    tt_sleep(TT_MS(1));
  CHECK(ts.scope > b.scope);
  CHECK(tt_test_await_wait_reason(ts.id, "chan receive", TT_MS(10000), &info));
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT, .scope = ts.scope}, &text), 1);
  snprintf(want, sizeof want, "  task %lld [chan receive", (long long)ts.id);
  CHECK_MSG(text && strstr(text, want), "%s", text ? text : "");
  free(text);
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT, .scope = a.scope}, &text), 1);
  free(text);
  CHECK_EQ(verify_text(&(tt_verify_opts){.max_wait = SHORT_WAIT, .scope = b.scope}, &text), 0);
  free(text);
  release(a.block);
  CHECK(await_tasks_at_most(1));
  CHECK_EQ(verify_text(&(tt_verify_opts){.scope = a.scope}, &text), 0);
}

/* ---- 7. bad input ------------------------------------------------------------------------------
 */

static int never_called(void *arg) {
  (void)arg;
  return 0;
}

static void test_bad_input(void *arg) {
  (void)arg;
  NOTE("bad input");
  tt_verify_report *r = (tt_verify_report *)&r;
  CHECK_EQ(tt_verify_none(&(tt_verify_opts){.max_wait = -1}, &r), TT_EINVAL);
  CHECK(r == NULL);
  CHECK_EQ(tt_verify_none(&(tt_verify_opts){.scope = -1}, NULL), TT_EINVAL);
  CHECK_EQ(tt_verify_none(NULL, NULL), 0); /* NULL options: the defaults */
  CHECK_EQ(tt_verify_report_print(NULL, stdout), TT_EINVAL);
  CHECK_EQ(tt_verify_report_count(NULL), 0);
  tt_verify_report_free(NULL);
  tt_verify_snapshot_free(NULL);
  CHECK_EQ(tt_verify_main(NULL, NULL, NULL), TT_EINVAL);
  CHECK_EQ(tt_verify_main(never_called, NULL, &(tt_verify_opts){.max_wait = -5}), TT_EINVAL);
  CHECK_EQ(tt_verify_main(never_called, NULL, NULL), TT_EBUSY); /* from a task */
}

/* ---- 8. tt_verify_main, in child processes -----------------------------------------------------
 */

static int g_main_leak_line;

static int leaky_tests(void *arg) {
  static tt_chan *c; /* leaked on purpose: the child exits right after */
  c = tt_chan_make(sizeof(int), 0);
  *(int64_t *)arg = GO_AT(g_main_leak_line, blocked_sender, c);
  return 0;
}

static int clean_tests(void *arg) {
  (void)arg;
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, quick_task, NULL);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_go(quick_task, NULL);
  return 7;
}

static void child_leaky(void *arg) {
  (void)arg;
  int64_t id = 0;
  int rc = tt_verify_main(leaky_tests, &id, &(tt_verify_opts){.max_wait = TT_MS(50)});
  fprintf(stderr, "child: leaked task %lld, line %d, rc %d\n", (long long)id, g_main_leak_line, rc);
  fflush(stderr);
  _exit(rc); /* no leak checker at exit: the leaked channel is on purpose */
}

static void child_clean(void *arg) {
  (void)arg;
  int rc = tt_verify_main(clean_tests, NULL, NULL);
  fflush(stderr);
  _exit(rc);
}

static void test_verify_main(void) {
  NOTE("tt_verify_main returns 1 on leftovers and prints the report to stderr");
  char *err = NULL;
  int status = 0;
  CHECK_EQ(tt_test_capture_child(child_leaky, NULL, &err, &status), 0);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 1);
  long long id = 0;
  int line = 0, rc = -1;
  const char *summary = err ? strstr(err, "child: leaked task ") : NULL;
  CHECK_MSG(summary &&
                sscanf(summary, "child: leaked task %lld, line %d, rc %d", &id, &line, &rc) == 3,
            "%s", err ? err : "");
  CHECK_EQ(rc, 1);
  char want[160];
  snprintf(want, sizeof want, "tt_verify_main: found 1 unexpected task ");
  CHECK_MSG(err && strstr(err, want), "%s", err ? err : "");
  snprintf(want, sizeof want, "  task %lld [chan send, waiting ", id);
  CHECK_MSG(err && strstr(err, want), "want \"%s\" in:\n%s", want, err ? err : "");
  snprintf(want, sizeof want, "spawned at test_verify.c:%d by leaky_tests (parent task ", line);
  CHECK_MSG(err && strstr(err, want), "want \"%s\" in:\n%s", want, err ? err : "");
  free(err);

  NOTE("tt_verify_main returns the tests' own value when clean");
  err = NULL;
  CHECK_EQ(tt_test_capture_child(child_clean, NULL, &err, &status), 0);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 7);
  CHECK_MSG(err && !strstr(err, "unexpected"), "%s", err ? err : "");
  free(err);
}

/* ---- 9. a task the detector proved leaked is marked so, here and in the goroutineleak profile */

/* Run a shell command from a task (popen blocks the worker: fine here). */
static char *run_cmd(const char *cmd, int *status) {
  fflush(stdout);
  FILE *p = popen(cmd, "r");
  if (!p) {
    *status = -1;
    return strdup("");
  }
  char *out = tt_test_read_stream(p);
  int st = pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out ? out : strdup("");
}

static void test_proven_leak(void *arg) {
  (void)arg;
  NOTE("a task proven leaked is marked in the report; goroutineleak profile via go tool pprof");
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  int64_t id = tt_go(blocked_sender, c);
  tt_test_task info;
  CHECK(tt_test_await_wait_reason(id, "chan send", TT_MS(10000), &info));
  tt_chan_unref(c); /* the last reference: the sender can never finish */
  tt_verify_report *r = NULL;
  CHECK_EQ(tt_verify_none(&(tt_verify_opts){.max_wait = TT_MS(1)}, &r), 1);
  char *text = report_text(r);
  tt_verify_report_free(r);
  CHECK_MSG(
      text &&
          strstr(text,
                 "    proven leaked: abandoned sender (seed pattern 1): nobody can ever receive\n"),
      "%s", text ? text : "");
  free(text);

  const char *go = getenv("TT_GO") ? getenv("TT_GO") : "/usr/lib/go-1.19/bin/go";
  if (access(go, X_OK) != 0) {
    CHECK_MSG(getenv("TT_SKIP_GO") != NULL, "%s not found: run scripts/deps.sh go", go);
    return;
  }
  char path[] = "/tmp/tt_verify_leakXXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  FILE *f = fdopen(fd, "w");
  CHECK_EQ(tt_dump_as(f, TT_DUMP_PPROF_LEAKED), 0);
  fclose(f);
  char cmd[600];
  int st;
  snprintf(cmd, sizeof cmd, "'%s' tool pprof -raw '%s' 2>&1", go, path);
  char *out = run_cmd(cmd, &st);
  CHECK_MSG(st == 0 && strstr(out, "PeriodType: goroutineleak count") &&
                strstr(out, "goroutineleak/count"),
            "%s:\n%s", cmd, out);
  free(out);
  snprintf(cmd, sizeof cmd, "'%s' tool pprof -tags '%s' 2>&1", go, path);
  out = run_cmd(cmd, &st);
  CHECK_MSG(st == 0 && strstr(out, "leaked: Total 1") &&
                strstr(out, "abandoned sender (seed pattern 1)") && strstr(out, "chan send"),
            "%s:\n%s", cmd, out);
  free(out);
  unlink(path);
  /* the leaked task stays parked; the runtime's shutdown frees it */
}

/* ---- main
 * ---------------------------------------------------------------------------------------- */

static void all_tests(void *arg) {
  test_catches_leak(arg);
  test_ignore_options(arg);
  test_backoff(arg);
  test_busy_task(arg);
  test_self_and_main(arg);
  test_scopes(arg);
  test_bad_input(arg);
  test_proven_leak(arg);
}

int main(void) {
  tt_test_watchdog(120);
  /* Children first, while no runtime (and so no thread) exists to fork. */
  test_verify_main();

  NOTE("no runtime: nothing is alive, so nothing is unexpected");
  CHECK_EQ(tt_verify_none(NULL, NULL), 0);
  tt_verify_snapshot *s = tt_verify_snapshot_take();
  CHECK(s != NULL);
  tt_verify_snapshot_free(s);

  RUN_MAIN(2, all_tests, NULL);
  return TEST_REPORT();
}
