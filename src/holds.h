/*
 * Who can reach which primitive: the ownership bookkeeping behind the leak
 * detector (leakgraph.c). See docs/API.md, "Ownership of handles", for the
 * rules as users see them.
 *
 * Each task keeps a table of the handles it holds (tt_hold in internal.h):
 *  - counted entries for references it owns: a channel or context made or
 *    referenced inside it, or handed to it at spawn (tt_spawn_opts.give_*);
 *  - borrowed entries for handles it used (any operation on a primitive
 *    touches it) or inherited: a new task can reach whatever its spawner
 *    could, since its argument may carry any of it.
 * A handle that leaves the tables' sight becomes a root, reachable for good
 * (until it is freed): handles made or referenced from plain threads, every
 * entry of a task that exits while it still counts references, entries a
 * task may have passed on (older than its latest send, close, unlock or
 * signal: the message or the shared memory may carry them), and runtime
 * channels (timers, tickers, context done channels).
 */
#ifndef TT_HOLDS_H
#define TT_HOLDS_H

#include "internal.h"

enum {
  TT_OBJ_CHAN = 1,
  TT_OBJ_CONTEXT,
  TT_OBJ_WG,
  TT_OBJ_OWNER,
};

/* A pointer or an id spread over 32 bits, for the open-addressing tables
 * of holds.c and leakgraph.c (the finalizer of MurmurHash3). */
static inline uint32_t tt__hash64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (uint32_t)x;
}

/* Tables stop growing here; further handles become roots. */
#define TT_HOLDS_MAX 4096

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

/* Context references without the calling task's bookkeeping (context.c). */
void tt__context_ref_raw(tt_context *c);
int tt__context_unref_raw(tt_context *c);

/* Shutdown drops a task that never finished: release what was handed to
 * it and free its table. */
void tt__holds_drop(tt_task *t);

/* Roots: a set of primitives that stay reachable (tt__root_add above). */
/* obj is being freed: forget it (its address may be reused). */
void tt__root_forget(const void *obj);
/* Copy the roots, for the detector: a malloc'd array of *n pointers, or
 * NULL with *n = -1 when the set overflowed (every primitive is then
 * treated as reachable). */
const void **tt__roots_copy(int64_t *n);

#endif
