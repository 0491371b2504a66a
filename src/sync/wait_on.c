/*
 * tt__wait_on (wait_on.h): the bounded wait every sync primitive uses.
 */
#include "sync/wait_on.h"

#include "sync/chan.h"

/* ---- Bounded waits for sync primitives ------------------------------------ */

typedef struct wait_park {
  tt_spinlock *lock;
  tt_chan *done; /* locked too, when the wait is bounded by a context */
  tt_opstate *op;
} wait_park;

/* Once the task is off its stack: arm the deadline, then let wakers in. */
static void wait_commit(void *arg) {
  wait_park *p = arg;
  if (p->op->deadline != TT_NO_DEADLINE)
    tt__op_timer_arm(p->op, p->op->deadline);
  if (p->done)
    tt_spin_unlock(&p->done->lock);
  tt_spin_unlock(p->lock);
}

int tt__wait_on(tt_spinlock *lock, tt_waitq *q, tt_waiter *w, tt_wait_reason why, void *obj,
                tt_context *ctx, int64_t deadline) {
  tt_worker *wk = tt__worker();
  tt_task *self = wk->current;
  tt_opstate op = {
      .done = 0, .fired = -2, .timer_state = TT_TIMER_UNUSED, .task = self, .deadline = deadline};
  /* The context contributes its deadline, and a second waiter on its done
   * channel (case 1) so that a cancel claims the operation too. */
  tt_chan *done = NULL;
  tt_waiter dw;
  if (ctx) {
    int64_t cd = tt_context_deadline(ctx);
    if (cd < op.deadline)
      op.deadline = cd;
    done = tt_context_done(ctx);
  }
  if (op.deadline != TT_NO_DEADLINE && op.deadline <= tt_now()) {
    tt_spin_unlock(lock);
    int err = ctx ? tt_context_err(ctx) : 0;
    return err ? err : TT_ETIMEDOUT;
  }
  if (done) {
    tt_spin_lock(&done->lock);
    tt__chan_forget_stale(done);
    if (done->closed) {
      tt_spin_unlock(&done->lock);
      tt_spin_unlock(lock);
      return tt_context_err(ctx);
    }
    dw = (tt_waiter){.chan = done, .op = &op, .elem = NULL, .case_index = 1};
    tt__chan_enqueue(done, &done->recvq, &dw, true);
    /* done stays locked until the task is parked: a cancel must not claim
     * the wait while the task still runs. */
  }
  w->chan = NULL;
  w->op = &op;
  w->case_index = 0;
  w->success = false;
  tt__waitq_push(q, w);
  wait_park p = {lock, done, &op};
  atomic_store_explicit(&wk->current->wait_bounded, done != NULL || op.deadline != TT_NO_DEADLINE,
                        memory_order_relaxed);
  tt__park_on(wk, why, obj, wait_commit, &p);

  tt__op_timer_disarm(&op);
  if (done) {
    tt_spin_lock(&done->lock);
    bool free_it = tt__chan_unpin_locked(done, &done->recvq, &dw);
    tt_spin_unlock(&done->lock);
    if (free_it)
      tt__chan_free(done);
  }
  if (op.fired == 0)
    return 0;
  tt_spin_lock(lock);
  tt__waitq_unlink(q, w);
  tt_spin_unlock(lock);
  if (op.fired == 1)
    return tt_context_err(ctx);
  int err = ctx ? tt_context_err(ctx) : 0;
  return err ? err : TT_ETIMEDOUT;
}
