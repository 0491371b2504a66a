/*
 * Mutex: Go's sync.Mutex for tasks.
 *
 * The state word (sync.h) is holder id << 2 | WAITERS | LOCKED; zero is an
 * unlocked mutex nobody waits for.
 *
 *  - Uncontended lock: one CAS 0 -> LOCKED | id. Uncontended unlock: a load
 *    and one CAS back to 0. No spinlock, no fence beyond the CAS.
 *  - Contended lock: take the spinlock and set WAITERS with a fetch-or. From
 *    then on the word is frozen for the fast paths (lockers expect 0,
 *    unlockers bail out on WAITERS), so the slow path decides with plain
 *    stores: take the mutex if it turned out free, else queue and park.
 *  - Unlock with WAITERS: under the spinlock, claim the first waiter whose
 *    operation is still pending and hand the mutex straight to it (the state
 *    names it as the holder before it even runs). Handoff, rather than
 *    waking the waiter to compete again, makes the order FIFO and means a
 *    woken task never finds the mutex taken: no lost wake-up, no starvation
 *    (Go switches to this mode after 1 ms of starvation; tether is always in
 *    it, which costs throughput under heavy contention but never fairness).
 *
 * Timed-out and cancelled lockers are skipped by the claim and unlink
 * themselves; the last one to leave clears WAITERS so unlock goes back to
 * the fast path.
 */
#include "leak/hooks.h"
#include "sync/sync.h"

static inline tt_mutex_s *mu(tt_mutex *m) { return (tt_mutex_s *)m; }

static int lock_slow(tt_mutex_s *m, tt_task *self, tt_context *ctx, int64_t deadline) {
  uint64_t me = TT_MU_LOCKED | ((uint64_t)self->id << TT_MU_SHIFT);
  tt_spin_lock(&m->lock);
  tt__syncq_refresh(&m->q, &m->gen);
  uint64_t s = atomic_fetch_or(&m->state, TT_MU_WAITERS); /* freeze the fast paths */
  if (!(s & TT_MU_LOCKED)) {
    /* Released while we came here. Keep WAITERS only for a real queue. */
    atomic_store(&m->state, me | (m->q.first ? TT_MU_WAITERS : 0));
    tt_spin_unlock(&m->lock);
    return 0;
  }
  tt_waiter w = {.elem = NULL};
  int rc = tt__wait_on(&m->lock, &m->q, &w, TT_WAIT_MUTEX, m, ctx, deadline);
  if (rc == 0)
    return 0; /* the unlocker made us the holder */
  /* Gave up: we are unlinked. If nobody else waits, let unlock go fast. */
  tt_spin_lock(&m->lock);
  if (!m->q.first)
    atomic_fetch_and(&m->state, ~(uint64_t)TT_MU_WAITERS);
  tt_spin_unlock(&m->lock);
  return rc;
}

static inline int lock_common(tt_mutex *pm, tt_context *ctx, int64_t deadline) {
  tt_task *self = tt__current();
  if (TT_UNLIKELY(!self))
    return TT_ENOTASK;
  tt_mutex_s *m = mu(pm);
  uint64_t zero = 0;
  if (TT_LIKELY(atomic_compare_exchange_strong_explicit(
          &m->state, &zero, TT_MU_LOCKED | ((uint64_t)self->id << TT_MU_SHIFT),
          memory_order_acquire, memory_order_relaxed)))
    return 0;
  return lock_slow(m, self, ctx, deadline);
}

int tt_mutex_lock(tt_mutex *m) {
  if (TT_UNLIKELY(!m))
    return TT_EINVAL;
  return lock_common(m, NULL, TT_NO_DEADLINE);
}

int tt_mutex_lock_until(tt_mutex *m, int64_t deadline) {
  if (!m)
    return TT_EINVAL;
  return lock_common(m, NULL, deadline);
}

int tt_mutex_lock_ctx(tt_mutex *m, tt_context *ctx) {
  if (!m || !ctx)
    return TT_EINVAL;
  return lock_common(m, ctx, TT_NO_DEADLINE);
}

/* Non-blocking, so plain threads may use it too (they are holder 0). It
 * fails whenever the word is not 0: a free mutex with WAITERS set is in the
 * middle of a handoff or a slow-path decision, and queued tasks go first. */
int tt_mutex_trylock(tt_mutex *pm) {
  if (!pm)
    return TT_EINVAL;
  tt_mutex_s *m = mu(pm);
  uint64_t zero = 0;
  uint64_t me = TT_MU_LOCKED | ((uint64_t)tt_self() << TT_MU_SHIFT);
  if (atomic_compare_exchange_strong_explicit(&m->state, &zero, me, memory_order_acquire,
                                              memory_order_relaxed))
    return 0;
  return TT_EBUSY;
}

static int unlock_slow(tt_mutex_s *m) {
  tt_spin_lock(&m->lock);
  tt__syncq_refresh(&m->q, &m->gen);
  uint64_t s = atomic_fetch_or(&m->state, TT_MU_WAITERS); /* freeze */
  if (!(s & TT_MU_LOCKED)) {
    /* A racing second unlock got here first. Put the word back as it was. */
    atomic_store(&m->state, s);
    tt_spin_unlock(&m->lock);
    return tt__sync_misuse("unlock of unlocked mutex", m, TT_EUNLOCKED);
  }
  tt_waiter *w = tt__waitq_claim(&m->q);
  if (!w) {
    atomic_store_explicit(&m->state, 0, memory_order_release);
    tt_spin_unlock(&m->lock);
    return 0;
  }
  tt_task *t = w->op->task;
  atomic_store_explicit(
      &m->state, TT_MU_LOCKED | ((uint64_t)t->id << TT_MU_SHIFT) | (m->q.first ? TT_MU_WAITERS : 0),
      memory_order_release);
  tt_spin_unlock(&m->lock);
  tt__ready(t);
  return 0;
}

int tt_mutex_unlock(tt_mutex *pm) {
  if (TT_UNLIKELY(!pm))
    return TT_EINVAL;
  tt_task *self = tt__self_at_entry();
  tt__hold_publish_any(self); /* the guarded state may carry handles */
  tt_mutex_s *m = mu(pm);
  uint64_t s = atomic_load_explicit(&m->state, memory_order_relaxed);
  /* Unlocked by another task than the one that locked it (Go allows it):
   * the leak detector can no longer tell who will unlock it. */
  if (TT_BOOKKEEPING &&
      TT_UNLIKELY((s & TT_MU_LOCKED) && (int64_t)(s >> TT_MU_SHIFT) != (self ? self->id : 0)))
    tt__root_add(m);
  for (;;) {
    if (TT_UNLIKELY(!(s & TT_MU_LOCKED)))
      return tt__sync_misuse("unlock of unlocked mutex", m, TT_EUNLOCKED);
    if (s & TT_MU_WAITERS)
      return unlock_slow(m);
    if (TT_LIKELY(atomic_compare_exchange_weak_explicit(&m->state, &s, 0, memory_order_release,
                                                        memory_order_relaxed)))
      return 0;
  }
}
