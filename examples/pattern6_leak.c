/*
 * Seed pattern 6, leaky: a leak on the error path only.
 *
 *     func leak6() {
 *         resultCh := make(chan Result)
 *         go func() {
 *             result, err := doExpensiveWork()
 *             if err != nil {
 *                 return // resultCh never receives
 *             }
 *             resultCh <- result
 *         }()
 *         <-resultCh // blocks forever on the error path
 *     }
 *
 * Here the caller of leak6 is a request handler task: on the success path
 * it returns, on the error path it waits for a result that never comes.
 * Exit 0 when tt_verify_none catches the stuck handler ("chan receive"), 1
 * otherwise. The fix is in pattern6_fixed.c.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect_leaks.h"
#include "tether.h"

/* Kept only so that main can clean up after the check. */
static _Atomic(tt_chan *) lost;

typedef struct work {
  tt_chan *result;
  int fail;
} work;

static void expensive_work(void *arg) {
  work *w = arg;
  tt_chan *result = w->result; /* the worker's own reference */
  int fail = w->fail;
  tt_sleep(1000000); /* result, err := doExpensiveWork() */
  long r = 7;
  if (!fail) /* on error it returns without sending */
    tt_chan_send(result, &r);
  tt_chan_unref(result);
}

static void leak6(void *arg) {
  work w = {.result = tt_chan_make(sizeof(long), 0), .fail = (int)(intptr_t)arg};
  if (w.fail)
    atomic_store(&lost, w.result);
  work mine = {tt_chan_ref(w.result), w.fail};
  tt_go(expensive_work, &mine);
  long result;
  tt_chan_recv(w.result, &result); /* blocks forever on the error path */
  if (!w.fail)
    tt_chan_unref(w.result);
}

static int caught;

static void main_task(void *arg) {
  (void)arg;
  tt_go(leak6, (void *)0); /* success path: returns */
  tt_go(leak6, (void *)1); /* leak: spawned here (error path) */
  caught = expect_leaks(1, "chan receive");
  tt_chan *ch = atomic_load(&lost);
  tt_chan_close(ch); /* the stuck handler's receive fails: it returns */
  tt_chan_unref(ch);
}

int main(void) { return tt_main(main_task, NULL) < 0 || !caught; }
