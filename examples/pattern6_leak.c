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
 * Exit 0 when tt_verify_none catches the stuck handler ("chan receive") and
 * the wait-for graph proves it an error-path leak once the worker has
 * returned, 1 otherwise. The fix is in pattern6_fixed.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect_leaks.h"
#include "tether.h"

typedef struct work {
  tt_chan *result; /* the worker's own reference, handed at the spawn */
  int fail;
} work;

static void expensive_work(void *arg) {
  work *w = arg;
  tt_sleep(1000000); /* result, err := doExpensiveWork() */
  long r = 7;
  if (!w->fail) /* on error it returns without sending */
    tt_chan_send(w->result, &r);
  free(w);
} /* the runtime releases the handed reference here */

static void leak6(void *arg) {
  tt_chan *result = tt_chan_make(sizeof(long), 0);
  work *w = malloc(sizeof *w);
  *w = (work){result, (int)(intptr_t)arg};
  tt_go_opts(expensive_work, w, &(tt_spawn_opts){.give_chans = {result}});
  long r;
  tt_chan_recv(result, &r); /* blocks forever on the error path */
  tt_chan_unref(result);
}

static int caught;

static void main_task(void *arg) {
  (void)arg;
  tt_go(leak6, (void *)0); /* success path: returns */
  tt_go(leak6, (void *)1); /* leak: spawned here (error path) */
  caught = expect_leaks(1, "chan receive");
  caught &= expect_definite(1, "error-path leak (seed pattern 6)");
}

int main(void) { return tt_main(main_task, NULL) < 0 || !caught; }
