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
  TT_EUNLOCKED = -13, /* unlock of a mutex that is not locked */
  TT_ENOENT = -14,    /* nothing to act on (tt_monitor_stop with no monitor) */
  /* I/O (the network section below). */
  TT_EOF = -15,          /* end of stream: the peer closed its side */
  TT_ECONNRESET = -16,   /* the peer reset the connection (or it broke: EPIPE) */
  TT_ECONNREFUSED = -17, /* nobody listens at that address */
  TT_EBADF = -18,        /* not an open descriptor, or a handle already closed */
  TT_ERESOLVE = -19,     /* a name did not resolve (getaddrinfo failed) */
  TT_ETOOBIG = -20,      /* a response body went past its limit (HTTP client) */
  TT_EPROTO = -21,       /* the peer broke the protocol (a malformed HTTP response) */
  /* Any other system error: TT_ESYS(errno), below TT_ESYS_BASE, so it can
   * never be mistaken for a TT_E* code; tt_errno() gives the errno back. */
  TT_ESYS_BASE = -1000,
};

/* errno e as a tether code, and back (0 when rc is not a system error). */
#define TT_ESYS(e) (TT_ESYS_BASE - (e))
static inline int tt_errno(int rc) { return rc < TT_ESYS_BASE ? TT_ESYS_BASE - rc : 0; }

/* A sentence describing `code` ("invalid argument", ...). Never NULL. */
const char *tt_strerror(int code);

/* ---- Runtime lifecycle ------------------------------------------------ */

typedef void (*tt_fn)(void *arg);

typedef struct tt_config {
  int procs;         /* worker threads; 0 = $TT_PROCS or online CPUs */
  size_t stack_size; /* default task stack; 0 = $TT_STACK_SIZE or 64 KiB */
} tt_config;
/* (tt_blocking's pool holds $TT_BLOCKING_MAX helper threads at most, 1 to
 * 4096, default 64; more calls queue. A malformed value fails tt_init with
 * TT_EINVAL.) */

/* Start the worker threads. `cfg` may be NULL (defaults + environment).
 * Returns TT_EBUSY if the runtime is already running, TT_EINVAL for a bad
 * configuration, TT_ENOMEM when memory or a worker thread cannot be had
 * (e.g. under a low RLIMIT_AS; nothing is left running). After
 * tt_shutdown() the runtime may be started again. */
int tt_init(const tt_config *cfg);

/* Stop the runtime: workers finish the task they are running, then exit.
 * Tasks that have not finished (sleeping, waiting, runnable) are never
 * resumed; their stacks and records are freed. Must not be called from a
 * task, from a function run by tt_blocking or from a monitor callback: all
 * three are waited for by tt_shutdown, so it returns TT_EBUSY there and
 * changes nothing. Calls under way in tt_blocking are waited for: after
 * 1 s, each one still running is named on stderr (function, task, spawn
 * site); after $TT_SHUTDOWN_WAIT ms (default 5000) they are left running
 * (their tasks' stacks stay mapped, their results are dropped) and
 * shutdown returns. Returns TT_ENOTINIT if the runtime is not running. From another
 * thread while tt_main waits, tt_main then returns TT_ESHUTDOWN. */
int tt_shutdown(void);

/* The usual entry point: start the runtime (if it is not running), run
 * fn(arg) as a task named "main", wait for it to return from the calling
 * thread, and shut the runtime down if this call started it. Other tasks
 * still alive when fn returns are dropped, as Go drops goroutines when main
 * returns. Returns 0, TT_EINVAL (fn NULL), TT_EBUSY (called from a task), or
 * the error that kept the runtime from starting, or TT_ESHUTDOWN when
 * tt_shutdown from another thread stopped the runtime under the main task
 * (it returns once that shutdown is complete). */
#define tt_main(fn, arg) tt__main((fn), (arg), #fn, __FILE__, __LINE__, __func__)

/* Number of worker threads of the running runtime (0 if not running). */
int tt_procs(void);

/* ---- Tasks ------------------------------------------------------------ */

typedef struct tt_chan tt_chan;
typedef struct tt_context tt_context;
typedef struct tt_owner tt_owner;

#define TT_GIVE_MAX 4
typedef struct tt_spawn_opts {
  const char *name;  /* copied; shown in dumps (NULL: none) */
  size_t stack_size; /* 0: the runtime default */
  /* Hand the new task its own reference to each of these (NULL entries
   * are skipped): the runtime takes it at the spawn and releases whatever
   * of it the task has not released itself when the task returns. The
   * leak detector then knows the task holds the handle; see "Ownership of
   * handles" below. */
  tt_chan *give_chans[TT_GIVE_MAX];
  tt_context *give_ctx;
  tt_owner *give_owner;
} tt_spawn_opts;

/* Spawn fn(arg) as a new task. Returns its id (> 0; ids grow in spawn order
 * and are never reused) or TT_EINVAL (fn is NULL), TT_ENOTINIT (runtime
 * never started), TT_ESHUTDOWN (shutting down or shut down), TT_ENOMEM.
 * Callable from tasks and from plain threads. The macro records the entry
 * function's name and the spawn site for dumps and leak reports. Spawned
 * from a task, the new task runs first, on the same worker, until it
 * blocks, yields or returns (so the call is a scheduling point). */
#define tt_go(fn, arg) tt__spawn((fn), (arg), NULL, #fn, __FILE__, __LINE__, __func__)
/* Variadic so that a compound literal with commas needs no parentheses:
 * tt_go_opts(fn, arg, &(tt_spawn_opts){.give_chans = {a, b}}). */
#define tt_go_opts(fn, arg, ...) \
  tt__spawn((fn), (arg), (__VA_ARGS__), #fn, __FILE__, __LINE__, __func__)

/* Let other runnable tasks run. Task only. */
int tt_yield(void);

/* Park the calling task for at least `ns` nanoseconds (<= 0: just yield;
 * INT64_MAX or near it: practically for ever, never an overflow into the
 * past). Task only. */
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
/* tt_blocking bounded by a deadline (tt_now() clock) or a context: 0 once
 * fn has returned, or TT_ETIMEDOUT / the context's error when the task
 * stops waiting first (also before fn starts, if it is already so). Then
 * fn keeps running on its helper and whatever it produces is discarded:
 * `arg` must stay valid until fn returns, not merely until this call does
 * (allocate it, and let fn free it; never point it at the task's stack).
 * Task only; TT_EINVAL for a NULL fn or ctx, TT_ENOMEM without a helper. */
int tt_blocking_until(tt_fn fn, void *arg, int64_t deadline);
int tt_blocking_ctx(tt_fn fn, void *arg, tt_context *ctx);

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
/* tt_wg_go with spawn options (a name, a stack size, references handed to
 * the task), as tt_go_opts: tt_wg_go_opts(wg, fn, arg, &(tt_spawn_opts){
 * .give_chans = {c}}). */
#define tt_wg_go_opts(wg, fn, arg, ...) \
  tt__wg_spawn((wg), (fn), (arg), (__VA_ARGS__), #fn, __FILE__, __LINE__, __func__)

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

/* ---- Context ------------------------------------------------------------
 *
 * Go's context: a cancellation signal with an optional deadline, cause and
 * values, passed down a tree. Cancelling a context cancels its descendants;
 * a child's deadline never exceeds its parent's. Contexts are reference
 * counted: each tt_with_* returns one reference owned by the caller.
 *
 * The C spelling of Go's
 *     ctx, cancel := context.WithTimeout(parent, d); defer cancel()
 * is
 *     tt_context *ctx = tt_with_timeout(parent, d);  ...  tt_context_release(ctx);
 * where release = cancel + unref. Dropping the last reference of a
 * cancellable context that was never cancelled and whose deadline has not
 * passed is a "lost cancel": it is counted (tt_context_lost_cancels) and,
 * with TT_STRICT=1, reported on stderr with the site that made it.
 */

/* The root: never cancelled, no deadline, no values; its done channel is
 * NULL (a nil channel, never ready). Reference counting is a no-op on it. */
tt_context *tt_background(void);

/* Children of `parent` (NULL means tt_background()). NULL when out of
 * memory. The deadline is on the tt_now() clock. */
#define tt_with_cancel(parent) tt__with((parent), TT_NO_DEADLINE, __FILE__, __LINE__)
#define tt_with_deadline(parent, deadline) tt__with((parent), (deadline), __FILE__, __LINE__)
/* A timeout so long that tt_now() + ns would pass INT64_MAX means no
 * deadline (TT_NO_DEADLINE), never one in the past. */
#define tt_with_timeout(parent, ns) tt__with((parent), tt__timeout_deadline(ns), __FILE__, __LINE__)
/* A child carrying key -> value (looked up by pointer identity). */
tt_context *tt_with_value(tt_context *parent, const void *key, void *value);

/* Cancel with TT_ECANCELED as the error, or with a cause: an error code of
 * the caller's choosing and a message (copied, up to 127 bytes). The first
 * cancel wins; later ones return 0 and change nothing. Safe from any task
 * or thread. TT_EINVAL for NULL. */
int tt_cancel(tt_context *ctx);
int tt_cancel_cause(tt_context *ctx, int cause, const char *msg);

/* 0 while not done, then TT_ECANCELED or TT_ETIMEDOUT. */
int tt_context_err(tt_context *ctx);
/* The cause: the code given to tt_cancel_cause, else the error (0 while
 * not done). *msg (if msg is non-NULL) gets the message or "". */
int tt_context_cause(tt_context *ctx, const char **msg);
/* A channel closed when ctx is done (elem size 0), usable in tt_select.
 * Borrowed: valid while the caller holds its context reference. */
tt_chan *tt_context_done(tt_context *ctx);
int64_t tt_context_deadline(tt_context *ctx); /* TT_NO_DEADLINE if none */
void *tt_context_value(tt_context *ctx, const void *key);

tt_context *tt_context_ref(tt_context *ctx);
int tt_context_unref(tt_context *ctx);
int tt_context_release(tt_context *ctx); /* tt_cancel + tt_context_unref */
int64_t tt_context_lost_cancels(void);

/* Context-bounded waits: each returns what its plain form returns, or the
 * context's error (TT_ECANCELED / TT_ETIMEDOUT) once ctx is done. */
int tt_sleep_ctx(int64_t ns, tt_context *ctx);
int tt_chan_send_ctx(tt_chan *c, const void *elem, tt_context *ctx);
int tt_chan_recv_ctx(tt_chan *c, void *out, tt_context *ctx);
/* tt_select with ctx's done channel as an extra case and ctx's deadline:
 * returns the context's error when it wins. */
int tt_select_ctx(tt_case *cases, int n, int flags, tt_context *ctx);
int tt_wg_wait_ctx(tt_wg *wg, tt_context *ctx);

/* ---- Sync primitives ------------------------------------------------------
 *
 * Task-aware: waiting parks the task, never the worker thread. All of them
 * are plain values that are valid when zeroed (like Go's zero values):
 * `tt_mutex mu = {0};` or embedded in a zeroed struct. Blocking calls are
 * task only. Each has an _until (deadline) and a _ctx variant.
 */

typedef struct tt_mutex {
  uint64_t opaque_[4];
} tt_mutex;

int tt_mutex_lock(tt_mutex *m);
int tt_mutex_trylock(tt_mutex *m); /* 0, or TT_EBUSY when held */
int tt_mutex_lock_until(tt_mutex *m, int64_t deadline);
int tt_mutex_lock_ctx(tt_mutex *m, tt_context *ctx);
/* TT_EUNLOCKED for an unlocked mutex (Go: fatal error; TT_STRICT=1
 * aborts). As in Go, another task than the locker may unlock. */
int tt_mutex_unlock(tt_mutex *m);

typedef struct tt_rwmutex {
  uint64_t opaque_[8];
} tt_rwmutex;

/* Writers are preferred: once a writer waits, new readers wait too. */
int tt_rwmutex_rlock(tt_rwmutex *m);
int tt_rwmutex_rlock_until(tt_rwmutex *m, int64_t deadline);
int tt_rwmutex_rlock_ctx(tt_rwmutex *m, tt_context *ctx);
int tt_rwmutex_runlock(tt_rwmutex *m); /* TT_EUNLOCKED without readers */
int tt_rwmutex_lock(tt_rwmutex *m);
int tt_rwmutex_lock_until(tt_rwmutex *m, int64_t deadline);
int tt_rwmutex_lock_ctx(tt_rwmutex *m, tt_context *ctx);
int tt_rwmutex_unlock(tt_rwmutex *m); /* TT_EUNLOCKED when not write-locked */

typedef struct tt_cond {
  uint64_t opaque_[4];
} tt_cond;

/* Unlock m, wait for a signal, lock m again (also on timeout/cancel, as
 * pthread_cond_timedwait does). m must be locked by the caller, else
 * TT_EUNLOCKED. */
int tt_cond_wait(tt_cond *c, tt_mutex *m);
int tt_cond_wait_until(tt_cond *c, tt_mutex *m, int64_t deadline);
int tt_cond_wait_ctx(tt_cond *c, tt_mutex *m, tt_context *ctx);
int tt_cond_signal(tt_cond *c);
int tt_cond_broadcast(tt_cond *c);

typedef struct tt_once {
  uint64_t opaque_[4];
} tt_once;

/* Run fn(arg) exactly once over all callers; the others wait until it has
 * returned. A plain thread that would have to wait gets TT_ENOTASK. A
 * recursive call from fn deadlocks, as in Go. */
int tt_once_do(tt_once *o, tt_fn fn, void *arg);

typedef struct tt_sem {
  uint64_t opaque_[4];
} tt_sem;

/* A counting semaphore; a zeroed one has no permits: tt_sem_release adds.
 * Waiters are served first come, first served. */
int tt_sem_acquire(tt_sem *s, int64_t n);
/* TT_EAGAIN when short of permits or when others are already queued. */
int tt_sem_try_acquire(tt_sem *s, int64_t n);
int tt_sem_acquire_until(tt_sem *s, int64_t n, int64_t deadline);
int tt_sem_acquire_ctx(tt_sem *s, int64_t n, tt_context *ctx);
/* TT_EINVAL when the count would pass 2^62 - 1 (nothing changes). */
int tt_sem_release(tt_sem *s, int64_t n);

/* ---- Timers and tickers ---------------------------------------------------
 *
 * A timer sends its fire time (int64_t, tt_now() clock) on its channel
 * (capacity 1) once; a ticker every period, dropping ticks a slow reader
 * misses. Free them with tt_timer_free / tt_ticker_free (which stop them).
 */

typedef struct tt_timer tt_timer;
typedef struct tt_ticker tt_ticker;

#define tt_timer_make(ns) tt__timer_make((ns), __FILE__, __LINE__)
tt_chan *tt_timer_chan(tt_timer *t); /* borrowed, valid until free */
/* 1 when the call stopped the timer before its value was received (pending,
 * firing at that moment, or its value unread, which is discarded); 0 when
 * the value had been received or the timer was stopped already. After it
 * returns, no stale value is received from the channel (Go 1.23). */
int tt_timer_stop(tt_timer *t);
/* Re-arm to fire ns from now, discarding an unread value; returns what
 * tt_timer_stop would have. */
int tt_timer_reset(tt_timer *t, int64_t ns);
int tt_timer_free(tt_timer *t);

#define tt_ticker_make(period) tt__ticker_make((period), __FILE__, __LINE__)
tt_chan *tt_ticker_chan(tt_ticker *t);
int tt_ticker_stop(tt_ticker *t);
int tt_ticker_reset(tt_ticker *t, int64_t period);
int tt_ticker_free(tt_ticker *t);

/* Timers and tickers still running whose creating task has exited — the
 * classic "ticker never stopped" leak. Writes one line each to `out` (may be
 * NULL) and returns how many. Those made outside any task are not counted. */
int64_t tt_timers_orphaned(FILE *out);

/* ---- Task groups ------------------------------------------------------------
 *
 * Structured concurrency (Go's errgroup, with a bound). A group owns a
 * context derived from its parent. Tasks spawned into it get that context;
 * the first task to return an error cancels it, and tt_group_wait returns
 * that error. `limit` > 0 bounds how many run at once: tt_group_go waits
 * for a slot. A group cannot silently outlive its scope: tt_group_destroy
 * cancels it, waits up to `grace` ns, and reports every task still running
 * (stderr, with its state, wait reason and spawn site) as leaked, returning
 * TT_ELEAKED; such a group's memory stays with its leaked tasks.
 */

typedef struct tt_group tt_group;
typedef int (*tt_group_fn)(tt_context *ctx, void *arg);

#define tt_group_make(parent, limit) tt__group_make((parent), (limit), __FILE__, __LINE__)
tt_context *tt_group_context(tt_group *g); /* borrowed */
/* Returns the task id, TT_ECANCELED when the group is already cancelled
 * (fn is not run), or a spawn error. Task only when limit > 0. */
#define tt_group_go(g, fn, arg) tt__group_go((g), (fn), (arg), #fn, __FILE__, __LINE__, __func__)
int tt_group_wait(tt_group *g);
int tt_group_destroy(tt_group *g, int64_t grace);
/* Fail the group now with `code` (non-zero) and a printf-style message
 * (NULL: one made from the code): the first failure, whether from here or
 * from a task returning non-zero, is what tt_group_wait returns, and its
 * message becomes the group context's cause. Returns `code`, so that a
 * task can end with `return tt_group_fail(g, code, "...", ...);`; TT_EINVAL
 * for a NULL group or a zero code. Callable from any task, in the group or not. */
int tt_group_fail(tt_group *g, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The first failure's message (a task's return names the task, its entry
 * function and the code), NULL while the group has not failed. Valid until
 * tt_group_destroy. */
const char *tt_group_error(tt_group *g);

/* ---- Looking at tasks ------------------------------------------------- */

typedef enum tt_task_state {
  TT_TASK_RUNNABLE = 1, /* ready, waiting for a worker */
  TT_TASK_RUNNING = 2,  /* running on a worker now */
  TT_TASK_WAITING = 3,  /* parked; see wait_reason */
} tt_task_state;

typedef struct tt_task_info {
  int64_t id;
  int64_t parent_id; /* 0 when spawned from outside any task */
  tt_task_state state;
  const char *state_name;  /* "runnable", "running", "waiting" */
  const char *wait_reason; /* Go's words: "sleep", "chan receive", ...; "" */
  int64_t wait_since;      /* when it parked (tt_now() time base, kernel-tick resolution); 0 unless
                              waiting */
  int64_t created;         /* spawn time, same base and resolution */
  const char *entry;       /* entry function name as written at the spawn */
  const char *spawn_file;
  int spawn_line;
  const char *spawn_func; /* function that called tt_go */
  char name[32];          /* "" when unnamed */
  int worker;             /* worker it last ran on, -1 if it never ran */
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

/* ---- Task dumps in Go's formats ------------------------------------------ *
 * Every dump is taken from a snapshot: the task lists are walked one worker
 * at a time (no stop-the-world) and the saved stack of each parked or
 * runnable task is walked by its frame pointers, then symbolized with
 * DWARF (libdw) to function, file:line. Code built without -g shows function
 * names only; code built without frame pointers loses its callers' frames
 * (build with -fno-omit-frame-pointer, as tether itself is). A task running
 * on another worker has no stack to show, as in Go.
 */
typedef enum tt_dump_format {
  TT_DUMP_SUMMARY = 0,      /* tt_dump's one line per task */
  TT_DUMP_GO_DEBUG2 = 1,    /* Go's debug=2 goroutine dump: a stack per task */
  TT_DUMP_GO_DEBUG1 = 2,    /* Go's debug=1 profile text: identical stacks counted */
  TT_DUMP_PPROF = 3,        /* pprof protobuf goroutine profile, gzipped (binary) */
  TT_DUMP_JSON = 4,         /* everything, as one JSON document */
  TT_DUMP_PPROF_LEAKED = 5, /* pprof profile of the leaked tasks only (Go's goroutineleak) */
} tt_dump_format;

/* Write a dump of every live task to `out`. Returns 0 or a TT_E* code. */
int tt_dump_as(FILE *out, tt_dump_format format);
/* Parse "summary", "debug=2" (or "2", "go"), "debug=1" (or "1"), "pprof",
 * "goroutineleak" (TT_DUMP_PPROF_LEAKED), "json". Returns the format or
 * TT_EINVAL. */
int tt_dump_format_parse(const char *name);

/* One symbolized frame. Strings live as long as the runtime's symbol cache
 * (until the process exits); "" when unknown. */
typedef struct tt_frame {
  uintptr_t pc;     /* return address (the call is at pc - 1) */
  const char *func; /* function name, "?" when unknown */
  const char *file; /* source file of the call, "" without -g */
  int line;         /* 0 without -g */
  uintptr_t offset; /* pc - start of func */
} tt_frame;

/* The stack of task `id`, innermost frame first: up to `max` frames into
 * `frames`. Returns the number of frames, TT_EBUSY when the task is
 * running on another worker (its stack is unavailable), TT_EINVAL when no
 * such task exists. */
int tt_task_stack(int64_t id, tt_frame *frames, int max);

/* Dump on a signal: after tt_dump_on_signal(SIGQUIT, TT_DUMP_GO_DEBUG2,
 * "/tmp/tasks.txt") each SIGQUIT writes a dump to that file (appending;
 * NULL means stderr) from a helper thread; the process keeps running.
 * tt_init also arms this from the environment: TT_DUMP_SIGNAL=QUIT|USR1|
 * USR2|<number>, TT_DUMP_FORMAT=<format name>, TT_DUMP_FILE=<path>.
 * signo 0 disarms. */
int tt_dump_on_signal(int signo, tt_dump_format format, const char *path);

/* ---- Counts and the growth monitor ------------------------------------ */

typedef struct tt_task_counts {
  int64_t total, runnable, running, waiting;
  int64_t by_reason[24]; /* indexed like tt_wait_reason_name(i); [0] unused */
} tt_task_counts;
int tt_count_tasks(tt_task_counts *out);
/* Go's words for wait reason i ("chan receive", ...); NULL past the last. */
const char *tt_wait_reason_name(int i);

/* Live tasks grouped by spawn site (file:line, entry function), most
 * populous first. Fills up to `max`; returns how many sites exist. */
typedef struct tt_site_count {
  const char *file, *func, *entry;
  int line;
  int64_t count;
  int64_t waiting;
  const char *top_reason; /* the most common wait reason at this site, or "" */
} tt_site_count;
int tt_count_by_site(tt_site_count *out, int max);

/* Seed technique 1, done properly: a thread samples the task counts every
 * `interval` ns, keeps the last `history` samples, and when the total grows
 * by more than `total_growth`, or one spawn site by more than `site_growth`,
 * across that window, reports the growing sites with their wait reasons
 * (one line to `log`, and/or the callback). It also flags a task that has
 * run for longer than `stall` ns without a scheduling point (it starves its
 * worker). Zero fields take defaults: 1 s, 10 samples, 1000, 100, 100 ms;
 * log NULL means stderr unless a callback is set. */
/* Baselines: the seed's LeakDetector, by spawn site. Take one when the
 * program has settled; later, tt_baseline_check names every spawn site
 * whose live task count grew by more than `tolerance` since, with the
 * stacks of its newest tasks, on `out` (NULL: nothing written). It returns
 * how many sites grew that much (0: within tolerance), TT_EINVAL (NULL
 * baseline, negative tolerance), TT_ENOTINIT, TT_ENOMEM. Any thread; the
 * counts are a moving picture of a changing population, as every walk. */
typedef struct tt_baseline tt_baseline;
tt_baseline *tt_baseline_take(void); /* NULL when not running or out of memory */
int tt_baseline_check(const tt_baseline *b, int64_t tolerance, FILE *out);
int64_t tt_baseline_total(const tt_baseline *b); /* live tasks when it was taken */
void tt_baseline_free(tt_baseline *b);

typedef enum tt_monitor_event_kind {
  TT_MONITOR_GROWTH = 1,
  TT_MONITOR_STALL = 2,
  TT_MONITOR_BASELINE = 3
} tt_monitor_event_kind;
typedef struct tt_monitor_event {
  tt_monitor_event_kind kind;
  int64_t total, total_before; /* GROWTH: now and at the start of the window;
                                  BASELINE: now and at the baseline */
  const tt_site_count *sites;  /* GROWTH, BASELINE: sites that grew, largest growth first */
  const int64_t *site_growth;  /* ...and by how much */
  int nsites;
  int64_t task_id; /* STALL: the task, its worker, and for how long */
  int worker;
  int64_t stalled_for;
} tt_monitor_event;
typedef struct tt_monitor_opts {
  int64_t interval;
  int history;
  int64_t total_growth;
  int64_t site_growth;
  int64_t stall; /* < 0 turns stall detection off */
  void (*callback)(const tt_monitor_event *ev, void *arg);
  void *arg;
  FILE *log;
  /* With a baseline (it must outlive the monitor): every sample also
   * compares with it, and when the tasks beyond baseline_tolerance at the
   * growing sites are more than at the last such report, reports them
   * (TT_MONITOR_BASELINE; the log gets tt_baseline_check's text). */
  const tt_baseline *baseline;
  int64_t baseline_tolerance;
} tt_monitor_opts;
int tt_monitor_start(const tt_monitor_opts *opts); /* TT_EBUSY if one runs */
int tt_monitor_stop(void);

/* ---- Verify-none: goleak for C ----------------------------------------- *
 * At the end of a test, tt_verify_none looks for tasks that should not
 * exist, retrying with exponential backoff (tasks may be on their way out)
 * up to opts->max_wait (default 500 ms). The calling task is never counted.
 * Scopes attribute tasks to tests: tt_scope_begin() gives the calling task
 * (or thread) a fresh scope, every task it spawns inherits it, transitively
 * and even after intermediate tasks exit; opts->scope then limits the check
 * to that test's own tasks.
 */
typedef struct tt_verify_snapshot tt_verify_snapshot;
typedef struct tt_verify_opts {
  int64_t max_wait;                         /* ns; 0 = 500 ms */
  int64_t scope;                            /* 0 = every task */
  const char *const *ignore_top;            /* NULL-terminated lists of function names */
  const char *const *ignore_any;            /* ...anywhere on the stack */
  const char *const *ignore_created_by;     /* ...the spawning function */
  const char *const *ignore_names;          /* task names (tt_set_name / opts.name) */
  const tt_verify_snapshot *ignore_current; /* tasks alive at tt_verify_snapshot_take */
} tt_verify_opts;

typedef struct tt_verify_report tt_verify_report;

int64_t tt_scope_begin(void);
int64_t tt_scope_current(void);
tt_verify_snapshot *tt_verify_snapshot_take(void);
void tt_verify_snapshot_free(tt_verify_snapshot *s);
/* Returns the number of leftover tasks (0: clean) or a TT_E* code. With a
 * non-NULL `report` and leftovers, *report describes them. */
int64_t tt_verify_none(const tt_verify_opts *opts, tt_verify_report **report);
int tt_verify_report_print(const tt_verify_report *r, FILE *out);
int64_t tt_verify_report_count(const tt_verify_report *r);
void tt_verify_report_free(tt_verify_report *r);
/* For a test binary's main: runs tests(arg) as the main task, then
 * verify-none; prints the report and returns 1 on leftovers, else tests'
 * own return value. */
int tt_verify_main(int (*tests)(void *arg), void *arg, const tt_verify_opts *opts);

/* ---- Definite leaks ------------------------------------------------------ *
 * A task is leaked when no condition exists under which it runs again. The
 * runtime finds such tasks the moment that becomes certain: when the last
 * reference to a channel is dropped (tt_chan_unref) while tasks wait on it
 * alone and without a deadline (nobody may use a channel after its last
 * reference is gone, so nobody can ever complete those waits), or in a
 * select without a deadline all of whose channels are gone, and when a
 * task waits without a deadline on a nil channel or on a select with no
 * case that can be ready. Each leak is recorded with the blocked task's
 * stack and the stack that made it certain, classified in the words of the
 * seed's patterns, and marked "(leaked)" in debug=2 dumps. These two kinds
 * have no false positives (by the API's contract on references).
 * tt_leak_check's wait-for graph rests on the ownership rules below and can
 * be misled by handles passed through memory the runtime never sees.
 */
typedef enum tt_leak_mode {
  TT_LEAK_RECORD = 0,  /* keep for tt_leak_report (default) */
  TT_LEAK_REPORT = 1,  /* ...and print to stderr at once */
  TT_LEAK_ABORT = 2,   /* ...print and abort(), like a sanitizer */
  TT_LEAK_RECOVER = 3, /* ...print, and fail the blocking call with TT_ELEAKED */
} tt_leak_mode;
/* Also read from TT_LEAKCHECK=record|report|abort|recover on first use.
 * Returns the previous mode or TT_EINVAL. */
int tt_leak_set_mode(tt_leak_mode mode);
int64_t tt_leak_count(void); /* leaks found since the process started */
/* Run the wait-for-graph detector now (see "Ownership of handles"): every
 * task that no live task can ever wake is recorded like the leaks above,
 * with the proof (who can reach what it waits on). Returns how many tasks
 * it newly found leaked, or TT_ENOTINIT / TT_ENOMEM. */
int64_t tt_leak_check(void);
int tt_leak_report(FILE *out); /* each with its class and both stacks */
/* The suspect tier: every task that has waited at least min_wait ns (not
 * sleeping, not already found leaked) and that the detector cannot prove
 * leaked, such as a read with no deadline (seed pattern 4), with why it is
 * not proven and its stack. Returns how many, or TT_EINVAL / TT_ENOTINIT /
 * TT_ENOMEM. */
int64_t tt_leak_suspects(FILE *out, int64_t min_wait);

/* ---- Ownership of handles ------------------------------------------------- *
 * What tt_leak_check (and the instant modes) know about who can reach a
 * primitive. A reference made or taken in a task (tt_chan_make,
 * tt_chan_ref, tt_owner_make, tt_owner_ref) belongs to that task until it
 * drops it; tt_spawn_opts.give_* hands a new task references of its own,
 * released when it returns. A task can also reach every channel and
 * WaitGroup it has used, and whatever its spawner could reach when it was
 * spawned. Everything else is treated conservatively:
 *  - a handle made, referenced or used by a plain thread is a root;
 *  - so is everything a task still counts when it returns, and everything
 *    a task held before a send of its completed, or it closed a channel,
 *    unlocked a mutex or signalled (the message or the shared state may
 *    carry it);
 *  - timer, ticker and context done channels are roots; Cond and
 *    semaphore waits, and waits with a deadline or a context, are live.
 * What the rules cannot see: a handle passed to another task through
 * memory no runtime call publishes (your own atomics, a global read
 * later, a heap table, a pthread-guarded queue). Such a program can get a
 * false report from tt_leak_check and the instant modes. Give that task a
 * reference (give_chans, or an owner), or keep the handle referenced from
 * a plain thread.
 *
 * Owners are for handles that live in a struct shared between tasks (a
 * server with a stop channel and a WaitGroup): the owner adopts them,
 * tasks hold the owner like any handle, and reachability passes from a
 * task through the owner (and owners it owns) to the handles. */
tt_owner *tt_owner_make(void); /* one reference, the caller's; NULL out of memory */
tt_owner *tt_owner_ref(tt_owner *o);
/* The last reference releases what the owner adopted. TT_EINVAL for NULL
 * or a freed owner (when detectable). */
int tt_owner_unref(tt_owner *o);
/* The owner takes over one of the caller's references to c (or child):
 * the caller must not drop that one itself. 0, TT_EINVAL or TT_ENOMEM. */
int tt_owner_adopt_chan(tt_owner *o, tt_chan *c);
int tt_owner_adopt_owner(tt_owner *o, tt_owner *child);
/* The owner can reach wg (it takes no reference: wg's user frees it). */
int tt_owner_track_wg(tt_owner *o, tt_wg *wg);

/* ---- HTTP/1.1 server ----------------------------------------------------
 *
 * An HTTP/1.1 server on the poller: one task per connection (entry
 * function tt_http_serve_conn in dumps), keep-alive and pipelining, chunked
 * bodies both ways, Expect: 100-continue, HEAD, and the limits below. A
 * handler runs on its connection's task; it reads the request through the
 * exchange and answers with tt_http_respond (whole body) or
 * tt_http_resp_write (streamed). Everything the exchange hands out (method,
 * path, header values) lives until the handler returns. Rules, limits and
 * statuses in docs/HTTP.md.
 */

typedef struct tt_http_server tt_http_server;
typedef struct tt_http_exchange tt_http_exchange;
typedef void (*tt_http_handler_fn)(tt_http_exchange *ex, void *arg);

/* Zero fields take the defaults; a negative one is TT_EINVAL. Times in ns. */
typedef struct tt_http_server_opts {
  int64_t read_header_timeout; /* accept (or first byte) to end of head: 10 s; then 408 */
  int64_t idle_timeout;        /* keep-alive wait for the next request, and the longest
                                  pause inside a request body: 120 s */
  int64_t request_timeout;     /* end of head to the handler's context deadline: 0 = none */
  int64_t write_timeout;       /* each response write: 30 s */
  int64_t shutdown_grace;      /* grace of tt_http_server_free (and of shutdown given a
                                  negative grace): 5 s */
  size_t max_header_bytes;     /* request head, CRLFs included: 64 KiB; then 431 */
  int64_t max_body_bytes;      /* decoded request body: 8 MiB; then 413 */
  int max_conns;               /* open connections: 10000; past it 503 and close */
  size_t stack_size;           /* connection task stacks (handlers run there): 0 = runtime
                                  default */
} tt_http_server_opts;

/* A new server (not listening yet). opts: NULL for the defaults. 0,
 * TT_EINVAL (out NULL, a negative option), TT_ENOMEM. Any thread. */
int tt_http_server_new(const tt_http_server_opts *opts, tt_http_server **out);
/* Route method + path prefix to fn (docs/HTTP.md, "Routing"): a prefix
 * ending in '/' takes its subtree, others one exact path; a GET route also
 * answers HEAD; method NULL takes any. Before listen only: TT_EBUSY after.
 * TT_EINVAL (NULL server/prefix/fn, prefix not starting with '/', a method
 * that is not a token, the same route twice), TT_ENOMEM. */
int tt_http_handle(tt_http_server *s, const char *method, const char *prefix, tt_http_handler_fn fn,
                   void *arg);
/* Bind host:port (host NULL or "" for every address; port "0" for one the
 * kernel picks) and start accepting in a task. 0, TT_EINVAL, TT_EBUSY
 * (listening already, or shut down), TT_ENOTINIT, or the errors of
 * tt_tcp_listen. Any thread. */
int tt_http_server_listen(tt_http_server *s, const char *host, const char *port);
/* The bound port (> 0), TT_EINVAL before listen. */
int tt_http_server_port(const tt_http_server *s);
/* Stop accepting and close idle connections at once; let requests in
 * progress finish within grace_ns (< 0: opts.shutdown_grace), their
 * responses saying Connection: close; then cancel their contexts and cut
 * their connections. Returns once every connection task has exited (a
 * handler that ignores its context is waited for, so never call it from
 * one of the server's own handlers: it would wait for itself). 0 or
 * TT_EINVAL. Any thread; a second call waits like the first. */
int tt_http_server_shutdown(tt_http_server *s, int64_t grace_ns);
/* Shut down (with opts.shutdown_grace) if still running, then free. */
void tt_http_server_free(tt_http_server *s);

/* The request. Strings are NUL-terminated and live until the handler
 * returns; NULL for a NULL exchange. The path is the target's path as
 * sent (not percent-decoded). */
const char *tt_http_req_method(const tt_http_exchange *ex);
const char *tt_http_req_path(const tt_http_exchange *ex);
/* The decoded value of query parameter `key` into buf (NUL-terminated):
 * its length (>= 0), TT_ENOENT when absent, TT_EINVAL (NULL arguments, a
 * bad %-escape), TT_ENOMEM when it does not fit in cap. */
int tt_http_req_query(const tt_http_exchange *ex, const char *key, char *buf, size_t cap);
/* The value of the first header field called `name` (any case), leading
 * and trailing whitespace removed, or NULL when absent. */
const char *tt_http_req_header(const tt_http_exchange *ex, const char *name);
/* Read up to n bytes of the body (chunked framing removed): how many
 * (> 0), 0 at its end, TT_EINVAL (bad arguments; a malformed or too large
 * body: the server then answers 400 or 413 if the handler has not
 * answered, and closes), TT_EOF (the client went away), TT_ETIMEDOUT
 * (idle_timeout without a byte, or the request timeout), TT_ECANCELED
 * (shutdown). Sends "100 Continue" first when the client asked for it and
 * no response has started. Task only (it is called from handlers). */
int64_t tt_http_req_body_read(tt_http_exchange *ex, void *buf, size_t n);
/* The request's context (borrowed: valid until the handler returns), or
 * NULL when out of memory. It is cancelled when the client closes or
 * resets the connection (cause TT_EOF or TT_ECONNRESET; watched once the
 * body has been read), at the request timeout (TT_ETIMEDOUT), and at
 * shutdown once the grace is over. */
tt_context *tt_http_req_ctx(tt_http_exchange *ex);

/* A response field, sent with the response (before it starts only).
 * TT_EINVAL: NULL, a name that is not a token, a value with CR, LF or
 * another control byte, Content-Length or Transfer-Encoding (the server
 * frames the body), or the response has started. TT_ENOMEM. */
int tt_http_resp_header(tt_http_exchange *ex, const char *name, const char *value);
/* The status a streamed response (tt_http_resp_write) starts with
 * (default 200). TT_EINVAL outside 200..599 or once started. */
int tt_http_resp_status(tt_http_exchange *ex, int status);
/* The whole response: status (200..599), Content-Type (NULL: none), body
 * with its Content-Length (no body bytes for HEAD). 0, TT_EINVAL (bad
 * arguments, a body for 204/304, a response already started), or the
 * write's error (TT_ECONNRESET, TT_ETIMEDOUT, ...). */
int tt_http_respond(tt_http_exchange *ex, int status, const char *content_type, const void *body,
                    size_t len);
/* Stream the body: the first call sends the head (tt_http_resp_status,
 * the fields) and Transfer-Encoding: chunked; each call one chunk; the
 * server ends the body when the handler returns. To an HTTP/1.0 client
 * the body is gathered and sent with a Content-Length at the end. 0,
 * TT_EINVAL (after tt_http_respond, or a status without a body), or the
 * write's error. */
int tt_http_resp_write(tt_http_exchange *ex, const void *data, size_t len);
/* A handler that returns without answering gets 500. */

/* ---- Debug endpoints ----------------------------------------------------
 *
 * What Go's net/http/pprof serves, on a tt_http_server: prefix/pprof/
 * (index), prefix/pprof/goroutine and prefix/pprof/goroutineleak with
 * ?debug=0 (gzipped protobuf), 1 or 2 (text), prefix/tasks (the live
 * page), prefix/tasks.json, prefix/dump.json, and /metrics (Prometheus
 * text). They show every task's stack: serve them on loopback only, or
 * behind authentication (docs/HTTP.md, "Debug endpoints"). */

/* Mount them on s under prefix (NULL: "/debug/"; must start and end with
 * '/'), plus /metrics. Before listen. 0, TT_EINVAL, TT_EBUSY, TT_ENOMEM. */
int tt_debug_mount(tt_http_server *s, const char *prefix);
/* A server with only the debug endpoints, listening on addr "host:port"
 * (NULL: "127.0.0.1:6060"; port 0 for an ephemeral one, see
 * tt_http_server_port). Stop it with tt_http_server_shutdown and free.
 * 0, TT_EINVAL (out NULL, no ':' in addr), or the errors of new/listen. */
int tt_debug_serve(const char *addr, tt_http_server **out);

/* ---- Internal entry points used by the macros above ------------------- */

int64_t tt__spawn(tt_fn fn, void *arg, const tt_spawn_opts *opts, const char *entry,
                  const char *file, int line, const char *func);
tt_chan *tt__chan_make(size_t elem_size, size_t cap, const char *file, int line);
int tt__chan_close(tt_chan *c, const char *file, int line);
tt_context *tt__with(tt_context *parent, int64_t deadline, const char *file, int line);
int64_t tt__timeout_deadline(int64_t ns);
tt_timer *tt__timer_make(int64_t ns, const char *file, int line);
tt_ticker *tt__ticker_make(int64_t period, const char *file, int line);
tt_group *tt__group_make(tt_context *parent, int limit, const char *file, int line);
int64_t tt__group_go(tt_group *g, tt_group_fn fn, void *arg, const char *entry, const char *file,
                     int line, const char *func);
int tt__main(tt_fn fn, void *arg, const char *entry, const char *file, int line, const char *func);
int64_t tt__wg_spawn(tt_wg *wg, tt_fn fn, void *arg, const tt_spawn_opts *opts, const char *entry,
                     const char *file, int line, const char *func);

/* ---- Network I/O ------------------------------------------------------
 *
 * Descriptors registered with the runtime's poller (one epoll per runtime):
 * a task that would block parks in "IO wait" and its worker runs other
 * tasks; 10,000 idle connections cost 10,000 parked tasks, not threads.
 * Every blocking call is task only and comes in three forms: plain (waits
 * as long as it takes), _until (a deadline on the tt_now() clock: then
 * TT_ETIMEDOUT) and _ctx (the context's deadline and cancellation: its
 * error, TT_ECANCELED or TT_ETIMEDOUT). Errors common to all: TT_EBADF for
 * a value no open call returned, TT_ECLOSED for a handle closed before the
 * call or while it waited (by another task), TT_ENOTASK off a task. Other
 * system errors come as TT_ESYS(errno) (tt_errno gives the errno back).
 * The runtime closes every descriptor still open when it shuts down.
 */

typedef struct tt_fd {
  int64_t h; /* opaque; 0 is never a valid handle */
} tt_fd;

enum { TT_READABLE = 1, TT_WRITABLE = 2 };

/* Register an open descriptor (socket, pipe, eventfd, tty; not a regular
 * file: TT_EINVAL) and make it non-blocking. It now belongs to the runtime:
 * tt_fd_close closes it. TT_EBADF when fd is not open. Any thread. */
int tt_fd_attach(int fd, tt_fd *out);
/* Unregister without closing: returns the descriptor (still open,
 * non-blocking), waking tasks that wait on it with TT_ECLOSED. */
int tt_fd_detach(tt_fd f);
/* Close: tasks waiting on f wake with TT_ECLOSED; close(2) happens once
 * the last call using f has left it. Any thread. */
int tt_fd_close(tt_fd f);
/* The descriptor number (>= 0), for setsockopt and the like. */
int tt_fd_num(tt_fd f);

/* Wait until f is readable (events TT_READABLE) or writable
 * (TT_WRITABLE): 0, or the errors above; TT_EINVAL for other events. For code that drives its own
 * non-blocking descriptor (a library's): try the call, wait on EAGAIN.
 * The wake-up can be spurious (the poller is edge-triggered: try again). */
int tt_fd_wait(tt_fd f, int events);
int tt_fd_wait_until(tt_fd f, int events, int64_t deadline);
int tt_fd_wait_ctx(tt_fd f, int events, tt_context *ctx);

/* Read up to n bytes: how many (> 0), TT_EOF at end of stream,
 * TT_ECONNRESET when the peer reset the connection. n == 0 returns 0. */
int64_t tt_fd_read(tt_fd f, void *buf, size_t n);
int64_t tt_fd_read_until(tt_fd f, void *buf, size_t n, int64_t deadline);
int64_t tt_fd_read_ctx(tt_fd f, void *buf, size_t n, tt_context *ctx);
/* Read exactly n bytes: n, or an error (TT_EOF when the stream ends
 * first; the bytes read so far are in buf). */
int64_t tt_fd_read_full(tt_fd f, void *buf, size_t n);
int64_t tt_fd_read_full_until(tt_fd f, void *buf, size_t n, int64_t deadline);
int64_t tt_fd_read_full_ctx(tt_fd f, void *buf, size_t n, tt_context *ctx);
/* Write all n bytes: n, or an error (TT_ECONNRESET when the peer is gone;
 * sockets never raise SIGPIPE). */
int64_t tt_fd_write_all(tt_fd f, const void *buf, size_t n);
int64_t tt_fd_write_all_until(tt_fd f, const void *buf, size_t n, int64_t deadline);
int64_t tt_fd_write_all_ctx(tt_fd f, const void *buf, size_t n, tt_context *ctx);

enum { TT_SHUT_RD = 1, TT_SHUT_WR = 2, TT_SHUT_RDWR = 3 };
/* shutdown(2) a socket's reading and/or writing side (TT_SHUT_WR sends the
 * peer EOF). TT_EINVAL for a bad `how`. */
int tt_fd_shutdown(tt_fd f, int how);

/* ---- TCP and Unix sockets ---- */

enum { TT_TCP_REUSEADDR = 1, TT_TCP_REUSEPORT = 2 };
/* Listen on host:port (host NULL or "" for every address; port "0" for
 * one the kernel picks, see tt_sock_port). flags: TT_TCP_*. Any thread;
 * names resolve on the blocking pool when called from a task. */
int tt_tcp_listen(const char *host, const char *port, int flags, tt_fd *out);
/* Accept a connection: 0 and *out, or the errors above. */
int tt_tcp_accept(tt_fd l, tt_fd *out);
int tt_tcp_accept_until(tt_fd l, tt_fd *out, int64_t deadline);
int tt_tcp_accept_ctx(tt_fd l, tt_fd *out, tt_context *ctx);
/* Connect to host:port, trying each address it resolves to:
 * TT_ECONNREFUSED (nobody listens), TT_ERESOLVE (no such name),
 * TT_ETIMEDOUT / TT_ECANCELED. Name resolution runs on the blocking pool
 * (never on a worker) unless host is a numeric address; the deadline or
 * context bounds the connect, not a resolution already started. */
int tt_tcp_connect(const char *host, const char *port, tt_fd *out);
int tt_tcp_connect_until(const char *host, const char *port, tt_fd *out, int64_t deadline);
int tt_tcp_connect_ctx(const char *host, const char *port, tt_fd *out, tt_context *ctx);
/* TCP_NODELAY on or off. */
int tt_tcp_nodelay(tt_fd f, int on);
/* SO_KEEPALIVE on or off; idle_seconds > 0 also sets the idle time and
 * probe interval. */
int tt_tcp_keepalive(tt_fd f, int on, int idle_seconds);
/* The local port of a TCP socket (> 0), e.g. after listening on "0". */
int tt_sock_port(tt_fd f);

/* Unix stream sockets at a filesystem path (TT_EINVAL when it is too long;
 * listen fails with TT_ESYS(EADDRINUSE) when the path exists). */
int tt_unix_listen(const char *path, tt_fd *out);
int tt_unix_connect(const char *path, tt_fd *out);
int tt_unix_connect_until(const char *path, tt_fd *out, int64_t deadline);
int tt_unix_connect_ctx(const char *path, tt_fd *out, tt_context *ctx);

/* getaddrinfo without blocking a worker: from a task it runs on the
 * blocking pool. 0 and *res (free it with freeaddrinfo), TT_ERESOLVE when
 * the name does not resolve, TT_EINVAL for a NULL host and port. */
struct addrinfo;
int tt_getaddrinfo(const char *host, const char *port, int socktype, struct addrinfo **res);

/* ---- Signals (Go's os/signal) ------------------------------------------
 *
 * Chosen signals arrive as values on a channel, or cancel a context,
 * through a signalfd on the runtime's poller: no handler to write, no
 * thread to start. The signals are blocked in the calling thread, and any
 * thread of the runtime that takes one blocks it from then on, so the
 * process must block them (pthread_sigmask) before it starts threads of
 * its own: signalfd reads only signals that no thread takes. Send them to
 * the process (kill(getpid(), s)), not to a thread. Bad signals (KILL,
 * STOP, the faults SEGV/BUS/ILL/FPE/TRAP/SYS, URG which the runtime uses,
 * glibc's own, out of range), NULL arguments and n <= 0 give TT_EINVAL;
 * the signal tt_dump_on_signal has armed gives TT_EBUSY; TT_ENOTINIT /
 * TT_ESHUTDOWN when the runtime is not running. Any thread.
 */

/* Deliver each of sigs[0..n-1] as an int on c (made with elem_size
 * sizeof(int), else TT_EINVAL) with a non-blocking send: when c is full the
 * signal is dropped, as Go does. Calling it again for c adds signals. The
 * runtime holds a reference to c until tt_signal_stop or tt_shutdown. */
int tt_signal_notify(tt_chan *c, const int *sigs, int n);
/* No more deliveries on c once this returns; a signal no channel watches
 * any more gets its previous disposition back and is unblocked in the
 * calling thread (one sent meanwhile and not yet read is dropped).
 * TT_ENOENT when c watches nothing, TT_EINVAL for NULL. */
int tt_signal_stop(tt_chan *c);
/* A child of parent (NULL: tt_background()) cancelled, with TT_ECANCELED
 * and the cause "signal received", when one of sigs arrives. Cancelling it
 * ends the watch: tt_context_release(*out) is Go's stop(), and a second
 * signal after the first one has cancelled it gets the signal's old
 * disposition (a second Ctrl-C ends the program). */
int tt_signal_notify_ctx(tt_context *parent, const int *sigs, int n, tt_context **out);

/* ---- HTTP client --------------------------------------------------------
 *
 * The seed's leak-proof client: every request has a timeout, at most
 * max_in_flight run at once, a response body is capped, and shutdown stops
 * new requests and gives the ones in flight a grace period before it cuts
 * them off. Transfers are libcurl's, driven through its multi-socket API
 * from the runtime's poller by one driver task per client: a request parks
 * its calling task (in "chan receive" on its reply) and takes no thread.
 * Every task the client starts (the driver, and the watcher of its
 * sockets) belongs to the client and is gone when tt_http_client_shutdown
 * returns. Built when libcurl is found (it is required on native builds:
 * scripts/deps.sh build installs it). docs/HTTP.md, "Client".
 *
 * Errors: TT_ETIMEDOUT (the request's timeout, or its context's deadline),
 * TT_ECANCELED (its context was cancelled, or shutdown cut it off after the
 * grace), TT_ETOOBIG (the body passed max_body: the transfer is stopped at
 * the limit, or at once when Content-Length announces more),
 * TT_ECONNREFUSED, TT_ERESOLVE (the host name did not resolve),
 * TT_ECONNRESET (the connection broke before the response was complete),
 * TT_EPROTO (not a valid HTTP response), TT_ESHUTDOWN (the client is shut
 * down or shutting down: the request was not started), TT_EINVAL (NULL
 * client, response or URL; a URL curl rejects), TT_ENOTASK (off a task),
 * TT_ENOMEM. A status such as 404 or 500 is a response, not an error.
 * The response's `error` says more in words (curl's message) whenever a
 * call fails after the transfer started.
 */
typedef struct tt_http_client tt_http_client;

/* Zero fields take the defaults; negative ones are TT_EINVAL. Times in ns. */
typedef struct tt_http_client_opts {
  int64_t timeout;         /* whole request, connect to last body byte: 30 s */
  int64_t connect_timeout; /* TCP connect: 10 s */
  int max_in_flight;       /* requests at once; more wait for a slot (with their
                              context): 64 */
  int64_t max_body;        /* response body bytes: 10 MiB */
  int max_idle_conns;      /* keep-alive connections kept for reuse: 16 */
  const char *user_agent;  /* NULL: "tether/<version>" */
} tt_http_client_opts;

/* A body handed to a callback as it arrives instead of being gathered
 * (large downloads): called on the client's driver task, so it must not
 * block; non-zero stops the transfer, and the request fails with
 * TT_ECANCELED. max_body still applies. */
typedef int (*tt_http_body_fn)(const void *data, size_t n, void *arg);

typedef struct tt_http_request {
  const char *method;         /* NULL: GET (POST when body is set) */
  const char *url;            /* http:// or https:// */
  const char *const *headers; /* "Name: value" lines, NULL-terminated, or NULL */
  const void *body;           /* request body, or NULL */
  size_t body_len;
  int64_t timeout;         /* 0: the client's; < 0: TT_EINVAL */
  int64_t max_body;        /* 0: the client's; < 0: TT_EINVAL */
  tt_http_body_fn on_body; /* NULL: gather the body into the response */
  void *on_body_arg;
} tt_http_request;

typedef struct tt_http_response {
  int status;    /* 200, 404, ... (0 when no response head arrived) */
  char *headers; /* the head's fields, "Name: value\r\n" each, NUL-terminated */
  size_t headers_len;
  char *body;      /* NUL-terminated (the NUL is not counted); NULL with on_body */
  size_t body_len; /* bytes received (also with on_body) */
  char error[256]; /* why the call failed, in words; "" on success */
} tt_http_response;

/* A new client. opts: NULL for the defaults. 0, TT_EINVAL, TT_ENOMEM,
 * TT_ENOTINIT (the runtime is not running). */
int tt_http_client_new(const tt_http_client_opts *opts, tt_http_client **out);
/* One request, from a task: *resp is filled (free it with
 * tt_http_response_free, also after an error) and the call returns 0 or an
 * error above. ctx (NULL: none) cancels or bounds this request besides its
 * timeout; the request is then stopped inside curl before the call
 * returns. */
int tt_http_do(tt_http_client *c, tt_context *ctx, const tt_http_request *req,
               tt_http_response *resp);
/* tt_http_do of a GET. */
int tt_http_get(tt_http_client *c, tt_context *ctx, const char *url, tt_http_response *resp);
/* The value of the first response field called `name` (any case) in buf
 * (NUL-terminated, whitespace trimmed): its length, TT_ENOENT when absent,
 * TT_ENOMEM when it does not fit, TT_EINVAL for NULL arguments. */
int tt_http_response_header(const tt_http_response *resp, const char *name, char *buf, size_t cap);
void tt_http_response_free(tt_http_response *resp);
/* Requests running or waiting for a slot right now. */
int tt_http_client_in_flight(const tt_http_client *c);
/* Stop: new requests fail with TT_ESHUTDOWN at once; those in flight get
 * grace_ns to finish, then are cancelled (their calls return TT_ECANCELED).
 * Returns how many were cut off (>= 0), once every request has returned
 * and every task of the client has exited; TT_EINVAL (NULL, negative
 * grace), TT_ENOTASK. A second call returns 0. */
int tt_http_client_shutdown(tt_http_client *c, int64_t grace_ns);
/* Free a client that was shut down: 0; TT_EBUSY (nothing freed) while it
 * has not been, TT_EINVAL for NULL. */
int tt_http_client_free(tt_http_client *c);

#ifdef __cplusplus
}
#endif
#endif /* TETHER_H */
