/*
 * Idle workers: spinning, parking and waking threads.
 *
 * A worker that finds no work publishes itself on the idle list *before* it
 * looks at every queue one last time, and whoever makes work runnable adds
 * it *before* checking the idle count (tt__wakep). With sequentially
 * consistent atomics on both sides, either the waker sees the idle worker or
 * the worker sees the work: no wake-up is lost.
 *
 * One idle worker is the poller: it waits in epoll_wait (core/netpoll.c)
 * with a timeout equal to the earliest timer, then runs the expired timers;
 * descriptor events make their tasks runnable on it, and it leaves the idle
 * list to run them. Waking it (work, an earlier timer) goes through the
 * poller's eventfd while it sits in epoll_wait (w->in_poll), through its
 * futex word otherwise. The other idle workers sleep until woken. Waking
 * prefers a non-poller so the timer and I/O watch is not disturbed.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/netpoll.h"
#include "core/sched.h"
#include "core/stack.h"
#include "core/timer.h"
#include "leak/hooks.h"

static void futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline) {
  struct timespec ts, *tp = NULL;
  if (deadline != INT64_MAX) {
    int64_t d = deadline - tt_now();
    if (d <= 0)
      return;
    ts.tv_sec = d / 1000000000;
    ts.tv_nsec = d % 1000000000;
    tp = &ts;
  }
  syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, tp, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr) {
  syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* The store to wakeup and the load of in_poll pair with the poller's store
 * to in_poll and load of wakeup (both sequentially consistent): either the
 * poller sees the wake-up before it blocks, or we see it in epoll_wait and
 * break it out. C11 needs no more than seq_cst stores for that, but the
 * stores are exchanges: qemu-user on x86-64, which runs the aarch64 test
 * suite, lets an aarch64 store-release pass a later load-acquire, and both
 * sides then missed each other (the poller slept for good, work queued).
 * A read-modify-write is a full barrier on every machine and emulator. */
static void signal_worker(tt_worker *w) {
  atomic_exchange(&w->wakeup, 1);
  if (atomic_load(&w->in_poll))
    tt__netpoll_break();
  else
    futex_wake(&w->wakeup);
}

/* Only one thread may block in epoll_wait: an eventfd break wakes whichever
 * waiter the kernel picks, which must be the worker it was meant for. A
 * seat holder that finds the token taken (its predecessor has been woken
 * but is still on its way out) sleeps on its futex, and the predecessor
 * wakes it when it lets go of the token. */
static _Atomic int poll_token;

/* The poller seat: wait for descriptor events until the deadline or a
 * wake-up. Returns once tasks were made runnable here, or woken, or the
 * deadline passed. False when another thread holds the poll token. */
static bool poll_wait(tt_worker *w, int64_t deadline) {
  int free_token = 0;
  if (!atomic_compare_exchange_strong(&poll_token, &free_token, 1))
    return false;
  atomic_exchange(&w->in_poll, 1); /* see signal_worker */
  while (!atomic_load(&w->wakeup) && atomic_load(&tt__rt.state) == TT_RT_RUNNING) {
    int64_t timeout = -1;
    if (deadline != INT64_MAX) {
      timeout = deadline - tt_now();
      if (timeout <= 0)
        break;
    }
    if (tt__netpoll(timeout) > 0)
      break;
  }
  atomic_store(&w->in_poll, 0);
  atomic_store(&poll_token, 0);
  /* A new seat holder may be sleeping on its futex for want of the token. */
  tt_spin_lock(&tt__rt.idle_lock);
  tt_worker *p = tt__rt.poller;
  tt_spin_unlock(&tt__rt.idle_lock);
  if (p && p != w)
    signal_worker(p);
  return true;
}

/* Under idle_lock. Returns an idle worker to signal when w was the poller
 * and others sleep without a deadline: one of them must take over the
 * timers, or a timer could wait for as long as every running worker stays
 * busy. */
static tt_worker *unlink_idle_locked(tt_worker *w) {
  tt_worker **pp = &tt__rt.idle_list;
  while (*pp && *pp != w)
    pp = &(*pp)->idle_next;
  if (*pp)
    *pp = w->idle_next;
  w->idle_next = NULL;
  w->idle = false;
  atomic_fetch_sub(&tt__rt.nidle, 1);
  if (tt__rt.poller == w) {
    tt__rt.poller = NULL;
    atomic_store(&tt__rt.poll_until, INT64_MAX);
    return tt__rt.idle_list; /* it re-parks as the poller */
  }
  return NULL;
}

/* Take w off the idle list if it is still there. Returns false when a waker
 * already took it, in which case the waker counted it as spinning. */
static bool leave_idle(tt_worker *w) {
  tt_worker *successor = NULL;
  tt_spin_lock(&tt__rt.idle_lock);
  bool was = w->idle;
  if (was)
    successor = unlink_idle_locked(w);
  tt_spin_unlock(&tt__rt.idle_lock);
  if (successor)
    signal_worker(successor);
  return was;
}

void tt__idle_park(tt_worker *w) {
  tt_spin_lock(&tt__rt.idle_lock);
  if (atomic_load(&tt__rt.state) != TT_RT_RUNNING) {
    tt_spin_unlock(&tt__rt.idle_lock);
    return;
  }
  atomic_store(&w->wakeup, 0);
  w->idle = true;
  w->idle_next = tt__rt.idle_list;
  tt__rt.idle_list = w;
  atomic_fetch_add(&tt__rt.nidle, 1);
  bool poller = false;
  if (!tt__rt.poller) {
    tt__rt.poller = w;
    poller = true;
  }
  tt_spin_unlock(&tt__rt.idle_lock);

  if (w->spinning) {
    w->spinning = false;
    atomic_fetch_sub(&tt__rt.nspinning, 1);
  }

  /* Idle time is when surplus stack pages go back to the kernel, a batch
   * at a time, as long as nobody needs this worker. */
  while (!atomic_load(&w->wakeup) && !tt__work_visible() && tt__stacks_trim())
    ;

  /* Last look, now that wakers can see us. */
  if (atomic_load(&tt__rt.state) == TT_RT_RUNNING && !atomic_load(&w->wakeup)) {
    if (!tt__work_visible()) {
      int64_t deadline = INT64_MAX;
      if (poller) {
        deadline = tt__timers_earliest();
        atomic_store(&tt__rt.poll_until, deadline);
      }
      /* The last worker to go idle, with no timer to wait for: is anything
       * left that could ever wake a task? */
      if (atomic_load(&tt__rt.nidle) == tt__rt.nworkers && tt__timers_earliest() == INT64_MAX)
        tt__checkdead();
      bool polled = poller && tt__netpoll_active() && poll_wait(w, deadline);
      while (!polled && !atomic_load(&w->wakeup) && atomic_load(&tt__rt.state) == TT_RT_RUNNING) {
        futex_wait(&w->wakeup, 0, deadline);
        if (deadline != INT64_MAX && tt_now() >= deadline)
          break;
      }
    }
  }

  if (!leave_idle(w)) {
    /* A waker took us off the list and counted us as spinning. */
    w->spinning = true;
  }
  int64_t now = tt_now();
  if (tt__timers_earliest() <= now)
    tt__timers_run(now);
}

/* Wake one idle worker to look for work, unless one is already looking. */
void tt__wakep(void) {
  if (atomic_load(&tt__rt.nidle) == 0 || atomic_load(&tt__rt.nspinning) != 0)
    return;
  int zero = 0;
  if (!atomic_compare_exchange_strong(&tt__rt.nspinning, &zero, 1))
    return;
  tt_spin_lock(&tt__rt.idle_lock);
  tt_worker *pick = NULL;
  for (tt_worker *w = tt__rt.idle_list; w; w = w->idle_next) {
    pick = w;
    if (w != tt__rt.poller)
      break;
  }
  tt_worker *successor = pick ? unlink_idle_locked(pick) : NULL;
  tt_spin_unlock(&tt__rt.idle_lock);
  if (!pick) {
    atomic_fetch_sub(&tt__rt.nspinning, 1);
    return;
  }
  signal_worker(pick);
  if (successor)
    signal_worker(successor);
}

/* A timer due at `when` was armed: make sure a sleeping poller notices. */
void tt__kick_poller(int64_t when) {
  if (when >= atomic_load(&tt__rt.poll_until))
    return;
  tt_spin_lock(&tt__rt.idle_lock);
  tt_worker *p = tt__rt.poller;
  if (p)
    atomic_store(&tt__rt.poll_until, when);
  tt_spin_unlock(&tt__rt.idle_lock);
  if (p)
    signal_worker(p);
}

void tt__wake_all_idle(void) {
  tt_spin_lock(&tt__rt.idle_lock);
  for (tt_worker *w = tt__rt.idle_list; w; w = w->idle_next)
    signal_worker(w);
  tt_spin_unlock(&tt__rt.idle_lock);
}
