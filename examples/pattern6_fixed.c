/*
 * Seed pattern 6, fixed: the conditional leak on the error path.
 *
 * Leaky shape: the worker returns early on error without sending, and the
 * caller blocks on the result channel forever. Fix: result and error
 * channels with room for one value each, and a select with the caller's
 * context: every path of the worker sends exactly once and never blocks,
 * and the caller never waits longer than its deadline.
 */
#include <stdio.h>
#include <stdlib.h>

#include "expect_leaks.h"
#include "tether.h"

typedef struct call {
  tt_chan *result, *err;
  int fail;
} call;

static void expensive_work(void *arg) {
  call *c = arg;
  tt_sleep(1000000);
  if (c->fail) {
    int e = -100;
    tt_chan_send(c->err, &e); /* buffered: never blocks */
  } else {
    long r = 7;
    tt_chan_send(c->result, &r);
  }
  tt_chan_unref(c->result);
  tt_chan_unref(c->err);
  free(c); /* the worker owns its arguments: the caller may be gone */
}

static int fetch(int fail, long *out) {
  tt_context *ctx = tt_with_timeout(NULL, 50 * 1000000);
  tt_chan *result = tt_chan_make(sizeof(long), 1), *err = tt_chan_make(sizeof(int), 1);
  call *c = malloc(sizeof *c);
  if (!c)
    return TT_ENOMEM;
  *c = (call){tt_chan_ref(result), tt_chan_ref(err), fail};
  tt_go(expensive_work, c);
  int e = 0;
  tt_case cases[2] = {tt_case_recv(result, out), tt_case_recv(err, &e)};
  int which = tt_select_ctx(cases, 2, 0, ctx);
  tt_context_release(ctx);
  tt_chan_unref(result);
  tt_chan_unref(err);
  return which == 0 ? 0 : which == 1 ? e : which;
}

static int no_leaks;

static void main_task(void *arg) {
  (void)arg;
  long r = 0;
  int rc = fetch(0, &r);
  printf("success path: rc=%d result=%ld\n", rc, r);
  rc = fetch(1, &r);
  printf("error path:   rc=%d\n", rc);
  tt_sleep(5 * 1000000); /* workers return right after their send */
  printf("tasks left besides main: %lld\n", (long long)tasks_left(1));
  no_leaks = expect_no_definite_leak(); /* nor does the leak detector find one */
}

int main(void) { return tt_main(main_task, NULL) < 0 || tt_num_tasks() != 0 || !no_leaks; }
