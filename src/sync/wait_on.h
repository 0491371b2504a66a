/*
 * Bounded waits for the sync primitives (mutex, rwmutex, cond, once,
 * semaphore, WaitGroup): one waiter on the primitive's queue, plus one on
 * a context's done channel when the wait is bounded by a context, and a
 * deadline timer. Lives above the core because a context's done channel
 * is a channel.
 */
#ifndef TT_SYNC_WAIT_ON_H
#define TT_SYNC_WAIT_ON_H

#include "core/wait.h"

/* Wait as `w` on queue q, guarded by `lock` (held on entry, released on
 * return), until a waker claims it, `ctx` (may be NULL) is done, or the
 * deadline (TT_NO_DEADLINE: none) passes. w->elem is the caller's (the
 * waker may use it to pass something); the rest is filled here. Returns 0 when claimed through q
 * (the waker did the work: handed over a lock, a permit, ...), else the context's error
 * (TT_ECANCELED / TT_ETIMEDOUT) or TT_ETIMEDOUT. On error w is no longer queued. Task only. */
int tt__wait_on(tt_spinlock *lock, tt_waitq *q, tt_waiter *w, tt_wait_reason why, void *obj,
                tt_context *ctx, int64_t deadline);

#endif
