/*
 * Seed pattern 2, fixed: a receiver that waits for a close that never comes.
 *
 * Leaky shape: `for v := range ch` in a task, and the producer forgets to
 * close ch. Fix: the producer always closes (its last act), and the consumer
 * also watches a context so that it can be told to stop early.
 */
#include <stdio.h>

#include "expect_leaks.h"
#include "tether.h"

typedef struct pipe {
  tt_chan *ch;
  tt_context *ctx;
  long sum;
  tt_wg *wg;
} pipe_t;

static void producer(void *arg) {
  pipe_t *p = arg;
  for (long i = 1; i <= 100; i++)
    if (tt_chan_send_ctx(p->ch, &i, p->ctx) != 0)
      break;
  tt_chan_close(p->ch); /* Go's `defer close(ch)`: on every path */
}

static void consumer(void *arg) {
  pipe_t *p = arg;
  for (;;) {
    long v;
    int rc = tt_chan_recv_ctx(p->ch, &v, p->ctx);
    if (rc == TT_ECLOSED || rc == TT_ECANCELED || rc == TT_ETIMEDOUT)
      return; /* closed and drained, or told to stop */
    p->sum += v;
  }
}

static int no_leaks;

static void main_task(void *arg) {
  (void)arg;
  pipe_t p = {.ch = tt_chan_make(sizeof(long), 0),
              .ctx = tt_with_cancel(NULL),
              .sum = 0,
              .wg = tt_wg_make()};
  tt_wg_go(p.wg, consumer, &p);
  tt_wg_go(p.wg, producer, &p);
  tt_wg_wait(p.wg);
  printf("sum of 1..100 = %ld\n", p.sum);
  tt_context_release(p.ctx);
  tt_chan_unref(p.ch);
  tt_wg_free(p.wg);
  printf("tasks left besides main: %lld\n", (long long)tasks_left(1));
  no_leaks = expect_no_definite_leak(); /* nor does the leak detector find one */
}

int main(void) { return tt_main(main_task, NULL) < 0 || !no_leaks; }
