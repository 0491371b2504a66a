/*
 * make demo: spawn a few kinds of tasks, look at them live, let them finish;
 * then make two classic leaks on purpose — a task group member that ignores
 * cancellation, and a ticker its owner forgot to stop — and watch tether
 * name them; check with tt_verify_none that nothing is left; and finally
 * run the seed's six leak patterns (examples/pattern*_leak.c, built next to
 * this program), each caught and reported by tt_verify_none. (Until the
 * HTTP client demo exists this is tether's main job.)
 */
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tether.h"

static tt_wg *release;

static void sleeper(void *arg) { tt_sleep((int64_t)(intptr_t)arg * 1000000); }

static void waiter(void *arg) {
  (void)arg;
  tt_wg_wait(release);
}

static void slow_syscall(void *arg) {
  (void)arg;
  usleep(300 * 1000);
}

static void blocker(void *arg) {
  (void)arg;
  tt_blocking(slow_syscall, NULL);
}

static void fib_task(void *arg) {
  long *n = arg;
  long a = 0, b = 1;
  for (long i = 0; i < *n; i++) {
    long c = a + b;
    a = b;
    b = c;
    if (i % 1000 == 0)
      tt_yield();
  }
  *n = a;
}

/* Leak 1: a group task that waits on a channel nobody sends to and never
 * looks at its context. */
static int ignores_cancel(tt_context *ctx, void *arg) {
  (void)ctx;
  long v;
  tt_chan_recv((tt_chan *)arg, &v);
  return 0;
}

static int polite(tt_context *ctx, void *arg) {
  (void)arg;
  tt_sleep_ctx(60LL * 1000000000, ctx); /* returns TT_ECANCELED at destroy */
  return 0;
}

/* Leak 2: a ticker whose owner returns without stopping it. */
static tt_ticker *forgotten;
static void forgetful(void *arg) {
  (void)arg;
  forgotten = tt_ticker_make(10 * 1000000);
}

static void leaks(void) {
  printf("\n== leak 1: a task group destroyed while one task ignores cancellation ==\n");
  tt_chan *never = tt_chan_make(sizeof(long), 0);
  tt_group *g = tt_group_make(NULL, 0);
  tt_group_go(g, polite, NULL);
  tt_group_go(g, ignores_cancel, never);
  tt_sleep(5 * 1000000);
  fflush(stdout);
  int rc = tt_group_destroy(g, 50 * 1000000);
  fflush(stderr);
  printf("tt_group_destroy returned %s\n", rc == TT_ELEAKED ? "TT_ELEAKED" : tt_strerror(rc));

  printf("\n== leak 2: a ticker left running by a task that has exited ==\n");
  tt_go(forgetful, NULL);
  tt_sleep(5 * 1000000);
  printf("orphaned timers: %lld\n", (long long)tt_timers_orphaned(stdout));
  tt_ticker_free(forgotten);

  tt_chan_close(never); /* the stuck task returns now, and frees its group */
  tt_chan_unref(never);
  tt_sleep(5 * 1000000);
}

static void main_task(void *arg) {
  (void)arg;
  release = tt_wg_make();
  tt_wg_add(release, 1);
  tt_wg *all = tt_wg_make();
  for (int i = 1; i <= 3; i++)
    tt_wg_go(all, sleeper, (void *)(intptr_t)(400 * i));
  for (int i = 0; i < 2; i++)
    tt_go_opts(waiter, NULL, &(tt_spawn_opts){.name = "release-waiter"});
  tt_wg_go(all, blocker, NULL);
  long n = 90;
  tt_wg_go(all, fib_task, &n);

  tt_sleep(100 * 1000000);
  printf("== %lld tasks alive after 100 ms, %d workers ==\n", (long long)tt_num_tasks(),
         tt_procs());
  tt_dump(stdout);

  tt_wg_done(release); /* let the waiters go */
  tt_wg_wait(all);
  tt_sleep(10 * 1000000);
  printf("\n== after the sleepers and the blocking call finished: %lld task(s) ==\n",
         (long long)tt_num_tasks());
  tt_dump(stdout);
  printf("\nfib(90) = %ld\n", n);
  tt_wg_free(all);
  tt_wg_free(release);
  leaks();
  printf("\n== at the end: %lld task(s) ==\n", (long long)tt_num_tasks());
  tt_verify_report *left = NULL;
  if (tt_verify_none(NULL, &left) == 0)
    printf("tt_verify_none: no unexpected tasks\n");
  else
    tt_verify_report_print(left, stdout);
  tt_verify_report_free(left);
}

/* Run the six leaky pattern programs; each prints its verify-none report
 * and exits 0 when its leak was caught. Returns how many failed. */
static int leak_patterns(void) {
  static const char *const what[] = {
      "an abandoned sender",           "a receiver whose channel is never closed",
      "a task waiting on itself",      "network I/O without a timeout",
      "a worker pool never shut down", "a leak on the error path only",
  };
  extern char **environ;
  char dir[4096];
  ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
  if (n <= 0)
    return 1;
  dir[n] = '\0';
  *strrchr(dir, '/') = '\0';
  printf("\n== the seed's six leak patterns, each caught by tt_verify_none ==\n");
  int failed = 0;
  for (int i = 1; i <= 6; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s/pattern%d_leak", dir, i);
    printf("\n-- pattern %d: %s (examples/pattern%d_leak.c) --\n", i, what[i - 1], i);
    fflush(stdout);
    pid_t pid;
    char *argv[] = {path, NULL};
    int status = 0;
    if (posix_spawn(&pid, path, NULL, NULL, argv, environ) != 0 ||
        waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      printf("pattern %d: FAILED\n", i);
      failed++;
    }
  }
  printf(
      "\n== patterns 1, 2 and 5 caught the moment they become certain (examples/leakcheck.c) ==\n");
  fflush(stdout);
  char path[4200];
  snprintf(path, sizeof path, "%s/leakcheck", dir);
  pid_t pid;
  char *argv[] = {path, NULL};
  int status = 0;
  if (posix_spawn(&pid, path, NULL, NULL, argv, environ) != 0 || waitpid(pid, &status, 0) != pid ||
      !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    printf("leakcheck: FAILED\n");
    failed++;
  }
  return failed;
}

int main(void) {
  int rc = tt_main(main_task, NULL);
  if (rc < 0) {
    fprintf(stderr, "demo: %s\n", tt_strerror(rc));
    return 1;
  }
  return leak_patterns() != 0;
}
