/*
 * The network poller: one epoll instance per runtime, edge-triggered, each
 * descriptor registered once (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET) when it
 * is opened and removed when its last user lets it go.
 *
 * There is no poller thread: the idle worker holding the poller seat
 * (idle.c) blocks in epoll_wait until the earliest timer, and an eventfd in
 * the same epoll set interrupts it when work or an earlier timer arrives
 * (tt__netpoll_break). Running workers poll without blocking from the
 * scheduler now and then (sched.c), so I/O is not starved while every
 * worker is busy. A thread of its own would add a hop to every wake-up.
 *
 * Edge triggering means an event says "something changed", once. A task
 * always tries its system call first and waits only after EAGAIN; an edge
 * that arrives while nobody waits is kept in rready/wready, which a task
 * about to wait checks under the pollfd's lock, so no edge is lost between
 * the EAGAIN and the park.
 *
 * Descriptors live in a slab that is never freed (its chunks stay
 * reachable from `chunks`): a late event or a stale handle for a released
 * slot reads valid memory and is told apart by the generation.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/netpoll.h"

#define CHUNK_SHIFT 8
#define CHUNK_SIZE (1u << CHUNK_SHIFT)
#define MAX_CHUNKS (1u << 14) /* 4 Mi descriptors */
#define EVENT_BATCH 128
#define BREAK_TAG UINT64_MAX /* epoll data of the eventfd */

static _Atomic(tt_pollfd *) chunks[MAX_CHUNKS];
static struct {
  tt_spinlock lock; /* the free list and the chunk count */
  tt_pollfd *free;
  uint32_t nchunks;
} slab;

static int epfd = -1;
static int breakfd = -1;
static _Atomic int break_pending; /* a write to breakfd is not yet read */
static _Atomic int blocked;       /* workers inside a blocking epoll_wait */
_Atomic int64_t tt__netpoll_waiters;
_Atomic uint64_t tt__netpoll_signals;

bool tt__netpoll_active(void) { return __atomic_load_n(&epfd, __ATOMIC_ACQUIRE) >= 0; }

static tt_pollfd *slot(uint32_t index) {
  if (index >> CHUNK_SHIFT >= MAX_CHUNKS)
    return NULL;
  tt_pollfd *c = atomic_load_explicit(&chunks[index >> CHUNK_SHIFT], memory_order_acquire);
  return c ? &c[index & (CHUNK_SIZE - 1)] : NULL;
}

static uint64_t handle_of(tt_pollfd *pd) {
  return (uint64_t)atomic_load_explicit(&pd->gen, memory_order_relaxed) << 32 | pd->index;
}

/* Under slab.lock: a new chunk onto the free list. */
static bool slab_grow_locked(void) {
  if (slab.nchunks == MAX_CHUNKS)
    return false;
  tt_pollfd *c = calloc(CHUNK_SIZE, sizeof *c);
  if (!c)
    return false;
  uint32_t base = slab.nchunks << CHUNK_SHIFT;
  for (uint32_t i = CHUNK_SIZE; i-- > 0;) {
    c[i].index = base + i;
    c[i].fd = -1;
    atomic_store_explicit(&c[i].gen, 1, memory_order_relaxed);
    c[i].next_free = slab.free;
    slab.free = &c[i];
  }
  atomic_store_explicit(&chunks[slab.nchunks], c, memory_order_release);
  slab.nchunks++;
  return true;
}

static tt_pollfd *slab_get(void) {
  tt_spin_lock(&slab.lock);
  if (!slab.free && !slab_grow_locked()) {
    tt_spin_unlock(&slab.lock);
    return NULL;
  }
  tt_pollfd *pd = slab.free;
  slab.free = pd->next_free;
  tt_spin_unlock(&slab.lock);
  pd->next_free = NULL;
  return pd;
}

/* The slot goes back with a new generation: every handle and every event
 * still carrying the old one now misses. Generations stay within 31 bits
 * so handles are positive int64 values, and never 0. */
static void slab_put(tt_pollfd *pd) {
  uint32_t g = (atomic_load_explicit(&pd->gen, memory_order_relaxed) + 1) & 0x7fffffff;
  atomic_store_explicit(&pd->gen, g ? g : 1, memory_order_release);
  tt_spin_lock(&slab.lock);
  pd->next_free = slab.free;
  slab.free = pd;
  tt_spin_unlock(&slab.lock);
}

int tt__netpoll_init(void) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0)
    return errno == ENOMEM ? TT_ENOMEM : TT_ESYS(errno);
  int bf = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (bf < 0) {
    int e = errno;
    close(ep);
    return TT_ESYS(e);
  }
  /* Level-triggered: a break stays visible until the blocking poller reads
   * it, whichever poll sees it first. */
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = BREAK_TAG};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, bf, &ev) < 0) {
    int e = errno;
    close(bf);
    close(ep);
    return TT_ESYS(e);
  }
  breakfd = bf;
  atomic_store(&break_pending, 0);
  atomic_store(&tt__netpoll_waiters, 0);
  __atomic_store_n(&epfd, ep, __ATOMIC_RELEASE);
  return 0;
}

/* After the workers have stopped: nothing polls or waits any more. The
 * tasks still queued on pollfds are being dropped, so the queues are just
 * forgotten, and every descriptor the runtime opened is closed. */
void tt__netpoll_shutdown(void) {
  if (!tt__netpoll_active())
    return;
  tt_spin_lock(&slab.lock);
  uint32_t n = slab.nchunks << CHUNK_SHIFT;
  tt_spin_unlock(&slab.lock);
  for (uint32_t i = 0; i < n; i++) {
    tt_pollfd *pd = slot(i);
    tt_spin_lock(&pd->lock);
    bool live = pd->fd >= 0;
    int fd = pd->fd;
    bool close_it = pd->close_fd;
    pd->fd = -1;
    pd->rq.first = pd->rq.last = NULL;
    pd->wq.first = pd->wq.last = NULL;
    pd->refs = 0;
    __atomic_store_n(&pd->closing, false, __ATOMIC_RELAXED);
    tt_spin_unlock(&pd->lock);
    if (!live)
      continue;
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &(struct epoll_event){0});
    if (close_it)
      close(fd);
    slab_put(pd);
  }
  close(breakfd);
  close(epfd);
  breakfd = -1;
  __atomic_store_n(&epfd, -1, __ATOMIC_RELEASE);
  atomic_store(&tt__netpoll_waiters, 0);
}

int64_t tt__pollfd_open(int fd, bool close_fd, tt_pollfd **out) {
  return tt__pollfd_open_cb(fd, close_fd, NULL, out);
}

int64_t tt__pollfd_open_cb(int fd, bool close_fd, int (*on_event)(tt_pollfd *pd), tt_pollfd **out) {
  if (!tt__netpoll_active())
    return TT_ENOTINIT;
  if (fd < 0)
    return TT_EBADF;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0)
    return TT_EBADF;
  if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return TT_ESYS(errno);
  tt_pollfd *pd = slab_get();
  if (!pd)
    return TT_ENOMEM;
  int type;
  socklen_t tl = sizeof type;
  bool is_socket = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0;
  /* Under the slot's lock: a late event for the slot's previous user may be
   * in deliver() right now, which reads these under the lock (and then
   * drops the event on the generation). */
  tt_spin_lock(&pd->lock);
  pd->fd = fd;
  pd->close_fd = close_fd;
  __atomic_store_n(&pd->closing, false, __ATOMIC_RELAXED);
  pd->rready = pd->wready = false;
  pd->refs = 1;
  pd->rq.first = pd->rq.last = NULL;
  pd->wq.first = pd->wq.last = NULL;
  pd->since = tt_now();
  pd->is_socket = is_socket;
  pd->peer[0] = 0;
  pd->on_event = on_event;
  tt_spin_unlock(&pd->lock);
  uint64_t h = handle_of(pd);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = h};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    int e = errno;
    pd->fd = -1;
    slab_put(pd);
    /* EPERM: a regular file or directory, which epoll cannot watch. */
    return e == EPERM ? TT_EINVAL : e == ENOMEM ? TT_ENOMEM : e == EBADF ? TT_EBADF : TT_ESYS(e);
  }
  if (out)
    *out = pd;
  return (int64_t)h;
}

int tt__pollfd_get(int64_t handle, tt_pollfd **out) {
  uint32_t gen = (uint32_t)((uint64_t)handle >> 32);
  tt_pollfd *pd = handle > 0 ? slot((uint32_t)handle) : NULL;
  if (!pd || gen == 0 || gen > 0x7fffffff)
    return TT_EBADF;
  if (atomic_load_explicit(&pd->gen, memory_order_acquire) != gen)
    return TT_ECLOSED;
  tt_spin_lock(&pd->lock);
  bool ok =
      atomic_load_explicit(&pd->gen, memory_order_relaxed) == gen && pd->fd >= 0 && !pd->closing;
  if (ok)
    pd->refs++;
  tt_spin_unlock(&pd->lock);
  *out = pd;
  return ok ? 0 : TT_ECLOSED;
}

void tt__pollfd_put(tt_pollfd *pd) {
  tt_spin_lock(&pd->lock);
  bool last = --pd->refs == 0;
  int fd = pd->fd;
  if (last)
    pd->fd = -1;
  tt_spin_unlock(&pd->lock);
  if (!last)
    return;
  /* Explicit removal: a dup of fd elsewhere would keep the registration
   * alive past close(2). */
  if (tt__netpoll_active())
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &(struct epoll_event){0});
  if (pd->close_fd)
    close(fd);
  slab_put(pd);
}

/* Under pd's lock: claim every waiter of q into out. */
static int claim_all(tt_waitq *q, tt_task **out, int n, int max) {
  tt_waiter *w;
  while (n < max && (w = tt__waitq_claim_any(q)))
    out[n++] = w->op->task;
  return n;
}

#define WAKE_MAX 64

int tt__pollfd_close(tt_pollfd *pd, bool keep_fd) {
  tt_task *wake[WAKE_MAX];
  tt_spin_lock(&pd->lock);
  if (pd->closing) {
    tt_spin_unlock(&pd->lock);
    return TT_ECLOSED;
  }
  __atomic_store_n(&pd->closing, true,
                   __ATOMIC_RELEASE); /* read unlocked by woken waiters (fd.c) */
  if (keep_fd)
    pd->close_fd = false;
  pd->refs--; /* the handle's own reference; the caller still holds one */
  for (;;) {
    int n = claim_all(&pd->rq, wake, 0, WAKE_MAX);
    n = claim_all(&pd->wq, wake, n, WAKE_MAX);
    tt_spin_unlock(&pd->lock);
    for (int i = 0; i < n; i++)
      tt__ready(wake[i]);
    if (n < WAKE_MAX)
      return 0;
    tt_spin_lock(&pd->lock);
  }
}

/* One event for the handle in `data`: wake the waiters of each direction
 * it concerns, or remember the edge when nobody waits. */
static int deliver(uint64_t data, uint32_t events) {
  uint32_t gen = (uint32_t)(data >> 32);
  tt_pollfd *pd = slot((uint32_t)data);
  if (!pd || atomic_load_explicit(&pd->gen, memory_order_acquire) != gen)
    return 0; /* a late event for a released slot */
  bool rd = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
  bool wr = events & (EPOLLOUT | EPOLLHUP | EPOLLERR);
  int total = 0;
  tt_task *wake[WAKE_MAX];
  for (;;) {
    int n = 0;
    tt_spin_lock(&pd->lock);
    if (atomic_load_explicit(&pd->gen, memory_order_relaxed) != gen || pd->fd < 0) {
      tt_spin_unlock(&pd->lock);
      return total;
    }
    int (*cb)(tt_pollfd *) = pd->on_event;
    if (cb) {
      tt_spin_unlock(&pd->lock);
      return cb(pd);
    }
    if (rd) {
      n = claim_all(&pd->rq, wake, n, WAKE_MAX);
      pd->rready = true;
    }
    if (wr) {
      n = claim_all(&pd->wq, wake, n, WAKE_MAX);
      pd->wready = true;
    }
    tt_spin_unlock(&pd->lock);
    for (int i = 0; i < n; i++)
      tt__ready(wake[i]);
    total += n;
    if (n < WAKE_MAX)
      return total;
  }
}

int tt__netpoll(int64_t timeout_ns) {
  int ep = __atomic_load_n(&epfd, __ATOMIC_ACQUIRE);
  if (ep < 0)
    return 0;
  int ms;
  if (timeout_ns < 0)
    ms = -1;
  else if (timeout_ns == 0)
    ms = 0;
  else if (timeout_ns >= 1000000000LL * 86400)
    ms = 86400 * 1000;
  else
    ms = (int)((timeout_ns + 999999) / 1000000); /* never wake before the timer */
  struct epoll_event evs[EVENT_BATCH];
  if (ms != 0)
    atomic_fetch_add(&blocked, 1);
  int n = epoll_wait(ep, evs, EVENT_BATCH, ms);
  if (ms != 0)
    atomic_fetch_sub(&blocked, 1);
  if (n < 0)
    return 0; /* EINTR: the caller recomputes its timeout and comes back */
  int readied = 0;
  for (int i = 0; i < n; i++) {
    if (evs[i].data.u64 == BREAK_TAG) {
      if (ms != 0) {
        uint64_t v;
        if (read(breakfd, &v, sizeof v) < 0 && errno != EAGAIN)
          tt__fatal("netpoll: reading the eventfd failed: %s", strerror(errno));
        atomic_store(&break_pending, 0);
      }
      continue;
    }
    readied += deliver(evs[i].data.u64, evs[i].events);
  }
  return readied;
}

bool tt__netpoll_should_poll(void) {
  return atomic_load_explicit(&tt__netpoll_waiters, memory_order_relaxed) > 0 &&
         atomic_load_explicit(&blocked, memory_order_relaxed) == 0;
}

void tt__netpoll_break(void) {
  int bf = breakfd;
  if (bf < 0)
    return;
  int zero = 0;
  if (!atomic_compare_exchange_strong(&break_pending, &zero, 1))
    return; /* a break is already on its way */
  uint64_t one = 1;
  while (write(bf, &one, sizeof one) < 0 && errno == EINTR)
    ;
}
