/*
 * Seed technique 4: track task lifecycles.
 *
 * The seed's GoroutineTracker pairs a WaitGroup with a counter. In tether
 * both are built in: tt_wg_go adds, spawns and marks Done when the task
 * returns (and the runtime records which task owes each Done), and every
 * live task is listed with its spawn site by tt_tasks_foreach / tt_dump.
 */
#include <stdio.h>

#include "tether.h"

typedef struct tracker {
  tt_wg *active;
  const char *site_file;
} tracker;

static void job(void *arg) { tt_sleep((int64_t)(intptr_t)arg * 1000000); }

static int count_mine(const tt_task_info *i, void *arg) {
  int64_t *n = arg;
  if (i->entry && i->entry[0] == 'j') /* entry function "job" */
    (*n)++;
  return 0;
}

static void main_task(void *arg) {
  (void)arg;
  tracker t = {.active = tt_wg_make()};
  for (int i = 1; i <= 5; i++)
    tt_wg_go(t.active, job, (void *)(intptr_t)(10 * i));
  int64_t n = 0;
  tt_tasks_foreach(count_mine, &n);
  printf("tracked tasks running: %lld\n", (long long)n);
  tt_dump(stdout);
  tt_wg_wait(t.active);
  n = 0;
  tt_tasks_foreach(count_mine, &n);
  printf("after Wait: %lld running\n", (long long)n);
  tt_wg_free(t.active);
}

int main(void) { return tt_main(main_task, NULL) < 0; }
