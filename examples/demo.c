/*
 * make demo: spawn a few kinds of tasks, look at them live, let them finish.
 * (Until the HTTP client demo exists this is tether's main job.)
 */
#include <stdio.h>
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
}

int main(void) {
  int rc = tt_main(main_task, NULL);
  if (rc < 0) {
    fprintf(stderr, "demo: %s\n", tt_strerror(rc));
    return 1;
  }
  return 0;
}
