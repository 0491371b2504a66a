/*
 * Contexts: Go's cancellation trees.
 *
 * A cancellable context owns a done channel (element size 0) that is closed
 * when it is cancelled, so a context is usable in select like any channel.
 * Parents keep a list of their live cancellable children; cancelling walks
 * that tree breadth-first, holding a reference on each child while it is
 * being cancelled, so a child released concurrently is never touched after
 * it is freed. A deadline is enforced two ways: a timer cancels the context
 * when it passes, and every bounded wait also uses the deadline directly, so
 * waits time out even when no runtime is there to fire the timer.
 *
 * The timer holds no reference while it waits in a heap: dropping the last
 * reference disarms it. A worker fires due timers in batches, though, so a
 * timer can be off the heap and not yet fired when its context's last
 * reference goes (the parent's fire, earlier in the same batch, dropped the
 * child). Nobody can wait for that fire on that thread, so the context is
 * marked orphaned and the fire, when it comes, frees it instead (see
 * timer_fire and drop_last).
 *
 * Value contexts carry one key/value pair and otherwise behave as their
 * parent: they share its done channel, error and deadline.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/wait.h"
#include "leak/hooks.h"
#include "sync/chan.h"
#include "sync/context.h"

struct tt_context {
  tt_spinlock lock;
  _Atomic int64_t refs;
  _Atomic int64_t child_refs; /* of refs, those its children hold */
  tt_context *parent;
  tt_context *delegate; /* value contexts: the context that answers for them */
  tt_chan *done;        /* NULL for the background */
  _Atomic int err;
  int cause;
  int64_t deadline;
  tt_tnode timer;
  _Atomic int timer_state; /* TT_TIMER_* of wait.h */
  tt_context *first_child, *next_sibling, *prev_sibling;
  tt_context *work_next; /* worklist link while cancelling */
  bool linked;           /* in parent's child list */
  _Atomic bool cancel_called;
  const void *key;
  void *value;
  void (*on_cancel)(tt_context *c); /* tt__context_on_cancel */
  const char *file;
  int line;
  char msg[128]; /* written once, before err is set; last, so making one need not zero it */
};

/* timer_state beyond wait.h's UNUSED, ARMED and DONE: */
enum {
  CTX_TIMER_FIRING = TT_TIMER_DONE + 1, /* its callback is cancelling the context */
  CTX_TIMER_ORPHANED, /* off the heap, unfired, and the context's last reference gone */
};

static int unref(tt_context *c);
static void drop_last(tt_context *c);
static void free_context(tt_context *c);

static tt_context background = {.deadline = TT_NO_DEADLINE, .file = "(background)"};
static _Atomic int64_t lost_cancels;

tt_context *tt_background(void) { return &background; }

int64_t tt_context_lost_cancels(void) { return atomic_load(&lost_cancels); }

static tt_context *resolve(tt_context *c) { return c->delegate ? c->delegate : c; }

/* Contexts are not in the tasks' tables (docs/API.md, "Ownership of
 * handles": a context's done channel is a root), except one handed to a
 * task at spawn: the runtime releases it when the task returns, less what
 * the task dropped itself, so the task's own refs and unrefs are counted
 * against it. */
static void count_in_task(tt_context *c, bool ref) {
  tt_task *t = tt__current();
  if (!TT_BOOKKEEPING || !t || !tt__hold_lookup(t, c, 0))
    return;
  if (ref)
    tt__hold_ref(t, c, TT_OBJ_CONTEXT, 0);
  else
    tt__hold_unref(t, c, 0);
}

tt_context *tt_context_ref(tt_context *c) {
  if (c && c != &background) {
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    count_in_task(c, true);
  }
  return c;
}

/* ---- Cancelling ------------------------------------------------------------ */

/* Take a reference unless the last one is already gone (drop_last is then
 * running, or about to). */
static bool ref_if_alive(tt_context *c) {
  int64_t r = atomic_load(&c->refs);
  while (r > 0 && !atomic_compare_exchange_weak(&c->refs, &r, r + 1))
    ;
  return r > 0;
}

static void timer_fire(tt_tnode *tm);

/* Close the done channel of a context being cancelled: tt__chan_close
 * wakes its (possibly million) receivers a batch at a time. */
static void close_done(tt_context *c) { tt__chan_close(c->done, c->file, c->line); }

/* Cancel one context (no recursion): set the error, close done, hand back
 * the children (each with a reference taken) for the caller's worklist. */
static tt_context *cancel_one(tt_context *c, int err, int cause, const char *msg) {
  tt_spin_lock(&c->lock);
  if (atomic_load(&c->err)) {
    tt_spin_unlock(&c->lock);
    return NULL;
  }
  c->cause = cause;
  /* Copied by hand: snprintf cost as much as the rest of a cancel. */
  const char *m = msg ? msg : "";
  size_t len = strnlen(m, sizeof c->msg - 1);
  memcpy(c->msg, m, len);
  c->msg[len] = '\0';
  atomic_store(&c->err, err);
  tt_context *kids = NULL;
  for (tt_context *k = c->first_child; k; k = k->next_sibling) {
    k->linked = false;
    /* A child whose last reference is being dropped right now waits for
     * our lock to unlink itself; it needs no cancelling. */
    if (ref_if_alive(k)) {
      k->work_next = kids;
      kids = k;
    }
  }
  c->first_child = NULL;
  void (*hook)(tt_context *) = c->on_cancel;
  c->on_cancel = NULL;
  tt_spin_unlock(&c->lock);
  if (hook)
    hook(c); /* before done closes: a waiter that wakes sees its effect */
  close_done(c);
  return kids;
}

static void cancel_tree(tt_context *c, int err, int cause, const char *msg) {
  tt_context *work = cancel_one(c, err, cause, msg), *tail = work;
  while (tail && tail->work_next)
    tail = tail->work_next;
  while (work) {
    tt_context *k = work;
    work = k->work_next;
    if (!work)
      tail = NULL;
    tt_context *more = cancel_one(k, err, cause, msg);
    if (more) {
      if (tail)
        tail->work_next = more;
      else
        work = more;
      for (tail = more; tail->work_next; tail = tail->work_next)
        ;
    }
    unref(k);
  }
}

static void timer_fire(tt_tnode *tm) {
  tt_context *c = tm->arg;
  int s = TT_TIMER_ARMED;
  if (!atomic_compare_exchange_strong(&c->timer_state, &s, CTX_TIMER_FIRING)) {
    /* ORPHANED: the last reference went while this timer waited in its
     * batch, and left the freeing to us. */
    free_context(c);
    return;
  }
  /* Hold a reference across the cancel: a child freed by it may drop the
   * last reference to c, and drop_last(c) on this thread must find the
   * timer DONE, not wait for itself. */
  if (!ref_if_alive(c)) {
    /* drop_last(c) is running on another thread and waits for DONE. */
    atomic_store_explicit(&c->timer_state, TT_TIMER_DONE, memory_order_release);
    return;
  }
  cancel_tree(c, TT_ETIMEDOUT, TT_ETIMEDOUT, "context deadline exceeded");
  atomic_store_explicit(&c->timer_state, TT_TIMER_DONE, memory_order_release);
  unref(c);
}

int tt_cancel_cause(tt_context *c, int cause, const char *msg) {
  if (!c)
    return TT_EINVAL;
  if (c == &background || c->delegate)
    return 0; /* not cancellable themselves */
  atomic_store(&c->cancel_called, true);
  cancel_tree(c, TT_ECANCELED, cause, msg ? msg : "context canceled");
  return 0;
}

int tt_cancel(tt_context *c) { return tt_cancel_cause(c, TT_ECANCELED, "context canceled"); }

bool tt__context_on_cancel(tt_context *c, void (*fn)(tt_context *c)) {
  if (!c || c == &background || c->delegate)
    return false;
  tt_spin_lock(&c->lock);
  bool ok = !atomic_load(&c->err) && !c->on_cancel;
  if (ok)
    c->on_cancel = fn;
  tt_spin_unlock(&c->lock);
  return ok;
}

void tt__context_clear_on_cancel(tt_context *c) {
  tt_spin_lock(&c->lock);
  c->on_cancel = NULL;
  tt_spin_unlock(&c->lock);
}

/* ---- Making and freeing ------------------------------------------------------ */

static tt_context *alloc_child(tt_context *parent, const char *file, int line) {
  /* Not calloc: glibc's calloc skips the per-thread cache that makes
   * malloc of a small block cheap, and the message needs no zeroing. */
  tt_context *c = malloc(sizeof *c);
  if (!c)
    return NULL;
  memset(c, 0, offsetof(tt_context, msg));
  atomic_init(&c->refs, 1);
  /* The child's reference to its parent is the child's, not the task's. */
  if (parent != &background) {
    atomic_fetch_add_explicit(&parent->child_refs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&parent->refs, 1, memory_order_relaxed);
  }
  c->parent = parent;
  c->deadline = TT_NO_DEADLINE;
  c->file = file;
  c->line = line;
  c->msg[0] = '\0';
  return c;
}

tt_context *tt__with(tt_context *parent, int64_t deadline, const char *file, int line) {
  if (!parent)
    parent = &background;
  tt_context *c = alloc_child(parent, file, line);
  if (!c)
    return NULL;
  c->done = tt__chan_new(0, 0, file, line);
  if (!c->done) {
    unref(parent);
    free(c);
    return NULL;
  }
  c->done->rooted = true; /* cancel closes it: see docs/API.md on contexts */
  tt_context *p = resolve(parent);
  c->deadline = deadline < p->deadline ? deadline : p->deadline;

  /* Link under the parent, or inherit its cancellation right away. */
  int perr = 0, pcause = 0;
  char pmsg[sizeof c->msg];
  if (p != &background) {
    tt_spin_lock(&p->lock);
    perr = atomic_load(&p->err);
    if (perr) {
      pcause = p->cause;
      size_t len = strnlen(p->msg, sizeof pmsg - 1);
      memcpy(pmsg, p->msg, len);
      pmsg[len] = '\0';
    } else {
      c->next_sibling = p->first_child;
      if (p->first_child)
        p->first_child->prev_sibling = c;
      p->first_child = c;
      c->linked = true;
    }
    tt_spin_unlock(&p->lock);
  }
  if (perr) {
    cancel_tree(c, perr, pcause, pmsg);
    return c;
  }
  if (c->deadline != TT_NO_DEADLINE) {
    if (c->deadline <= tt_now()) {
      cancel_tree(c, TT_ETIMEDOUT, TT_ETIMEDOUT, "context deadline exceeded");
      return c;
    }
    c->timer.when = c->deadline;
    c->timer.fire = timer_fire;
    c->timer.arg = c;
    /* ARMED before the timer can fire (and set DONE). Without a runtime
     * there is no timer; waits still honour the deadline. */
    atomic_store(&c->timer_state, TT_TIMER_ARMED);
    if (tt__timer_start(&c->timer) < 0)
      atomic_store(&c->timer_state, TT_TIMER_UNUSED);
  }
  return c;
}

tt_context *tt_with_value(tt_context *parent, const void *key, void *value) {
  if (!parent)
    parent = &background;
  tt_context *c = alloc_child(parent, "(value)", 0);
  if (!c)
    return NULL;
  c->delegate = resolve(parent);
  c->key = key;
  c->value = value;
  c->deadline = c->delegate->deadline;
  return c;
}

int tt_context_unref(tt_context *c) {
  if (!c)
    return TT_EINVAL;
  if (c == &background)
    return 0;
  /* An unref with no reference left but its children's is one too many
   * (a double unref): refuse it rather than free what they still use. */
  int64_t r = atomic_load(&c->refs);
  do {
    if (r <= atomic_load(&c->child_refs))
      return TT_EINVAL;
  } while (!atomic_compare_exchange_weak(&c->refs, &r, r - 1));
  count_in_task(c, false); /* c is only a key here: it may be gone already */
  if (r == 1)
    drop_last(c);
  return 0;
}

void tt__context_ref_raw(tt_context *c) {
  if (c != &background)
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

int tt__context_unref_raw(tt_context *c) { return unref(c); }

/* Drop a reference that the context tree itself held (or the task's, once
 * accounted for). */
static int unref(tt_context *c) {
  if (c == &background)
    return 0;
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
    return 0;
  drop_last(c);
  return 1;
}

/* The last reference is gone: disarm the deadline timer, then free c. */
static void drop_last(tt_context *c) {
  int s = atomic_load(&c->timer_state);
  if (s == TT_TIMER_ARMED) {
    if (tt__timer_del(&c->timer))
      s = TT_TIMER_DONE; /* it will never fire */
    else if (atomic_compare_exchange_strong(&c->timer_state, &s, CTX_TIMER_ORPHANED))
      return; /* popped, not yet fired (maybe by this thread's batch): it frees c */
  }
  /* FIRING: a worker found no reference left to hold and is only storing
   * DONE; wait for that before the memory goes. */
  if (s == CTX_TIMER_FIRING)
    while (atomic_load_explicit(&c->timer_state, memory_order_acquire) != TT_TIMER_DONE)
      tt__cpu_relax();
  free_context(c);
}

/* Free c (no reference and no timer left) and drop its reference to its
 * parent. */
static void free_context(tt_context *c) {
  bool expired = c->deadline != TT_NO_DEADLINE && tt_now() >= c->deadline;
  if (!c->delegate && !atomic_load(&c->cancel_called) && !atomic_load(&c->err) && !expired) {
    atomic_fetch_add(&lost_cancels, 1);
    if (tt__strict())
      fprintf(stderr,
              "tether: lost cancel: the context made at %s:%d was released without being "
              "cancelled\n",
              c->file, c->line);
  }
  tt_context *p = c->parent;
  if (!c->delegate && p != &background) {
    tt_spin_lock(&p->lock);
    if (c->linked) {
      if (c->prev_sibling)
        c->prev_sibling->next_sibling = c->next_sibling;
      else
        p->first_child = c->next_sibling;
      if (c->next_sibling)
        c->next_sibling->prev_sibling = c->prev_sibling;
      c->linked = false;
    }
    tt_spin_unlock(&p->lock);
  }
  if (c->done)
    tt__chan_unref_raw(c->done);
  if (p != &background)
    atomic_fetch_sub_explicit(&p->child_refs, 1, memory_order_relaxed);
  unref(p);
  free(c);
}

int tt_context_release(tt_context *c) {
  int rc = tt_cancel(c);
  return rc < 0 ? rc : tt_context_unref(c);
}

/* ---- Reading ------------------------------------------------------------------- */

int tt_context_err(tt_context *c) {
  if (!c)
    return TT_EINVAL;
  c = resolve(c);
  if (c == &background)
    return 0;
  int err = atomic_load(&c->err);
  if (!err && c->deadline != TT_NO_DEADLINE && tt_now() >= c->deadline) {
    /* The timer has not run yet (or there is no runtime to run it). */
    cancel_tree(c, TT_ETIMEDOUT, TT_ETIMEDOUT, "context deadline exceeded");
    err = atomic_load(&c->err);
  }
  return err;
}

int tt_context_cause(tt_context *c, const char **msg) {
  if (msg)
    *msg = "";
  int err = tt_context_err(c);
  if (err <= 0 && err != TT_ECANCELED && err != TT_ETIMEDOUT)
    return err;
  c = resolve(c);
  tt_spin_lock(&c->lock);
  int cause = c->cause;
  if (msg)
    *msg = c->msg; /* stable: written once, before err was set */
  tt_spin_unlock(&c->lock);
  return cause;
}

tt_chan *tt_context_done(tt_context *c) { return c ? resolve(c)->done : NULL; }

int64_t tt_context_deadline(tt_context *c) { return c ? resolve(c)->deadline : TT_NO_DEADLINE; }

void *tt_context_value(tt_context *c, const void *key) {
  for (; c; c = c->parent)
    if (c->delegate && c->key == key)
      return c->value;
  return NULL;
}

/* ---- Context-bounded waits ------------------------------------------------------ */

/* A select over [cases..., done] bounded by the context's deadline. */
static int select_ctx(tt_case *cases, int n, int flags, tt_context *ctx, tt_wait_reason why) {
  if (!ctx || n < 0 || (n > 0 && !cases))
    return TT_EINVAL;
  tt_case small[9];
  tt_case *all = n < 9 ? small : malloc((size_t)(n + 1) * sizeof *all);
  if (!all)
    return TT_ENOMEM;
  if (n)
    memcpy(all, cases, (size_t)n * sizeof *all);
  all[n] = tt_case_recv(tt_context_done(ctx), NULL);
  int rc = tt__select_as(all, n + 1, flags, tt_context_deadline(ctx), why);
  if (rc >= 0 && rc < n)
    cases[rc].err = all[rc].err;
  if (all != small)
    free(all);
  if (rc == n || rc == TT_ETIMEDOUT) {
    int err = tt_context_err(ctx);
    return err ? err : TT_ETIMEDOUT;
  }
  return rc;
}

int tt_select_ctx(tt_case *cases, int n, int flags, tt_context *ctx) {
  return select_ctx(cases, n, flags, ctx, TT_WAIT_SELECT);
}

int tt_sleep_ctx(int64_t ns, tt_context *ctx) {
  if (!ctx)
    return TT_EINVAL;
  if (!tt__current())
    return TT_ENOTASK;
  int64_t until = tt__after(ns > 0 ? ns : 0);
  if (tt_context_err(ctx))
    return tt_context_err(ctx);
  if (ns <= 0)
    return tt_yield();
  tt_case done = tt_case_recv(tt_context_done(ctx), NULL);
  int64_t cd = tt_context_deadline(ctx);
  int rc = tt__select_as(&done, 1, 0, cd < until ? cd : until, TT_WAIT_SLEEP);
  int err = tt_context_err(ctx);
  if (rc == 0 || err)
    return err ? err : TT_ECANCELED;
  return 0;
}

int tt_chan_send_ctx(tt_chan *c, const void *elem, tt_context *ctx) {
  tt_case k = tt_case_send(c, elem);
  int rc = select_ctx(&k, 1, 0, ctx, c ? TT_WAIT_CHAN_SEND : TT_WAIT_CHAN_SEND_NIL);
  return rc == 0 ? k.err : rc; /* select already reported a send on a closed channel */
}

int tt_chan_recv_ctx(tt_chan *c, void *out, tt_context *ctx) {
  tt_case k = tt_case_recv(c, out);
  int rc = select_ctx(&k, 1, 0, ctx, c ? TT_WAIT_CHAN_RECV : TT_WAIT_CHAN_RECV_NIL);
  return rc == 0 ? k.err : rc;
}
