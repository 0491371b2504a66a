/*
 * Seed pattern 1, leaky: an abandoned sender.
 *
 *     func leak1() {
 *         ch := make(chan int)
 *         go func() { ch <- 42 }() // blocks forever: nobody receives
 *     }
 *
 * The program makes the leak, then lets tt_verify_none find it. It is its
 * own check: exit 0 when the leak was caught (one task waiting in "chan
 * send"), 1 otherwise. The fixes are in pattern1_fixed.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect_leaks.h"
#include "tether.h"

static tt_chan *lost; /* the reference leak1 should have dropped, for main to drop */

static void send_answer(void *arg) {
  int answer = 42;
  tt_chan_send(arg, &answer); /* blocks forever: nobody receives */
}

static void leak1(void) {
  tt_chan *ch = tt_chan_make(sizeof(int), 0);
  tt_go(send_answer, ch); /* leak: spawned here */
  lost = ch;              /* ch "goes out of scope"; the sender stays */
}

static int caught;

static void main_task(void *arg) {
  (void)arg;
  leak1();
  caught = expect_leaks(1, "chan send");
  tt_chan_unref(lost); /* ch goes out of scope: its last reference is gone */
  caught &= expect_definite(1, "abandoned sender (seed pattern 1)");
  /* tt_main drops the leaked task when main_task returns, as Go does. */
}

int main(void) { return tt_main(main_task, NULL) < 0 || !caught; }
