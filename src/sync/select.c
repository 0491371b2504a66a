/*
 * Select, after Go's selectgo:
 *
 *  1. Visit the cases in a random order (poll order) and lock their channels
 *     in address order (lock order), each channel once. Address order means
 *     two selects over the same channels can never deadlock each other.
 *  2. Poll: the first ready case in poll order is performed. A random poll
 *     order makes the choice among ready cases uniform.
 *  3. Nothing ready: return for a non-blocking select or a past deadline;
 *     otherwise queue one waiter per case, all sharing one tt_opstate, and
 *     park. The park callback arms the deadline timer and unlocks.
 *  4. Woken: whoever woke us won opstate.done and recorded the case. Lock
 *     again, unlink the waiters still queued elsewhere, unlock.
 */
#include <stdlib.h>
#include <string.h>

#include "leak/hooks.h"
#include "sync/chan.h"

#define SMALL_SELECT 8

#define SEL_MAGIC 0x73456c43u /* "sElC": the leak check's proof it reads a select */

typedef struct sel_ctx {
  uint32_t magic;
  tt_chan **locks; /* distinct channels in address order */
  int nlocks;
  tt_opstate *op;
  int64_t deadline;
} sel_ctx;

static __thread uint64_t thread_rng;

uint32_t tt__fastrand(void) {
  /* Plain threads may run non-blocking selects too, so the state is per
   * thread, seeded from its address. */
  uint64_t x = thread_rng;
  if (TT_UNLIKELY(!x))
    x = (uint64_t)(uintptr_t)&thread_rng * 0x9E3779B97F4A7C15ull | 1;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  thread_rng = x;
  return (uint32_t)(x >> 16);
}

static void lock_all(sel_ctx *s) {
  for (int i = 0; i < s->nlocks; i++)
    tt_spin_lock(&s->locks[i]->lock);
}

static void unlock_all(sel_ctx *s) {
  for (int i = s->nlocks - 1; i >= 0; i--)
    tt_spin_unlock(&s->locks[i]->lock);
}

static void sel_commit(void *arg) {
  sel_ctx *s = arg;
  if (s->deadline != TT_NO_DEADLINE)
    tt__op_timer_arm(s->op, s->deadline);
  unlock_all(s);
}

/* Try case k with its channel locked. Returns true when it was performed;
 * *wake is set to a task to make runnable after unlocking. */
static bool try_case(tt_case *k, tt_task **wake) {
  tt_chan *c = k->chan;
  if (k->dir == TT_RECV) {
    tt_waiter *s = tt__waitq_claim_any(&c->sendq);
    if (s) {
      tt__chan_recv_from_sender(c, s, k->buf);
      *wake = s->op->task;
    } else if (c->count > 0) {
      tt__chan_buf_take(c, k->buf);
    } else if (c->closed) {
      tt__elem_zero(k->buf, c->elem_size);
      k->err = TT_ECLOSED;
    } else {
      return false;
    }
    return true;
  }
  if (c->closed) {
    k->err = TT_ECLOSED;
    return true;
  }
  tt_waiter *r = tt__waitq_claim_any(&c->recvq);
  if (r) {
    tt__chan_send_to_receiver(c, r, k->buf);
    *wake = r->op->task;
    return true;
  }
  if (c->count < c->cap) {
    tt__chan_buf_put(c, k->buf);
    return true;
  }
  return false;
}

static int finish(tt_case *cases, int idx) {
  if (idx >= 0 && cases[idx].dir == TT_SEND && cases[idx].err == TT_ECLOSED)
    tt__chan_misuse(cases[idx].chan, "send on closed channel (in select)", TT_ECLOSED);
  return idx;
}

int tt__select_as(tt_case *cases, int n, int flags, int64_t deadline, tt_wait_reason why) {
  if (n < 0 || (n > 0 && !cases) || (flags & ~TT_SELECT_NONBLOCK))
    return TT_EINVAL;
  bool block = !(flags & TT_SELECT_NONBLOCK);
  tt_task *self = tt__current();
  if (block && !self)
    return TT_ENOTASK;
  /* A send case that completes publishes (chan.h), after the locks are let
   * go: what it needs of its channel is read while the channel is locked.
   * (Not through the cases' entries: adding one may move the others.) */
  tt_chan_key sent = {0};

  int small_order[2 * SMALL_SELECT];
  tt_chan *small_locks[SMALL_SELECT];
  tt_waiter small_waiters[SMALL_SELECT];
  int *poll = small_order;
  tt_chan **locks = small_locks;
  tt_waiter *waiters = small_waiters;
  void *heap = NULL;
  if (n > SMALL_SELECT) {
    heap = malloc((size_t)n * (2 * sizeof(int) + sizeof(tt_chan *) + sizeof(tt_waiter)));
    if (!heap)
      return TT_ENOMEM;
    waiters = heap;
    locks = (tt_chan **)(waiters + n);
    poll = (int *)(locks + n);
  }

  /* Validate and build the poll order (a Fisher-Yates shuffle done while
   * inserting) over the cases that have a channel. */
  int np = 0, rc = 0;
  for (int i = 0; i < n; i++) {
    tt_case *k = &cases[i];
    k->err = 0;
    if (k->dir != TT_SEND && k->dir != TT_RECV) {
      rc = TT_EINVAL;
      goto out;
    }
    if (!k->chan)
      continue;
    if (k->chan->magic != TT_CHAN_MAGIC || (k->dir == TT_SEND && !k->buf && k->chan->elem_size)) {
      rc = TT_EINVAL; /* a stale handle, or a send with no value to copy */
      goto out;
    }
    int j = (int)(tt__fastrand() % (uint32_t)(np + 1));
    if (j != np)
      poll[np] = poll[j];
    poll[j] = i;
    np++;
  }
  if (np == 0) {
    /* Nothing can ever be ready: wait for the deadline, or forever
     * ("select (no cases)" without cases, plain "select" when every case
     * is on a nil channel, as in Go). */
    tt_wait_reason r = n == 0 ? TT_WAIT_SELECT_NO_CASES : why;
    if (block && deadline == TT_NO_DEADLINE && tt__leak_self(TT_LEAK_EMPTY_SELECT, r))
      rc = TT_ELEAKED;
    else
      rc = block ? tt__park_until(r, deadline) : TT_EAGAIN;
    goto out;
  }

  /* Lock order: distinct channels sorted by address (insertion sort; n is
   * small in practice). */
  int nl = 0;
  for (int p = 0; p < np; p++) {
    tt_chan *c = cases[poll[p]].chan;
    int j = nl;
    while (j > 0 && (uintptr_t)locks[j - 1] > (uintptr_t)c)
      j--;
    if (j > 0 && locks[j - 1] == c)
      continue;
    memmove(&locks[j + 1], &locks[j], (size_t)(nl - j) * sizeof(tt_chan *));
    locks[j] = c;
    nl++;
  }
  sel_ctx s = {.magic = SEL_MAGIC, .locks = locks, .nlocks = nl, .op = NULL, .deadline = deadline};
  for (int p = 0; p < np; p++) /* before any lock: a table may grow */
    tt__chan_use(self, cases[poll[p]].chan);

  lock_all(&s);
  for (int i = 0; i < nl; i++)
    tt__chan_forget_stale(locks[i]);

  for (int p = 0; p < np; p++) {
    tt_task *wake = NULL;
    if (try_case(&cases[poll[p]], &wake)) {
      if (cases[poll[p]].dir == TT_SEND) {
        sent = tt__chan_key(cases[poll[p]].chan);
      }
      unlock_all(&s);
      if (wake)
        tt__ready(wake);
      rc = finish(cases, poll[p]);
      goto out;
    }
  }
  if (!block || (deadline != TT_NO_DEADLINE && deadline <= tt_now())) {
    unlock_all(&s);
    rc = block ? TT_ETIMEDOUT : TT_EAGAIN;
    goto out;
  }

  tt_opstate op = {.done = 0, .fired = -2, .timer_state = TT_TIMER_UNUSED, .task = self};
  s.op = &op;
  for (int p = 0; p < np; p++) {
    int i = poll[p];
    tt_waiter *w = &waiters[p];
    memset(w, 0, sizeof *w);
    w->chan = cases[i].chan;
    w->op = &op;
    w->elem = cases[i].buf;
    w->case_index = i;
    tt__chan_enqueue(w->chan, cases[i].dir == TT_SEND ? &w->chan->sendq : &w->chan->recvq, w, true);
  }
  atomic_store_explicit(&self->wait_bounded, deadline != TT_NO_DEADLINE, memory_order_relaxed);
  tt__park(why, &s, sel_commit, &s);

  tt__op_timer_disarm(&op);
  lock_all(&s);
  if (op.fired >= 0 && cases[op.fired].dir == TT_SEND) {
    sent = tt__chan_key(cases[op.fired].chan);
  }
  /* Unpin every case; channels orphaned while we waited and now unused are
   * moved to the front of the lock list, to be freed once unlocked. */
  int ndead = 0;
  for (int p = 0; p < np; p++) {
    tt_waiter *w = &waiters[p];
    tt_chan *c = w->chan;
    if (tt__chan_unpin_locked(c, cases[w->case_index].dir == TT_SEND ? &c->sendq : &c->recvq, w)) {
      for (int i = ndead; i < nl; i++)
        if (locks[i] == c) {
          locks[i] = locks[ndead];
          locks[ndead++] = c;
          break;
        }
    }
  }
  unlock_all(&s);
  for (int i = 0; i < ndead; i++)
    tt__chan_free(locks[i]);
  if (op.fired == TT_FIRED_LEAKED) {
    atomic_store_explicit(&self->leaked, 0, memory_order_relaxed);
    rc = TT_ELEAKED; /* recovered: every channel it waited on was abandoned */
  } else if (op.fired == -1) {
    rc = TT_ETIMEDOUT;
  } else {
    int idx = op.fired;
    tt_waiter *w = NULL;
    for (int p = 0; p < np; p++)
      if (waiters[p].case_index == idx)
        w = &waiters[p];
    if (w && !w->success)
      cases[idx].err = TT_ECLOSED;
    rc = finish(cases, idx);
  }
out:
  if (sent.addr && rc >= 0 && cases[rc].err == 0)
    tt__chan_sent(self, sent);
  free(heap);
  return rc;
}

__attribute__((no_sanitize("address", "thread"))) int
tt__select_wait_chans(const void *wait_obj, const tt_chan **out, int max, bool *bounded) {
  const sel_ctx *s = wait_obj;
  if (!s || s->magic != SEL_MAGIC || s->nlocks < 0 || s->nlocks > max)
    return -1;
  *bounded = s->deadline != TT_NO_DEADLINE;
  for (int i = 0; i < s->nlocks; i++)
    out[i] = s->locks[i];
  return s->nlocks;
}

bool tt__select_abandoned(const void *wait_obj, const tt_chan *c) {
  const sel_ctx *s = wait_obj;
  if (!s || s->magic != SEL_MAGIC || s->deadline != TT_NO_DEADLINE)
    return false;
  /* Orphaned is for good, and every unref that orphans one of these
   * channels asks again, so the last one sees them all (seq_cst on both
   * sides). The channels are pinned by this select: they are alive. */
  for (int i = 0; i < s->nlocks; i++)
    if (s->locks[i] != c && !__atomic_load_n(&s->locks[i]->orphaned, __ATOMIC_SEQ_CST))
      return false;
  return true;
}

int tt_select(tt_case *cases, int n, int flags, int64_t deadline) {
  return tt__select_as(cases, n, flags, deadline, TT_WAIT_SELECT);
}
