/*
 * test_leak: definite leaks found the moment they become certain — the last
 * reference to a channel dropped while tasks wait on it alone with no
 * deadline, and endless waits on nil channels and empty selects — in the
 * record, report, abort and recover modes; and the look-alikes that must
 * never be reported (a reference kept elsewhere, a deadline, a select with
 * another live case, a close).
 */
#include "harness.h"

static int g_send_line, g_recv_line, g_unref_line, g_make_line;
static atomic_int g_cleaned_up;

static void sender(void *arg) {
  int v = 42;
  g_send_line = __LINE__ + 1;
  int rc = tt_chan_send(arg, &v);
  if (rc == TT_ELEAKED)
    atomic_fetch_add(&g_cleaned_up, 1); /* recovered: unwind and clean up */
}

static void receiver(void *arg) {
  int v;
  g_recv_line = __LINE__ + 1;
  int rc = tt_chan_recv(arg, &v);
  if (rc == TT_ELEAKED)
    atomic_fetch_add(&g_cleaned_up, 1);
}

static void await_parked(int64_t id, const char *reason) {
  tt_test_task t;
  CHECK_MSG(tt_test_await_wait_reason(id, reason, TT_MS(10000), &t), "task %lld never waited in %s",
            (long long)id, reason);
}

/* The goroutineleak pprof profile, read by the real go tool pprof. */
static void check_leak_profile(void) {
  const char *go = getenv("TT_GO") ? getenv("TT_GO") : "/usr/lib/go-1.19/bin/go";
  if (access(go, X_OK) != 0) {
    CHECK_MSG(getenv("TT_SKIP_GO") != NULL, "%s not found: run scripts/deps.sh go", go);
    return;
  }
  char path[] = "/tmp/tt_leak_pprofXXXXXX";
  int fd = mkstemp(path);
  FILE *f = fdopen(fd, "w");
  CHECK_EQ(tt_dump_as(f, TT_DUMP_PPROF_LEAKED), 0);
  fclose(f);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "%s tool pprof -traces %s 2>&1", go, path);
  /* From a task: popen blocks this worker, which is fine for a test. */
  FILE *p = popen(cmd, "r");
  char *out = tt_test_read_stream(p);
  CHECK(p && pclose(p) == 0);
  CHECK_MSG(strstr(out, "sender") != NULL, "no leaked sender in the profile:\n%s", out);
  CHECK_MSG(strstr(out, "abandoned_sender") == NULL && strstr(out, "leak_main") == NULL,
            "a live task in the leak profile:\n%s", out);
  free(out);
  unlink(path);
}

/* Seed pattern 1: the only reference is dropped while a sender waits. */
static void abandoned_sender(void) {
  NOTE("abandoned sender (pattern 1)");
  int64_t before = tt_leak_count();
  g_make_line = __LINE__ + 1;
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  int64_t id = tt_go(sender, c);
  await_parked(id, "chan send");
  CHECK_EQ(tt_leak_count(), before);
  g_unref_line = __LINE__ + 1;
  tt_chan_unref(c);
  CHECK_EQ(tt_leak_count(), before + 1);
  /* The leaked sender keeps the channel's memory, not a reference: one
   * unref more is refused, not counted below zero. */
  CHECK_EQ(tt_chan_unref(c), TT_EINVAL);

  char *dump = tt_test_dump(TT_DUMP_GO_DEBUG2);
  char want[64];
  snprintf(want, sizeof want, "goroutine %lld [chan send (leaked)]:", (long long)id);
  CHECK_MSG(strstr(dump, want) != NULL, "no \"%s\" in:\n%s", want, dump);
  free(dump);

  char *rep = tt_test_leak_report();
  char line[512];
  snprintf(line, sizeof line, "tether: leak: task %lld (sender, spawned at", (long long)id);
  CHECK_MSG(strstr(rep, line) != NULL, "no \"%s\" in:\n%s", line, rep);
  CHECK(strstr(rep, "abandoned sender (seed pattern 1)") != NULL);
  snprintf(line, sizeof line, "made at %s:%d", __FILE__, g_make_line);
  CHECK_MSG(strstr(rep, line) != NULL, "no \"%s\" in:\n%s", line, rep);
  snprintf(line, sizeof line, "dropped by task %lld", (long long)tt_self());
  CHECK_MSG(strstr(rep, line) != NULL, "no \"%s\" in:\n%s", line, rep);
  /* both stacks: the sender blocked at its send, and this function at the
   * unref that made it certain */
  snprintf(line, sizeof line, "      sender(...)\n\t%s:%d", __FILE__, g_send_line);
  CHECK_MSG(strstr(rep, line) != NULL, "no \"%s\" in:\n%s", line, rep);
  snprintf(line, sizeof line, "      abandoned_sender(...)\n\t%s:%d", __FILE__, g_unref_line);
  CHECK_MSG(strstr(rep, line) != NULL, "no \"%s\" in:\n%s", line, rep);
  free(rep);

  /* JSON says why; the goroutineleak profile holds the leaked task only */
  char *json = tt_test_dump(TT_DUMP_JSON);
  CHECK_MSG(strstr(json, "\"leaked\":\"abandoned sender (seed pattern 1)") != NULL, "%s", json);
  free(json);
  check_leak_profile();
  /* the leaked task stays parked; tt_shutdown frees it */
}

/* Seed patterns 2 and 5: receivers on a channel nobody closes. */
static void abandoned_receivers(void) {
  NOTE("abandoned receiver (pattern 2) and worker pool (pattern 5)");
  int64_t before = tt_leak_count();
  tt_chan *one = tt_chan_make(sizeof(int), 0);
  await_parked(tt_go(receiver, one), "chan receive");
  tt_chan_unref(one);
  CHECK_EQ(tt_leak_count(), before + 1);

  tt_chan *jobs = tt_chan_make(sizeof(int), 4);
  int64_t ids[3];
  for (int i = 0; i < 3; i++)
    await_parked(ids[i] = tt_go(receiver, jobs), "chan receive");
  tt_chan_unref(jobs);
  CHECK_EQ(tt_leak_count(), before + 4);
  char *rep = tt_test_leak_report();
  CHECK(strstr(rep, "abandoned receiver (seed pattern 2)") != NULL);
  char line[128];
  for (int i = 0; i < 3; i++) {
    snprintf(line, sizeof line, "task %lld (receiver", (long long)ids[i]);
    CHECK_MSG(strstr(rep, line) != NULL, "no \"%s\" in:\n%s", line, rep);
  }
  CHECK(strstr(rep, "worker pool without shutdown (seed pattern 5)") != NULL);
  free(rep);
}

/* ---- look-alikes that are not leaks ----------------------------------------- */

static tt_chan *g_global; /* a reference held outside any task */

static void deadline_receiver(void *arg) {
  int v;
  int rc = tt_chan_recv_until(arg, &v, tt_now() + TT_MS(300));
  CHECK_EQ(rc, TT_ETIMEDOUT);
}

static tt_chan *g_other;
static void select_receiver(void *arg) {
  int v;
  tt_case cases[2] = {tt_case_recv(arg, &v), tt_case_recv(g_other, &v)};
  int rc = tt_select(cases, 2, 0, TT_NO_DEADLINE);
  CHECK_EQ(rc, 1); /* woken through the channel that still had a reference */
}

static void not_leaks(void) {
  NOTE("look-alikes that are not leaks");
  int64_t before = tt_leak_count();

  /* another reference (a global) keeps the waiter reachable */
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  g_global = tt_chan_ref(c);
  int64_t id = tt_go(receiver, c);
  await_parked(id, "chan receive");
  tt_chan_unref(c);
  CHECK_EQ(tt_leak_count(), before);
  int v = 1;
  CHECK_EQ(tt_chan_send(g_global, &v), 0); /* and indeed it can be woken */
  tt_chan_unref(g_global);

  /* a deadline will end the wait */
  c = tt_chan_make(sizeof(int), 0);
  int64_t t0 = tt_now();
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, deadline_receiver, c);
  tt_sleep(TT_MS(20));
  tt_chan_unref(c);
  CHECK_EQ(tt_leak_count(), before);
  tt_wg_wait(wg);
  CHECK(tt_now() - t0 >= TT_MS(250));

  /* a select with another case whose channel is still referenced */
  c = tt_chan_make(sizeof(int), 0);
  g_other = tt_chan_make(sizeof(int), 0);
  int64_t sel = tt_wg_go(wg, select_receiver, c);
  await_parked(sel, "select");
  tt_chan_unref(c);
  CHECK_EQ(tt_leak_count(), before);
  CHECK_EQ(tt_chan_send(g_other, &v), 0);
  tt_wg_wait(wg);
  tt_chan_unref(g_other);

  /* closed before the last reference goes: the waiters were released */
  c = tt_chan_make(sizeof(int), 0);
  tt_wg_go(wg, receiver, c);
  tt_sleep(TT_MS(10));
  tt_chan_close(c);
  tt_wg_wait(wg);
  tt_chan_unref(c);
  CHECK_EQ(tt_leak_count(), before);

  /* a buffered send that completed, then the last reference dropped */
  c = tt_chan_make(sizeof(int), 1);
  tt_wg_go(wg, sender, c);
  tt_wg_wait(wg);
  tt_chan_unref(c);
  CHECK_EQ(tt_leak_count(), before);
  tt_wg_free(wg);
}

/* A select over two channels, both abandoned: stuck only once the second
 * goes. */
static tt_chan *g_sel_a, *g_sel_b;
/* A leaked task keeps what it waits on for good (that is what a leak is):
 * remember those channels so that LeakSanitizer sees them as reachable. */
static tt_chan *volatile g_kept[2];
static void two_way_select(void *arg) {
  (void)arg;
  int v;
  tt_case cases[2] = {tt_case_recv(g_sel_a, &v), tt_case_send(g_sel_b, &v)};
  if (tt_select(cases, 2, 0, TT_NO_DEADLINE) == TT_ELEAKED)
    atomic_fetch_add(&g_cleaned_up, 1);
}

static void abandoned_select(void) {
  NOTE("select whose every channel is abandoned");
  int64_t before = tt_leak_count();
  g_sel_a = tt_chan_make(sizeof(int), 0);
  g_sel_b = tt_chan_make(sizeof(int), 0);
  int64_t id = tt_go(two_way_select, NULL);
  await_parked(id, "select");
  tt_chan_unref(g_sel_a);
  CHECK_EQ(tt_leak_count(), before); /* g_sel_b can still complete it */
  g_kept[0] = g_sel_a;
  g_kept[1] = g_sel_b;
  tt_chan_unref(g_sel_b);
  CHECK_EQ(tt_leak_count(), before + 1);
  char *rep = tt_test_leak_report();
  char line[128];
  snprintf(line, sizeof line, "task %lld (two_way_select", (long long)id);
  CHECK_MSG(strstr(rep, line) != NULL, "no \"%s\" in:\n%s", line, rep);
  CHECK(strstr(rep, "select whose every channel was abandoned") != NULL);
  free(rep);
}

/* ---- nil channels and empty selects -------------------------------------- */

static void nil_receiver(void *arg) {
  (void)arg;
  int v;
  int rc = tt_chan_recv(NULL, &v);
  if (rc == TT_ELEAKED)
    atomic_fetch_add(&g_cleaned_up, 1);
}

static void empty_select(void *arg) {
  (void)arg;
  int rc = tt_select(NULL, 0, 0, TT_NO_DEADLINE);
  if (rc == TT_ELEAKED)
    atomic_fetch_add(&g_cleaned_up, 1);
}

static void nil_waits(void) {
  NOTE("nil channel and empty select");
  int64_t before = tt_leak_count();
  int v;
  CHECK_EQ(tt_chan_recv_until(NULL, &v, tt_now() + TT_MS(5)), TT_ETIMEDOUT);
  CHECK_EQ(tt_select(NULL, 0, 0, tt_now() + TT_MS(5)), TT_ETIMEDOUT);
  CHECK_EQ(tt_leak_count(), before); /* a deadline: not a leak */
  await_parked(tt_go(nil_receiver, NULL), "chan receive (nil chan)");
  await_parked(tt_go(empty_select, NULL), "select (no cases)");
  CHECK_EQ(tt_leak_count(), before + 2);
  char *rep = tt_test_leak_report();
  CHECK(strstr(rep, "wait on a nil channel with no deadline") != NULL);
  CHECK(strstr(rep, "select with no case that can ever be ready") != NULL);
  free(rep);
}

/* ---- recover mode ------------------------------------------------------------ */

static void recover_mode(void) {
  NOTE("recover: leaked tasks unwind and are freed");
  int prev = tt_leak_set_mode(TT_LEAK_RECOVER);
  CHECK(prev >= 0);
  atomic_store(&g_cleaned_up, 0);
  int64_t tasks0 = tt_num_tasks(), before = tt_leak_count();
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  await_parked(tt_go(sender, c), "chan send");
  tt_chan *jobs = tt_chan_make(sizeof(int), 0);
  for (int i = 0; i < 2; i++)
    await_parked(tt_go(receiver, jobs), "chan receive");
  tt_chan_unref(c);
  tt_chan_unref(jobs);
  tt_go(nil_receiver, NULL);
  tt_go(empty_select, NULL);
  g_sel_a = tt_chan_make(sizeof(int), 0);
  g_sel_b = tt_chan_make(sizeof(int), 0);
  await_parked(tt_go(two_way_select, NULL), "select");
  tt_chan_unref(g_sel_b);
  tt_chan_unref(g_sel_a);
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  while ((atomic_load(&g_cleaned_up) < 6 || tt_num_tasks() > tasks0) && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK_EQ(atomic_load(&g_cleaned_up), 6); /* each saw TT_ELEAKED and cleaned up */
  CHECK_EQ(tt_num_tasks(), tasks0);        /* ...and exited: stacks returned */
  CHECK_EQ(tt_leak_count(), before + 6);
  CHECK_EQ(tt_leak_set_mode((tt_leak_mode)prev), TT_LEAK_RECOVER);
  CHECK_EQ(tt_leak_set_mode((tt_leak_mode)42), TT_EINVAL);
}

static void leak_main(void *arg) {
  (void)arg;
  abandoned_sender();
  abandoned_receivers();
  not_leaks();
  abandoned_select();
  nil_waits();
  recover_mode();
}

/* ---- report and abort modes, in child processes ------------------------------ */

static void child_main(void *arg) {
  (void)arg;
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  await_parked(tt_go(sender, c), "chan send");
  fprintf(stderr, "BEFORE-UNREF\n");
  tt_chan_unref(c);
  fprintf(stderr, "AFTER-UNREF\n");
}

static void child_modes(void) {
  NOTE("TT_LEAKCHECK=report and =abort");
  char *err = NULL;
  int status = 0;
  CHECK_EQ(tt_test_run_self("test_leak", "--child", "TT_LEAKCHECK=report", &err, &status), 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const char *a = err ? strstr(err, "BEFORE-UNREF") : NULL;
  const char *r = a ? strstr(a, "tether: leak: task") : NULL;
  const char *b = r ? strstr(r, "AFTER-UNREF") : NULL;
  CHECK_MSG(a && r && b, "the report does not come at the unref:\n%s", err ? err : "");
  CHECK(err && strstr(err, "where the leak became certain:\n      child_main(...)") != NULL);
  free(err);

  err = NULL;
  CHECK_EQ(tt_test_run_self("test_leak", "--child", "TT_LEAKCHECK=abort", &err, &status), 0);
  CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status 0x%x", status);
  CHECK(err && strstr(err, "tether: leak: task") && strstr(err, "TT_LEAKCHECK=abort"));
  CHECK(err && !strstr(err, "AFTER-UNREF"));
  free(err);
}

int main(int argc, char **argv) {
  tt_test_leaks_expected = 1; /* it leaks on purpose */
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(120);
  if (argc > 1 && strcmp(argv[1], "--child") == 0)
    return tt_main(child_main, NULL) == 0 ? 0 : 1;
  RUN_MAIN(2, leak_main, NULL);
  child_modes();
  return TEST_REPORT();
}
