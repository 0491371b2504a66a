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

static int child(const char *mode) {
  if (strcmp(mode, "--cycle") == 0) {
    signal(SIGALRM, on_alarm);
    alarm(3);
    return tt_main(cycle_main, NULL) == 0 ? 0 : 1;
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

static void run(const char *mode, const char *env, char **err, int *status) {
  *err = NULL;
  CHECK_EQ(tt_test_run_self("test_deadlock", mode, env, err, status), 0);
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

    NOTE("a cycle, TT_DEADLOCK=report (the default): said once");
    run("--cycle", "TT_PROCS=2", &err, &status);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 7, "status 0x%x\n%s", status, err);
    CHECK_EQ(count(err, "all tasks are asleep - deadlock!"), 1);
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
