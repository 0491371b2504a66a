/*
 * The private layouts of the sync primitives (mutex.c, rwmutex.c, cond.c,
 * once.c, sema.c) and the little they share.
 *
 * The public types are opaque arrays of uint64_t so that they can be plain
 * values, valid when zeroed, embedded anywhere. Each file casts them to the
 * struct below; the _Static_asserts keep the two in step. Every layout is
 * "all zero bytes = the zero value", so a zeroed struct needs no init call.
 *
 * Common pattern. Each primitive has one atomic state word that the
 * uncontended paths change with a single compare-and-swap, and a spinlock
 * guarding a tt_waitq of parked tasks (wait.h) for the slow paths. A "has
 * waiters" bit in the state word sends the releasing side to the slow path.
 * Wakers claim waiters with tt__waitq_claim (or the same CAS on op->done),
 * which skips waiters whose deadline or context already completed their
 * operation, and hand over what the waiter asked for (the lock, permits)
 * before making it runnable: a woken waiter never has to retry, so wake-ups
 * are FIFO and cannot be lost or stolen.
 *
 * Runtime restarts: a task parked when the runtime shut down is freed with
 * its stack, and with it its tt_waiter. Each queue therefore remembers the
 * runtime generation of its waiters (truncated to 32 bits) and forgets them
 * when a later runtime touches it, as channels and WaitGroups do.
 */
#ifndef TT_SYNC_SYNC_H
#define TT_SYNC_SYNC_H

#include "sync/wait_on.h"

/* ---- Layouts ------------------------------------------------------------------ */

/* Mutex state word: holder id << 2 | TT_MU_WAITERS | TT_MU_LOCKED. Keeping the
 * holder in the state word records it with the same CAS that takes the lock. */
enum { TT_MU_LOCKED = 1, TT_MU_WAITERS = 2, TT_MU_SHIFT = 2 };

typedef struct tt_mutex_s {
  _Atomic uint64_t state;
  tt_spinlock lock; /* guards q and gen */
  uint32_t gen;
  tt_waitq q;
} tt_mutex_s;

/* RWMutex state word: reader count << 3 | RWAIT | WWAIT | WLOCKED. */
enum { TT_RW_WLOCKED = 1, TT_RW_WWAIT = 2, TT_RW_RWAIT = 4, TT_RW_READER = 8, TT_RW_SHIFT = 3 };

typedef struct tt_rwmutex_s {
  _Atomic uint64_t state;
  tt_spinlock lock; /* guards readers, writers and gen */
  uint32_t gen;
  tt_waitq readers, writers;
  _Atomic int64_t writer; /* id of the task holding the write lock (diagnostics) */
} tt_rwmutex_s;

typedef struct tt_cond_s {
  tt_spinlock lock;
  uint32_t gen;
  tt_waitq q;
  uint64_t reserved_;
} tt_cond_s;

/* Once state word: 0 not started, TT_ONCE_DONE, or TT_ONCE_RUNNING | runner
 * id << 2 while fn runs (the id lets strict mode name a recursive call). */
enum { TT_ONCE_DONE = 1, TT_ONCE_RUNNING = 2, TT_ONCE_SHIFT = 2 };

typedef struct tt_once_s {
  _Atomic uint64_t state;
  tt_spinlock lock;
  uint32_t gen;
  tt_waitq q;
} tt_once_s;

/* Semaphore state word: available permits | TT_SEM_WAITERS. */
#define TT_SEM_WAITERS ((uint64_t)1 << 62)
#define TT_SEM_MAX (TT_SEM_WAITERS - 1) /* most permits a semaphore can hold */

typedef struct tt_sem_s {
  _Atomic uint64_t state;
  tt_spinlock lock;
  uint32_t gen;
  tt_waitq q;
} tt_sem_s;

_Static_assert(sizeof(tt_mutex_s) <= sizeof(tt_mutex), "tt_mutex too small");
_Static_assert(sizeof(tt_rwmutex_s) <= sizeof(tt_rwmutex), "tt_rwmutex too small");
_Static_assert(sizeof(tt_cond_s) <= sizeof(tt_cond), "tt_cond too small");
_Static_assert(sizeof(tt_once_s) <= sizeof(tt_once), "tt_once too small");
_Static_assert(sizeof(tt_sem_s) <= sizeof(tt_sem), "tt_sem too small");
_Static_assert(_Alignof(tt_mutex_s) <= _Alignof(tt_mutex), "tt_mutex misaligned");
_Static_assert(_Alignof(tt_rwmutex_s) <= _Alignof(tt_rwmutex), "tt_rwmutex misaligned");
_Static_assert(_Alignof(tt_cond_s) <= _Alignof(tt_cond), "tt_cond misaligned");
_Static_assert(_Alignof(tt_once_s) <= _Alignof(tt_once), "tt_once misaligned");
_Static_assert(_Alignof(tt_sem_s) <= _Alignof(tt_sem), "tt_sem misaligned");

/* ---- Shared helpers ------------------------------------------------------------- */

/* Under the primitive's lock, before looking at q (and at each push):
 * forget waiters left by a runtime that has shut down, and stamp the queue
 * with the current generation. Returns true when it dropped waiters, so the
 * caller can fix its "has waiters" bits. */
static inline bool tt__syncq_refresh(tt_waitq *q, uint32_t *gen) {
  uint32_t g = (uint32_t)atomic_load_explicit(&tt__rt.generation, memory_order_relaxed);
  if (TT_LIKELY(*gen == g))
    return false;
  *gen = g;
  if (!q->first)
    return false;
  q->first = q->last = NULL;
  return true;
}

/* Claim a waiter that the caller has already examined (q->first): the
 * one-at-a-time form of tt__waitq_claim for wakers that must decide on the
 * head (a semaphore grants the head only if enough permits are there). The
 * waiter is unlinked either way; returns false when its operation had
 * already completed elsewhere (deadline, context). */
static inline bool tt__waiter_claim(tt_waitq *q, tt_waiter *w) {
  tt__waitq_unlink(q, w);
  int expect = 0;
  if (!atomic_compare_exchange_strong(&w->op->done, &expect, 1))
    return false;
  w->op->fired = w->case_index;
  return true;
}

/* Push a claimed waiter's task on a wake list (linked through task->next;
 * the waiter sits on that task's stack and must not be touched after it is
 * made runnable). */
static inline void tt__wake_push(tt_task **list, tt_waiter *w) {
  tt_task *t = w->op->task;
  t->next = *list;
  *list = t;
}

/* Make runnable every task of a wake list. Called after dropping the
 * primitive's lock: nothing of the primitive is touched any more, so a woken
 * task may free it at once. */
static inline void tt__wake_all(tt_task *list) {
  while (list) {
    tt_task *next = list->next;
    tt__ready(list);
    list = next;
  }
}

/* Misuse (unlock of an unlocked mutex, ...): returns code; with TT_STRICT=1
 * prints Go's "fatal error: sync: <what>", the calling task and its spawn
 * site and the stack, then aborts. obj is the primitive, for the report. */
int tt__sync_misuse(const char *what, const void *obj, int code);
/* tt_main's wait for its main task (a plain thread's tt_wg_wait): 0 at zero,
 * TT_ESHUTDOWN once the runtime of generation gen has stopped (the main
 * task was dropped and will never call Done). */
int tt__wg_wait_main(tt_wg *wg, uint64_t gen);

/* Defined in chan.c: TT_STRICT=1 in the environment. */
bool tt__strict(void);

#endif
