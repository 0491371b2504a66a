/*
 * Ownership bookkeeping: per-task tables of held handles, and the set of
 * roots (holds.h explains the rules).
 *
 * A table is written only by its task (and by the spawner before the task
 * exists), so lookups take no lock. Adding an entry or growing the table
 * takes the table's spinlock, which the detector holds while it copies the
 * table. Counts and publish stamps are relaxed atomics the detector reads
 * racily: it only needs them to be no older than the task's state it reads
 * afterwards, and it confirms every verdict with a second pass.
 */
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "holds.h"
#include "leak.h"

#define LINEAR_MAX 8 /* tables this small are searched linearly */

static uint32_t hash_ptr(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (uint32_t)x;
}

tt_hold *tt__hold_find(tt_task *t, const void *obj) {
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

static tt_hold *add(tt_task *t, const void *obj, int kind, uint32_t count, bool handed) {
  tt_holds *h = &t->holds;
  tt_spin_lock(&h->lock);
  if (!make_room(h)) {
    tt_spin_unlock(&h->lock);
    tt__root_add(obj); /* out of sight from now on: reachable for good */
    return NULL;
  }
  tt_hold *e = &h->items[h->n];
  *e = (tt_hold){
      .obj = obj, .count = count, .seq = h->pubseq, .kind = (uint8_t)kind, .handed = handed};
  if (h->icap)
    index_put(h->index, h->icap, obj, h->n);
  __atomic_store_n(&h->n, h->n + 1, __ATOMIC_RELEASE);
  tt_spin_unlock(&h->lock);
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
  tt_spin_lock(&h->lock);
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
  h->items[k] = h->items[last];
  __atomic_store_n(&h->n, last, __ATOMIC_RELEASE);
  tt_spin_unlock(&h->lock);
}

tt_hold *tt__hold_get(tt_task *t, const void *obj, int kind) {
  tt_hold *e = tt__hold_find(t, obj);
  return e ? e : add(t, obj, kind, 0, false);
}

void tt__hold_ref(tt_task *t, const void *obj, int kind) {
  if (!TT_BOOKKEEPING)
    return;
  if (!t) {
    tt__root_add(obj);
    return;
  }
  tt_hold *e = tt__hold_find(t, obj);
  if (!e)
    add(t, obj, kind, 1, false);
  else
    __atomic_store_n(&e->count, e->count + 1, __ATOMIC_RELAXED);
}

void tt__hold_unref(tt_task *t, const void *obj) {
  if (!TT_BOOKKEEPING || !t)
    return;
  /* A reference this task does not count came from elsewhere (an argument,
   * a message): the entry that counts it stays as it is, which only ever
   * makes its holder look able to reach obj. The task used the handle, so
   * it keeps a borrowed entry either way. */
  tt_hold *e = tt__hold_find(t, obj);
  if (!e || !e->count)
    return;
  __atomic_store_n(&e->count, e->count - 1, __ATOMIC_RELAXED);
  if (e->count)
    return;
  /* Its last reference gone, the task may no longer use the handle by the
   * API's rules: forget it, unless it may have passed the handle on. */
  if (e->seq < t->holds.pubseq)
    tt__root_add(obj);
  remove_entry(t, e);
  tt__leakgraph_event();
}

void tt__holds_spawn(tt_task *child, tt_task *parent, const tt_spawn_opts *opts) {
  if (!TT_BOOKKEEPING)
    return;
  if (parent && parent->holds.n) {
    tt_holds *p = &parent->holds;
    child->holds.pubseq = 1; /* so that an inherited entry can be older */
    for (uint32_t i = 0; i < p->n; i++) {
      tt_hold *e = &p->items[i];
      tt_hold *c = add(child, e->obj, e->kind, 0, false);
      /* An entry the parent may already have passed on, the child may
       * pass on too: its copy is just as old. */
      if (c && e->seq < p->pubseq)
        c->seq = 0;
    }
  }
  if (!opts)
    return;
  for (size_t i = 0; i < sizeof opts->give_chans / sizeof opts->give_chans[0]; i++) {
    tt_chan *c = opts->give_chans[i];
    if (!c || c->magic != TT_CHAN_MAGIC)
      continue;
    tt__chan_ref_raw(c);
    tt_hold *e = tt__hold_find(child, c);
    if (!e)
      e = add(child, c, TT_OBJ_CHAN, 0, false);
    if (e)
      e->count++, e->handed = 1;
    else
      tt__chan_unref_raw(c); /* could not record it: keep the count exact */
  }
  if (opts->give_ctx) {
    tt_context *x = opts->give_ctx;
    tt__context_ref_raw(x);
    tt_hold *e = tt__hold_find(child, x);
    if (!e)
      e = add(child, x, TT_OBJ_CONTEXT, 0, false);
    if (e)
      e->count++, e->handed = 1;
    else
      tt__context_unref_raw(x);
  }
}

static void release_handed(tt_hold *e, uint32_t count) {
  for (uint32_t k = 0; k < count; k++) {
    if (e->kind == TT_OBJ_CHAN)
      tt__chan_unref_raw((tt_chan *)e->obj);
    else
      tt__context_unref_raw((tt_context *)e->obj);
  }
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
      release_handed(&h->items[i], h->items[i].count);
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
    if (e->handed) {
      /* The runtime took these references for the task: give them back.
       * A task waiting on the channel learns its peer has gone. */
      if (passed_on)
        tt__root_add(e->obj);
      if (count && e->kind == TT_OBJ_CHAN)
        tt__chan_holder_gone((tt_chan *)e->obj);
      release_handed(e, count);
    } else if (count || passed_on) {
      /* Still counted: the reference lives on somewhere we cannot see (C
       * code often gives a reference away without saying so, and the
       * object may even be gone: never dereference it here). */
      tt__root_add(e->obj);
    }
  }
  tt_spin_lock(&h->lock);
  bool held = h->n > 0;
  free_table(h);
  __atomic_store_n(&h->n, 0, __ATOMIC_RELEASE);
  tt_spin_unlock(&h->lock);
  if (held)
    tt__leakgraph_event();
}

/* ---- Roots ------------------------------------------------------------------ *
 * Open addressing with linear probing and backward-shift deletion, so there
 * are no tombstones. Past ROOTS_MAX the set stops recording and says so:
 * the detector then finds no leaks rather than risk a wrong one. */

#define ROOTS_MAX (1u << 20)

static tt_spinlock roots_lock;
static const void **roots;
static uint32_t roots_cap, roots_n;
static bool roots_overflow;
static _Atomic uint32_t roots_count; /* lets tt__root_forget skip the lock */

static bool roots_grow(void) {
  uint32_t cap = roots_cap ? roots_cap * 2 : 256;
  const void **table = calloc(cap, sizeof *table);
  if (!table)
    return false;
  for (uint32_t i = 0; i < roots_cap; i++) {
    if (!roots[i])
      continue;
    uint32_t j = hash_ptr(roots[i]) & (cap - 1);
    while (table[j])
      j = (j + 1) & (cap - 1);
    table[j] = roots[i];
  }
  free(roots);
  roots = table;
  roots_cap = cap;
  return true;
}

void tt__root_add(const void *obj) {
  if (!TT_BOOKKEEPING || !obj)
    return;
  tt_spin_lock(&roots_lock);
  if (roots_overflow)
    goto out;
  if ((roots_n + 1) * 2 > roots_cap && (roots_n >= ROOTS_MAX || !roots_grow())) {
    roots_overflow = true;
    goto out;
  }
  uint32_t i = hash_ptr(obj) & (roots_cap - 1);
  for (; roots[i]; i = (i + 1) & (roots_cap - 1))
    if (roots[i] == obj)
      goto out;
  roots[i] = obj;
  roots_n++;
  atomic_store_explicit(&roots_count, roots_n, memory_order_relaxed);
out:
  tt_spin_unlock(&roots_lock);
}

void tt__root_forget(const void *obj) {
  if (!TT_BOOKKEEPING || atomic_load_explicit(&roots_count, memory_order_relaxed) == 0)
    return;
  tt_spin_lock(&roots_lock);
  uint32_t mask = roots_cap - 1, i = hash_ptr(obj) & mask;
  while (roots[i] && roots[i] != obj)
    i = (i + 1) & mask;
  if (roots[i]) {
    /* Backward shift: pull later members of the probe run into the hole. */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & mask; roots[j]; j = (j + 1) & mask) {
      uint32_t home = hash_ptr(roots[j]) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        roots[hole] = roots[j];
        hole = j;
      }
    }
    roots[hole] = NULL;
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
  const void **out = malloc((roots_n ? roots_n : 1) * sizeof *out);
  int64_t k = 0;
  for (uint32_t i = 0; out && i < roots_cap; i++)
    if (roots[i])
      out[k++] = roots[i];
  tt_spin_unlock(&roots_lock);
  *n = out ? k : -1;
  return out;
}
