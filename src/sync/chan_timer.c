/*
 * Timers and tickers that deliver on channels (Go's time.Timer and
 * time.Ticker), built on the scheduler's timer heaps.
 *
 * The callback runs on a worker's scheduler stack and only does a
 * non-blocking send of the fire time (a full channel drops the tick, as Go
 * does), then re-arms a ticker. Stopping races with a callback that a
 * worker has already taken off the heap; `active` (under the object's lock)
 * decides whether that callback may still deliver, and `pending` counts
 * armings not yet finished, so freeing waits for an in-flight callback
 * rather than pulling the object out from under it.
 *
 * Stop and reset are exact in Go 1.23's sense. The callback sends under the
 * object's lock, and stop and reset, under the same lock, both switch the
 * callback off and empty the channel of a value nobody has received yet. So
 * once they return no stale value can be received, and they report "fired"
 * (0) only when the value was actually received: a timer stopped while its
 * callback was in flight, or with its value still unread, reports "stopped"
 * (1), and nothing ever arrives.
 *
 * The common timer is a timeout that is stopped long before it fires, so
 * making and freeing matter as much as arming: a calloc and a free each for
 * the object and its channel cost more than the heap. A freed timer whose
 * channel nobody else holds therefore goes, channel and all, to a small
 * cache of the worker that freed it, and the next make on that worker takes
 * it from there. A cached timer stays in the registry of live ones (it is
 * inactive, so leak reports skip it): neither path takes the registry lock.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/sanitizer.h"
#include "sync/chan.h"

#ifdef TT_ASAN
#include <sanitizer/asan_interface.h>
#endif

typedef struct chan_timer {
  /* What the registry walk reads, also while the timer is cached; the
   * channel pointer stays readable for LeakSanitizer's sake. */
  tt_spinlock lock;
  bool active;                            /* may deliver */
  bool freed;                             /* in a cache: a second free is refused */
  struct chan_timer *reg_prev, *reg_next; /* in the registry of live ones */
  tt_chan *c;
  size_t poisoned; /* bytes of c poisoned while cached */
  /* The timer proper. Under AddressSanitizer it is poisoned while cached,
   * and so is its channel: a use after tt_timer_free is still reported. */
  tt_tnode node;
  int64_t period; /* 0 for a one-shot timer */
  _Atomic int pending;
  const char *file;
  int line;
  int64_t owner; /* task that made it, for leak reports */
} chan_timer;

/* Every timer and ticker not yet freed (or freed into a cache), so that
 * those still running after the task that made them has exited can be
 * reported. */
static tt_spinlock registry_lock;
static chan_timer *registry;

static void registry_add(chan_timer *t) {
  tt_spin_lock(&registry_lock);
  t->reg_prev = NULL;
  t->reg_next = registry;
  if (registry)
    registry->reg_prev = t;
  registry = t;
  tt_spin_unlock(&registry_lock);
}

static void registry_remove(chan_timer *t) {
  tt_spin_lock(&registry_lock);
  if (t->reg_prev)
    t->reg_prev->reg_next = t->reg_next;
  else
    registry = t->reg_next;
  if (t->reg_next)
    t->reg_next->reg_prev = t->reg_prev;
  tt_spin_unlock(&registry_lock);
}

/* ---- Cache of freed timers ------------------------------------------------- */

/* One cache per worker (workers beyond CACHE_SLOTS share by id), each with
 * its own lock: a task touches only its own worker's cache line. Plain
 * threads neither take from nor give to the caches. At most
 * CACHE_SLOTS * CACHE_DEPTH timers (about 160 KiB) are kept. */
#define CACHE_SLOTS 16
#define CACHE_DEPTH 32

typedef struct timer_cache {
  _Alignas(TT_CACHELINE) tt_spinlock lock;
  int n;
  chan_timer *items[CACHE_DEPTH];
} timer_cache;

static timer_cache caches[CACHE_SLOTS];

static void cache_poison(chan_timer *t, bool poison) {
#ifdef TT_ASAN
  char *from = (char *)&t->node;
  size_t bytes = sizeof *t - (size_t)(from - (char *)t);
  if (poison) {
    tt_chan *c = t->c;
    t->poisoned = (size_t)(c->buf + c->elem_size * c->cap - (char *)c);
    ASAN_POISON_MEMORY_REGION(c, t->poisoned);
    ASAN_POISON_MEMORY_REGION(from, bytes);
  } else {
    ASAN_UNPOISON_MEMORY_REGION(from, bytes);
    ASAN_UNPOISON_MEMORY_REGION(t->c, t->poisoned);
  }
#else
  (void)t;
  (void)poison;
#endif
}

static chan_timer *cache_get(timer_cache *k) {
  tt_spin_lock(&k->lock);
  chan_timer *t = k->n ? k->items[--k->n] : NULL;
  tt_spin_unlock(&k->lock);
  if (t)
    cache_poison(t, false);
  return t;
}

static bool cache_put(timer_cache *k, chan_timer *t) {
  tt_spin_lock(&k->lock);
  bool room = k->n < CACHE_DEPTH;
  if (room) {
    cache_poison(t, true);
    k->items[k->n++] = t;
  }
  tt_spin_unlock(&k->lock);
  return room;
}

/* A freed timer's channel may serve the next timer when the timer's
 * reference is the only one and nobody is queued on it or has closed it
 * (both misuse of a borrowed channel, but possible): then it is emptied of
 * an unread tick and handed over as new. */
static bool chan_reusable(tt_chan *c) {
  if (atomic_load_explicit(&c->refs, memory_order_acquire) != 1)
    return false;
  tt_spin_lock(&c->lock);
  tt__chan_forget_stale(c);
  bool ok = !c->closed && !c->orphaned && c->pins == 0 && !c->recvq.first && !c->sendq.first;
  if (ok)
    c->count = c->sendx = c->recvx = 0;
  tt_spin_unlock(&c->lock);
  return ok;
}

struct tt_timer {
  chan_timer t;
};
struct tt_ticker {
  chan_timer t;
};

static void fire(tt_tnode *n) {
  chan_timer *t = n->arg;
  tt_spin_lock(&t->lock);
  /* A reset while this callback was on its way re-armed the node: then this
   * firing is stale and the re-armed one will deliver. */
  bool rearmed = __atomic_load_n(&n->heap, __ATOMIC_ACQUIRE) != NULL;
  if (t->active && !rearmed) {
    int64_t now = tt_now();
    tt_chan_try_send(t->c, &now);
    if (t->period > 0) {
      /* Next tick on the period grid; ticks a slow worker missed are
       * skipped, never bunched up. */
      int64_t next = n->when + t->period;
      if (next <= now)
        next = now + t->period - (now - n->when) % t->period;
      n->when = next;
      if (tt__timer_start(n) == 0)
        atomic_fetch_add(&t->pending, 1);
    } else {
      t->active = false;
    }
  }
  tt_spin_unlock(&t->lock);
  atomic_fetch_sub(&t->pending, 1); /* last touch */
}

/* Under t->lock: the timer will deliver nothing more. A callback already
 * taken off the heap sees `active` false and sends nothing, so the timer
 * was stopped in time whenever it was active: returns whether it was. */
static bool disarm_locked(chan_timer *t) {
  bool was_active = t->active;
  t->active = false;
  if (tt__timer_del(&t->node))
    atomic_fetch_sub(&t->pending, 1);
  return was_active;
}

/* Under t->lock, after disarm_locked: throws away a value the timer sent
 * that nobody has received yet, so that no receive after a stop or reset
 * sees a stale time. Returns whether there was one. A receive that took the
 * value first holds the channel's lock while it does, so the value is
 * either received or thrown away, never both. */
static bool drain_unread(chan_timer *t) {
  tt_chan *c = t->c;
  tt_spin_lock(&c->lock);
  tt__chan_forget_stale(c);
  bool had = c->count > 0;
  while (c->count > 0)
    tt__chan_buf_take(c, NULL);
  tt_spin_unlock(&c->lock);
  return had;
}

/* Under t->lock: stop and reset's common half. Returns 1 when the timer's
 * value had not been received (it was pending, in flight or unread), 0 when
 * it had been, or the timer was stopped already. */
static int stop_locked(chan_timer *t) {
  bool was_active = disarm_locked(t);
  bool had_unread = drain_unread(t);
  return was_active || had_unread;
}

/* Under t->lock. */
static int arm_locked(chan_timer *t, int64_t ns) {
  t->node.when = tt__after(ns > 0 ? ns : 0); /* never wraps into the past */
  t->active = true;
  atomic_fetch_add(&t->pending, 1);
  int rc = tt__timer_start(&t->node);
  if (rc < 0) {
    atomic_fetch_sub(&t->pending, 1);
    t->active = false;
  }
  return rc;
}

/* A timer that was never armed or is disarmed with nothing in flight. */
static void discard(timer_cache *k, chan_timer *t) {
  if (k && chan_reusable(t->c) && cache_put(k, t))
    return;
  registry_remove(t);
  tt__chan_unref_raw(t->c);
  free(t);
}

static chan_timer *make(int64_t ns, int64_t period, const char *file, int line) {
  tt_worker *w = tt__worker_at_entry();
  timer_cache *k = w ? &caches[w->id % CACHE_SLOTS] : NULL;
  chan_timer *t = k ? cache_get(k) : NULL;
  if (t) {
    t->c->file = file; /* the channel is reported as made where the timer was */
    t->c->line = line;
  } else {
    t = malloc(sizeof *t);
    if (!t)
      return NULL;
    *t = (chan_timer){.node = {.fire = fire, .arg = t, .index = -1}};
    t->c = tt__chan_new(sizeof(int64_t), 1, file, line);
    if (!t->c) {
      free(t);
      return NULL;
    }
    t->c->rooted = true; /* the timer sends on it */
    registry_add(t);
  }
  /* Under the lock: a registry walk may be looking at a cached timer. */
  tt_spin_lock(&t->lock);
  t->freed = false;
  t->period = period;
  t->file = file;
  t->line = line;
  t->owner = w && w->current ? w->current->id : 0;
  int rc = arm_locked(t, ns);
  tt_spin_unlock(&t->lock);
  if (rc < 0) {
    discard(k, t);
    return NULL;
  }
  return t;
}

static int release(chan_timer *t) {
  if (!t)
    return TT_EINVAL;
  tt_worker *w = tt__worker_at_entry();
  tt_spin_lock(&t->lock);
  if (t->freed) {
    /* Freed before and still cached (the usual fate of a timer freed by a
     * task): caching it twice would hand it to two makers. */
    tt_spin_unlock(&t->lock);
    return TT_EINVAL;
  }
  t->freed = true;
  disarm_locked(t);
  tt_spin_unlock(&t->lock);
  while (atomic_load(&t->pending) > 0)
    tt__cpu_relax(); /* a callback is running: it is a few instructions */
  discard(w ? &caches[w->id % CACHE_SLOTS] : NULL, t);
  return 0;
}

static int stop(chan_timer *t) {
  if (!t)
    return TT_EINVAL;
  tt_spin_lock(&t->lock);
  int was = stop_locked(t);
  tt_spin_unlock(&t->lock);
  return was;
}

static int reset(chan_timer *t, int64_t ns, int64_t period) {
  if (!t)
    return TT_EINVAL;
  tt_spin_lock(&t->lock);
  int was = stop_locked(t);
  if (period)
    t->period = period;
  int rc = arm_locked(t, ns);
  tt_spin_unlock(&t->lock);
  return rc < 0 ? rc : was;
}

/* ---- Public: timers ---------------------------------------------------------- */

tt_timer *tt__timer_make(int64_t ns, const char *file, int line) {
  return (tt_timer *)make(ns, 0, file, line);
}
tt_chan *tt_timer_chan(tt_timer *t) { return t ? t->t.c : NULL; }
int tt_timer_stop(tt_timer *t) { return t ? stop(&t->t) : TT_EINVAL; }
int tt_timer_reset(tt_timer *t, int64_t ns) { return t ? reset(&t->t, ns, 0) : TT_EINVAL; }
int tt_timer_free(tt_timer *t) { return t ? release(&t->t) : TT_EINVAL; }

/* ---- Public: tickers ----------------------------------------------------------- */

tt_ticker *tt__ticker_make(int64_t period, const char *file, int line) {
  if (period <= 0)
    return NULL;
  return (tt_ticker *)make(period, period, file, line);
}
tt_chan *tt_ticker_chan(tt_ticker *t) { return t ? t->t.c : NULL; }
int tt_ticker_stop(tt_ticker *t) { return t ? (stop(&t->t), 0) : TT_EINVAL; }
int tt_ticker_reset(tt_ticker *t, int64_t period) {
  if (!t || period <= 0)
    return TT_EINVAL;
  int rc = reset(&t->t, period, period);
  return rc < 0 ? rc : 0;
}
int tt_ticker_free(tt_ticker *t) { return t ? release(&t->t) : TT_EINVAL; }

/* ---- Orphans -------------------------------------------------------------------- */

typedef struct id_set {
  int64_t *ids;
  int64_t n, cap;
} id_set;

static int collect_id(const tt_task_info *i, void *arg) {
  id_set *s = arg;
  if (s->n == s->cap) {
    int64_t cap = s->cap ? s->cap * 2 : 1024;
    int64_t *ids = realloc(s->ids, (size_t)cap * sizeof(int64_t));
    if (!ids)
      return 1;
    s->ids = ids;
    s->cap = cap;
  }
  s->ids[s->n++] = i->id; /* the walk visits ids in increasing order per list */
  return 0;
}

static int cmp_id(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

int64_t tt_timers_orphaned(FILE *out) {
  id_set live = {NULL, 0, 0};
  if (tt_tasks_foreach(collect_id, &live) < 0)
    live.n = 0;
  qsort(live.ids, (size_t)live.n, sizeof(int64_t), cmp_id);
  int64_t found = 0;
  tt_spin_lock(&registry_lock);
  for (chan_timer *t = registry; t; t = t->reg_next) {
    /* The rest of an inactive timer may be changing (a make taking it from
     * a cache) or poisoned (in a cache): read it only while active. */
    tt_spin_lock(&t->lock);
    bool running = t->active;
    int64_t owner = 0, period = 0;
    const char *file = NULL;
    int line = 0;
    if (running) {
      owner = t->owner;
      period = t->period;
      file = t->file;
      line = t->line;
    }
    tt_spin_unlock(&t->lock);
    if (!running || owner == 0 ||
        bsearch(&owner, live.ids, (size_t)live.n, sizeof(int64_t), cmp_id))
      continue;
    found++;
    if (out)
      fprintf(out,
              "tether: %s made at %s:%d by task %lld is still running after that task exited "
              "(never stopped)%s\n",
              period ? "ticker" : "timer", file, line, (long long)owner,
              period ? "" : "; it will fire into a channel nobody may read");
  }
  tt_spin_unlock(&registry_lock);
  free(live.ids);
  return found;
}
