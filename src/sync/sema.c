/*
 * Counting semaphore, with the semantics of Go's x/sync/semaphore: acquire
 * is first come, first served, so a large request at the head of the queue
 * holds back later small ones that would fit (no starvation of large
 * requests); release hands permits to the queue in order.
 *
 * The state word (sync.h) is available permits | WAITERS. With no waiters,
 * acquire and release are one CAS on it. WAITERS routes both to the slow
 * path: acquire so that it queues behind the waiters (FIFO), release so
 * that it grants the queue. The slow paths first set WAITERS with a
 * fetch-or, which freezes the word for the fast paths, decide under the
 * spinlock, and store the result; WAITERS stays set exactly while the queue
 * is not empty.
 *
 * A grant is complete before the waiter runs: the releaser subtracts the
 * waiter's count (read through tt_waiter.elem) and claims it. A waiter that
 * gives up (deadline, context) may have been the head holding back smaller
 * requests, so it runs the grant loop again on its way out.
 */
#include "leak/hooks.h"
#include "sync/sync.h"

static inline tt_sem_s *sm(tt_sem *s) { return (tt_sem_s *)s; }

/* Under s->lock, with the word frozen (WAITERS set): grant waiters from the
 * head while permits last; then publish the count and whether anyone still
 * waits. Claimed tasks go on *wake. */
static void grant_locked(tt_sem_s *s, uint64_t avail, tt_task **wake) {
  tt_waiter *w;
  while ((w = s->q.first)) {
    uint64_t need = (uint64_t) * (int64_t *)w->elem;
    if (need > avail) {
      if (!atomic_load(&w->op->done))
        break; /* the head waits for more: FIFO holds the rest back */
      /* The head is leaving (timed out, cancelled): skip it; its owner
       * will find itself unlinked. */
      tt__waitq_unlink(&s->q, w);
      continue;
    }
    if (tt__waiter_claim(&s->q, w)) {
      avail -= need;
      tt__wake_push(wake, w);
    }
  }
  atomic_store(&s->state, avail | (s->q.first ? TT_SEM_WAITERS : 0));
}

static int acquire_slow(tt_sem_s *s, int64_t n, tt_context *ctx, int64_t deadline) {
  tt_spin_lock(&s->lock);
  tt__syncq_refresh(&s->q, &s->gen);
  uint64_t st = atomic_fetch_or(&s->state, TT_SEM_WAITERS); /* freeze */
  uint64_t avail = st & TT_SEM_MAX;
  if (!s->q.first && avail >= (uint64_t)n) {
    atomic_store(&s->state, avail - (uint64_t)n);
    tt_spin_unlock(&s->lock);
    return 0;
  }
  /* Queue (WAITERS stays set). The releaser reads our count through elem. */
  tt_waiter w = {.elem = &n};
  int rc = tt__wait_on(&s->lock, &s->q, &w, TT_WAIT_SEMACQUIRE, s, ctx, deadline);
  if (rc == 0)
    return 0; /* our permits were taken for us */
  tt_task *wake = NULL;
  tt_spin_lock(&s->lock);
  st = atomic_fetch_or(&s->state, TT_SEM_WAITERS);
  grant_locked(s, st & TT_SEM_MAX, &wake);
  tt_spin_unlock(&s->lock);
  tt__wake_all(wake);
  return rc;
}

/* One CAS while nobody waits; false when the caller must queue. */
static inline bool try_fast(tt_sem_s *s, int64_t n) {
  uint64_t st = atomic_load_explicit(&s->state, memory_order_relaxed);
  while (!(st & TT_SEM_WAITERS) && st >= (uint64_t)n)
    if (atomic_compare_exchange_weak_explicit(&s->state, &st, st - (uint64_t)n,
                                              memory_order_acquire, memory_order_relaxed))
      return true;
  return false;
}

static int acquire_common(tt_sem *ps, int64_t n, tt_context *ctx, int64_t deadline) {
  if (n <= 0 || (uint64_t)n > TT_SEM_MAX)
    return TT_EINVAL; /* more than a semaphore can ever hold would never be granted */
  if (!tt__current())
    return TT_ENOTASK;
  tt_sem_s *s = sm(ps);
  if (TT_LIKELY(try_fast(s, n)))
    return 0;
  return acquire_slow(s, n, ctx, deadline);
}

int tt_sem_acquire(tt_sem *s, int64_t n) {
  if (!s)
    return TT_EINVAL;
  return acquire_common(s, n, NULL, TT_NO_DEADLINE);
}

int tt_sem_acquire_until(tt_sem *s, int64_t n, int64_t deadline) {
  if (!s)
    return TT_EINVAL;
  return acquire_common(s, n, NULL, deadline);
}

int tt_sem_acquire_ctx(tt_sem *s, int64_t n, tt_context *ctx) {
  if (!s || !ctx)
    return TT_EINVAL;
  return acquire_common(s, n, ctx, TT_NO_DEADLINE);
}

/* Non-blocking: any thread. Fails while others wait, even if the permits
 * would cover n, as Go's TryAcquire does: queued requests come first. */
int tt_sem_try_acquire(tt_sem *ps, int64_t n) {
  if (!ps || n <= 0)
    return TT_EINVAL;
  if ((uint64_t)n > TT_SEM_MAX)
    return TT_EAGAIN;
  return try_fast(sm(ps), n) ? 0 : TT_EAGAIN;
}

/* Non-blocking: any thread. TT_EINVAL when n <= 0 or when the count would
 * exceed TT_SEM_MAX (2^62 - 1) permits (nothing is released then). */
int tt_sem_release(tt_sem *ps, int64_t n) {
  if (!ps || n <= 0 || (uint64_t)n > TT_SEM_MAX)
    return TT_EINVAL;
  tt__hold_publish_any(tt__self_at_entry()); /* like an unlock: it publishes shared state */
  tt_sem_s *s = sm(ps);
  uint64_t st = atomic_load_explicit(&s->state, memory_order_relaxed);
  while (!(st & TT_SEM_WAITERS)) {
    if (st + (uint64_t)n > TT_SEM_MAX)
      return TT_EINVAL;
    if (atomic_compare_exchange_weak_explicit(&s->state, &st, st + (uint64_t)n,
                                              memory_order_release, memory_order_relaxed))
      return 0;
  }
  tt_task *wake = NULL;
  tt_spin_lock(&s->lock);
  tt__syncq_refresh(&s->q, &s->gen); /* grant_locked clears WAITERS if none are left */
  st = atomic_fetch_or(&s->state, TT_SEM_WAITERS);
  uint64_t avail = st & TT_SEM_MAX;
  if (avail + (uint64_t)n > TT_SEM_MAX) {
    atomic_store(&s->state, st);
    tt_spin_unlock(&s->lock);
    return TT_EINVAL;
  }
  grant_locked(s, avail + (uint64_t)n, &wake);
  tt_spin_unlock(&s->lock);
  tt__wake_all(wake);
  return 0;
}
