/*
 * RWMutex: Go's sync.RWMutex for tasks. Readers share, writers exclude, and
 * writers are preferred: once a writer waits, new readers queue behind it,
 * so a stream of readers cannot starve writers.
 *
 * The state word (sync.h) is readers << 3 | RWAIT | WWAIT | WLOCKED:
 *   WLOCKED  a writer holds the lock (the reader count is then 0);
 *   WWAIT    the writer queue is not empty: new readers must queue;
 *   RWAIT    the reader queue is not empty: a writer's unlock must look.
 * Uncontended paths are one CAS each: RLock adds a reader while neither
 * writer bit is set, RUnlock subtracts one unless it is the last reader
 * and a writer waits, Lock goes 0 -> WLOCKED, Unlock WLOCKED -> 0.
 *
 * Wake order (Go's): a writer's Unlock admits every queued reader at once
 * (they arrived during the write and have waited longest) and, only if
 * there were none, hands the lock to the first queued writer. Writers still
 * queued keep WWAIT set, so readers arriving later queue, and the last of
 * the admitted readers hands the lock to the first writer. Reader and
 * writer phases therefore alternate under contention. Every handoff is
 * complete before the woken task runs: the waker sets the reader count or
 * WLOCKED on the waiter's behalf.
 *
 * Giving up (deadline, context): a writer that leaves the queue may have
 * been the only reason readers were queued, and a queue of readers behind a
 * writer that no longer waits would block forever. So every departure runs
 * settle(), which re-derives the bits from the queues and admits the
 * readers that no writer holds back any more.
 *
 * Concurrency of the slow paths with the fast ones: a slow path changes the
 * word with a plain store only where no fast path can act (for instance,
 * WLOCKED with a wait bit set: every fast path fails or bails out); where a
 * fast path still can (readers coming and going while no writer bit is
 * set), it uses a CAS loop and only commutative changes.
 */
#include "leak/hooks.h"
#include "sync/sync.h"

#define RCOUNT(s) ((s) >> TT_RW_SHIFT)

static inline tt_rwmutex_s *rw(tt_rwmutex *m) { return (tt_rwmutex_s *)m; }

/* Under m->lock, before looking at the queues: forget waiters of a runtime
 * that shut down, and the bits that spoke for them. */
static void refresh(tt_rwmutex_s *m) {
  uint32_t g = m->gen; /* one generation stamp for both queues */
  bool r = tt__syncq_refresh(&m->readers, &g);
  bool w = tt__syncq_refresh(&m->writers, &m->gen);
  if (r)
    atomic_fetch_and(&m->state, ~(uint64_t)TT_RW_RWAIT);
  if (w)
    atomic_fetch_and(&m->state, ~(uint64_t)TT_RW_WWAIT);
}

/* Under m->lock: bring the word in line with the queues and admit who can
 * be admitted. Called after any departure or release; claimed tasks go on
 * *wake, to be made runnable once the lock is dropped. */
static void settle(tt_rwmutex_s *m, tt_task **wake) {
  uint64_t s = atomic_load(&m->state);
  if (!(s & TT_RW_WLOCKED) && RCOUNT(s) == 0 && m->writers.first) {
    /* Free, a writer queued (WWAIT set): every fast path fails, so the
     * word is ours. Hand the lock to the first writer still waiting. */
    tt_waiter *w = tt__waitq_claim(&m->writers);
    if (w) {
      tt_task *t = w->op->task;
      atomic_store(&m->writer, t->id);
      atomic_store(&m->state, TT_RW_WLOCKED | (m->writers.first ? TT_RW_WWAIT : 0) |
                                  (m->readers.first ? TT_RW_RWAIT : 0));
      tt__wake_push(wake, w);
      return;
    }
  }
  if (m->writers.first) {
    if (!m->readers.first)
      atomic_fetch_and(&m->state, ~(uint64_t)TT_RW_RWAIT);
    return;
  }
  /* No writer waits: readers queue only behind a writer holding the lock. */
  uint64_t n = 0;
  if (!(s & TT_RW_WLOCKED)) {
    tt_waiter *w;
    while ((w = tt__waitq_claim(&m->readers))) {
      tt__wake_push(wake, w);
      n++;
    }
  }
  /* Readers may come and go meanwhile (no writer bit stops them now that
   * WWAIT is clear): add ours and clear the bits with a CAS. WLOCKED cannot
   * appear under us while n > 0: RWAIT was set, so the word was never 0. */
  uint64_t clear = TT_RW_WWAIT | (m->readers.first ? 0 : TT_RW_RWAIT);
  for (;;) {
    uint64_t nw = (s & ~clear) + n * TT_RW_READER;
    if (atomic_compare_exchange_weak(&m->state, &s, nw))
      return;
  }
}

/* ---- Readers ------------------------------------------------------------------- */

static int rlock_slow(tt_rwmutex_s *m, tt_context *ctx, int64_t deadline) {
  tt_spin_lock(&m->lock);
  refresh(m);
  uint64_t s = atomic_load(&m->state);
  for (;;) {
    if (!(s & (TT_RW_WLOCKED | TT_RW_WWAIT))) {
      if (atomic_compare_exchange_weak(&m->state, &s, s + TT_RW_READER)) {
        tt_spin_unlock(&m->lock);
        return 0;
      }
      continue;
    }
    /* Set RWAIT in the same atomic step that saw the writer bit. */
    if (atomic_compare_exchange_weak(&m->state, &s, s | TT_RW_RWAIT))
      break;
  }
  tt_waiter w = {.elem = NULL};
  int rc = tt__wait_on(&m->lock, &m->readers, &w, TT_WAIT_RWMUTEX_R, m, ctx, deadline);
  if (rc == 0)
    return 0; /* admitted: our reader is already counted */
  tt_task *wake = NULL;
  tt_spin_lock(&m->lock);
  settle(m, &wake);
  tt_spin_unlock(&m->lock);
  tt__wake_all(wake);
  return rc;
}

static inline int rlock_common(tt_rwmutex *pm, tt_context *ctx, int64_t deadline) {
  if (TT_UNLIKELY(!tt__current()))
    return TT_ENOTASK;
  tt_rwmutex_s *m = rw(pm);
  uint64_t s = atomic_load_explicit(&m->state, memory_order_relaxed);
  while (!(s & (TT_RW_WLOCKED | TT_RW_WWAIT)))
    if (atomic_compare_exchange_weak_explicit(&m->state, &s, s + TT_RW_READER, memory_order_acquire,
                                              memory_order_relaxed))
      return 0;
  return rlock_slow(m, ctx, deadline);
}

int tt_rwmutex_rlock(tt_rwmutex *m) {
  if (!m)
    return TT_EINVAL;
  return rlock_common(m, NULL, TT_NO_DEADLINE);
}

int tt_rwmutex_rlock_until(tt_rwmutex *m, int64_t deadline) {
  if (!m)
    return TT_EINVAL;
  return rlock_common(m, NULL, deadline);
}

int tt_rwmutex_rlock_ctx(tt_rwmutex *m, tt_context *ctx) {
  if (!m || !ctx)
    return TT_EINVAL;
  return rlock_common(m, ctx, TT_NO_DEADLINE);
}

static int runlock_slow(tt_rwmutex_s *m) {
  tt_task *wake = NULL;
  tt_spin_lock(&m->lock);
  refresh(m);
  uint64_t s = atomic_load(&m->state);
  for (;;) {
    if (RCOUNT(s) == 0) {
      tt_spin_unlock(&m->lock);
      return tt__sync_misuse("RUnlock of unlocked RWMutex", m, TT_EUNLOCKED);
    }
    if (RCOUNT(s) == 1 && (s & TT_RW_WWAIT)) {
      /* The last reader, a writer queued: no fast path can act (readers
       * wait on WWAIT, the writer is queued), so store and hand over. */
      atomic_store(&m->state, s - TT_RW_READER);
      settle(m, &wake);
      break;
    }
    if (atomic_compare_exchange_weak(&m->state, &s, s - TT_RW_READER))
      break;
  }
  tt_spin_unlock(&m->lock);
  tt__wake_all(wake);
  return 0;
}

int tt_rwmutex_runlock(tt_rwmutex *pm) {
  if (!pm)
    return TT_EINVAL;
  tt_rwmutex_s *m = rw(pm);
  uint64_t s = atomic_load_explicit(&m->state, memory_order_relaxed);
  for (;;) {
    if (TT_UNLIKELY(RCOUNT(s) == 0))
      return tt__sync_misuse("RUnlock of unlocked RWMutex", m, TT_EUNLOCKED);
    if (RCOUNT(s) == 1 && (s & TT_RW_WWAIT))
      return runlock_slow(m);
    if (atomic_compare_exchange_weak_explicit(&m->state, &s, s - TT_RW_READER, memory_order_release,
                                              memory_order_relaxed))
      return 0;
  }
}

/* ---- Writers ------------------------------------------------------------------- */

static int lock_slow(tt_rwmutex_s *m, tt_task *self, tt_context *ctx, int64_t deadline) {
  tt_spin_lock(&m->lock);
  refresh(m);
  uint64_t s = atomic_load(&m->state);
  for (;;) {
    if (!(s & TT_RW_WLOCKED) && RCOUNT(s) == 0) {
      /* Free. Any WWAIT left belongs to writers that are giving up. */
      if (atomic_compare_exchange_weak(&m->state, &s, s | TT_RW_WLOCKED)) {
        atomic_store_explicit(&m->writer, self->id, memory_order_relaxed);
        tt_spin_unlock(&m->lock);
        return 0;
      }
      continue;
    }
    /* Set WWAIT in the same atomic step that saw the lock busy: from now on
     * new readers queue, and the last reader will hand the lock over. */
    if (atomic_compare_exchange_weak(&m->state, &s, s | TT_RW_WWAIT))
      break;
  }
  tt_waiter w = {.elem = NULL};
  int rc = tt__wait_on(&m->lock, &m->writers, &w, TT_WAIT_RWMUTEX_W, m, ctx, deadline);
  if (rc == 0)
    return 0; /* the lock was handed to us */
  tt_task *wake = NULL;
  tt_spin_lock(&m->lock);
  settle(m, &wake); /* readers may have been queued behind us alone */
  tt_spin_unlock(&m->lock);
  tt__wake_all(wake);
  return rc;
}

static inline int lock_common(tt_rwmutex *pm, tt_context *ctx, int64_t deadline) {
  tt_task *self = tt__current();
  if (TT_UNLIKELY(!self))
    return TT_ENOTASK;
  tt_rwmutex_s *m = rw(pm);
  uint64_t zero = 0;
  if (TT_LIKELY(atomic_compare_exchange_strong_explicit(
          &m->state, &zero, TT_RW_WLOCKED, memory_order_acquire, memory_order_relaxed))) {
    atomic_store_explicit(&m->writer, self->id, memory_order_relaxed);
    return 0;
  }
  return lock_slow(m, self, ctx, deadline);
}

int tt_rwmutex_lock(tt_rwmutex *m) {
  if (!m)
    return TT_EINVAL;
  return lock_common(m, NULL, TT_NO_DEADLINE);
}

int tt_rwmutex_lock_until(tt_rwmutex *m, int64_t deadline) {
  if (!m)
    return TT_EINVAL;
  return lock_common(m, NULL, deadline);
}

int tt_rwmutex_lock_ctx(tt_rwmutex *m, tt_context *ctx) {
  if (!m || !ctx)
    return TT_EINVAL;
  return lock_common(m, ctx, TT_NO_DEADLINE);
}

static int unlock_slow(tt_rwmutex_s *m) {
  tt_task *wake = NULL;
  tt_spin_lock(&m->lock);
  refresh(m);
  uint64_t s = atomic_load(&m->state);
  for (;;) {
    if (!(s & TT_RW_WLOCKED)) {
      tt_spin_unlock(&m->lock);
      return tt__sync_misuse("Unlock of unlocked RWMutex", m, TT_EUNLOCKED);
    }
    if (s == TT_RW_WLOCKED) { /* the waiters left meanwhile */
      atomic_store_explicit(&m->writer, 0, memory_order_relaxed);
      if (atomic_compare_exchange_weak(&m->state, &s, 0))
        break;
      continue;
    }
    /* WLOCKED plus a wait bit: every fast path fails, the word is ours.
     * Readers first (Go's order), else the next writer, else free. */
    atomic_store_explicit(&m->writer, 0, memory_order_relaxed);
    uint64_t n = 0;
    tt_waiter *w;
    while ((w = tt__waitq_claim(&m->readers))) {
      tt__wake_push(&wake, w);
      n++;
    }
    uint64_t wwait = m->writers.first ? TT_RW_WWAIT : 0;
    if (n) {
      atomic_store(&m->state, n * TT_RW_READER | wwait);
    } else if ((w = tt__waitq_claim(&m->writers))) {
      atomic_store(&m->writer, w->op->task->id);
      atomic_store(&m->state, TT_RW_WLOCKED | (m->writers.first ? TT_RW_WWAIT : 0));
      tt__wake_push(&wake, w);
    } else {
      atomic_store(&m->state, 0);
    }
    break;
  }
  tt_spin_unlock(&m->lock);
  tt__wake_all(wake);
  return 0;
}

int tt_rwmutex_unlock(tt_rwmutex *pm) {
  if (!pm)
    return TT_EINVAL;
  tt__hold_publish_any(tt__self_at_entry()); /* the guarded state may carry handles */
  tt_rwmutex_s *m = rw(pm);
  uint64_t s = atomic_load_explicit(&m->state, memory_order_relaxed);
  if (TT_UNLIKELY(!(s & TT_RW_WLOCKED)))
    return tt__sync_misuse("Unlock of unlocked RWMutex", m, TT_EUNLOCKED);
  if (s == TT_RW_WLOCKED) {
    /* Clear the holder first: once the word is 0 a new writer may set it. */
    atomic_store_explicit(&m->writer, 0, memory_order_relaxed);
    if (TT_LIKELY(atomic_compare_exchange_strong_explicit(&m->state, &s, 0, memory_order_release,
                                                          memory_order_relaxed)))
      return 0;
  }
  return unlock_slow(m);
}
