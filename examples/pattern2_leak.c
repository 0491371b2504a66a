/*
 * Seed pattern 2, leaky: a receiver waiting for a close that never comes.
 *
 *     func leak2() {
 *         ch := make(chan int)
 *         go func() {
 *             for v := range ch { process(v) } // waits for close forever
 *         }()
 *         // forgot close(ch)
 *     }
 *
 * Exit 0 when tt_verify_none catches the receiver ("chan receive"), 1
 * otherwise. The fix is in pattern2_fixed.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect_leaks.h"
#include "tether.h"

static tt_chan *lost; /* the reference leak2 should have dropped, for main to drop */
static long total;

static void consume(void *arg) {
  long v;
  while (tt_chan_recv(arg, &v) == 0) /* Go's range: until ch is closed */
    total += v;
}

static void leak2(void) {
  tt_chan *ch = tt_chan_make(sizeof(long), 0);
  tt_go(consume, ch); /* leak: spawned here */
  for (long i = 1; i <= 3; i++)
    tt_chan_send(ch, &i);
  lost = ch; /* forgot tt_chan_close(ch) */
}

static int caught;

static void main_task(void *arg) {
  (void)arg;
  leak2();
  caught = expect_leaks(1, "chan receive");
  tt_chan_unref(lost); /* ch goes out of scope, never closed */
  caught &= expect_definite(1, "abandoned receiver (seed pattern 2)");
}

int main(void) { return tt_main(main_task, NULL) < 0 || !caught; }
