/*
 * Definite leaks found at the moment they become certain (leak.c).
 *
 * The events that can make a wait endless are reported here by the
 * primitives: the last reference to a channel dropped while tasks still
 * wait on it without a deadline, and a wait on a nil channel or on a
 * select with no case that has no deadline. Nothing else can ever wake
 * such a task (using a channel after its last reference is gone is a
 * use-after-free by the API's contract), so there are no false positives.
 */
#ifndef TT_LEAK_H
#define TT_LEAK_H

#include "wait.h"

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

/* Is TT_LEAKCHECK (or tt_leak_set_mode) asking for recovery? */
bool tt__leak_recovering(void);

/* tt_chan_unref dropped the last reference: c is locked and orphaned. Each
 * task waiting on c alone with no deadline is leaked; they are recorded
 * (with both stacks), and in recover mode claimed and returned in *wake
 * (linked through ->next) for the caller to ready after unlocking, their
 * call failing with TT_ELEAKED. Returns whether any leak was recorded, so
 * the caller reports after unlocking (tt__leak_flush). */
bool tt__leak_chan_orphaned(tt_chan *c, tt_task **wake);

/* The calling task is about to wait forever (nil channel, empty select).
 * Records the leak; returns TT_ELEAKED in recover mode (the caller returns
 * it instead of parking), else 0 (the caller parks). */
int tt__leak_self(int cls, tt_wait_reason why);

/* Under c's lock: is wait_obj a select with no deadline whose every
 * channel (c among them) has lost its last reference? (select.c) */
bool tt__select_abandoned(const void *wait_obj, const tt_chan *c);

/* Record a leak found by the wait-for graph, under t's task-list lock (t
 * is parked and stays so: nothing can wake it). detail explains the proof
 * (the holders, the chain or cycle); by_task/by_pcs is the event that made
 * it certain, if one is known (nby 0: found on demand). */
void tt__leak_record_graph(int cls, const tt_task *t, tt_wait_reason why, const void *obj,
                           const char *detail, int64_t by_task, const uintptr_t *by_pcs, int nby);
int tt__leak_mode_now(void);
/* Instant modes: an event that may have made a leak certain happened (a
 * task exited holding handles, a task dropped its last reference to one).
 * Runs the wait-for graph soon, on a background thread (leakgraph.c). */
void tt__leakgraph_event(void);
extern _Atomic bool tt__leak_instant; /* TT_LEAKCHECK is report, abort or recover */
static inline void tt__leak_event(void) {
  if (atomic_load_explicit(&tt__leak_instant, memory_order_relaxed))
    tt__leakgraph_event();
}
void tt__leakgraph_shutdown(void);

/* The channels of a parked select (wait_obj), read from its stack without
 * synchronisation: the caller checks that the task did not run meanwhile.
 * Returns how many (at most max), or -1 when wait_obj is not a select. */
int tt__select_wait_chans(const void *wait_obj, const tt_chan **out, int max, bool *bounded);

/* Print (and in abort mode abort on) what was recorded since the last
 * flush. Call with no lock held: symbolizing may block. */
void tt__leak_flush(void);

/* The class of a task for dumps (0 when not leaked), and class names. */
const char *tt__leak_class_name(int cls);

#endif
