/*
 * The scheduler: how a worker picks its next task, how tasks switch out
 * (yield, park, exit) and how they are made runnable again.
 *
 * Each worker thread runs tt__worker_loop on its own thread stack (its "g0",
 * as Go calls it). Tasks never switch directly to each other: a task switches
 * to its worker's g0, which finishes what the task asked for (requeue it,
 * release the lock of the wait list it parked on, free it) and then picks
 * the next task. Doing that work on g0 is what makes parking race-free: by
 * the time a waker can see a parked task, the task is off its stack.
 *
 * Spawning from a task runs the child first: the spawner goes to the
 * run-next slot and the child runs at once on the same worker, with its
 * stack still warm in cache. A spawn-and-join of a short task thus costs a
 * few switches and reuses one stack; a spawner displaced from run-next by a
 * deeper spawn goes to the ring, oldest (shallowest) first, which is where
 * thieves take from, so a recursive fan-out spreads over the workers the
 * way a work-first (Cilk-style) scheduler's does.
 *
 * Picking order (find_runnable): every 61st round one task from the global
 * queue (so it cannot starve) and a look at the network poller, expired
 * timers, the run-next slot, the local ring, the global queue, descriptor
 * events, then stealing half of another worker's ring, and finally parking
 * the thread (idle.c), where one idle worker waits in epoll_wait.
 */
#include <stdlib.h>
#include <string.h>

#include "core/netpoll.h"
#include "core/runq.h"
#include "core/sanitizer.h"
#include "core/sched.h"
#include "core/stack.h"

tt_runtime tt__rt;

__thread tt_worker *tt__tls_worker __attribute__((tls_model("initial-exec")));

__attribute__((noinline)) tt_worker *tt__worker(void) {
  /* The empty asm keeps the compiler from treating this as a pure function
   * and reusing one thread's answer after a switch moved us elsewhere. */
  __asm__ volatile("" ::: "memory");
  return tt__tls_worker;
}

void tt__set_worker(tt_worker *w) { tt__tls_worker = w; }

tt_task *tt__current(void) {
  tt_worker *w = tt__worker();
  return w ? w->current : NULL;
}

/* ---- Switching ----------------------------------------------------------
 *
 * A switch leaves a note for whoever lands next (w->after, w->prev): the
 * task that switched out still has to be requeued (yield), have its wait
 * list unlocked (park), be freed (exit) or go to run-next (spawn), and all
 * of that must wait until its stack is no longer in use. The landing side,
 * a task or the scheduler, runs the note in after_switch().
 */

static void runq_put(tt_worker *w, tt_task *t);

static void after_switch(tt_worker *w) {
  tt_task *prev = w->prev;
  int after = w->after;
  w->after = TT_AFTER_NONE;
  w->prev = NULL;
  switch (after) {
  case TT_AFTER_NONE: break;
  case TT_AFTER_YIELD:
    atomic_store_explicit(&prev->state, TT_ST_RUNNABLE, memory_order_relaxed);
    runq_put(w, prev);
    break;
  case TT_AFTER_PARK:
    if (w->after_fn)
      w->after_fn(w->after_arg);
    break;
  case TT_AFTER_EXIT: tt__task_free(w, prev); break;
  case TT_AFTER_SPAWN: {
    atomic_store_explicit(&prev->state, TT_ST_RUNNABLE, memory_order_relaxed);
    tt_task *old = atomic_exchange(&w->runnext, prev);
    /* The parent waits in run-next for the child's first scheduling point,
     * and no idle worker is woken for it: waking one to steal the parent
     * would split every spawn-and-join across two workers (measured: 4x
     * slower). A child that never yields holds its parent up, as any task
     * that never yields holds up its worker; the monitor's stall check
     * names it. */
    if (old) {
      runq_put(w, old);
      tt__wakep();
    }
    break;
  }
  default: tt__fatal("task %lld switched out without saying why", (long long)prev->id);
  }
}

/* A task's first instructions: finish the switch that started it. */
void tt__task_landed(void) {
#ifdef TT_ASAN
  __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
  after_switch(tt__worker());
}

static void mark_running(tt_worker *w, tt_task *t) {
  w->current = t;
  /* Single writer (this worker); release orders it before the task's own
   * stores, so a stack walker's recheck sees it whenever it could have seen
   * the stack change. */
  if (TT_BOOKKEEPING) {
    atomic_store_explicit(&t->resumes, atomic_load_explicit(&t->resumes, memory_order_relaxed) + 1,
                          memory_order_release);
    atomic_store_explicit(&w->switches,
                          atomic_load_explicit(&w->switches, memory_order_relaxed) + 1,
                          memory_order_relaxed);
  }
  atomic_store_explicit(&t->state, TT_ST_RUNNING, memory_order_relaxed);
  atomic_store_explicit(&t->worker, w->id, memory_order_relaxed);
}

/* Scheduler -> task. Returns when some task switches back to the scheduler. */
static void switch_to_task(tt_worker *w, tt_task *t) {
  mark_running(w, t);
#ifdef TT_ASAN
  char *lo = t->stack_lo;
  __sanitizer_start_switch_fiber(&w->g0_asan_fake_stack, lo, (size_t)((char *)t - lo));
#endif
#ifdef TT_TSAN
  __tsan_switch_to_fiber(t->tsan_fiber, 0);
#endif
  tt__ctx_jump(&w->g0, &t->ctx);
#ifdef TT_ASAN
  __sanitizer_finish_switch_fiber(w->g0_asan_fake_stack, NULL, NULL);
#endif
  after_switch(w);
}

/* A successor a task can switch to directly, without a trip through the
 * scheduler: run-next, then the local ring. Every 8th round it declines, so
 * the scheduler still looks at timers and the global queue regularly. */
static tt_task *quick_pick(tt_worker *w) {
  if ((++w->tick & 7) == 0)
    return NULL;
  tt_task *t;
  if (w->runnext_streak < 32 && atomic_load_explicit(&w->runnext, memory_order_relaxed) &&
      (t = atomic_exchange(&w->runnext, NULL))) {
    w->runnext_streak++;
    return t;
  }
  w->runnext_streak = 0;
  return tt_runq_pop(&w->runq);
}

/* Task -> next task (or the scheduler when there is none). Called on the
 * task's stack; returns on whatever worker resumes it. */
static void switch_out(tt_worker *w, tt_task *self, int after, tt_task *next) {
  tt__stack_check(self, __builtin_frame_address(0));
  w->after = after;
  w->prev = self;
  if (!next)
    next = quick_pick(w);
  if (next) {
    mark_running(w, next);
#ifdef TT_ASAN
    char *lo = next->stack_lo;
    __sanitizer_start_switch_fiber(after == TT_AFTER_EXIT ? NULL : &self->asan_fake_stack, lo,
                                   (size_t)((char *)next - lo));
#endif
#ifdef TT_TSAN
    __tsan_switch_to_fiber(next->tsan_fiber, 0);
#endif
    tt__ctx_jump(&self->ctx, &next->ctx);
  } else {
    w->current = NULL;
#ifdef TT_ASAN
    __sanitizer_start_switch_fiber(after == TT_AFTER_EXIT ? NULL : &self->asan_fake_stack,
                                   w->g0_stack_lo, w->g0_stack_size);
#endif
#ifdef TT_TSAN
    __tsan_switch_to_fiber(w->tsan_g0, 0);
#endif
    tt__ctx_jump(&self->ctx, &w->g0);
  }
#ifdef TT_ASAN
  __sanitizer_finish_switch_fiber(self->asan_fake_stack, NULL, NULL);
#endif
  after_switch(tt__worker());
}

/* ---- Global queue ------------------------------------------------------- */

void tt__gq_put_batch(tt_task *first, tt_task *last, int64_t n) {
  last->next = NULL;
  tt_spin_lock(&tt__rt.gq_lock);
  if (tt__rt.gq_tail)
    tt__rt.gq_tail->next = first;
  else
    tt__rt.gq_head = first;
  tt__rt.gq_tail = last;
  atomic_fetch_add(&tt__rt.gq_size, n);
  tt_spin_unlock(&tt__rt.gq_lock);
}

void tt__gq_put(tt_task *t) { tt__gq_put_batch(t, t, 1); }

/* Take up to `max` tasks: return one, put the rest on w's ring. */
static tt_task *gq_get(tt_worker *w, int64_t max) {
  if (atomic_load_explicit(&tt__rt.gq_size, memory_order_relaxed) == 0)
    return NULL;
  tt_spin_lock(&tt__rt.gq_lock);
  int64_t size = atomic_load_explicit(&tt__rt.gq_size, memory_order_relaxed);
  int64_t n = size / tt__rt.nworkers + 1;
  if (n > size)
    n = size;
  if (n > max)
    n = max;
  if (n > TT_RUNQ_SIZE / 2)
    n = TT_RUNQ_SIZE / 2;
  if (n == 0) {
    tt_spin_unlock(&tt__rt.gq_lock);
    return NULL;
  }
  tt_task *first = tt__rt.gq_head, *t = first;
  for (int64_t i = 1; i < n; i++)
    t = t->next;
  tt__rt.gq_head = t->next;
  if (!tt__rt.gq_head)
    tt__rt.gq_tail = NULL;
  atomic_fetch_sub(&tt__rt.gq_size, n);
  tt_spin_unlock(&tt__rt.gq_lock);
  t->next = NULL;
  tt_task *ret = first;
  for (t = first->next; t;) {
    tt_task *nx = t->next;
    if (!tt_runq_push(&w->runq, t)) { /* cannot happen: at most half a ring */
      tt_task *last = t;
      int64_t k = 1;
      while (last->next) {
        last = last->next;
        k++;
      }
      tt__gq_put_batch(t, last, k);
      break;
    }
    t = nx;
  }
  return ret;
}

/* ---- Local queue -------------------------------------------------------- */

/* Owner only. A full ring sends half of itself plus t to the global queue. */
static void runq_put(tt_worker *w, tt_task *t) {
  while (!tt_runq_push(&w->runq, t)) {
    tt_task *batch[TT_RUNQ_SIZE / 2 + 1];
    uint32_t n = tt_runq_grab(&w->runq, batch);
    if (n == 0)
      continue;
    for (uint32_t i = 0; i + 1 < n; i++)
      batch[i]->next = batch[i + 1];
    batch[n - 1]->next = t;
    tt__gq_put_batch(batch[0], t, n + 1);
    return;
  }
}

static uint32_t fastrand(tt_worker *w) {
  uint64_t x = w->rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  w->rng = x;
  return (uint32_t)(x >> 16);
}

/* Steal half of a random victim's ring, trying every worker a few times;
 * the run-next slot is taken only in the last round, so a worker about to
 * run the task it just woke usually gets to. */
static tt_task *steal(tt_worker *w) {
  int n = tt__rt.nworkers;
  tt_task *batch[TT_RUNQ_SIZE / 2 + 1];
  for (int round = 0; round < 4; round++) {
    uint32_t start = fastrand(w);
    for (int i = 0; i < n; i++) {
      tt_worker *v = tt__rt.workers[(start + (uint32_t)i) % (uint32_t)n];
      if (v == w)
        continue;
      uint32_t got = tt_runq_grab(&v->runq, batch);
      if (got) {
        for (uint32_t k = 0; k + 1 < got; k++)
          runq_put(w, batch[k]);
        return batch[got - 1];
      }
      if (round == 3 && atomic_load_explicit(&v->runnext, memory_order_relaxed)) {
        tt_task *t = atomic_exchange(&v->runnext, NULL);
        if (t)
          return t;
      }
    }
  }
  return NULL;
}

bool tt__work_visible(void) {
  if (atomic_load(&tt__rt.gq_size) > 0)
    return true;
  for (int i = 0; i < tt__rt.nworkers; i++) {
    tt_worker *v = tt__rt.workers[i];
    if (tt_runq_len(&v->runq) || atomic_load(&v->runnext))
      return true;
  }
  int64_t due = tt__timers_earliest();
  return due != INT64_MAX && due <= tt_now();
}

static void stop_spinning(tt_worker *w) {
  if (!w->spinning)
    return;
  w->spinning = false;
  /* The last spinner to find work wakes another to look for more. */
  if (atomic_fetch_sub(&tt__rt.nspinning, 1) == 1)
    tt__wakep();
}

static tt_task *find_runnable(tt_worker *w) {
  for (;;) {
    if (atomic_load_explicit(&tt__rt.state, memory_order_acquire) != TT_RT_RUNNING)
      return NULL;
    w->tick++;
    if (TT_BOOKKEEPING) {
      w->clock = tt__coarse_now(); /* the bookkeeping clock (tt__stamp) */
      w->clock_uses = 0;
    }
    tt_task *t;
    if (w->tick % 61 == 0 && (t = gq_get(w, 1)))
      return t;
    /* Descriptor events while every worker is busy: nobody sits in
     * epoll_wait then, so look now and then without blocking (Go's
     * findRunnable and sysmon do the same). */
    if (w->tick % 61 == 0 && tt__netpoll_should_poll() && tt__netpoll(0) > 0)
      continue;
    /* The scheduler is entered at least every 8th switch (quick_pick
     * declines then), so this is where running workers fire timers. */
    int64_t due = tt__timers_earliest();
    if (due != INT64_MAX && due <= tt_now())
      tt__timers_run(tt_now());
    /* Run-next first, but not forever: two tasks waking each other would
     * otherwise starve the rest of the ring. */
    if (w->runnext_streak < 32 && atomic_load_explicit(&w->runnext, memory_order_relaxed) &&
        (t = atomic_exchange(&w->runnext, NULL))) {
      w->runnext_streak++;
      return t;
    }
    w->runnext_streak = 0;
    if ((t = tt_runq_pop(&w->runq)))
      return t;
    if ((t = atomic_exchange(&w->runnext, NULL)))
      return t;
    if ((t = gq_get(w, TT_RUNQ_SIZE / 2)))
      return t;
    due = tt__timers_earliest();
    if (due != INT64_MAX && due <= tt_now() && tt__timers_run(tt_now()) > 0)
      continue;
    /* Out of local work: events first, then other workers' queues. */
    if (tt__netpoll_should_poll() && tt__netpoll(0) > 0)
      continue;
    /* Spin (steal) only while fewer than half the busy workers do. */
    int busy = tt__rt.nworkers - atomic_load(&tt__rt.nidle);
    if (w->spinning || 2 * atomic_load(&tt__rt.nspinning) < busy) {
      if (!w->spinning) {
        w->spinning = true;
        atomic_fetch_add(&tt__rt.nspinning, 1);
      }
      if ((t = steal(w)))
        return t;
    }
    tt__idle_park(w);
  }
}

void tt__worker_loop(tt_worker *w) {
  for (;;) {
    tt_task *t = find_runnable(w);
    if (!t)
      return;
    stop_spinning(w);
    switch_to_task(w, t);
  }
}

/* ---- Entry points for tasks and primitives ------------------------------ */

void tt__park_on(tt_worker *w, tt_wait_reason why, void *wait_obj, void (*unlock)(void *),
                 void *arg) {
  tt_task *t = w->current;
  /* Stack walks of a parked task start in our caller, so every park looks
   * the same whichever way switch_out goes (and dumps group them). */
  if (TT_BOOKKEEPING) {
    __atomic_store_n(&t->park_fp, __builtin_frame_address(0), __ATOMIC_RELAXED);
    /* Relaxed atomics: snapshots read these from other threads. */
    __atomic_store_n(&t->wait_obj, wait_obj, __ATOMIC_RELAXED);
    atomic_store_explicit(&t->wait_since, tt__stamp(w), memory_order_relaxed);
    atomic_store_explicit(&t->wait_reason, (uint8_t)why, memory_order_relaxed);
  } else {
    (void)why, (void)wait_obj;
  }
  atomic_store_explicit(&t->state, TT_ST_WAITING, memory_order_relaxed);
  w->after_fn = unlock;
  w->after_arg = arg;
  switch_out(w, t, TT_AFTER_PARK, NULL);
}

void tt__park(tt_wait_reason why, void *wait_obj, void (*unlock)(void *), void *arg) {
  tt__park_on(tt__worker(), why, wait_obj, unlock, arg);
}

void tt__spin_unlock_cb(void *lock) { tt_spin_unlock((tt_spinlock *)lock); }

void tt__ready(tt_task *t) { tt__ready_on(tt__worker(), t); }

void tt__ready_on(tt_worker *w, tt_task *t) {
  if (TT_BOOKKEEPING) {
    atomic_store_explicit(&t->wait_reason, TT_WAIT_NONE, memory_order_relaxed);
    __atomic_store_n(&t->wait_obj, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&t->wait_file, NULL, __ATOMIC_RELAXED);
  }
  atomic_store_explicit(&t->state, TT_ST_RUNNABLE, memory_order_release);
  if (!w) {
    tt__gq_put(t);
    tt__wakep();
    return;
  }
  /* Woken on a worker (by a running task, or by a timer the scheduler
   * fired): it runs next here. This is what makes ping-pong cheap and what
   * lets a timed-out task jump a long queue, as in Go. Another worker is
   * woken only when a displaced task is waiting in the ring. */
  tt_task *old = atomic_exchange(&w->runnext, t);
  if (!old)
    return;
  t = old;
  runq_put(w, t);
  tt__wakep();
}

void tt__run_child_first(tt_task *child) {
  tt_worker *w = tt__worker();
  switch_out(w, w->current, TT_AFTER_SPAWN, child);
}

int tt_yield(void) {
  tt_worker *w = tt__worker();
  if (!w || !w->current)
    return TT_ENOTASK;
  switch_out(w, w->current, TT_AFTER_YIELD, NULL);
  return 0;
}

void tt__task_exit(void) {
  tt_worker *w = tt__worker();
  switch_out(w, w->current, TT_AFTER_EXIT, NULL);
  __builtin_unreachable();
}

int tt_worker_id(void) {
  tt_worker *w = tt__worker();
  return w ? w->id : -1;
}

int64_t tt_self(void) {
  tt_task *t = tt__current();
  return t ? t->id : 0;
}
