/*
 * Signals the Go way (os/signal's Notify, Stop and NotifyContext): chosen
 * signals become values on channels, or cancel a context, read by the
 * runtime's poller. No thread of its own, no handler doing work.
 *
 * Linux's way to read signals as data is a signalfd: a signal that every
 * thread blocks stays pending on the process, and the signalfd reads it.
 * Ours sits in the poller's epoll set with a callback (core/netpoll.h,
 * on_event), so a worker in epoll_wait, or a running worker polling,
 * reads it on its scheduler stack and makes a non-blocking send on each
 * channel that watches the signal: a full channel drops it, as Go's does.
 *
 * Blocking must hold in every thread, and the workers were started before
 * anyone asked. So each watched signal also gets a handler, a relay: a
 * thread that still had the signal unblocked takes it there and writes
 * its number to a pipe that the same callback reads; a worker also blocks
 * it from then on, a thread of the user's keeps its mask. Either way a
 * signal is read exactly once. The calling thread of tt_signal_notify
 * blocks the signals at once, and threads it starts later inherit that;
 * it unblocks them when it ends their last watch. The runtime's own
 * threads started later block them from birth (tt__thread_create).
 *
 * While any signal is watched the deadlock check stays quiet (a signal may
 * still wake a task), and the watched channels are roots for the leak
 * tools: the runtime keeps a reference and sends on them.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <ucontext.h>
#include <unistd.h>

#include "core/runtime.h"
#include "leak/hooks.h"
#include "net/hooks.h"
#include "net/net.h"
#include "observe/hooks.h"
#include "sync/chan.h"
#include "sync/context.h"

#define MAX_SIG 64

typedef struct watch {
  tt_chan *c;      /* a channel of int, or NULL */
  tt_context *ctx; /* or a context to cancel (tt_signal_notify_ctx) */
  uint64_t mask;   /* bit signo - 1 */
} watch;

/* setup_lock serialises the changes of the watched set (dispositions,
 * masks, the descriptors); reg_lock guards the watches and is all the
 * poller's callback takes. */
static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;
static tt_spinlock reg_lock;
static watch *watches;
static int nwatches, capwatches;

static int sigfd = -1;             /* the signalfd */
static int relay_rfd = -1;         /* the relay pipe's read end */
static _Atomic int relay_wfd = -1; /* and its write end, for the handler */
static uint64_t watched;           /* the union of the masks, as applied */
static uint64_t installed;         /* signals whose handler we replaced */
static struct sigaction saved[MAX_SIG + 1];
/* Signals tt_signal_notify blocked in this thread (unblocked when this
 * thread ends their watch, or shuts the runtime down). */
static __thread uint64_t blocked_by_us;

static uint64_t bit(int s) { return UINT64_C(1) << (s - 1); }

static void set_of(uint64_t mask, sigset_t *set) {
  sigemptyset(set);
  for (int s = 1; s <= MAX_SIG; s++)
    if (mask & bit(s))
      sigaddset(set, s);
}

/* The relay: this thread had the signal unblocked. A worker blocks it for
 * good (through the saved mask a real signal frame restores, and directly
 * for a handler that a sanitizer runs later, outside the frame); a thread
 * of the user's keeps its mask and relays each time. Either way the number
 * goes to the poller. */
static void relay(int signo, siginfo_t *si, void *uctx) {
  (void)si;
  int saved_errno = errno;
  if (tt__worker()) {
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    pthread_sigmask(SIG_BLOCK, &one, NULL);
    if (uctx)
      sigaddset(&((ucontext_t *)uctx)->uc_sigmask, signo);
  }
  unsigned char b = (unsigned char)signo;
  int fd = atomic_load_explicit(&relay_wfd, memory_order_relaxed);
  if (fd >= 0 && write(fd, &b, 1) < 0) {
    /* A full pipe drops the signal, as a full channel would. */
  }
  errno = saved_errno;
}

/* Is s a signal a channel may watch? Not KILL and STOP (uncatchable), not
 * the faults (they belong to the thread that faults, and SIGSEGV reports
 * stack overflows), not SIGURG (the runtime samples running tasks with it),
 * not glibc's own between 32 and SIGRTMIN. */
static bool valid_signal(int s) {
  if (s < 1 || s > MAX_SIG || s > SIGRTMAX)
    return false;
  if (s > 31 && s < SIGRTMIN)
    return false;
  switch (s) {
  case SIGKILL:
  case SIGSTOP:
  case SIGSEGV:
  case SIGBUS:
  case SIGILL:
  case SIGFPE:
  case SIGTRAP:
  case SIGSYS:
  case SIGURG: return false;
  default: return true;
  }
}

/* ---- Delivery (the poller's callback) ---------------------------------- */

/* The next signal read from either source, 0 when both are empty. */
static int next_signal(void) {
  struct signalfd_siginfo si;
  if (sigfd >= 0 && read(sigfd, &si, sizeof si) == (ssize_t)sizeof si)
    return (int)si.ssi_signo;
  unsigned char b;
  if (relay_rfd >= 0 && read(relay_rfd, &b, 1) == 1)
    return b;
  return 0;
}

static int on_signals(tt_pollfd *pd) {
  (void)pd;
  int delivered = 0;
  tt_context **fire = NULL;
  int nfire = 0, capfire = 0;
  tt_spin_lock(&reg_lock);
  int signo;
  while ((signo = next_signal()) > 0) {
    if (signo > MAX_SIG)
      continue;
    for (int i = 0; i < nwatches; i++) {
      watch *w = &watches[i];
      if (!(w->mask & bit(signo)))
        continue;
      if (w->c) {
        (void)tt_chan_try_send(w->c, &signo); /* full: dropped, as in Go */
        delivered++;
        continue;
      }
      if (nfire == capfire) {
        int cap = capfire ? 2 * capfire : 8;
        tt_context **f = realloc(fire, (size_t)cap * sizeof(tt_context *));
        if (!f)
          continue;
        fire = f;
        capfire = cap;
      }
      tt__context_ref_raw(w->ctx); /* it may be released once we let go */
      fire[nfire++] = w->ctx;
    }
  }
  tt_spin_unlock(&reg_lock);
  /* Cancelling runs the hook, which takes the locks we just let go. */
  for (int i = 0; i < nfire; i++) {
    tt_cancel_cause(fire[i], TT_ECANCELED, "signal received");
    tt__context_unref_raw(fire[i]);
    delivered++;
  }
  free(fire);
  return delivered;
}

/* ---- The watched set ----------------------------------------------------- */

/* Under setup_lock: make the process watch exactly `want`. */
static int apply_locked(uint64_t want) {
  uint64_t added = want & ~watched, removed = watched & ~want;
  if (!added && !removed)
    return 0;
  sigset_t set;
  if (added && sigfd < 0) {
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
      return TT_ESYS(errno);
    sigemptyset(&set);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      close(p[0]);
      close(p[1]);
      return TT_ESYS(e);
    }
    tt_pollfd *spd, *rpd;
    int64_t h1 = tt__pollfd_open_cb(fd, false, on_signals, &spd);
    int64_t h2 = h1 < 0 ? h1 : tt__pollfd_open_cb(p[0], false, on_signals, &rpd);
    if (h2 < 0) {
      if (h1 >= 0) {
        tt__pollfd_close(spd, true);
        tt__pollfd_put(spd);
      }
      close(fd);
      close(p[0]);
      close(p[1]);
      return (int)h2;
    }
    tt_spin_lock(&reg_lock);
    sigfd = fd;
    relay_rfd = p[0];
    tt_spin_unlock(&reg_lock);
    atomic_store(&relay_wfd, p[1]);
  }
  set_of(want, &set);
  tt_spin_lock(&reg_lock); /* the callback reads it under this lock */
  int rc = signalfd(sigfd, &set, 0) < 0 ? TT_ESYS(errno) : 0;
  tt_spin_unlock(&reg_lock);
  if (rc < 0)
    return rc;
  for (int s = 1; s <= MAX_SIG; s++) {
    if (!(added & bit(s)) || (installed & bit(s)))
      continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = relay;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(s, &sa, &saved[s]) == 0)
      installed |= bit(s);
  }
  if (added) {
    sigset_t add, old;
    set_of(added, &add);
    pthread_sigmask(SIG_BLOCK, &add, &old);
    for (int s = 1; s <= MAX_SIG; s++)
      if ((added & bit(s)) && !sigismember(&old, s))
        blocked_by_us |= bit(s);
  }
  if (removed) {
    /* Signals sent before the watch ended and not read yet are dropped:
     * a temporary signalfd for just those reads them off. */
    set_of(removed, &set);
    int tmp = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (tmp >= 0) {
      struct signalfd_siginfo si;
      while (read(tmp, &si, sizeof si) == (ssize_t)sizeof si)
        ;
      close(tmp);
    }
    for (int s = 1; s <= MAX_SIG; s++) {
      if (!(removed & bit(s)) || !(installed & bit(s)))
        continue;
      sigaction(s, &saved[s], NULL);
      installed &= ~bit(s);
    }
    uint64_t unblock = removed & blocked_by_us;
    if (unblock) {
      set_of(unblock, &set);
      pthread_sigmask(SIG_UNBLOCK, &set, NULL);
      blocked_by_us &= ~unblock;
    }
  }
  if (!watched && want)
    atomic_fetch_add(&tt__netpoll_waiters, 1); /* running workers poll for it */
  else if (watched && !want)
    atomic_fetch_sub(&tt__netpoll_waiters, 1);
  watched = want;
  atomic_store(&tt__netpoll_signals, want);
  return 0;
}

static uint64_t union_locked(void) {
  uint64_t m = 0;
  tt_spin_lock(&reg_lock);
  for (int i = 0; i < nwatches; i++)
    m |= watches[i].mask;
  tt_spin_unlock(&reg_lock);
  return m;
}

/* Under setup_lock and reg_lock: the watch of c or ctx, or NULL. */
static watch *find_locked(tt_chan *c, tt_context *ctx) {
  for (int i = 0; i < nwatches; i++)
    if ((c && watches[i].c == c) || (ctx && watches[i].ctx == ctx))
      return &watches[i];
  return NULL;
}

/* Under setup_lock: remove *w (its reference goes to the caller). */
static watch remove_locked(watch *w) {
  tt_spin_lock(&reg_lock);
  watch out = *w;
  *w = watches[--nwatches];
  tt_spin_unlock(&reg_lock);
  return out;
}

static int running(void) {
  int st = atomic_load(&tt__rt.state);
  return st == TT_RT_RUNNING ? 0 : st == TT_RT_STOPPING ? TT_ESHUTDOWN : TT_ENOTINIT;
}

static int mask_of(const int *sigs, int n, uint64_t *out) {
  if (!sigs || n <= 0)
    return TT_EINVAL;
  uint64_t m = 0;
  for (int i = 0; i < n; i++) {
    if (!valid_signal(sigs[i]))
      return TT_EINVAL;
    m |= bit(sigs[i]);
  }
  int dump = tt__dump_signal_armed();
  if (dump > 0 && dump <= MAX_SIG && (m & bit(dump)))
    return TT_EBUSY; /* tt_dump_on_signal's handler owns it */
  *out = m;
  return 0;
}

/* Under setup_lock: add a watch (merging into c's) and apply. */
static int add_locked(tt_chan *c, tt_context *ctx, uint64_t m) {
  tt_spin_lock(&reg_lock);
  watch *w = find_locked(c, ctx);
  if (w) {
    uint64_t before = w->mask;
    w->mask |= m;
    tt_spin_unlock(&reg_lock);
    int rc = apply_locked(union_locked());
    if (rc < 0) {
      tt_spin_lock(&reg_lock);
      w->mask = before;
      tt_spin_unlock(&reg_lock);
    }
    return rc < 0 ? rc : 1;
  }
  if (nwatches == capwatches) {
    int cap = capwatches ? 2 * capwatches : 8;
    watch *nw = realloc(watches, (size_t)cap * sizeof *nw);
    if (!nw) {
      tt_spin_unlock(&reg_lock);
      return TT_ENOMEM;
    }
    watches = nw;
    capwatches = cap;
  }
  watches[nwatches++] = (watch){c, ctx, m};
  tt_spin_unlock(&reg_lock);
  int rc = apply_locked(union_locked());
  if (rc < 0) {
    tt_spin_lock(&reg_lock);
    nwatches--;
    tt_spin_unlock(&reg_lock);
  }
  return rc;
}

int tt_signal_notify(tt_chan *c, const int *sigs, int n) {
  uint64_t m;
  int rc = mask_of(sigs, n, &m);
  if (rc < 0)
    return rc;
  if (!c || c->magic != TT_CHAN_MAGIC || c->elem_size != sizeof(int))
    return TT_EINVAL;
  pthread_mutex_lock(&setup_lock);
  if ((rc = running()) < 0) {
    pthread_mutex_unlock(&setup_lock);
    return rc;
  }
  tt__chan_ref_raw(c); /* the runtime's own reference, kept while it watches */
  rc = add_locked(c, NULL, m);
  pthread_mutex_unlock(&setup_lock);
  if (rc != 0) /* merged into a watch that has its reference, or failed */
    tt__chan_unref_raw(c);
  else
    tt__root_add(c); /* the poller sends on it: reachable for good */
  return rc < 0 ? rc : 0;
}

int tt_signal_stop(tt_chan *c) {
  if (!c)
    return TT_EINVAL;
  pthread_mutex_lock(&setup_lock);
  tt_spin_lock(&reg_lock);
  watch *w = find_locked(c, NULL);
  tt_spin_unlock(&reg_lock);
  if (!w) {
    pthread_mutex_unlock(&setup_lock);
    return TT_ENOENT;
  }
  remove_locked(w);
  apply_locked(union_locked());
  pthread_mutex_unlock(&setup_lock);
  tt__chan_unref_raw(c);
  return 0;
}

/* The hook of a watched context: it was cancelled (a signal, its parent,
 * or its owner's release), so its watch ends. */
static void ctx_cancelled(tt_context *ctx) {
  pthread_mutex_lock(&setup_lock);
  tt_spin_lock(&reg_lock);
  watch *w = find_locked(NULL, ctx);
  tt_spin_unlock(&reg_lock);
  if (w) {
    remove_locked(w);
    apply_locked(union_locked());
  }
  pthread_mutex_unlock(&setup_lock);
  if (w)
    tt__context_unref_raw(ctx); /* the canceller holds one of its own */
}

int tt_signal_notify_ctx(tt_context *parent, const int *sigs, int n, tt_context **out) {
  uint64_t m;
  int rc = mask_of(sigs, n, &m);
  if (rc < 0)
    return rc;
  if (!out)
    return TT_EINVAL;
  if ((rc = running()) < 0)
    return rc;
  tt_context *ctx = tt_with_cancel(parent);
  if (!ctx)
    return TT_ENOMEM;
  pthread_mutex_lock(&setup_lock);
  if ((rc = running()) < 0) {
    pthread_mutex_unlock(&setup_lock);
    tt_context_release(ctx);
    return rc;
  }
  tt__context_ref_raw(ctx); /* the watch's */
  rc = add_locked(NULL, ctx, m);
  /* A parent already done leaves the child done: nothing to watch. The
   * hook is set under setup_lock, so a cancel racing with us waits for
   * the watch to exist before it removes it. */
  if (rc == 0 && !tt__context_on_cancel(ctx, ctx_cancelled)) {
    tt_spin_lock(&reg_lock);
    watch *w = find_locked(NULL, ctx);
    tt_spin_unlock(&reg_lock);
    remove_locked(w);
    apply_locked(union_locked());
    rc = 1;
  }
  pthread_mutex_unlock(&setup_lock);
  if (rc != 0)
    tt__context_unref_raw(ctx);
  if (rc < 0) {
    tt_context_release(ctx);
    return rc;
  }
  *out = ctx;
  return 0;
}

void tt__signal_shutdown(void) {
  pthread_mutex_lock(&setup_lock);
  tt_spin_lock(&reg_lock);
  watch *all = watches;
  int n = nwatches;
  watches = NULL;
  nwatches = capwatches = 0;
  tt_spin_unlock(&reg_lock);
  for (int i = 0; i < n; i++)
    if (all[i].ctx)
      tt__context_clear_on_cancel(all[i].ctx);
  apply_locked(0); /* drops what is pending, puts the handlers back */
  int fds[3] = {sigfd, relay_rfd, atomic_exchange(&relay_wfd, -1)};
  tt_spin_lock(&reg_lock);
  sigfd = relay_rfd = -1;
  tt_spin_unlock(&reg_lock);
  pthread_mutex_unlock(&setup_lock);
  /* The poller is gone (tt__netpoll_shutdown forgot both registrations,
   * which do not own their descriptors). */
  for (int i = 0; i < 3; i++)
    if (fds[i] >= 0)
      close(fds[i]);
  for (int i = 0; i < n; i++) {
    if (all[i].c)
      tt__chan_unref_raw(all[i].c);
    else
      tt__context_unref_raw(all[i].ctx);
  }
  free(all);
}
