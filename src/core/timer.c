/*
 * Timers: one binary min-heap per worker, each with its own lock, so arming
 * a timer touches only the arming worker's cache lines. Any worker may run
 * any heap's expired timers: running workers look every 8 scheduling rounds
 * and before they go idle, and the idle poller sleeps exactly until the
 * earliest deadline over all heaps (idle.c). Timer callbacks run on a
 * worker's scheduler stack, never on a task's.
 */
#include <limits.h>
#include <stdlib.h>

#include "core/sched.h"

void tt__timer_heap_init(tt_timer_heap *h) {
  h->n = 0;
  h->cap = 0;
  h->items = NULL;
  atomic_store(&h->earliest, INT64_MAX);
  atomic_store(&h->lock.locked, 0);
}

void tt__timer_heap_destroy(tt_timer_heap *h) {
  free(h->items);
  h->items = NULL;
  h->n = h->cap = 0;
}

static void heap_set(tt_timer_heap *h, int32_t i, tt_tnode *t) {
  h->items[i] = t;
  t->index = i;
}

static void sift_up(tt_timer_heap *h, int32_t i) {
  tt_tnode *t = h->items[i];
  while (i > 0) {
    int32_t p = (i - 1) / 2;
    if (h->items[p]->when <= t->when)
      break;
    heap_set(h, i, h->items[p]);
    i = p;
  }
  heap_set(h, i, t);
}

static void sift_down(tt_timer_heap *h, int32_t i) {
  tt_tnode *t = h->items[i];
  for (;;) {
    int32_t c = 2 * i + 1;
    if (c >= h->n)
      break;
    if (c + 1 < h->n && h->items[c + 1]->when < h->items[c]->when)
      c++;
    if (t->when <= h->items[c]->when)
      break;
    heap_set(h, i, h->items[c]);
    i = c;
  }
  heap_set(h, i, t);
}

static void update_earliest(tt_timer_heap *h) {
  atomic_store(&h->earliest, h->n ? h->items[0]->when : INT64_MAX);
}

int tt__timer_add_locked(tt_timer_heap *h, tt_tnode *t) {
  if (h->n == h->cap) {
    int32_t cap = h->cap ? h->cap * 2 : 64;
    tt_tnode **items = realloc(h->items, (size_t)cap * sizeof(tt_tnode *));
    if (!items)
      return TT_ENOMEM;
    h->items = items;
    h->cap = cap;
  }
  t->gen = atomic_load_explicit(&tt__rt.generation, memory_order_relaxed);
  __atomic_store_n(&t->heap, h, __ATOMIC_RELEASE);
  heap_set(h, h->n++, t);
  sift_up(h, t->index);
  update_earliest(h);
  return 0;
}

static void remove_at(tt_timer_heap *h, int32_t i) {
  tt_tnode *t = h->items[i];
  h->n--;
  if (i != h->n) {
    heap_set(h, i, h->items[h->n]);
    sift_down(h, i);
    sift_up(h, h->items[i]->index);
  }
  /* index first: once heap reads NULL the node may be armed again, on
   * another worker's heap, which writes index under that heap's lock. */
  t->index = -1;
  __atomic_store_n(&t->heap, NULL, __ATOMIC_RELEASE);
}

bool tt__timer_del(tt_tnode *t) {
  tt_timer_heap *h = __atomic_load_n(&t->heap, __ATOMIC_ACQUIRE);
  if (!h)
    return false;
  if (t->gen != atomic_load_explicit(&tt__rt.generation, memory_order_relaxed)) {
    /* Its heap went with the runtime that armed it. */
    __atomic_store_n(&t->heap, NULL, __ATOMIC_RELEASE);
    return true;
  }
  tt_spin_lock(&h->lock);
  bool armed = __atomic_load_n(&t->heap, __ATOMIC_RELAXED) == h;
  if (armed) {
    remove_at(h, t->index);
    update_earliest(h);
  }
  tt_spin_unlock(&h->lock);
  return armed;
}

int64_t tt__timers_earliest(void) {
  int64_t e = INT64_MAX;
  for (int i = 0; i < tt__rt.nworkers; i++) {
    int64_t w = atomic_load_explicit(&tt__rt.workers[i]->timers.earliest, memory_order_relaxed);
    if (w < e)
      e = w;
  }
  return e;
}

int tt__timers_run(int64_t now) {
  int fired = 0;
  for (int i = 0; i < tt__rt.nworkers; i++) {
    tt_timer_heap *h = &tt__rt.workers[i]->timers;
    while (atomic_load_explicit(&h->earliest, memory_order_relaxed) <= now) {
      tt_tnode *due[64];
      int n = 0;
      tt_spin_lock(&h->lock);
      while (n < 64 && h->n > 0 && h->items[0]->when <= now) {
        due[n++] = h->items[0];
        remove_at(h, 0);
      }
      update_earliest(h);
      tt_spin_unlock(&h->lock);
      /* Fire outside the lock: a callback may arm another timer. */
      for (int k = 0; k < n; k++)
        due[k]->fire(due[k]);
      fired += n;
      if (n == 0)
        break;
    }
  }
  return fired;
}

int tt__timer_start(tt_tnode *t) {
  if (atomic_load(&tt__rt.state) != TT_RT_RUNNING)
    return TT_ENOTINIT;
  tt_worker *w = tt__worker();
  tt_timer_heap *h = &(w ? w : tt__rt.workers[0])->timers;
  tt_spin_lock(&h->lock);
  int rc = tt__timer_add_locked(h, t);
  tt_spin_unlock(&h->lock);
  if (rc == 0)
    tt__kick_poller(t->when);
  return rc;
}

/* ---- Sleep -------------------------------------------------------------- */

static void sleep_fire(tt_tnode *t) { tt__ready((tt_task *)t->arg); }

int tt_sleep(int64_t ns) {
  tt_worker *w = tt__worker();
  if (!w || !w->current)
    return TT_ENOTASK;
  if (ns <= 0)
    return tt_yield();
  tt_task *t = w->current;
  t->timer.when = tt__after(ns); /* INT64_MAX: a timer that never fires */
  t->timer.fire = sleep_fire;
  t->timer.arg = t;
  tt_spin_lock(&w->timers.lock);
  int rc = tt__timer_add_locked(&w->timers, &t->timer);
  if (rc < 0) {
    tt_spin_unlock(&w->timers.lock);
    return rc;
  }
  tt__kick_poller(t->timer.when);
  /* The heap lock is released by the scheduler once we are off our stack,
   * so the timer cannot fire while this task is still running. */
  tt__park(TT_WAIT_SLEEP, NULL, tt__spin_unlock_cb, &w->timers.lock);
  return 0;
}
