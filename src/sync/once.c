/*
 * Once: Go's sync.Once. The first caller runs fn; callers that arrive while
 * it runs park until it has returned; everyone after sees DONE with one
 * acquire load, which also makes fn's writes visible to them.
 *
 * The state word (sync.h) goes 0 -> RUNNING | runner id -> DONE. The runner
 * is chosen by one CAS, without the lock; the lock only guards the queue of
 * parked callers, which the runner empties after publishing DONE under it.
 * A caller queues only after seeing RUNNING under the lock, so it cannot
 * miss that wake-up.
 *
 * Plain threads: the call works from a thread that does not have to wait —
 * when fn already ran, or when the thread is the one to run it. A thread
 * that finds fn running elsewhere gets TT_ENOTASK (it has no task to park);
 * fn has then not completed yet, so the caller must not rely on its effects.
 *
 * A recursive call from inside fn can never complete (Go deadlocks too); it
 * parks forever, where leak detection sees it, and TT_STRICT=1 aborts with
 * a report instead.
 */
#include "sync/sync.h"

static inline tt_once_s *on(tt_once *o) { return (tt_once_s *)o; }

static void finish(tt_once_s *o) {
  tt_task *wake = NULL;
  tt_spin_lock(&o->lock);
  tt__syncq_refresh(&o->q, &o->gen);
  atomic_store_explicit(&o->state, TT_ONCE_DONE, memory_order_release);
  tt_waiter *w;
  while ((w = tt__waitq_claim(&o->q)))
    tt__wake_push(&wake, w);
  tt_spin_unlock(&o->lock);
  tt__wake_all(wake);
}

static int wait_done(tt_once_s *o, tt_task *self) {
  tt_spin_lock(&o->lock);
  tt__syncq_refresh(&o->q, &o->gen);
  uint64_t s = atomic_load_explicit(&o->state, memory_order_acquire);
  if (s == TT_ONCE_DONE) {
    tt_spin_unlock(&o->lock);
    return 0;
  }
  if (self->id == (int64_t)(s >> TT_ONCE_SHIFT)) {
    tt_spin_unlock(&o->lock);
    tt__sync_misuse("tt_once_do called from its own fn (deadlock)", o, 0);
  }
  tt_waiter w = {.elem = NULL};
  int rc = tt__wait_on(&o->lock, &o->q, &w, TT_WAIT_SEMACQUIRE, o, NULL, TT_NO_DEADLINE);
  /* Pair with the runner's release store (the wake-up path orders it too;
   * this keeps the guarantee local and visible to ThreadSanitizer). */
  (void)atomic_load_explicit(&o->state, memory_order_acquire);
  return rc;
}

int tt_once_do(tt_once *po, tt_fn fn, void *arg) {
  if (!po || !fn)
    return TT_EINVAL;
  tt_once_s *o = on(po);
  uint64_t s = atomic_load_explicit(&o->state, memory_order_acquire);
  if (TT_LIKELY(s == TT_ONCE_DONE))
    return 0;
  tt_task *self = tt__current();
  if (s == 0) {
    uint64_t mine = TT_ONCE_RUNNING | ((uint64_t)(self ? self->id : 0) << TT_ONCE_SHIFT);
    if (atomic_compare_exchange_strong_explicit(&o->state, &s, mine, memory_order_acquire,
                                                memory_order_acquire)) {
      fn(arg);
      finish(o);
      return 0;
    }
    if (s == TT_ONCE_DONE)
      return 0;
  }
  if (!self)
    return TT_ENOTASK;
  return wait_done(o, self);
}
