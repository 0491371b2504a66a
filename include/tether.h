/*
 * tether — goroutines for C, with leak detection built in.
 *
 * One header for the whole public API. Conventions, in the spirit of libuv:
 *  - every function that can fail returns an int (or int64_t) that is >= 0 on
 *    success and one of the negative TT_E* codes below on failure;
 *  - tt_strerror() turns a code into a sentence;
 *  - names are tt_<object>_<verb>; internal symbols start with tt__ and are
 *    not part of the API even when a macro here has to mention them.
 *
 * Threads and tasks: the runtime runs tasks on N worker threads (TT_PROCS,
 * default: online CPUs). A task may move between workers at any scheduling
 * point. Functions documented "task only" return TT_ENOTASK when called from
 * a thread that is not running a task.
 */
#ifndef TETHER_H
#define TETHER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TETHER_VERSION_MAJOR 0
#define TETHER_VERSION_MINOR 1
#define TETHER_VERSION_PATCH 0

/* ---- Error codes ------------------------------------------------------ */

enum {
  TT_OK = 0,
  TT_EINVAL = -1,     /* bad argument (NULL function, negative size, ...) */
  TT_ENOMEM = -2,     /* out of memory or address space */
  TT_ENOTASK = -3,    /* a task-only call was made outside a task */
  TT_ESHUTDOWN = -4,  /* the runtime is shut down or shutting down */
  TT_ENOTINIT = -5,   /* the runtime is not running (never started) */
  TT_ETIMEDOUT = -6,  /* a deadline passed */
  TT_ECANCELED = -7,  /* a context was cancelled */
  TT_ECLOSED = -8,    /* the channel is closed */
  TT_ELEAKED = -9,    /* the call can never complete: the task was leaked */
  TT_EBUSY = -10,     /* the runtime is already running / object in use */
  TT_EAGAIN = -11,    /* the operation would block (try-variants) */
  TT_ENEGATIVE = -12, /* a counter would go below zero (WaitGroup) */
};

/* A sentence describing `code` ("invalid argument", ...). Never NULL. */
const char *tt_strerror(int code);

/* ---- Runtime lifecycle ------------------------------------------------ */

typedef void (*tt_fn)(void *arg);

typedef struct tt_config {
  int procs;         /* worker threads; 0 = $TT_PROCS or online CPUs */
  size_t stack_size; /* default task stack; 0 = $TT_STACK_SIZE or 64 KiB */
} tt_config;

/* Start the worker threads. `cfg` may be NULL (defaults + environment).
 * Returns TT_EBUSY if the runtime is already running, TT_EINVAL for a bad
 * configuration. After tt_shutdown() the runtime may be started again. */
int tt_init(const tt_config *cfg);

/* Stop the runtime: workers finish the task they are running, then exit.
 * Tasks that have not finished (sleeping, waiting, runnable) are never
 * resumed; their stacks and records are freed. Must not be called from a
 * task (TT_EBUSY); returns TT_ENOTINIT if the runtime is not running. */
int tt_shutdown(void);

/* The usual entry point: start the runtime (if it is not running), run
 * fn(arg) as a task named "main", wait for it to return from the calling
 * thread, and shut the runtime down if this call started it. Other tasks
 * still alive when fn returns are dropped, as Go drops goroutines when main
 * returns. Returns 0, TT_EINVAL (fn NULL), TT_EBUSY (called from a task), or
 * the error that kept the runtime from starting. */
#define tt_main(fn, arg) tt__main((fn), (arg), #fn, __FILE__, __LINE__, __func__)

/* Number of worker threads of the running runtime (0 if not running). */
int tt_procs(void);

/* ---- Tasks ------------------------------------------------------------ */

typedef struct tt_spawn_opts {
  const char *name;  /* copied; shown in dumps (NULL: none) */
  size_t stack_size; /* 0: the runtime default */
} tt_spawn_opts;

/* Spawn fn(arg) as a new task. Returns its id (> 0; ids grow in spawn order
 * and are never reused) or TT_EINVAL (fn is NULL), TT_ENOTINIT (runtime
 * never started), TT_ESHUTDOWN (shutting down or shut down), TT_ENOMEM.
 * Callable from tasks and from plain threads. The macro records the entry
 * function's name and the spawn site for dumps and leak reports. Spawned
 * from a task, the new task runs first, on the same worker, until it
 * blocks, yields or returns (so the call is a scheduling point). */
#define tt_go(fn, arg) tt__spawn((fn), (arg), NULL, #fn, __FILE__, __LINE__, __func__)
#define tt_go_opts(fn, arg, opts) \
  tt__spawn((fn), (arg), (opts), #fn, __FILE__, __LINE__, __func__)

/* Let other runnable tasks run. Task only. */
int tt_yield(void);

/* Park the calling task for at least `ns` nanoseconds (<= 0: just yield).
 * Task only. */
int tt_sleep(int64_t ns);

/* Monotonic clock in nanoseconds (the time base of every deadline). */
int64_t tt_now(void);

/* Id of the calling task, or 0 when called outside a task. */
int64_t tt_self(void);

/* Name the calling task (copied, truncated to 31 bytes). Task only. */
int tt_set_name(const char *name);

/* Number of live tasks (spawned and not yet returned). */
int64_t tt_num_tasks(void);

/* Index of the worker running the caller, or -1 outside a worker. */
int tt_worker_id(void);

/* Run fn(arg) on a helper thread while the calling task waits (state
 * "syscall"), so that a slow or blocking library call never stalls a worker.
 * Task only. Returns 0 once fn has returned. */
int tt_blocking(tt_fn fn, void *arg);

/* ---- WaitGroup -------------------------------------------------------- */

typedef struct tt_wg tt_wg;

/* A new WaitGroup with counter 0, or NULL when out of memory. */
tt_wg *tt_wg_make(void);
/* Free a WaitGroup. TT_EBUSY if tasks still wait on it (nothing is freed). */
int tt_wg_free(tt_wg *wg);
/* Add delta (may be negative). TT_ENEGATIVE if the counter would drop below
 * zero: the counter is left unchanged (Go panics here). */
int tt_wg_add(tt_wg *wg, int64_t delta);
int tt_wg_done(tt_wg *wg);
/* Wait until the counter is zero. From a task the task parks ("sync.
 * WaitGroup.Wait"); from a plain thread the thread blocks. */
int tt_wg_wait(tt_wg *wg);
/* Add 1, spawn fn(arg), and call Done when fn returns: the runtime then knows
 * which task owes each Done. Returns the task id or an error (the counter is
 * restored on error). */
#define tt_wg_go(wg, fn, arg) \
  tt__wg_spawn((wg), (fn), (arg), NULL, #fn, __FILE__, __LINE__, __func__)

/* ---- Channels ---------------------------------------------------------
 *
 * Go's channels. Elements are copied by value (elem_size bytes, up to 64 KiB;
 * 0 makes a signal channel). Capacity 0 is a rendezvous: the value goes
 * straight from the sender to a parked receiver.
 *
 * Handles are reference counted: tt_chan_make returns one reference,
 * tt_chan_ref adds one, tt_chan_unref drops one. The channel lives while a
 * reference or a blocked task needs it.
 *
 * Where Go panics, tether returns an error: send on a closed channel and
 * close of a closed channel give TT_ECLOSED, close of a NULL channel gives
 * TT_EINVAL. With TT_STRICT=1 in the environment those misuses abort with a
 * message and the stacks involved instead, as Go's panics do.
 *
 * A NULL channel is Go's nil channel: sending to or receiving from it blocks
 * the task forever (wait reasons "chan send (nil chan)" / "chan receive (nil
 * chan)"), which leak detection reports. Blocking calls are task only
 * (TT_ENOTASK elsewhere); the try-variants work from any thread.
 */

typedef struct tt_chan tt_chan;

/* A new channel, or NULL when out of memory or elem_size > 65536. */
#define tt_chan_make(elem_size, cap) tt__chan_make((elem_size), (cap), __FILE__, __LINE__)
tt_chan *tt_chan_ref(tt_chan *c); /* returns c */
/* Drop a reference; the last one frees the channel once no task waits on it.
 * TT_EINVAL for NULL or a handle that is already freed (when detectable). */
int tt_chan_unref(tt_chan *c);

/* Send a copy of *elem. 0, or TT_ECLOSED (closed before or while waiting). */
int tt_chan_send(tt_chan *c, const void *elem);
/* Receive into *out (may be NULL to discard). 0 when a value was received;
 * TT_ECLOSED when the channel is closed and drained (*out is zeroed): Go's
 * "ok == false". */
int tt_chan_recv(tt_chan *c, void *out);
/* Non-blocking: TT_EAGAIN when the operation would block. */
int tt_chan_try_send(tt_chan *c, const void *elem);
int tt_chan_try_recv(tt_chan *c, void *out);
/* Blocking with a deadline on the tt_now() clock: TT_ETIMEDOUT when it
 * passes first. */
int tt_chan_send_until(tt_chan *c, const void *elem, int64_t deadline);
int tt_chan_recv_until(tt_chan *c, void *out, int64_t deadline);
/* Close: receivers drain the buffer, then get TT_ECLOSED; blocked senders
 * get TT_ECLOSED. TT_ECLOSED if already closed, TT_EINVAL for NULL. */
#define tt_chan_close(c) tt__chan_close((c), __FILE__, __LINE__)
size_t tt_chan_len(tt_chan *c);
size_t tt_chan_cap(tt_chan *c);

/* ---- Select -------------------------------------------------------------
 *
 * tt_select(cases, n, flags, deadline) waits until one case can proceed and
 * performs it. Among ready cases one is chosen uniformly at random. Cases on
 * NULL channels never proceed. Returns the index of the case performed, or:
 * TT_EAGAIN with TT_SELECT_NONBLOCK when no case is ready (Go's default),
 * TT_ETIMEDOUT when `deadline` (tt_now() clock; TT_NO_DEADLINE for none)
 * passes first, TT_EINVAL for bad arguments. For the chosen case, `err` is 0
 * or TT_ECLOSED: a receive from a closed channel (buffer zeroed, Go's
 * ok == false) or a send to a closed channel (Go panics here; TT_STRICT=1
 * aborts). n == 0 without a deadline or NONBLOCK blocks forever ("select (no
 * cases)").
 */

enum { TT_SEND = 1, TT_RECV = 2 };
enum { TT_SELECT_NONBLOCK = 1 };
#define TT_NO_DEADLINE INT64_MAX

typedef struct tt_case {
  tt_chan *chan;
  int dir;   /* TT_SEND or TT_RECV */
  void *buf; /* value to send, or where to receive (may be NULL for receive) */
  int err;   /* out: 0 or TT_ECLOSED for the chosen case */
} tt_case;

static inline tt_case tt_case_send(tt_chan *c, const void *elem) {
  tt_case k = {c, TT_SEND, (void *)elem, 0};
  return k;
}
static inline tt_case tt_case_recv(tt_chan *c, void *out) {
  tt_case k = {c, TT_RECV, out, 0};
  return k;
}

int tt_select(tt_case *cases, int n, int flags, int64_t deadline);

/* ---- Looking at tasks ------------------------------------------------- */

typedef enum tt_task_state {
  TT_TASK_RUNNABLE = 1, /* ready, waiting for a worker */
  TT_TASK_RUNNING = 2,  /* running on a worker now */
  TT_TASK_WAITING = 3,  /* parked; see wait_reason */
} tt_task_state;

typedef struct tt_task_info {
  int64_t id;
  int64_t parent_id;       /* 0 when spawned from outside any task */
  tt_task_state state;
  const char *state_name;  /* "runnable", "running", "waiting" */
  const char *wait_reason; /* Go's words: "sleep", "chan receive", ...; "" */
  int64_t wait_since;      /* when it parked (tt_now() time base, kernel-tick resolution); 0 unless waiting */
  int64_t created;         /* spawn time, same base and resolution */
  const char *entry;       /* entry function name as written at the spawn */
  const char *spawn_file;
  int spawn_line;
  const char *spawn_func;  /* function that called tt_go */
  char name[32];           /* "" when unnamed */
  int worker;              /* worker it last ran on, -1 if it never ran */
  size_t stack_size;
} tt_task_info;

/* Call visit(info, arg) for every live task. The walk holds one worker's task
 * list lock at a time; it never stops the world. Return non-zero from visit
 * to stop early. Returns the number of tasks visited. */
typedef int (*tt_task_visit_fn)(const tt_task_info *info, void *arg);
int64_t tt_tasks_foreach(tt_task_visit_fn visit, void *arg);

/* Write a short text dump of every live task: one line each with id, state,
 * wait reason and duration, entry function and spawn site. */
int tt_dump(FILE *out);

/* ---- Internal entry points used by the macros above ------------------- */

int64_t tt__spawn(tt_fn fn, void *arg, const tt_spawn_opts *opts, const char *entry,
                  const char *file, int line, const char *func);
tt_chan *tt__chan_make(size_t elem_size, size_t cap, const char *file, int line);
int tt__chan_close(tt_chan *c, const char *file, int line);
int tt__main(tt_fn fn, void *arg, const char *entry, const char *file, int line,
             const char *func);
int64_t tt__wg_spawn(tt_wg *wg, tt_fn fn, void *arg, const tt_spawn_opts *opts,
                     const char *entry, const char *file, int line, const char *func);

#ifdef __cplusplus
}
#endif
#endif /* TETHER_H */
