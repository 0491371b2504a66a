/*
 * Ownership bookkeeping: per-task tables of held handles, and the set of
 * roots (holds.h explains the rules).
 *
 * A table is written only by its task (and by the spawner before the task
 * exists), so lookups take no lock. The detector copies tables of running
 * tasks, so:
 *  - growing or freeing the items array takes the table's spinlock, which
 *    the detector holds while it copies (the array stays put);
 *  - adding or removing an entry bumps wseq before and after, seqlock
 *    style, and the detector copies again when wseq moved or was odd;
 *  - counts and publish stamps are single relaxed atomics.
 * The common operations (a lookup, a new entry that fits) take no lock.
 */
#include <stdlib.h>
#include <string.h>

#include "leak/holds.h"
#include "leak/leak.h"
#include "leak/owner.h"
#include "sync/chan.h"
#include "sync/context.h"

#define LINEAR_MAX 8  /* tables this small are searched linearly */
#define INHERIT_MAX 8 /* a spawn copies at most this many of its parent's entries */

static uint32_t hash_ptr(const void *p) { return tt__hash64((uintptr_t)p); }

static tt_hold *find(tt_task *t, const void *obj) {
  tt_holds *h = &t->holds;
  if (!h->icap) {
    for (uint32_t i = 0; i < h->n; i++)
      if (h->items[i].obj == obj)
        return &h->items[i];
    return NULL;
  }
  for (uint32_t i = hash_ptr(obj) & (h->icap - 1);; i = (i + 1) & (h->icap - 1)) {
    uint32_t at = h->index[i];
    if (!at)
      return NULL;
    if (h->items[at - 1].obj == obj)
      return &h->items[at - 1];
  }
}

tt_hold *tt__hold_find(tt_task *t, const void *obj, uint32_t serial) {
  tt_hold *e = find(t, obj);
  return !e || e->serial == serial ? e : tt__hold_renew(t, e, serial);
}

static void index_put(uint32_t *index, uint32_t icap, const void *obj, uint32_t pos) {
  uint32_t i = hash_ptr(obj) & (icap - 1);
  while (index[i])
    i = (i + 1) & (icap - 1);
  index[i] = pos + 1;
}

/* Under h->lock: room for one more entry (and an index once the table is
 * past LINEAR_MAX). False when out of memory or at TT_HOLDS_MAX. */
static bool make_room(tt_holds *h) {
  if (h->n == h->cap) {
    if (h->cap >= TT_HOLDS_MAX)
      return false;
    uint32_t cap = h->cap * 2 < 8 ? 8 : h->cap * 2;
    tt_hold *items = malloc(cap * sizeof *items);
    if (!items)
      return false;
    memcpy(items, h->items, h->n * sizeof *items);
    if (h->items != h->local)
      free(h->items);
    h->items = items;
    h->cap = cap;
  }
  if (h->n + 1 > LINEAR_MAX && (h->n + 1) * 2 > h->icap) {
    uint32_t icap = h->icap ? h->icap * 2 : 32;
    while ((h->n + 1) * 2 > icap)
      icap *= 2;
    uint32_t *index = calloc(icap, sizeof *index);
    if (!index)
      return false;
    for (uint32_t i = 0; i < h->n; i++)
      index_put(index, icap, h->items[i].obj, i);
    free(h->index);
    h->index = index;
    h->icap = icap;
  }
  return true;
}

/* Odd before the entries change, even after. The increment that makes it
 * odd is an acquire-release read-modify-write, so that the changes that
 * follow cannot be seen before it (no fence: TSan does not model them). */
static void wseq_begin(tt_holds *h) {
  atomic_fetch_add_explicit(&h->wseq, 1, memory_order_acq_rel);
}

static void wseq_end(tt_holds *h) {
  atomic_store_explicit(&h->wseq, atomic_load_explicit(&h->wseq, memory_order_relaxed) + 1,
                        memory_order_release);
}

static void put(tt_hold *e, const void *obj, uint32_t serial, uint32_t count, uint32_t seq,
                int kind, bool handed) {
  __atomic_store_n(&e->obj, obj, __ATOMIC_RELAXED);
  __atomic_store_n(&e->serial, serial, __ATOMIC_RELAXED);
  __atomic_store_n(&e->count, count, __ATOMIC_RELAXED);
  __atomic_store_n(&e->seq, seq, __ATOMIC_RELAXED);
  __atomic_store_n(&e->kind, (uint8_t)kind, __ATOMIC_RELAXED);
  __atomic_store_n(&e->handed, (uint8_t)handed, __ATOMIC_RELAXED);
}

/* A new task's table (nobody sees it yet): room for n entries. */
static bool make_room_for(tt_holds *h, uint32_t n) {
  tt_hold *items = malloc(n * sizeof *items);
  if (!items)
    return false;
  h->items = items;
  h->cap = n;
  return true;
}

static tt_hold *add(tt_task *t, const void *obj, int kind, uint32_t serial, uint32_t count,
                    bool handed) {
  tt_holds *h = &t->holds;
  if (h->n == h->cap || (h->n + 1 > LINEAR_MAX && (h->n + 1) * 2 > h->icap)) {
    tt_spin_lock(&h->lock);
    bool room = make_room(h);
    tt_spin_unlock(&h->lock);
    if (!room) {
      tt__root_add(obj); /* out of sight from now on: reachable for good */
      return NULL;
    }
  }
  wseq_begin(h);
  tt_hold *e = &h->items[h->n];
  put(e, obj, serial, count, h->pubseq, kind, handed);
  h->fresh = true;
  if (h->icap)
    index_put(h->index, h->icap, obj, h->n);
  __atomic_store_n(&h->n, h->n + 1, __ATOMIC_RELAXED);
  wseq_end(h);
  return e;
}

/* The index slot holding item position pos + 1 for obj. */
static uint32_t index_slot(tt_holds *h, const void *obj) {
  uint32_t mask = h->icap - 1, i = hash_ptr(obj) & mask;
  while (h->items[h->index[i] - 1].obj != obj)
    i = (i + 1) & mask;
  return i;
}

/* Owner only: drop entry e (swap with the last one). */
static void remove_entry(tt_task *t, tt_hold *e) {
  tt_holds *h = &t->holds;
  uint32_t k = (uint32_t)(e - h->items), last = h->n - 1;
  wseq_begin(h);
  if (h->icap) {
    /* Backward-shift deletion, as in the root set below. */
    uint32_t mask = h->icap - 1, hole = index_slot(h, e->obj);
    for (uint32_t j = (hole + 1) & mask; h->index[j]; j = (j + 1) & mask) {
      uint32_t home = hash_ptr(h->items[h->index[j] - 1].obj) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        h->index[hole] = h->index[j];
        hole = j;
      }
    }
    h->index[hole] = 0;
    if (k != last)
      h->index[index_slot(h, h->items[last].obj)] = k + 1;
  }
  const tt_hold *l = &h->items[last];
  put(&h->items[k], l->obj, l->serial, l->count, l->seq, l->kind, l->handed);
  __atomic_store_n(&h->n, last, __ATOMIC_RELAXED);
  wseq_end(h);
}

/* e is for a primitive that was freed; its address now holds another one
 * (serial), which the task has just used: a borrowed entry for it. What
 * the old entry counted died with the old primitive. */
tt_hold *tt__hold_renew(tt_task *t, tt_hold *e, uint32_t serial) {
  tt_holds *h = &t->holds;
  wseq_begin(h);
  put(e, e->obj, serial, 0, h->pubseq, e->kind, false);
  h->fresh = true;
  wseq_end(h);
  return e;
}

tt_hold *tt__hold_get(tt_task *t, const void *obj, int kind, uint32_t serial) {
  tt_hold *e = tt__hold_find(t, obj, serial);
  return e ? e : add(t, obj, kind, serial, 0, false);
}

void tt__hold_ref(tt_task *t, const void *obj, int kind, uint32_t serial) {
  if (!TT_BOOKKEEPING)
    return;
  if (!t) {
    tt__root_add(obj);
    return;
  }
  tt_hold *e = tt__hold_find(t, obj, serial);
  if (!e)
    add(t, obj, kind, serial, 1, false);
  else
    __atomic_store_n(&e->count, e->count + 1, __ATOMIC_RELAXED);
}

bool tt__hold_unref(tt_task *t, const void *obj, uint32_t serial) {
  if (!TT_BOOKKEEPING || !t)
    return false;
  /* A reference this task does not count came from elsewhere (an argument,
   * a message): the entry that counts it stays as it is, which only ever
   * makes its holder look able to reach obj. The task used the handle, so
   * it keeps a borrowed entry either way. */
  tt_hold *e = tt__hold_lookup(t, obj, serial);
  if (!e || !e->count)
    return false;
  __atomic_store_n(&e->count, e->count - 1, __ATOMIC_RELAXED);
  if (e->handed > e->count) /* it dropped more than it took: one handed to it */
    e->handed = (uint8_t)e->count;
  if (e->count)
    return false;
  /* Its last reference gone, the task may no longer use the handle by the
   * API's rules: forget it. */
  bool passed_on = e->seq < t->holds.pubseq;
  if (e->kind == TT_OBJ_CHAN) /* alive: the caller still holds its reference */
    tt__chan_forget_user((tt_chan *)obj, t);
  remove_entry(t, e);
  tt__leak_event();
  return passed_on;
}

/* A reference the runtime takes or drops on a task's behalf (handed at
 * spawn, released at exit or when shutdown drops the task). */
static void raw_ref(const void *obj, int kind) {
  if (kind == TT_OBJ_CHAN)
    tt__chan_ref_raw((tt_chan *)obj);
  else if (kind == TT_OBJ_OWNER)
    tt__owner_ref_raw((tt_owner *)obj);
  else
    tt__context_ref_raw((tt_context *)obj);
}

static void raw_unref(const void *obj, int kind) {
  if (kind == TT_OBJ_CHAN)
    tt__chan_unref_raw((tt_chan *)obj);
  else if (kind == TT_OBJ_OWNER)
    tt__owner_unref_raw((tt_owner *)obj);
  else
    tt__context_unref_raw((tt_context *)obj);
}

static void release_handed(const tt_hold *e, uint32_t count) {
  for (uint32_t k = 0; k < count; k++)
    raw_unref(e->obj, e->kind);
}

/* Hand the new task (nobody sees it yet) a reference to obj. */
static void give(tt_task *child, const void *obj, int kind, uint32_t serial) {
  raw_ref(obj, kind);
  tt_hold *e = tt__hold_find(child, obj, serial);
  if (!e)
    e = add(child, obj, kind, serial, 0, false);
  if (e && e->handed < UINT8_MAX)
    e->count++, e->handed++;
  else
    raw_unref(obj, kind); /* could not record it: keep the count exact */
}

void tt__holds_spawn(tt_task *child, tt_task *parent, const tt_spawn_opts *opts) {
  if (!TT_BOOKKEEPING)
    return;
  if (parent && parent->holds.n) {
    tt_holds *p = &parent->holds, *h = &child->holds;
    if (p->n > INHERIT_MAX) {
      /* Too many to copy at every spawn: the parent's handles count as
       * passed on instead (roots while it holds them, and after). */
      if (!p->pubseq)
        __atomic_store_n(&p->pubseq, 1, __ATOMIC_RELAXED);
      for (uint32_t i = 0; i < p->n; i++)
        __atomic_store_n(&p->items[i].seq, 0, __ATOMIC_RELAXED);
      p->fresh = false;
      p->last_pub = NULL;
    } else if (p->n <= h->cap || make_room_for(h, p->n)) {
      /* Nobody can see the child yet: plain copies, no lock. */
      h->pubseq = 1; /* so that an inherited entry can be older */
      for (uint32_t i = 0; i < p->n; i++) {
        const tt_hold *e = &p->items[i];
        /* An entry the parent may already have passed on, the child may
         * pass on too: its copy is just as old. */
        h->items[i] = (tt_hold){
            .obj = e->obj, .serial = e->serial, .seq = e->seq < p->pubseq ? 0 : 1, .kind = e->kind};
      }
      h->n = p->n;
      h->fresh = true;
    }
  }
  if (!opts)
    return;
  for (size_t i = 0; i < sizeof opts->give_chans / sizeof opts->give_chans[0]; i++)
    if (opts->give_chans[i] && opts->give_chans[i]->magic == TT_CHAN_MAGIC)
      give(child, opts->give_chans[i], TT_OBJ_CHAN, opts->give_chans[i]->serial);
  if (opts->give_owner && tt__owner_check(opts->give_owner))
    give(child, opts->give_owner, TT_OBJ_OWNER, tt__owner_serial(opts->give_owner));
  if (opts->give_ctx)
    give(child, opts->give_ctx, TT_OBJ_CONTEXT, 0);
}

static void free_table(tt_holds *h) {
  if (h->items != h->local)
    free(h->items);
  free(h->index);
  h->items = h->local;
  h->index = NULL;
  h->icap = 0;
  h->cap = sizeof h->local / sizeof h->local[0];
}

void tt__holds_drop(tt_task *t) {
  if (!TT_BOOKKEEPING)
    return;
  tt_holds *h = &t->holds;
  for (uint32_t i = 0; i < h->n; i++)
    if (h->items[i].handed)
      release_handed(&h->items[i], h->items[i].handed);
  free_table(h);
  h->n = 0;
}

void tt__holds_exit(tt_task *t) {
  if (!TT_BOOKKEEPING)
    return;
  tt_holds *h = &t->holds;
  uint32_t n = __atomic_load_n(&h->n, __ATOMIC_RELAXED);
  for (uint32_t i = 0; i < n; i++) {
    tt_hold *e = &h->items[i];
    uint32_t count = __atomic_load_n(&e->count, __ATOMIC_RELAXED);
    bool passed_on = e->seq < h->pubseq;
    uint32_t handed = __atomic_load_n(&e->handed, __ATOMIC_RELAXED);
    if (handed) {
      /* The runtime took these references for the task: give back what
       * the task has not dropped itself. References it took on top of
       * them live on wherever it put them. A task waiting on the channel
       * learns its peer has gone. */
      if (passed_on || count > handed)
        tt__root_add(e->obj);
      if (count == handed && e->kind == TT_OBJ_CHAN)
        tt__chan_holder_gone((tt_chan *)e->obj);
      release_handed(e, handed);
    } else if (count || passed_on) {
      /* Still counted: the reference lives on somewhere we cannot see (C
       * code often gives a reference away without saying so, and the
       * object may even be gone: never dereference it here). */
      tt__root_add(e->obj);
    }
  }
  bool held = h->n > 0;
  if (h->items != h->local) { /* the detector may be reading the array */
    tt_spin_lock(&h->lock);
    free_table(h);
    __atomic_store_n(&h->n, 0, __ATOMIC_RELAXED);
    tt_spin_unlock(&h->lock);
  } else {
    /* No seqcount: a detector that still copies the old entries (they stay
     * in place) sees what the task could reach a moment ago, which only
     * makes more reachable. */
    __atomic_store_n(&h->n, 0, __ATOMIC_RELAXED);
  }
  if (held)
    tt__leak_event();
}

/* ---- Roots ------------------------------------------------------------------ *
 * Open addressing with linear probing and backward-shift deletion, so there
 * are no tombstones. Writers hold roots_lock. tt__root_forget, called for
 * every channel, context and WaitGroup made, first probes without the lock:
 * a table it reads stays allocated (replaced tables are kept), and a miss
 * because of a concurrent change only leaves a root in place, which is
 * never wrong. Past ROOTS_MAX the set stops recording and says so: the
 * detector then finds no leaks rather than risk a wrong one. */

#define ROOTS_MAX (1u << 20)

typedef struct roots_table {
  struct roots_table *older; /* replaced tables, kept for lock-free readers */
  uint32_t cap;              /* a power of two */
  _Atomic(const void *) slot[];
} roots_table;

static tt_spinlock roots_lock;
static _Atomic(roots_table *) roots;
static uint32_t roots_n;
static bool roots_overflow;
static _Atomic uint32_t roots_count; /* lets tt__root_forget skip everything */
/* A one-hash Bloom filter of every pointer ever added: a clear bit proves
 * a pointer is not a root without probing the table. Bits are never
 * cleared; a set one only costs a probe. */
#define BLOOM_BITS 4096
static _Atomic uint64_t roots_bloom[BLOOM_BITS / 64];

static uint32_t bloom_bit(const void *p) { return (hash_ptr(p) >> 12) & (BLOOM_BITS - 1); }

static const void *slot_get(roots_table *t, uint32_t i) {
  return atomic_load_explicit(&t->slot[i], memory_order_relaxed);
}

static void slot_set(roots_table *t, uint32_t i, const void *p) {
  atomic_store_explicit(&t->slot[i], p, memory_order_relaxed);
}

static bool roots_grow(void) {
  roots_table *old = atomic_load_explicit(&roots, memory_order_relaxed);
  uint32_t cap = old ? old->cap * 2 : 256;
  roots_table *t = calloc(1, sizeof *t + cap * sizeof t->slot[0]);
  if (!t)
    return false;
  t->cap = cap;
  t->older = old;
  for (uint32_t i = 0; old && i < old->cap; i++) {
    const void *p = slot_get(old, i);
    if (!p)
      continue;
    uint32_t j = hash_ptr(p) & (cap - 1);
    while (slot_get(t, j))
      j = (j + 1) & (cap - 1);
    slot_set(t, j, p);
  }
  atomic_store_explicit(&roots, t, memory_order_release);
  return true;
}

void tt__root_add(const void *obj) {
  if (!TT_BOOKKEEPING || !obj)
    return;
  tt_spin_lock(&roots_lock);
  roots_table *t = atomic_load_explicit(&roots, memory_order_relaxed);
  if (roots_overflow)
    goto out;
  if ((!t || (roots_n + 1) * 2 > t->cap) && (roots_n >= ROOTS_MAX || !roots_grow())) {
    roots_overflow = true;
    goto out;
  }
  t = atomic_load_explicit(&roots, memory_order_relaxed);
  uint32_t i = hash_ptr(obj) & (t->cap - 1);
  for (; slot_get(t, i); i = (i + 1) & (t->cap - 1))
    if (slot_get(t, i) == obj)
      goto out;
  slot_set(t, i, obj);
  atomic_fetch_or_explicit(&roots_bloom[bloom_bit(obj) / 64], 1ull << (bloom_bit(obj) % 64),
                           memory_order_relaxed);
  roots_n++;
  atomic_store_explicit(&roots_count, roots_n, memory_order_relaxed);
out:
  tt_spin_unlock(&roots_lock);
}

/* The slot of obj in t, or -1. */
static int64_t roots_find(roots_table *t, const void *obj) {
  uint32_t mask = t->cap - 1;
  for (uint32_t i = hash_ptr(obj) & mask, n = 0; n <= mask; i = (i + 1) & mask, n++) {
    const void *p = slot_get(t, i);
    if (!p)
      return -1;
    if (p == obj)
      return i;
  }
  return -1;
}

void tt__root_forget(const void *obj) {
  if (!TT_BOOKKEEPING || atomic_load_explicit(&roots_count, memory_order_relaxed) == 0)
    return;
  uint32_t bit = bloom_bit(obj);
  if (!(atomic_load_explicit(&roots_bloom[bit / 64], memory_order_relaxed) & (1ull << (bit % 64))))
    return;
  roots_table *t = atomic_load_explicit(&roots, memory_order_acquire);
  if (!t || roots_find(t, obj) < 0)
    return;
  tt_spin_lock(&roots_lock);
  t = atomic_load_explicit(&roots, memory_order_relaxed);
  int64_t at = roots_find(t, obj);
  if (at >= 0) {
    /* Backward shift: pull later members of the probe run into the hole. */
    uint32_t mask = t->cap - 1, hole = (uint32_t)at;
    for (uint32_t j = (hole + 1) & mask; slot_get(t, j); j = (j + 1) & mask) {
      uint32_t home = hash_ptr(slot_get(t, j)) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slot_set(t, hole, slot_get(t, j));
        hole = j;
      }
    }
    slot_set(t, hole, NULL);
    roots_n--;
    atomic_store_explicit(&roots_count, roots_n, memory_order_relaxed);
  }
  tt_spin_unlock(&roots_lock);
}

const void **tt__roots_copy(int64_t *n) {
  tt_spin_lock(&roots_lock);
  if (roots_overflow) {
    tt_spin_unlock(&roots_lock);
    *n = -1;
    return NULL;
  }
  roots_table *t = atomic_load_explicit(&roots, memory_order_relaxed);
  const void **out = malloc((roots_n ? roots_n : 1) * sizeof *out);
  int64_t k = 0;
  for (uint32_t i = 0; out && t && i < t->cap; i++)
    if (slot_get(t, i))
      out[k++] = slot_get(t, i);
  tt_spin_unlock(&roots_lock);
  *n = out ? k : -1;
  return out;
}
