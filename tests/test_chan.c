/*
 * test_chan: channel semantics (the "Channels" section of tether.h).
 *
 * Every scenario runs on a runtime with 1 worker and again with 2 workers.
 * Checks that depend on time only use "at least" bounds (a deadline is never
 * early) and generous upper bounds.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

static int g_procs; /* workers of the current pass, for messages */

#if TT_TEST_ASAN
/* test_make_limits asks for an impossible allocation: let malloc say NULL
 * instead of ASan aborting the program. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
#endif

/* ---- a task doing one channel operation ---------------------------------- */

enum { OP_SEND, OP_RECV, OP_SEND_UNTIL, OP_RECV_UNTIL };

typedef struct op {
  tt_chan *c;
  int kind;
  int64_t deadline;
  void *buf; /* value to send, or where to receive */
  int rc;
  int64_t started_at, returned_at;
  int64_t id;
  atomic_int done;
} op;

static void op_fn(void *arg) {
  op *o = arg;
  int rc = -9999;
  o->started_at = tt_now();
  switch (o->kind) {
  case OP_SEND: rc = tt_chan_send(o->c, o->buf); break;
  case OP_RECV: rc = tt_chan_recv(o->c, o->buf); break;
  case OP_SEND_UNTIL: rc = tt_chan_send_until(o->c, o->buf, o->deadline); break;
  case OP_RECV_UNTIL: rc = tt_chan_recv_until(o->c, o->buf, o->deadline); break;
  }
  o->returned_at = tt_now();
  o->rc = rc;
  atomic_store_explicit(&o->done, 1, memory_order_release);
}

/* Heap-allocated so that a task that never finishes (a failed check) never
 * writes into a dead stack frame; freed by op_free only once it is done. */
static op *op_start(tt_chan *c, int kind, void *buf, int64_t deadline) {
  op *o = calloc(1, sizeof *o);
  o->c = c;
  o->kind = kind;
  o->buf = buf;
  o->deadline = deadline;
  o->rc = -9999;
  atomic_store(&o->done, 0);
  o->id = tt_go(op_fn, o);
  CHECK(o->id > 0);
  return o;
}

static int op_is_done(op *o) { return atomic_load_explicit(&o->done, memory_order_acquire); }

/* Poll (from a task) until the op task finished; 1 if it did. */
static int op_wait(op *o, int64_t timeout_ns) {
  int64_t end = tt_test_mono_ns() + timeout_ns;
  while (!op_is_done(o)) {
    if (tt_test_mono_ns() > end)
      return 0;
    tt_sleep(TT_US(200));
  }
  return 1;
}

static void op_free(op *o) {
  if (o && op_is_done(o))
    free(o); /* otherwise leak it on purpose */
}

/* Wait until the task of `o` is parked with `reason`. */
static int op_await_reason_t(op *o, const char *reason, int64_t timeout) {
  tt_test_task ti;
  int ok = tt_test_await_wait_reason(o->id, reason, timeout, &ti);
  CHECK_MSG(ok, "procs=%d: task %lld not waiting with \"%s\" (found=%d state=%s reason=\"%s\")",
            g_procs, (long long)o->id, reason, ti.found, ti.state_name, ti.wait_reason);
  return ok;
}
static int op_await_reason(op *o, const char *reason) {
  return op_await_reason_t(o, reason, TT_MS(5000));
}

/* ---- plain threads with a time limit ------------------------------------- */

/* Run fn on a plain thread and join it, giving up after timeout_ns (a
 * blocking call that should have returned TT_ENOTASK but blocks instead). */
static int run_thread_timed(void *(*fn)(void *), void *arg, int64_t timeout_ns) {
  pthread_t th;
  if (pthread_create(&th, NULL, fn, arg) != 0)
    return 0;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t t = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec + timeout_ns;
  ts.tv_sec = (time_t)(t / 1000000000LL);
  ts.tv_nsec = (long)(t % 1000000000LL);
  if (pthread_timedjoin_np(th, NULL, &ts) != 0) {
    pthread_detach(th);
    return 0;
  }
  return 1;
}

static int all_bytes(const void *p, size_t n, unsigned char b) {
  const unsigned char *q = p;
  for (size_t i = 0; i < n; i++)
    if (q[i] != b)
      return 0;
  return 1;
}

/* ---- unbuffered rendezvous ----------------------------------------------- */

static void pingpong_fn(void *arg) {
  tt_chan **cs = arg; /* cs[0]: to me, cs[1]: back */
  for (;;) {
    uint64_t v;
    int rc = tt_chan_recv(cs[0], &v);
    if (rc != 0)
      break;
    v = v * 3 + 1;
    if (tt_chan_send(cs[1], &v) != 0)
      break;
  }
}

static void test_rendezvous(void) {
  tt_chan *c = tt_chan_make(sizeof(uint64_t), 0);
  CHECK(c != NULL);
  if (!c)
    return;
  CHECK_EQ(tt_chan_cap(c), 0);
  CHECK_EQ(tt_chan_len(c), 0);

  /* a sender blocks until a receiver arrives */
  uint64_t val = 0x0123456789abcdefULL;
  op *s = op_start(c, OP_SEND, &val, 0);
  op_await_reason(s, "chan send");
  tt_sleep(TT_MS(20));
  CHECK_MSG(!op_is_done(s), "procs=%d: send on an unbuffered channel returned with no receiver",
            g_procs);
  CHECK_EQ(tt_chan_len(c), 0); /* nothing is buffered by a rendezvous */
  uint64_t got = 0;
  CHECK_EQ(tt_chan_recv(c, &got), 0);
  CHECK_EQ(got, 0x0123456789abcdefULL);
  CHECK(op_wait(s, TT_MS(5000))); /* the sender resumes */
  CHECK_EQ(s->rc, 0);
  op_free(s);

  /* a receiver blocks until a sender arrives */
  uint64_t slot = 77;
  op *r = op_start(c, OP_RECV, &slot, 0);
  op_await_reason(r, "chan receive");
  tt_sleep(TT_MS(20));
  CHECK(!op_is_done(r));
  CHECK_EQ(slot, 77);
  uint64_t v2 = 0xfeedfacecafebeefULL;
  CHECK_EQ(tt_chan_send(c, &v2), 0); /* a receiver is waiting: returns */
  CHECK(op_wait(r, TT_MS(5000)));
  CHECK_EQ(r->rc, 0);
  CHECK_EQ(slot, 0xfeedfacecafebeefULL);
  op_free(r);

  /* the sender's buffer is copied: overwriting it after the send returns
   * does not change what was received */
  uint64_t src = 5;
  r = op_start(c, OP_RECV, &slot, 0);
  op_await_reason(r, "chan receive");
  CHECK_EQ(tt_chan_send(c, &src), 0);
  src = 6;
  CHECK(op_wait(r, TT_MS(5000)));
  CHECK_EQ(slot, 5);
  op_free(r);

  /* ping-pong with a transform: every value arrives exactly */
  tt_chan *back = tt_chan_make(sizeof(uint64_t), 0);
  tt_chan *cs[2] = {c, back};
  tt_wg *wg = tt_wg_make();
  CHECK(tt_wg_go(wg, pingpong_fn, cs) > 0);
  uint64_t x = 1;
  int bad = 0;
  for (int i = 0; i < 2000; i++) {
    uint64_t y;
    if (tt_chan_send(c, &x) != 0 || tt_chan_recv(back, &y) != 0 || y != x * 3 + 1)
      bad++;
    x = (y & 0xffffffff) + (uint64_t)i;
  }
  CHECK_EQ(bad, 0);
  CHECK_EQ(tt_chan_close(c), 0);
  CHECK_EQ(tt_wg_wait(wg), 0);
  tt_wg_free(wg);
  CHECK_EQ(tt_chan_unref(back), 0);
  CHECK_EQ(tt_chan_unref(c), 0);
}

/* ---- buffered: FIFO, capacity, len/cap ----------------------------------- */

typedef struct fifo_sender {
  tt_chan *c;
  int who;
  int n;
} fifo_sender;

static void fifo_send_fn(void *arg) {
  fifo_sender *f = arg;
  for (int i = 0; i < f->n; i++) {
    uint64_t v = ((uint64_t)f->who << 32) | (uint64_t)i;
    int rc = (i % 3 == 0) ? tt_chan_send_until(f->c, &v, TT_NO_DEADLINE) : tt_chan_send(f->c, &v);
    if (rc != 0) {
      CHECK_EQ(rc, 0);
      return;
    }
    if (i % 97 == 0)
      tt_yield();
  }
}

static void test_buffered(void) {
  /* capacity 1 */
  tt_chan *c1 = tt_chan_make(sizeof(int), 1);
  CHECK(c1 != NULL);
  int a = 41, b = 42, o = 0;
  CHECK_EQ(tt_chan_cap(c1), 1);
  CHECK_EQ(tt_chan_len(c1), 0);
  CHECK_EQ(tt_chan_try_send(c1, &a), 0);
  CHECK_EQ(tt_chan_len(c1), 1);
  CHECK_EQ(tt_chan_try_send(c1, &b), TT_EAGAIN);
  CHECK_EQ(tt_chan_len(c1), 1);
  CHECK_EQ(tt_chan_try_recv(c1, &o), 0);
  CHECK_EQ(o, 41);
  CHECK_EQ(tt_chan_try_recv(c1, &o), TT_EAGAIN);
  CHECK_EQ(tt_chan_send(c1, &b), 0); /* room: does not block */
  CHECK_EQ(tt_chan_recv(c1, &o), 0);
  CHECK_EQ(o, 42);
  /* recv into NULL discards the value */
  CHECK_EQ(tt_chan_send(c1, &a), 0);
  CHECK_EQ(tt_chan_recv(c1, NULL), 0);
  CHECK_EQ(tt_chan_len(c1), 0);
  CHECK_EQ(tt_chan_unref(c1), 0);

  /* capacity 10,000, filled and drained in order, twice (wrap-around) */
  const int big = 10000;
  tt_chan *cb = tt_chan_make(sizeof(int32_t), (size_t)big);
  CHECK(cb != NULL);
  CHECK_EQ(tt_chan_cap(cb), big);
  for (int pass = 0; pass < 2; pass++) {
    int bad = 0;
    for (int32_t i = 0; i < big; i++) {
      int32_t v = i + pass * big;
      if (tt_chan_try_send(cb, &v) != 0)
        bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(tt_chan_len(cb), big);
    int32_t extra = -1;
    CHECK_EQ(tt_chan_try_send(cb, &extra), TT_EAGAIN);
    CHECK_EQ(tt_chan_len(cb), big);
    for (int32_t i = 0; i < big / 2; i++) {
      int32_t v;
      if (tt_chan_recv(cb, &v) != 0 || v != i + pass * big)
        bad++;
    }
    CHECK_EQ(tt_chan_len(cb), big - big / 2);
    for (int32_t i = big / 2; i < big; i++) {
      int32_t v;
      if (tt_chan_try_recv(cb, &v) != 0 || v != i + pass * big)
        bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(tt_chan_len(cb), 0);
    /* shift the ring's start for the second pass */
    int32_t z = 0;
    CHECK_EQ(tt_chan_send(cb, &z), 0);
    CHECK_EQ(tt_chan_recv(cb, &z), 0);
  }
  CHECK_EQ(tt_chan_cap(cb), big);
  CHECK_EQ(tt_chan_unref(cb), 0);

  /* FIFO per sender: 4 senders into a small buffer, one receiver */
  const int nsend = 4;
  int per = (int)tt_test_scale_min(20000, 500);
  tt_chan *c = tt_chan_make(sizeof(uint64_t), 8);
  fifo_sender fs[4];
  tt_wg *wg = tt_wg_make();
  for (int s = 0; s < nsend; s++) {
    fs[s] = (fifo_sender){c, s, per};
    CHECK(tt_wg_go(wg, fifo_send_fn, &fs[s]) > 0);
  }
  int next[4] = {0, 0, 0, 0};
  int bad = 0, maxlen_bad = 0;
  for (long i = 0; i < (long)nsend * per; i++) {
    uint64_t v;
    if (tt_chan_len(c) > 8)
      maxlen_bad++;
    if (tt_chan_recv(c, &v) != 0) {
      bad++;
      break;
    }
    unsigned who = (unsigned)(v >> 32);
    int seq = (int)(v & 0xffffffff);
    if (who >= (unsigned)nsend || seq != next[who]) {
      if (bad++ < 5)
        fprintf(stderr, "procs=%d: FIFO: got sender %u seq %d, expected seq %d\n", g_procs, who,
                seq, who < (unsigned)nsend ? next[who] : -1);
    } else {
      next[who]++;
    }
  }
  CHECK_EQ(bad, 0);
  CHECK_EQ(maxlen_bad, 0);
  for (int s = 0; s < nsend; s++)
    CHECK_EQ(next[s], per);
  CHECK_EQ(tt_wg_wait(wg), 0);
  tt_wg_free(wg);
  CHECK_EQ(tt_chan_len(c), 0);
  CHECK_EQ(tt_chan_unref(c), 0);
}

/* ---- close ---------------------------------------------------------------- */

static void test_close(void) {
  CHECK_EQ(tt_chan_close(NULL), TT_EINVAL);

  /* buffered: receivers drain, then TT_ECLOSED at once with *out zeroed */
  tt_chan *c = tt_chan_make(sizeof(uint64_t), 4);
  for (uint64_t i = 1; i <= 3; i++)
    CHECK_EQ(tt_chan_send(c, &i), 0);
  CHECK_EQ(tt_chan_close(c), 0);
  CHECK_EQ(tt_chan_len(c), 3);
  CHECK_EQ(tt_chan_cap(c), 4);
  uint64_t v = 0;
  uint64_t one = 1;
  CHECK_EQ(tt_chan_send(c, &one), TT_ECLOSED);
  CHECK_EQ(tt_chan_try_send(c, &one), TT_ECLOSED);
  CHECK_EQ(tt_chan_send_until(c, &one, tt_now() + TT_MS(1000)), TT_ECLOSED);
  CHECK_EQ(tt_chan_len(c), 3); /* failed sends added nothing */
  CHECK_EQ(tt_chan_recv(c, &v), 0);
  CHECK_EQ(v, 1);
  CHECK_EQ(tt_chan_try_recv(c, &v), 0);
  CHECK_EQ(v, 2);
  CHECK_EQ(tt_chan_recv_until(c, &v, tt_now() + TT_MS(1000)), 0);
  CHECK_EQ(v, 3);
  CHECK_EQ(tt_chan_len(c), 0);
  int64_t t0 = tt_test_mono_ns();
  for (int i = 0; i < 1000; i++) {
    memset(&v, 0xab, sizeof v);
    int rc = tt_chan_recv(c, &v);
    if (rc != TT_ECLOSED || v != 0) {
      CHECK_EQ(rc, TT_ECLOSED);
      CHECK_EQ(v, 0);
      break;
    }
  }
  memset(&v, 0xab, sizeof v);
  CHECK_EQ(tt_chan_try_recv(c, &v), TT_ECLOSED);
  CHECK_EQ(v, 0);
  memset(&v, 0xab, sizeof v);
  CHECK_EQ(tt_chan_recv_until(c, &v, tt_now() + TT_MS(5000)), TT_ECLOSED);
  CHECK_EQ(v, 0);
  CHECK_EQ(tt_chan_recv(c, NULL), TT_ECLOSED);
  CHECK_MSG(tt_test_mono_ns() - t0 < TT_MS(3000), "receives on a closed channel waited");
  CHECK_EQ(tt_chan_close(c), TT_ECLOSED);
  CHECK_EQ(tt_chan_close(c), TT_ECLOSED);
  CHECK_EQ(tt_chan_len(c), 0);
  CHECK_EQ(tt_chan_cap(c), 4);
  CHECK_EQ(tt_chan_unref(c), 0);

  /* unbuffered, closed with nobody waiting */
  c = tt_chan_make(sizeof(uint64_t), 0);
  CHECK_EQ(tt_chan_close(c), 0);
  memset(&v, 0xab, sizeof v);
  CHECK_EQ(tt_chan_recv(c, &v), TT_ECLOSED);
  CHECK_EQ(v, 0);
  CHECK_EQ(tt_chan_send(c, &one), TT_ECLOSED);
  CHECK_EQ(tt_chan_close(c), TT_ECLOSED);
  CHECK_EQ(tt_chan_unref(c), 0);

  /* blocked senders (unbuffered) all get TT_ECLOSED */
  enum { NB = 5 };
  c = tt_chan_make(sizeof(uint64_t), 0);
  uint64_t vals[NB];
  op *ops[NB];
  for (int i = 0; i < NB; i++) {
    vals[i] = 100 + (uint64_t)i;
    ops[i] = op_start(c, i % 2 ? OP_SEND : OP_SEND_UNTIL, &vals[i], TT_NO_DEADLINE);
  }
  for (int i = 0; i < NB; i++)
    op_await_reason(ops[i], "chan send");
  CHECK_EQ(tt_chan_close(c), 0);
  for (int i = 0; i < NB; i++) {
    CHECK(op_wait(ops[i], TT_MS(5000)));
    CHECK_EQ(ops[i]->rc, TT_ECLOSED);
    op_free(ops[i]);
  }
  memset(&v, 0xab, sizeof v);
  CHECK_EQ(tt_chan_recv(c, &v), TT_ECLOSED); /* their values went nowhere */
  CHECK_EQ(v, 0);
  CHECK_EQ(tt_chan_unref(c), 0);

  /* blocked senders on a full buffer get TT_ECLOSED; the buffer survives */
  c = tt_chan_make(sizeof(uint64_t), 2);
  uint64_t b1 = 11, b2 = 12;
  CHECK_EQ(tt_chan_send(c, &b1), 0);
  CHECK_EQ(tt_chan_send(c, &b2), 0);
  for (int i = 0; i < 3; i++) {
    vals[i] = 200 + (uint64_t)i;
    ops[i] = op_start(c, OP_SEND, &vals[i], 0);
  }
  for (int i = 0; i < 3; i++)
    op_await_reason(ops[i], "chan send");
  CHECK_EQ(tt_chan_close(c), 0);
  for (int i = 0; i < 3; i++) {
    CHECK(op_wait(ops[i], TT_MS(5000)));
    CHECK_EQ(ops[i]->rc, TT_ECLOSED);
    op_free(ops[i]);
  }
  CHECK_EQ(tt_chan_len(c), 2);
  CHECK_EQ(tt_chan_recv(c, &v), 0);
  CHECK_EQ(v, 11);
  CHECK_EQ(tt_chan_recv(c, &v), 0);
  CHECK_EQ(v, 12);
  memset(&v, 0xab, sizeof v);
  CHECK_EQ(tt_chan_recv(c, &v), TT_ECLOSED);
  CHECK_EQ(v, 0);
  CHECK_EQ(tt_chan_unref(c), 0);

  /* blocked receivers (unbuffered and empty buffered) get TT_ECLOSED, zeroed */
  for (int cap = 0; cap <= 3; cap += 3) {
    c = tt_chan_make(sizeof(uint64_t), (size_t)cap);
    for (int i = 0; i < NB; i++) {
      memset(&vals[i], 0xab, sizeof vals[i]);
      ops[i] = op_start(c, i % 2 ? OP_RECV : OP_RECV_UNTIL, &vals[i], TT_NO_DEADLINE);
    }
    for (int i = 0; i < NB; i++)
      op_await_reason(ops[i], "chan receive");
    CHECK_EQ(tt_chan_close(c), 0);
    for (int i = 0; i < NB; i++) {
      CHECK(op_wait(ops[i], TT_MS(5000)));
      CHECK_EQ(ops[i]->rc, TT_ECLOSED);
      CHECK_EQ(vals[i], 0);
      op_free(ops[i]);
    }
    CHECK_EQ(tt_chan_unref(c), 0);
  }
}

/* ---- try-variants on every state ------------------------------------------ */

static void test_try_states(void) {
  uint64_t v = 1, o = 0;

  /* NULL channel: never ready */
  CHECK_EQ(tt_chan_try_send(NULL, &v), TT_EAGAIN);
  CHECK_EQ(tt_chan_try_recv(NULL, &o), TT_EAGAIN);
  CHECK_EQ(tt_chan_try_recv(NULL, NULL), TT_EAGAIN);
  CHECK_EQ(tt_chan_len(NULL), 0);
  CHECK_EQ(tt_chan_cap(NULL), 0);

  /* unbuffered, nobody waiting */
  tt_chan *c = tt_chan_make(sizeof(uint64_t), 0);
  CHECK_EQ(tt_chan_try_send(c, &v), TT_EAGAIN);
  CHECK_EQ(tt_chan_try_recv(c, &o), TT_EAGAIN);

  /* unbuffered with a waiting receiver */
  uint64_t slot = 0;
  op *r = op_start(c, OP_RECV, &slot, 0);
  op_await_reason(r, "chan receive");
  CHECK_EQ(tt_chan_try_recv(c, &o), TT_EAGAIN); /* a receiver does not make recv ready */
  uint64_t w = 0xabcdef;
  CHECK_EQ(tt_chan_try_send(c, &w), 0);
  CHECK(op_wait(r, TT_MS(5000)));
  CHECK_EQ(r->rc, 0);
  CHECK_EQ(slot, 0xabcdef);
  op_free(r);
  CHECK_EQ(tt_chan_try_send(c, &w), TT_EAGAIN); /* the receiver is gone */

  /* unbuffered with a waiting sender */
  uint64_t sv = 0x5151;
  op *s = op_start(c, OP_SEND, &sv, 0);
  op_await_reason(s, "chan send");
  CHECK_EQ(tt_chan_try_send(c, &w), TT_EAGAIN); /* a sender does not make send ready */
  o = 0;
  CHECK_EQ(tt_chan_try_recv(c, &o), 0);
  CHECK_EQ(o, 0x5151);
  CHECK(op_wait(s, TT_MS(5000)));
  CHECK_EQ(s->rc, 0);
  op_free(s);
  CHECK_EQ(tt_chan_try_recv(c, &o), TT_EAGAIN);

  /* unbuffered with two waiting senders: one try_recv takes exactly one */
  uint64_t s1v = 1001, s2v = 1002;
  op *s1 = op_start(c, OP_SEND, &s1v, 0);
  op_await_reason(s1, "chan send");
  op *s2 = op_start(c, OP_SEND, &s2v, 0);
  op_await_reason(s2, "chan send");
  CHECK_EQ(tt_chan_try_recv(c, &o), 0);
  CHECK_EQ(o, 1001); /* waiting senders are served in arrival order */
  CHECK(op_wait(s1, TT_MS(5000)));
  tt_sleep(TT_MS(5));
  CHECK(!op_is_done(s2));
  CHECK_EQ(tt_chan_try_recv(c, &o), 0);
  CHECK_EQ(o, 1002);
  CHECK(op_wait(s2, TT_MS(5000)));
  CHECK_EQ(s1->rc, 0);
  CHECK_EQ(s2->rc, 0);
  op_free(s1);
  op_free(s2);

  /* closed unbuffered */
  CHECK_EQ(tt_chan_close(c), 0);
  CHECK_EQ(tt_chan_try_send(c, &v), TT_ECLOSED);
  memset(&o, 0xab, sizeof o);
  CHECK_EQ(tt_chan_try_recv(c, &o), TT_ECLOSED);
  CHECK_EQ(o, 0);
  CHECK_EQ(tt_chan_unref(c), 0);

  /* buffered: empty, partly full, full */
  c = tt_chan_make(sizeof(uint64_t), 2);
  CHECK_EQ(tt_chan_try_recv(c, &o), TT_EAGAIN);
  uint64_t x1 = 31, x2 = 32, x3 = 33;
  CHECK_EQ(tt_chan_try_send(c, &x1), 0);
  CHECK_EQ(tt_chan_try_send(c, &x2), 0);
  CHECK_EQ(tt_chan_try_send(c, &x3), TT_EAGAIN);
  CHECK_EQ(tt_chan_len(c), 2);

  /* full with a waiting sender: try_recv takes the head, the sender's value
   * moves into the buffer behind the others */
  op *fs = op_start(c, OP_SEND, &x3, 0);
  op_await_reason(fs, "chan send");
  CHECK_EQ(tt_chan_try_send(c, &x1), TT_EAGAIN);
  CHECK_EQ(tt_chan_try_recv(c, &o), 0);
  CHECK_EQ(o, 31);
  CHECK(op_wait(fs, TT_MS(5000)));
  CHECK_EQ(fs->rc, 0);
  op_free(fs);
  CHECK_EQ(tt_chan_len(c), 2);
  CHECK_EQ(tt_chan_try_recv(c, &o), 0);
  CHECK_EQ(o, 32);
  CHECK_EQ(tt_chan_try_recv(c, &o), 0);
  CHECK_EQ(o, 33);
  CHECK_EQ(tt_chan_try_recv(c, &o), TT_EAGAIN);

  /* empty buffered with a waiting receiver: try_send hands the value over */
  slot = 0;
  r = op_start(c, OP_RECV, &slot, 0);
  op_await_reason(r, "chan receive");
  uint64_t hv = 0x77;
  CHECK_EQ(tt_chan_try_send(c, &hv), 0);
  CHECK(op_wait(r, TT_MS(5000)));
  CHECK_EQ(r->rc, 0);
  CHECK_EQ(slot, 0x77);
  CHECK_EQ(tt_chan_len(c), 0);
  op_free(r);

  /* closed with values in the buffer: try_send fails, try_recv drains */
  CHECK_EQ(tt_chan_try_send(c, &x1), 0);
  CHECK_EQ(tt_chan_close(c), 0);
  CHECK_EQ(tt_chan_try_send(c, &x2), TT_ECLOSED);
  CHECK_EQ(tt_chan_try_recv(c, &o), 0);
  CHECK_EQ(o, 31);
  memset(&o, 0xab, sizeof o);
  CHECK_EQ(tt_chan_try_recv(c, &o), TT_ECLOSED);
  CHECK_EQ(o, 0);
  CHECK_EQ(tt_chan_try_recv(c, NULL), TT_ECLOSED);
  CHECK_EQ(tt_chan_unref(c), 0);
}

/* ---- the nil channel --------------------------------------------------------- */

static uint64_t g_nil_val = 9;
static void nil_send_fn(void *arg) {
  (void)arg;
  int rc = tt_chan_send(NULL, &g_nil_val);
  /* never reached: the task is dropped at shutdown */
  CHECK_MSG(0, "send on the nil channel returned %d", rc);
}
static void nil_recv_fn(void *arg) {
  (void)arg;
  uint64_t v;
  int rc = tt_chan_recv(NULL, &v);
  CHECK_MSG(0, "receive from the nil channel returned %d", rc);
}

static void test_nil_chan(void) {
  int64_t ids = tt_go(nil_send_fn, NULL);
  int64_t idr = tt_go(nil_recv_fn, NULL);
  CHECK(ids > 0 && idr > 0);
  tt_sleep(TT_MS(50));
  tt_test_task ti;
  CHECK(tt_test_find_task(ids, &ti));
  CHECK_EQ(ti.info.state, TT_TASK_WAITING);
  CHECK_STREQ(ti.wait_reason, "chan send (nil chan)");
  CHECK(tt_test_find_task(idr, &ti));
  CHECK_EQ(ti.info.state, TT_TASK_WAITING);
  CHECK_STREQ(ti.wait_reason, "chan receive (nil chan)");

  /* with a deadline, the deadline wins */
  uint64_t v = 3;
  int64_t dl = tt_now() + TT_MS(20);
  CHECK_EQ(tt_chan_send_until(NULL, &v, dl), TT_ETIMEDOUT);
  CHECK(tt_now() >= dl);
  dl = tt_now() + TT_MS(20);
  CHECK_EQ(tt_chan_recv_until(NULL, &v, dl), TT_ETIMEDOUT);
  CHECK(tt_now() >= dl);
  CHECK_EQ(tt_chan_recv_until(NULL, &v, tt_now() - 1), TT_ETIMEDOUT);

  /* parked on the nil channel until the deadline, under the nil-channel
   * wait reasons */
  uint64_t ns = 1, nr = 0;
  op *s = op_start(NULL, OP_SEND_UNTIL, &ns, tt_now() + TT_MS(1000));
  op *r = op_start(NULL, OP_RECV_UNTIL, &nr, tt_now() + TT_MS(1000));
  op_await_reason_t(s, "chan send (nil chan)", TT_MS(300));
  op_await_reason_t(r, "chan receive (nil chan)", TT_MS(300));
  CHECK(op_wait(s, TT_MS(5000)));
  CHECK(op_wait(r, TT_MS(5000)));
  CHECK_EQ(s->rc, TT_ETIMEDOUT);
  CHECK_EQ(r->rc, TT_ETIMEDOUT);
  CHECK(s->returned_at >= s->deadline);
  CHECK(r->returned_at >= r->deadline);
  op_free(s);
  op_free(r);

  CHECK_EQ(tt_chan_unref(NULL), TT_EINVAL);
  CHECK(tt_chan_ref(NULL) == NULL);
  /* the two tasks stay parked and are dropped at shutdown */
}

/* ---- zero-size elements ---------------------------------------------------- */

static tt_chan *g_sig;
static void signal_fn(void *arg) {
  (void)arg;
  if (tt_chan_send(g_sig, NULL) != 0)
    CHECK_MSG(0, "signal send failed");
}

static void test_zero_size(void) {
  /* unbuffered signal channel */
  tt_chan *c = tt_chan_make(0, 0);
  CHECK(c != NULL);
  CHECK_EQ(tt_chan_cap(c), 0);
  op *s = op_start(c, OP_SEND, NULL, 0);
  op_await_reason(s, "chan send");
  CHECK_EQ(tt_chan_recv(c, NULL), 0);
  CHECK(op_wait(s, TT_MS(5000)));
  CHECK_EQ(s->rc, 0);
  op_free(s);

  /* a non-NULL buffer is accepted and left alone */
  unsigned char canary[8];
  memset(canary, 0x5a, sizeof canary);
  s = op_start(c, OP_SEND, canary, 0);
  op_await_reason(s, "chan send");
  unsigned char out[8];
  memset(out, 0x5a, sizeof out);
  CHECK_EQ(tt_chan_recv(c, out), 0);
  CHECK(all_bytes(out, sizeof out, 0x5a));
  CHECK(op_wait(s, TT_MS(5000)));
  op_free(s);

  /* many signallers */
  g_sig = c;
  int n = 100;
  for (int i = 0; i < n; i++)
    CHECK(tt_go(signal_fn, NULL) > 0);
  int got = 0;
  for (int i = 0; i < n; i++)
    if (tt_chan_recv_until(c, NULL, tt_now() + TT_MS(10000)) == 0)
      got++;
  CHECK_EQ(got, n);
  CHECK_EQ(tt_chan_try_recv(c, NULL), TT_EAGAIN);
  CHECK_EQ(tt_chan_close(c), 0);
  CHECK_EQ(tt_chan_recv(c, out), TT_ECLOSED);
  CHECK(all_bytes(out, sizeof out, 0x5a)); /* zeroing 0 bytes writes nothing */
  CHECK_EQ(tt_chan_unref(c), 0);

  /* buffered signal channel: counts */
  c = tt_chan_make(0, 3);
  CHECK(c != NULL);
  CHECK_EQ(tt_chan_cap(c), 3);
  for (int i = 0; i < 3; i++)
    CHECK_EQ(tt_chan_try_send(c, NULL), 0);
  CHECK_EQ(tt_chan_try_send(c, NULL), TT_EAGAIN);
  CHECK_EQ(tt_chan_len(c), 3);
  CHECK_EQ(tt_chan_recv(c, NULL), 0);
  CHECK_EQ(tt_chan_len(c), 2);
  CHECK_EQ(tt_chan_close(c), 0);
  CHECK_EQ(tt_chan_try_recv(c, NULL), 0);
  CHECK_EQ(tt_chan_recv(c, out), 0);
  CHECK_EQ(tt_chan_recv(c, NULL), TT_ECLOSED);
  CHECK(all_bytes(out, sizeof out, 0x5a));
  CHECK_EQ(tt_chan_unref(c), 0);
}

/* ---- elements of odd sizes ----------------------------------------------------- */

#define GUARD 32

static unsigned char pat(size_t elem, int i, size_t k) {
  return (unsigned char)((k * 131u + (size_t)i * 29u + elem * 7u + 1u) & 0xff);
}

typedef struct odd_job {
  tt_chan *c;
  size_t sz;
  int n;
} odd_job;

static void odd_sender_fn(void *arg) {
  odd_job *j = arg;
  unsigned char *buf = malloc(j->sz + 1);
  for (int i = 0; i < j->n; i++) {
    for (size_t k = 0; k < j->sz; k++)
      buf[k] = pat(j->sz, i, k);
    int rc = tt_chan_send(j->c, buf);
    memset(buf, 0xee, j->sz); /* the channel must have copied it already */
    if (rc != 0) {
      CHECK_EQ(rc, 0);
      break;
    }
  }
  free(buf);
}

static void test_odd_sizes(void) {
  static const size_t sizes[] = {1, 3, 24, 1000, 65536};
  static const size_t caps[] = {0, 1, 7};
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
    size_t sz = sizes[si];
    for (size_t ci = 0; ci < sizeof caps / sizeof caps[0]; ci++) {
      tt_chan *c = tt_chan_make(sz, caps[ci]);
      CHECK_MSG(c != NULL, "make(%zu, %zu)", sz, caps[ci]);
      if (!c)
        continue;
      odd_job j = {c, sz, 20};
      tt_wg *wg = tt_wg_make();
      CHECK(tt_wg_go(wg, odd_sender_fn, &j) > 0);
      unsigned char *out = malloc(sz + GUARD);
      int bad = 0, badguard = 0;
      for (int i = 0; i < j.n; i++) {
        memset(out, 0xcc, sz + GUARD);
        int rc = (i % 2) ? tt_chan_recv(c, out) : tt_chan_recv_until(c, out, TT_NO_DEADLINE);
        if (rc != 0) {
          bad++;
          continue;
        }
        for (size_t k = 0; k < sz; k++)
          if (out[k] != pat(sz, i, k)) {
            bad++;
            break;
          }
        if (!all_bytes(out + sz, GUARD, 0xcc))
          badguard++;
      }
      CHECK_MSG(bad == 0, "size %zu cap %zu: %d bad elements", sz, caps[ci], bad);
      CHECK_MSG(badguard == 0, "size %zu cap %zu: %d receives wrote past the element", sz, caps[ci],
                badguard);
      CHECK_EQ(tt_wg_wait(wg), 0);
      tt_wg_free(wg);

      /* buffered: try-variants, then the zeroing of a closed receive */
      if (caps[ci] > 0) {
        unsigned char *in = malloc(sz);
        for (size_t k = 0; k < sz; k++)
          in[k] = pat(sz, 99, k);
        CHECK_EQ(tt_chan_try_send(c, in), 0);
        memset(in, 0, sz);
        memset(out, 0xcc, sz + GUARD);
        CHECK_EQ(tt_chan_try_recv(c, out), 0);
        int okv = 1;
        for (size_t k = 0; k < sz; k++)
          if (out[k] != pat(sz, 99, k))
            okv = 0;
        CHECK_MSG(okv, "size %zu: try_send/try_recv value differs", sz);
        CHECK(all_bytes(out + sz, GUARD, 0xcc));
        free(in);
      }
      CHECK_EQ(tt_chan_close(c), 0);
      memset(out, 0xcc, sz + GUARD);
      CHECK_EQ(tt_chan_recv(c, out), TT_ECLOSED);
      CHECK_MSG(all_bytes(out, sz, 0), "size %zu: closed receive did not zero the element", sz);
      CHECK_MSG(all_bytes(out + sz, GUARD, 0xcc),
                "size %zu: closed receive zeroed past the element", sz);
      free(out);
      CHECK_EQ(tt_chan_unref(c), 0);
    }
  }
}

/* ---- deadlines ------------------------------------------------------------------ */

static void delayed_send_fn(void *arg) {
  tt_chan *c = arg;
  tt_sleep(TT_MS(10));
  uint64_t v = 4242;
  CHECK_EQ(tt_chan_send(c, &v), 0);
}
static void delayed_recv_fn(void *arg) {
  tt_chan *c = arg;
  tt_sleep(TT_MS(10));
  uint64_t v = 0;
  CHECK_EQ(tt_chan_recv(c, &v), 0);
  CHECK_EQ(v, 5353);
}

static void test_deadlines(void) {
  for (int cap = 0; cap <= 1; cap++) {
    tt_chan *c = tt_chan_make(sizeof(uint64_t), (size_t)cap);
    uint64_t v = 1, o = 0;

    /* receive times out, no earlier than the deadline */
    int64_t dl = tt_now() + TT_MS(30);
    int rc = tt_chan_recv_until(c, &o, dl);
    int64_t now = tt_now();
    CHECK_EQ(rc, TT_ETIMEDOUT);
    CHECK_MSG(now >= dl, "recv_until returned %lld ns before the deadline", (long long)(dl - now));
    CHECK_MSG(now - dl < TT_MS(5000), "recv_until returned %lld ms late",
              (long long)((now - dl) / 1000000));
    /* the timed-out receiver is no longer waiting */
    if (cap == 0)
      CHECK_EQ(tt_chan_try_send(c, &v), TT_EAGAIN);

    /* send times out (unbuffered: nobody; buffered: full) */
    if (cap == 1)
      CHECK_EQ(tt_chan_try_send(c, &v), 0);
    uint64_t sv = 0xdead;
    dl = tt_now() + TT_MS(30);
    rc = tt_chan_send_until(c, &sv, dl);
    now = tt_now();
    CHECK_EQ(rc, TT_ETIMEDOUT);
    CHECK_MSG(now >= dl, "send_until returned %lld ns before the deadline", (long long)(dl - now));
    CHECK(now - dl < TT_MS(5000));
    /* the timed-out sender's value was not delivered and it is not queued */
    if (cap == 1) {
      CHECK_EQ(tt_chan_try_recv(c, &o), 0);
      CHECK_EQ(o, 1);
    }
    CHECK_EQ(tt_chan_try_recv(c, &o), TT_EAGAIN);
    CHECK_EQ(tt_chan_len(c), 0);

    /* a partner arriving before the deadline */
    tt_wg *wg = tt_wg_make();
    CHECK(tt_wg_go(wg, delayed_send_fn, c) > 0);
    o = 0;
    dl = tt_now() + TT_MS(10000);
    CHECK_EQ(tt_chan_recv_until(c, &o, dl), 0);
    CHECK_EQ(o, 4242);
    CHECK(tt_now() < dl);
    CHECK_EQ(tt_wg_wait(wg), 0);
    /* send_until: the receiver arrives after 10 ms (unbuffered), or makes
     * room after 10 ms (buffered and full) */
    uint64_t x = 5353;
    if (cap == 0) {
      CHECK(tt_wg_go(wg, delayed_recv_fn, c) > 0);
      dl = tt_now() + TT_MS(10000);
      CHECK_EQ(tt_chan_send_until(c, &x, dl), 0);
      CHECK(tt_now() < dl);
    } else {
      CHECK_EQ(tt_chan_try_send(c, &x), 0); /* full; the receiver will take 5353 */
      CHECK(tt_wg_go(wg, delayed_recv_fn, c) > 0);
      uint64_t y = 6464;
      dl = tt_now() + TT_MS(10000);
      CHECK_EQ(tt_chan_send_until(c, &y, dl), 0);
      CHECK(tt_now() < dl);
      CHECK_EQ(tt_wg_wait(wg), 0);
      CHECK_EQ(tt_chan_try_recv(c, &o), 0);
      CHECK_EQ(o, 6464);
    }
    CHECK_EQ(tt_wg_wait(wg), 0);
    tt_wg_free(wg);

    /* a deadline already in the past: try + TT_ETIMEDOUT */
    int64_t past[2] = {tt_now() - 1, 0};
    for (int pi = 0; pi < 2; pi++) {
      int64_t t0 = tt_test_mono_ns();
      CHECK_EQ(tt_chan_recv_until(c, &o, past[pi]), TT_ETIMEDOUT);
      if (cap == 0)
        CHECK_EQ(tt_chan_send_until(c, &v, past[pi]), TT_ETIMEDOUT);
      CHECK(tt_test_mono_ns() - t0 < TT_MS(2000));
      if (cap == 1) {
        uint64_t pv = 808;
        CHECK_EQ(tt_chan_send_until(c, &pv, past[pi]), 0);            /* room: performed */
        CHECK_EQ(tt_chan_send_until(c, &pv, past[pi]), TT_ETIMEDOUT); /* full */
        o = 0;
        CHECK_EQ(tt_chan_recv_until(c, &o, past[pi]), 0); /* value: performed */
        CHECK_EQ(o, 808);
      }
    }
    /* past deadline with a waiting partner: performed */
    uint64_t ps = 0x1212;
    op *s = op_start(c, OP_SEND, &ps, 0);
    if (cap == 1) {
      /* buffered: the sender fills the buffer and returns */
      CHECK(op_wait(s, TT_MS(5000)));
    } else {
      op_await_reason(s, "chan send");
    }
    o = 0;
    CHECK_EQ(tt_chan_recv_until(c, &o, tt_now() - TT_MS(1)), 0);
    CHECK_EQ(o, 0x1212);
    CHECK(op_wait(s, TT_MS(5000)));
    CHECK_EQ(s->rc, 0);
    op_free(s);
    uint64_t slot = 0;
    op *r = op_start(c, OP_RECV, &slot, 0);
    op_await_reason(r, "chan receive");
    uint64_t pr = 0x3434;
    CHECK_EQ(tt_chan_send_until(c, &pr, 0), 0);
    CHECK(op_wait(r, TT_MS(5000)));
    CHECK_EQ(slot, 0x3434);
    op_free(r);

    /* closed beats the deadline */
    CHECK_EQ(tt_chan_close(c), 0);
    CHECK_EQ(tt_chan_send_until(c, &v, tt_now() - 1), TT_ECLOSED);
    CHECK_EQ(tt_chan_send_until(c, &v, tt_now() + TT_MS(1000)), TT_ECLOSED);
    memset(&o, 0xab, sizeof o);
    CHECK_EQ(tt_chan_recv_until(c, &o, tt_now() - 1), TT_ECLOSED);
    CHECK_EQ(o, 0);
    CHECK_EQ(tt_chan_unref(c), 0);
  }

  /* a timed-out sender in the middle of a queue of senders is skipped */
  tt_chan *c = tt_chan_make(sizeof(uint64_t), 0);
  uint64_t a = 1, b = 2, d = 3;
  op *sa = op_start(c, OP_SEND, &a, 0);
  op_await_reason(sa, "chan send");
  op *sb = op_start(c, OP_SEND_UNTIL, &b, tt_now() + TT_MS(30));
  op_await_reason(sb, "chan send");
  op *sd = op_start(c, OP_SEND, &d, 0);
  op_await_reason(sd, "chan send");
  CHECK(op_wait(sb, TT_MS(5000)));
  CHECK_EQ(sb->rc, TT_ETIMEDOUT);
  CHECK(sb->returned_at >= sb->deadline);
  uint64_t o = 0;
  CHECK_EQ(tt_chan_recv(c, &o), 0);
  CHECK_EQ(o, 1);
  CHECK_EQ(tt_chan_recv(c, &o), 0);
  CHECK_EQ(o, 3);
  CHECK_EQ(tt_chan_try_recv(c, &o), TT_EAGAIN);
  CHECK(op_wait(sa, TT_MS(5000)));
  CHECK(op_wait(sd, TT_MS(5000)));
  op_free(sa);
  op_free(sb);
  op_free(sd);
  CHECK_EQ(tt_chan_unref(c), 0);
}

/* ---- a deadline fires while the caller's worker is busy ------------------------------ *
 *
 * With 2 workers, one running a task that never yields and the other idle,
 * the idle one watches the timers (it is the poller): a 1 ms deadline of a
 * third task must fire long before a generous 1 s. */
static void test_deadline_while_busy(void) {
  if (tt_procs() < 2)
    return; /* one worker: nobody else can fire timers while we spin */
  tt_chan *c = tt_chan_make(sizeof(uint64_t), 0);
  int64_t limit = TT_TEST_SANITIZED ? TT_MS(3000) : TT_MS(1000);
  for (int round = 0; round < 5; round++) {
    uint64_t slot = 0;
    op *o = op_start(c, OP_RECV_UNTIL, &slot, tt_now() + TT_MS(1));
    int64_t t0 = tt_test_mono_ns();
    while (!op_is_done(o) && tt_test_mono_ns() - t0 < limit) {
    }
    int in_time = op_is_done(o);
    CHECK_MSG(in_time,
              "procs=%d round %d: a 1 ms recv_until deadline had not fired after %lld ms while "
              "this task spun (the other worker idle)",
              g_procs, round, (long long)(limit / 1000000));
    CHECK(op_wait(o, TT_MS(5000))); /* yielding lets this worker fire it */
    CHECK_EQ(o->rc, TT_ETIMEDOUT);
    op_free(o);
    if (!in_time)
      break;
    tt_sleep(TT_MS(2)); /* go idle between rounds, as a real program would */
  }
  CHECK_EQ(tt_chan_unref(c), 0);
}

/* ---- wait reasons on buffered channels ---------------------------------------- */

static void test_wait_reasons(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 1);
  int v = 1, o = 0;
  op *r = op_start(c, OP_RECV, &o, 0);
  op_await_reason(r, "chan receive");
  tt_test_task ti;
  CHECK(tt_test_find_task(r->id, &ti));
  CHECK_EQ(ti.info.state, TT_TASK_WAITING);
  CHECK(ti.info.wait_since > 0);
  CHECK_EQ(tt_chan_send(c, &v), 0);
  CHECK(op_wait(r, TT_MS(5000)));
  CHECK_EQ(o, 1);
  op_free(r);
  CHECK_EQ(tt_chan_send(c, &v), 0);
  op *s = op_start(c, OP_SEND_UNTIL, &v, tt_now() + TT_MS(60000));
  op_await_reason(s, "chan send");
  CHECK_EQ(tt_chan_recv(c, &o), 0);
  CHECK(op_wait(s, TT_MS(5000)));
  CHECK_EQ(s->rc, 0);
  op_free(s);
  CHECK_EQ(tt_chan_len(c), 1);
  CHECK_EQ(tt_chan_unref(c), 0);
}

/* ---- prime sieve ---------------------------------------------------------------- */

typedef struct sieve_filter {
  tt_chan *in, *out;
  int64_t prime;
} sieve_filter;

static void sieve_gen_fn(void *arg) {
  tt_chan *out = arg;
  for (int64_t i = 2;; i++)
    if (tt_chan_send(out, &i) != 0)
      break;
  CHECK_EQ(tt_chan_unref(out), 0);
}

static void sieve_filter_fn(void *arg) {
  sieve_filter *f = arg;
  for (;;) {
    int64_t v;
    int rc = tt_chan_recv(f->in, &v);
    if (rc != 0) {
      CHECK_MSG(0, "sieve filter %lld: recv returned %d", (long long)f->prime, rc);
      break;
    }
    if (v % f->prime != 0) {
      rc = tt_chan_send(f->out, &v);
      if (rc != 0) {
        CHECK_EQ(rc, TT_ECLOSED);
        break;
      }
    }
  }
  /* the downstream end is gone: shut the upstream one, which stops the
   * filter before us at its next send */
  CHECK_EQ(tt_chan_close(f->in), 0);
  CHECK_EQ(tt_chan_unref(f->in), 0);
  CHECK_EQ(tt_chan_unref(f->out), 0);
  free(f);
}

static void test_sieve(void) {
  int nprimes = TT_TEST_TSAN ? 300 : 1000;
  int64_t *primes = calloc((size_t)nprimes, sizeof *primes);
  tt_wg *wg = tt_wg_make();
  tt_chan *ch = tt_chan_make(sizeof(int64_t), 0);
  CHECK(tt_wg_go(wg, sieve_gen_fn, tt_chan_ref(ch)) > 0);
  int got = 0;
  for (int i = 0; i < nprimes; i++) {
    int64_t p;
    if (tt_chan_recv(ch, &p) != 0)
      break;
    primes[got++] = p;
    if (i == nprimes - 1)
      break;
    tt_chan *ch2 = tt_chan_make(sizeof(int64_t), 0);
    sieve_filter *f = malloc(sizeof *f);
    f->in = ch; /* our reference moves to the filter */
    f->out = tt_chan_ref(ch2);
    f->prime = p;
    CHECK(tt_wg_go(wg, sieve_filter_fn, f) > 0);
    ch = ch2;
  }
  CHECK_EQ(got, nprimes);
  CHECK_EQ(tt_chan_close(ch), 0);
  CHECK_EQ(tt_chan_unref(ch), 0);
  CHECK_EQ(tt_wg_wait(wg), 0); /* the whole chain unwinds */
  tt_wg_free(wg);

  /* check against trial division */
  int64_t n = 1;
  int bad = 0;
  for (int i = 0; i < got; i++) {
    for (n++;; n++) {
      int isp = 1;
      for (int64_t d = 2; d * d <= n; d++)
        if (n % d == 0) {
          isp = 0;
          break;
        }
      if (isp)
        break;
    }
    if (primes[i] != n) {
      if (bad++ < 5)
        fprintf(stderr, "sieve: prime #%d is %lld, expected %lld\n", i, (long long)primes[i],
                (long long)n);
    }
  }
  CHECK_EQ(bad, 0);
  if (nprimes == 1000)
    CHECK_EQ(primes[999], 7919);
  NOTE("procs=%d: sieve: %d primes, last %lld", g_procs, got,
       got ? (long long)primes[got - 1] : 0LL);
  free(primes);
}

/* ---- a ring of tasks passing a token ------------------------------------------------- */

static tt_chan **g_ring;
static tt_chan *g_ring_result;
static int g_ring_n, g_ring_rounds;
static atomic_int g_ring_errors;

static void ring_fn(void *arg) {
  int i = (int)(intptr_t)arg;
  tt_chan *in = g_ring[i], *out = g_ring[(i + 1) % g_ring_n];
  for (int r = 0; r < g_ring_rounds; r++) {
    int64_t v;
    if (tt_chan_recv(in, &v) != 0) {
      atomic_fetch_add(&g_ring_errors, 1);
      return;
    }
    v++;
    tt_chan *to = (i == g_ring_n - 1 && r == g_ring_rounds - 1) ? g_ring_result : out;
    if (tt_chan_send(to, &v) != 0) {
      atomic_fetch_add(&g_ring_errors, 1);
      return;
    }
  }
}

static void test_ring(void) {
  g_ring_n = 1000;
  g_ring_rounds = TT_TEST_TSAN ? 10 : 100;
  atomic_store(&g_ring_errors, 0);
  g_ring = calloc((size_t)g_ring_n, sizeof *g_ring);
  for (int i = 0; i < g_ring_n; i++)
    g_ring[i] = tt_chan_make(sizeof(int64_t), 0);
  g_ring_result = tt_chan_make(sizeof(int64_t), 0);
  tt_wg *wg = tt_wg_make();
  for (int i = 0; i < g_ring_n; i++)
    CHECK(tt_wg_go(wg, ring_fn, (void *)(intptr_t)i) > 0);
  int64_t t = 0;
  CHECK_EQ(tt_chan_send(g_ring[0], &t), 0);
  int64_t res = -1;
  CHECK_EQ(tt_chan_recv(g_ring_result, &res), 0);
  CHECK_EQ(res, (int64_t)g_ring_n * g_ring_rounds);
  CHECK_EQ(tt_wg_wait(wg), 0);
  tt_wg_free(wg);
  CHECK_EQ(atomic_load(&g_ring_errors), 0);
  for (int i = 0; i < g_ring_n; i++) {
    CHECK_EQ(tt_chan_len(g_ring[i]), 0);
    tt_chan_unref(g_ring[i]);
  }
  tt_chan_unref(g_ring_result);
  free(g_ring);
}

/* ---- many senders, many receivers ---------------------------------------------------- */

typedef struct mm_ctx {
  tt_chan *c;
  int nsend, per;
  int use_try;
  _Atomic uint8_t *seen;
  atomic_long received, sum_bad, closed_bad;
} mm_ctx;

typedef struct mm_arg {
  mm_ctx *m;
  int idx;
} mm_arg;

static void mm_send_fn(void *arg) {
  mm_arg *a = arg;
  mm_ctx *m = a->m;
  for (int i = 0; i < m->per; i++) {
    uint32_t v = (uint32_t)(a->idx * m->per + i);
    int rc;
    if (m->use_try) {
      while ((rc = tt_chan_try_send(m->c, &v)) == TT_EAGAIN)
        tt_yield();
    } else if (i % 4 == 1) {
      rc = tt_chan_send_until(m->c, &v, tt_now() + TT_MS(60000));
    } else {
      rc = tt_chan_send(m->c, &v);
    }
    if (rc != 0) {
      CHECK_EQ(rc, 0);
      return;
    }
  }
}

static void mm_recv_fn(void *arg) {
  mm_arg *a = arg;
  mm_ctx *m = a->m;
  long total = (long)m->nsend * m->per;
  for (int k = 0;; k++) {
    uint32_t v = 0xffffffffu;
    int rc;
    if (m->use_try) {
      while ((rc = tt_chan_try_recv(m->c, &v)) == TT_EAGAIN)
        tt_yield();
    } else if (k % 3 == 2) {
      rc = tt_chan_recv_until(m->c, &v, tt_now() + TT_MS(60000));
    } else {
      rc = tt_chan_recv(m->c, &v);
    }
    if (rc == TT_ECLOSED) {
      if (v != 0)
        atomic_fetch_add(&m->closed_bad, 1);
      return;
    }
    if (rc != 0 || v >= (uint32_t)total) {
      atomic_fetch_add(&m->sum_bad, 1);
      continue;
    }
    atomic_fetch_add(&m->seen[v], 1);
    atomic_fetch_add(&m->received, 1);
  }
}

static void test_many_many(void) {
  struct {
    size_t cap;
    int use_try;
  } variants[] = {{0, 0}, {16, 0}, {1, 0}, {16, 1}};
  for (size_t vi = 0; vi < sizeof variants / sizeof variants[0]; vi++) {
    mm_ctx m;
    memset(&m, 0, sizeof m);
    m.nsend = 8;
    m.per = (int)tt_test_scale_min(10000, 300);
    m.use_try = variants[vi].use_try;
    m.c = tt_chan_make(sizeof(uint32_t), variants[vi].cap);
    long total = (long)m.nsend * m.per;
    m.seen = calloc((size_t)total, 1);
    mm_arg sa[8], ra[8];
    tt_wg *ws = tt_wg_make(), *wr = tt_wg_make();
    for (int i = 0; i < 8; i++) {
      ra[i] = (mm_arg){&m, i};
      CHECK(tt_wg_go(wr, mm_recv_fn, &ra[i]) > 0);
    }
    for (int i = 0; i < 8; i++) {
      sa[i] = (mm_arg){&m, i};
      CHECK(tt_wg_go(ws, mm_send_fn, &sa[i]) > 0);
    }
    CHECK_EQ(tt_wg_wait(ws), 0);
    CHECK_EQ(tt_chan_close(m.c), 0);
    CHECK_EQ(tt_wg_wait(wr), 0);
    long dup = 0, missing = 0;
    for (long i = 0; i < total; i++) {
      uint8_t s = atomic_load(&m.seen[i]);
      if (s == 0)
        missing++;
      if (s > 1)
        dup++;
    }
    CHECK_MSG(missing == 0 && dup == 0 && atomic_load(&m.sum_bad) == 0,
              "procs=%d cap=%zu try=%d: %ld missing, %ld duplicated, %ld bad receives", g_procs,
              variants[vi].cap, m.use_try, missing, dup, atomic_load(&m.sum_bad));
    CHECK_EQ(atomic_load(&m.received), total);
    CHECK_EQ(atomic_load(&m.closed_bad), 0);
    tt_wg_free(ws);
    tt_wg_free(wr);
    free((void *)m.seen);
    CHECK_EQ(tt_chan_unref(m.c), 0);
  }
}

/* ---- references ---------------------------------------------------------------------- */

typedef struct ref_ctx {
  tt_chan *c;
  tt_chan *go; /* signal: the creator has dropped its reference */
  int n;
  int64_t sum;
} ref_ctx;

static void ref_producer_fn(void *arg) {
  ref_ctx *r = arg;
  CHECK_EQ(tt_chan_recv(r->go, NULL), 0);
  for (int64_t i = 1; i <= r->n; i++)
    CHECK_EQ(tt_chan_send(r->c, &i), 0);
  CHECK_EQ(tt_chan_close(r->c), 0);
  CHECK_EQ(tt_chan_unref(r->c), 0);
}
static void ref_consumer_fn(void *arg) {
  ref_ctx *r = arg;
  CHECK_EQ(tt_chan_recv(r->go, NULL), 0);
  int64_t v;
  while (tt_chan_recv(r->c, &v) == 0)
    r->sum += v;
  tt_sleep(TT_MS(5));
  CHECK_EQ(tt_chan_len(r->c), 0); /* still usable after the producer's unref */
  CHECK_EQ(tt_chan_recv(r->c, &v), TT_ECLOSED);
  CHECK_EQ(tt_chan_unref(r->c), 0);
}

static void test_refs(void) {
  for (int cap = 0; cap <= 4; cap += 4) {
    ref_ctx r = {0};
    r.n = 1000;
    r.c = tt_chan_make(sizeof(int64_t), (size_t)cap);
    r.go = tt_chan_make(0, 2);
    CHECK(tt_chan_ref(r.c) == r.c); /* the producer's reference */
    CHECK(tt_chan_ref(r.c) == r.c); /* the consumer's reference */
    tt_wg *wg = tt_wg_make();
    CHECK(tt_wg_go(wg, ref_producer_fn, &r) > 0);
    CHECK(tt_wg_go(wg, ref_consumer_fn, &r) > 0);
    CHECK_EQ(tt_chan_unref(r.c), 0); /* the creator lets go first */
    CHECK_EQ(tt_chan_send(r.go, NULL), 0);
    CHECK_EQ(tt_chan_send(r.go, NULL), 0);
    CHECK_EQ(tt_wg_wait(wg), 0);
    CHECK_EQ(r.sum, (int64_t)r.n * (r.n + 1) / 2);
    tt_wg_free(wg);
    CHECK_EQ(tt_chan_unref(r.go), 0);
  }

  /* a task blocked with a deadline keeps the channel alive after the last
   * reference is dropped (ASan sees a use after free otherwise) */
  tt_chan *c = tt_chan_make(sizeof(int64_t), 0);
  int64_t slot = 5;
  op *o = op_start(c, OP_RECV_UNTIL, &slot, tt_now() + TT_MS(60));
  op_await_reason(o, "chan receive");
  CHECK_EQ(tt_chan_unref(c), 0);
  CHECK(op_wait(o, TT_MS(5000)));
  CHECK_EQ(o->rc, TT_ETIMEDOUT);
  op_free(o);

  c = tt_chan_make(sizeof(int64_t), 0);
  o = op_start(c, OP_SEND_UNTIL, &slot, tt_now() + TT_MS(60));
  op_await_reason(o, "chan send");
  CHECK_EQ(tt_chan_unref(c), 0);
  CHECK(op_wait(o, TT_MS(5000)));
  CHECK_EQ(o->rc, TT_ETIMEDOUT);
  op_free(o);
}

/* ---- misuse and plain threads ---------------------------------------------------------- */

static void *outside_task_checks(void *arg) {
  const char *where = arg;
  tt_chan *c = tt_chan_make(sizeof(int), 2);
  CHECK(c != NULL);
  if (!c)
    return NULL;
  int v = 7, o = 0, rc;
  rc = tt_chan_send(c, &v);
  CHECK_MSG(rc == TT_ENOTASK, "%s: send = %d", where, rc);
  CHECK_EQ(tt_chan_len(c), 0); /* and nothing was sent */
  rc = tt_chan_send_until(c, &v, tt_now() + TT_MS(10));
  CHECK_MSG(rc == TT_ENOTASK, "%s: send_until = %d", where, rc);
  CHECK_EQ(tt_chan_len(c), 0);
  /* the try-variants work */
  CHECK_EQ(tt_chan_try_send(c, &v), 0);
  CHECK_EQ(tt_chan_len(c), 1);
  rc = tt_chan_recv(c, &o);
  CHECK_MSG(rc == TT_ENOTASK, "%s: recv = %d", where, rc);
  rc = tt_chan_recv_until(c, &o, tt_now() + TT_MS(10));
  CHECK_MSG(rc == TT_ENOTASK, "%s: recv_until = %d", where, rc);
  CHECK_EQ(tt_chan_len(c), 1);
  CHECK_EQ(tt_chan_try_recv(c, &o), 0);
  CHECK_EQ(o, 7);
  CHECK_EQ(tt_chan_try_recv(c, &o), TT_EAGAIN);
  /* nil channel: TT_ENOTASK, not a thread blocked forever */
  rc = tt_chan_send(NULL, &v);
  CHECK_MSG(rc == TT_ENOTASK, "%s: send(NULL) = %d", where, rc);
  rc = tt_chan_recv(NULL, &o);
  CHECK_MSG(rc == TT_ENOTASK, "%s: recv(NULL) = %d", where, rc);
  CHECK_EQ(tt_chan_try_send(NULL, &v), TT_EAGAIN);
  /* close, len, cap, ref work anywhere */
  CHECK(tt_chan_ref(c) == c);
  CHECK_EQ(tt_chan_unref(c), 0);
  CHECK_EQ(tt_chan_try_send(c, &v), 0);
  CHECK_EQ(tt_chan_close(c), 0);
  CHECK_EQ(tt_chan_try_send(c, &v), TT_ECLOSED);
  rc = tt_chan_send(c, &v);
  CHECK_MSG(rc == TT_ENOTASK || rc == TT_ECLOSED, "%s: send on closed = %d", where, rc);
  CHECK_EQ(tt_chan_try_recv(c, &o), 0);
  CHECK_EQ(tt_chan_try_recv(c, &o), TT_ECLOSED);
  CHECK_EQ(tt_chan_close(c), TT_ECLOSED);
  CHECK_EQ(tt_chan_unref(c), 0);
  return NULL;
}

static void test_make_limits(void) {
  CHECK(tt_chan_make(65537, 0) == NULL);
  CHECK(tt_chan_make(65537, 4) == NULL);
  CHECK(tt_chan_make((size_t)1 << 20, 1) == NULL);
  tt_chan *c = tt_chan_make(65536, 2);
  CHECK(c != NULL);
  if (c) {
    CHECK_EQ(tt_chan_cap(c), 2);
    CHECK_EQ(tt_chan_unref(c), 0);
  }
  /* elem_size * cap overflows size_t: must not wrap to a small buffer */
  c = tt_chan_make(65536, SIZE_MAX / 65536 + 2);
  CHECK_MSG(c == NULL, "make(65536, SIZE_MAX/65536+2) returned a channel of cap %zu",
            tt_chan_cap(c));
  if (c)
    tt_chan_unref(c);
}

static tt_chan *g_pt_chan;
static void *plain_try_send_thread(void *arg) {
  (void)arg;
  uint64_t v = 0x99;
  /* spin until the receiver is parked, then hand the value over */
  int rc;
  int64_t end = tt_test_mono_ns() + TT_MS(5000);
  while ((rc = tt_chan_try_send(g_pt_chan, &v)) == TT_EAGAIN && tt_test_mono_ns() < end)
    tt_test_sleep_ns(TT_US(100));
  CHECK_EQ(rc, 0);
  return NULL;
}
static void *plain_try_recv_thread(void *arg) {
  (void)arg;
  uint64_t v = 0;
  int rc;
  int64_t end = tt_test_mono_ns() + TT_MS(5000);
  while ((rc = tt_chan_try_recv(g_pt_chan, &v)) == TT_EAGAIN && tt_test_mono_ns() < end)
    tt_test_sleep_ns(TT_US(100));
  CHECK_EQ(rc, 0);
  CHECK_EQ(v, 0x88);
  return NULL;
}
static void *plain_close_thread(void *arg) {
  (void)arg;
  CHECK_EQ(tt_chan_close(g_pt_chan), 0);
  return NULL;
}

static void test_plain_threads_in_runtime(void) {
  CHECK(run_thread_timed(outside_task_checks, "plain thread", TT_MS(10000)));

  /* a plain thread's try_send wakes a task parked in recv */
  g_pt_chan = tt_chan_make(sizeof(uint64_t), 0);
  uint64_t slot = 0;
  op *r = op_start(g_pt_chan, OP_RECV, &slot, 0);
  op_await_reason(r, "chan receive");
  CHECK(run_thread_timed(plain_try_send_thread, NULL, TT_MS(10000)));
  CHECK(op_wait(r, TT_MS(5000)));
  CHECK_EQ(r->rc, 0);
  CHECK_EQ(slot, 0x99);
  op_free(r);

  /* a plain thread's try_recv wakes a task parked in send */
  uint64_t sv = 0x88;
  op *s = op_start(g_pt_chan, OP_SEND, &sv, 0);
  op_await_reason(s, "chan send");
  CHECK(run_thread_timed(plain_try_recv_thread, NULL, TT_MS(10000)));
  CHECK(op_wait(s, TT_MS(5000)));
  CHECK_EQ(s->rc, 0);
  op_free(s);

  /* a plain thread's close wakes a parked receiver */
  slot = 0xabab;
  r = op_start(g_pt_chan, OP_RECV, &slot, 0);
  op_await_reason(r, "chan receive");
  CHECK(run_thread_timed(plain_close_thread, NULL, TT_MS(10000)));
  CHECK(op_wait(r, TT_MS(5000)));
  CHECK_EQ(r->rc, TT_ECLOSED);
  CHECK_EQ(slot, 0);
  op_free(r);
  CHECK_EQ(tt_chan_unref(g_pt_chan), 0);
}

/* ---- in a child process: lifetime races, strict mode ---------------------------------------- */

/* Run fn in a child process (before this process has any runtime thread);
 * returns the wait status. The child's stderr goes to /dev/null when quiet. */
static int run_child(void (*fn)(void), int quiet) {
  fflush(stdout);
  fflush(stderr);
  long failed_before = tt_test_failures(); /* the child inherits the counters */
  pid_t pid = fork();
  if (pid == 0) {
    if (quiet) {
      FILE *f = freopen("/dev/null", "w", stderr);
      (void)f;
    }
    tt_test_watchdog(6); /* a use after free may leave a spinlock spinning */
    fn();
    fflush(stdout);
    _exit(tt_test_failures() != failed_before ? 1 : 0);
  }
  if (pid < 0)
    return -1;
  int st = 0;
  waitpid(pid, &st, 0);
  return st;
}

/* A task in recv_until / send_until holds no reference. Its deadline fires,
 * and while it is runnable but has not run yet, the holder of the last
 * reference does a try-op on the channel (which finds only the timed-out
 * waiter) and drops the reference. The timed-out task must not touch the
 * channel after that (ASan: heap-use-after-free).
 *
 * To hold the timed-out task in the runnable state, a hog task sleeps until
 * just after its deadline: the same timer pass wakes both, the hog takes the
 * run-next slot, and spins for a millisecond before the other can run. */
static int64_t g_hog_wake;
static void hog_fn(void *arg) {
  (void)arg;
  int64_t d = g_hog_wake - tt_now();
  tt_sleep(d > 0 ? d : 0);
  tt_test_spin_ns(TT_MS(1));
}

static void timeout_unref_main(void *arg) {
  (void)arg;
  long rounds = TT_TEST_SANITIZED ? 60 : 200;
  long bad = 0, caught = 0;
  for (long i = 0; i < rounds; i++) {
    tt_chan *c = tt_chan_make(sizeof(uint64_t), 0);
    uint64_t slot = 0, v = 1;
    int send_side = (int)(i & 1);
    /* far enough ahead that both tasks are parked by then (TSan spawns slowly) */
    int64_t dl = tt_now() + (TT_TEST_SANITIZED ? TT_MS(3) : TT_US(300));
    g_hog_wake = dl + TT_US(1);
    CHECK(tt_go(hog_fn, NULL) > 0);
    op *o = op_start(c, send_side ? OP_SEND_UNTIL : OP_RECV_UNTIL, &slot, dl);
    int64_t give_up = tt_test_mono_ns() + TT_MS(5000);
    while (!op_is_done(o) && tt_test_mono_ns() < give_up) {
      tt_test_task ti;
      if (tt_now() > dl && tt_test_find_task(o->id, &ti) && ti.info.state == TT_TASK_RUNNABLE) {
        caught++;
        break;
      }
      tt_yield(); /* lets this worker's scheduler fire the timers too */
    }
    int rc = send_side ? tt_chan_try_recv(c, &v) : tt_chan_try_send(c, &v);
    CHECK_EQ(tt_chan_unref(c), 0);
    if (rc != TT_EAGAIN)
      bad++; /* the deadline has passed: nobody is waiting */
    if (!op_wait(o, TT_MS(5000))) {
      bad++;
      continue;
    }
    if (o->rc != TT_ETIMEDOUT)
      bad++;
    op_free(o);
    tt_sleep(TT_MS(2)); /* let the hog finish */
  }
  CHECK_MSG(bad == 0, "%ld inconsistent timeout/try outcomes", bad);
  NOTE("timeout/unref procs=%d: caught the timed-out task runnable in %ld of %ld rounds",
       tt_procs(), caught, rounds);
}

static void child_timeout_unref(void) {
  RUN_MAIN(1, timeout_unref_main, NULL);
  RUN_MAIN(2, timeout_unref_main, NULL);
}

/* Tasks parked on a channel when the runtime shuts down are dropped (never
 * resumed, stacks freed). The channel itself is a heap object that outlives
 * the runtime (as WaitGroups do): afterwards its try-variants, close and
 * unref must not reach into the dropped tasks, and it works in the next
 * runtime. */
static tt_chan *g_drop_r, *g_drop_s, *g_drop_sel;
static void drop_recv_fn(void *arg) {
  (void)arg;
  uint64_t v;
  tt_chan_recv(g_drop_r, &v);
}
static void drop_send_fn(void *arg) {
  (void)arg;
  uint64_t v = 5;
  tt_chan_send_until(g_drop_s, &v, tt_now() + TT_MS(60000));
}
static void drop_select_fn(void *arg) {
  (void)arg;
  uint64_t v = 6, o;
  tt_case cs[2] = {tt_case_recv(g_drop_sel, &o), tt_case_send(g_drop_s, &v)};
  tt_select(cs, 2, 0, TT_NO_DEADLINE);
}
static void drop_main(void *arg) {
  (void)arg;
  int64_t a = tt_go(drop_recv_fn, NULL), b = tt_go(drop_send_fn, NULL),
          c = tt_go(drop_select_fn, NULL);
  tt_test_task ti;
  CHECK(tt_test_await_wait_reason(a, "chan receive", TT_MS(5000), &ti));
  CHECK(tt_test_await_wait_reason(b, "chan send", TT_MS(5000), &ti));
  CHECK(tt_test_await_wait_reason(c, "select", TT_MS(5000), &ti));
  /* return: the three tasks are dropped at shutdown */
}
static void reuse_main(void *arg) {
  (void)arg;
  uint64_t v = 7, o = 0;
  op *r = op_start(g_drop_r, OP_RECV, &o, 0);
  op_await_reason(r, "chan receive");
  CHECK_EQ(tt_chan_send(g_drop_r, &v), 0);
  CHECK(op_wait(r, TT_MS(5000)));
  CHECK_EQ(o, 7);
  op_free(r);
}
static void child_dropped_waiters(void) {
  g_drop_r = tt_chan_make(sizeof(uint64_t), 0);
  g_drop_s = tt_chan_make(sizeof(uint64_t), 0);
  g_drop_sel = tt_chan_make(sizeof(uint64_t), 0);
  RUN_MAIN(2, drop_main, NULL);
  uint64_t v = 1, o = 0;
  CHECK_EQ(tt_chan_try_send(g_drop_r, &v), TT_EAGAIN); /* nobody is waiting any more */
  CHECK_EQ(tt_chan_try_recv(g_drop_s, &o), TT_EAGAIN);
  CHECK_EQ(tt_chan_try_send(g_drop_sel, &v), TT_EAGAIN);
  RUN_MAIN(1, reuse_main, NULL); /* the channel works in a new runtime */
  CHECK_EQ(tt_chan_close(g_drop_r), 0);
  CHECK_EQ(tt_chan_close(g_drop_s), 0);
  CHECK_EQ(tt_chan_close(g_drop_sel), 0);
  CHECK_EQ(tt_chan_unref(g_drop_r), 0);
  CHECK_EQ(tt_chan_unref(g_drop_s), 0);
  CHECK_EQ(tt_chan_unref(g_drop_sel), 0);
}

/* TT_STRICT=1: the misuses that are errors otherwise abort. */
static void strict_close_closed(void) {
  tt_chan *c = tt_chan_make(4, 1);
  tt_chan_close(c);
  tt_chan_close(c);
}
static void strict_close_nil(void) { tt_chan_close(NULL); }
static void strict_send_closed(void) {
  tt_chan *c = tt_chan_make(4, 1);
  int v = 1;
  tt_chan_close(c);
  tt_chan_try_send(c, &v);
}
static void strict_select_send_closed(void) {
  tt_chan *c = tt_chan_make(4, 1);
  int v = 1;
  tt_chan_close(c);
  tt_case cs[1] = {tt_case_send(c, &v)};
  tt_select(cs, 1, TT_SELECT_NONBLOCK, TT_NO_DEADLINE);
}
static void strict_recv_closed_ok(void) {
  /* receiving from a closed channel is not a misuse */
  tt_chan *c = tt_chan_make(4, 1);
  int v;
  tt_chan_close(c);
  CHECK_EQ(tt_chan_try_recv(c, &v), TT_ECLOSED);
  tt_chan_unref(c);
}

static void test_isolated(void) {
  int st = run_child(child_timeout_unref, 0);
  CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0,
            "timed-out send/recv racing with try-op + last unref: child %s %d",
            WIFEXITED(st) ? "exited with" : "killed by signal",
            WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));

  st = run_child(child_dropped_waiters, 0);
  CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0,
            "channel used after the runtime dropped the tasks parked on it: child %s %d",
            WIFEXITED(st) ? "exited with" : "killed by signal",
            WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));

  setenv("TT_STRICT", "1", 1);
  static const struct {
    void (*fn)(void);
    const char *what;
  } aborts[] = {{strict_close_closed, "close of a closed channel"},
                {strict_close_nil, "close of a nil channel"},
                {strict_send_closed, "send on a closed channel"},
                {strict_select_send_closed, "select send case on a closed channel"}};
  for (size_t i = 0; i < sizeof aborts / sizeof aborts[0]; i++) {
    st = run_child(aborts[i].fn, 1);
    CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
              "TT_STRICT=1: %s did not abort (status %#x)", aborts[i].what, st);
  }
  st = run_child(strict_recv_closed_ok, 0);
  CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "TT_STRICT=1: receive from closed aborted");
  unsetenv("TT_STRICT");
}

/* ---- driver ------------------------------------------------------------------------- */

static void chan_main(void *arg) {
  (void)arg;
  NOTE("procs=%d: rendezvous", g_procs);
  test_rendezvous();
  NOTE("procs=%d: buffered", g_procs);
  test_buffered();
  NOTE("procs=%d: close", g_procs);
  test_close();
  NOTE("procs=%d: try states", g_procs);
  test_try_states();
  NOTE("procs=%d: zero size", g_procs);
  test_zero_size();
  NOTE("procs=%d: odd sizes", g_procs);
  test_odd_sizes();
  NOTE("procs=%d: deadlines", g_procs);
  test_deadlines();
  NOTE("procs=%d: deadline while busy", g_procs);
  test_deadline_while_busy();
  NOTE("procs=%d: wait reasons", g_procs);
  test_wait_reasons();
  NOTE("procs=%d: sieve", g_procs);
  test_sieve();
  NOTE("procs=%d: ring", g_procs);
  test_ring();
  NOTE("procs=%d: many senders, many receivers", g_procs);
  test_many_many();
  NOTE("procs=%d: references", g_procs);
  test_refs();
  NOTE("procs=%d: plain threads", g_procs);
  test_plain_threads_in_runtime();
  NOTE("procs=%d: nil channel", g_procs);
  test_nil_chan(); /* last: leaves two tasks parked forever */
}

int main(void) {
  unsetenv("TT_STRICT");
  tt_test_watchdog(120);

  /* first, while this process has no runtime thread and has not read
   * TT_STRICT yet: the tests that run in child processes */
  test_isolated();

  /* before any runtime exists */
  outside_task_checks("before tt_init");
  test_make_limits();

  for (g_procs = 1; g_procs <= 2; g_procs++) {
    RUN_MAIN(g_procs, chan_main, NULL);
  }

  /* after shutdown */
  outside_task_checks("after tt_shutdown");
  return TEST_REPORT();
}
