/*
 * The core layer (src/core/): tasks and the machinery that runs them, with
 * no knowledge of what they wait for. The context switch, stacks, the task
 * record and its lists, worker threads and their scheduler, idle workers
 * and the poller seat, per-worker timer heaps, wait queues with deadline
 * timers (the claim every primitive wakes through), the blocking-call pool
 * and the thread census. It includes nothing above it but leak/hooks.h and
 * observe/hooks.h (docs/ARCHITECTURE.md, "The layers").
 *
 * This header: the runtime and its workers, the data every scheduler path
 * reads.
 *
 *   tt__rt            the one runtime: workers, global run queue, idle list
 *   struct tt_worker  one OS thread: local run queue, run-next slot, timer
 *                     heap, stack cache, task list shard, its g0 context
 *
 * docs/ARCHITECTURE.md is the commentary on these structures.
 */
#ifndef TT_CORE_RUNTIME_H
#define TT_CORE_RUNTIME_H

#include <pthread.h>

#include "core/runq.h"
#include "core/task.h"

/* ---- Workers ---------------------------------------------------------- */

/* What a task asks its worker's scheduler to do once it is off its stack. */
enum { TT_AFTER_NONE, TT_AFTER_YIELD, TT_AFTER_PARK, TT_AFTER_EXIT, TT_AFTER_SPAWN };

#define TT_STACK_CACHE 64

typedef struct tt_worker {
  int id;
  pthread_t thread;
  tt_ctx g0;        /* the scheduler's own context on the thread stack */
  tt_task *current; /* task running now, NULL in the scheduler */
  uint32_t tick;    /* scheduling rounds, for periodic global-queue checks */
  uint32_t runnext_streak;
  uint64_t rng;

  int after;                /* TT_AFTER_*: what the last switch left to do */
  tt_task *prev;            /* ...and for which task */
  void (*after_fn)(void *); /* for TT_AFTER_PARK: release the wait lock */
  void *after_arg;

  _Alignas(TT_CACHELINE) tt_runq runq;
  _Alignas(TT_CACHELINE) _Atomic(tt_task *) runnext;
  tt_timer_heap timers;
  tt_tasklist tasks;

  /* Pooled stacks ready for reuse by this worker's spawns. */
  char *stack_cache[TT_STACK_CACHE];
  int nstack_cache;

  /* Idle state, guarded by tt__rt.idle_lock except the futex word. */
  _Alignas(TT_CACHELINE) _Atomic uint32_t wakeup;
  struct tt_worker *idle_next;
  _Atomic int in_poll; /* blocked in epoll_wait: wake it through the eventfd */
  bool idle;
  bool spinning;

  /* Task switches into this worker's tasks; the monitor reads it to spot a
   * task that runs without ever reaching a scheduling point. */
  _Atomic uint64_t switches;
  /* A coarse clock for bookkeeping stamps (wait_since, created): reading
   * the kernel's clock at every park is most of what the bookkeeping would
   * cost, so the scheduler refreshes this at each of its passes (at least
   * every 8th switch) and tt__stamp every 16th use. A stamp can therefore
   * lag by the CPU time tasks used since the last refresh; a task that
   * computes for a long time without a scheduling point is what the
   * monitor's stall check is for. */
  int64_t clock;
  uint32_t clock_uses;

  void *g0_stack_lo;
  size_t g0_stack_size;
  void *g0_asan_fake_stack;
  void *tsan_g0;
  void *altstack;
} tt_worker;

/* ---- The runtime ------------------------------------------------------ */

enum { TT_RT_OFF = 0, TT_RT_RUNNING = 1, TT_RT_STOPPING = 2 };

typedef struct tt_runtime {
  _Atomic int state;
  int nworkers;
  tt_worker **workers;
  size_t stack_size;
  int blocking_max;      /* helper threads of tt_blocking at most (TT_BLOCKING_MAX) */
  int64_t shutdown_wait; /* ns tt_shutdown waits for blocking calls (TT_SHUTDOWN_WAIT) */

  /* Global run queue: tasks readied by plain threads and overflow of local
   * queues. Checked by every worker every 61 rounds for fairness. */
  _Alignas(TT_CACHELINE) tt_spinlock gq_lock;
  tt_task *gq_head, *gq_tail;
  _Atomic int64_t gq_size;

  /* Idle workers. One of them, the poller, waits in epoll_wait with a
   * timeout set to the earliest timer (core/netpoll.c); the others sleep
   * until woken. */
  _Alignas(TT_CACHELINE) tt_spinlock idle_lock;
  tt_worker *idle_list;
  tt_worker *poller;
  _Atomic int nidle;
  _Atomic int nspinning;
  _Atomic int64_t poll_until;

  _Alignas(TT_CACHELINE) _Atomic int64_t next_id;
  _Atomic uint64_t generation;  /* bumped by every tt_init and tt_shutdown */
  _Atomic int foreign_spawners; /* plain threads inside tt_go right now */
  _Atomic int walkers;          /* task-list walks in progress (observe/introspect.c) */
  tt_tasklist foreign_tasks;    /* spawned from plain threads */
} tt_runtime;

extern tt_runtime tt__rt;

/* The worker running on this thread, NULL on plain threads. A task can move
 * to another thread at any switch, so this is never cached across one: the
 * function is out of line and opaque to the optimiser. */
tt_worker *tt__worker(void);
void tt__set_worker(tt_worker *w);
/* The same, inline, for the first statement of an operation that has not
 * switched yet (nothing before it can have moved the task). Never use it
 * after anything that may park, yield or spawn. */
extern __thread tt_worker *tt__tls_worker __attribute__((tls_model("initial-exec")));
static inline tt_worker *tt__worker_at_entry(void) { return tt__tls_worker; }
/* The calling task under the same rule (NULL on a plain thread). */
static inline tt_task *tt__self_at_entry(void) {
  tt_worker *w = tt__tls_worker;
  return w ? w->current : NULL;
}
tt_task *tt__current(void);

/* The worker's coarse clock for bookkeeping stamps (see tt_worker.clock). */
static inline int64_t tt__stamp(tt_worker *w) {
  if (++w->clock_uses >= 16) {
    w->clock_uses = 0;
    w->clock = tt__coarse_now();
  }
  return w->clock;
}

/* Wait for the blocking-call helpers still running (blocking.c). */
void tt__blocking_shutdown(void);
/* Queue fn(arg) on the blocking pool without waiting for it: a helper runs
 * it, then done(done_arg), and frees its record; a shutdown that drops it
 * unrun calls drop(done_arg) instead. 0, or TT_ENOMEM when no helper can
 * be started (nothing was queued). */
int tt__blocking_detach(tt_fn fn, void *arg, void (*done)(void *), void (*drop)(void *),
                        void *done_arg);

#endif
