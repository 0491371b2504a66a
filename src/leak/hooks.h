/*
 * The leak layer's hooks: everything the layers below (core/, sync/,
 * observe/) tell the leak detector, and the only leak/ header they may
 * include. Lower layers never call into leak/ except through what is
 * declared here; scripts/check-layers.sh enforces it.
 *
 * What flows up:
 *  - ownership bookkeeping (leak/holds.c): a task made, referenced, used,
 *    published on or dropped a handle; a task spawns or exits. The fast
 *    paths are inline so that a channel operation pays a few loads;
 *  - events that make a leak certain (leak/leak.c): the last reference to a
 *    channel dropped under its waiters, a wait that can never start;
 *  - the lifecycle: the leak mode read at tt_init, the background checker
 *    stopped at tt_shutdown, the global deadlock check when the last
 *    worker goes idle (leak/deadlock.c).
 */
#ifndef TT_LEAK_HOOKS_H
#define TT_LEAK_HOOKS_H

#include "core/task.h"

/* ---- Ownership bookkeeping (leak/holds.c; rules in leak/holds.h) -------- */

enum {
  TT_OBJ_CHAN = 1,
  TT_OBJ_CONTEXT,
  TT_OBJ_WG,
  TT_OBJ_OWNER,
};

/* A serial for a new primitive, never 0. Entries and the detector compare
 * it with the address: a task's entry for a freed primitive must not make
 * a new one at the same address look reachable. Per-thread sequences with
 * per-thread starting points: a clash only makes the detector cautious. */
static inline uint32_t tt__serial_next(void) {
  static __thread uint32_t next;
  if (!next)
    next = (uint32_t)((uintptr_t)&next >> 4) * 0x9e3779b1u | 1u;
  next += 2; /* odd, so never 0 */
  return next;
}

/* The entry for obj in t's table, NULL if none. An entry for an older
 * primitive at obj's address (another serial) is renewed as a borrowed
 * entry for this one. Owner only. */
tt_hold *tt__hold_find(tt_task *t, const void *obj, uint32_t serial);
tt_hold *tt__hold_renew(tt_task *t, tt_hold *e, uint32_t serial);
/* Find or add (borrowed) obj; NULL when the table is full (obj is then
 * made a root). Owner only. */
tt_hold *tt__hold_get(tt_task *t, const void *obj, int kind, uint32_t serial);

void tt__root_add(const void *obj);

/* t's entry for obj among its first few (the common case, inline), or
 * through the table's index. */
static inline tt_hold *tt__hold_lookup(tt_task *t, const void *obj, uint32_t serial) {
  tt_holds *h = &t->holds;
  uint32_t n = h->n < 3 ? h->n : 3;
  for (uint32_t i = 0; i < n; i++)
    if (h->items[i].obj == obj)
      return h->items[i].serial == serial ? &h->items[i] : tt__hold_renew(t, &h->items[i], serial);
  return h->n > 3 ? tt__hold_find(t, obj, serial) : NULL;
}

/* The calling task t used obj: it can reach it. A plain thread (t NULL)
 * that uses a primitive makes it a root. */
static inline void tt__touch(tt_task *t, const void *obj, int kind, uint32_t serial) {
  if (!TT_BOOKKEEPING)
    return;
  if (!t) {
    tt__root_add(obj);
    return;
  }
  if (!tt__hold_lookup(t, obj, serial))
    tt__hold_get(t, obj, kind, serial);
}

/* t (NULL: a plain thread) took a reference to obj. */
void tt__hold_ref(tt_task *t, const void *obj, int kind, uint32_t serial);
/* t (NULL: a plain thread) drops a reference to obj. Returns true when
 * that was the task's last one and it may have passed obj on: the caller
 * makes obj a root if it lives on after the unref. */
bool tt__hold_unref(tt_task *t, const void *obj, uint32_t serial);
/* t published through something that is not a handle it needs to keep
 * (a mutex unlock): everything it holds may have gone with it. */
static inline void tt__hold_publish_any(tt_task *t) {
  if (TT_BOOKKEEPING && t && (t->holds.fresh || t->holds.last_pub)) {
    __atomic_store_n(&t->holds.pubseq, t->holds.pubseq + 1, __ATOMIC_RELAXED);
    t->holds.fresh = false;
    t->holds.last_pub = NULL;
  }
}

/* A publish on e's handle: every other entry may have gone with it;
 * publishing on a handle does not pass that handle anywhere new. */
static inline void tt__hold_published(tt_holds *h, tt_hold *e) {
  if (!h->fresh && h->last_pub == e->obj)
    return; /* the others are passed on already */
  uint32_t seq = h->pubseq + 1;
  __atomic_store_n(&h->pubseq, seq, __ATOMIC_RELAXED);
  __atomic_store_n(&e->seq, seq, __ATOMIC_RELAXED);
  h->fresh = false;
  h->last_pub = e->obj;
}

/* t published on obj (a send, a close): everything else it holds may have
 * gone with it. */
static inline void tt__hold_publish(tt_task *t, const void *obj, int kind, uint32_t serial) {
  if (!TT_BOOKKEEPING)
    return;
  if (!t) {
    tt__root_add(obj);
    return;
  }
  tt_hold *e = tt__hold_lookup(t, obj, serial);
  if (!e)
    e = tt__hold_get(t, obj, kind, serial);
  if (e)
    tt__hold_published(&t->holds, e);
  else
    tt__hold_publish_any(t);
}

/* Does a spawn hand the new task references? */
static inline bool tt__holds_gives(const tt_spawn_opts *o) {
  if (!o)
    return false;
  bool any = o->give_ctx != NULL || o->give_owner != NULL;
  for (int i = 0; i < TT_GIVE_MAX; i++)
    any |= o->give_chans[i] != NULL;
  return any;
}

/* A new task, before anyone can see it: inherit the spawner's entries
 * (borrowed), then take a counted reference to each handle in give. */
void tt__holds_spawn(tt_task *child, tt_task *parent, const tt_spawn_opts *opts);
/* The task is exiting: counted and possibly passed-on entries become roots,
 * references handed at spawn are released. */
void tt__holds_exit(tt_task *t);

/* Shutdown drops a task that never finished: release what was handed to
 * it and free its table. */
void tt__holds_drop(tt_task *t);

/* obj is being freed: forget it (its address may be reused). */
void tt__root_forget(const void *obj);

/* ---- Leaks found when they become certain (leak/leak.c) ----------------- */

/* Why a task is leaked; 0 means it is not. */
enum {
  TT_LEAK_NONE = 0,
  TT_LEAK_ABANDONED_SENDER,   /* seed pattern 1 */
  TT_LEAK_ABANDONED_RECEIVER, /* seed pattern 2: the channel is never closed */
  TT_LEAK_WORKER_POOL,        /* seed pattern 5: several receivers, no shutdown */
  TT_LEAK_NIL_CHANNEL,        /* send or receive on a nil channel, no deadline */
  TT_LEAK_EMPTY_SELECT,       /* select with no case that can ever be ready */
  TT_LEAK_SELECT_ABANDONED,   /* select whose every channel was abandoned */
  /* Found by the wait-for graph (leakgraph.c). */
  TT_LEAK_SELF_WAIT,         /* seed pattern 3: only the waiter can reach the channel */
  TT_LEAK_ERROR_PATH,        /* seed pattern 6: the peer exited without its send */
  TT_LEAK_CHAN_CHAIN,        /* every task that can reach the channel is leaked too */
  TT_LEAK_SELECT_CHAIN,      /* ...every channel of a select */
  TT_LEAK_WG_NEVER_DONE,     /* WaitGroup: no live task can call Done */
  TT_LEAK_MUTEX_ORPHANED,    /* mutex held by a task that exited */
  TT_LEAK_LOCK_CYCLE,        /* mutexes held in a cycle */
  TT_LEAK_MUTEX_HELD_LEAKED, /* mutex held by a leaked task */
  TT_LEAK__COUNT
};

/* opstate.fired of an operation ended by recovery: it returns TT_ELEAKED. */
#define TT_FIRED_LEAKED (-3)

/* tt_chan_unref dropped the last reference: c is locked and orphaned. Each
 * task waiting on c alone with no deadline is leaked; they are recorded
 * (with both stacks), and in recover mode claimed and returned in *wake
 * (linked through ->next) for the caller to ready after unlocking, their
 * call failing with TT_ELEAKED. Returns whether any leak was recorded, so
 * the caller reports after unlocking (tt__leak_flush). */
bool tt__leak_chan_orphaned(tt_chan *c, tt_task **wake);

/* The channel c lost its last reference while tasks waited on it (kept),
 * or, kept before, is being freed after all (!kept): the list of channels
 * that only their waiters keep, which may be leaked tasks a shutdown drops. */
void tt__chan_kept(tt_chan *c, bool kept);
/* tt_shutdown, once every task is dropped: free the channels only dropped
 * tasks were keeping. */
void tt__chan_kept_free_all(void);

/* The calling task is about to wait forever (nil channel, empty select).
 * Records the leak; returns TT_ELEAKED in recover mode (the caller returns
 * it instead of parking), else 0 (the caller parks). */
int tt__leak_self(int cls, tt_wait_reason why);

/* Print (and in abort mode abort on) what was recorded since the last
 * flush. Call with no lock held: symbolizing may block. */
void tt__leak_flush(void);

/* The class of a task for dumps (0 when not leaked), and class names. */
const char *tt__leak_class_name(int cls);

/* ---- Lifecycle ------------------------------------------------------------ */

/* Read TT_LEAKCHECK now (tt_init): the instant modes need it at once. */
int tt__leak_mode_now(void);
/* Forget the leak records and count of the runtime's previous run (tt_init,
 * with no runtime running): each run's are its own, and restarts do not
 * pile them up. Waits for a report printing them to finish. */
void tt__leak_records_clear(void);
/* Stop the background checker of the instant modes (tt_shutdown). */
void tt__leakgraph_shutdown(void);
/* Called by the poller when every worker is idle and no timer is pending:
 * reports a global deadlock if one is certain (leak/deadlock.c). */
void tt__checkdead(void);

#endif
