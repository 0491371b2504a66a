/*
 * The sync layer (src/sync/): Go's synchronisation, built on the core's
 * park/ready and wait queues. Channels and select are the centre (this
 * header); timers and tickers deliver on channels, a context's done signal
 * is a channel, and the other primitives (mutex, rwmutex, cond, once,
 * semaphore, WaitGroup; sync.h) share one bounded wait (wait_on.h). Task
 * groups and tt_main are built from those. It tells the leak layer about
 * handles and certain leaks through leak/hooks.h, and asks observe/ for
 * stacks through observe/hooks.h.
 *
 * This header: channel internals shared by chan.c (send, receive, close)
 * and select.c. Blocked operations use the waiters of core/wait.h.
 */
#ifndef TT_SYNC_CHAN_H
#define TT_SYNC_CHAN_H

#include "core/wait.h"
#include "leak/hooks.h"

#define TT_CHAN_MAGIC 0x74434e4cu /* "tCNL" */
#define TT_CHAN_DEAD 0xdeadc4a9u

struct tt_chan {
  tt_spinlock lock;
  uint32_t magic;
  bool closed;
  bool orphaned;   /* no references left (tasks may still be queued) */
  bool rooted;     /* the runtime owns it (timers, done channels): always reachable */
  uint32_t serial; /* holds.h: this channel, not another one at its address */
  /* Ids of the last two tasks known to have an entry for this channel in
   * their tables (ids are never reused): the channel's users find that
   * out here, in a line they touch anyway, instead of in their tables. */
  _Atomic int64_t users[2];
  /* Blocked operations that will touch the channel again after they wake
   * (those with a deadline, and selects: they come back to unlink their
   * waiters). The channel is freed only when this is zero too. */
  int64_t pins;
  uint64_t waiters_gen; /* runtime generation of the queued waiters */
  size_t elem_size, cap;
  size_t count, sendx, recvx;
  char *buf;
  tt_waitq recvq, sendq;
  _Atomic int64_t refs;
  const char *file; /* where it was made */
  int line;
  const char *close_file; /* where it was closed, for reports */
  int close_line;
  int64_t close_task;
  void **close_stack; /* TT_STRICT only: return addresses at close */
  int close_depth;
  /* Orphaned while tasks still waited on it: the channel lives on for them
   * and is listed (leak.c) so that a shutdown dropping them frees it. */
  bool kept;
  struct tt_chan *kept_prev, *kept_next;
};

/* Task t uses c (a send, a receive, a select's case, a close): the
 * ownership bookkeeping of holds.h. Makes sure t's table has an entry for
 * c (none for a runtime channel, which is a root, or for a plain thread,
 * which makes c a root). */
void tt__chan_use_slow(tt_task *t, tt_chan *c);
static inline __attribute__((always_inline)) void tt__chan_use(tt_task *t, tt_chan *c) {
  if (!TT_BOOKKEEPING)
    return;
  if (TT_LIKELY(t && !c->rooted) &&
      (atomic_load_explicit(&c->users[0], memory_order_relaxed) == t->id ||
       atomic_load_explicit(&c->users[1], memory_order_relaxed) == t->id))
    return;
  tt__chan_use_slow(t, c);
}

/* What a publish on a channel needs of it, read before the operation: a
 * blocked sender's channel may be gone by the time the send completes, so
 * afterwards the channel is only a key (its address, never dereferenced). */
typedef struct tt_chan_key {
  uintptr_t addr;
  uint32_t serial;
  bool rooted;
} tt_chan_key;

static inline tt_chan_key tt__chan_key(const tt_chan *c) {
  return (tt_chan_key){(uintptr_t)c, c->serial, c->rooted};
}

/* t's send on the channel k describes completed, or t closed it: a
 * publish. A send that never completes publishes nothing: the message has
 * gone nowhere. */
static inline __attribute__((always_inline)) void tt__chan_sent(tt_task *t, tt_chan_key k) {
  if (!TT_BOOKKEEPING || !t)
    return;
  tt_holds *h = &t->holds;
  if (!h->fresh && (uintptr_t)h->last_pub == k.addr)
    return; /* it published on it last, and everything else is passed on already */
  tt_hold *e = k.rooted ? NULL : tt__hold_lookup(t, (const void *)k.addr, k.serial);
  if (e)
    tt__hold_published(h, e);
  else
    tt__hold_publish_any(t); /* a runtime channel, or a full table */
}

/* t no longer counts c (it dropped its reference): c must not vouch for an
 * entry in t's table any more. */
static inline void tt__chan_forget_user(tt_chan *c, const tt_task *t) {
  for (int i = 0; t && i < 2; i++) {
    int64_t id = t->id;
    atomic_compare_exchange_strong_explicit(&c->users[i], &id, 0, memory_order_relaxed,
                                            memory_order_relaxed);
  }
}

/* Buffer slots and copies. */
static inline void *tt__chan_slot(tt_chan *c, size_t i) { return c->buf + i * c->elem_size; }
static inline void tt__elem_copy(void *dst, const void *src, size_t n) {
  if (!dst || !src || !n) /* a NULL send element is refused before this */
    return;
  /* Word-sized elements are the common case: no call to memcpy for them. */
  switch (n) {
  case 4: __builtin_memcpy(dst, src, 4); break;
  case 8: __builtin_memcpy(dst, src, 8); break;
  case 16: __builtin_memcpy(dst, src, 16); break;
  default: __builtin_memcpy(dst, src, n); break;
  }
}
static inline void tt__elem_zero(void *dst, size_t n) {
  if (dst && n)
    __builtin_memset(dst, 0, n);
}

/* The buffered and direct-handoff halves of send and receive, shared with
 * select. Called with c locked; they never block. recv_from_sender handles
 * both the unbuffered case and the full-buffer case. */
void tt__chan_send_to_receiver(tt_chan *c, tt_waiter *r, const void *elem);
void tt__chan_recv_from_sender(tt_chan *c, tt_waiter *s, void *out);
void tt__chan_buf_put(tt_chan *c, const void *elem);
void tt__chan_buf_take(tt_chan *c, void *out);

/* Call right after locking c: forgets waiters left behind by tasks that a
 * runtime shutdown dropped (their stacks are gone). */
static inline void tt__chan_forget_stale(tt_chan *c) {
  if (TT_UNLIKELY((c->recvq.first || c->sendq.first || c->pins) &&
                  c->waiters_gen !=
                      atomic_load_explicit(&tt__rt.generation, memory_order_relaxed))) {
    c->recvq.first = c->recvq.last = c->sendq.first = c->sendq.last = NULL;
    c->pins = 0;
  }
}

/* Queue a waiter (c locked); pinned waiters keep c alive until unpinned. */
void tt__chan_enqueue(tt_chan *c, tt_waitq *q, tt_waiter *w, bool pin);
/* Under c's lock, after a pinned operation woke: unlink w if still queued,
 * drop the pin. Returns true when the caller must free c after unlocking. */
bool tt__chan_unpin_locked(tt_chan *c, tt_waitq *q, tt_waiter *w);
void tt__chan_free(tt_chan *c);
/* A channel owned by the runtime itself (a timer's, a context's done
 * channel): made without a reference for the calling task, and a root for
 * the leak detector. */
tt_chan *tt__chan_new(size_t elem_size, size_t cap, const char *file, int line);
/* A task holding a counted reference to c exits: mark c's waiters (leak
 * classification of seed pattern 6). */
void tt__chan_holder_gone(tt_chan *c);
/* Reference counting without the calling task's bookkeeping: for the
 * references the runtime takes and drops on a task's behalf (holds.c). */
void tt__chan_ref_raw(tt_chan *c);
int tt__chan_unref_raw(tt_chan *c); /* 1 when that was the last reference */

/* Misuse: an error return normally, an abort with a report in strict mode. */
int tt__chan_misuse(tt_chan *c, const char *what, int code);

/* tt_select, parking with the given wait reason: the context-bounded
 * sleep, send and receive are selects underneath but wait as what they are. */
int tt__select_as(tt_case *cases, int n, int flags, int64_t deadline, tt_wait_reason why);

/* Under c's lock: is wait_obj a select with no deadline whose every
 * channel (c among them) has lost its last reference? (select.c) */
bool tt__select_abandoned(const void *wait_obj, const tt_chan *c);

/* The channels of a parked select (wait_obj), read from its stack without
 * synchronisation: the caller checks that the task did not run meanwhile.
 * Returns how many (at most max), or -1 when wait_obj is not a select. */
int tt__select_wait_chans(const void *wait_obj, const tt_chan **out, int max, bool *bounded);

uint32_t tt__fastrand(void);
bool tt__strict(void);

#endif
