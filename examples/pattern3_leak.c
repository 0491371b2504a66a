/*
 * Seed pattern 3, leaky: a task waiting on itself.
 *
 *     func leak3() {
 *         ch := make(chan int)
 *         go func() { ch <- <-ch }() // receives what it would send itself
 *     }
 *
 * The task's receive can only be answered by its own send, which comes
 * after it. Exit 0 when tt_verify_none catches it ("chan receive"), 1
 * otherwise. The fix is in pattern3_fixed.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect_leaks.h"
#include "tether.h"

static tt_chan *lost; /* kept only so that main can clean up after the check */

static void echo_self(void *arg) {
  tt_chan *ch = arg;
  int v;
  if (tt_chan_recv(ch, &v) == 0) /* the only sender is this task, below */
    tt_chan_send(ch, &v);
}

static void leak3(void) {
  tt_chan *ch = tt_chan_make(sizeof(int), 0);
  tt_go(echo_self, ch); /* leak: spawned here */
  lost = ch;
}

static int caught;

static void main_task(void *arg) {
  (void)arg;
  leak3();
  caught = expect_leaks(1, "chan receive");
  tt_chan_close(lost); /* the receive fails with TT_ECLOSED: the task returns */
  tt_chan_unref(lost);
}

int main(void) { return tt_main(main_task, NULL) < 0 || !caught; }
