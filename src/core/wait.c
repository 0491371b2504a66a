/*
 * The waiting machinery of wait.h: wait queues, claiming, deadline timers.
 */
#include "core/wait.h"

#include "core/timer.h"

/* ---- Wait queues -------------------------------------------------------- */

void tt__waitq_push(tt_waitq *q, tt_waiter *w) {
  w->next = NULL;
  w->prev = q->last;
  if (q->last)
    q->last->next = w;
  else
    q->first = w;
  q->last = w;
  w->queued = true;
}

void tt__waitq_unlink(tt_waitq *q, tt_waiter *w) {
  if (!w->queued)
    return;
  if (w->prev)
    w->prev->next = w->next;
  else
    q->first = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    q->last = w->prev;
  w->next = w->prev = NULL;
  w->queued = false;
}

tt_waiter *tt__waitq_claim(tt_waitq *q) {
  tt_waiter *w;
  while ((w = q->first)) {
    tt__waitq_unlink(q, w);
    int expect = 0;
    if (atomic_compare_exchange_strong(&w->op->done, &expect, 1)) {
      w->op->fired = w->case_index;
      return w;
    }
    /* Its operation already completed elsewhere; its owner is on the way
     * to remove the rest of its waiters. */
  }
  return NULL;
}

int tt__waitq_claim_batch(tt_waitq *q, tt_waiter **out, int max) {
  /* Each waiter lives on its own task's stack, so walking a long queue is
   * a chain of cache misses, one per waiter, each waiting for the one
   * before. Only the walk has to wait for them: it only reads, and it
   * prefetches each waiter's opstate, so the claims below, whose
   * compare-and-swap would wait for every miss still in flight, find their
   * lines at hand. (Walking from both ends at once halves the walk, but
   * wakes the tasks in an order that costs more in the scheduler than it
   * saves here.) */
  int n = 0;
  tt_waiter *w = q->first;
  while (w && n < max) {
    __builtin_prefetch(w->op, 1);
    out[n++] = w;
    w = w->next;
  }
  q->first = w;
  if (w)
    w->prev = NULL;
  else
    q->last = NULL;
  int won = 0;
  for (int i = 0; i < n; i++) {
    w = out[i];
    w->next = w->prev = NULL;
    w->queued = false;
    int expect = 0;
    if (atomic_compare_exchange_strong(&w->op->done, &expect, 1)) {
      w->op->fired = w->case_index;
      out[won++] = w;
    }
  }
  return won;
}

/* ---- Deadline timers ------------------------------------------------------ */

static void op_timer_fire(tt_tnode *tm) {
  tt_opstate *op = tm->arg;
  tt_task *t = op->task;
  int expect = 0;
  bool won = atomic_compare_exchange_strong(&op->done, &expect, 1);
  if (won)
    op->fired = -1;
  /* Last touch of op: once DONE is visible its owner may return. */
  atomic_store_explicit(&op->timer_state, TT_TIMER_DONE, memory_order_release);
  if (won)
    tt__ready(t);
}

void tt__op_timer_arm(tt_opstate *op, int64_t deadline) {
  tt_worker *w = tt__worker();
  tt_tnode *tm = &op->task->timer;
  tm->when = deadline;
  tm->fire = op_timer_fire;
  tm->arg = op;
  atomic_store_explicit(&op->timer_state, TT_TIMER_ARMED, memory_order_relaxed);
  tt_spin_lock(&w->timers.lock);
  int rc = tt__timer_add_locked(&w->timers, tm);
  tt_spin_unlock(&w->timers.lock);
  if (rc < 0) {
    /* No memory for the heap: time the operation out now rather than let
     * it wait past its deadline. */
    op_timer_fire(tm);
    return;
  }
  tt__kick_poller(deadline);
}

void tt__op_timer_disarm(tt_opstate *op) {
  if (atomic_load_explicit(&op->timer_state, memory_order_acquire) == TT_TIMER_UNUSED)
    return;
  if (tt__timer_del(&op->task->timer))
    return;
  /* Already taken off the heap by a worker that is firing it: wait for the
   * callback to finish with our stack-allocated state. It is a handful of
   * instructions. */
  while (atomic_load_explicit(&op->timer_state, memory_order_acquire) != TT_TIMER_DONE)
    tt__cpu_relax();
}

static void deadline_commit(void *arg) {
  tt_opstate *op = arg;
  tt__op_timer_arm(op, op->deadline);
}

int tt__park_until(tt_wait_reason why, int64_t deadline) {
  if (deadline == TT_NO_DEADLINE) {
    tt__park(why, NULL, NULL, NULL);
    tt__fatal("a task blocked forever (%s) was resumed", tt__wait_reason_string(why));
  }
  if (deadline <= tt_now())
    return TT_ETIMEDOUT;
  tt_opstate op = {.done = 0,
                   .fired = -2,
                   .timer_state = TT_TIMER_UNUSED,
                   .task = tt__current(),
                   .deadline = deadline};
  tt__park(why, NULL, deadline_commit, &op);
  tt__op_timer_disarm(&op);
  return TT_ETIMEDOUT;
}
