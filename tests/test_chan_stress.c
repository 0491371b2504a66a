/*
 * test_chan_stress: randomized channel and select traffic for a bounded time.
 *
 * Tasks run random mixes of send / recv / try_* / *_until / select over a
 * small set of buffered and unbuffered channels. Every value sent carries a
 * unique id and a tag derived from it. At the end of each round the channels
 * are closed and drained, and the books must balance:
 *   - a send that returned 0 (or a select whose chosen send case has err 0)
 *     was received exactly once;
 *   - a send that failed (TT_EAGAIN, TT_ETIMEDOUT, TT_ECLOSED, or a send case
 *     that was not chosen) was never received;
 *   - every received value was sent (known id, matching tag), buffers of
 *     cases that were not chosen are untouched, and a TT_ECLOSED receive
 *     zeroes its buffer.
 * Phase 1 closes the channels only at the end of each round; phase 2 also
 * closes random channels in the middle of the traffic.
 */
#include "harness.h"

static int g_procs;

typedef struct elem {
  uint64_t id;
  uint64_t tag;
} elem;

static uint64_t tag_of(uint64_t id) { return (id * 0x9e3779b97f4a7c15ULL) ^ 0x5bd1e9955bd1e995ULL; }

#define MAXID (1u << 23) /* ids per round */
enum { S_NONE = 0, S_OK = 1, S_FAILED = 2, S_CLOSED = 3 };

static _Atomic uint8_t *g_sent; /* S_* per id */
static _Atomic uint8_t *g_recv; /* receive count per id */
static atomic_ulong g_next_id;
static atomic_long g_bad_value, g_bad_zero, g_bad_untouched, g_bad_rc;
static atomic_long g_n_ok, g_n_failed, g_n_closed, g_n_recv;
static atomic_long g_worker_ops[2]; /* sends by worker, to see both were used */

#define NCH 5
static const size_t g_caps[NCH] = {0, 0, 1, 4, 32};

typedef struct round_ctx {
  tt_chan *ch[NCH];
  _Atomic int closed[NCH]; /* set by main when it closes one */
  int64_t end;             /* producers and mixed tasks stop here */
  tt_chan *done_prod, *done_cons;
} round_ctx;

typedef struct task_arg {
  round_ctx *r;
  uint64_t seed;
} task_arg;

static uint64_t rnd(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

/* A fresh id for one send attempt; 0 when the id space is used up. */
static uint64_t new_id(void) {
  uint64_t id = atomic_fetch_add_explicit(&g_next_id, 1, memory_order_relaxed);
  return id < MAXID ? id : 0;
}

static void mark_sent(uint64_t id, int rc) {
  int w = tt_worker_id();
  if (w == 0 || w == 1)
    atomic_fetch_add_explicit(&g_worker_ops[w], 1, memory_order_relaxed);
  uint8_t s = rc == 0 ? S_OK : rc == TT_ECLOSED ? S_CLOSED : S_FAILED;
  atomic_store_explicit(&g_sent[id], s, memory_order_relaxed);
  if (s == S_OK)
    atomic_fetch_add_explicit(&g_n_ok, 1, memory_order_relaxed);
  else if (s == S_CLOSED)
    atomic_fetch_add_explicit(&g_n_closed, 1, memory_order_relaxed);
  else
    atomic_fetch_add_explicit(&g_n_failed, 1, memory_order_relaxed);
  if (rc != 0 && rc != TT_ECLOSED && rc != TT_EAGAIN && rc != TT_ETIMEDOUT)
    atomic_fetch_add(&g_bad_rc, 1);
}

static void got_value(const elem *e) {
  if (e->id == 0 || e->id >= MAXID || e->tag != tag_of(e->id) ||
      e->id >= atomic_load_explicit(&g_next_id, memory_order_relaxed)) {
    if (atomic_fetch_add(&g_bad_value, 1) < 5)
      fprintf(stderr, "procs=%d: received a value never sent: id %llu tag %llx\n", g_procs,
              (unsigned long long)e->id, (unsigned long long)e->tag);
    return;
  }
  atomic_fetch_add_explicit(&g_recv[e->id], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&g_n_recv, 1, memory_order_relaxed);
}

static void check_zeroed(const elem *e) {
  if (e->id != 0 || e->tag != 0)
    atomic_fetch_add(&g_bad_zero, 1);
}

static const elem k_untouched = {~0ULL, ~0ULL};
static int untouched(const elem *e) { return e->id == ~0ULL && e->tag == ~0ULL; }

/* A receive returned rc into e from channel index i; *closed gets the bit. */
static void after_recv(int rc, const elem *e, int i, unsigned *closed) {
  if (rc == 0) {
    got_value(e);
  } else if (rc == TT_ECLOSED) {
    check_zeroed(e);
    *closed |= 1u << i;
  } else if (rc != TT_EAGAIN && rc != TT_ETIMEDOUT) {
    atomic_fetch_add(&g_bad_rc, 1);
  }
}

static int pick_open(uint64_t *rng, unsigned closed) {
  int open[NCH], n = 0;
  for (int i = 0; i < NCH; i++)
    if (!(closed & (1u << i)))
      open[n++] = i;
  if (n == 0)
    return -1;
  return open[rnd(rng) % (uint64_t)n];
}

static int64_t short_deadline(uint64_t *rng) {
  uint64_t x = rnd(rng);
  if (x % 10 == 0)
    return tt_now() - 1; /* already passed */
  return tt_now() + (int64_t)(x % 200000);
}

/* One select over up to NCH cases. dirs: bit k set = case k sends. Records
 * every send attempt and every receive. Returns the select's result. */
static int do_select(round_ctx *r, uint64_t *rng, int n, unsigned dirs, const int *chi, int flags,
                     int64_t dl, unsigned *closed) {
  tt_case cs[NCH];
  elem bufs[NCH];
  uint64_t ids[NCH];
  (void)rng;
  for (int k = 0; k < n; k++) {
    tt_chan *c = chi[k] >= 0 ? r->ch[chi[k]] : NULL;
    if (dirs & (1u << k)) {
      ids[k] = new_id();
      if (!ids[k]) { /* out of ids: give up the attempt, books stay exact */
        for (int j = 0; j < k; j++)
          if (dirs & (1u << j))
            mark_sent(ids[j], TT_EAGAIN);
        return TT_EAGAIN;
      }
      bufs[k].id = ids[k];
      bufs[k].tag = tag_of(ids[k]);
      cs[k] = tt_case_send(c, &bufs[k]);
    } else {
      ids[k] = 0;
      bufs[k] = k_untouched;
      cs[k] = tt_case_recv(c, &bufs[k]);
    }
  }
  int rc = tt_select(cs, n, flags, dl);
  if (rc >= n || (rc < 0 && rc != TT_EAGAIN && rc != TT_ETIMEDOUT)) {
    atomic_fetch_add(&g_bad_rc, 1);
    rc = TT_EAGAIN; /* count every send as failed below; the books will say */
  }
  for (int k = 0; k < n; k++) {
    if (dirs & (1u << k)) {
      int src = (k == rc) ? cs[k].err : TT_EAGAIN;
      mark_sent(ids[k], src);
      if (k == rc && src == TT_ECLOSED && chi[k] >= 0)
        *closed |= 1u << chi[k];
    } else if (k == rc) {
      if (chi[k] < 0 || (cs[k].err != 0 && cs[k].err != TT_ECLOSED))
        atomic_fetch_add(&g_bad_rc, 1); /* a nil channel's case proceeded */
      else
        after_recv(cs[k].err, &bufs[k], chi[k], closed);
    } else if (!untouched(&bufs[k])) {
      atomic_fetch_add(&g_bad_untouched, 1);
    }
  }
  return rc;
}

static int random_flags(uint64_t *rng, int allow_block, int64_t *dl) {
  uint64_t x = rnd(rng) % 3;
  *dl = TT_NO_DEADLINE;
  if (x == 0 && allow_block)
    return 0;
  if (x == 1)
    return TT_SELECT_NONBLOCK;
  *dl = short_deadline(rng);
  return 0;
}

static void producer_fn(void *arg) {
  task_arg *a = arg;
  round_ctx *r = a->r;
  uint64_t rng = a->seed;
  unsigned closed = 0;
  while (tt_now() < r->end) {
    int i = pick_open(&rng, closed);
    if (i < 0)
      break;
    uint64_t op = rnd(&rng) % 100;
    if (op < 55) {
      uint64_t id = new_id();
      if (!id)
        break;
      elem e = {id, tag_of(id)};
      int rc;
      if (op < 25)
        rc = tt_chan_send(r->ch[i], &e);
      else if (op < 40)
        rc = tt_chan_send_until(r->ch[i], &e, short_deadline(&rng));
      else
        rc = tt_chan_try_send(r->ch[i], &e);
      mark_sent(id, rc);
      if (rc == TT_ECLOSED)
        closed |= 1u << i;
      if (rc == TT_EAGAIN && rnd(&rng) % 4 == 0)
        tt_yield();
    } else {
      int n = 1 + (int)(rnd(&rng) % 3), chi[4];
      for (int k = 0; k < n; k++) {
        chi[k] = pick_open(&rng, closed);
        if (k > 0 && rnd(&rng) % 8 == 0)
          chi[k] = -1; /* a nil channel case */
      }
      int64_t dl;
      int flags = random_flags(&rng, 1, &dl);
      do_select(r, &rng, n, 0xf, chi, flags, dl, &closed);
    }
  }
  tt_chan_send(r->done_prod, NULL);
}

/* Receives until every channel is closed and drained. */
static void consumer_fn(void *arg) {
  task_arg *a = arg;
  round_ctx *r = a->r;
  uint64_t rng = a->seed;
  unsigned closed = 0;
  while (closed != (1u << NCH) - 1) {
    int i = pick_open(&rng, closed);
    uint64_t op = rnd(&rng) % 100;
    if (op < 60) {
      elem e = k_untouched;
      int rc;
      if (op < 25)
        rc = tt_chan_recv(r->ch[i], &e);
      else if (op < 40)
        rc = tt_chan_recv_until(r->ch[i], &e, short_deadline(&rng));
      else
        rc = tt_chan_try_recv(r->ch[i], &e);
      if (rc != 0 && rc != TT_ECLOSED && !untouched(&e))
        atomic_fetch_add(&g_bad_untouched, 1);
      after_recv(rc, &e, i, &closed);
      if (rc == TT_EAGAIN && rnd(&rng) % 2 == 0)
        tt_yield();
    } else {
      int n = 1 + (int)(rnd(&rng) % 3), chi[4];
      for (int k = 0; k < n; k++)
        chi[k] = pick_open(&rng, closed);
      int64_t dl;
      int flags = random_flags(&rng, 1, &dl);
      int rc = do_select(r, &rng, n, 0, chi, flags, dl, &closed);
      if (rc == TT_EAGAIN && rnd(&rng) % 2 == 0)
        tt_yield();
    }
  }
  tt_chan_send(r->done_cons, NULL);
}

/* Always blocks on every open channel at once, so no producer can stay
 * parked forever. */
static void sweeper_fn(void *arg) {
  task_arg *a = arg;
  round_ctx *r = a->r;
  uint64_t rng = a->seed;
  unsigned closed = 0;
  while (closed != (1u << NCH) - 1) {
    int chi[NCH], n = 0;
    for (int i = 0; i < NCH; i++)
      if (!(closed & (1u << i)))
        chi[n++] = i;
    /* shuffle so the case order varies */
    for (int k = n - 1; k > 0; k--) {
      int j = (int)(rnd(&rng) % (uint64_t)(k + 1));
      int t = chi[k];
      chi[k] = chi[j];
      chi[j] = t;
    }
    do_select(r, &rng, n, 0, chi, 0, TT_NO_DEADLINE, &closed);
  }
  tt_chan_send(r->done_cons, NULL);
}

/* Never blocks for long: NONBLOCK, try, and short deadlines, both ways. */
static void mixed_fn(void *arg) {
  task_arg *a = arg;
  round_ctx *r = a->r;
  uint64_t rng = a->seed;
  unsigned closed = 0; /* for receives only: a closed channel may still have values */
  unsigned send_closed = 0;
  while (tt_now() < r->end) {
    uint64_t op = rnd(&rng) % 100;
    int i = (int)(rnd(&rng) % NCH);
    if (op < 15) {
      if (send_closed & (1u << i))
        continue;
      uint64_t id = new_id();
      if (!id)
        break;
      elem e = {id, tag_of(id)};
      int rc = (op < 8) ? tt_chan_try_send(r->ch[i], &e)
                        : tt_chan_send_until(r->ch[i], &e, short_deadline(&rng));
      mark_sent(id, rc);
      if (rc == TT_ECLOSED)
        send_closed |= 1u << i;
    } else if (op < 30) {
      elem e = k_untouched;
      int rc = (op < 22) ? tt_chan_try_recv(r->ch[i], &e)
                         : tt_chan_recv_until(r->ch[i], &e, short_deadline(&rng));
      if (rc != 0 && rc != TT_ECLOSED && !untouched(&e))
        atomic_fetch_add(&g_bad_untouched, 1);
      after_recv(rc, &e, i, &closed);
    } else {
      int n = 1 + (int)(rnd(&rng) % 4), chi[4];
      unsigned dirs = 0;
      for (int k = 0; k < n; k++) {
        chi[k] = (int)(rnd(&rng) % NCH);
        if (rnd(&rng) & 1)
          dirs |= 1u << k;
        if (rnd(&rng) % 16 == 0)
          chi[k] = -1;
      }
      int64_t dl;
      int flags = random_flags(&rng, 0, &dl);
      unsigned cl = 0;
      do_select(r, &rng, n, dirs, chi, flags, dl, &cl);
    }
  }
  tt_chan_send(r->done_prod, NULL);
}

static int wait_signals(tt_chan *c, int n, int64_t timeout) {
  int got = 0;
  int64_t dl = tt_now() + timeout;
  for (int i = 0; i < n; i++)
    if (tt_chan_recv_until(c, NULL, dl) == 0)
      got++;
  return got;
}

enum { NPROD = 4, NCONS = 3, NMIXED = 3 };

static long g_rounds_unfinished;

static void run_round(int64_t round_ns, int close_midway, uint64_t seed) {
  round_ctx *r = calloc(1, sizeof *r);
  for (int i = 0; i < NCH; i++)
    r->ch[i] = tt_chan_make(sizeof(elem), g_caps[i]);
  r->done_prod = tt_chan_make(0, NPROD + NMIXED);
  r->done_cons = tt_chan_make(0, NCONS + 1);
  r->end = tt_now() + round_ns;
  task_arg *args = calloc(NPROD + NCONS + NMIXED + 1, sizeof *args);
  int k = 0;
  for (int i = 0; i < NCONS; i++, k++) {
    args[k] = (task_arg){r, seed * 1000003 + (uint64_t)k + 1};
    CHECK(tt_go(consumer_fn, &args[k]) > 0);
  }
  args[k] = (task_arg){r, seed * 1000003 + (uint64_t)k + 1};
  CHECK(tt_go(sweeper_fn, &args[k]) > 0);
  k++;
  for (int i = 0; i < NPROD; i++, k++) {
    args[k] = (task_arg){r, seed * 1000003 + (uint64_t)k + 1};
    CHECK(tt_go(producer_fn, &args[k]) > 0);
  }
  for (int i = 0; i < NMIXED; i++, k++) {
    args[k] = (task_arg){r, seed * 1000003 + (uint64_t)k + 1};
    CHECK(tt_go(mixed_fn, &args[k]) > 0);
  }

  uint64_t rng = seed ^ 0xabcdef;
  if (close_midway) {
    /* close 1..NCH channels at random moments while the traffic runs */
    int nclose = 1 + (int)(rnd(&rng) % NCH);
    for (int j = 0; j < nclose; j++) {
      int64_t left = r->end - tt_now();
      if (left <= 0)
        break;
      tt_sleep((int64_t)(rnd(&rng) % (uint64_t)(left / 2 + 1)));
      int i = (int)(rnd(&rng) % NCH);
      if (atomic_load(&r->closed[i]))
        continue;
      atomic_store(&r->closed[i], 1);
      CHECK_EQ(tt_chan_close(r->ch[i]), 0);
    }
  }
  int64_t left = r->end - tt_now();
  if (left > 0)
    tt_sleep(left);

  int fin = wait_signals(r->done_prod, NPROD + NMIXED, TT_MS(30000));
  CHECK_MSG(fin == NPROD + NMIXED, "procs=%d: %d of %d producers finished (stuck send?)", g_procs,
            fin, NPROD + NMIXED);
  for (int i = 0; i < NCH; i++)
    if (!atomic_load(&r->closed[i])) {
      atomic_store(&r->closed[i], 1);
      CHECK_EQ(tt_chan_close(r->ch[i]), 0);
    }
  int fin2 = wait_signals(r->done_cons, NCONS + 1, TT_MS(30000));
  CHECK_MSG(fin2 == NCONS + 1, "procs=%d: %d of %d consumers finished (lost wake-up?)", g_procs,
            fin2, NCONS + 1);
  if (fin != NPROD + NMIXED || fin2 != NCONS + 1) {
    g_rounds_unfinished++;
    return; /* leak the round: its tasks may still use it */
  }
  for (int i = 0; i < NCH; i++) {
    CHECK_EQ(tt_chan_len(r->ch[i]), 0); /* drained */
    CHECK_EQ(tt_chan_close(r->ch[i]), TT_ECLOSED);
    CHECK_EQ(tt_chan_unref(r->ch[i]), 0);
  }
  tt_chan_unref(r->done_prod);
  tt_chan_unref(r->done_cons);
  free(args);
  free(r);
}

/* Phase totals of the per-round books. */
typedef struct phase_tally {
  long lost, dup, ghost, ghost_closed, unmarked;
  long bad_value, bad_zero, bad_untouched, bad_rc, recv_vs_ok;
  long ids, ok, failed, closed, recv;
} phase_tally;

static void reset_books(void) {
  unsigned long n = atomic_load(&g_next_id);
  if (n > MAXID)
    n = MAXID;
  memset((void *)g_sent, 0, n);
  memset((void *)g_recv, 0, n);
  atomic_store(&g_next_id, 1);
  atomic_store(&g_bad_value, 0);
  atomic_store(&g_bad_zero, 0);
  atomic_store(&g_bad_untouched, 0);
  atomic_store(&g_bad_rc, 0);
  atomic_store(&g_n_ok, 0);
  atomic_store(&g_n_failed, 0);
  atomic_store(&g_n_closed, 0);
  atomic_store(&g_n_recv, 0);
}

/* Balance the books of the round that just ended (every task of it has
 * returned) into *t, then reset them for the next round. */
static void tally_round(const char *phase, phase_tally *t) {
  unsigned long n = atomic_load(&g_next_id);
  if (n > MAXID)
    n = MAXID;
  for (unsigned long id = 1; id < n; id++) {
    uint8_t s = atomic_load_explicit(&g_sent[id], memory_order_relaxed);
    uint8_t c = atomic_load_explicit(&g_recv[id], memory_order_relaxed);
    if (s == S_OK) {
      if (c == 0) {
        if (t->lost++ < 5)
          fprintf(stderr, "%s procs=%d: id %lu sent (0) but never received\n", phase, g_procs, id);
      } else if (c > 1) {
        if (t->dup++ < 5)
          fprintf(stderr, "%s procs=%d: id %lu received %u times\n", phase, g_procs, id, c);
      }
    } else if (s == S_FAILED) {
      if (c != 0 && t->ghost++ < 5)
        fprintf(stderr, "%s procs=%d: id %lu failed to send but was received\n", phase, g_procs,
                id);
    } else if (s == S_CLOSED) {
      if (c != 0 && t->ghost_closed++ < 5)
        fprintf(stderr, "%s procs=%d: id %lu got TT_ECLOSED but was received\n", phase, g_procs,
                id);
    } else {
      t->unmarked++;
    }
  }
  t->bad_value += atomic_load(&g_bad_value);
  t->bad_zero += atomic_load(&g_bad_zero);
  t->bad_untouched += atomic_load(&g_bad_untouched);
  t->bad_rc += atomic_load(&g_bad_rc);
  if (atomic_load(&g_n_recv) != atomic_load(&g_n_ok))
    t->recv_vs_ok++;
  t->ids += (long)n - 1;
  t->ok += atomic_load(&g_n_ok);
  t->failed += atomic_load(&g_n_failed);
  t->closed += atomic_load(&g_n_closed);
  t->recv += atomic_load(&g_n_recv);
  reset_books();
}

static void check_phase(const char *phase, const phase_tally *t, int close_midway) {
  CHECK_MSG(t->lost == 0, "%s procs=%d: %ld successful sends never received", phase, g_procs,
            t->lost);
  CHECK_MSG(t->dup == 0, "%s procs=%d: %ld values received more than once", phase, g_procs, t->dup);
  CHECK_MSG(t->ghost == 0, "%s procs=%d: %ld failed sends were received", phase, g_procs, t->ghost);
  CHECK_MSG(t->ghost_closed == 0, "%s procs=%d: %ld TT_ECLOSED sends were received", phase, g_procs,
            t->ghost_closed);
  CHECK_MSG(t->unmarked == 0, "%s procs=%d: %ld ids without an outcome", phase, g_procs,
            t->unmarked);
  CHECK_MSG(t->bad_value == 0, "%s procs=%d: %ld received values were never sent", phase, g_procs,
            t->bad_value);
  CHECK_MSG(t->bad_zero == 0, "%s procs=%d: %ld TT_ECLOSED receives did not zero the buffer", phase,
            g_procs, t->bad_zero);
  CHECK_MSG(t->bad_untouched == 0,
            "%s procs=%d: %ld failed receives or unchosen cases wrote their buffer", phase, g_procs,
            t->bad_untouched);
  CHECK_MSG(t->bad_rc == 0, "%s procs=%d: %ld unexpected return codes", phase, g_procs, t->bad_rc);
  CHECK_EQ(t->recv_vs_ok, 0);
  CHECK_EQ(t->recv, t->ok);
  CHECK(t->ok > 0);
  if (close_midway)
    CHECK(t->closed > 0); /* the closes really raced with sends */
  NOTE("%s procs=%d: %ld ids, %ld sent, %ld failed, %ld TT_ECLOSED, %ld received; send attempts "
       "on worker 0/1: %ld/%ld",
       phase, g_procs, t->ids, t->ok, t->failed, t->closed, t->recv,
       atomic_exchange(&g_worker_ops[0], 0), atomic_exchange(&g_worker_ops[1], 0));
}

static int64_t g_phase_ns;

static void stress_main(void *arg) {
  (void)arg;
  int64_t round_ns = TT_MS(250);
  long rounds = g_phase_ns / round_ns;
  if (rounds < 2)
    rounds = 2;

  static const char *names[2] = {"phase 1 (close at the end)", "phase 2 (close mid-way)"};
  for (int phase = 0; phase < 2; phase++) {
    phase_tally t;
    memset(&t, 0, sizeof t);
    reset_books();
    for (long i = 0; i < rounds; i++) {
      long before = g_rounds_unfinished;
      run_round(round_ns, phase, (uint64_t)(i + 1) * (phase ? 104729 : 7919) + (uint64_t)g_procs);
      if (g_rounds_unfinished != before)
        break; /* tasks of that round still run */
      tally_round(names[phase], &t);
    }
    check_phase(names[phase], &t, phase);
  }
  CHECK_EQ(g_rounds_unfinished, 0);
}

int main(void) {
  unsetenv("TT_STRICT");
  tt_test_watchdog(150);
  g_sent = calloc(MAXID, 1);
  g_recv = calloc(MAXID, 1);
  /* 2.5 s per phase and worker count normally; shorter under sanitizers */
  g_phase_ns = TT_MS(tt_test_scale_min(2500, 750));
  for (g_procs = 1; g_procs <= 2; g_procs++)
    RUN_MAIN(g_procs, stress_main, NULL);
  free((void *)g_sent);
  free((void *)g_recv);
  return TEST_REPORT();
}
