/*
 * The runtime's timers (timer.c): a binary min-heap per worker, each with
 * its own lock and an atomic copy of its earliest deadline, so an idle
 * worker can find the next deadline over all heaps without locking any.
 * Everything that waits for a time (sleep, deadlines, channel timers,
 * context deadlines) arms a tt_tnode here.
 */
#ifndef TT_CORE_TIMER_H
#define TT_CORE_TIMER_H

#include "core/base.h"

struct tt_timer_heap;
typedef struct tt_tnode tt_tnode;
struct tt_tnode {
  int64_t when;              /* tt_now() deadline */
  void (*fire)(tt_tnode *t); /* runs on a worker's scheduler stack */
  void *arg;
  struct tt_timer_heap *heap; /* heap holding it, NULL when not armed */
  int32_t index;              /* position in heap->items */
  uint64_t gen;               /* runtime generation it was armed in */
};

typedef struct tt_timer_heap {
  tt_spinlock lock;
  int32_t n, cap;
  tt_tnode **items;
  _Atomic int64_t earliest; /* items[0]->when, INT64_MAX when empty */
} tt_timer_heap;

void tt__timer_heap_init(tt_timer_heap *h);
void tt__timer_heap_destroy(tt_timer_heap *h);
/* Arm t on heap h; the caller holds h->lock. Returns TT_ENOMEM on failure. */
int tt__timer_add_locked(tt_timer_heap *h, tt_tnode *t);
/* Arm t (t->when, fire, arg set) on the caller's worker's heap, or on
 * worker 0's from a plain thread. TT_ENOTINIT when the runtime is off. */
int tt__timer_start(tt_tnode *t);
/* Disarm t if armed. True when it was still pending (or was armed in a
 * runtime that has shut down since: it can never fire); false when it has
 * fired or is firing right now. */
bool tt__timer_del(tt_tnode *t);
/* Fire every expired timer of every worker; returns how many fired. */
int tt__timers_run(int64_t now);
/* Earliest deadline over all heaps (INT64_MAX when none). */
int64_t tt__timers_earliest(void);

#endif
