/*
 * Waiting on runtime primitives: the one mechanism under channels, select,
 * and every sync primitive.
 *
 * A blocked operation is a set of waiters (one per queue it waits on: a
 * plain send or a mutex lock has one, a select one per case, a wait bounded
 * by a context one more on the context's done channel, sync/wait_on.h) sharing one
 * tt_opstate on the blocked task's stack. Whoever completes the operation —
 * a partner on a channel, an unlock, a close, a cancel, or the deadline
 * timer — must first win the compare-and-swap on opstate.done; the losers
 * leave that waiter alone. That single claim is what rules out lost and
 * double wake-ups when several wakers race across workers.
 */
#ifndef TT_CORE_WAIT_H
#define TT_CORE_WAIT_H

#include "core/sched.h"

typedef struct tt_waiter tt_waiter;

enum { TT_TIMER_UNUSED = 0, TT_TIMER_ARMED = 1, TT_TIMER_DONE = 2 };

typedef struct tt_opstate {
  _Atomic int done;        /* 0 while pending; the claimer sets 1 */
  int fired;               /* case index that completed it, -1 for the deadline */
  _Atomic int timer_state; /* TT_TIMER_* */
  tt_task *task;
  int64_t deadline;
} tt_opstate;

struct tt_waiter {
  tt_waiter *next, *prev; /* in the channel's queue */
  tt_chan *chan;
  tt_opstate *op;
  void *elem; /* send: the value; receive: the destination (or NULL) */
  int case_index;
  bool queued;  /* still linked in chan's queue (under chan's lock) */
  bool success; /* false when woken by close */
};

typedef struct tt_waitq {
  tt_waiter *first, *last;
} tt_waitq;

void tt__waitq_push(tt_waitq *q, tt_waiter *w);
void tt__waitq_unlink(tt_waitq *q, tt_waiter *w);
/* Pop the first waiter whose operation we win; losers are unlinked too. */
tt_waiter *tt__waitq_claim(tt_waitq *q);
/* The same with the common empty case decided inline. */
static inline tt_waiter *tt__waitq_claim_any(tt_waitq *q) {
  return q->first ? tt__waitq_claim(q) : NULL;
}
/* Unlink up to max waiters from the head of q and claim those whose
 * operation we win; the winners go to out[0..return value). Waking a long
 * queue this way, a batch at a time, touches each waiter's memory while it
 * is still in cache: see the definition. */
int tt__waitq_claim_batch(tt_waitq *q, tt_waiter **out, int max);

/* Deadline timer for a blocked operation: armed from the park callback (the
 * task is off its stack, its queues still locked), disarmed after wake. */
void tt__op_timer_arm(tt_opstate *op, int64_t deadline);
void tt__op_timer_disarm(tt_opstate *op);

/* Park with nothing to wait for but the deadline (nil channels, selects
 * without usable cases): forever, or TT_ETIMEDOUT once it passes. */
int tt__park_until(tt_wait_reason why, int64_t deadline);

#endif
