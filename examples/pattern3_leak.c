/*
 * Seed pattern 3, leaky: a task waiting on itself.
 *
 *     func leak3() {
 *         ch := make(chan int)
 *         go func() { ch <- <-ch }() // receives what it would send itself
 *     }
 *
 * The task's receive can only be answered by its own send, which comes
 * after it. Exit 0 when tt_verify_none catches it ("chan receive") and the
 * wait-for graph proves it waits on itself once leak3 has let go of ch, 1
 * otherwise. The fix is in pattern3_fixed.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect_leaks.h"
#include "tether.h"

static void echo_self(void *arg) {
  tt_chan *ch = arg;
  int v;
  if (tt_chan_recv(ch, &v) == 0) /* the only sender is this task, below */
    tt_chan_send(ch, &v);
}

static void leak3(void) {
  tt_chan *ch = tt_chan_make(sizeof(int), 0);
  /* The task gets its own reference (released when it returns, which it
   * never does): Go's closure capturing ch. */
  tt_go_opts(echo_self, ch, &(tt_spawn_opts){.give_chans = {ch}}); /* leak: spawned here */
  tt_chan_unref(ch);                                               /* ch goes out of scope here */
}

static int caught;

static void main_task(void *arg) {
  (void)arg;
  leak3();
  caught = expect_leaks(1, "chan receive");
  caught &= expect_definite(1, "waiting on itself (seed pattern 3)");
  /* tt_main drops the leaked task when main_task returns, as Go does. */
}

int main(void) { return tt_main(main_task, NULL) < 0 || !caught; }
