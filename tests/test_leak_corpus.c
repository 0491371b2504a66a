/*
 * test_leak_corpus: a table of real-world shapes for the definite-leak
 * detector. Each scenario runs inside the main task and returns how many
 * leaks it expects; the driver checks tt_leak_count()'s delta and, for
 * leaks, that the new records of tt_leak_report carry the expected class.
 *
 * Leak scenarios leave their tasks parked for good (tt_shutdown frees them)
 * and park every task on its channel before the last tt_chan_unref (using a
 * channel after that is a use-after-free). Non-leak look-alikes end with all
 * of their tasks finished and every reference dropped.
 */
#include <pthread.h>

#include "harness.h"

#define ELEM_MAX 4096
#define BIG_ELEM 65536

/* Leaked tasks keep their channels for good: remember them for LSan. */
static tt_chan *volatile kept[256];
static atomic_int nkept;
static tt_group *volatile kept_group;

static void keep(tt_chan *c) {
  int i = atomic_fetch_add(&nkept, 1);
  CHECK(i < 256);
  if (i < 256)
    kept[i] = c;
}

static void keep_unref(tt_chan *c) {
  keep(c);
  CHECK_EQ(tt_chan_unref(c), 0);
}

static int await_parked_soft(int64_t id, const char *reason) {
  tt_test_task t;
  return tt_test_await_wait_reason(id, reason, TT_MS(10000), &t);
}

static void await_parked(int64_t id, const char *reason) {
  CHECK_MSG(await_parked_soft(id, reason), "task %lld never waited in %s", (long long)id, reason);
}

/* Parked with any wait reason. */
static void await_waiting(int64_t id) {
  tt_test_task t;
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  while (!(tt_test_find_task(id, &t) && t.info.state == TT_TASK_WAITING) && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK_MSG(t.found && t.info.state == TT_TASK_WAITING, "task %lld never parked", (long long)id);
}

static const char big_src[BIG_ELEM];
static char big_dst[BIG_ELEM];

/* ---- tasks ------------------------------------------------------------------ */

static void t_send(void *arg) {
  char buf[ELEM_MAX] = {0};
  tt_chan_send(arg, buf);
}

static void t_recv(void *arg) {
  char buf[ELEM_MAX];
  tt_chan_recv(arg, buf);
}

static void t_send_big(void *arg) { tt_chan_send(arg, big_src); }
static void t_recv_big(void *arg) { tt_chan_recv(arg, big_dst); }

/* Receive from in, then pass it on to out (chains and cycles). */
typedef struct fwd {
  tt_chan *in, *out;
} fwd;

static void t_fwd(void *arg) {
  fwd *f = arg;
  int v = 0;
  if (tt_chan_recv(f->in, &v) == 0)
    tt_chan_send(f->out, &v);
}

/* Receive, and on TT_ECLOSED try the send too (it must fail, not block). */
static void t_fwd_closed(void *arg) {
  fwd *f = arg;
  int v = 0;
  CHECK_EQ(tt_chan_recv(f->in, &v), TT_ECLOSED);
  CHECK_EQ(tt_chan_send(f->out, &v), TT_ECLOSED);
}

typedef struct selspec {
  int n;
  tt_chan *ch[4];
  int dir[4];
  int64_t timeout; /* 0: none */
  int expect;
} selspec;

static void t_select(void *arg) {
  selspec *s = arg;
  tt_case cases[4];
  int64_t bufs[4] = {0};
  for (int i = 0; i < s->n; i++)
    cases[i] =
        s->dir[i] == TT_SEND ? tt_case_send(s->ch[i], &bufs[i]) : tt_case_recv(s->ch[i], &bufs[i]);
  int64_t dl = s->timeout ? tt_now() + s->timeout : TT_NO_DEADLINE;
  int rc = tt_select(cases, s->n, 0, dl);
  CHECK_EQ(rc, s->expect);
}

static void t_nil_send(void *arg) {
  (void)arg;
  int v = 1;
  tt_chan_send(NULL, &v);
}

static void t_nil_recv(void *arg) {
  (void)arg;
  int v;
  tt_chan_recv(NULL, &v);
}

static void t_empty_select(void *arg) {
  (void)arg;
  tt_select(NULL, 0, 0, TT_NO_DEADLINE);
}

static void t_nil_select(void *arg) {
  (void)arg;
  int v = 0;
  tt_case cases[2] = {tt_case_recv(NULL, &v), tt_case_send(NULL, &v)};
  tt_select(cases, 2, 0, TT_NO_DEADLINE);
}

/* A generic job for the look-alikes. */
typedef struct job {
  tt_chan *c;
  int64_t timeout; /* 0: none */
  int expect;
  int own_ref; /* drop a reference of its own when done */
  tt_context *ctx;
  int loops; /* receive until TT_ECLOSED, counting into *count */
  atomic_int *count;
} job;

static void j_recv(void *arg) {
  job *j = arg;
  int v;
  int rc =
      j->timeout ? tt_chan_recv_until(j->c, &v, tt_now() + j->timeout) : tt_chan_recv(j->c, &v);
  CHECK_EQ(rc, j->expect);
  if (j->own_ref)
    CHECK_EQ(tt_chan_unref(j->c), 0);
}

static void j_send(void *arg) {
  job *j = arg;
  int v = 7;
  int rc =
      j->timeout ? tt_chan_send_until(j->c, &v, tt_now() + j->timeout) : tt_chan_send(j->c, &v);
  CHECK_EQ(rc, j->expect);
}

static void j_pool_worker(void *arg) {
  job *j = arg;
  int v;
  for (;;) {
    int rc = tt_chan_recv(j->c, &v);
    if (rc != 0) {
      CHECK_EQ(rc, TT_ECLOSED);
      break;
    }
    atomic_fetch_add(j->count, 1);
  }
}

static void j_recv_ctx(void *arg) {
  job *j = arg;
  int v;
  CHECK_EQ(tt_chan_recv_ctx(j->c, &v, j->ctx), j->expect);
}

static void j_select_ctx(void *arg) {
  job *j = arg;
  int v;
  tt_case k = tt_case_recv(j->c, &v);
  CHECK_EQ(tt_select_ctx(&k, 1, 0, j->ctx), j->expect);
}

/* ---- leak scenarios --------------------------------------------------------- */

static int leak_sender_unbuffered(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  await_parked(tt_go(t_send, c), "chan send");
  keep_unref(c);
  return 1;
}

static int leak_receiver_unbuffered(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  await_parked(tt_go(t_recv, c), "chan receive");
  keep_unref(c);
  return 1;
}

static int leak_sender_full_buffer(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 2);
  int v = 1;
  CHECK_EQ(tt_chan_try_send(c, &v), 0);
  CHECK_EQ(tt_chan_try_send(c, &v), 0);
  await_parked(tt_go(t_send, c), "chan send");
  keep_unref(c);
  return 1;
}

static int leak_receiver_empty_buffer(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 8);
  await_parked(tt_go(t_recv, c), "chan receive");
  keep_unref(c);
  return 1;
}

static int leak_signal_sender(void) {
  tt_chan *c = tt_chan_make(0, 0);
  await_parked(tt_go(t_send, c), "chan send");
  keep_unref(c);
  return 1;
}

static int leak_signal_receiver(void) {
  tt_chan *c = tt_chan_make(0, 1);
  await_parked(tt_go(t_recv, c), "chan receive");
  keep_unref(c);
  return 1;
}

static int leak_struct_receiver(void) {
  tt_chan *c = tt_chan_make(ELEM_MAX, 0);
  await_parked(tt_go(t_recv, c), "chan receive");
  keep_unref(c);
  return 1;
}

static int leak_big_sender_and_receiver(void) {
  tt_chan *s = tt_chan_make(BIG_ELEM, 0);
  tt_chan *r = tt_chan_make(BIG_ELEM, 1);
  CHECK(s != NULL && r != NULL);
  await_parked(tt_go(t_send_big, s), "chan send");
  await_parked(tt_go(t_recv_big, r), "chan receive");
  keep_unref(s);
  keep_unref(r);
  return 2;
}

/* A pipeline whose stages wait on c1..c4, nobody left to feed or drain. */
static fwd chain4[4];
static int leak_chain(void) {
  tt_chan *c[5];
  for (int i = 0; i < 5; i++)
    c[i] = tt_chan_make(sizeof(int), i % 2);
  for (int i = 0; i < 4; i++) {
    chain4[i] = (fwd){c[i], c[i + 1]};
    await_parked(tt_go(t_fwd, &chain4[i]), "chan receive");
  }
  for (int i = 0; i < 5; i++)
    keep_unref(c[i]);
  return 4;
}

static fwd cycle2[2];
static int leak_cycle2(void) {
  tt_chan *a = tt_chan_make(sizeof(int), 0), *b = tt_chan_make(sizeof(int), 0);
  cycle2[0] = (fwd){a, b};
  cycle2[1] = (fwd){b, a};
  await_parked(tt_go(t_fwd, &cycle2[0]), "chan receive");
  await_parked(tt_go(t_fwd, &cycle2[1]), "chan receive");
  keep_unref(a);
  keep_unref(b);
  return 2;
}

static fwd cycle3[3];
static int leak_cycle3(void) {
  tt_chan *c[3];
  for (int i = 0; i < 3; i++)
    c[i] = tt_chan_make(sizeof(int), 1);
  for (int i = 0; i < 3; i++) {
    cycle3[i] = (fwd){c[i], c[(i + 1) % 3]};
    await_parked(tt_go(t_fwd, &cycle3[i]), "chan receive");
  }
  for (int i = 0; i < 3; i++)
    keep_unref(c[i]);
  return 3;
}

static int leak_pool_buffered(void) {
  tt_chan *jobs = tt_chan_make(sizeof(int), 16);
  for (int i = 0; i < 4; i++)
    await_parked(tt_go(t_recv, jobs), "chan receive");
  keep_unref(jobs);
  return 4;
}

static int leak_pool_unbuffered(void) {
  tt_chan *jobs = tt_chan_make(sizeof(int), 0);
  for (int i = 0; i < 3; i++)
    await_parked(tt_go(t_recv, jobs), "chan receive");
  keep_unref(jobs);
  return 3;
}

static int leak_many_senders(void) {
  tt_chan *results = tt_chan_make(sizeof(int), 0);
  for (int i = 0; i < 3; i++)
    await_parked(tt_go(t_send, results), "chan send");
  keep_unref(results);
  return 3;
}

static selspec sel2r, sel_sr, sel3, sel4, sel_nil_mix, sel_same_sr, sel_same_rr, sel_shared,
    sel_mixed, sel_buf;

static int run_select_leak(selspec *s, int nchans, tt_chan **chans) {
  await_parked(tt_go(t_select, s), "select");
  int64_t before = tt_leak_count();
  for (int i = 0; i < nchans; i++) {
    if (i == nchans - 1)
      CHECK_EQ(tt_leak_count(), before); /* a channel is still live */
    keep_unref(chans[i]);
  }
  return 1;
}

static int leak_select_two_recv(void) {
  tt_chan *c[2] = {tt_chan_make(sizeof(int), 0), tt_chan_make(sizeof(int), 0)};
  sel2r = (selspec){2, {c[0], c[1]}, {TT_RECV, TT_RECV}, 0, 0};
  return run_select_leak(&sel2r, 2, c);
}

static int leak_select_send_recv(void) {
  tt_chan *c[2] = {tt_chan_make(sizeof(int), 0), tt_chan_make(sizeof(int), 0)};
  sel_sr = (selspec){2, {c[0], c[1]}, {TT_SEND, TT_RECV}, 0, 0};
  return run_select_leak(&sel_sr, 2, c);
}

static int leak_select_three(void) {
  tt_chan *c[3] = {tt_chan_make(sizeof(int), 0), tt_chan_make(sizeof(int), 3),
                   tt_chan_make(sizeof(int), 0)};
  sel3 = (selspec){3, {c[0], c[1], c[2]}, {TT_RECV, TT_RECV, TT_SEND}, 0, 0};
  return run_select_leak(&sel3, 3, c);
}

static int leak_select_four(void) {
  tt_chan *c[4];
  for (int i = 0; i < 4; i++)
    c[i] = tt_chan_make(sizeof(int), 0);
  sel4 = (selspec){4, {c[0], c[1], c[2], c[3]}, {TT_SEND, TT_RECV, TT_SEND, TT_RECV}, 0, 0};
  return run_select_leak(&sel4, 4, c);
}

static int leak_select_nil_cases(void) {
  tt_chan *c[2] = {tt_chan_make(sizeof(int), 0), tt_chan_make(sizeof(int), 0)};
  sel_nil_mix = (selspec){4, {NULL, c[0], NULL, c[1]}, {TT_RECV, TT_RECV, TT_SEND, TT_SEND}, 0, 0};
  return run_select_leak(&sel_nil_mix, 2, c);
}

/* Both directions on one channel: one task, one leak. */
static int leak_select_same_chan_send_recv(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  sel_same_sr = (selspec){2, {c, c}, {TT_SEND, TT_RECV}, 0, 0};
  return run_select_leak(&sel_same_sr, 1, &c);
}

static int leak_select_same_chan_twice(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  sel_same_rr = (selspec){2, {c, c}, {TT_RECV, TT_RECV}, 0, 0};
  return run_select_leak(&sel_same_rr, 1, &c);
}

static int leak_selects_sharing(void) {
  tt_chan *a = tt_chan_make(sizeof(int), 0), *b = tt_chan_make(sizeof(int), 0);
  sel_shared = (selspec){2, {a, b}, {TT_RECV, TT_SEND}, 0, 0};
  for (int i = 0; i < 3; i++)
    await_parked(tt_go(t_select, &sel_shared), "select");
  int64_t before = tt_leak_count();
  keep_unref(a);
  CHECK_EQ(tt_leak_count(), before);
  keep_unref(b);
  return 3;
}

/* A plain receiver and a select share a; the select also has b. */
static int leak_receiver_and_select(void) {
  tt_chan *a = tt_chan_make(sizeof(int), 0), *b = tt_chan_make(sizeof(int), 0);
  sel_mixed = (selspec){2, {a, b}, {TT_RECV, TT_RECV}, 0, 0};
  await_parked(tt_go(t_recv, a), "chan receive");
  await_parked(tt_go(t_select, &sel_mixed), "select");
  int64_t before = tt_leak_count();
  keep_unref(b);
  CHECK_EQ(tt_leak_count(), before);
  keep_unref(a);
  return 2;
}

static int leak_select_buffered(void) {
  tt_chan *full = tt_chan_make(sizeof(int), 1), *empty = tt_chan_make(sizeof(int), 4);
  int v = 3;
  CHECK_EQ(tt_chan_try_send(full, &v), 0);
  sel_buf = (selspec){2, {full, empty}, {TT_SEND, TT_RECV}, 0, 0};
  tt_chan *c[2] = {full, empty};
  return run_select_leak(&sel_buf, 2, c);
}

static int leak_nil_send(void) {
  await_parked(tt_go(t_nil_send, NULL), "chan send (nil chan)");
  return 1;
}

static int leak_nil_recv(void) {
  await_parked(tt_go(t_nil_recv, NULL), "chan receive (nil chan)");
  return 1;
}

static int leak_empty_select(void) {
  await_parked(tt_go(t_empty_select, NULL), "select (no cases)");
  return 1;
}

static int leak_all_nil_select(void) {
  await_parked(tt_go(t_nil_select, NULL), "select");
  return 1;
}

/* A group task that ignores its context. */
static int g_ignore_ctx(tt_context *ctx, void *arg) {
  (void)ctx;
  int v;
  tt_chan_recv(arg, &v);
  return 0;
}

static int leak_group_task(void) {
  tt_group *g = tt_group_make(NULL, 0);
  CHECK(g != NULL);
  kept_group = g;
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  int64_t id = tt_group_go(g, g_ignore_ctx, c);
  CHECK(id > 0);
  await_parked(id, "chan receive");
  keep_unref(c);
  return 1;
}

static _Atomic int64_t orphan_child;
static void t_spawn_and_exit(void *arg) { atomic_store(&orphan_child, tt_go(t_send, arg)); }

static int leak_parent_exited(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, t_spawn_and_exit, c);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  await_parked(atomic_load(&orphan_child), "chan send");
  keep_unref(c);
  return 1;
}

static void th_unref(void *arg) { CHECK_EQ(tt_chan_unref(arg), 0); }

static int leak_dropped_by_thread(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  await_parked(tt_go(t_recv, c), "chan receive");
  keep(c);
  CHECK_EQ(tt_blocking(th_unref, c), 0);
  return 1;
}

static void t_unref(void *arg) { CHECK_EQ(tt_chan_unref(arg), 0); }

static int leak_dropped_by_task(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  await_parked(tt_go(t_send, c), "chan send");
  tt_chan_ref(c); /* for the helper below */
  int64_t before = tt_leak_count();
  CHECK_EQ(tt_chan_unref(c), 0);
  CHECK_EQ(tt_leak_count(), before);
  keep(c);
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, t_unref, c);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  return 1;
}

/* Go's classic: the caller gives up after a timeout, the worker's result
 * send can never complete. */
static void t_slow_worker(void *arg) {
  tt_sleep(TT_MS(30));
  int v = 42;
  tt_chan_send(arg, &v);
}

static int leak_timeout_caller(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  int64_t id = tt_go(t_slow_worker, c);
  int v;
  CHECK_EQ(tt_chan_recv_until(c, &v, tt_now() + TT_MS(2)), TT_ETIMEDOUT);
  await_parked(id, "chan send");
  keep_unref(c);
  return 1;
}

/* Several workers, the caller takes the first result and returns. */
static int leak_first_result_only(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  int64_t ids[3];
  for (int i = 0; i < 3; i++)
    ids[i] = tt_go(t_send, c);
  int v;
  CHECK_EQ(tt_chan_recv(c, &v), 0);
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  int parked = 0;
  for (;;) {
    parked = 0;
    for (int i = 0; i < 3; i++) {
      tt_test_task t;
      parked += tt_test_find_task(ids[i], &t) && t.info.state == TT_TASK_WAITING &&
                strcmp(t.wait_reason, "chan send") == 0;
    }
    if (parked == 2 || tt_test_mono_ns() > end)
      break;
    tt_sleep(TT_MS(1));
  }
  CHECK_EQ(parked, 2);
  keep_unref(c);
  return 2;
}

/* Fan-in into a one-slot channel whose consumer went away. */
static int leak_fan_in(void) {
  tt_chan *merged = tt_chan_make(sizeof(int), 1);
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, t_send, merged); /* fills the slot and exits */
  tt_wg_wait(wg);
  tt_wg_free(wg);
  CHECK_EQ(tt_chan_len(merged), 1);
  for (int i = 0; i < 3; i++)
    await_parked(tt_go(t_send, merged), "chan send");
  keep_unref(merged);
  return 3;
}

/* ---- look-alikes that are not leaks ---------------------------------------- */

static tt_chan *g_global;

static int ok_global_ref(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  g_global = tt_chan_ref(c);
  job j = {c, 0, 0, 0, NULL, 0, NULL};
  tt_wg *wg = tt_wg_make();
  await_parked(tt_wg_go(wg, j_recv, &j), "chan receive");
  int64_t before = tt_leak_count();
  tt_chan_unref(c);
  CHECK_EQ(tt_leak_count(), before);
  int v = 1;
  CHECK_EQ(tt_chan_send(g_global, &v), 0);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_chan_unref(g_global);
  g_global = NULL;
  return 0;
}

static void th_wake_and_unref(void *arg) {
  int v = 5;
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  int rc;
  while ((rc = tt_chan_try_send(arg, &v)) == TT_EAGAIN && tt_test_mono_ns() < end)
    tt_test_sleep_ns(TT_MS(1));
  CHECK_EQ(rc, 0);
  CHECK_EQ(tt_chan_unref(arg), 0);
}

static int ok_thread_ref(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  tt_chan_ref(c); /* the plain thread's */
  job j = {c, 0, 0, 0, NULL, 0, NULL};
  tt_wg *wg = tt_wg_make();
  await_parked(tt_wg_go(wg, j_recv, &j), "chan receive");
  tt_chan_unref(c);
  CHECK_EQ(tt_blocking(th_wake_and_unref, c), 0);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  return 0;
}

/* One task with a deadline per channel; the references go while they wait. */
static int deadline_tasks(tt_fn fn, int n, size_t cap, int fill) {
  tt_chan *c[4];
  job j[4];
  tt_wg *wg = tt_wg_make();
  int64_t ids[4];
  for (int i = 0; i < n; i++) {
    c[i] = tt_chan_make(sizeof(int), cap);
    int v = 0;
    for (int k = 0; k < fill; k++)
      CHECK_EQ(tt_chan_try_send(c[i], &v), 0);
    j[i] = (job){c[i], TT_MS(300), TT_ETIMEDOUT, 0, NULL, 0, NULL};
    ids[i] = tt_wg_go(wg, fn, &j[i]);
  }
  for (int i = 0; i < n; i++)
    await_parked_soft(ids[i], fn == j_recv ? "chan receive" : "chan send");
  for (int i = 0; i < n; i++)
    tt_chan_unref(c[i]);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  return 0;
}

static int ok_recv_deadline(void) { return deadline_tasks(j_recv, 1, 0, 0); }
static int ok_send_deadline(void) { return deadline_tasks(j_send, 1, 0, 0); }
static int ok_send_deadline_full(void) { return deadline_tasks(j_send, 1, 2, 2); }
static int ok_chain_deadlines(void) { return deadline_tasks(j_recv, 3, 1, 0); }
static int ok_pool_deadlines(void) {
  tt_chan *jobs = tt_chan_make(sizeof(int), 4);
  job j = {jobs, TT_MS(300), TT_ETIMEDOUT, 0, NULL, 0, NULL};
  tt_wg *wg = tt_wg_make();
  int64_t ids[3];
  for (int i = 0; i < 3; i++)
    ids[i] = tt_wg_go(wg, j_recv, &j);
  for (int i = 0; i < 3; i++)
    await_parked_soft(ids[i], "chan receive");
  tt_chan_unref(jobs);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  return 0;
}

static int ok_select_deadline(void) {
  tt_chan *a = tt_chan_make(sizeof(int), 0), *b = tt_chan_make(sizeof(int), 0);
  selspec s = {2, {a, b}, {TT_RECV, TT_SEND}, TT_MS(300), TT_ETIMEDOUT};
  tt_wg *wg = tt_wg_make();
  await_parked_soft(tt_wg_go(wg, t_select, &s), "select");
  tt_chan_unref(a);
  tt_chan_unref(b);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  return 0;
}

static int ok_select_same_chan_deadline(void) {
  tt_chan *a = tt_chan_make(sizeof(int), 0);
  selspec s = {2, {a, a}, {TT_RECV, TT_SEND}, TT_MS(300), TT_ETIMEDOUT};
  tt_wg *wg = tt_wg_make();
  await_parked_soft(tt_wg_go(wg, t_select, &s), "select");
  tt_chan_unref(a);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  return 0;
}

static int ok_select_live_case(void) {
  tt_chan *dead = tt_chan_make(sizeof(int), 0), *live = tt_chan_make(sizeof(int), 0);
  selspec s = {2, {dead, live}, {TT_RECV, TT_RECV}, 0, 1};
  tt_wg *wg = tt_wg_make();
  await_parked(tt_wg_go(wg, t_select, &s), "select");
  tt_chan_unref(dead);
  int v = 9;
  CHECK_EQ(tt_chan_send(live, &v), 0);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_chan_unref(live);
  return 0;
}

static int ok_select_nil_and_live(void) {
  tt_chan *dead = tt_chan_make(sizeof(int), 0), *live = tt_chan_make(sizeof(int), 0);
  selspec s = {3, {NULL, dead, live}, {TT_RECV, TT_SEND, TT_SEND}, 0, 2};
  tt_wg *wg = tt_wg_make();
  await_parked(tt_wg_go(wg, t_select, &s), "select");
  tt_chan_unref(dead);
  int v;
  CHECK_EQ(tt_chan_recv(live, &v), 0);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_chan_unref(live);
  return 0;
}

static int ok_closed_receiver(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  job j = {c, 0, TT_ECLOSED, 0, NULL, 0, NULL};
  tt_wg *wg = tt_wg_make();
  await_parked(tt_wg_go(wg, j_recv, &j), "chan receive");
  CHECK_EQ(tt_chan_close(c), 0);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_chan_unref(c); /* the workers are done with it */
  return 0;
}

static int ok_closed_senders(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  job j = {c, 0, TT_ECLOSED, 0, NULL, 0, NULL};
  tt_wg *wg = tt_wg_make();
  for (int i = 0; i < 3; i++)
    await_parked(tt_wg_go(wg, j_send, &j), "chan send");
  CHECK_EQ(tt_chan_close(c), 0);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_chan_unref(c); /* the workers are done with it */
  return 0;
}

static int ok_pool_closed(void) {
  tt_chan *jobs = tt_chan_make(sizeof(int), 4);
  atomic_int done = 0;
  job j = {jobs, 0, 0, 0, NULL, 1, &done};
  tt_wg *wg = tt_wg_make();
  for (int i = 0; i < 4; i++)
    tt_wg_go(wg, j_pool_worker, &j);
  for (int i = 0; i < 10; i++)
    CHECK_EQ(tt_chan_send(jobs, &i), 0);
  CHECK_EQ(tt_chan_close(jobs), 0);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_chan_unref(jobs); /* the workers are done with it */
  CHECK_EQ(atomic_load(&done), 10);
  return 0;
}

static int ok_idle_pool_closed(void) {
  tt_chan *jobs = tt_chan_make(sizeof(int), 0);
  atomic_int done = 0;
  job j = {jobs, 0, 0, 0, NULL, 1, &done};
  tt_wg *wg = tt_wg_make();
  int64_t ids[3];
  for (int i = 0; i < 3; i++)
    ids[i] = tt_wg_go(wg, j_pool_worker, &j);
  for (int i = 0; i < 3; i++)
    await_parked(ids[i], "chan receive");
  CHECK_EQ(tt_chan_close(jobs), 0);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_chan_unref(jobs); /* the workers are done with it */
  CHECK_EQ(atomic_load(&done), 0);
  return 0;
}

static int ok_buffered_sends_done(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 3);
  job j = {c, 0, 0, 0, NULL, 0, NULL};
  tt_wg *wg = tt_wg_make();
  for (int i = 0; i < 3; i++)
    tt_wg_go(wg, j_send, &j);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  CHECK_EQ(tt_chan_len(c), 3);
  tt_chan_unref(c);
  return 0;
}

static int ok_buffered_drained(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 3);
  for (int i = 0; i < 3; i++)
    CHECK_EQ(tt_chan_send(c, &i), 0);
  job j = {c, 0, 0, 0, NULL, 0, NULL};
  tt_wg *wg = tt_wg_make();
  for (int i = 0; i < 3; i++)
    tt_wg_go(wg, j_recv, &j);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_chan_unref(c);
  return 0;
}

static int ok_senders_drained(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  job j = {c, 0, 0, 0, NULL, 0, NULL};
  tt_wg *wg = tt_wg_make();
  for (int i = 0; i < 3; i++)
    await_parked(tt_wg_go(wg, j_send, &j), "chan send");
  int v;
  for (int i = 0; i < 3; i++)
    CHECK_EQ(tt_chan_recv(c, &v), 0);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_chan_unref(c);
  return 0;
}

static void t_ticks(void *arg) {
  int64_t when;
  for (int i = 0; i < 3; i++)
    CHECK_EQ(tt_chan_recv(arg, &when), 0);
}

static int ok_ticker_stopped(void) {
  tt_ticker *tk = tt_ticker_make(TT_MS(2));
  CHECK(tk != NULL);
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, t_ticks, tt_ticker_chan(tk));
  tt_wg_wait(wg);
  tt_wg_free(wg);
  CHECK_EQ(tt_ticker_stop(tk), 0);
  CHECK_EQ(tt_ticker_free(tk), 0);
  return 0;
}

static void t_one_tick(void *arg) {
  int64_t when;
  CHECK_EQ(tt_chan_recv(arg, &when), 0);
}

static int ok_timer_fired(void) {
  tt_timer *t = tt_timer_make(TT_MS(5));
  CHECK(t != NULL);
  tt_wg *wg = tt_wg_make();
  await_parked(tt_wg_go(wg, t_one_tick, tt_timer_chan(t)), "chan receive");
  tt_wg_wait(wg);
  tt_wg_free(wg);
  CHECK_EQ(tt_timer_free(t), 0);
  return 0;
}

static int ok_select_with_timer(void) {
  tt_timer *t = tt_timer_make(TT_MS(30));
  tt_chan *dead = tt_chan_make(sizeof(int64_t), 0);
  selspec s = {2, {dead, tt_timer_chan(t)}, {TT_RECV, TT_RECV}, 0, 1};
  tt_wg *wg = tt_wg_make();
  await_parked_soft(tt_wg_go(wg, t_select, &s), "select");
  tt_chan_unref(dead);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  CHECK_EQ(tt_timer_free(t), 0);
  return 0;
}

static int ctx_job(tt_fn fn, tt_context *ctx, int expect, int cancel) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  job j = {c, 0, expect, 0, ctx, 0, NULL};
  tt_wg *wg = tt_wg_make();
  int64_t id = tt_wg_go(wg, fn, &j);
  if (cancel)
    await_waiting(id);
  else
    tt_sleep(TT_MS(5));
  tt_chan_unref(c);
  if (cancel)
    tt_cancel(ctx);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_context_release(ctx);
  return 0;
}

static int ok_select_ctx_cancel(void) {
  return ctx_job(j_select_ctx, tt_with_cancel(NULL), TT_ECANCELED, 1);
}
static int ok_recv_ctx_cancel(void) {
  return ctx_job(j_recv_ctx, tt_with_cancel(NULL), TT_ECANCELED, 1);
}
static int ok_select_ctx_timeout(void) {
  return ctx_job(j_select_ctx, tt_with_timeout(NULL, TT_MS(200)), TT_ETIMEDOUT, 0);
}

static tt_mutex g_mu;
static void t_lock(void *arg) {
  (void)arg;
  CHECK_EQ(tt_mutex_lock(&g_mu), 0);
  CHECK_EQ(tt_mutex_unlock(&g_mu), 0);
}

static int ok_mutex(void) {
  CHECK_EQ(tt_mutex_lock(&g_mu), 0);
  tt_wg *wg = tt_wg_make();
  await_parked(tt_wg_go(wg, t_lock, NULL), "sync.Mutex.Lock");
  CHECK_EQ(tt_mutex_unlock(&g_mu), 0);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  return 0;
}

static void t_wg_wait(void *arg) { CHECK_EQ(tt_wg_wait(arg), 0); }

static int ok_waitgroup(void) {
  tt_wg *inner = tt_wg_make();
  tt_wg_add(inner, 1);
  tt_wg *wg = tt_wg_make();
  await_parked(tt_wg_go(wg, t_wg_wait, inner), "sync.WaitGroup.Wait");
  tt_wg_done(inner);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_wg_free(inner);
  return 0;
}

static void t_wg_wait_ctx(void *arg) {
  job *j = arg;
  CHECK_EQ(tt_wg_wait_ctx((tt_wg *)(void *)j->c, j->ctx), TT_ECANCELED);
}

static int ok_waitgroup_ctx(void) {
  tt_wg *inner = tt_wg_make();
  tt_wg_add(inner, 1);
  tt_context *ctx = tt_with_cancel(NULL);
  job j = {(tt_chan *)(void *)inner, 0, 0, 0, ctx, 0, NULL};
  tt_wg *wg = tt_wg_make();
  await_waiting(tt_wg_go(wg, t_wg_wait_ctx, &j));
  tt_cancel(ctx);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_context_release(ctx);
  tt_wg_done(inner);
  tt_wg_free(inner);
  return 0;
}

static tt_mutex g_cmu;
static tt_cond g_cond;
static int g_ready;
static void t_cond(void *arg) {
  (void)arg;
  tt_mutex_lock(&g_cmu);
  while (!g_ready)
    tt_cond_wait(&g_cond, &g_cmu);
  tt_mutex_unlock(&g_cmu);
}

static int ok_cond(void) {
  tt_wg *wg = tt_wg_make();
  await_parked(tt_wg_go(wg, t_cond, NULL), "sync.Cond.Wait");
  tt_mutex_lock(&g_cmu);
  g_ready = 1;
  tt_cond_signal(&g_cond);
  tt_mutex_unlock(&g_cmu);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  return 0;
}

static tt_sem g_sem;
static void t_sem(void *arg) {
  (void)arg;
  CHECK_EQ(tt_sem_acquire(&g_sem, 1), 0);
}

static int ok_semaphore(void) {
  tt_wg *wg = tt_wg_make();
  await_parked(tt_wg_go(wg, t_sem, NULL), "semacquire");
  CHECK_EQ(tt_sem_release(&g_sem, 1), 0);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  return 0;
}

/* The waiter holds a reference of its own: the main task's unref is not the
 * last, the channel stays valid, and the main task can still wake it. */
static int ok_own_ref(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  job j = {tt_chan_ref(c), 0, 0, 1, NULL, 0, NULL};
  tt_wg *wg = tt_wg_make();
  await_parked(tt_wg_go(wg, j_recv, &j), "chan receive");
  int64_t before = tt_leak_count();
  CHECK_EQ(tt_chan_unref(c), 0);
  CHECK_EQ(tt_leak_count(), before);
  int v = 3;
  CHECK_EQ(tt_chan_send(c, &v), 0); /* still valid: the task's reference */
  tt_wg_wait(wg);
  tt_wg_free(wg);
  return 0;
}

/* A reference kept by a task that is parked on something else. */
static tt_wg *g_gate;
static void t_gated_sender(void *arg) {
  CHECK_EQ(tt_wg_wait(g_gate), 0);
  int v = 1;
  CHECK_EQ(tt_chan_send(arg, &v), 0);
  CHECK_EQ(tt_chan_unref(arg), 0);
}

static int ok_ref_in_parked_task(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  g_gate = tt_wg_make();
  tt_wg_add(g_gate, 1);
  job j = {c, 0, 0, 0, NULL, 0, NULL};
  tt_wg *wg = tt_wg_make();
  await_parked(tt_wg_go(wg, t_gated_sender, tt_chan_ref(c)), "sync.WaitGroup.Wait");
  await_parked(tt_wg_go(wg, j_recv, &j), "chan receive");
  tt_chan_unref(c);
  tt_wg_done(g_gate);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_wg_free(g_gate);
  return 0;
}

static int ok_nil_deadlines(void) {
  int v = 0;
  CHECK_EQ(tt_chan_recv_until(NULL, &v, tt_now() + TT_MS(5)), TT_ETIMEDOUT);
  CHECK_EQ(tt_chan_send_until(NULL, &v, tt_now() + TT_MS(5)), TT_ETIMEDOUT);
  CHECK_EQ(tt_select(NULL, 0, 0, tt_now() + TT_MS(5)), TT_ETIMEDOUT);
  CHECK_EQ(tt_select(NULL, 0, TT_SELECT_NONBLOCK, TT_NO_DEADLINE), TT_EAGAIN);
  return 0;
}

static int ok_all_nil_select_deadline(void) {
  selspec s = {2, {NULL, NULL}, {TT_RECV, TT_SEND}, TT_MS(20), TT_ETIMEDOUT};
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, t_select, &s);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  return 0;
}

static int g_honor_ctx(tt_context *ctx, void *arg) {
  int v;
  tt_case k = tt_case_recv(arg, &v);
  CHECK_EQ(tt_select_ctx(&k, 1, 0, ctx), TT_ECANCELED);
  return 0;
}

static int ok_group_honors_ctx(void) {
  tt_group *g = tt_group_make(NULL, 0);
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  int64_t id = tt_group_go(g, g_honor_ctx, c);
  await_parked(id, "select");
  tt_chan_unref(c);
  CHECK_EQ(tt_group_destroy(g, TT_MS(10000)), 0);
  return 0;
}

static fwd cyc_closed[2];
static int ok_cycle_closed(void) {
  tt_chan *a = tt_chan_make(sizeof(int), 0), *b = tt_chan_make(sizeof(int), 0);
  cyc_closed[0] = (fwd){a, b};
  cyc_closed[1] = (fwd){b, a};
  tt_wg *wg = tt_wg_make();
  await_parked(tt_wg_go(wg, t_fwd_closed, &cyc_closed[0]), "chan receive");
  await_parked(tt_wg_go(wg, t_fwd_closed, &cyc_closed[1]), "chan receive");
  tt_chan_close(a);
  tt_chan_close(b);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_chan_unref(a);
  tt_chan_unref(b);
  return 0;
}

static void th_unref_only(void *arg) { tt_chan_unref(arg); }

static int ok_thread_drops_deadline_waiter(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  job j = {c, TT_MS(300), TT_ETIMEDOUT, 0, NULL, 0, NULL};
  tt_wg *wg = tt_wg_make();
  await_parked_soft(tt_wg_go(wg, j_recv, &j), "chan receive");
  CHECK_EQ(tt_blocking(th_unref_only, c), 0);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  return 0;
}

static void t_ping(void *arg) {
  int v = 0;
  for (int i = 0; i < 100; i++) {
    CHECK_EQ(tt_chan_send(arg, &v), 0);
    CHECK_EQ(tt_chan_recv(arg, &v), 0);
  }
}

static int ok_ping_pong(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, t_ping, c);
  int v;
  for (int i = 0; i < 100; i++) {
    CHECK_EQ(tt_chan_recv(c, &v), 0);
    v++;
    CHECK_EQ(tt_chan_send(c, &v), 0);
  }
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_chan_unref(c);
  return 0;
}

static int ok_try_ops(void) {
  tt_chan *c = tt_chan_make(sizeof(int), 1);
  int v = 1;
  CHECK_EQ(tt_chan_try_recv(c, &v), TT_EAGAIN);
  CHECK_EQ(tt_chan_try_send(c, &v), 0);
  CHECK_EQ(tt_chan_try_send(c, &v), TT_EAGAIN);
  tt_chan_unref(c);
  return 0;
}

static int ok_nonblocking_select(void) {
  tt_chan *a = tt_chan_make(sizeof(int), 0), *b = tt_chan_make(sizeof(int), 0);
  int v = 0;
  tt_case k[2] = {tt_case_recv(a, &v), tt_case_send(b, &v)};
  CHECK_EQ(tt_select(k, 2, TT_SELECT_NONBLOCK, TT_NO_DEADLINE), TT_EAGAIN);
  tt_chan_unref(a);
  tt_chan_unref(b);
  return 0;
}

/* ---- driver ----------------------------------------------------------------- */

typedef struct scenario {
  const char *name;
  int (*fn)(void);
  const char *cls; /* for leaks: the class every new record must carry */
} scenario;

#define SENDER "abandoned sender (seed pattern 1)"
#define RECEIVER "abandoned receiver (seed pattern 2)"
#define POOL "worker pool without shutdown (seed pattern 5)"
#define SELECT "select whose every channel was abandoned"
#define NIL "wait on a nil channel"
#define EMPTY "select with no case that can ever be ready"
#define ANY_CHAN NULL /* mixed classes */

static const scenario leaks[] = {
    {"sender on an unbuffered channel", leak_sender_unbuffered, SENDER},
    {"receiver on an unbuffered channel", leak_receiver_unbuffered, RECEIVER},
    {"sender on a full buffered channel", leak_sender_full_buffer, SENDER},
    {"receiver on an empty buffered channel", leak_receiver_empty_buffer, RECEIVER},
    {"sender on a 0-size signal channel", leak_signal_sender, SENDER},
    {"receiver on a 0-size buffered signal channel", leak_signal_receiver, RECEIVER},
    {"receiver of 4 KiB structs", leak_struct_receiver, RECEIVER},
    {"sender and receiver of 64 KiB elements", leak_big_sender_and_receiver, ANY_CHAN},
    {"pipeline chain of four stages", leak_chain, RECEIVER},
    {"cycle through two channels", leak_cycle2, RECEIVER},
    {"cycle through three channels", leak_cycle3, RECEIVER},
    {"worker pool on a buffered jobs channel", leak_pool_buffered, POOL},
    {"worker pool on an unbuffered jobs channel", leak_pool_unbuffered, POOL},
    {"several senders on one results channel", leak_many_senders, SENDER},
    {"select over two abandoned receives", leak_select_two_recv, SELECT},
    {"select send + receive, both abandoned", leak_select_send_recv, SELECT},
    {"select over three abandoned channels", leak_select_three, SELECT},
    {"select over four abandoned channels", leak_select_four, SELECT},
    {"select with nil cases and abandoned channels", leak_select_nil_cases, SELECT},
    {"select sending and receiving on one abandoned channel", leak_select_same_chan_send_recv,
     SELECT},
    {"select receiving twice from one abandoned channel", leak_select_same_chan_twice, SELECT},
    {"three selects sharing two abandoned channels", leak_selects_sharing, SELECT},
    {"plain receiver and a select sharing a channel", leak_receiver_and_select, ANY_CHAN},
    {"select on a full and an empty buffered channel", leak_select_buffered, SELECT},
    {"send on a nil channel", leak_nil_send, NIL},
    {"receive from a nil channel", leak_nil_recv, NIL},
    {"empty select", leak_empty_select, EMPTY},
    {"select whose every case is nil", leak_all_nil_select, EMPTY},
    {"group task ignoring its context", leak_group_task, RECEIVER},
    {"task whose parent already exited", leak_parent_exited, SENDER},
    {"last reference dropped by a plain thread", leak_dropped_by_thread, RECEIVER},
    {"last reference dropped by another task", leak_dropped_by_task, SENDER},
    {"worker outlives the caller's timeout", leak_timeout_caller, SENDER},
    {"caller keeps the first of three results", leak_first_result_only, SENDER},
    {"fan-in into a one-slot channel, consumer gone", leak_fan_in, SENDER},
};

static const scenario not_leaks[] = {
    {"reference kept by a global", ok_global_ref, NULL},
    {"reference kept by a plain thread", ok_thread_ref, NULL},
    {"receive with a deadline", ok_recv_deadline, NULL},
    {"send with a deadline", ok_send_deadline, NULL},
    {"send with a deadline on a full buffer", ok_send_deadline_full, NULL},
    {"three receivers with deadlines", ok_chain_deadlines, NULL},
    {"pool with deadlines", ok_pool_deadlines, NULL},
    {"select with a deadline", ok_select_deadline, NULL},
    {"select on one channel both ways, with a deadline", ok_select_same_chan_deadline, NULL},
    {"select with a live case", ok_select_live_case, NULL},
    {"select with nil, abandoned and live cases", ok_select_nil_and_live, NULL},
    {"receiver woken by close", ok_closed_receiver, NULL},
    {"senders woken by close", ok_closed_senders, NULL},
    {"worker pool shut down by close", ok_pool_closed, NULL},
    {"idle worker pool shut down by close", ok_idle_pool_closed, NULL},
    {"buffered sends completed", ok_buffered_sends_done, NULL},
    {"buffered items drained", ok_buffered_drained, NULL},
    {"senders drained", ok_senders_drained, NULL},
    {"ticker stopped", ok_ticker_stopped, NULL},
    {"timer fired", ok_timer_fired, NULL},
    {"select on an abandoned channel and a timer", ok_select_with_timer, NULL},
    {"select_ctx woken by cancel", ok_select_ctx_cancel, NULL},
    {"recv_ctx woken by cancel", ok_recv_ctx_cancel, NULL},
    {"select_ctx ended by the context's timeout", ok_select_ctx_timeout, NULL},
    {"mutex wait released", ok_mutex, NULL},
    {"WaitGroup wait released", ok_waitgroup, NULL},
    {"WaitGroup wait_ctx cancelled", ok_waitgroup_ctx, NULL},
    {"cond wait signalled", ok_cond, NULL},
    {"semaphore acquire released", ok_semaphore, NULL},
    {"waiter holding its own reference", ok_own_ref, NULL},
    {"reference held by a task parked elsewhere", ok_ref_in_parked_task, NULL},
    {"nil channel and empty select with deadlines", ok_nil_deadlines, NULL},
    {"all-nil select with a deadline", ok_all_nil_select_deadline, NULL},
    {"group task honouring its context", ok_group_honors_ctx, NULL},
    {"cycle closed before the unrefs", ok_cycle_closed, NULL},
    {"plain thread drops a deadline waiter's channel", ok_thread_drops_deadline_waiter, NULL},
    {"ping-pong completed", ok_ping_pong, NULL},
    {"try operations only", ok_try_ops, NULL},
    {"non-blocking select", ok_nonblocking_select, NULL},
};

static const char *nth_record(const char *rep, int64_t n) {
  const char *p = rep;
  for (int64_t i = 0; p; i++) {
    p = strstr(p, "tether: leak: task ");
    if (!p || i == n)
      return p;
    p++;
  }
  return NULL;
}

static int64_t count_records(const char *rep) {
  int64_t n = 0;
  for (const char *p = rep; (p = strstr(p, "tether: leak: task ")) != NULL; p++)
    n++;
  return n;
}

static void run(const scenario *s, int is_leak) {
  NOTE("%s: %s", is_leak ? "leak" : "not a leak", s->name);
  int64_t before = tt_leak_count(), tasks0 = tt_num_tasks();
  int want = s->fn();
  int64_t got = tt_leak_count() - before;
  CHECK_MSG(got == want, "%s: %lld leak(s) found, %d expected", s->name, (long long)got, want);
  CHECK_MSG(is_leak ? want > 0 : want == 0, "%s: wrong table", s->name);
  /* Every leaked task stays parked, every other task of the scenario exits
   * (a task whose wg_done has run may still be on its way out). */
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  while (tt_num_tasks() != tasks0 + want && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK_MSG(tt_num_tasks() == tasks0 + want, "%s: %lld task(s) left, %d expected", s->name,
            (long long)(tt_num_tasks() - tasks0), want);
  if (!is_leak)
    return;
  char *rep = tt_test_leak_report();
  int64_t total = tt_leak_count();
  CHECK_EQ(count_records(rep), total);
  const char *start = nth_record(rep, total - got);
  CHECK_MSG(start != NULL, "%s: no new records in the report", s->name);
  for (const char *p = start; p && got > 0; p = nth_record(p + 1, 0)) {
    const char *next = nth_record(p + 1, 0);
    size_t len = next ? (size_t)(next - p) : strlen(p);
    char *rec = strndup(p, len);
    if (s->cls)
      CHECK_MSG(strstr(rec, s->cls) != NULL, "%s: record without \"%s\":\n%s", s->name, s->cls,
                rec);
    else
      CHECK_MSG(strstr(rec, SENDER) || strstr(rec, RECEIVER) || strstr(rec, SELECT),
                "%s: record of an unexpected class:\n%s", s->name, rec);
    free(rec);
  }
  free(rep);
}

static void corpus_main(void *arg) {
  (void)arg;
  size_t nl = sizeof leaks / sizeof leaks[0], nn = sizeof not_leaks / sizeof not_leaks[0];
  NOTE("%zu leak scenarios, %zu look-alikes", nl, nn);
  /* Interleave so that a look-alike runs with earlier leaks still parked. */
  for (size_t i = 0; i < nl || i < nn; i++) {
    if (i < nl)
      run(&leaks[i], 1);
    if (i < nn)
      run(&not_leaks[i], 0);
  }
}

int main(void) {
  tt_test_leaks_expected = 1; /* it leaks on purpose */
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(120);
  RUN_MAIN(2, corpus_main, NULL);
  return TEST_REPORT();
}
