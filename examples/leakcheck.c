/*
 * Instant leak detection: the leak is reported the moment it becomes
 * certain, not at the end of a test.
 *
 * Three of the seed's patterns, written the way C code drops a handle: the
 * channel's last reference goes (tt_chan_unref) while tasks still wait on
 * it. Nobody may use a channel after that, so those tasks can never run
 * again: the runtime says so at that very call, with the blocked task's
 * stack and the stack of the unref. In recover mode (TT_LEAKCHECK=recover,
 * set here in code) the blocked call returns TT_ELEAKED instead, so the task
 * unwinds, cleans up and exits, and nothing is left behind.
 *
 * Exit 0 when all five leaks were found and recovered.
 */
#include <stdio.h>
#include <string.h>

#include "expect_leaks.h"
#include "tether.h"

static tt_wg *done;
static int recovered;

static void send_result(void *ch) {
  int v = 42;
  if (tt_chan_send(ch, &v) == TT_ELEAKED)
    __atomic_fetch_add(&recovered, 1, __ATOMIC_RELAXED); /* unwind: free what we hold */
  tt_wg_done(done);
}

static void consume(void *ch) {
  int v;
  while (tt_chan_recv(ch, &v) == 0) {
  }
  __atomic_fetch_add(&recovered, 1, __ATOMIC_RELAXED); /* TT_ELEAKED: give up */
  tt_wg_done(done);
}

/* Until n tasks wait in `what`: the leak must be certain when the handle
 * goes (a task that has not parked yet would use the channel after its last
 * reference is gone, which is a use-after-free, not a leak). */
static void until_waiting(const char *what, int64_t n) {
  int reason = 1;
  while (tt_wait_reason_name(reason) && strcmp(tt_wait_reason_name(reason), what) != 0)
    reason++;
  tt_task_counts counts;
  while (tt_count_tasks(&counts) == 0 && counts.by_reason[reason] < n)
    tt_sleep(100000);
}

static void pattern1(void) { /* an abandoned sender */
  tt_chan *ch = tt_chan_make(sizeof(int), 0);
  tt_wg_add(done, 1);
  tt_go(send_result, ch);
  until_waiting("chan send", 1);
  tt_chan_unref(ch); /* the caller returns without receiving */
}

static void pattern2(void) { /* a receiver whose channel is never closed */
  tt_chan *ch = tt_chan_make(sizeof(int), 0);
  tt_wg_add(done, 1);
  tt_go(consume, ch);
  int v = 1;
  tt_chan_send(ch, &v);
  until_waiting("chan receive", 1);
  tt_chan_unref(ch); /* forgot tt_chan_close(ch) */
}

static void pattern5(void) { /* a worker pool without shutdown */
  tt_chan *jobs = tt_chan_make(sizeof(int), 0);
  tt_wg_add(done, 3);
  for (int i = 0; i < 3; i++)
    tt_go(consume, jobs);
  until_waiting("chan receive", 3);
  tt_chan_unref(jobs); /* never closed */
}

static void main_task(void *arg) {
  (void)arg;
  tt_leak_set_mode(TT_LEAK_RECOVER);
  done = tt_wg_make();
  int64_t before = tt_num_tasks();
  pattern1();
  pattern2();
  pattern5();
  tt_wg_wait(done);
  tt_wg_free(done);
  printf("leaks found: %lld, recovered and exited: %d, tasks left: %lld\n",
         (long long)tt_leak_count(), recovered, (long long)tasks_left(before));
}

int main(void) {
  int rc = tt_main(main_task, NULL);
  return rc < 0 || tt_leak_count() != 5 || recovered != 5;
}
