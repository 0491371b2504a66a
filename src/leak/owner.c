/*
 * Owners: objects that own handles, so that reachability passes through
 * them the way a garbage collector sees through a struct (docs/API.md,
 * "Ownership of handles").
 *
 * A server struct with a stop channel, a WaitGroup and a jobs channel is
 * what most real leaks live in. Give it a tt_owner, let the owner adopt
 * those handles, and hand the owner (not each handle) to the tasks: the
 * detector then follows task -> owner -> channel, owners may own owners,
 * and a task blocked on the stop channel is leaked once no live task can
 * reach the owner any more.
 *
 * An owner is reference counted like a channel, and its references count
 * in the tasks' tables like a channel's. It owns one reference to each
 * adopted channel and owner (released when its last reference goes) and
 * only points at the WaitGroups it tracks (their owner frees them).
 * Every owner is on a registry that the detector copies in each pass.
 */
#include <stdlib.h>

#include "leak/holds.h"
#include "leak/owner.h"
#include "sync/chan.h"
#include "sync/waitgroup.h"

#define OWNER_MAGIC 0x744f574eu /* "tOWN" */
#define OWNER_DEAD 0xdead0a11u

typedef struct owned {
  void *obj;
  uint32_t serial;
  uint8_t kind; /* TT_OBJ_CHAN, TT_OBJ_OWNER or TT_OBJ_WG */
} owned;

struct tt_owner {
  uint32_t magic;
  uint32_t serial; /* holds.h */
  _Atomic int64_t refs;
  tt_spinlock lock; /* guards items */
  int n, cap;
  owned *items;
  tt_owner *prev, *next; /* the registry */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static tt_owner *registry;

static bool owner_ok(const tt_owner *o) { return o && o->magic == OWNER_MAGIC; }

tt_owner *tt_owner_make(void) {
  tt_owner *o = calloc(1, sizeof *o);
  if (!o)
    return NULL;
  o->magic = OWNER_MAGIC;
  o->serial = tt__serial_next();
  atomic_store_explicit(&o->refs, 1, memory_order_relaxed);
  pthread_mutex_lock(&registry_lock);
  o->next = registry;
  if (registry)
    registry->prev = o;
  registry = o;
  pthread_mutex_unlock(&registry_lock);
  tt__root_forget(o); /* a stale root at a reused address is not this owner's */
  tt__hold_ref(tt__current(), o, TT_OBJ_OWNER, o->serial);
  return o;
}

tt_owner *tt_owner_ref(tt_owner *o) {
  if (owner_ok(o)) {
    atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
    tt__hold_ref(tt__current(), o, TT_OBJ_OWNER, o->serial);
  }
  return o;
}

void tt__owner_ref_raw(tt_owner *o) {
  atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
}

int tt__owner_unref_raw(tt_owner *o) {
  if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
    return 0;
  pthread_mutex_lock(&registry_lock);
  if (o->prev)
    o->prev->next = o->next;
  else
    registry = o->next;
  if (o->next)
    o->next->prev = o->prev;
  pthread_mutex_unlock(&registry_lock);
  /* Nobody else can reach o now: its items need no lock. */
  for (int i = 0; i < o->n; i++) {
    if (o->items[i].kind == TT_OBJ_CHAN)
      tt__chan_unref_raw(o->items[i].obj);
    else if (o->items[i].kind == TT_OBJ_OWNER)
      tt__owner_unref_raw(o->items[i].obj);
  }
  free(o->items);
  tt__root_forget(o);
  o->magic = OWNER_DEAD;
  free(o);
  return 1;
}

int tt_owner_unref(tt_owner *o) {
  if (!owner_ok(o))
    return TT_EINVAL;
  bool passed_on = tt__hold_unref(tt__current(), o, o->serial);
  if (tt__owner_unref_raw(o) == 0 && passed_on)
    tt__root_add(o); /* it lives on, and this task may have passed it on */
  return 0;
}

static int adopt(tt_owner *o, void *obj, int kind, uint32_t serial) {
  tt_spin_lock(&o->lock);
  for (int i = 0; i < o->n; i++)
    if (o->items[i].obj == obj && kind == TT_OBJ_WG) {
      tt_spin_unlock(&o->lock);
      return 0; /* tracked already */
    }
  if (o->n == o->cap) {
    int cap = o->cap ? o->cap * 2 : 4;
    owned *items = realloc(o->items, (size_t)cap * sizeof *items);
    if (!items) {
      tt_spin_unlock(&o->lock);
      return TT_ENOMEM;
    }
    o->items = items;
    o->cap = cap;
  }
  o->items[o->n++] = (owned){obj, serial, (uint8_t)kind};
  tt_spin_unlock(&o->lock);
  return 0;
}

int tt_owner_adopt_chan(tt_owner *o, tt_chan *c) {
  if (!owner_ok(o) || !c || c->magic != TT_CHAN_MAGIC)
    return TT_EINVAL;
  tt_task *self = tt__current();
  tt__touch(self, o, TT_OBJ_OWNER, o->serial);
  int rc = adopt(o, c, TT_OBJ_CHAN, c->serial);
  if (rc == 0 && tt__hold_unref(self, c, c->serial)) /* the caller's reference is the owner's now */
    tt__root_add(c);                                 /* ...and the caller may have passed c on */
  return rc;
}

int tt_owner_adopt_owner(tt_owner *o, tt_owner *child) {
  if (!owner_ok(o) || !owner_ok(child) || child == o)
    return TT_EINVAL;
  tt_task *self = tt__current();
  tt__touch(self, o, TT_OBJ_OWNER, o->serial);
  int rc = adopt(o, child, TT_OBJ_OWNER, child->serial);
  if (rc == 0 && tt__hold_unref(self, child, child->serial))
    tt__root_add(child);
  return rc;
}

int tt_owner_track_wg(tt_owner *o, tt_wg *wg) {
  if (!owner_ok(o) || !wg)
    return TT_EINVAL;
  tt__touch(tt__current(), o, TT_OBJ_OWNER, o->serial);
  return adopt(o, wg, TT_OBJ_WG, tt__wg_serial_peek(wg));
}

bool tt__owner_check(const void *p) { return owner_ok(p); }

uint32_t tt__owner_serial(const tt_owner *o) { return o->serial; }

int64_t tt__owners_copy(tt__owner_edge **out) {
  pthread_mutex_lock(&registry_lock);
  size_t n = 0, cap = 64;
  tt__owner_edge *e = malloc(cap * sizeof *e);
  for (tt_owner *o = registry; o && e; o = o->next) {
    tt_spin_lock(&o->lock);
    for (int i = 0; i < o->n && e; i++) {
      if (n == cap) {
        cap *= 2;
        tt__owner_edge *more = realloc(e, cap * sizeof *e);
        if (!more) {
          free(e);
          e = NULL;
          break;
        }
        e = more;
      }
      e[n++] = (tt__owner_edge){o, o->items[i].obj, o->items[i].serial};
    }
    tt_spin_unlock(&o->lock);
  }
  pthread_mutex_unlock(&registry_lock);
  *out = e;
  return e ? (int64_t)n : TT_ENOMEM;
}
