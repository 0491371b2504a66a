/*
 * WaitGroup. The counter is an atomic updated without a lock except on the
 * transition to zero, which takes the lock and wakes every waiter: tasks are
 * made runnable, plain threads are woken through a futex sequence word.
 *
 * Freeing safety: a waiter may free the WaitGroup as soon as it returns, so
 * every waiter takes the lock once before returning; that cannot succeed
 * until the Done that woke it has released the lock for the last time.
 */
#include <stdlib.h>

#include "futex.h"
#include "internal.h"

struct tt_wg {
  tt_spinlock lock;
  _Atomic int64_t count;
  tt_task *waiters;        /* parked tasks, linked through ->next */
  int64_t ntask_waiters;   /* under lock */
  uint64_t waiters_gen;    /* runtime generation the waiting tasks belong to */
  int64_t nthread_waiters; /* under lock */
  _Atomic uint32_t seq;    /* bumped at each zero transition */
};

tt_wg *tt_wg_make(void) {
  tt_wg *wg = calloc(1, sizeof *wg);
  return wg;
}

int tt_wg_free(tt_wg *wg) {
  if (!wg)
    return TT_EINVAL;
  tt_spin_lock(&wg->lock);
  /* Tasks of a runtime that has since shut down will never wake: they do
   * not keep the WaitGroup alive. */
  bool live_tasks = wg->ntask_waiters > 0 && atomic_load(&tt__rt.state) != TT_RT_OFF &&
                    wg->waiters_gen == atomic_load(&tt__rt.generation);
  bool busy = live_tasks || wg->nthread_waiters > 0;
  tt_spin_unlock(&wg->lock);
  if (busy)
    return TT_EBUSY;
  free(wg);
  return 0;
}

int tt_wg_add(tt_wg *wg, int64_t delta) {
  if (!wg)
    return TT_EINVAL;
  int64_t c = atomic_load_explicit(&wg->count, memory_order_relaxed);
  for (;;) {
    int64_t n = c + delta;
    if (n < 0)
      return TT_ENEGATIVE;
    if (n == 0)
      break;
    if (atomic_compare_exchange_weak(&wg->count, &c, n))
      return 0;
  }
  /* Reaching zero: wake everybody under the lock. */
  tt_spin_lock(&wg->lock);
  c = atomic_load(&wg->count);
  if (c + delta < 0) {
    tt_spin_unlock(&wg->lock);
    return TT_ENEGATIVE;
  }
  atomic_fetch_add(&wg->count, delta);
  if (c + delta == 0) {
    tt_task *t = wg->waiters_gen == atomic_load(&tt__rt.generation) ? wg->waiters : NULL;
    wg->waiters = NULL;
    wg->ntask_waiters = 0;
    while (t) {
      tt_task *next = t->next;
      tt__ready(t);
      t = next;
    }
    if (wg->nthread_waiters) {
      atomic_fetch_add(&wg->seq, 1);
      tt_futex_wake_all(&wg->seq);
    }
  }
  tt_spin_unlock(&wg->lock);
  return 0;
}

int tt_wg_done(tt_wg *wg) { return tt_wg_add(wg, -1); }

int tt_wg_wait(tt_wg *wg) {
  if (!wg)
    return TT_EINVAL;
  tt_spin_lock(&wg->lock);
  if (atomic_load(&wg->count) == 0) {
    tt_spin_unlock(&wg->lock);
    return 0;
  }
  tt_task *self = tt__current();
  if (self) {
    uint64_t gen = atomic_load(&tt__rt.generation);
    if (wg->waiters_gen != gen) { /* leftovers of a runtime that shut down */
      wg->waiters = NULL;
      wg->ntask_waiters = 0;
      wg->waiters_gen = gen;
    }
    self->next = wg->waiters;
    wg->waiters = self;
    wg->ntask_waiters++;
    tt__park(TT_WAIT_WAITGROUP, wg, tt__spin_unlock_cb, &wg->lock);
    tt_spin_lock(&wg->lock); /* see the comment at the top */
    tt_spin_unlock(&wg->lock);
    return 0;
  }
  wg->nthread_waiters++;
  while (atomic_load(&wg->count) != 0) {
    uint32_t s = atomic_load(&wg->seq);
    tt_spin_unlock(&wg->lock);
    tt_futex_wait(&wg->seq, s);
    tt_spin_lock(&wg->lock);
  }
  wg->nthread_waiters--;
  tt_spin_unlock(&wg->lock);
  return 0;
}

int64_t tt__wg_spawn(tt_wg *wg, tt_fn fn, void *arg, const tt_spawn_opts *opts,
                     const char *entry, const char *file, int line, const char *func) {
  if (!wg)
    return TT_EINVAL;
  int rc = tt_wg_add(wg, 1);
  if (rc < 0)
    return rc;
  int64_t id = tt__spawn_internal(fn, arg, opts, entry, file, line, func, wg);
  if (id < 0)
    tt_wg_add(wg, -1);
  return id;
}
