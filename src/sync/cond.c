/*
 * Condition variable: Go's sync.Cond (with its L passed to each wait, as
 * pthreads does), plus deadline and context waits.
 *
 * The lost-signal hazard is the window between "unlock the mutex" and
 * "park": a signal sent there must still find the waiter. Here the waiter
 * takes the cond's spinlock first and unlocks the mutex while holding it.
 * Signal and broadcast need that spinlock, and tt__wait_on releases it only
 * once the task is queued and off its stack, so any signal that follows
 * the unlock sees the waiter in the queue. (Lock order: cond spinlock, then
 * the mutex's; nothing takes them the other way round.)
 *
 * Wake-ups are claims (wait.h): signal wakes the first waiter that has not
 * already timed out or been cancelled, so a signal is never spent on a
 * waiter that is leaving anyway. There are no spurious wake-ups, but as
 * with every condition variable the caller re-checks its predicate: another
 * task may have changed it before the woken one relocks the mutex.
 *
 * Whatever the outcome, the mutex is locked again before returning, as
 * pthread_cond_timedwait does; relocking is a plain (unbounded) lock.
 */
#include "leak/hooks.h"
#include "sync/sync.h"

static inline tt_cond_s *cv(tt_cond *c) { return (tt_cond_s *)c; }

static int cond_wait(tt_cond *pc, tt_mutex *m, tt_context *ctx, int64_t deadline) {
  if (!tt__current())
    return TT_ENOTASK;
  /* Already expired: report it without letting go of the mutex. */
  int err = ctx ? tt_context_err(ctx) : 0;
  if (err)
    return err;
  if (deadline != TT_NO_DEADLINE && deadline <= tt_now())
    return TT_ETIMEDOUT;

  tt_cond_s *c = cv(pc);
  tt_spin_lock(&c->lock);
  tt__syncq_refresh(&c->q, &c->gen);
  int rc = tt_mutex_unlock(m); /* under c->lock: see the top of the file */
  if (rc < 0) {
    tt_spin_unlock(&c->lock);
    return rc; /* the caller did not hold m (strict mode aborted already) */
  }
  tt_waiter w = {.elem = NULL};
  rc = tt__wait_on(&c->lock, &c->q, &w, TT_WAIT_COND, c, ctx, deadline);
  tt_mutex_lock(m);
  return rc;
}

int tt_cond_wait(tt_cond *c, tt_mutex *m) {
  if (!c || !m)
    return TT_EINVAL;
  return cond_wait(c, m, NULL, TT_NO_DEADLINE);
}

int tt_cond_wait_until(tt_cond *c, tt_mutex *m, int64_t deadline) {
  if (!c || !m)
    return TT_EINVAL;
  return cond_wait(c, m, NULL, deadline);
}

int tt_cond_wait_ctx(tt_cond *c, tt_mutex *m, tt_context *ctx) {
  if (!c || !m || !ctx)
    return TT_EINVAL;
  return cond_wait(c, m, ctx, TT_NO_DEADLINE);
}

/* Signal and broadcast never block, so plain threads may call them. Like
 * Go (and unlike some pthread advice) they need not hold the mutex. */
int tt_cond_signal(tt_cond *pc) {
  if (!pc)
    return TT_EINVAL;
  tt__hold_publish_any(tt__self_at_entry()); /* the guarded state may carry handles */
  tt_cond_s *c = cv(pc);
  tt_spin_lock(&c->lock);
  tt__syncq_refresh(&c->q, &c->gen);
  tt_waiter *w = tt__waitq_claim(&c->q);
  tt_task *t = w ? w->op->task : NULL;
  tt_spin_unlock(&c->lock);
  if (t)
    tt__ready(t);
  return 0;
}

int tt_cond_broadcast(tt_cond *pc) {
  if (!pc)
    return TT_EINVAL;
  tt__hold_publish_any(tt__self_at_entry()); /* the guarded state may carry handles */
  tt_cond_s *c = cv(pc);
  tt_task *wake = NULL;
  tt_spin_lock(&c->lock);
  tt__syncq_refresh(&c->q, &c->gen);
  tt_waiter *w;
  while ((w = tt__waitq_claim(&c->q)))
    tt__wake_push(&wake, w);
  tt_spin_unlock(&c->lock);
  tt__wake_all(wake);
  return 0;
}
