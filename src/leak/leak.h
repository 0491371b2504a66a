/*
 * The leak layer (src/leak/): who can still wake a blocked task. Each task
 * keeps a table of the handles it holds (holds.c), owners extend that to
 * structs (owner.c); a leak is proved the moment it becomes certain
 * (leak.c) or by the wait-for graph (leakgraph.c); waits it cannot prove
 * are suspects (suspects.c); a standstill of everything is a global
 * deadlock (deadlock.c). The lower layers reach it only through hooks.h.
 *
 * This header: definite leaks found at the moment they become certain (leak.c).
 *
 * The events that can make a wait endless are reported here by the
 * primitives: the last reference to a channel dropped while tasks still
 * wait on it without a deadline, and a wait on a nil channel or on a
 * select with no case that has no deadline. Nothing else can ever wake
 * such a task (using a channel after its last reference is gone is a
 * use-after-free by the API's contract), so there are no false positives.
 */
#ifndef TT_LEAK_LEAK_H
#define TT_LEAK_LEAK_H

#include "leak/hooks.h"

/* Is TT_LEAKCHECK (or tt_leak_set_mode) asking for recovery? */
bool tt__leak_recovering(void);

/* Record a leak found by the wait-for graph, under t's task-list lock (t
 * is parked and stays so: nothing can wake it). detail explains the proof
 * (the holders, the chain or cycle); by_task/by_pcs is the event that made
 * it certain, if one is known (nby 0: found on demand). */
void tt__leak_record_graph(int cls, const tt_task *t, tt_wait_reason why, const void *obj,
                           const char *detail, int64_t by_task, const uintptr_t *by_pcs, int nby);
/* Instant modes: an event that may have made a leak certain happened (a
 * task exited holding handles, a task dropped its last reference to one).
 * Runs the wait-for graph soon, on a background thread (leakgraph.c). */
void tt__leakgraph_event(void);
/* A wait-for-graph run is due or under way (deadlock.c waits for it). */
bool tt__leakgraph_busy(void);
extern _Atomic bool tt__leak_instant; /* TT_LEAKCHECK is report, abort or recover */
static inline void tt__leak_event(void) {
  if (atomic_load_explicit(&tt__leak_instant, memory_order_relaxed))
    tt__leakgraph_event();
}

#endif
