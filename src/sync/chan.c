/*
 * Channels: Go's semantics, one spinlock per channel.
 *
 * Send, in order: closed -> error; a receiver is parked -> copy the value
 * straight into its destination and make it runnable (run-next, so an
 * unbuffered ping-pong stays on one worker); room in the ring buffer -> copy
 * it in; otherwise park on the send queue. Receive mirrors it; a receiver
 * that finds a parked sender with a full buffer takes the head of the buffer
 * and moves the sender's value to the tail, preserving FIFO order.
 *
 * A parked operation's waiter lives on the task's stack (see chan.h). The
 * channel stays locked until the task is off its stack: the park callback
 * releases it.
 */
#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "leak/hooks.h"
#include "sync/chan.h"

#define MAX_ELEM (64u << 10)

/* ---- Strict mode and misuse reports ------------------------------------- */

bool tt__strict(void) {
  static _Atomic int cached = -1;
  int v = atomic_load_explicit(&cached, memory_order_relaxed);
  if (v < 0) {
    const char *e = getenv("TT_STRICT");
    v = e && *e && strcmp(e, "0") != 0;
    atomic_store_explicit(&cached, v, memory_order_relaxed);
  }
  return v;
}

int tt__chan_misuse(tt_chan *c, const char *what, int code) {
  if (!tt__strict())
    return code;
  fprintf(stderr, "tether: panic: %s", what);
  if (c)
    fprintf(stderr, " (channel %p made at %s:%d)", (void *)c, c->file, c->line);
  tt_task *t = tt__current();
  if (t)
    fprintf(stderr, "\nin task %lld (entry %s, spawned at %s:%d)", (long long)t->id, t->entry,
            t->file, t->line);
  fputs("\n\nstack of the offending call:\n", stderr);
  void *pcs[48];
  int n = backtrace(pcs, 48);
  backtrace_symbols_fd(pcs, n, STDERR_FILENO);
  if (c && c->close_file) {
    fprintf(stderr, "\nthe channel was closed at %s:%d by task %lld; stack of the close:\n",
            c->close_file, c->close_line, (long long)c->close_task);
    if (c->close_stack)
      backtrace_symbols_fd(c->close_stack, c->close_depth, STDERR_FILENO);
  }
  abort();
}

/* ---- Make, ref, free ----------------------------------------------------- */

tt_chan *tt__chan_new(size_t elem_size, size_t cap, const char *file, int line) {
  if (elem_size > MAX_ELEM || (elem_size && cap > SIZE_MAX / elem_size))
    return NULL;
  /* One allocation: the ring buffer follows the header (16-byte aligned). */
  size_t head = (sizeof(tt_chan) + 15) & ~(size_t)15;
  size_t bytes = elem_size * cap;
  if (bytes > SIZE_MAX - head)
    return NULL;
  tt_chan *c = calloc(1, head + bytes);
  if (!c)
    return NULL;
  if (bytes)
    c->buf = (char *)c + head;
  c->magic = TT_CHAN_MAGIC;
  c->elem_size = elem_size;
  c->cap = cap;
  c->file = file;
  c->line = line;
  c->serial = tt__serial_next();
  atomic_store_explicit(&c->refs, 1, memory_order_relaxed);
  return c;
}

tt_chan *tt__chan_make(size_t elem_size, size_t cap, const char *file, int line) {
  tt_chan *c = tt__chan_new(elem_size, cap, file, line);
  if (c) {
    tt__root_forget(c); /* a stale root at a reused address is not this channel's */
    tt__hold_ref(tt__current(), c, TT_OBJ_CHAN, c->serial);
  }
  return c;
}

static bool chan_ok(tt_chan *c) { return c && c->magic == TT_CHAN_MAGIC; }

tt_chan *tt_chan_ref(tt_chan *c) {
  if (chan_ok(c)) {
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    tt__hold_ref(tt__current(), c, TT_OBJ_CHAN, c->serial);
  }
  return c;
}

void tt__chan_free(tt_chan *c) {
  if (c->kept) /* its last waiter left after all */
    tt__chan_kept(c, false);
  c->magic = TT_CHAN_DEAD;
  tt__root_forget(c);
  free(c->close_stack);
  free(c);
}

static bool should_free_locked(tt_chan *c) {
  return c->orphaned && c->pins == 0 && !c->recvq.first && !c->sendq.first;
}

void tt__chan_enqueue(tt_chan *c, tt_waitq *q, tt_waiter *w, bool pin) {
  c->waiters_gen = atomic_load_explicit(&tt__rt.generation, memory_order_relaxed);
  tt__waitq_push(q, w);
  if (pin)
    c->pins++;
}

bool tt__chan_unpin_locked(tt_chan *c, tt_waitq *q, tt_waiter *w) {
  tt__waitq_unlink(q, w);
  c->pins--;
  return should_free_locked(c);
}

void tt__chan_use_slow(tt_task *t, tt_chan *c) {
  if (c->rooted)
    return;
  if (!t) {
    tt__root_add(c); /* a plain thread used it */
    return;
  }
  if (!tt__hold_lookup(t, c, c->serial) && !tt__hold_get(t, c, TT_OBJ_CHAN, c->serial))
    return; /* the table is full: c is a root */
  /* Remember t as a user: the slot not holding the other user's id. */
  int slot = atomic_load_explicit(&c->users[0], memory_order_relaxed) != 0 &&
             atomic_load_explicit(&c->users[1], memory_order_relaxed) == 0;
  if (atomic_load_explicit(&c->users[0], memory_order_relaxed) != 0 &&
      atomic_load_explicit(&c->users[1], memory_order_relaxed) != 0)
    slot = (int)(t->id & 1);
  atomic_store_explicit(&c->users[slot], t->id, memory_order_relaxed);
}

void tt__chan_holder_gone(tt_chan *c) {
  tt_spin_lock(&c->lock);
  tt__chan_forget_stale(c);
  for (int q = 0; q < 2; q++)
    for (tt_waiter *w = q ? c->recvq.first : c->sendq.first; w; w = w->next)
      atomic_store_explicit(&w->op->task->holder_gone, 1, memory_order_relaxed);
  tt_spin_unlock(&c->lock);
}

int tt_chan_unref(tt_chan *c) {
  if (!chan_ok(c))
    return TT_EINVAL;
  /* One unref too many: its memory may still be alive, kept by the tasks
   * leaked on it (orphaned), but no reference is left to drop. */
  if (atomic_load_explicit(&c->refs, memory_order_acquire) <= 0)
    return TT_EINVAL;
  bool passed_on = tt__hold_unref(tt__current(), c, c->serial);
  if (tt__chan_unref_raw(c) == 0 && passed_on)
    tt__root_add(c); /* it lives on, and this task may have passed it on */
  return 0;
}

void tt__chan_ref_raw(tt_chan *c) { atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed); }

int tt__chan_unref_raw(tt_chan *c) {
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
    return 0;
  tt_spin_lock(&c->lock);
  tt__chan_forget_stale(c);
  __atomic_store_n(&c->orphaned, true, __ATOMIC_SEQ_CST); /* selects read it (leak.c) */
  /* Tasks queued without a deadline on c alone now wait on a channel
   * nobody can reach: they are leaked (leak.c records them), and unless
   * they are recovered the channel stays with them. */
  tt_task *wake = NULL;
  bool leaked = (c->recvq.first || c->sendq.first) && tt__leak_chan_orphaned(c, &wake);
  bool now = should_free_locked(c);
  if (!now) {
    c->kept = true;
    tt__chan_kept(c, true);
  }
  tt_spin_unlock(&c->lock);
  /* Otherwise a pinned operation frees it when it leaves (select.c and the
   * deadline path below). */
  if (now)
    tt__chan_free(c);
  if (leaked)
    tt__leak_flush();
  while (wake) { /* recovered: their calls return TT_ELEAKED */
    tt_task *next = wake->next;
    tt__ready(wake);
    wake = next;
  }
  return 1;
}

/* ---- Moving values (c locked) -------------------------------------------- */

void tt__chan_send_to_receiver(tt_chan *c, tt_waiter *r, const void *elem) {
  (void)c;
  tt__elem_copy(r->elem, elem, c->elem_size);
  r->success = true;
}

void tt__chan_buf_put(tt_chan *c, const void *elem) {
  tt__elem_copy(tt__chan_slot(c, c->sendx), elem, c->elem_size);
  if (++c->sendx == c->cap)
    c->sendx = 0;
  c->count++;
}

void tt__chan_buf_take(tt_chan *c, void *out) {
  tt__elem_copy(out, tt__chan_slot(c, c->recvx), c->elem_size);
  if (++c->recvx == c->cap)
    c->recvx = 0;
  c->count--;
}

void tt__chan_recv_from_sender(tt_chan *c, tt_waiter *s, void *out) {
  if (c->cap == 0) {
    tt__elem_copy(out, s->elem, c->elem_size);
  } else {
    /* Full buffer: the receiver takes the head, the sender's value goes to
     * the tail (the slot just freed). */
    tt__elem_copy(out, tt__chan_slot(c, c->recvx), c->elem_size);
    tt__elem_copy(tt__chan_slot(c, c->recvx), s->elem, c->elem_size);
    if (++c->recvx == c->cap)
      c->recvx = 0;
    c->sendx = c->recvx;
  }
  s->success = true;
}

/* ---- Send and receive ----------------------------------------------------- */

typedef struct park1 {
  tt_chan *c;
  tt_opstate *op;
} park1;

static void park1_commit(void *arg) {
  park1 *p = arg;
  if (p->op->deadline != TT_NO_DEADLINE)
    tt__op_timer_arm(p->op, p->op->deadline);
  tt_spin_unlock(&p->c->lock);
}

/* After a wake-up of a single-channel operation. Only an operation with a
 * deadline (pinned) touches the channel again. */
static inline int finish_wait(tt_chan *c, tt_waitq *q, tt_waiter *w, tt_opstate *op, bool pinned,
                              bool send) {
  if (op->fired == TT_FIRED_LEAKED) {
    /* Recovered: c may be gone already (the op was not pinned). */
    atomic_store_explicit(&op->task->leaked, 0, memory_order_relaxed);
    return TT_ELEAKED;
  }
  /* A send woken by close is a misuse: report it while c surely exists. */
  if (send && op->fired >= 0 && !w->success)
    tt__chan_misuse(c, "send on closed channel", TT_ECLOSED);
  if (pinned) {
    tt__op_timer_disarm(op);
    tt_spin_lock(&c->lock);
    bool free_it = tt__chan_unpin_locked(c, q, w);
    tt_spin_unlock(&c->lock);
    if (free_it)
      tt__chan_free(c);
  }
  if (op->fired < 0)
    return TT_ETIMEDOUT;
  return w->success ? 0 : TT_ECLOSED;
}

/* Neither a partner nor buffer room: with c locked, give up (try-variants,
 * past deadlines) or queue on q and park until a partner, a close or the
 * deadline completes the operation. */
static inline int wait_for_partner(tt_worker *wk, tt_chan *c, tt_waitq *q, void *elem, bool block,
                                   int64_t deadline, bool send) {
  if (!block) {
    tt_spin_unlock(&c->lock);
    return TT_EAGAIN;
  }
  if (deadline != TT_NO_DEADLINE && deadline <= tt_now()) {
    tt_spin_unlock(&c->lock);
    return TT_ETIMEDOUT;
  }
  tt_opstate op = {.done = 0,
                   .fired = -2,
                   .timer_state = TT_TIMER_UNUSED,
                   .task = wk->current,
                   .deadline = deadline};
  tt_waiter w = {.chan = c, .op = &op, .elem = elem, .case_index = 0};
  bool pinned = deadline != TT_NO_DEADLINE;
  tt__chan_enqueue(c, q, &w, pinned);
  park1 p = {c, &op};
  if (TT_BOOKKEEPING) {
    __atomic_store_n(&wk->current->wait_line, c->line, __ATOMIC_RELAXED);
    __atomic_store_n(&wk->current->wait_file, c->file, __ATOMIC_RELAXED);
  }
  atomic_store_explicit(&wk->current->wait_bounded, pinned, memory_order_relaxed);
  tt__park_on(wk, send ? TT_WAIT_CHAN_SEND : TT_WAIT_CHAN_RECV, c, park1_commit, &p);
  return finish_wait(c, q, &w, &op, pinned, send);
}

static int chan_send(tt_chan *c, const void *elem, int64_t deadline, bool block) {
  tt_worker *wk = tt__worker_at_entry();
  tt_task *self = wk ? wk->current : NULL;
  if (block && !self)
    return TT_ENOTASK;
  if (!c) {
    if (!block)
      return TT_EAGAIN;
    if (deadline == TT_NO_DEADLINE && tt__leak_self(TT_LEAK_NIL_CHANNEL, TT_WAIT_CHAN_SEND_NIL))
      return TT_ELEAKED;
    return tt__park_until(TT_WAIT_CHAN_SEND_NIL, deadline);
  }
  if (!chan_ok(c) || (!elem && c->elem_size))
    return TT_EINVAL; /* a stale handle, or no value to copy */
  tt_chan_key key = tt__chan_key(c);
  tt__chan_use(self, c);
  tt_spin_lock(&c->lock);
  tt__chan_forget_stale(c);
  if (c->closed) {
    tt_spin_unlock(&c->lock);
    return tt__chan_misuse(c, "send on closed channel", TT_ECLOSED);
  }
  tt_waiter *r = tt__waitq_claim_any(&c->recvq);
  if (r) {
    tt__chan_send_to_receiver(c, r, elem);
    tt_task *t = r->op->task;
    tt_spin_unlock(&c->lock);
    tt__ready_on(wk, t);
    tt__chan_sent(self, key);
    return 0;
  }
  if (c->count < c->cap) {
    tt__chan_buf_put(c, elem);
    tt_spin_unlock(&c->lock);
    tt__chan_sent(self, key);
    return 0;
  }
  int rc = wait_for_partner(wk, c, &c->sendq, (void *)elem, block, deadline, true);
  if (rc == 0)
    tt__chan_sent(self, key);
  return rc;
}

static int chan_recv(tt_chan *c, void *out, int64_t deadline, bool block) {
  tt_worker *wk = tt__worker_at_entry();
  tt_task *self = wk ? wk->current : NULL;
  if (block && !self)
    return TT_ENOTASK;
  if (!c) {
    if (!block)
      return TT_EAGAIN;
    if (deadline == TT_NO_DEADLINE && tt__leak_self(TT_LEAK_NIL_CHANNEL, TT_WAIT_CHAN_RECV_NIL))
      return TT_ELEAKED;
    return tt__park_until(TT_WAIT_CHAN_RECV_NIL, deadline);
  }
  if (!chan_ok(c))
    return TT_EINVAL;
  tt__chan_use(self, c);
  tt_spin_lock(&c->lock);
  tt__chan_forget_stale(c);
  tt_waiter *s = tt__waitq_claim_any(&c->sendq);
  if (s) {
    tt__chan_recv_from_sender(c, s, out);
    tt_task *t = s->op->task;
    tt_spin_unlock(&c->lock);
    tt__ready_on(wk, t);
    return 0;
  }
  if (c->count > 0) {
    tt__chan_buf_take(c, out);
    tt_spin_unlock(&c->lock);
    return 0;
  }
  if (c->closed) {
    tt_spin_unlock(&c->lock);
    tt__elem_zero(out, c->elem_size);
    return TT_ECLOSED;
  }
  return wait_for_partner(wk, c, &c->recvq, out, block, deadline, false);
}

int tt_chan_send(tt_chan *c, const void *elem) { return chan_send(c, elem, TT_NO_DEADLINE, true); }
int tt_chan_recv(tt_chan *c, void *out) { return chan_recv(c, out, TT_NO_DEADLINE, true); }
int tt_chan_try_send(tt_chan *c, const void *elem) {
  return chan_send(c, elem, TT_NO_DEADLINE, false);
}
int tt_chan_try_recv(tt_chan *c, void *out) { return chan_recv(c, out, TT_NO_DEADLINE, false); }
int tt_chan_send_until(tt_chan *c, const void *elem, int64_t deadline) {
  return chan_send(c, elem, deadline, true);
}
int tt_chan_recv_until(tt_chan *c, void *out, int64_t deadline) {
  return chan_recv(c, out, deadline, true);
}

/* ---- Close ----------------------------------------------------------------- */

#define CLOSE_BATCH 64

int tt__chan_close(tt_chan *c, const char *file, int line) {
  if (!c)
    return tt__chan_misuse(NULL, "close of nil channel", TT_EINVAL);
  if (!chan_ok(c))
    return TT_EINVAL;
  tt_task *self = tt__self_at_entry();
  tt__chan_use(self, c);
  tt__chan_sent(self, tt__chan_key(c));
  tt_spin_lock(&c->lock);
  tt__chan_forget_stale(c);
  if (c->closed) {
    tt_spin_unlock(&c->lock);
    return tt__chan_misuse(c, "close of closed channel", TT_ECLOSED);
  }
  c->closed = true;
  c->close_file = file;
  c->close_line = line;
  c->close_task = tt_self();
  if (tt__strict() && !c->close_stack && (c->close_stack = malloc(32 * sizeof(void *))))
    c->close_depth = backtrace(c->close_stack, 32);
  /* Senders (a misuse: they fail) are all claimed at once. Receivers are
   * claimed and woken CLOSE_BATCH at a time, unlocking between batches: a
   * channel may have a million of them (a context's done channel), and this
   * way each batch is woken while its waiters are still in cache and, with
   * other workers, the first ones run while the rest are being claimed.
   * Nobody can join the queue once it is closed; a select or timed wait
   * that completes elsewhere meanwhile unlinks itself as usual. */
  tt_task *senders = NULL;
  tt_waiter *s;
  while ((s = tt__waitq_claim_any(&c->sendq))) {
    s->success = false;
    s->op->task->next = senders;
    senders = s->op->task;
  }
  for (;;) {
    tt_waiter *batch[CLOSE_BATCH];
    tt_task *wake[CLOSE_BATCH];
    int n = c->recvq.first ? tt__waitq_claim_batch(&c->recvq, batch, CLOSE_BATCH) : 0;
    for (int i = 0; i < n; i++) {
      tt__elem_zero(batch[i]->elem, c->elem_size);
      batch[i]->success = false;
      wake[i] = batch[i]->op->task;
      __builtin_prefetch(wake[i], 1);
    }
    bool more = c->recvq.first != NULL;
    tt_spin_unlock(&c->lock);
    tt_worker *w = tt__worker(); /* NULL on a plain thread: tt__ready_on copes */
    while (senders) {
      tt_task *next = senders->next;
      tt__ready_on(w, senders);
      senders = next;
    }
    for (int i = 0; i < n; i++)
      tt__ready_on(w, wake[i]);
    if (!more)
      return 0;
    tt_spin_lock(&c->lock);
    tt__chan_forget_stale(c);
  }
}

size_t tt_chan_len(tt_chan *c) {
  if (!chan_ok(c))
    return 0;
  tt_spin_lock(&c->lock);
  size_t n = c->count;
  tt_spin_unlock(&c->lock);
  return n;
}

size_t tt_chan_cap(tt_chan *c) { return chan_ok(c) ? c->cap : 0; }
