/*
 * test_sync: task-aware sync primitives.
 *
 *  - Mutex: exact counter under contention, mutual exclusion, trylock,
 *    unlock misuse, lock_until / lock_ctx time out and cancel without losing
 *    or leaking ownership (also under racing hand-offs), wait reason;
 *  - RWMutex: readers share, writers exclude, writer preference, misuse,
 *    timed and cancelled waits leave it usable (a writer that gives up lets
 *    the readers queued behind it in), wait reasons;
 *  - Cond: signal wakes one, broadcast wakes all, signals are not stored,
 *    wait_until / wait_ctx return with the mutex held, bounded queue;
 *  - Once: fn runs exactly once; every caller returns after it finished;
 *  - Semaphore: at most K permits held, FIFO (a big request at the head is
 *    not overtaken), try_acquire, timed and cancelled acquires neither keep
 *    nor lose permits and let later waiters move up, n <= 0;
 *  - tt_wg_wait_ctx;
 *  - blocking calls from plain threads return TT_ENOTASK and change nothing;
 *  - zeroed objects are valid.
 *
 * Every scenario runs on 1 and on 2 workers.
 */
#include "harness.h"

#include <pthread.h>

#define PROMPT (TT_TEST_SANITIZED ? TT_MS(4000) : TT_MS(1000))
#define LONG_NS TT_MS(60000)
#define AWAIT_NS (TT_TEST_SANITIZED ? TT_MS(20000) : TT_MS(5000))

static int g_procs;

static uint64_t g_rng = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void) { /* only called from the main task */
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

static void join_fn(void *arg) { pthread_join(*(pthread_t *)arg, NULL); }
static void run_plain(void *(*fn)(void *), void *arg) {
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, fn, arg), 0);
  CHECK_EQ(tt_blocking(join_fn, &th), TT_OK);
}

/* ---- one blocking operation in its own task
 * ------------------------------------------------------
 *
 * op_start spawns a task that performs one acquire. With hold set, after a
 * successful acquire it keeps what it got until op_let_go, then gives it
 * back. The starter watches `done`, `rc` and `t_done`. */

enum {
  OP_LOCK,
  OP_LOCK_UNTIL,
  OP_LOCK_CTX,
  OP_RLOCK,
  OP_RLOCK_UNTIL,
  OP_RLOCK_CTX,
  OP_WLOCK,
  OP_WLOCK_UNTIL,
  OP_WLOCK_CTX,
  OP_SEM,
  OP_SEM_UNTIL,
  OP_SEM_CTX,
  OP_WG_CTX,
};

typedef struct op {
  int kind;
  void *obj;
  tt_context *ctx;
  int64_t deadline;
  int64_t n;
  int hold;
  tt_chan *release;
  int64_t id;
  int rc;
  int unlock_rc;
  int64_t t_done;
  atomic_int done;
  atomic_long *seq; /* optional: order in which ops completed */
  long order;
} op;

static void op_task(void *arg) {
  op *o = arg;
  int rc = TT_EINVAL;
  switch (o->kind) {
  case OP_LOCK: rc = tt_mutex_lock(o->obj); break;
  case OP_LOCK_UNTIL: rc = tt_mutex_lock_until(o->obj, o->deadline); break;
  case OP_LOCK_CTX: rc = tt_mutex_lock_ctx(o->obj, o->ctx); break;
  case OP_RLOCK: rc = tt_rwmutex_rlock(o->obj); break;
  case OP_RLOCK_UNTIL: rc = tt_rwmutex_rlock_until(o->obj, o->deadline); break;
  case OP_RLOCK_CTX: rc = tt_rwmutex_rlock_ctx(o->obj, o->ctx); break;
  case OP_WLOCK: rc = tt_rwmutex_lock(o->obj); break;
  case OP_WLOCK_UNTIL: rc = tt_rwmutex_lock_until(o->obj, o->deadline); break;
  case OP_WLOCK_CTX: rc = tt_rwmutex_lock_ctx(o->obj, o->ctx); break;
  case OP_SEM: rc = tt_sem_acquire(o->obj, o->n); break;
  case OP_SEM_UNTIL: rc = tt_sem_acquire_until(o->obj, o->n, o->deadline); break;
  case OP_SEM_CTX: rc = tt_sem_acquire_ctx(o->obj, o->n, o->ctx); break;
  case OP_WG_CTX: rc = tt_wg_wait_ctx(o->obj, o->ctx); break;
  }
  o->rc = rc;
  o->t_done = tt_now();
  if (o->seq)
    o->order = atomic_fetch_add(o->seq, 1);
  atomic_store(&o->done, 1);
  if (rc != 0 || !o->hold || o->kind == OP_WG_CTX)
    return;
  tt_chan_recv(o->release, NULL);
  switch (o->kind) {
  case OP_LOCK:
  case OP_LOCK_UNTIL:
  case OP_LOCK_CTX: o->unlock_rc = tt_mutex_unlock(o->obj); break;
  case OP_RLOCK:
  case OP_RLOCK_UNTIL:
  case OP_RLOCK_CTX: o->unlock_rc = tt_rwmutex_runlock(o->obj); break;
  case OP_WLOCK:
  case OP_WLOCK_UNTIL:
  case OP_WLOCK_CTX: o->unlock_rc = tt_rwmutex_unlock(o->obj); break;
  default: o->unlock_rc = tt_sem_release(o->obj, o->n); break;
  }
}

static op *op_start(int kind, void *obj, int hold) {
  op *o = calloc(1, sizeof *o);
  o->kind = kind;
  o->obj = obj;
  o->hold = hold;
  o->n = 1;
  o->deadline = TT_NO_DEADLINE;
  o->rc = 12345;
  o->unlock_rc = 12345;
  o->release = tt_chan_make(0, 0);
  return o;
}
static void op_go(tt_wg *wg, op *o) {
  o->id = tt_wg_go(wg, op_task, o);
  CHECK(o->id > 0);
}
static op *op_spawn(tt_wg *wg, int kind, void *obj, int hold) {
  op *o = op_start(kind, obj, hold);
  op_go(wg, o);
  return o;
}
static void op_let_go(op *o) { tt_chan_close(o->release); }
/* poll until the op has returned, for at most ns; returns done */
static int op_wait(op *o, int64_t ns) {
  int64_t end = tt_test_mono_ns() + ns;
  while (!atomic_load(&o->done) && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  return atomic_load(&o->done);
}
static void op_free(op *o) {
  tt_chan_unref(o->release);
  free(o);
}
/* the op's task is parked with this wait reason (NULL: any) */
static int op_parked(op *o, const char *reason) {
  tt_test_task t;
  int ok;
  if (reason) {
    ok = tt_test_await_wait_reason(o->id, reason, AWAIT_NS, &t);
  } else {
    int64_t end = tt_test_mono_ns() + AWAIT_NS;
    while (!(ok = tt_test_find_task(o->id, &t) && t.info.state == TT_TASK_WAITING) &&
           tt_test_mono_ns() < end)
      tt_sleep(TT_MS(1));
  }
  if (!ok)
    fprintf(stderr, "    task %" PRId64 ": found %d state %s reason \"%s\" (want \"%s\")\n", o->id,
            t.found, t.state_name, t.wait_reason, reason);
  return ok;
}

/* ================================ Mutex ================================ */

static long g_incs;
static tt_mutex g_mu; /* zero value */
static long g_counter;
static atomic_int g_inside;
static atomic_long g_violations;

static void mutex_incr(void *arg) {
  int variant = (int)(intptr_t)arg;
  tt_context *ctx = variant == 2 ? tt_with_timeout(NULL, LONG_NS) : NULL;
  for (long i = 0; i < g_incs; i++) {
    int rc;
    if (variant == 0)
      rc = tt_mutex_lock(&g_mu);
    else if (variant == 1)
      rc = tt_mutex_lock_until(&g_mu, tt_now() + LONG_NS);
    else if (variant == 2)
      rc = tt_mutex_lock_ctx(&g_mu, ctx);
    else {
      while ((rc = tt_mutex_trylock(&g_mu)) == TT_EBUSY)
        tt_yield();
    }
    if (rc != 0) {
      atomic_fetch_add(&g_violations, 1000000);
      continue;
    }
    if (atomic_fetch_add(&g_inside, 1) != 0)
      atomic_fetch_add(&g_violations, 1);
    g_counter++;
    if (i % 61 == 0)
      tt_yield(); /* hold it across a scheduling point */
    atomic_fetch_sub(&g_inside, 1);
    if (tt_mutex_unlock(&g_mu) != 0)
      atomic_fetch_add(&g_violations, 1000000);
    if (i % 7 == 0)
      tt_yield();
  }
  if (ctx)
    tt_context_release(ctx);
}

static void test_mutex_counter(void) {
  NOTE("mutex counter: 8 tasks x %ld", g_incs);
  for (int round = 0; round < 2; round++) {
    tt_wg *wg = tt_wg_make();
    g_counter = 0;
    atomic_store(&g_violations, 0);
    for (int i = 0; i < 8; i++)
      CHECK(tt_wg_go(wg, mutex_incr, (void *)(intptr_t)(round == 0 ? 0 : i % 4)) > 0);
    CHECK_EQ(tt_wg_wait(wg), TT_OK);
    CHECK_EQ(tt_mutex_lock(&g_mu), 0);
    CHECK_EQ(g_counter, 8 * g_incs);
    CHECK_EQ(tt_mutex_unlock(&g_mu), 0);
    CHECK_EQ(atomic_load(&g_violations), 0);
    CHECK_EQ(tt_wg_free(wg), TT_OK);
  }
}

static void *plain_trylock(void *arg) {
  tt_mutex *m = arg;
  CHECK_EQ(tt_mutex_trylock(m), TT_EBUSY); /* held by the main task */
  CHECK_EQ(tt_mutex_lock(m), TT_ENOTASK);
  CHECK_EQ(tt_mutex_lock_until(m, tt_now() + TT_MS(5)), TT_ENOTASK);
  tt_context *c = tt_with_cancel(NULL);
  CHECK_EQ(tt_mutex_lock_ctx(m, c), TT_ENOTASK);
  tt_context_release(c);
  tt_mutex free_one = {{0}};
  CHECK_EQ(tt_mutex_trylock(&free_one), 0); /* non-blocking: any thread */
  CHECK_EQ(tt_mutex_trylock(&free_one), TT_EBUSY);
  CHECK_EQ(tt_mutex_unlock(&free_one), 0);
  CHECK_EQ(tt_mutex_unlock(&free_one), TT_EUNLOCKED);
  return NULL;
}

static void test_mutex_basics(void) {
  NOTE("mutex basics");
  tt_mutex m = {{0}};
  CHECK_EQ(tt_mutex_unlock(&m), TT_EUNLOCKED);
  CHECK_EQ(tt_mutex_trylock(&m), 0);
  CHECK_EQ(tt_mutex_trylock(&m), TT_EBUSY);
  CHECK_EQ(tt_mutex_unlock(&m), 0);
  CHECK_EQ(tt_mutex_unlock(&m), TT_EUNLOCKED);
  CHECK_EQ(tt_mutex_lock(&m), 0);
  CHECK_EQ(tt_mutex_trylock(&m), TT_EBUSY);
  run_plain(plain_trylock, &m); /* blocking calls from a plain thread change nothing */
  CHECK_EQ(tt_mutex_unlock(&m), 0);
  CHECK_EQ(tt_mutex_unlock(&m), TT_EUNLOCKED);
  /* uncontended forms succeed at once */
  CHECK_EQ(tt_mutex_lock_until(&m, tt_now() + LONG_NS), 0);
  CHECK_EQ(tt_mutex_unlock(&m), 0);
  tt_context *c = tt_with_cancel(NULL);
  CHECK_EQ(tt_mutex_lock_ctx(&m, c), 0);
  CHECK_EQ(tt_mutex_unlock(&m), 0);
  tt_context_release(c);

  /* another task than the locker may unlock */
  tt_wg *wg = tt_wg_make();
  op *o = op_spawn(wg, OP_LOCK, &m, 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(o->rc, 0);
  CHECK_EQ(tt_mutex_trylock(&m), TT_EBUSY);
  CHECK_EQ(tt_mutex_unlock(&m), 0);
  op_free(o);

  /* a blocked lock shows Go's wait reason, and gets the mutex on unlock */
  CHECK_EQ(tt_mutex_lock(&m), 0);
  o = op_spawn(wg, OP_LOCK, &m, 1);
  CHECK(op_parked(o, "sync.Mutex.Lock"));
  CHECK(!atomic_load(&o->done));
  CHECK_EQ(tt_mutex_unlock(&m), 0);
  CHECK(op_wait(o, PROMPT));
  CHECK_EQ(o->rc, 0);
  CHECK_EQ(tt_mutex_trylock(&m), TT_EBUSY); /* the waiter owns it now */
  op_let_go(o);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(o->unlock_rc, 0);
  CHECK_EQ(tt_mutex_trylock(&m), 0);
  CHECK_EQ(tt_mutex_unlock(&m), 0);
  op_free(o);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
}

/* unlock hands the mutex to the first waiter */
static void test_mutex_fifo(void) {
  NOTE("mutex FIFO hand-off");
  tt_mutex m = {{0}};
  tt_wg *wg = tt_wg_make();
  atomic_long seq;
  atomic_store(&seq, 0);
  CHECK_EQ(tt_mutex_lock(&m), 0);
  enum { NW = 4 };
  op *w[NW];
  for (int i = 0; i < NW; i++) {
    w[i] = op_start(OP_LOCK, &m, 1);
    w[i]->seq = &seq;
    op_go(wg, w[i]);
    CHECK(op_parked(w[i], "sync.Mutex.Lock"));
  }
  CHECK_EQ(tt_mutex_unlock(&m), 0);
  for (int i = 0; i < NW; i++) {
    CHECK_MSG(op_wait(w[i], PROMPT), "waiter %d never got the mutex", i);
    tt_sleep(TT_MS(5));
    for (int j = i + 1; j < NW; j++)
      CHECK_MSG(!atomic_load(&w[j]->done), "waiter %d got the mutex while %d holds it", j, i);
    CHECK_EQ(w[i]->order, i);
    op_let_go(w[i]);
  }
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  for (int i = 0; i < NW; i++) {
    CHECK_EQ(w[i]->unlock_rc, 0);
    op_free(w[i]);
  }
  CHECK_EQ(tt_mutex_trylock(&m), 0);
  CHECK_EQ(tt_mutex_unlock(&m), 0);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
}

static void test_mutex_timeouts(void) {
  NOTE("mutex timeouts and cancels");
  tt_mutex m = {{0}};
  tt_wg *wg = tt_wg_make();
  CHECK_EQ(tt_mutex_lock(&m), 0);

  /* lock_until times out, not early, without taking the mutex */
  op *o = op_start(OP_LOCK_UNTIL, &m, 1);
  o->deadline = tt_now() + TT_MS(30);
  op_go(wg, o);
  CHECK(op_wait(o, LONG_NS));
  CHECK_EQ(o->rc, TT_ETIMEDOUT);
  CHECK(o->t_done >= o->deadline);
  CHECK(o->t_done - o->deadline < PROMPT);
  CHECK_EQ(tt_mutex_trylock(&m), TT_EBUSY); /* still ours */

  /* lock_ctx: cancelled */
  tt_context *c = tt_with_cancel(NULL);
  op *oc = op_start(OP_LOCK_CTX, &m, 1);
  oc->ctx = c;
  op_go(wg, oc);
  tt_sleep(TT_MS(20));
  CHECK(!atomic_load(&oc->done));
  int64_t t_cancel = tt_now();
  CHECK_EQ(tt_cancel(c), 0);
  CHECK(op_wait(oc, LONG_NS));
  CHECK_EQ(oc->rc, TT_ECANCELED);
  CHECK(oc->t_done - t_cancel < PROMPT);
  tt_context_release(c);

  /* lock_ctx: the context's deadline */
  c = tt_with_timeout(NULL, TT_MS(25));
  op *od = op_start(OP_LOCK_CTX, &m, 1);
  od->ctx = c;
  op_go(wg, od);
  CHECK(op_wait(od, LONG_NS));
  CHECK_EQ(od->rc, TT_ETIMEDOUT);
  CHECK(od->t_done >= tt_context_deadline(c));
  tt_context_release(c);

  /* ... and none of them took the mutex: a fresh waiter gets it after unlock */
  CHECK_EQ(tt_mutex_trylock(&m), TT_EBUSY);
  op *ow = op_spawn(wg, OP_LOCK, &m, 1);
  CHECK(op_parked(ow, "sync.Mutex.Lock"));
  CHECK_EQ(tt_mutex_unlock(&m), 0);
  CHECK(op_wait(ow, PROMPT));
  CHECK_EQ(ow->rc, 0);
  op_let_go(ow);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(ow->unlock_rc, 0);
  CHECK_EQ(tt_mutex_trylock(&m), 0);
  CHECK_EQ(tt_mutex_unlock(&m), 0);
  CHECK_EQ(tt_mutex_unlock(&m), TT_EUNLOCKED);
  op_free(o);
  op_free(oc);
  op_free(od);
  op_free(ow);

  /* hand-offs racing deadlines and cancels: ownership is never lost or doubled */
  long rounds = tt_test_scale_min(300, 30);
  long got = 0, timed = 0, bad = 0;
  for (long r = 0; r < rounds; r++) {
    CHECK_EQ(tt_mutex_lock(&m), 0);
    op *w[3];
    w[0] = op_start(OP_LOCK_UNTIL, &m, 1);
    w[0]->deadline = tt_now() + (int64_t)(rnd() % TT_US(1500));
    w[1] = op_start(OP_LOCK_CTX, &m, 1);
    w[1]->ctx = tt_with_timeout(NULL, (int64_t)(rnd() % TT_US(1500)));
    w[2] = op_start(OP_LOCK_CTX, &m, 1);
    w[2]->ctx = tt_with_cancel(NULL);
    for (int i = 0; i < 3; i++)
      op_go(wg, w[i]);
    int64_t hold = (int64_t)(rnd() % TT_US(1500));
    if (r % 2)
      tt_test_spin_ns(hold);
    else
      tt_sleep(hold);
    tt_cancel(w[2]->ctx);
    CHECK_EQ(tt_mutex_unlock(&m), 0);
    /* at most one of them holds it at a time; whoever got it gives it back */
    for (int i = 0; i < 3; i++) {
      if (!op_wait(w[i], LONG_NS))
        bad++;
      if (w[i]->rc == 0) {
        got++;
        op_let_go(w[i]);
      } else if (w[i]->rc == TT_ETIMEDOUT || w[i]->rc == TT_ECANCELED) {
        timed++;
      } else {
        bad++;
      }
    }
    CHECK_EQ(tt_wg_wait(wg), TT_OK);
    for (int i = 0; i < 3; i++) {
      if (w[i]->rc == 0 && w[i]->unlock_rc != 0)
        bad++;
      if (w[i]->ctx)
        tt_context_release(w[i]->ctx);
      op_free(w[i]);
    }
    if (tt_mutex_trylock(&m) != 0) { /* lost ownership: nobody can ever unlock it */
      bad++;
      tt_mutex_unlock(&m);
    }
    CHECK_EQ(tt_mutex_unlock(&m), 0);
  }
  CHECK_EQ(bad, 0);
  NOTE("procs %d: %ld rounds: %ld acquired, %ld gave up", g_procs, rounds, got, timed);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
}

/* ================================ RWMutex ================================ */

static tt_rwmutex g_rw;
static atomic_int g_rin, g_win, g_max_rin;
static long g_shared;
static long g_rw_iters;

static void note_max(atomic_int *max, int v) {
  int m = atomic_load(max);
  while (v > m && !atomic_compare_exchange_weak(max, &m, v)) {
  }
}

typedef struct {
  tt_chan *gate;
  atomic_int *in;
} gate_arg;

static void gated_reader(void *arg) {
  gate_arg *g = arg;
  if (tt_rwmutex_rlock(&g_rw) != 0) {
    atomic_fetch_add(&g_violations, 1);
    return;
  }
  note_max(&g_max_rin, atomic_fetch_add(g->in, 1) + 1);
  tt_chan_recv(g->gate, NULL);
  atomic_fetch_sub(g->in, 1);
  if (tt_rwmutex_runlock(&g_rw) != 0)
    atomic_fetch_add(&g_violations, 1);
}

static void rw_reader(void *arg) {
  (void)arg;
  for (long i = 0; i < g_rw_iters; i++) {
    if (tt_rwmutex_rlock(&g_rw) != 0) {
      atomic_fetch_add(&g_violations, 1000);
      continue;
    }
    note_max(&g_max_rin, atomic_fetch_add(&g_rin, 1) + 1);
    if (atomic_load(&g_win) != 0)
      atomic_fetch_add(&g_violations, 1);
    long seen = g_shared; /* plain read: writers are excluded */
    (void)seen;
    if (i % 3 == 0)
      tt_yield();
    if (atomic_load(&g_win) != 0)
      atomic_fetch_add(&g_violations, 1);
    atomic_fetch_sub(&g_rin, 1);
    if (tt_rwmutex_runlock(&g_rw) != 0)
      atomic_fetch_add(&g_violations, 1000);
    if (i % 5 == 0)
      tt_yield();
  }
}

static void rw_writer(void *arg) {
  int variant = (int)(intptr_t)arg;
  tt_context *ctx = tt_with_timeout(NULL, LONG_NS);
  for (long i = 0; i < g_rw_iters / 4; i++) {
    int rc = variant == 0   ? tt_rwmutex_lock(&g_rw)
             : variant == 1 ? tt_rwmutex_lock_until(&g_rw, tt_now() + LONG_NS)
                            : tt_rwmutex_lock_ctx(&g_rw, ctx);
    if (rc != 0) {
      atomic_fetch_add(&g_violations, 1000);
      continue;
    }
    if (atomic_fetch_add(&g_win, 1) != 0)
      atomic_fetch_add(&g_violations, 1);
    if (atomic_load(&g_rin) != 0)
      atomic_fetch_add(&g_violations, 1);
    g_shared++;
    if (i % 4 == 0)
      tt_yield();
    if (atomic_load(&g_rin) != 0)
      atomic_fetch_add(&g_violations, 1);
    atomic_fetch_sub(&g_win, 1);
    if (tt_rwmutex_unlock(&g_rw) != 0)
      atomic_fetch_add(&g_violations, 1000);
    tt_yield();
  }
  tt_context_release(ctx);
}

static void test_rwmutex_sharing(void) {
  NOTE("rwmutex: readers share, writers exclude");
  /* 8 readers inside at once */
  enum { NR = 8 };
  tt_wg *wg = tt_wg_make();
  atomic_int in;
  atomic_store(&in, 0);
  atomic_store(&g_max_rin, 0);
  atomic_store(&g_violations, 0);
  gate_arg ga = {tt_chan_make(0, 0), &in};
  for (int i = 0; i < NR; i++)
    CHECK(tt_wg_go(wg, gated_reader, &ga) > 0);
  int64_t end = tt_test_mono_ns() + AWAIT_NS;
  while (atomic_load(&in) < NR && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK_EQ(atomic_load(&in), NR);
  CHECK_EQ(atomic_load(&g_max_rin), NR);
  tt_chan_close(ga.gate);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  tt_chan_unref(ga.gate);
  CHECK_EQ(atomic_load(&g_violations), 0);

  /* mixed load: writers exclusive, shared counter exact */
  g_shared = 0;
  atomic_store(&g_max_rin, 0);
  for (int i = 0; i < 6; i++)
    CHECK(tt_wg_go(wg, rw_reader, NULL) > 0);
  for (int i = 0; i < 3; i++)
    CHECK(tt_wg_go(wg, rw_writer, (void *)(intptr_t)i) > 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(atomic_load(&g_violations), 0);
  CHECK_EQ(tt_rwmutex_lock(&g_rw), 0);
  CHECK_EQ(g_shared, 3 * (g_rw_iters / 4));
  CHECK_EQ(tt_rwmutex_unlock(&g_rw), 0);
  NOTE("procs %d: at most %d readers inside at once under mixed load", g_procs,
       atomic_load(&g_max_rin));
  CHECK_EQ(tt_wg_free(wg), TT_OK);
}

static void test_rwmutex_misuse(void) {
  NOTE("rwmutex misuse");
  tt_rwmutex m = {{0}};
  CHECK_EQ(tt_rwmutex_runlock(&m), TT_EUNLOCKED);
  CHECK_EQ(tt_rwmutex_unlock(&m), TT_EUNLOCKED);
  CHECK_EQ(tt_rwmutex_rlock(&m), 0);
  CHECK_EQ(tt_rwmutex_rlock(&m), 0);             /* a second reader */
  CHECK_EQ(tt_rwmutex_unlock(&m), TT_EUNLOCKED); /* read-locked, not write-locked */
  CHECK_EQ(tt_rwmutex_runlock(&m), 0);
  CHECK_EQ(tt_rwmutex_runlock(&m), 0);
  CHECK_EQ(tt_rwmutex_runlock(&m), TT_EUNLOCKED);
  CHECK_EQ(tt_rwmutex_lock(&m), 0);
  CHECK_EQ(tt_rwmutex_runlock(&m), TT_EUNLOCKED); /* write-locked: no readers */
  /* ... and the write lock is still there */
  CHECK_EQ(tt_rwmutex_rlock_until(&m, tt_now() + TT_MS(10)), TT_ETIMEDOUT);
  CHECK_EQ(tt_rwmutex_unlock(&m), 0);
  CHECK_EQ(tt_rwmutex_unlock(&m), TT_EUNLOCKED);
  /* uncontended timed and ctx forms */
  tt_context *c = tt_with_cancel(NULL);
  CHECK_EQ(tt_rwmutex_rlock_until(&m, tt_now() + LONG_NS), 0);
  CHECK_EQ(tt_rwmutex_rlock_ctx(&m, c), 0);
  CHECK_EQ(tt_rwmutex_runlock(&m), 0);
  CHECK_EQ(tt_rwmutex_runlock(&m), 0);
  CHECK_EQ(tt_rwmutex_lock_until(&m, tt_now() + LONG_NS), 0);
  CHECK_EQ(tt_rwmutex_unlock(&m), 0);
  CHECK_EQ(tt_rwmutex_lock_ctx(&m, c), 0);
  CHECK_EQ(tt_rwmutex_unlock(&m), 0);
  tt_context_release(c);
}

static void test_rwmutex_writer_preference(void) {
  NOTE("rwmutex writer preference");
  tt_rwmutex m = {{0}};
  tt_wg *wg = tt_wg_make();
  atomic_long seq;
  atomic_store(&seq, 0);
  op *r1 = op_spawn(wg, OP_RLOCK, &m, 1);
  CHECK(op_wait(r1, PROMPT));
  CHECK_EQ(r1->rc, 0);
  op *w = op_start(OP_WLOCK, &m, 1);
  w->seq = &seq;
  op_go(wg, w);
  CHECK(op_parked(w, "sync.RWMutex.Lock"));
  op *r2 = op_start(OP_RLOCK, &m, 1);
  r2->seq = &seq;
  op_go(wg, r2);
  CHECK(op_parked(r2, "sync.RWMutex.RLock")); /* a waiting writer holds new readers back */
  CHECK(!atomic_load(&r2->done));
  /* a timed reader arriving now times out, though only readers hold the lock */
  op *r3 = op_start(OP_RLOCK_UNTIL, &m, 1);
  r3->deadline = tt_now() + TT_MS(30);
  op_go(wg, r3);
  CHECK(op_wait(r3, LONG_NS));
  CHECK_EQ(r3->rc, TT_ETIMEDOUT);
  CHECK(r3->t_done >= r3->deadline);
  CHECK(!atomic_load(&w->done));
  op_let_go(r1); /* the last reader leaves: the writer goes first */
  CHECK(op_wait(w, PROMPT));
  CHECK_EQ(w->rc, 0);
  tt_sleep(TT_MS(10));
  CHECK(!atomic_load(&r2->done));
  op_let_go(w);
  CHECK(op_wait(r2, PROMPT));
  CHECK_EQ(r2->rc, 0);
  CHECK(w->order < r2->order);
  op_let_go(r2);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(r1->unlock_rc, 0);
  CHECK_EQ(w->unlock_rc, 0);
  CHECK_EQ(r2->unlock_rc, 0);
  CHECK_EQ(tt_rwmutex_lock(&m), 0);
  CHECK_EQ(tt_rwmutex_unlock(&m), 0);
  op_free(r1);
  op_free(w);
  op_free(r2);
  op_free(r3);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
}

static void test_rwmutex_timeouts(void) {
  NOTE("rwmutex timeouts and cancels");
  tt_rwmutex m = {{0}};
  tt_wg *wg = tt_wg_make();

  /* (a) a writer times out behind a reader; new readers are admitted again */
  op *r1 = op_spawn(wg, OP_RLOCK, &m, 1);
  CHECK(op_wait(r1, PROMPT));
  op *w = op_start(OP_WLOCK_UNTIL, &m, 1);
  w->deadline = tt_now() + TT_MS(30);
  op_go(wg, w);
  CHECK(op_wait(w, LONG_NS));
  CHECK_EQ(w->rc, TT_ETIMEDOUT);
  CHECK(w->t_done >= w->deadline);
  op *r2 = op_start(OP_RLOCK_UNTIL, &m, 1);
  r2->deadline = tt_now() + PROMPT;
  op_go(wg, r2);
  CHECK(op_wait(r2, LONG_NS));
  CHECK_EQ(r2->rc, 0); /* while r1 still reads */
  op_let_go(r2);
  op_free(w);

  /* (b) a writer waits, a reader queues behind it, the writer is cancelled:
   * the queued reader must get in (r1 still holds a read lock) */
  tt_context *c = tt_with_cancel(NULL);
  w = op_start(OP_WLOCK_CTX, &m, 1);
  w->ctx = c;
  op_go(wg, w);
  CHECK(op_parked(w, NULL));
  op *r3 = op_spawn(wg, OP_RLOCK, &m, 1);
  CHECK(op_parked(r3, "sync.RWMutex.RLock"));
  int64_t t_cancel = tt_now();
  CHECK_EQ(tt_cancel(c), 0);
  CHECK(op_wait(w, LONG_NS));
  CHECK_EQ(w->rc, TT_ECANCELED);
  CHECK(w->t_done - t_cancel < PROMPT);
  CHECK_MSG(op_wait(r3, PROMPT), "reader queued behind a cancelled writer never got in");
  CHECK_EQ(r3->rc, 0);
  op_let_go(r3);
  tt_context_release(c);
  op_free(w);

  /* (c) the same with the writer's deadline */
  w = op_start(OP_WLOCK_UNTIL, &m, 1);
  w->deadline = tt_now() + TT_MS(40);
  op_go(wg, w);
  CHECK(op_parked(w, NULL));
  op *r4 = op_spawn(wg, OP_RLOCK, &m, 1);
  CHECK(op_wait(w, LONG_NS));
  CHECK_EQ(w->rc, TT_ETIMEDOUT);
  CHECK_MSG(op_wait(r4, PROMPT), "reader queued behind a timed-out writer never got in");
  CHECK_EQ(r4->rc, 0);
  op_let_go(r4);
  op_free(w);
  op_let_go(r1);

  /* (d) readers give up behind a writer */
  w = op_spawn(wg, OP_WLOCK, &m, 1);
  CHECK(op_wait(w, PROMPT));
  CHECK_EQ(w->rc, 0);
  op *rt = op_start(OP_RLOCK_UNTIL, &m, 1);
  rt->deadline = tt_now() + TT_MS(25);
  op_go(wg, rt);
  c = tt_with_cancel(NULL);
  op *rc_ = op_start(OP_RLOCK_CTX, &m, 1);
  rc_->ctx = c;
  op_go(wg, rc_);
  op *wt = op_start(OP_WLOCK_UNTIL, &m, 1);
  wt->deadline = tt_now() + TT_MS(25);
  op_go(wg, wt);
  CHECK(op_wait(rt, LONG_NS));
  CHECK_EQ(rt->rc, TT_ETIMEDOUT);
  CHECK(rt->t_done >= rt->deadline);
  CHECK(op_wait(wt, LONG_NS));
  CHECK_EQ(wt->rc, TT_ETIMEDOUT);
  CHECK(wt->t_done >= wt->deadline);
  CHECK_EQ(tt_cancel(c), 0);
  CHECK(op_wait(rc_, LONG_NS));
  CHECK_EQ(rc_->rc, TT_ECANCELED);
  op_let_go(w);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  tt_context_release(c);
  /* usable afterwards, both ways */
  CHECK_EQ(tt_rwmutex_rlock_until(&m, tt_now() + PROMPT), 0);
  CHECK_EQ(tt_rwmutex_rlock_until(&m, tt_now() + PROMPT), 0);
  CHECK_EQ(tt_rwmutex_runlock(&m), 0);
  CHECK_EQ(tt_rwmutex_runlock(&m), 0);
  CHECK_EQ(tt_rwmutex_runlock(&m), TT_EUNLOCKED);
  CHECK_EQ(tt_rwmutex_lock_until(&m, tt_now() + PROMPT), 0);
  CHECK_EQ(tt_rwmutex_unlock(&m), 0);
  CHECK_EQ(tt_rwmutex_unlock(&m), TT_EUNLOCKED);
  op *all[] = {r1, r2, r3, r4, w, rt, rc_, wt};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
    if (all[i]->rc == 0)
      CHECK_EQ(all[i]->unlock_rc, 0);
    op_free(all[i]);
  }

  /* racing give-ups: the lock ends free every round */
  long rounds = tt_test_scale_min(200, 20), bad = 0;
  for (long r = 0; r < rounds; r++) {
    int writer_holds = (int)(r % 2);
    if (writer_holds)
      CHECK_EQ(tt_rwmutex_lock(&m), 0);
    else
      CHECK_EQ(tt_rwmutex_rlock(&m), 0);
    op *o[4];
    o[0] = op_start(OP_WLOCK_UNTIL, &m, 1);
    o[0]->deadline = tt_now() + (int64_t)(rnd() % TT_US(1500));
    o[1] = op_start(OP_RLOCK_UNTIL, &m, 1);
    o[1]->deadline = tt_now() + (int64_t)(rnd() % TT_US(1500));
    o[2] = op_start(OP_WLOCK_CTX, &m, 1);
    o[2]->ctx = tt_with_cancel(NULL);
    o[3] = op_start(OP_RLOCK_CTX, &m, 1);
    o[3]->ctx = tt_with_timeout(NULL, (int64_t)(rnd() % TT_US(1500)));
    for (int i = 0; i < 4; i++)
      op_go(wg, o[i]);
    tt_sleep((int64_t)(rnd() % TT_US(1500)));
    tt_cancel(o[2]->ctx);
    if (writer_holds)
      CHECK_EQ(tt_rwmutex_unlock(&m), 0);
    else
      CHECK_EQ(tt_rwmutex_runlock(&m), 0);
    for (int i = 0; i < 4; i++) {
      if (!op_wait(o[i], LONG_NS))
        bad++;
      if (o[i]->rc == 0)
        op_let_go(o[i]);
      else if (o[i]->rc != TT_ETIMEDOUT && o[i]->rc != TT_ECANCELED)
        bad++;
    }
    CHECK_EQ(tt_wg_wait(wg), TT_OK);
    for (int i = 0; i < 4; i++) {
      if (o[i]->rc == 0 && o[i]->unlock_rc != 0)
        bad++;
      if (o[i]->ctx)
        tt_context_release(o[i]->ctx);
      op_free(o[i]);
    }
    if (tt_rwmutex_lock_until(&m, tt_now() + PROMPT) != 0)
      bad++;
    else
      CHECK_EQ(tt_rwmutex_unlock(&m), 0);
  }
  CHECK_EQ(bad, 0);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
}

static void *plain_rw_write_held(void *arg) {
  tt_rwmutex *m = arg;
  tt_context *c = tt_with_cancel(NULL);
  CHECK_EQ(tt_rwmutex_rlock(m), TT_ENOTASK);
  CHECK_EQ(tt_rwmutex_rlock_until(m, tt_now() + TT_MS(5)), TT_ENOTASK);
  CHECK_EQ(tt_rwmutex_rlock_ctx(m, c), TT_ENOTASK);
  CHECK_EQ(tt_rwmutex_lock(m), TT_ENOTASK);
  CHECK_EQ(tt_rwmutex_lock_until(m, tt_now() + TT_MS(5)), TT_ENOTASK);
  CHECK_EQ(tt_rwmutex_lock_ctx(m, c), TT_ENOTASK);
  tt_context_release(c);
  return NULL;
}

static void *plain_rw_read_held(void *arg) {
  tt_rwmutex *m = arg;
  CHECK_EQ(tt_rwmutex_lock(m), TT_ENOTASK);
  CHECK_EQ(tt_rwmutex_lock_until(m, tt_now() + TT_MS(5)), TT_ENOTASK);
  return NULL;
}

static void test_rwmutex_plain_thread(void) {
  NOTE("rwmutex from a plain thread");
  tt_rwmutex m = {{0}};
  CHECK_EQ(tt_rwmutex_lock(&m), 0);
  run_plain(plain_rw_write_held, &m);
  CHECK_EQ(tt_rwmutex_unlock(&m), 0);
  CHECK_EQ(tt_rwmutex_rlock(&m), 0);
  run_plain(plain_rw_read_held, &m);
  /* no phantom writer is left waiting: readers still get in */
  CHECK_EQ(tt_rwmutex_rlock_until(&m, tt_now() + PROMPT), 0);
  CHECK_EQ(tt_rwmutex_runlock(&m), 0);
  CHECK_EQ(tt_rwmutex_runlock(&m), 0);
  CHECK_EQ(tt_rwmutex_lock_until(&m, tt_now() + PROMPT), 0);
  CHECK_EQ(tt_rwmutex_unlock(&m), 0);
}

/* ================================ Cond ================================ */

typedef struct {
  tt_mutex mu;
  tt_cond cv;
  int waiting, woke, bad;
} cv_state;

static void cv_waiter(void *arg) {
  cv_state *s = arg;
  if (tt_mutex_lock(&s->mu) != 0) {
    s->bad++;
    return;
  }
  s->waiting++;
  int rc = tt_cond_wait(&s->cv, &s->mu);
  if (rc == 0)
    s->woke++;
  else
    s->bad++;
  if (tt_mutex_unlock(&s->mu) != 0)
    s->bad++; /* wait returned with the mutex held */
}

static int cv_read(cv_state *s, int *field) {
  tt_mutex_lock(&s->mu);
  int v = *field;
  tt_mutex_unlock(&s->mu);
  return v;
}

static int cv_await_waiting(cv_state *s, int n) {
  int64_t end = tt_test_mono_ns() + AWAIT_NS;
  while (cv_read(s, &s->waiting) < n && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  return cv_read(s, &s->waiting) == n;
}

static void test_cond_signal_broadcast(void) {
  NOTE("cond signal / broadcast");
  {
    /* the mutex must be locked by the caller */
    tt_mutex mu = {{0}};
    tt_cond cv = {{0}};
    tt_context *c = tt_with_timeout(NULL, LONG_NS);
    CHECK_EQ(tt_cond_wait(&cv, &mu), TT_EUNLOCKED);
    CHECK_EQ(tt_cond_wait_until(&cv, &mu, tt_now() + TT_MS(5)), TT_EUNLOCKED);
    CHECK_EQ(tt_cond_wait_ctx(&cv, &mu, c), TT_EUNLOCKED);
    CHECK_EQ(tt_mutex_unlock(&mu), TT_EUNLOCKED); /* still unlocked: nothing was done */
    CHECK_EQ(tt_mutex_trylock(&mu), 0);
    CHECK_EQ(tt_mutex_unlock(&mu), 0);
    tt_context_release(c);
  }
  cv_state *s = calloc(1, sizeof *s); /* zeroed mutex and cond */
  tt_wg *wg = tt_wg_make();
  enum { N = 5 };
  int64_t ids[N];
  for (int i = 0; i < N; i++)
    CHECK((ids[i] = tt_wg_go(wg, cv_waiter, s)) > 0);
  CHECK(cv_await_waiting(s, N));
  tt_test_task t;
  CHECK(tt_test_await_wait_reason(ids[0], "sync.Cond.Wait", AWAIT_NS, &t));
  /* each waiter counted itself under the mutex before waiting, so all N are
   * registered with the cond once we hold the mutex */
  CHECK_EQ(tt_cond_signal(&s->cv), 0);
  tt_sleep(TT_MS(30));
  CHECK_EQ(cv_read(s, &s->woke), 1);
  CHECK_EQ(tt_cond_signal(&s->cv), 0);
  int64_t end = tt_test_mono_ns() + PROMPT;
  while (cv_read(s, &s->woke) < 2 && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  tt_sleep(TT_MS(20));
  CHECK_EQ(cv_read(s, &s->woke), 2);
  CHECK_EQ(tt_cond_broadcast(&s->cv), 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(s->woke, N);
  CHECK_EQ(s->bad, 0);

  /* broadcast wakes all of many */
  long many = tt_test_scale_min(200, 50);
  memset(s, 0, sizeof *s);
  for (long i = 0; i < many; i++)
    CHECK(tt_wg_go(wg, cv_waiter, s) > 0);
  CHECK(cv_await_waiting(s, (int)many));
  CHECK_EQ(tt_mutex_lock(&s->mu), 0);
  CHECK_EQ(tt_cond_broadcast(&s->cv), 0); /* under the mutex this time */
  CHECK_EQ(tt_mutex_unlock(&s->mu), 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(s->woke, many);
  CHECK_EQ(s->bad, 0);

  /* signals and broadcasts without waiters are not remembered */
  CHECK_EQ(tt_cond_signal(&s->cv), 0);
  CHECK_EQ(tt_cond_broadcast(&s->cv), 0);
  CHECK_EQ(tt_mutex_lock(&s->mu), 0);
  int64_t dl = tt_now() + TT_MS(20);
  CHECK_EQ(tt_cond_wait_until(&s->cv, &s->mu, dl), TT_ETIMEDOUT);
  CHECK(tt_now() >= dl);
  CHECK_EQ(tt_mutex_trylock(&s->mu), TT_EBUSY); /* returned with the mutex held */
  CHECK_EQ(tt_mutex_unlock(&s->mu), 0);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  free(s);
}

typedef struct {
  cv_state *s;
  int kind; /* 0: wait_until, 1: wait_ctx */
  tt_context *ctx;
  int64_t deadline;
  atomic_int in_wait;
  int rc;
  int held_after;
  int64_t t_done;
} cv_timed;

static void cv_timed_waiter(void *arg) {
  cv_timed *a = arg;
  tt_mutex_lock(&a->s->mu);
  atomic_store(&a->in_wait, 1);
  a->rc = a->kind == 0 ? tt_cond_wait_until(&a->s->cv, &a->s->mu, a->deadline)
                       : tt_cond_wait_ctx(&a->s->cv, &a->s->mu, a->ctx);
  a->t_done = tt_now();
  a->held_after = tt_mutex_trylock(&a->s->mu) == TT_EBUSY;
  tt_mutex_unlock(&a->s->mu);
}

static void test_cond_timeouts(void) {
  NOTE("cond timeouts and cancels");
  cv_state *s = calloc(1, sizeof *s);
  tt_wg *wg = tt_wg_make();

  /* wait_until releases the mutex while waiting, and on timeout returns
   * only once it has the mutex back */
  cv_timed a = {s, 0, NULL, tt_now() + TT_MS(40), 0, 1, 0, 0};
  CHECK(tt_wg_go(wg, cv_timed_waiter, &a) > 0);
  int64_t end = tt_test_mono_ns() + AWAIT_NS;
  while (!atomic_load(&a.in_wait) && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK_EQ(tt_mutex_lock_until(&s->mu, tt_now() + PROMPT), 0); /* free during the wait */
  tt_sleep(a.deadline - tt_now() + TT_MS(30));                 /* hold it past the deadline */
  int64_t t_unlock = tt_now();
  CHECK_EQ(tt_mutex_unlock(&s->mu), 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(a.rc, TT_ETIMEDOUT);
  CHECK(a.t_done >= a.deadline);
  CHECK_MSG(a.t_done >= t_unlock,
            "cond_wait_until returned %" PRId64 " us before the mutex was free",
            (t_unlock - a.t_done) / 1000);
  CHECK(a.held_after);

  /* wait_ctx: cancelled, and the context's deadline */
  tt_context *c = tt_with_cancel(NULL);
  cv_timed b = {s, 1, c, 0, 0, 1, 0, 0};
  CHECK(tt_wg_go(wg, cv_timed_waiter, &b) > 0);
  end = tt_test_mono_ns() + AWAIT_NS;
  while (!atomic_load(&b.in_wait) && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  tt_sleep(TT_MS(10));
  int64_t t_cancel = tt_now();
  CHECK_EQ(tt_cancel(c), 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(b.rc, TT_ECANCELED);
  CHECK(b.t_done - t_cancel < PROMPT);
  CHECK(b.held_after);
  tt_context_release(c);
  c = tt_with_timeout(NULL, TT_MS(25));
  cv_timed d = {s, 1, c, 0, 0, 1, 0, 0};
  CHECK(tt_wg_go(wg, cv_timed_waiter, &d) > 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(d.rc, TT_ETIMEDOUT);
  CHECK(d.t_done >= tt_context_deadline(c));
  CHECK(d.held_after);
  tt_context_release(c);

  /* a signal still reaches a plain waiter after timed ones gave up */
  memset(s, 0, sizeof *s);
  CHECK(tt_wg_go(wg, cv_waiter, s) > 0);
  CHECK(cv_await_waiting(s, 1));
  CHECK_EQ(tt_cond_signal(&s->cv), 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(s->woke, 1);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  free(s);
}

/* bounded queue with two conds */
#define QCAP 4
typedef struct {
  tt_mutex mu;
  tt_cond not_full, not_empty;
  long items[QCAP];
  int head, len, max_len;
  long sum, count;
  long per_producer;
} bq;

static void bq_put(bq *q, long v) {
  tt_mutex_lock(&q->mu);
  while (q->len == QCAP)
    tt_cond_wait(&q->not_full, &q->mu);
  q->items[(q->head + q->len) % QCAP] = v;
  q->len++;
  if (q->len > q->max_len)
    q->max_len = q->len;
  tt_cond_signal(&q->not_empty);
  tt_mutex_unlock(&q->mu);
}

static long bq_get(bq *q) {
  tt_mutex_lock(&q->mu);
  while (q->len == 0)
    tt_cond_wait(&q->not_empty, &q->mu);
  long v = q->items[q->head];
  q->head = (q->head + 1) % QCAP;
  q->len--;
  tt_cond_signal(&q->not_full);
  tt_mutex_unlock(&q->mu);
  return v;
}

static bq *g_q;
static void bq_producer(void *arg) {
  long p = (long)(intptr_t)arg;
  for (long i = 1; i <= g_q->per_producer; i++)
    bq_put(g_q, p * 1000000 + i);
}
static void bq_consumer(void *arg) {
  (void)arg;
  long sum = 0, count = 0;
  for (;;) {
    long v = bq_get(g_q);
    if (v < 0)
      break;
    sum += v;
    count++;
  }
  tt_mutex_lock(&g_q->mu);
  g_q->sum += sum;
  g_q->count += count;
  tt_mutex_unlock(&g_q->mu);
}

static void test_cond_queue(void) {
  g_q = calloc(1, sizeof *g_q);
  g_q->per_producer = tt_test_scale_min(20000, 300);
  NOTE("cond bounded queue: 4 producers x %ld, 3 consumers", g_q->per_producer);
  tt_wg *prod = tt_wg_make(), *cons = tt_wg_make();
  for (int i = 0; i < 3; i++)
    CHECK(tt_wg_go(cons, bq_consumer, NULL) > 0);
  for (int i = 0; i < 4; i++)
    CHECK(tt_wg_go(prod, bq_producer, (void *)(intptr_t)i) > 0);
  CHECK_EQ(tt_wg_wait(prod), TT_OK);
  for (int i = 0; i < 3; i++)
    bq_put(g_q, -1);
  CHECK_EQ(tt_wg_wait(cons), TT_OK);
  long n = g_q->per_producer, expect = 0;
  for (long p = 0; p < 4; p++)
    expect += p * 1000000 * n + n * (n + 1) / 2;
  CHECK_EQ(g_q->count, 4 * n);
  CHECK_EQ(g_q->sum, expect);
  CHECK_EQ(g_q->len, 0);
  CHECK(g_q->max_len <= QCAP);
  CHECK_EQ(tt_wg_free(prod), TT_OK);
  CHECK_EQ(tt_wg_free(cons), TT_OK);
  free(g_q);
}

static void *plain_cond(void *arg) {
  cv_state *s = arg;
  tt_context *c = tt_with_cancel(NULL);
  CHECK_EQ(tt_mutex_trylock(&s->mu), 0);
  CHECK_EQ(tt_cond_wait(&s->cv, &s->mu), TT_ENOTASK);
  CHECK_EQ(tt_cond_wait_until(&s->cv, &s->mu, tt_now() + TT_MS(5)), TT_ENOTASK);
  CHECK_EQ(tt_cond_wait_ctx(&s->cv, &s->mu, c), TT_ENOTASK);
  CHECK_EQ(tt_mutex_unlock(&s->mu), 0); /* still held: nothing was done */
  CHECK_EQ(tt_cond_signal(&s->cv), 0);  /* waking is fine from anywhere */
  CHECK_EQ(tt_cond_broadcast(&s->cv), 0);
  tt_context_release(c);
  return NULL;
}

static void test_cond_plain_thread(void) {
  NOTE("cond from a plain thread");
  cv_state *s = calloc(1, sizeof *s);
  run_plain(plain_cond, s);
  /* a signal from a plain thread wakes a task */
  tt_wg *wg = tt_wg_make();
  CHECK(tt_wg_go(wg, cv_waiter, s) > 0);
  CHECK(cv_await_waiting(s, 1));
  run_plain(plain_cond, s);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(s->woke, 1);
  CHECK_EQ(s->bad, 0);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  free(s);
}

/* ================================ Once ================================ */

typedef struct {
  tt_once once;
  atomic_int runs;
  atomic_int finished;
  atomic_int early_return;
  atomic_int bad_rc;
  tt_chan *gate; /* fn waits for it to close, when set */
} once_state;

static void once_fn(void *arg) {
  once_state *s = arg;
  atomic_fetch_add(&s->runs, 1);
  if (s->gate)
    tt_chan_recv(s->gate, NULL);
  else
    tt_yield();
  atomic_store(&s->finished, 1);
}

static void once_caller(void *arg) {
  once_state *s = arg;
  if (tt_once_do(&s->once, once_fn, s) != 0)
    atomic_fetch_add(&s->bad_rc, 1);
  if (!atomic_load(&s->finished))
    atomic_fetch_add(&s->early_return, 1);
}

static void *plain_once_in_progress(void *arg) {
  once_state *s = arg;
  CHECK_EQ(tt_once_do(&s->once, once_fn, s), TT_ENOTASK); /* would have to wait */
  return NULL;
}
static void *plain_once_fresh(void *arg) {
  once_state *s = arg;
  CHECK_EQ(tt_once_do(&s->once, once_fn, s), 0); /* no waiting needed */
  CHECK_EQ(atomic_load(&s->finished), 1);
  CHECK_EQ(tt_once_do(&s->once, once_fn, s), 0);
  return NULL;
}

static void test_once(void) {
  NOTE("once");
  for (int variant = 0; variant < 2; variant++) {
    once_state *s = calloc(1, sizeof *s);
    if (variant == 0)
      s->gate = tt_chan_make(0, 0);
    tt_wg *wg = tt_wg_make();
    for (int i = 0; i < 100; i++)
      CHECK(tt_wg_go(wg, once_caller, s) > 0);
    if (variant == 0) {
      int64_t end = tt_test_mono_ns() + AWAIT_NS;
      while (!atomic_load(&s->runs) && tt_test_mono_ns() < end)
        tt_sleep(TT_MS(1));
      tt_sleep(TT_MS(5));
      CHECK_EQ(atomic_load(&s->runs), 1);
      CHECK_EQ(atomic_load(&s->finished), 0);
      /* fn is running: a plain thread would have to wait */
      run_plain(plain_once_in_progress, s);
      CHECK_EQ(atomic_load(&s->runs), 1);
      tt_chan_close(s->gate);
    }
    CHECK_EQ(tt_wg_wait(wg), TT_OK);
    CHECK_EQ(atomic_load(&s->runs), 1);
    CHECK_EQ(atomic_load(&s->early_return), 0);
    CHECK_EQ(atomic_load(&s->bad_rc), 0);
    CHECK_EQ(tt_once_do(&s->once, once_fn, s), 0);
    CHECK_EQ(atomic_load(&s->runs), 1);
    CHECK_EQ(tt_wg_free(wg), TT_OK);
    if (s->gate)
      tt_chan_unref(s->gate);
    free(s);
  }
  once_state *s = calloc(1, sizeof *s);
  run_plain(plain_once_fresh, s);
  CHECK_EQ(atomic_load(&s->runs), 1);
  free(s);
}

/* ================================ Semaphore ================================ */

typedef struct {
  tt_sem sem;
  int64_t k;
  atomic_long held;
  atomic_long max_held;
  atomic_long bad;
  long iters;
} sem_state;

static void sem_worker(void *arg) {
  sem_state *s = arg;
  tt_context *ctx = tt_with_timeout(NULL, LONG_NS);
  uint64_t x = (uint64_t)tt_self() * 0x9E3779B97F4A7C15ULL | 1;
  for (long i = 0; i < s->iters; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    int64_t n = 1 + (int64_t)(x % (uint64_t)s->k);
    int rc;
    switch (i % 4) {
    case 0: rc = tt_sem_acquire(&s->sem, n); break;
    case 1: rc = tt_sem_acquire_until(&s->sem, n, tt_now() + LONG_NS); break;
    case 2: rc = tt_sem_acquire_ctx(&s->sem, n, ctx); break;
    default: /* short deadlines: some give up */
      rc = tt_sem_acquire_until(&s->sem, n, tt_now() + (int64_t)(x % TT_US(300)));
      if (rc == TT_ETIMEDOUT)
        continue;
      break;
    }
    if (rc != 0) {
      atomic_fetch_add(&s->bad, 1);
      continue;
    }
    long h = atomic_fetch_add(&s->held, n) + n;
    long m = atomic_load(&s->max_held);
    while (h > m && !atomic_compare_exchange_weak(&s->max_held, &m, h)) {
    }
    if (h > s->k)
      atomic_fetch_add(&s->bad, 1);
    if (i % 3 == 0)
      tt_yield();
    atomic_fetch_sub(&s->held, n);
    if (tt_sem_release(&s->sem, n) != 0)
      atomic_fetch_add(&s->bad, 1);
  }
  tt_context_release(ctx);
}

static void test_sem_bound(void) {
  sem_state *s = calloc(1, sizeof *s);
  s->k = 3;
  s->iters = tt_test_scale_min(3000, 100);
  NOTE("semaphore: 16 tasks x %ld, %" PRId64 " permits", s->iters, s->k);
  CHECK_EQ(tt_sem_release(&s->sem, s->k), 0);
  tt_wg *wg = tt_wg_make();
  for (int i = 0; i < 16; i++)
    CHECK(tt_wg_go(wg, sem_worker, s) > 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(atomic_load(&s->bad), 0);
  CHECK(atomic_load(&s->max_held) <= s->k);
  CHECK(atomic_load(&s->max_held) >= 1);
  /* exactly k permits are left */
  CHECK_EQ(tt_sem_try_acquire(&s->sem, s->k), 0);
  CHECK_EQ(tt_sem_try_acquire(&s->sem, 1), TT_EAGAIN);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  free(s);
}

static void test_sem_basics(void) {
  NOTE("semaphore basics");
  tt_sem s = {{0}}; /* no permits */
  CHECK_EQ(tt_sem_try_acquire(&s, 1), TT_EAGAIN);
  CHECK_EQ(tt_sem_release(&s, 2), 0);
  CHECK_EQ(tt_sem_try_acquire(&s, 3), TT_EAGAIN);
  CHECK_EQ(tt_sem_try_acquire(&s, 2), 0);
  CHECK_EQ(tt_sem_try_acquire(&s, 1), TT_EAGAIN);
  CHECK_EQ(tt_sem_release(&s, 5), 0);
  CHECK_EQ(tt_sem_acquire(&s, 2), 0);
  CHECK_EQ(tt_sem_acquire_until(&s, 2, tt_now() + LONG_NS), 0);
  tt_context *c = tt_with_cancel(NULL);
  CHECK_EQ(tt_sem_acquire_ctx(&s, 1, c), 0);
  CHECK_EQ(tt_sem_try_acquire(&s, 1), TT_EAGAIN);
  /* n <= 0 */
  tt_context *cc = tt_with_cancel(NULL);
  CHECK_EQ(tt_sem_release(&s, 1), 0);
  CHECK_EQ(tt_sem_acquire(&s, 0), TT_EINVAL);
  CHECK_EQ(tt_sem_acquire(&s, -1), TT_EINVAL);
  CHECK_EQ(tt_sem_try_acquire(&s, 0), TT_EINVAL);
  CHECK_EQ(tt_sem_try_acquire(&s, -3), TT_EINVAL);
  CHECK_EQ(tt_sem_acquire_until(&s, 0, tt_now() + TT_MS(1)), TT_EINVAL);
  CHECK_EQ(tt_sem_acquire_ctx(&s, -1, cc), TT_EINVAL);
  CHECK_EQ(tt_sem_release(&s, 0), TT_EINVAL);
  CHECK_EQ(tt_sem_release(&s, -2), TT_EINVAL);
  CHECK_EQ(tt_sem_try_acquire(&s, 1), 0); /* still exactly one */
  CHECK_EQ(tt_sem_try_acquire(&s, 1), TT_EAGAIN);
  /* timed out and cancelled acquires */
  int64_t dl = tt_now() + TT_MS(25);
  CHECK_EQ(tt_sem_acquire_until(&s, 1, dl), TT_ETIMEDOUT);
  CHECK(tt_now() >= dl);
  tt_context *t = tt_with_timeout(NULL, TT_MS(20));
  CHECK_EQ(tt_sem_acquire_ctx(&s, 1, t), TT_ETIMEDOUT);
  CHECK(tt_now() >= tt_context_deadline(t));
  tt_cancel(cc);
  CHECK_EQ(tt_sem_acquire_ctx(&s, 1, cc), TT_ECANCELED);
  CHECK_EQ(tt_sem_release(&s, 1), 0);
  CHECK_EQ(tt_sem_try_acquire(&s, 1), 0);
  CHECK_EQ(tt_sem_try_acquire(&s, 1), TT_EAGAIN);
  tt_context_release(c);
  tt_context_release(cc);
  tt_context_release(t);

  /* the count tops out at 2^62 - 1 */
  tt_sem big = {{0}};
  const int64_t max = (INT64_C(1) << 62) - 1;
  CHECK_EQ(tt_sem_release(&big, max - 1), 0);
  CHECK_EQ(tt_sem_release(&big, 2), TT_EINVAL);
  CHECK_EQ(tt_sem_release(&big, 1), 0);
  CHECK_EQ(tt_sem_release(&big, 1), TT_EINVAL);
  CHECK_EQ(tt_sem_release(&big, INT64_MAX), TT_EINVAL);
  CHECK_EQ(tt_sem_try_acquire(&big, max), 0);
  CHECK_EQ(tt_sem_try_acquire(&big, 1), TT_EAGAIN);
  CHECK_EQ(tt_sem_release(&big, max), 0);
  CHECK_EQ(tt_sem_acquire(&big, max), 0);
}

static void test_sem_fifo(void) {
  NOTE("semaphore FIFO");
  tt_sem *s = calloc(1, sizeof *s);
  tt_wg *wg = tt_wg_make();
  op *big = op_start(OP_SEM, s, 1);
  big->n = 5;
  op_go(wg, big);
  CHECK(op_parked(big, "semacquire"));
  op *small[3];
  for (int i = 0; i < 3; i++) {
    small[i] = op_spawn(wg, OP_SEM, s, 1);
    CHECK(op_parked(small[i], "semacquire"));
  }
  CHECK_EQ(tt_sem_release(s, 4), 0); /* not enough for the head */
  tt_sleep(TT_MS(20));
  CHECK(!atomic_load(&big->done));
  for (int i = 0; i < 3; i++)
    CHECK_MSG(!atomic_load(&small[i]->done), "small request %d overtook the big one at the head",
              i);
  CHECK_EQ(tt_sem_try_acquire(s, 1), TT_EAGAIN); /* no barging past waiters either */
  CHECK_EQ(tt_sem_release(s, 1), 0);
  CHECK(op_wait(big, PROMPT));
  CHECK_EQ(big->rc, 0);
  tt_sleep(TT_MS(10));
  for (int i = 0; i < 3; i++)
    CHECK(!atomic_load(&small[i]->done));
  CHECK_EQ(tt_sem_release(s, 2), 0); /* the first two in line */
  CHECK(op_wait(small[0], PROMPT));
  CHECK(op_wait(small[1], PROMPT));
  tt_sleep(TT_MS(10));
  CHECK(!atomic_load(&small[2]->done));
  CHECK_EQ(tt_sem_release(s, 1), 0);
  CHECK(op_wait(small[2], PROMPT));
  for (int i = 0; i < 3; i++)
    CHECK_EQ(small[i]->rc, 0);
  op_let_go(big);
  for (int i = 0; i < 3; i++)
    op_let_go(small[i]);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(tt_sem_try_acquire(s, 8), 0); /* all 8 came back */
  CHECK_EQ(tt_sem_try_acquire(s, 1), TT_EAGAIN);
  op_free(big);
  for (int i = 0; i < 3; i++)
    op_free(small[i]);

  /* a big head that gives up lets the ones behind it move up */
  for (int variant = 0; variant < 2; variant++) {
    tt_context *c = tt_with_cancel(NULL);
    big = op_start(variant == 0 ? OP_SEM_UNTIL : OP_SEM_CTX, s, 1);
    big->n = 5;
    big->deadline = tt_now() + TT_MS(50);
    big->ctx = c;
    op_go(wg, big);
    CHECK(op_parked(big, NULL));
    op *sm = op_spawn(wg, OP_SEM, s, 1);
    CHECK(op_parked(sm, "semacquire"));
    CHECK_EQ(tt_sem_release(s, 1), 0);
    int sm_done = atomic_load(&sm->done);
    if (variant == 0 && tt_now() < big->deadline)
      CHECK(!sm_done);
    if (variant == 1) {
      tt_sleep(TT_MS(10));
      CHECK(!atomic_load(&sm->done));
      CHECK_EQ(tt_cancel(c), 0);
    }
    CHECK(op_wait(big, LONG_NS));
    CHECK_EQ(big->rc, variant == 0 ? TT_ETIMEDOUT : TT_ECANCELED);
    if (variant == 0)
      CHECK(big->t_done >= big->deadline);
    CHECK_MSG(op_wait(sm, PROMPT),
              "variant %d: the waiter behind a head that gave up never moved up", variant);
    CHECK_EQ(sm->rc, 0);
    op_let_go(sm);
    CHECK_EQ(tt_wg_wait(wg), TT_OK);
    CHECK_EQ(sm->unlock_rc, 0);
    /* exactly the one permit exists: nothing kept by the one that gave up */
    CHECK_EQ(tt_sem_try_acquire(s, 1), 0);
    CHECK_EQ(tt_sem_try_acquire(s, 1), TT_EAGAIN);
    op_free(big);
    op_free(sm);
    tt_context_release(c);
  }
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  free(s);
}

static void *plain_sem(void *arg) {
  tt_sem *s = arg;
  tt_context *c = tt_with_cancel(NULL);
  CHECK_EQ(tt_sem_acquire(s, 1), TT_ENOTASK);
  CHECK_EQ(tt_sem_acquire_until(s, 1, tt_now() + TT_MS(5)), TT_ENOTASK);
  CHECK_EQ(tt_sem_acquire_ctx(s, 1, c), TT_ENOTASK);
  CHECK_EQ(tt_sem_try_acquire(s, 1), TT_EAGAIN);
  CHECK_EQ(tt_sem_release(s, 2), 0);
  CHECK_EQ(tt_sem_try_acquire(s, 1), 0);
  tt_context_release(c);
  return NULL;
}

static void test_sem_plain_thread(void) {
  NOTE("semaphore from a plain thread");
  tt_sem s = {{0}};
  run_plain(plain_sem, &s);
  CHECK_EQ(tt_sem_try_acquire(&s, 1), 0); /* one of the two is left */
  CHECK_EQ(tt_sem_try_acquire(&s, 1), TT_EAGAIN);
}

/* ================================ WaitGroup with a context ================================ */

static void wg_done_later(void *arg) {
  tt_sleep(TT_MS(15));
  tt_wg_done(arg);
}

static void test_wg_wait_ctx(void) {
  NOTE("tt_wg_wait_ctx");
  tt_wg *wg = tt_wg_make();
  tt_wg *joins = tt_wg_make();
  tt_context *live = tt_with_timeout(NULL, LONG_NS);
  CHECK_EQ(tt_wg_wait_ctx(wg, live), 0); /* counter 0 */

  /* cancelled: several waiters, all return, the counter is untouched */
  CHECK_EQ(tt_wg_add(wg, 1), 0);
  tt_context *c = tt_with_cancel(NULL);
  op *w[4];
  for (int i = 0; i < 4; i++) {
    w[i] = op_start(OP_WG_CTX, wg, 0);
    w[i]->ctx = c;
    op_go(joins, w[i]);
  }
  tt_sleep(TT_MS(20));
  for (int i = 0; i < 4; i++)
    CHECK(!atomic_load(&w[i]->done));
  int64_t t_cancel = tt_now();
  CHECK_EQ(tt_cancel(c), 0);
  CHECK_EQ(tt_wg_wait(joins), TT_OK);
  for (int i = 0; i < 4; i++) {
    CHECK_EQ(w[i]->rc, TT_ECANCELED);
    CHECK(w[i]->t_done - t_cancel < PROMPT);
    op_free(w[i]);
  }
  tt_context_release(c);

  /* the context's deadline */
  c = tt_with_timeout(NULL, TT_MS(25));
  CHECK_EQ(tt_wg_wait_ctx(wg, c), TT_ETIMEDOUT);
  CHECK(tt_now() >= tt_context_deadline(c));
  tt_context_release(c);

  /* the counter reaching zero wins */
  CHECK(tt_go(wg_done_later, wg) > 0);
  CHECK_EQ(tt_wg_wait_ctx(wg, live), 0);
  CHECK_EQ(tt_wg_add(wg, -1),
           TT_ENEGATIVE); /* it is at zero: the cancelled waits changed nothing */
  /* no waiter is left behind by the cancelled waits */
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  CHECK_EQ(tt_wg_free(joins), TT_OK);
  tt_context_release(live);
}

/* ================================ cancel racing the park ================================
 *
 * A plain thread cancels the context at the very moment a task starts a
 * _ctx wait, over and over: the wake-up may come before, during or after
 * the task parks, and must never run the task twice or lose it. */

typedef struct {
  int kind;
  tt_mutex mu, cmu;
  tt_rwmutex rw;
  tt_cond cv;
  tt_sem sem;
  tt_wg *wg;
  tt_context *_Atomic ctx;
  atomic_long armed;  /* round the task is about to wait in */
  atomic_long served; /* round the thread has cancelled */
  atomic_int quit;
  long round;
  int rc;
  int held_after;
} park_race;

static void *park_race_canceller(void *arg) {
  park_race *r = arg;
  long seen = 0;
  uint64_t x = 0x9E3779B97F4A7C15ULL;
  while (!atomic_load(&r->quit)) {
    long a = atomic_load(&r->armed);
    if (a == seen)
      continue;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    for (volatile unsigned i = 0, n = (unsigned)(x % 2000); i < n; i++) {
    }
    tt_cancel(atomic_load(&r->ctx));
    seen = a;
    atomic_store(&r->served, a);
  }
  return NULL;
}

static void park_race_waiter(void *arg) {
  park_race *r = arg;
  tt_context *ctx = atomic_load(&r->ctx);
  int held_cmu = 0;
  if (r->kind == 3)
    held_cmu = tt_mutex_lock(&r->cmu) == 0;
  atomic_store(&r->armed, r->round);
  switch (r->kind) {
  case 0: r->rc = tt_mutex_lock_ctx(&r->mu, ctx); break;
  case 1: r->rc = tt_rwmutex_rlock_ctx(&r->rw, ctx); break;
  case 2: r->rc = tt_rwmutex_lock_ctx(&r->rw, ctx); break;
  case 3: r->rc = tt_cond_wait_ctx(&r->cv, &r->cmu, ctx); break;
  case 4: r->rc = tt_sem_acquire_ctx(&r->sem, 1, ctx); break;
  default: r->rc = tt_wg_wait_ctx(r->wg, ctx); break;
  }
  if (held_cmu) {
    r->held_after = tt_mutex_trylock(&r->cmu) == TT_EBUSY;
    tt_mutex_unlock(&r->cmu);
  }
}

static void test_cancel_park_race(void) {
  long rounds = tt_test_scale_min(2000, 150);
  NOTE("cancel racing the park: %ld rounds", rounds);
  park_race *r = calloc(1, sizeof *r);
  r->wg = tt_wg_make();
  tt_wg *joins = tt_wg_make();
  CHECK_EQ(tt_wg_add(r->wg, 1), 0);
  CHECK_EQ(tt_mutex_lock(&r->mu), 0);
  CHECK_EQ(tt_rwmutex_lock(&r->rw), 0);
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, park_race_canceller, r), 0);
  long bad = 0, cond_bad = 0;
  for (long i = 1; i <= rounds; i++) {
    r->kind = (int)(i % 6);
    r->round = i;
    r->rc = 12345;
    r->held_after = 0;
    tt_context *ctx = tt_with_cancel(NULL);
    atomic_store(&r->ctx, ctx);
    if (tt_wg_go(joins, park_race_waiter, r) <= 0)
      bad++;
    CHECK_EQ(tt_wg_wait(joins), TT_OK);
    while (atomic_load(&r->served) != i)
      tt_yield();
    if (r->rc != TT_ECANCELED)
      bad++;
    if (r->kind == 3 && !r->held_after)
      cond_bad++;
    tt_context_release(ctx);
  }
  atomic_store(&r->quit, 1);
  CHECK_EQ(tt_blocking(join_fn, &th), TT_OK);
  CHECK_EQ(bad, 0);
  CHECK_EQ(cond_bad, 0);
  /* everything still works */
  CHECK_EQ(tt_mutex_unlock(&r->mu), 0);
  CHECK_EQ(tt_mutex_trylock(&r->mu), 0);
  CHECK_EQ(tt_mutex_unlock(&r->mu), 0);
  CHECK_EQ(tt_rwmutex_unlock(&r->rw), 0);
  CHECK_EQ(tt_rwmutex_rlock(&r->rw), 0);
  CHECK_EQ(tt_rwmutex_runlock(&r->rw), 0);
  CHECK_EQ(tt_rwmutex_lock(&r->rw), 0);
  CHECK_EQ(tt_rwmutex_unlock(&r->rw), 0);
  CHECK_EQ(tt_sem_try_acquire(&r->sem, 1), TT_EAGAIN);
  CHECK_EQ(tt_sem_release(&r->sem, 1), 0);
  CHECK_EQ(tt_sem_try_acquire(&r->sem, 1), 0);
  CHECK_EQ(tt_wg_done(r->wg), 0);
  CHECK_EQ(tt_wg_free(r->wg), TT_OK);
  CHECK_EQ(tt_wg_free(joins), TT_OK);
  free(r);
}

/* ================================ zero values ================================ */

typedef struct {
  int before;
  tt_mutex mu;
  tt_rwmutex rw;
  tt_cond cv;
  tt_once once;
  tt_sem sem;
  int after;
} zeroed_all;

static void count_fn(void *arg) { (*(int *)arg)++; }

static void test_zero_values(void) {
  NOTE("zero values");
  zeroed_all *z = calloc(1, sizeof *z);
  CHECK_EQ(tt_mutex_lock(&z->mu), 0);
  CHECK_EQ(tt_mutex_unlock(&z->mu), 0);
  CHECK_EQ(tt_rwmutex_rlock(&z->rw), 0);
  CHECK_EQ(tt_rwmutex_runlock(&z->rw), 0);
  CHECK_EQ(tt_rwmutex_lock(&z->rw), 0);
  CHECK_EQ(tt_rwmutex_unlock(&z->rw), 0);
  CHECK_EQ(tt_cond_signal(&z->cv), 0);
  CHECK_EQ(tt_cond_broadcast(&z->cv), 0);
  CHECK_EQ(tt_mutex_lock(&z->mu), 0);
  CHECK_EQ(tt_cond_wait_until(&z->cv, &z->mu, tt_now() + TT_MS(2)), TT_ETIMEDOUT);
  CHECK_EQ(tt_mutex_unlock(&z->mu), 0);
  int n = 0;
  CHECK_EQ(tt_once_do(&z->once, count_fn, &n), 0);
  CHECK_EQ(tt_once_do(&z->once, count_fn, &n), 0);
  CHECK_EQ(n, 1);
  CHECK_EQ(tt_sem_try_acquire(&z->sem, 1), TT_EAGAIN);
  CHECK_EQ(tt_sem_release(&z->sem, 1), 0);
  CHECK_EQ(tt_sem_acquire(&z->sem, 1), 0);
  CHECK_EQ(z->before, 0); /* nothing wrote outside the objects */
  CHECK_EQ(z->after, 0);
  free(z);
  /* a static zero-initialised mutex was used by the counter test: g_mu */
}

static void sync_main(void *arg) {
  (void)arg;
  g_procs = tt_procs();
  test_mutex_basics();
  test_mutex_counter();
  test_mutex_fifo();
  test_mutex_timeouts();
  test_rwmutex_misuse();
  test_rwmutex_sharing();
  test_rwmutex_writer_preference();
  test_rwmutex_timeouts();
  test_rwmutex_plain_thread();
  test_cond_signal_broadcast();
  test_cond_timeouts();
  test_cond_queue();
  test_cond_plain_thread();
  test_once();
  test_sem_basics();
  test_sem_bound();
  test_sem_fifo();
  test_sem_plain_thread();
  test_wg_wait_ctx();
  test_cancel_park_race();
  test_zero_values();
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(300);
  g_incs = tt_test_scale_min(10000, 500);
  g_rw_iters = tt_test_scale_min(4000, 200);
  RUN_MAIN(1, sync_main, NULL);
  RUN_MAIN(2, sync_main, NULL);
  CHECK_EQ(tt_num_tasks(), 0);
  return TEST_REPORT();
}
