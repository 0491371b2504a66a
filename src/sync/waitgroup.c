/*
 * WaitGroup. The counter is an atomic updated without a lock except on the
 * transition to zero, which takes the lock and wakes every waiter: tasks are
 * claimed off a wait queue (wait.h) and made runnable, plain threads are
 * woken through a futex sequence word. Task waiters are tt_waiters like
 * those of every other primitive, so tt_wg_wait_ctx is tt__wait_on with a
 * context; plain threads keep the futex path (they have no task to park and
 * no context variant: tt_wg_wait_ctx is task only when it has to wait).
 *
 * Freeing safety: a waiter may free the WaitGroup as soon as it returns, so
 * every waiter takes the lock once before returning; that cannot succeed
 * until the Done that woke it has released the lock for the last time. The
 * count of task waiters is dropped on that same way out, so tt_wg_free sees
 * a woken task that has not left yet as still waiting (TT_EBUSY).
 */
#include <stdlib.h>

#include "core/futex.h"
#include "core/wait.h"
#include "leak/hooks.h"
#include "sync/wait_on.h"
#include "sync/waitgroup.h"

struct tt_wg {
  tt_spinlock lock;
  _Atomic int64_t count;
  tt_waitq waiters;        /* parked tasks: tt_waiters on their stacks */
  int64_t ntask_waiters;   /* tasks inside a wait, under lock */
  uint64_t waiters_gen;    /* runtime generation the waiting tasks belong to */
  int64_t nthread_waiters; /* under lock */
  _Atomic uint32_t seq;    /* bumped at each zero transition */
  uint32_t serial;         /* holds.h */
};

/* Under wg->lock: tasks of a runtime that has shut down were freed with
 * their stacks (and their tt_waiters); forget them. */
static void forget_stale(tt_wg *wg) {
  if (wg->waiters_gen != atomic_load(&tt__rt.generation)) {
    wg->waiters.first = wg->waiters.last = NULL;
    wg->ntask_waiters = 0;
  }
}

tt_wg *tt_wg_make(void) {
  tt_wg *wg = calloc(1, sizeof *wg);
  if (wg) {
    wg->serial = tt__serial_next();
    tt__root_forget(wg); /* a stale root at a reused address is not this one's */
    tt__touch(tt__self_at_entry(), wg, TT_OBJ_WG, wg->serial); /* its maker can reach it */
  }
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
  tt__root_forget(wg);
  free(wg);
  return 0;
}

int tt_wg_add(tt_wg *wg, int64_t delta) {
  if (!wg)
    return TT_EINVAL;
  tt__touch(tt__self_at_entry(), wg, TT_OBJ_WG,
            wg->serial); /* whoever adds or is done can reach it */
  return tt__wg_add(wg, delta);
}

int tt__wg_add(tt_wg *wg, int64_t delta) {
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
  tt_task *wake = NULL;
  if (c + delta == 0) {
    forget_stale(wg);
    tt_waiter *w;
    while ((w = tt__waitq_claim(&wg->waiters))) {
      tt_task *t = w->op->task; /* w is on t's stack: read it before t runs */
      t->next = wake;
      wake = t;
    }
    if (wg->nthread_waiters) {
      atomic_fetch_add(&wg->seq, 1);
      tt_futex_wake_all(&wg->seq);
    }
  }
  tt_spin_unlock(&wg->lock);
  while (wake) {
    tt_task *next = wake->next;
    tt__ready(wake);
    wake = next;
  }
  return 0;
}

int tt_wg_done(tt_wg *wg) { return tt_wg_add(wg, -1); }

void tt__wg_exit_done(void *wg) { tt__wg_add(wg, -1); }

/* Task waiters: queue and park until the zero transition claims us, or ctx
 * (may be NULL) is done. */
static int wait_task(tt_wg *wg, tt_context *ctx) {
  /* wg->lock held, count not zero */
  forget_stale(wg);
  wg->waiters_gen = atomic_load(&tt__rt.generation);
  wg->ntask_waiters++;
  tt_waiter w = {.elem = NULL};
  int rc = tt__wait_on(&wg->lock, &wg->waiters, &w, TT_WAIT_WAITGROUP, wg, ctx, TT_NO_DEADLINE);
  tt_spin_lock(&wg->lock); /* see the comment at the top */
  wg->ntask_waiters--;
  tt_spin_unlock(&wg->lock);
  return rc;
}

int tt_wg_wait(tt_wg *wg) {
  if (!wg)
    return TT_EINVAL;
  tt__touch(tt__self_at_entry(), wg, TT_OBJ_WG, wg->serial);
  tt_spin_lock(&wg->lock);
  if (atomic_load(&wg->count) == 0) {
    tt_spin_unlock(&wg->lock);
    return 0;
  }
  if (tt__current())
    return wait_task(wg, NULL);
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

int tt__wg_wait_main(tt_wg *wg, uint64_t gen) {
  tt_spin_lock(&wg->lock);
  wg->nthread_waiters++;
  int rc = 0;
  while (atomic_load(&wg->count) != 0) {
    if (atomic_load(&tt__rt.generation) != gen) {
      rc = TT_ESHUTDOWN; /* the runtime stopped under the main task */
      break;
    }
    uint32_t s = atomic_load(&wg->seq);
    tt_spin_unlock(&wg->lock);
    tt_futex_wait_for(&wg->seq, s,
                      (int64_t)20 * 1000000); /* and look at the runtime now and then */
    tt_spin_lock(&wg->lock);
  }
  wg->nthread_waiters--;
  tt_spin_unlock(&wg->lock);
  return rc;
}

/* Zero wins over a done context, as the plain form returns 0 at zero. A
 * plain thread that would have to wait gets TT_ENOTASK: its futex sleep
 * cannot also watch the context's done channel. */
int tt_wg_wait_ctx(tt_wg *wg, tt_context *ctx) {
  if (!wg || !ctx)
    return TT_EINVAL;
  tt__touch(tt__self_at_entry(), wg, TT_OBJ_WG, wg->serial);
  int err = tt_context_err(ctx); /* outside wg->lock: it may cancel a tree */
  tt_spin_lock(&wg->lock);
  if (atomic_load(&wg->count) == 0) {
    tt_spin_unlock(&wg->lock);
    return 0;
  }
  if (err || !tt__current()) {
    tt_spin_unlock(&wg->lock);
    return err ? err : TT_ENOTASK;
  }
  return wait_task(wg, ctx);
}

int64_t tt__wg_spawn(tt_wg *wg, tt_fn fn, void *arg, const tt_spawn_opts *opts, const char *entry,
                     const char *file, int line, const char *func) {
  if (!wg)
    return TT_EINVAL;
  int rc = tt_wg_add(wg, 1);
  if (rc < 0)
    return rc;
  int64_t id = tt__spawn_internal((uintptr_t)__builtin_return_address(0), fn, arg, opts, entry,
                                  file, line, func, tt__wg_exit_done, wg, NULL);
  if (id < 0)
    tt_wg_add(wg, -1);
  return id;
}

__attribute__((no_sanitize("address", "thread"))) uint32_t tt__wg_serial_peek(const void *wg) {
  return ((const tt_wg *)wg)->serial;
}
