/*
 * The task record and the lists that make every live task walkable
 * (task.c). A record lives at the top of the task's own stack slot
 * (stack.c), so spawning touches one page and an idle task keeps one page
 * resident.
 *
 * The record belongs to the core, but it carries what the layers above
 * record about a task while it waits, since that must be written on the
 * hot paths without a call: the primitive and wait reason (for dumps), the
 * verify-none scope (observe/), the leak class and the per-task table of
 * handles (leak/). The core only stores those fields; their meaning is
 * documented where they are used.
 */
#ifndef TT_CORE_TASK_H
#define TT_CORE_TASK_H

#include "core/base.h"
#include "core/switch.h"
#include "core/timer.h"

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

/* Go's words for a wait reason (task.c); "unknown" out of range. */
const char *tt__wait_reason_string(tt_wait_reason r);

/* ---- Task lists ------------------------------------------------------- */

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

void tt__tasklist_init(tt_tasklist *l);

enum { TT_STACK_POOLED = 0, TT_STACK_DEDICATED = 1 };

/* ---- The leak layer's per-task table (kept by leak/holds.c) ------------ */

/* One handle a task holds or can reach. count: references the task owns
 * (made or taken in it, or handed to it at spawn); 0 for a handle it only
 * borrows (it used the handle, or inherited it from its spawner). seq: the
 * task's publish count when it got the handle or last published on it; an
 * entry older than the task's latest publish may have been passed on. */
typedef struct tt_hold {
  const void *obj;
  uint32_t serial; /* obj's serial: tells a reused address from obj */
  uint32_t count;
  uint32_t seq;
  uint8_t kind;   /* TT_OBJ_* (leak/hooks.h) */
  uint8_t handed; /* how many of count were handed at spawn: the runtime's to release */
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

/* ---- The task record ---------------------------------------------------- */

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
  _Atomic uint8_t leaked;      /* TT_LEAK_* (leak/hooks.h): why it can never run again; 0 */
  uint8_t stack_kind;          /* TT_STACK_POOLED or TT_STACK_DEDICATED */
  uint8_t pinned;              /* shutdown keeps its memory (tt__stack_pin) */
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

  /* Called as the task returns, before its table is released (a
   * WaitGroup's Done for tt_wg_go). */
  void (*exit_fn)(void *arg);
  void *exit_arg;
  void (*drop_arg)(void *arg); /* frees arg when shutdown drops the task unfinished */
  tt_tnode timer;              /* used by sleep */
  void *wait_obj;              /* primitive waited on, for dumps and leak detection */
  _Atomic int32_t wait_fd;     /* the descriptor of an "IO wait" (core/netpoll.h) */
  /* The wait has a deadline or a context: it ends by itself (leak detector). */
  _Atomic uint8_t wait_bounded;
  /* A task that held a counted reference to the channel this task waits on
   * exited while it waited (pattern 6's "the sender returned"). */
  _Atomic uint8_t holder_gone;
  tt_holds holds; /* handles it holds or can reach (leak/holds.c) */

  void *asan_fake_stack;
  void *tsan_fiber;
  char name[32];
};

/* ---- Spawn and exit ----------------------------------------------------- */

/* The verify-none scope of tasks spawned from this plain thread. */
extern __thread int64_t tt__thread_scope;

/* pc: the return address of the public spawn call, for "created by".
 * exit_fn(exit_arg), if set, runs as the task returns.
 * drop_arg: frees arg if the runtime shuts down before the task is done
 * (the task clears t->drop_arg once it has freed arg itself). */
int64_t tt__spawn_internal(uintptr_t pc, tt_fn fn, void *arg, const tt_spawn_opts *opts,
                           const char *entry, const char *file, int line, const char *func,
                           void (*exit_fn)(void *), void *exit_arg, void (*drop_arg)(void *));
void tt__task_exit(void) __attribute__((noreturn));
struct tt_worker;
void tt__task_free(struct tt_worker *w, tt_task *t);
void tt__task_free_all(void);

#endif
