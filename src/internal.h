/*
 * The runtime's shared data structures. Read docs/ARCHITECTURE.md first; this
 * header is the map it refers to.
 *
 *   tt__rt            the one runtime: workers, global run queue, idle list
 *   struct tt_worker  one OS thread: local run queue, run-next slot, timer
 *                     heap, stack cache, task list shard, its g0 context
 *   struct tt_task    one task: saved context, bookkeeping, wait record; it
 *                     lives at the top of the task's own stack slot
 */
#ifndef TT_INTERNAL_H
#define TT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tether.h"
#include "spinlock.h"
#include "switch.h"

#define TT_LIKELY(x) __builtin_expect(!!(x), 1)
#define TT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TT_CACHELINE 64

/* ---- Wait reasons (Go's strings where the meaning is the same) -------- */

typedef enum tt_wait_reason {
  TT_WAIT_NONE = 0,
  TT_WAIT_SLEEP,
  TT_WAIT_CHAN_SEND,
  TT_WAIT_CHAN_RECV,
  TT_WAIT_CHAN_SEND_NIL,
  TT_WAIT_CHAN_RECV_NIL,
  TT_WAIT_SELECT,
  TT_WAIT_SELECT_NO_CASES,
  TT_WAIT_IO,
  TT_WAIT_SYSCALL,
  TT_WAIT_WAITGROUP,
  TT_WAIT_MUTEX,
  TT_WAIT_RWMUTEX_R,
  TT_WAIT_RWMUTEX_W,
  TT_WAIT_COND,
  TT_WAIT_SEMACQUIRE,
  TT_WAIT__COUNT
} tt_wait_reason;

const char *tt__wait_reason_string(tt_wait_reason r);

/* ---- Clock ----------------------------------------------------------- */

/* CLOCK_MONOTONIC_COARSE in ns: cheap stamps for bookkeeping (clock.c). */
int64_t tt__coarse_now(void);

/* ---- Timers ----------------------------------------------------------- */

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

/* ---- Tasks ----------------------------------------------------------- */

typedef enum tt_state {
  TT_ST_RUNNABLE = TT_TASK_RUNNABLE,
  TT_ST_RUNNING = TT_TASK_RUNNING,
  TT_ST_WAITING = TT_TASK_WAITING,
} tt_state;

/* Doubly linked list node; cursors of a concurrent walk are bare nodes. */
typedef struct tt_listnode {
  struct tt_listnode *prev, *next;
  bool is_cursor;
} tt_listnode;

/* The live tasks spawned by one worker (or by plain threads). Spawns insert
 * at the tail; exits unlink from whichever worker they run on. */
typedef struct tt_tasklist {
  tt_spinlock lock;
  tt_listnode head; /* sentinel */
  _Atomic int64_t count;
} tt_tasklist;

enum { TT_STACK_POOLED = 0, TT_STACK_DEDICATED = 1 };

/* One handle a task holds or can reach, for the leak detector (holds.c).
 * count: references the task owns (made or taken in it, or handed to it at
 * spawn); 0 for a handle it only borrows (it used the handle, or inherited
 * it from its spawner). seq: the task's publish count when it got the
 * handle or last published on it; an entry older than the task's latest
 * publish may have been passed on to another task. */
typedef struct tt_hold {
  const void *obj;
  uint32_t serial; /* obj's serial (holds.h): tells a reused address from obj */
  uint32_t count;
  uint32_t seq;
  uint8_t kind;   /* TT_OBJ_* (holds.h) */
  uint8_t handed; /* references handed at spawn: released when the task exits */
} tt_hold;

typedef struct tt_holds {
  tt_spinlock lock;      /* the owner takes it to grow or free items; the detector to read */
  _Atomic uint32_t wseq; /* odd while the owner adds or removes an entry */
  uint32_t n, cap;
  uint32_t pubseq; /* publishes (send, close, unlock, signal) so far */
  /* Which entries are as new as pubseq (not passed on): when only the
   * handle last published on (last_pub) can be, a publish on it again
   * changes nothing, so a task that keeps sending on one channel writes
   * nothing. fresh: some other entry may be. */
  bool fresh;
  const void *last_pub;
  uint32_t icap;   /* size of index (a power of two), 0 while linear */
  uint32_t *index; /* open addressing: item position + 1, 0 empty */
  tt_hold *items;  /* local, or the heap once it outgrows it */
  tt_hold local[3];
} tt_holds;

typedef struct tt_task tt_task;
struct tt_task {
  tt_ctx ctx;       /* saved registers; first for the assembly's sake */
  tt_task *next;    /* run queue or wait list link */
  tt_listnode node; /* membership in a tasklist */
  tt_tasklist *list;

  int64_t id, parent_id;
  tt_fn fn;
  void *arg;
  const char *entry, *file, *func;
  int32_t line;

  _Atomic uint8_t state;       /* tt_state */
  _Atomic uint8_t wait_reason; /* tt_wait_reason */
  _Atomic uint8_t leaked;      /* TT_LEAK_* (leak.h): why it can never run again; 0 */
  uint8_t stack_kind;          /* TT_STACK_POOLED or TT_STACK_DEDICATED */
  _Atomic int32_t worker;      /* last worker it ran on, -1 before */
  _Atomic int64_t wait_since;  /* tt__stamp() at park */
  int64_t created;             /* tt__stamp() at spawn */

  char *stack_lo;    /* lowest address of the slot; its first page is the guard zone */
  size_t stack_size; /* whole slot */
  uint64_t *canary;  /* lowest usable words of the stack, must stay zero */

  /* Bumped (by the one worker that resumes it) each time the task starts
   * running: a stack walker that sees the same count before and after its
   * walk knows the stack did not change under it. */
  _Atomic uint32_t resumes;
  void *base_fp;         /* task_entry's frame: where stack walks stop */
  void *park_fp;         /* tt__park_on's frame at the last park: where walks start */
  uintptr_t spawn_pc;    /* return address of the spawn call, for "created by" */
  int64_t scope;         /* verify-none scope, inherited from the spawner */
  const char *wait_file; /* creation site of the primitive waited on, if known */
  int32_t wait_line;

  tt_wg *exit_wg;              /* Done at exit (tt_wg_go) */
  void (*drop_arg)(void *arg); /* frees arg when shutdown drops the task unfinished */
  tt_tnode timer;              /* used by sleep */
  void *wait_obj;              /* primitive waited on, for dumps and leak detection */
  /* The wait has a deadline or a context: it ends by itself (leak detector). */
  _Atomic uint8_t wait_bounded;
  /* A task that held a counted reference to the channel this task waits on
   * exited while it waited (pattern 6's "the sender returned"). */
  _Atomic uint8_t holder_gone;
  tt_holds holds; /* handles it holds or can reach (holds.c) */

  void *asan_fake_stack;
  void *tsan_fiber;
  char name[32];
};

/* Leak bookkeeping (spawn sites, wait records, task lists, the counters
 * stack walks rely on) is always on. A bench-only build configured with
 * -DTT_NO_BOOKKEEPING=ON compiles it out, so scripts/bench.sh can show what
 * it costs; nothing else may turn it off. */
#ifdef TT_NO_BOOKKEEPING
#define TT_BOOKKEEPING 0
#else
#define TT_BOOKKEEPING 1
#endif

/* ---- Run queue -------------------------------------------------------- */

#define TT_RUNQ_SIZE 256
typedef struct tt_runq {
  _Atomic uint32_t head; /* consumers (owner and thieves) CAS this */
  _Atomic uint32_t tail; /* only the owner writes this */
  _Atomic(tt_task *) slots[TT_RUNQ_SIZE];
} tt_runq;

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

  /* Global run queue: tasks readied by plain threads and overflow of local
   * queues. Checked by every worker every 61 rounds for fairness. */
  _Alignas(TT_CACHELINE) tt_spinlock gq_lock;
  tt_task *gq_head, *gq_tail;
  _Atomic int64_t gq_size;

  /* Idle workers. One of them, the poller, sleeps with a timeout set to the
   * earliest timer (and will wait in epoll once the netpoller exists); the
   * others sleep until woken. */
  _Alignas(TT_CACHELINE) tt_spinlock idle_lock;
  tt_worker *idle_list;
  tt_worker *poller;
  _Atomic int nidle;
  _Atomic int nspinning;
  _Atomic int64_t poll_until;

  _Alignas(TT_CACHELINE) _Atomic int64_t next_id;
  _Atomic uint64_t generation;  /* bumped by every tt_init and tt_shutdown */
  _Atomic int foreign_spawners; /* plain threads inside tt_go right now */
  _Atomic int walkers;          /* task-list walks in progress (introspect.c) */
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

/* ---- Walking the live tasks (introspect.c) ---------------------------- */

/* A walk visits every task list in turn without stopping the world. take()
 * runs under one list's lock for each task (at most a small batch per lock
 * hold) and must copy what it needs: the task may exit once the lock is let
 * go. It returns false when it has no room, and that task is offered again
 * after flush(), which runs with no lock held; flush() returns false to end
 * the walk. */
typedef struct tt__walker tt__walker;
struct tt__walker {
  bool (*take)(tt__walker *wk, const tt_task *t);
  bool (*flush)(tt__walker *wk);
};
bool tt__tasks_walk(tt__walker *wk); /* false when flush ended it early */
void tt__task_info_fill(const tt_task *t, tt_task_info *info);
/* Stop and join the growth monitor, if one runs (monitor.c). */
void tt__monitor_shutdown(void);
/* Threads that cannot wake a task by themselves register while they run,
 * for the deadlock census (deadlock.c). */
void tt__thread_known(bool add);
/* The calling thread waits in tt_main for task main_id: it counts as known
 * only while that task lives, since it runs the user's code again as soon
 * as the task is gone. */
void tt__main_waiting(int64_t main_id, bool waiting);
/* Called by the poller when every worker is idle and no timer is pending:
 * reports a global deadlock if one is certain (deadlock.c). */
void tt__checkdead(void);
/* Arm the dump signal from TT_DUMP_SIGNAL etc. (dump_signal.c). */
void tt__dump_signal_from_env(void);

/* ---- Scheduler entry points used by every primitive ------------------- */

/* Park the calling task. Once it is off its stack, its worker calls
 * unlock(arg) (if non-NULL) — the lock guarding the wait list the task put
 * itself on — so a waker can never resume a task that is still running. */
void tt__park(tt_wait_reason why, void *wait_obj, void (*unlock)(void *), void *arg);
/* Make a parked or new task runnable. From a task it goes to the run-next
 * slot; from a scheduler or a plain thread, to a run queue. */
void tt__ready(tt_task *t);
void tt__spin_unlock_cb(void *lock); /* unlock callback for tt__park */
/* The same with the caller's worker already at hand (w == tt__worker()). */
void tt__park_on(tt_worker *w, tt_wait_reason why, void *wait_obj, void (*unlock)(void *),
                 void *arg);
void tt__ready_on(tt_worker *w, tt_task *t);
/* Start a new task from a running one, child first (see sched.c). */
void tt__run_child_first(tt_task *child);
/* First call of every new task: completes the switch that started it. */
void tt__task_landed(void);

void tt__worker_loop(tt_worker *w);
void tt__wakep(void);
void tt__wake_all_idle(void);
void tt__kick_poller(int64_t when);
void tt__idle_park(tt_worker *w);
bool tt__work_visible(void); /* any runnable task or due timer anywhere */
void tt__gq_put(tt_task *t);
void tt__gq_put_batch(tt_task *first, tt_task *last, int64_t n);

/* ---- Tasks, stacks ------------------------------------------------------ */

void tt__tasklist_init(tt_tasklist *l);
/* Spawn; exit_wg (may be NULL) gets a Done when the task returns. */
/* The verify-none scope of tasks spawned from this plain thread. */
extern __thread int64_t tt__thread_scope;
/* pc: the return address of the public spawn call, for "created by".
 * drop_arg: frees arg if the runtime shuts down before the task is done
 * (the task clears t->drop_arg once it has freed arg itself). */
int64_t tt__spawn_internal(uintptr_t pc, tt_fn fn, void *arg, const tt_spawn_opts *opts,
                           const char *entry, const char *file, int line, const char *func,
                           tt_wg *exit_wg, void (*drop_arg)(void *));
void tt__task_exit(void) __attribute__((noreturn));
/* The Done of a task spawned with tt_wg_go, as it exits: its table is gone
 * by then, and it needs no entry for wg (waitgroup.c). */
void tt__wg_exit_done(tt_wg *wg);
int tt__wg_add(tt_wg *wg, int64_t delta);
/* wg's serial (holds.h), read without synchronisation by the leak
 * detector, which checks that its waiter stayed parked meanwhile. */
uint32_t tt__wg_serial_peek(const void *wg);
void tt__task_free(tt_worker *w, tt_task *t);
void tt__task_free_all(void);

int tt__stacks_init(size_t default_size);
void tt__stacks_destroy(void);
/* A slot for a task with the given stack size, with its task record at the
 * top; NULL when out of memory. */
tt_task *tt__stack_alloc(tt_worker *w, size_t size);
void tt__stack_free(tt_worker *w, tt_task *t);
/* Return the pages of one batch of surplus pooled stacks to the kernel;
 * true when more remain. Called by idle workers. */
bool tt__stacks_trim(void);
/* Canary and stack pointer (sp: any address in the caller's frame) check;
 * aborts with a report naming the task. */
void tt__stack_check(tt_task *t, void *sp);
void tt__overflow_handler_install(void);
void tt__overflow_handler_thread_init(tt_worker *w);
void tt__overflow_handler_thread_fini(tt_worker *w);

/* ---- Blocking-call pool ----------------------------------------------- */
void tt__blocking_shutdown(void);

/* ---- Misc --------------------------------------------------------------- */
void tt__fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
size_t tt__page_size(void);

#endif
