/*
 * Seed pattern 3, fixed: never be both ends of your own rendezvous.
 *
 * Leaky shape: `go func() { ch <- <-ch }()` — the task's receive can only be
 * answered by its own send. Fix: the echo task reads from one channel and
 * writes to another, the caller is the other end of both, and closing the
 * input tells the task to return. tt_verify_none then finds nothing left.
 */
#include <stdio.h>

#include "expect_leaks.h"
#include "tether.h"

typedef struct pipes {
  tt_chan *in, *out;
} pipes;

static void echo(void *arg) {
  pipes *p = arg;
  int v;
  while (tt_chan_recv(p->in, &v) == 0) /* until the caller closes in */
    tt_chan_send(p->out, &v);
}

static int clean;

static int no_leaks;

static void main_task(void *arg) {
  (void)arg;
  pipes p = {tt_chan_make(sizeof(int), 0), tt_chan_make(sizeof(int), 0)};
  tt_go(echo, &p);
  int v = 42, back = 0;
  tt_chan_send(p.in, &v);
  tt_chan_recv(p.out, &back);
  printf("echo: sent %d, got %d back\n", v, back);
  tt_chan_close(p.in); /* the echo task returns */

  tt_verify_report *rep = NULL;
  clean = tt_verify_none(NULL, &rep) == 0;
  if (clean)
    printf("verify-none: no unexpected tasks\n");
  else
    tt_verify_report_print(rep, stdout);
  tt_verify_report_free(rep);
  tt_chan_unref(p.in);
  tt_chan_unref(p.out);
  no_leaks = expect_no_definite_leak(); /* nor does the leak detector find one */
}

int main(void) { return tt_main(main_task, NULL) < 0 || !clean || !no_leaks; }
