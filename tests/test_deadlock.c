/*
 * test_deadlock: "all tasks are asleep - deadlock!" when, and only when,
 * nothing can ever wake a task again. Each case runs in a child process:
 * a real deadlock never ends on its own.
 */
#include "harness.h"

#include <pthread.h>

static tt_chan *g_a, *g_b;

static void pass_a_to_b(void *arg) {
  (void)arg;
  int v;
  if (tt_chan_recv(g_a, &v) == 0)
    tt_chan_send(g_b, &v);
}

static void pass_b_to_a(void *arg) {
  (void)arg;
  int v;
  if (tt_chan_recv(g_b, &v) == 0)
    tt_chan_send(g_a, &v);
}

/* Two tasks each waiting for the other, the main task waiting for both. */
static void cycle_main(void *arg) {
  (void)arg;
  g_a = tt_chan_make(sizeof(int), 0);
  g_b = tt_chan_make(sizeof(int), 0);
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, pass_a_to_b, NULL);
  tt_wg_go(wg, pass_b_to_a, NULL);
  tt_wg_wait(wg);
}

/* A task that makes a channel and drops it as it exits: under
 * TT_LEAKCHECK that is an event, which starts the background checker's
 * thread just as the last worker goes idle. */
static void drop_and_exit(void *arg) {
  (void)arg;
  tt_chan *c = tt_chan_make(sizeof(int), 1);
  tt_chan_unref(c);
}

static void cycle_event_main(void *arg) {
  (void)arg;
  g_a = tt_chan_make(sizeof(int), 0);
  g_b = tt_chan_make(sizeof(int), 0);
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, pass_a_to_b, NULL);
  tt_wg_go(wg, pass_b_to_a, NULL);
  tt_go(drop_and_exit, NULL);
  tt_wg_wait(wg);
}

static void on_alarm(int sig) {
  (void)sig;
  _exit(7); /* report mode: the deadlock stays, the test ends it */
}

/* ---- look-alikes: each ends by itself ---------------------------------------- */

static void *late_sender(void *arg) {
  (void)arg;
  usleep(300 * 1000);
  int v = 1;
  while (tt_chan_try_send(g_a, &v) != 0) /* a plain thread cannot block on a channel */
    usleep(1000);
  return NULL;
}

/* All tasks wait, but a thread of the user's can still wake one. */
static void thread_main(void *arg) {
  (void)arg;
  int v;
  tt_chan_recv(g_a, &v);
}

static void sleeper(void *arg) {
  (void)arg;
  tt_sleep(TT_MS(300));
  int v = 1;
  tt_chan_send(g_a, &v);
}

/* All other tasks wait for one that sleeps: its timer will wake it. */
static void timer_main(void *arg) {
  (void)arg;
  g_a = tt_chan_make(sizeof(int), 0);
  tt_go(sleeper, NULL);
  int v;
  tt_chan_recv(g_a, &v);
}

static void slow_call(void *arg) {
  (void)arg;
  usleep(300 * 1000);
}

static void offloaded(void *arg) {
  (void)arg;
  tt_blocking(slow_call, NULL);
  int v = 1;
  tt_chan_send(g_a, &v);
}

/* The only task not waiting on a channel is in a blocking call. */
static void blocking_main(void *arg) {
  (void)arg;
  g_a = tt_chan_make(sizeof(int), 0);
  tt_go(offloaded, NULL);
  int v;
  tt_chan_recv(g_a, &v);
}

static void apply_test_env(void) {
  const char *list = getenv("TT_TEST_ENV");
  if (!list)
    return;
  char *copy = strdup(list), *save = NULL;
  for (char *kv = strtok_r(copy, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
    char *eq = strchr(kv, '=');
    if (eq) {
      *eq = '\0';
      setenv(kv, eq + 1, 1);
    }
  }
  free(copy);
}

static int child(const char *mode) {
  apply_test_env();
  if (strcmp(mode, "--cycle") == 0 || strcmp(mode, "--cycle-event") == 0) {
    signal(SIGALRM, on_alarm);
    alarm(3);
    tt_fn fn = strcmp(mode, "--cycle") == 0 ? cycle_main : cycle_event_main;
    return tt_main(fn, NULL) == 0 ? 0 : 1;
  }
  if (strcmp(mode, "--thread") == 0) {
    if (tt_init(NULL) != 0)
      return 1;
    g_a = tt_chan_make(sizeof(int), 0); /* before the thread that uses it starts */
    pthread_t th;
    pthread_create(&th, NULL, late_sender, NULL);
    int rc = tt_main(thread_main, NULL);
    pthread_join(th, NULL);
    tt_shutdown();
    fprintf(stderr, "ENDED\n");
    return rc == 0 ? 0 : 1;
  }
  tt_fn fn = strcmp(mode, "--timer") == 0 ? timer_main : blocking_main;
  int rc = tt_main(fn, NULL);
  fprintf(stderr, "ENDED\n");
  return rc == 0 ? 0 : 1;
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p++)
    n++;
  return n;
}

/* env: one or more KEY=VALUE separated by spaces; the child sets them
 * (tt_test_run_self replaces a single variable: TT_TEST_ENV carries them). */
static void run(const char *mode, const char *env, char **err, int *status) {
  *err = NULL;
  char kv[256];
  snprintf(kv, sizeof kv, "TT_TEST_ENV=%s", env);
  CHECK_EQ(tt_test_run_self("test_deadlock", mode, kv, err, status), 0);
  if (!*err)
    *err = strdup("");
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1)
    return child(argv[1]);
  tt_test_watchdog(120);
  char *err;
  int status;

  if (TT_TEST_TSAN) {
    /* TSan runs a thread of its own, which the census cannot vouch for:
     * no deadlock is ever claimed under it (the look-alikes below still
     * run). */
    NOTE("deadlock reports skipped under TSan");
  } else {
    NOTE("a cycle, TT_DEADLOCK=abort");
    run("--cycle", "TT_DEADLOCK=abort", &err, &status);
    CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status 0x%x\n%s", status, err);
    CHECK_MSG(strstr(err, "tether: all tasks are asleep - deadlock!\n\ngoroutine 1 ") != NULL,
              "no report:\n%s", err);
    CHECK(strstr(err, "goroutine 1 [sync.WaitGroup.Wait]:") != NULL);
    CHECK(count(err, "[chan receive]:") == 2);
    CHECK(strstr(err, "pass_a_to_b(...)") && strstr(err, "pass_b_to_a(...)"));
    CHECK(strstr(err, "TT_DEADLOCK=abort") != NULL);
    free(err);

    /* The default: Go's "fatal error: all goroutines are asleep", exit
     * status 2 from the program in tt_main. Several runs at both worker
     * counts, with and without the leak checker's background thread
     * (which starts lazily, just as the last worker goes idle). */
    static const char *const exit_envs[] = {
        "TT_PROCS=1",
        "TT_PROCS=2",
        "TT_PROCS=1 TT_LEAKCHECK=report",
        "TT_PROCS=2 TT_LEAKCHECK=report",
        "TT_PROCS=2 TT_DEADLOCK=exit TT_LEAKCHECK=record",
    };
    int runs = TT_TEST_ASAN ? 3 : 6;
    for (size_t e = 0; e < sizeof exit_envs / sizeof *exit_envs; e++) {
      NOTE("a cycle, %s: reported, exit status 2 (%d runs)", exit_envs[e], runs);
      for (int r = 0; r < runs; r++) {
        run(r % 2 ? "--cycle-event" : "--cycle", exit_envs[e], &err, &status);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 2, "%s run %d: status 0x%x\n%s",
                  exit_envs[e], r, status, err);
        CHECK_MSG(count(err, "tether: all tasks are asleep - deadlock!") == 1, "%s run %d:\n%s",
                  exit_envs[e], r, err);
        CHECK(count(err, "[chan receive") >= 2); /* "(leaked)" under TT_LEAKCHECK */
        free(err);
      }
    }

    NOTE("a cycle, TT_DEADLOCK=report: said once, then the program stays");
    run("--cycle", "TT_PROCS=2 TT_DEADLOCK=report", &err, &status);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 7, "status 0x%x\n%s", status, err);
    CHECK_EQ(count(err, "all tasks are asleep - deadlock!"), 1);
    free(err);

    NOTE("a cycle, TT_DEADLOCK=report TT_LEAKCHECK=report: said once");
    run("--cycle", "TT_PROCS=2 TT_DEADLOCK=report TT_LEAKCHECK=report", &err, &status);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 7, "status 0x%x\n%s", status, err);
    CHECK_MSG(count(err, "all tasks are asleep - deadlock!") == 1, "%s", err);
    free(err);

    NOTE("TT_DEADLOCK=off");
    run("--cycle", "TT_DEADLOCK=off", &err, &status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);
    CHECK_EQ(count(err, "deadlock"), 0);
    free(err);
  }

  static const char *const lookalikes[] = {"--thread", "--timer", "--blocking"};
  for (int i = 0; i < 3; i++) {
    NOTE("not a deadlock: %s", lookalikes[i] + 2);
    run(lookalikes[i], "TT_DEADLOCK=abort", &err, &status);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status 0x%x\n%s", lookalikes[i],
              status, err);
    CHECK_MSG(count(err, "deadlock") == 0 && strstr(err, "ENDED"), "%s:\n%s", lookalikes[i], err);
    free(err);
  }
  return TEST_REPORT();
}
