/*
 * The network poller (netpoll.c): one epoll instance per runtime, built
 * into the scheduler as Go's is. Every descriptor the runtime polls has a
 * tt_pollfd from a slab that lives as long as the process; its handle
 * (index and generation) is what epoll hands back with each event and what
 * the public tt_fd carries, so an event or a call for a descriptor that has
 * been closed since (and whose slot may be reused) is recognised and
 * dropped.
 *
 * Tasks wait on a pollfd's read or write queue through the ordinary wait
 * machinery (core/wait.h): the poller, a close, a deadline or a context
 * claims the wait. Waiting is in src/net (it needs sync/wait_on.h); the
 * core only registers, delivers events and closes.
 */
#ifndef TT_CORE_NETPOLL_H
#define TT_CORE_NETPOLL_H

#include "core/wait.h"

typedef struct tt_pollfd {
  tt_spinlock lock;
  int fd;
  uint32_t index;       /* slot in the slab */
  _Atomic uint32_t gen; /* bumped when the slot is released: stale handles miss */
  bool closing;         /* tt__pollfd_close was called: no new operation starts */
  bool close_fd;        /* close(2) the descriptor once the last user is gone */
  bool is_socket;       /* send(MSG_NOSIGNAL) works: no SIGPIPE on a broken peer */
  bool rready;          /* an edge for reading arrived while nobody waited */
  bool wready;          /* the same for writing */
  int32_t refs;         /* the open handle (until closing) + operations in progress */
  tt_waitq rq, wq;      /* tasks waiting to read / to write */
  int64_t since;        /* registration time (tt_now()) */
  struct tt_pollfd *next_free;
  /* What dumps show beside "IO wait": the peer, when the net layer knows it. */
  char peer[56];
  /* Set for a descriptor whose events the runtime handles itself (the
   * signalfd, net/signal.c): the poller calls it, on its own stack, instead
   * of waking waiters. It returns how many deliveries it made. */
  int (*on_event)(struct tt_pollfd *pd);
} tt_pollfd;

/* Start and stop the poller with the runtime (runtime.c). Shutdown closes
 * every descriptor still registered (their tasks are dropped like every
 * other blocked task), then the epoll instance and its eventfd. */
int tt__netpoll_init(void);
void tt__netpoll_shutdown(void);

/* Register fd (made non-blocking here) for its lifetime. close_fd: whether
 * the runtime closes fd when the pollfd goes (false for descriptors the
 * caller keeps, tt_fd_detach). Returns the handle (> 0) or a TT_E* code. */
int64_t tt__pollfd_open(int fd, bool close_fd, tt_pollfd **out);
/* The same for a descriptor whose every event calls on_event (set before
 * the descriptor is in the epoll set, so no edge is missed). */
int64_t tt__pollfd_open_cb(int fd, bool close_fd, int (*on_event)(tt_pollfd *pd), tt_pollfd **out);
/* The live pollfd for a handle, with a reference taken for the caller's
 * operation: 0, TT_ECLOSED for a handle of a descriptor closed since (or
 * being closed), TT_EBADF for a value no open call returned. */
int tt__pollfd_get(int64_t handle, tt_pollfd **out);
/* Drop a reference; the last one after a close releases the slot and
 * closes the descriptor (deferred close: no task can be inside a system
 * call on a number the kernel may already have given to another file). */
void tt__pollfd_put(tt_pollfd *pd);
/* Close: wake every waiter (they see `closing` and return TT_ECLOSED) and
 * drop the handle's reference; keep_fd leaves the descriptor open (detach).
 * The caller holds a reference from tt__pollfd_get and still puts it.
 * TT_ECLOSED when already closing. */
int tt__pollfd_close(tt_pollfd *pd, bool keep_fd);

/* Poll for events: timeout_ns 0 does not block, < 0 blocks until an event
 * or tt__netpoll_break. Tasks made runnable go to the calling worker.
 * Returns how many were readied. */
int tt__netpoll(int64_t timeout_ns);
/* Interrupt a blocking tt__netpoll (work arrived, or an earlier timer). */
void tt__netpoll_break(void);
/* Tasks waiting on descriptors right now: running workers poll without
 * blocking only when some exist. */
extern _Atomic int64_t tt__netpoll_waiters;
/* Should a running worker poll without blocking? When tasks wait on
 * descriptors and no worker sits in epoll_wait to see their events. */
bool tt__netpoll_should_poll(void);
/* Signals delivered through the poller's signalfd (net/signal.c), bit
 * signo - 1: while any is watched a signal may still wake a task, so the
 * global deadlock check says nothing, and the dump signal refuses them. */
extern _Atomic uint64_t tt__netpoll_signals;
/* Is the poller running (between tt__netpoll_init and shutdown)? */
bool tt__netpoll_active(void);

#endif
