/*
 * test_leakgraph_corpus: a table of shapes for the wait-for-graph detector
 * (tt_leak_check). Each leak shape must be found, each of its blocked
 * tasks with its class; no look-alike may ever be reported, however often
 * the detector runs while its tasks wait.
 *
 * Every shape runs in a task of its own (the "shape task"), which makes
 * the shape's handles, spawns its tasks, waits until they are parked,
 * drops its references and runs the detector. The driver (the main task)
 * never touches a handle, so no table outlives a shape with entries for
 * handles since freed (an address the allocator hands out again).
 *
 * Leak shapes leave their tasks parked for good (tt_shutdown frees them).
 * Every channel a leaked task can name stays allocated until then: it is
 * handed to a leaked task (give_chans) or counted by one. Memory only a
 * leaked task's stack points to is recorded in g_kept for LeakSanitizer;
 * WaitGroups of leaked tasks are freed once the runtime is down. Mutexes
 * are zero values taken fresh for every shape and every run, since a
 * leaked task keeps its mutex locked.
 *
 * Look-alikes check the detector a few times while their tasks wait, then
 * release them (close, send, cancel, unlock, a flag a sleeping task polls)
 * and wait until every task of the shape has returned.
 */
#include <pthread.h>

#include "harness.h"

#define ELEM sizeof(int64_t)

/* The classes, as the "why:" line of a record words them. */
#define SELF "waiting on itself (seed pattern 3)"
#define ERRP "error-path leak (seed pattern 6)"
#define CHAIN "a wait-for chain or cycle" /* and not SEL */
#define SEL "select whose every channel is reachable only"
#define WGND "WaitGroup never done"
#define ORPH "mutex held by a task that exited"
#define LCYC "lock cycle"
#define HELD "mutex held by a task that is itself leaked"

/* ---- what leaked tasks keep ------------------------------------------------- */

#define KEEP_MAX 4096
static void *volatile g_kept[KEEP_MAX];
static atomic_int g_nkept;

static void *keep(void *p) {
  int i = atomic_fetch_add(&g_nkept, 1);
  CHECK(i < KEEP_MAX);
  if (i < KEEP_MAX)
    g_kept[i] = p;
  return p;
}

static void *keep_alloc(size_t n) { return keep(calloc(1, n)); }

#define WG_MAX 256
static tt_wg *volatile g_wgs[WG_MAX];
static atomic_int g_nwgs;

static tt_wg *keep_wg(tt_wg *wg) {
  int i = atomic_fetch_add(&g_nwgs, 1);
  CHECK(i < WG_MAX);
  if (i < WG_MAX)
    g_wgs[i] = wg;
  return wg;
}

/* After tt_shutdown: their waiters are gone with the runtime. */
static void free_kept_wgs(void) {
  int n = atomic_exchange(&g_nwgs, 0);
  for (int i = 0; i < n && i < WG_MAX; i++)
    CHECK_EQ(tt_wg_free(g_wgs[i]), 0);
}

#define MUTEX_MAX 96
static tt_mutex g_mutexes[2][MUTEX_MAX];
static int g_run;
static atomic_int g_nmutex;

static tt_mutex *fresh_mutex(void) {
  int i = atomic_fetch_add(&g_nmutex, 1);
  CHECK(i < MUTEX_MAX);
  return &g_mutexes[g_run][i % MUTEX_MAX];
}

/* ---- helpers ---------------------------------------------------------------- */

static void await_parked(int64_t id, const char *reason) {
  tt_test_task t;
  CHECK_MSG(tt_test_await_wait_reason(id, reason, TT_MS(10000), &t),
            "task %lld never waited in %s (state %s, reason \"%s\")", (long long)id, reason,
            t.state_name, t.wait_reason);
}

static int64_t await_id(_Atomic int64_t *id) {
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  while (!atomic_load(id) && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK(atomic_load(id) > 0);
  return atomic_load(id);
}

static void wait_flag(atomic_int *f) {
  while (!atomic_load(f))
    tt_sleep(TT_MS(1));
}

/* Until the shape has exactly `n` tasks besides those that ran before it. */
static void settle(int64_t base, int n) {
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  while (tt_num_tasks() != base + n && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK_MSG(tt_num_tasks() == base + n, "%lld task(s) of the shape left, %d expected",
            (long long)(tt_num_tasks() - base), n);
}

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

/* Print the last `n` records of the report. */
static void print_new_records(int64_t n) {
  char *rep = tt_test_leak_report();
  int64_t total = 0;
  for (const char *p = rep; (p = strstr(p, "tether: leak: task ")) != NULL; p++)
    total++;
  const char *from = nth_record(rep, total - n);
  fprintf(stderr, "    the new record(s):\n%s", from ? from : "(none)\n");
  free(rep);
}

/* The record of task `id` (malloc'd), NULL if none. Tasks are unnamed. */
static char *record_of(const char *rep, int64_t id) {
  char head[64];
  snprintf(head, sizeof head, "tether: leak: task %lld (", (long long)id);
  const char *at = strstr(rep, head);
  if (!at)
    return NULL;
  const char *next = strstr(at + 1, "tether: leak: task ");
  return strndup(at, next ? (size_t)(next - at) : strlen(at));
}

/* Is the record's "why:" line of class cls? */
static int has_class(const char *rec, const char *cls) {
  const char *why = strstr(rec, "\n  why: ");
  if (!why)
    return 0;
  why += strlen("\n  why: ");
  size_t len = strcspn(why, "\n");
  char line[512];
  snprintf(line, sizeof line, "%.*s", (int)len, why);
  if (strcmp(cls, CHAIN) == 0 && strstr(line, SEL))
    return 0;
  return strstr(line, cls) != NULL;
}

/* Look-alikes: the detector must find nothing, several times over. */
static void quiet(void) {
  for (int i = 0; i < 3; i++) {
    int64_t got = tt_leak_check();
    CHECK_EQ(got, 0);
    if (got > 0)
      print_new_records(got);
    tt_sleep(TT_MS(2));
  }
}

/* Look-alikes: every task of the shape returns, nothing is reported. */
static void finish(int64_t base) {
  settle(base, 0);
  quiet();
}

typedef struct want {
  int64_t id;
  const char *cls;
} want;

static atomic_long g_expected; /* leaks the shapes of this run expect */

/* Leak shapes: once the shape is down to `tasks` tasks, one run of the
 * detector finds exactly the `n` of w, each with its class, and only once. */
static void expect_leaks_among(int64_t base, int tasks, const want *w, int n) {
  settle(base, tasks);
  int64_t before = tt_leak_count();
  int64_t got = tt_leak_check();
  CHECK_EQ(got, n);
  CHECK_EQ(tt_leak_count() - before, n);
  char *rep = tt_test_leak_report();
  for (int i = 0; i < n; i++) {
    char *rec = record_of(rep, w[i].id);
    CHECK_MSG(rec && has_class(rec, w[i].cls), "task %lld: no record with \"%s\"%s%s",
              (long long)w[i].id, w[i].cls, rec ? ":\n" : "", rec ? rec : "");
    free(rec);
  }
  free(rep);
  if (got != n && got > 0)
    print_new_records(got);
  atomic_fetch_add(&g_expected, n);
  int64_t again = tt_leak_check(); /* found once */
  CHECK_EQ(again, 0);
  if (again > 0)
    print_new_records(again);
}

/* ...when the shape is down to its blocked tasks. */
static void expect_leaks(int64_t base, const want *w, int n) { expect_leaks_among(base, n, w, n); }

/* ---- tasks of the leak shapes ------------------------------------------------ */

static void recv_on(void *arg) { tt_chan_recv(arg, NULL); }

static void send_on(void *arg) {
  int64_t v = 1;
  tt_chan_send(arg, &v);
}

static void self_make_recv(void *arg) {
  (void)arg;
  tt_chan *c = keep(tt_chan_make(ELEM, 0));
  tt_chan_recv(c, NULL);
}

static void self_make_send(void *arg) {
  (void)arg;
  tt_chan *c = keep(tt_chan_make(ELEM, 0));
  int64_t v = 1;
  tt_chan_send(c, &v);
}

static void self_fill_buffer(void *arg) {
  (void)arg;
  tt_chan *c = keep(tt_chan_make(ELEM, 2));
  int64_t v = 1;
  for (int i = 0; i < 3; i++) /* the third send finds the buffer full */
    tt_chan_send(c, &v);
}

/* Receives on its own channel, holding the one it was given too. */
static void self_wait_holding(void *arg) {
  (void)arg;
  tt_chan *x = keep(tt_chan_make(ELEM, 0));
  tt_chan_recv(x, NULL);
}

typedef struct errpath {
  _Atomic int64_t victim;
  int workers;
  int send_side;
} errpath;

/* Given the channel; returns without using it once the victim waits. */
static void err_worker(void *arg) {
  errpath *e = arg;
  int64_t victim = await_id(&e->victim);
  await_parked(victim, e->send_side ? "chan send" : "chan receive");
}

static void err_handler(void *arg) {
  errpath *e = arg;
  tt_chan *c = keep(tt_chan_make(ELEM, 0));
  atomic_store(&e->victim, tt_self());
  for (int i = 0; i < e->workers; i++)
    tt_go_opts(err_worker, e, &(tt_spawn_opts){.give_chans = {c}});
  int64_t v = 0;
  if (e->send_side)
    tt_chan_send(c, &v);
  else
    tt_chan_recv(c, &v);
}

typedef struct fwd {
  tt_chan *in, *out;
} fwd;

/* Receive from in, pass it on to out (or close out when in is closed). */
static void fwd_task(void *arg) {
  fwd *f = arg;
  int64_t v = 0;
  if (tt_chan_recv(f->in, &v) == 0) {
    if (f->out)
      tt_chan_send(f->out, &v);
  } else if (f->out) {
    tt_chan_close(f->out);
  }
}

typedef struct selargs {
  int n;
  tt_chan *c[4];
  int expect; /* look-alikes: the case that must win */
} selargs;

static void select_recv(void *arg) {
  selargs *s = arg;
  tt_case k[4];
  int64_t b[4];
  for (int i = 0; i < s->n; i++)
    k[i] = tt_case_recv(s->c[i], &b[i]);
  int rc = tt_select(k, s->n, 0, TT_NO_DEADLINE);
  CHECK_EQ(rc, s->expect);
}

static void lock_and_exit(void *arg) { tt_mutex_lock(arg); /* returns holding it */ }

/* A task locks m and returns holding it; wait until it has. */
static void orphan(tt_mutex *m) {
  tt_test_task t;
  int64_t id = tt_go(lock_and_exit, m);
  while (tt_test_find_task(id, &t))
    tt_sleep(TT_MS(1));
}

static void lock_unlock(void *arg) {
  CHECK_EQ(tt_mutex_lock(arg), 0);
  CHECK_EQ(tt_mutex_unlock(arg), 0);
}

typedef struct lockchan {
  tt_mutex *m;
  tt_chan *c;
} lockchan;

static void lock_then_send(void *arg) {
  lockchan *l = arg;
  tt_mutex_lock(l->m);
  int64_t v = 1;
  tt_chan_send(l->c, &v);
  tt_mutex_unlock(l->m);
}

static void lock_then_self_wait(void *arg) {
  tt_mutex_lock(arg);
  tt_chan *c = keep(tt_chan_make(ELEM, 0));
  tt_chan_recv(c, NULL);
  tt_mutex_unlock(arg);
}

typedef struct lockstep {
  tt_mutex *first, *second;
  tt_chan *ready, *go;
} lockstep;

static void lock_step(void *arg) {
  lockstep *l = arg;
  tt_mutex_lock(l->first);
  tt_chan_send(l->ready, NULL);
  tt_chan_recv(l->go, NULL); /* every task holds its first mutex now */
  tt_mutex_lock(l->second);
}

typedef struct wgshape {
  int adds, workers, extra_waiters;
  _Atomic int64_t ids[8];
  tt_chan *c[3];
  fwd f[3];
} wgshape;

static void wg_done_task(void *arg) { tt_wg_done(arg); }
static void wg_wait_task(void *arg) { tt_wg_wait(arg); }

static void wg_owner(void *arg) {
  wgshape *s = arg;
  tt_wg *wg = keep_wg(tt_wg_make());
  tt_wg_add(wg, s->adds);
  for (int i = 0; i < s->workers; i++)
    tt_go(wg_done_task, wg);
  for (int i = 0; i < s->extra_waiters; i++)
    atomic_store(&s->ids[i], tt_go(wg_wait_task, wg));
  tt_wg_wait(wg);
}

static void wg_owner_leaked_worker(void *arg) {
  wgshape *s = arg;
  tt_wg *wg = keep_wg(tt_wg_make());
  atomic_store(&s->ids[0], tt_wg_go(wg, self_make_recv, NULL));
  tt_wg_wait(wg);
}

static void wg_owner_cycle(void *arg) {
  wgshape *s = arg;
  tt_wg *wg = keep_wg(tt_wg_make());
  for (int i = 0; i < 3; i++)
    s->c[i] = keep(tt_chan_make(ELEM, 0));
  for (int i = 0; i < 3; i++) {
    s->f[i] = (fwd){s->c[i], s->c[(i + 1) % 3]};
    atomic_store(&s->ids[i], tt_wg_go(wg, fwd_task, &s->f[i]));
  }
  tt_wg_wait(wg);
}

static void wg_owner_receiver(void *arg) {
  wgshape *s = arg;
  tt_wg *wg = keep_wg(tt_wg_make());
  tt_wg_add(wg, 1);
  tt_chan *c = keep(tt_chan_make(ELEM, 0));
  atomic_store(&s->ids[0], tt_go_opts(recv_on, c, &(tt_spawn_opts){.give_chans = {c}}));
  tt_wg_wait(wg); /* it would send on c after */
}

typedef struct stage {
  tt_chan *in, *out;
} stage;

static void gen_once(void *arg) {
  int64_t v = 41;
  tt_chan_send(arg, &v);
}

/* One item: receive it, drop the input (done with it), send it on. */
static void stage_once(void *arg) {
  stage *s = arg;
  int64_t v = 0;
  if (tt_chan_recv(s->in, &v) != 0)
    return;
  tt_chan_unref(s->in);
  v++;
  tt_chan_send(s->out, &v);
}

typedef struct groupshape {
  _Atomic int64_t task;
  tt_group *_Atomic group;
  int expect;
} groupshape;

static int group_self_wait(tt_context *ctx, void *arg) {
  (void)ctx; /* ignores its context */
  groupshape *s = arg;
  atomic_store(&s->task, tt_self());
  tt_chan *c = keep(tt_chan_make(ELEM, 0));
  tt_chan_recv(c, NULL);
  return 0;
}

static void group_owner(void *arg) {
  groupshape *s = arg;
  tt_group *g = keep(tt_group_make(NULL, 0));
  tt_group_go(g, group_self_wait, s);
  tt_group_wait(g);
}

typedef struct pool {
  int workers;
  _Atomic int64_t ids[4];
  tt_chan *jobs, *results;
} pool;

/* Hands out three jobs, then returns once every worker waits for more. */
static void feeder(void *arg) {
  pool *p = arg;
  for (int64_t i = 0; i < 3; i++)
    tt_chan_send(p->jobs, &i);
  for (int w = 0; w < p->workers; w++)
    await_parked(await_id(&p->ids[w]), "chan receive");
}

static void pool_worker(void *arg) {
  pool *p = arg;
  int64_t job;
  while (tt_chan_recv(p->jobs, &job) == 0) {
    /* the bug: the result is never sent */
  }
}

static void dispatcher(void *arg) {
  pool *p = arg;
  tt_chan *jobs = tt_chan_make(ELEM, 0);
  p->jobs = jobs;
  tt_go_opts(feeder, p, &(tt_spawn_opts){.give_chans = {jobs}});
  tt_chan *results = keep(tt_chan_make(ELEM, 0));
  p->results = results;
  for (int w = 0; w < p->workers; w++)
    atomic_store(&p->ids[w],
                 tt_go_opts(pool_worker, p, &(tt_spawn_opts){.give_chans = {jobs, results}}));
  tt_chan_unref(jobs);
  int64_t r;
  for (int i = 0; i < 3; i++)
    tt_chan_recv(results, &r);
}

typedef struct nested {
  tt_chan *a;
  _Atomic int64_t child;
} nested;

static void nested_parent(void *arg) {
  nested *n = arg;
  atomic_store(&n->child, tt_go(self_make_recv, NULL)); /* it inherits a */
  tt_chan_recv(n->a, NULL);
}

/* ---- leak shapes ------------------------------------------------------------ */

static void leak_self_given(void) {
  int64_t base = tt_num_tasks();
  tt_chan *c = tt_chan_make(ELEM, 0);
  want w[1] = {{tt_go_opts(recv_on, c, &(tt_spawn_opts){.give_chans = {c}}), SELF}};
  await_parked(w[0].id, "chan receive");
  quiet(); /* while this task holds c */
  tt_chan_unref(c);
  expect_leaks(base, w, 1);
}

static void leak_self_made_recv(void) {
  int64_t base = tt_num_tasks();
  want w[1] = {{tt_go(self_make_recv, NULL), SELF}};
  await_parked(w[0].id, "chan receive");
  expect_leaks(base, w, 1);
}

static void leak_self_made_send(void) {
  int64_t base = tt_num_tasks();
  want w[1] = {{tt_go(self_make_send, NULL), SELF}};
  await_parked(w[0].id, "chan send");
  expect_leaks(base, w, 1);
}

static void leak_self_full_buffer(void) {
  int64_t base = tt_num_tasks();
  want w[1] = {{tt_go(self_fill_buffer, NULL), SELF}};
  await_parked(w[0].id, "chan send");
  expect_leaks(base, w, 1);
}

static void leak_self_two(void) {
  int64_t base = tt_num_tasks();
  want w[2];
  for (int i = 0; i < 2; i++) {
    tt_chan *c = tt_chan_make(ELEM, i); /* unbuffered, then one slot */
    w[i] = (want){tt_go_opts(recv_on, c, &(tt_spawn_opts){.give_chans = {c}}), SELF};
    await_parked(w[i].id, "chan receive");
    tt_chan_unref(c); /* before the next spawn: it inherits nothing */
  }
  expect_leaks(base, w, 2);
}

static void leak_self_three_kinds(void) {
  int64_t base = tt_num_tasks();
  tt_chan *c = tt_chan_make(0, 0);
  want w[3] = {{tt_go_opts(recv_on, c, &(tt_spawn_opts){.give_chans = {c}}), SELF}};
  await_parked(w[0].id, "chan receive");
  tt_chan_unref(c);
  w[1] = (want){tt_go(self_make_send, NULL), SELF};
  w[2] = (want){tt_go(self_fill_buffer, NULL), SELF};
  await_parked(w[1].id, "chan send");
  await_parked(w[2].id, "chan send");
  expect_leaks(base, w, 3);
}

static void leak_error_path(int workers, int send_side) {
  int64_t base = tt_num_tasks();
  errpath *e = keep_alloc(sizeof *e);
  e->workers = workers;
  e->send_side = send_side;
  want w[1] = {{tt_go(err_handler, e), ERRP}};
  await_parked(w[0].id, send_side ? "chan send" : "chan receive");
  expect_leaks(base, w, 1); /* once the workers are gone */
}

static void leak_error_path1(void) { leak_error_path(1, 0); }
static void leak_error_path2(void) { leak_error_path(2, 0); }
static void leak_error_path3(void) { leak_error_path(3, 0); }
static void leak_error_path_send(void) { leak_error_path(1, 1); }

static void leak_error_path_top(void) {
  int64_t base = tt_num_tasks();
  tt_chan *r = tt_chan_make(ELEM, 0);
  errpath *e = keep_alloc(sizeof *e);
  e->victim = tt_go_opts(recv_on, r, &(tt_spawn_opts){.give_chans = {r}});
  want w[1] = {{e->victim, ERRP}};
  await_parked(w[0].id, "chan receive");
  tt_go_opts(err_worker, e, &(tt_spawn_opts){.give_chans = {r}});
  quiet(); /* while this task holds r */
  tt_chan_unref(r);
  expect_leaks(base, w, 1);
}

/* T1 waits on c1, which T2 would send on once it gets c2, ... T_k waits on
 * c_k, which only it holds (and, with err_tail, a worker that returns). */
static void leak_chain(int k, int err_tail) {
  int64_t base = tt_num_tasks();
  fwd *f = keep_alloc((size_t)k * sizeof *f);
  want w[8];
  tt_chan *prev = NULL;
  for (int i = 0; i < k; i++) {
    tt_chan *c = tt_chan_make(ELEM, 0);
    f[i] = (fwd){c, prev};
    w[i] = (want){tt_go_opts(fwd_task, &f[i], &(tt_spawn_opts){.give_chans = {c, prev}}), CHAIN};
    await_parked(w[i].id, "chan receive");
    if (prev)
      tt_chan_unref(prev);
    prev = c;
  }
  w[k - 1].cls = SELF;
  if (err_tail) {
    errpath *e = keep_alloc(sizeof *e);
    e->victim = w[k - 1].id;
    tt_go_opts(err_worker, e, &(tt_spawn_opts){.give_chans = {prev}});
    w[k - 1].cls = ERRP;
  }
  quiet(); /* while this task holds the tail's channel */
  tt_chan_unref(prev);
  expect_leaks(base, w, k);
}

static void leak_chain2(void) { leak_chain(2, 0); }
static void leak_chain3(void) { leak_chain(3, 1); }
static void leak_chain5(void) { leak_chain(5, 0); }

/* T_i waits on c_i and would send on c_(i+1). */
static void leak_cycle(int k) {
  int64_t base = tt_num_tasks();
  tt_chan *c[4];
  fwd *f = keep_alloc((size_t)k * sizeof *f);
  want w[4];
  for (int i = 0; i < k; i++)
    c[i] = tt_chan_make(ELEM, i % 2); /* unbuffered and one-slot, alternating */
  for (int i = 0; i < k; i++) {
    f[i] = (fwd){c[i], c[(i + 1) % k]};
    w[i] = (want){tt_go_opts(fwd_task, &f[i], &(tt_spawn_opts){.give_chans = {f[i].in, f[i].out}}),
                  CHAIN};
    await_parked(w[i].id, "chan receive");
  }
  quiet();
  for (int i = 0; i < k; i++)
    tt_chan_unref(c[i]);
  expect_leaks(base, w, k);
}

static void leak_cycle2(void) { leak_cycle(2); }
static void leak_cycle3(void) { leak_cycle(3); }
static void leak_cycle4(void) { leak_cycle(4); }

static void leak_cycle_with_select(void) {
  int64_t base = tt_num_tasks();
  tt_chan *a = tt_chan_make(ELEM, 0), *b = tt_chan_make(ELEM, 0);
  selargs *s = keep_alloc(sizeof *s);
  *s = (selargs){2, {a, b}, 0};
  fwd *f = keep_alloc(sizeof *f);
  *f = (fwd){a, b};
  want w[2] = {{tt_go_opts(select_recv, s, &(tt_spawn_opts){.give_chans = {a, b}}), SEL},
               {tt_go_opts(fwd_task, f, &(tt_spawn_opts){.give_chans = {a, b}}), CHAIN}};
  await_parked(w[0].id, "select");
  await_parked(w[1].id, "chan receive");
  quiet();
  tt_chan_unref(a);
  tt_chan_unref(b);
  expect_leaks(base, w, 2);
}

static void leak_select_alone(int n) {
  int64_t base = tt_num_tasks();
  selargs *s = keep_alloc(sizeof *s);
  s->n = n;
  for (int i = 0; i < n; i++)
    s->c[i] = i % 2 ? tt_chan_make(0, (size_t)i) : tt_chan_make(ELEM, 0);
  want w[1] = {{tt_go_opts(select_recv, s,
                           &(tt_spawn_opts){.give_chans = {s->c[0], s->c[1], n > 2 ? s->c[2] : NULL,
                                                           n > 3 ? s->c[3] : NULL}}),
                SEL}};
  await_parked(w[0].id, "select");
  quiet();
  for (int i = 0; i < n; i++)
    tt_chan_unref(s->c[i]);
  expect_leaks(base, w, 1);
}

static void leak_select2(void) { leak_select_alone(2); }
static void leak_select4(void) { leak_select_alone(4); }

/* A select over a, b, c; one task holds a and waits on it, another holds b
 * and c and waits on b. */
static void leak_select3_holders(void) {
  int64_t base = tt_num_tasks();
  tt_chan *a = tt_chan_make(ELEM, 0), *b = tt_chan_make(ELEM, 1), *c = tt_chan_make(ELEM, 0);
  selargs *s = keep_alloc(sizeof *s);
  *s = (selargs){3, {a, b, c}, 0};
  fwd *f = keep_alloc(sizeof *f);
  *f = (fwd){b, c};
  want w[3] = {{tt_go_opts(select_recv, s, &(tt_spawn_opts){.give_chans = {a, b, c}}), SEL},
               {tt_go_opts(recv_on, a, &(tt_spawn_opts){.give_chans = {a}}), CHAIN},
               {tt_go_opts(fwd_task, f, &(tt_spawn_opts){.give_chans = {b, c}}), CHAIN}};
  await_parked(w[0].id, "select");
  await_parked(w[1].id, "chan receive");
  await_parked(w[2].id, "chan receive");
  quiet();
  tt_chan_unref(a);
  tt_chan_unref(b);
  tt_chan_unref(c);
  expect_leaks(base, w, 3);
}

/* T1 waits on x; T2 selects over a and b and would send on x; T3 waits on
 * c (which T2 holds) and would send on a. */
static void leak_select_in_chain(void) {
  int64_t base = tt_num_tasks();
  tt_chan *x = tt_chan_make(ELEM, 0), *a = tt_chan_make(ELEM, 0), *b = tt_chan_make(ELEM, 0),
          *c = tt_chan_make(ELEM, 0);
  selargs *s = keep_alloc(sizeof *s);
  *s = (selargs){2, {a, b}, 0};
  fwd *f = keep_alloc(2 * sizeof *f);
  f[0] = (fwd){x, NULL};
  f[1] = (fwd){c, a};
  want w[3] = {{tt_go_opts(fwd_task, &f[0], &(tt_spawn_opts){.give_chans = {x}}), CHAIN},
               {tt_go_opts(select_recv, s, &(tt_spawn_opts){.give_chans = {a, b, x, c}}), SEL},
               {tt_go_opts(fwd_task, &f[1], &(tt_spawn_opts){.give_chans = {a, c}}), CHAIN}};
  await_parked(w[0].id, "chan receive");
  await_parked(w[1].id, "select");
  await_parked(w[2].id, "chan receive");
  quiet();
  tt_chan_unref(x);
  tt_chan_unref(a);
  tt_chan_unref(b);
  tt_chan_unref(c);
  expect_leaks(base, w, 3);
}

static void leak_two_selects(void) {
  int64_t base = tt_num_tasks();
  tt_chan *a = tt_chan_make(ELEM, 0), *b = tt_chan_make(ELEM, 0), *c = tt_chan_make(ELEM, 0);
  selargs *s = keep_alloc(2 * sizeof *s);
  s[0] = (selargs){2, {a, b}, 0};
  s[1] = (selargs){2, {b, c}, 0};
  want w[2] = {{tt_go_opts(select_recv, &s[0], &(tt_spawn_opts){.give_chans = {a, b}}), SEL},
               {tt_go_opts(select_recv, &s[1], &(tt_spawn_opts){.give_chans = {b, c}}), SEL}};
  await_parked(w[0].id, "select");
  await_parked(w[1].id, "select");
  tt_chan_unref(a);
  tt_chan_unref(b);
  tt_chan_unref(c);
  expect_leaks(base, w, 2);
}

static void leak_wg(int adds, int workers, int extra_waiters) {
  int64_t base = tt_num_tasks();
  wgshape *s = keep_alloc(sizeof *s);
  s->adds = adds;
  s->workers = workers;
  s->extra_waiters = extra_waiters;
  want w[4] = {{tt_go(wg_owner, s), WGND}};
  for (int i = 0; i < extra_waiters; i++)
    w[1 + i] = (want){await_id(&s->ids[i]), WGND};
  for (int i = 0; i <= extra_waiters; i++)
    await_parked(w[i].id, "sync.WaitGroup.Wait");
  expect_leaks(base, w, 1 + extra_waiters);
}

static void leak_wg1(void) { leak_wg(2, 1, 0); }
static void leak_wg2(void) { leak_wg(3, 2, 0); }
static void leak_wg5(void) { leak_wg(6, 5, 0); }
static void leak_wg_two_waiters(void) { leak_wg(2, 1, 1); }

static void leak_wg_leaked_worker(void) {
  int64_t base = tt_num_tasks();
  wgshape *s = keep_alloc(sizeof *s);
  want w[2] = {{tt_go(wg_owner_leaked_worker, s), WGND}};
  w[1] = (want){await_id(&s->ids[0]), SELF};
  await_parked(w[0].id, "sync.WaitGroup.Wait");
  await_parked(w[1].id, "chan receive");
  expect_leaks(base, w, 2);
}

static void leak_wg_cycle_workers(void) {
  int64_t base = tt_num_tasks();
  wgshape *s = keep_alloc(sizeof *s);
  want w[4] = {{tt_go(wg_owner_cycle, s), WGND}};
  for (int i = 0; i < 3; i++) {
    w[1 + i] = (want){await_id(&s->ids[i]), CHAIN};
    await_parked(w[1 + i].id, "chan receive");
  }
  await_parked(w[0].id, "sync.WaitGroup.Wait");
  expect_leaks(base, w, 4);
}

static void leak_wg_receiver(void) {
  int64_t base = tt_num_tasks();
  wgshape *s = keep_alloc(sizeof *s);
  want w[2] = {{tt_go(wg_owner_receiver, s), WGND}};
  w[1] = (want){await_id(&s->ids[0]), CHAIN};
  await_parked(w[0].id, "sync.WaitGroup.Wait");
  await_parked(w[1].id, "chan receive");
  expect_leaks(base, w, 2);
}

static void leak_mutex_orphaned(int waiters) {
  int64_t base = tt_num_tasks();
  tt_mutex *m = fresh_mutex();
  orphan(m);
  want w[3];
  for (int i = 0; i < waiters; i++) {
    w[i] = (want){tt_go(lock_unlock, m), ORPH};
    await_parked(w[i].id, "sync.Mutex.Lock");
  }
  expect_leaks(base, w, waiters);
}

static void leak_mutex_orphaned1(void) { leak_mutex_orphaned(1); }
static void leak_mutex_orphaned3(void) { leak_mutex_orphaned(3); }

/* T waits for an orphaned mutex, holding the channel R waits on. */
static void leak_mutex_orphaned_chain(void) {
  int64_t base = tt_num_tasks();
  tt_mutex *m = fresh_mutex();
  orphan(m);
  tt_chan *c = tt_chan_make(ELEM, 0);
  lockchan *l = keep_alloc(sizeof *l);
  *l = (lockchan){m, c};
  want w[2] = {{tt_go_opts(lock_then_send, l, &(tt_spawn_opts){.give_chans = {c}}), ORPH},
               {tt_go_opts(recv_on, c, &(tt_spawn_opts){.give_chans = {c}}), CHAIN}};
  await_parked(w[0].id, "sync.Mutex.Lock");
  await_parked(w[1].id, "chan receive");
  /* While this task holds c, R is live; T is not (its mutex is orphaned). */
  expect_leaks_among(base, 2, &w[0], 1);
  tt_chan_unref(c);
  expect_leaks_among(base, 2, &w[1], 1);
}

/* Each of k tasks locks its mutex, then waits for the next one's. A task
 * waiting on the first mutex of the ring, if any, joins them. */
static void leak_lock_cycle(int k, int extra) {
  int64_t base = tt_num_tasks();
  tt_mutex *m[3];
  for (int i = 0; i < k; i++)
    m[i] = fresh_mutex();
  tt_chan *ready = tt_chan_make(0, (size_t)k), *go = tt_chan_make(0, 0);
  lockstep *l = keep_alloc((size_t)k * sizeof *l);
  want w[4];
  for (int i = 0; i < k; i++) {
    l[i] = (lockstep){m[i], m[(i + 1) % k], ready, go};
    w[i] = (want){tt_go_opts(lock_step, &l[i], &(tt_spawn_opts){.give_chans = {ready, go}}), LCYC};
  }
  for (int i = 0; i < k; i++)
    tt_chan_recv(ready, NULL);
  tt_chan_close(go);
  for (int i = 0; i < k; i++)
    await_parked(w[i].id, "sync.Mutex.Lock");
  if (extra) {
    w[k] = (want){tt_go(lock_unlock, m[0]), HELD};
    await_parked(w[k].id, "sync.Mutex.Lock");
  }
  tt_chan_unref(ready);
  tt_chan_unref(go);
  expect_leaks(base, w, k + extra);
}

static void leak_lock_cycle2(void) { leak_lock_cycle(2, 0); }
static void leak_lock_cycle3(void) { leak_lock_cycle(3, 0); }
static void leak_mutex_held_by_cycle(void) { leak_lock_cycle(2, 1); }

static void leak_mutex_held_leaked(void) {
  int64_t base = tt_num_tasks();
  tt_mutex *m = fresh_mutex();
  want w[2] = {{tt_go(lock_then_self_wait, m), SELF}};
  await_parked(w[0].id, "chan receive"); /* holding m */
  w[1] = (want){tt_go(lock_unlock, m), HELD};
  await_parked(w[1].id, "sync.Mutex.Lock");
  expect_leaks(base, w, 2);
}

/* H holds m and waits on its own channel; T waits for m, holding the
 * channel R waits on. */
static void leak_mutex_chain(void) {
  int64_t base = tt_num_tasks();
  tt_mutex *m = fresh_mutex();
  want w[3] = {{tt_go(lock_then_self_wait, m), SELF}};
  await_parked(w[0].id, "chan receive");
  tt_chan *c = tt_chan_make(ELEM, 0);
  lockchan *l = keep_alloc(sizeof *l);
  *l = (lockchan){m, c};
  w[1] = (want){tt_go_opts(lock_then_send, l, &(tt_spawn_opts){.give_chans = {c}}), HELD};
  w[2] = (want){tt_go_opts(recv_on, c, &(tt_spawn_opts){.give_chans = {c}}), CHAIN};
  await_parked(w[1].id, "sync.Mutex.Lock");
  await_parked(w[2].id, "chan receive");
  tt_chan_unref(c);
  expect_leaks(base, w, 3);
}

/* gen -> s1 -> s2 -> sink, one item; the sink returns without receiving. */
static void leak_pipeline_sink_gone(void) {
  int64_t base = tt_num_tasks();
  stage *st = keep_alloc(2 * sizeof *st);
  tt_chan *c0 = tt_chan_make(ELEM, 0);
  tt_go_opts(gen_once, c0, &(tt_spawn_opts){.give_chans = {c0}});
  tt_chan *c1 = tt_chan_make(ELEM, 0);
  st[0] = (stage){c0, c1};
  tt_go_opts(stage_once, &st[0], &(tt_spawn_opts){.give_chans = {c0, c1}});
  tt_chan_unref(c0);
  tt_chan *c2 = tt_chan_make(ELEM, 0);
  st[1] = (stage){c1, c2};
  errpath *e = keep_alloc(sizeof *e);
  e->send_side = 1;
  e->victim = tt_go_opts(stage_once, &st[1], &(tt_spawn_opts){.give_chans = {c1, c2}});
  tt_chan_unref(c1);
  want w[1] = {{e->victim, ERRP}};
  tt_go_opts(err_worker, e, &(tt_spawn_opts){.give_chans = {c2}}); /* the sink */
  await_parked(w[0].id, "chan send");
  tt_chan_unref(c2);
  expect_leaks(base, w, 1);
}

/* Three producers send on out; the consumer holds out but waits for good
 * on a channel of its own. */
static void leak_fan_in_consumer_stuck(void) {
  int64_t base = tt_num_tasks();
  tt_chan *out = tt_chan_make(ELEM, 0);
  want w[4];
  for (int i = 0; i < 3; i++) {
    w[i] = (want){tt_go_opts(send_on, out, &(tt_spawn_opts){.give_chans = {out}}), CHAIN};
    await_parked(w[i].id, "chan send");
  }
  w[3] = (want){tt_go_opts(self_wait_holding, out, &(tt_spawn_opts){.give_chans = {out}}), SELF};
  await_parked(w[3].id, "chan receive");
  /* While this task holds out, the producers are live; the consumer is not. */
  expect_leaks_among(base, 4, &w[3], 1);
  tt_chan_unref(out);
  expect_leaks_among(base, 4, w, 3);
}

static void leak_fan_in_consumer_gone(void) {
  int64_t base = tt_num_tasks();
  tt_chan *out = tt_chan_make(ELEM, 0);
  want w[3];
  for (int i = 0; i < 3; i++) {
    w[i] = (want){tt_go_opts(send_on, out, &(tt_spawn_opts){.give_chans = {out}}), CHAIN};
    await_parked(w[i].id, "chan send");
  }
  errpath *e = keep_alloc(sizeof *e);
  e->victim = w[2].id;
  e->send_side = 1;
  tt_go_opts(err_worker, e, &(tt_spawn_opts){.give_chans = {out}}); /* the consumer */
  tt_chan_unref(out);
  expect_leaks(base, w, 3);
}

static void leak_group(void) {
  int64_t base = tt_num_tasks();
  groupshape *s = keep_alloc(sizeof *s);
  want w[2] = {{tt_go(group_owner, s), WGND}};
  w[1] = (want){await_id(&s->task), SELF};
  await_parked(w[0].id, "sync.WaitGroup.Wait");
  await_parked(w[1].id, "chan receive");
  expect_leaks(base, w, 2);
}

static void leak_pool(int workers) {
  int64_t base = tt_num_tasks();
  pool *p = keep_alloc(sizeof *p);
  p->workers = workers;
  want w[5] = {{tt_go(dispatcher, p), CHAIN}};
  for (int i = 0; i < workers; i++) {
    w[1 + i] = (want){await_id(&p->ids[i]), workers > 1 ? CHAIN : ERRP};
    await_parked(w[1 + i].id, "chan receive");
  }
  await_parked(w[0].id, "chan receive");
  expect_leaks(base, w, 1 + workers); /* once the feeder is gone */
}

static void leak_pool1(void) { leak_pool(1); }
static void leak_pool3(void) { leak_pool(3); }

static void leak_nested(void) {
  int64_t base = tt_num_tasks();
  nested *n = keep_alloc(sizeof *n);
  n->a = tt_chan_make(ELEM, 0);
  want w[2] = {{tt_go_opts(nested_parent, n, &(tt_spawn_opts){.give_chans = {n->a}}), CHAIN}};
  w[1] = (want){await_id(&n->child), SELF};
  await_parked(w[0].id, "chan receive");
  await_parked(w[1].id, "chan receive");
  tt_chan_unref(n->a);
  expect_leaks(base, w, 2);
}

/* Docs' server: workers hold an owner that adopted the stop channel; the
 * owner's last reference goes without anyone closing stop. */
typedef struct server {
  tt_owner *own;
  tt_chan *stop;
  atomic_int go;
} server;

static void server_worker(void *arg) {
  server *s = arg;
  tt_chan_recv(s->stop, NULL);
}

static void leak_owner_stop_never_closed(void) {
  int64_t base = tt_num_tasks();
  server *s = keep_alloc(sizeof *s);
  s->own = tt_owner_make();
  s->stop = tt_chan_make(0, 0);
  CHECK_EQ(tt_owner_adopt_chan(s->own, s->stop), 0);
  want w[3];
  for (int i = 0; i < 3; i++) {
    w[i] = (want){tt_go_opts(server_worker, s, &(tt_spawn_opts){.give_owner = s->own}), CHAIN};
    await_parked(w[i].id, "chan receive");
  }
  quiet(); /* while this task holds the owner */
  tt_owner_unref(s->own);
  expect_leaks(base, w, 3);
}

/* ---- tasks of the look-alikes ------------------------------------------------- */

typedef struct ctl {
  atomic_int go;    /* set once the checks are done: sleepers stop sleeping */
  atomic_int ready; /* a plain thread has done its part */
  atomic_int done;  /* ...and has finished */
  atomic_int cond_flag;
  tt_chan *c, *d, *e;
  tt_chan *wide[65];
  tt_mutex *m;
  tt_wg *_Atomic wg;
  tt_context *ctx;
  tt_timer *tm;
  tt_ticker *tk;
  tt_group *_Atomic group;
  tt_cond cond;
  tt_sem sem;
  tt_rwmutex rw;
  int fds[2];
  _Atomic int64_t id;
  int64_t deadline;
} ctl;

static void recv_expect_closed(void *arg) { CHECK_EQ(tt_chan_recv(arg, NULL), TT_ECLOSED); }

static void recv_expect_value(void *arg) {
  int64_t v = 0;
  CHECK_EQ(tt_chan_recv(arg, &v), 0);
}

static void recv_until_deadline(void *arg) {
  ctl *k = arg;
  CHECK_EQ(tt_chan_recv_until(k->c, NULL, k->deadline), TT_ETIMEDOUT);
}

/* Bounded waits, again and again, until told to stop. */
static void send_until_loop(void *arg) {
  ctl *k = arg;
  int64_t v = 1;
  CHECK_EQ(tt_chan_try_send(k->c, &v), 0); /* fills the one slot */
  while (!atomic_load(&k->go))
    CHECK_EQ(tt_chan_send_until(k->c, &v, tt_now() + TT_MS(10)), TT_ETIMEDOUT);
}

static void select_until_loop(void *arg) {
  ctl *k = arg;
  int64_t x, y;
  while (!atomic_load(&k->go)) {
    tt_case cs[2] = {tt_case_recv(k->c, &x), tt_case_recv(k->d, &y)};
    CHECK_EQ(tt_select(cs, 2, 0, tt_now() + TT_MS(10)), TT_ETIMEDOUT);
  }
}

static void recv_ctx_task(void *arg) {
  ctl *k = arg;
  CHECK_EQ(tt_chan_recv_ctx(k->c, NULL, k->ctx), TT_ECANCELED);
}

static void recv_done_task(void *arg) {
  ctl *k = arg;
  CHECK_EQ(tt_chan_recv(tt_context_done(k->ctx), NULL), TT_ECLOSED);
}

static void select_ctx_task(void *arg) {
  ctl *k = arg;
  int64_t x, y;
  tt_case cs[2] = {tt_case_recv(k->c, &x), tt_case_recv(k->d, &y)};
  CHECK_EQ(tt_select_ctx(cs, 2, 0, k->ctx), TT_ECANCELED);
}

static void lock_ctx_task(void *arg) {
  ctl *k = arg;
  CHECK_EQ(tt_mutex_lock_ctx(k->m, k->ctx), TT_ECANCELED);
}

static void wg_wait_ctx_owner(void *arg) {
  ctl *k = arg;
  tt_wg *wg = tt_wg_make();
  tt_wg_add(wg, 1); /* nobody will ever call Done */
  CHECK_EQ(tt_wg_wait_ctx(wg, k->ctx), TT_ECANCELED);
  CHECK_EQ(tt_wg_free(wg), 0);
}

static void recv_timer(void *arg) {
  ctl *k = arg;
  CHECK_EQ(tt_chan_recv(tt_timer_chan(k->tm), NULL), 0);
}

static void recv_ticks(void *arg) {
  ctl *k = arg;
  while (!atomic_load(&k->go))
    CHECK_EQ(tt_chan_recv(tt_ticker_chan(k->tk), NULL), 0);
}

static void select_with_timer(void *arg) {
  ctl *k = arg;
  int64_t x, when;
  tt_case cs[2] = {tt_case_recv(k->c, &x), tt_case_recv(tt_timer_chan(k->tm), &when)};
  CHECK_EQ(tt_select(cs, 2, 0, TT_NO_DEADLINE), 1);
}

static void *thread_holding_ref(void *arg) {
  ctl *k = arg;
  tt_chan_ref(k->c);
  atomic_store(&k->ready, 1);
  while (!atomic_load(&k->go))
    tt_test_sleep_ns(TT_MS(1));
  CHECK_EQ(tt_chan_close(k->c), 0);
  CHECK_EQ(tt_chan_unref(k->c), 0);
  atomic_store(&k->done, 1);
  return NULL;
}

static void *thread_spawning_receiver(void *arg) {
  ctl *k = arg;
  tt_chan *c = tt_chan_make(ELEM, 0);
  atomic_store(&k->id, tt_go_opts(recv_expect_closed, c, &(tt_spawn_opts){.give_chans = {c}}));
  while (!atomic_load(&k->go))
    tt_test_sleep_ns(TT_MS(1));
  CHECK_EQ(tt_chan_close(c), 0);
  CHECK_EQ(tt_chan_unref(c), 0);
  atomic_store(&k->done, 1);
  return NULL;
}

typedef struct request {
  tt_chan *reply;
  int64_t value;
} request;

static void busy_server(void *arg) {
  ctl *k = arg;
  request rq;
  CHECK_EQ(tt_chan_recv(k->c, &rq), 0);
  wait_flag(&k->go); /* busy meanwhile */
  int64_t answer = rq.value * 2;
  CHECK_EQ(tt_chan_send(rq.reply, &answer), 0);
}

static void late_server(void *arg) {
  ctl *k = arg;
  wait_flag(&k->go); /* not even started on the queue */
  request rq;
  CHECK_EQ(tt_chan_recv(k->c, &rq), 0);
  int64_t answer = rq.value * 2;
  CHECK_EQ(tt_chan_send(rq.reply, &answer), 0);
}

static void client(void *arg) {
  ctl *k = arg;
  tt_chan *reply = tt_chan_make(ELEM, 0);
  request rq = {reply, 21};
  atomic_store(&k->id, tt_self());
  CHECK_EQ(tt_chan_send(k->c, &rq), 0); /* the reply channel travels in the message */
  int64_t answer = 0;
  CHECK_EQ(tt_chan_recv(reply, &answer), 0);
  CHECK_EQ(answer, 42);
  tt_chan_unref(reply);
}

static void publisher(void *arg) {
  ctl *k = arg;
  tt_chan *c = tt_chan_make(ELEM, 0);
  tt_mutex_lock(k->m);
  k->c = c; /* handed over through state the mutex guards */
  tt_mutex_unlock(k->m);
  CHECK_EQ(tt_chan_recv(c, NULL), 0);
  tt_chan_unref(c);
}

static void picker(void *arg) {
  ctl *k = arg;
  wait_flag(&k->go);
  tt_chan *c = NULL;
  while (!c) {
    tt_mutex_lock(k->m);
    c = k->c;
    tt_mutex_unlock(k->m);
    if (!c)
      tt_sleep(TT_MS(1));
  }
  int64_t v = 1;
  CHECK_EQ(tt_chan_send(c, &v), 0);
}

static void lock_sleep_unlock(void *arg) {
  ctl *k = arg;
  tt_mutex_lock(k->m);
  wait_flag(&k->go);
  tt_mutex_unlock(k->m);
}

static void lock_recv_unlock(void *arg) {
  ctl *k = arg;
  tt_mutex_lock(k->m);
  CHECK_EQ(tt_chan_recv(k->c, NULL), 0);
  tt_mutex_unlock(k->m);
}

static void sleep_then_done(void *arg) {
  ctl *k = arg;
  wait_flag(&k->go);
  tt_wg_done(k->wg);
}

static void recv_then_done(void *arg) {
  ctl *k = arg;
  CHECK_EQ(tt_chan_recv(k->c, NULL), 0);
  tt_wg_done(k->wg);
}

static void wg_owner_of(void *arg, tt_fn worker) {
  ctl *k = arg;
  tt_wg *wg = tt_wg_make();
  tt_wg_add(wg, 1);
  k->wg = wg;
  tt_go(worker, k);
  CHECK_EQ(tt_wg_wait(wg), 0);
  CHECK_EQ(tt_wg_free(wg), 0);
}

static void wg_owner_sleeping_worker(void *arg) { wg_owner_of(arg, sleep_then_done); }
static void wg_owner_blocked_worker(void *arg) { wg_owner_of(arg, recv_then_done); }

static void late_sender(void *arg) {
  ctl *k = arg;
  wait_flag(&k->go);
  int64_t v = 1;
  CHECK_EQ(tt_chan_send(k->c, &v), 0);
}

static void cond_waiter(void *arg) {
  ctl *k = arg;
  tt_mutex_lock(k->m);
  while (!atomic_load(&k->cond_flag))
    tt_cond_wait(&k->cond, k->m);
  tt_mutex_unlock(k->m);
}

static void sem_waiter(void *arg) {
  ctl *k = arg;
  CHECK_EQ(tt_sem_acquire(&k->sem, 1), 0);
}

static void read_pipe(void *arg) {
  ctl *k = arg;
  char ch;
  ssize_t r;
  do
    r = read(k->fds[0], &ch, 1);
  while (r < 0 && errno == EINTR);
  CHECK_EQ(r, 1);
}

static void blocking_then_send(void *arg) {
  ctl *k = arg;
  CHECK_EQ(tt_blocking(read_pipe, k), 0);
  int64_t v = 1;
  CHECK_EQ(tt_chan_send(k->c, &v), 0);
}

static void *thread_write_pipe(void *arg) {
  ctl *k = arg;
  while (!atomic_load(&k->go))
    tt_test_sleep_ns(TT_MS(1));
  ssize_t w = write(k->fds[1], "x", 1);
  CHECK_EQ(w, 1);
  atomic_store(&k->done, 1);
  return NULL;
}

#define WIDE 65

/* Makes its channels itself: nobody else holds them (only k->wide, memory
 * no runtime call publishes, points to them). */
static void wide_select(void *arg) {
  ctl *k = arg;
  tt_case cs[WIDE];
  for (int i = 0; i < WIDE; i++) {
    k->wide[i] = tt_chan_make(0, 0);
    cs[i] = tt_case_recv(k->wide[i], NULL);
  }
  atomic_store(&k->ready, 1);
  CHECK_EQ(tt_select(cs, WIDE, 0, TT_NO_DEADLINE), 0);
  for (int i = 0; i < WIDE; i++)
    tt_chan_unref(k->wide[i]);
}

static void yield_then_send(void *arg) {
  ctl *k = arg;
  while (!atomic_load(&k->go))
    tt_yield();
  int64_t v = 1;
  CHECK_EQ(tt_chan_send(k->c, &v), 0);
}

static void unlock_it(void *arg) { CHECK_EQ(tt_mutex_unlock(arg), 0); }

static void rw_lock_and_exit(void *arg) { tt_rwmutex_lock(arg); }

static void rw_read(void *arg) {
  CHECK_EQ(tt_rwmutex_rlock(arg), 0);
  CHECK_EQ(tt_rwmutex_runlock(arg), 0);
}

static void *thread_wg(void *arg) {
  ctl *k = arg;
  tt_wg *wg;
  while (!(wg = atomic_load(&k->wg)))
    tt_test_sleep_ns(TT_MS(1));
  tt_wg_add(wg, 1); /* a plain thread uses it: anyone may */
  atomic_store(&k->ready, 1);
  while (!atomic_load(&k->go))
    tt_test_sleep_ns(TT_MS(1));
  tt_wg_done(wg);
  atomic_store(&k->done, 1);
  return NULL;
}

static void wg_owner_thread_done(void *arg) {
  ctl *k = arg;
  tt_wg *wg = tt_wg_make();
  atomic_store(&k->wg, wg);
  wait_flag(&k->ready);
  CHECK_EQ(tt_wg_wait(wg), 0);
  CHECK_EQ(tt_wg_free(wg), 0);
}

static int group_honours_ctx(tt_context *ctx, void *arg) {
  ctl *k = arg;
  atomic_store(&k->id, tt_self());
  tt_chan *c = tt_chan_make(ELEM, 0);
  int rc = tt_chan_recv_ctx(c, NULL, ctx);
  tt_chan_unref(c);
  return rc;
}

static void group_owner_ctx(void *arg) {
  ctl *k = arg;
  tt_group *g = tt_group_make(NULL, 0);
  atomic_store(&k->group, g);
  tt_group_go(g, group_honours_ctx, k);
  CHECK_EQ(tt_group_wait(g), TT_ECANCELED);
  CHECK_EQ(tt_group_destroy(g, 0), 0);
}

/* Makes c, spawns its receiver, and exits still counting c: a reference
 * C code may have given away without saying so (k->c here). */
static void maker_exits(void *arg) {
  ctl *k = arg;
  tt_chan *c = tt_chan_make(ELEM, 0);
  k->c = c;
  atomic_store(&k->id, tt_go(recv_expect_closed, c));
}

static void sem_then_send(void *arg) {
  ctl *k = arg;
  CHECK_EQ(tt_sem_acquire(&k->sem, 1), 0);
  int64_t v = 1;
  CHECK_EQ(tt_chan_send(k->c, &v), 0);
}

static void cond_then_send(void *arg) {
  ctl *k = arg;
  cond_waiter(k);
  int64_t v = 1;
  CHECK_EQ(tt_chan_send(k->c, &v), 0);
}

static void deadlines_then_send(void *arg) {
  ctl *k = arg;
  while (!atomic_load(&k->go))
    CHECK_EQ(tt_chan_recv_until(k->d, NULL, tt_now() + TT_MS(10)), TT_ETIMEDOUT);
  int64_t v = 1;
  CHECK_EQ(tt_chan_send(k->c, &v), 0);
}

static void lock_until_loop(void *arg) {
  ctl *k = arg;
  while (!atomic_load(&k->go))
    CHECK_EQ(tt_mutex_lock_until(k->m, tt_now() + TT_MS(10)), TT_ETIMEDOUT);
}

typedef struct handles {
  tt_chan *c, *e;
} handles;

/* Sends c and e in a message on d (a completed send), then waits on e. */
static void pass_on_then_wait(void *arg) {
  ctl *k = arg;
  handles h = {k->c, k->e};
  CHECK_EQ(tt_chan_send(k->d, &h), 0);
  CHECK_EQ(tt_chan_recv(k->e, NULL), 0);
}

/* Gets c and e in the message, sleeps, then uses them. */
static void receive_handles(void *arg) {
  ctl *k = arg;
  handles h;
  CHECK_EQ(tt_chan_recv(k->d, &h), 0);
  wait_flag(&k->go);
  int64_t v = 1;
  CHECK_EQ(tt_chan_send(h.c, &v), 0);
  CHECK_EQ(tt_chan_send(h.e, &v), 0);
}

/* ---- look-alikes ------------------------------------------------------------------ */

static void ok_self_wait_held(void) {
  int64_t base = tt_num_tasks();
  tt_chan *c = tt_chan_make(ELEM, 0);
  int64_t r = tt_go_opts(recv_expect_value, c, &(tt_spawn_opts){.give_chans = {c}});
  await_parked(r, "chan receive");
  quiet();
  int64_t v = 1;
  CHECK_EQ(tt_chan_send(c, &v), 0);
  tt_chan_unref(c);
  finish(base);
}

static void ok_chain_held_tail(void) {
  int64_t base = tt_num_tasks();
  fwd f[3];
  int64_t id[3];
  tt_chan *prev = NULL;
  for (int i = 0; i < 3; i++) {
    tt_chan *c = tt_chan_make(ELEM, 0);
    f[i] = (fwd){c, prev};
    id[i] = tt_go_opts(fwd_task, &f[i], &(tt_spawn_opts){.give_chans = {c, prev}});
    await_parked(id[i], "chan receive");
    if (prev)
      tt_chan_unref(prev);
    prev = c;
  }
  quiet(); /* this task still holds the tail's channel */
  int64_t v = 1;
  CHECK_EQ(tt_chan_send(prev, &v), 0);
  tt_chan_unref(prev);
  finish(base);
}

static void ok_cycle_held_one(void) {
  int64_t base = tt_num_tasks();
  tt_chan *c[3];
  fwd f[3];
  for (int i = 0; i < 3; i++)
    c[i] = tt_chan_make(ELEM, 0);
  for (int i = 0; i < 3; i++) {
    f[i] = (fwd){c[i], c[(i + 1) % 3]};
    await_parked(tt_go_opts(fwd_task, &f[i], &(tt_spawn_opts){.give_chans = {f[i].in, f[i].out}}),
                 "chan receive");
  }
  tt_chan_unref(c[1]);
  tt_chan_unref(c[2]);
  quiet(); /* this task still holds c[0] */
  int64_t v = 1;
  CHECK_EQ(tt_chan_send(c[0], &v), 0); /* once round the ring, and back */
  CHECK_EQ(tt_chan_recv(c[0], &v), 0);
  tt_chan_unref(c[0]);
  finish(base);
}

static void ok_recv_deadline(void) {
  int64_t base = tt_num_tasks();
  /* Long enough for the checks even under a sanitizer. */
  int64_t wait = TT_TEST_SANITIZED ? TT_MS(1000) : TT_MS(200);
  ctl k = {.c = tt_chan_make(ELEM, 0), .deadline = tt_now() + wait};
  int64_t r = tt_go_opts(recv_until_deadline, &k, &(tt_spawn_opts){.give_chans = {k.c}});
  tt_chan_unref(k.c);
  await_parked(r, "chan receive");
  quiet();
  finish(base); /* the deadline passes */
}

static void ok_send_deadline_loop(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.c = tt_chan_make(ELEM, 1)};
  int64_t s = tt_go_opts(send_until_loop, &k, &(tt_spawn_opts){.give_chans = {k.c}});
  tt_chan_unref(k.c);
  await_parked(s, "chan send");
  quiet();
  atomic_store(&k.go, 1);
  finish(base);
}

static void ok_select_deadline_loop(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.c = tt_chan_make(ELEM, 0), .d = tt_chan_make(0, 0)};
  int64_t s = tt_go_opts(select_until_loop, &k, &(tt_spawn_opts){.give_chans = {k.c, k.d}});
  tt_chan_unref(k.c);
  tt_chan_unref(k.d);
  await_parked(s, "select");
  quiet();
  atomic_store(&k.go, 1);
  finish(base);
}

static void ok_recv_ctx(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.c = tt_chan_make(ELEM, 0), .ctx = tt_with_cancel(NULL)};
  int64_t r =
      tt_go_opts(recv_ctx_task, &k, &(tt_spawn_opts){.give_chans = {k.c}, .give_ctx = k.ctx});
  tt_chan_unref(k.c);
  await_parked(r, "chan receive");
  quiet();
  tt_cancel(k.ctx);
  finish(base);
  tt_context_unref(k.ctx);
}

static void ok_recv_done_chan(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.ctx = tt_with_cancel(NULL)};
  int64_t r = tt_go_opts(recv_done_task, &k, &(tt_spawn_opts){.give_ctx = k.ctx});
  await_parked(r, "chan receive");
  quiet();
  tt_cancel(k.ctx);
  finish(base);
  tt_context_unref(k.ctx);
}

static void ok_select_ctx(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.c = tt_chan_make(ELEM, 0), .d = tt_chan_make(ELEM, 2), .ctx = tt_with_cancel(NULL)};
  int64_t s = tt_go_opts(select_ctx_task, &k,
                         &(tt_spawn_opts){.give_chans = {k.c, k.d}, .give_ctx = k.ctx});
  tt_chan_unref(k.c);
  tt_chan_unref(k.d);
  await_parked(s, "select");
  quiet();
  tt_cancel(k.ctx);
  finish(base);
  tt_context_unref(k.ctx);
}

static void ok_lock_ctx_orphaned(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.m = fresh_mutex(), .ctx = tt_with_cancel(NULL)};
  orphan(k.m);
  int64_t w = tt_go_opts(lock_ctx_task, &k, &(tt_spawn_opts){.give_ctx = k.ctx});
  await_parked(w, "sync.Mutex.Lock");
  quiet();
  tt_cancel(k.ctx);
  finish(base);
  tt_context_unref(k.ctx);
}

static void ok_wg_wait_ctx(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.ctx = tt_with_cancel(NULL)};
  int64_t w = tt_go_opts(wg_wait_ctx_owner, &k, &(tt_spawn_opts){.give_ctx = k.ctx});
  await_parked(w, "sync.WaitGroup.Wait");
  quiet();
  tt_cancel(k.ctx);
  finish(base);
  tt_context_unref(k.ctx);
}

static void ok_timer(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.tm = tt_timer_make(TT_MS(60000))};
  await_parked(tt_go(recv_timer, &k), "chan receive");
  quiet();
  tt_timer_reset(k.tm, TT_MS(1));
  finish(base);
  tt_timer_free(k.tm);
}

static void ok_ticker(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.tk = tt_ticker_make(TT_MS(3))};
  await_parked(tt_go(recv_ticks, &k), "chan receive");
  quiet();
  atomic_store(&k.go, 1);
  finish(base);
  tt_ticker_free(k.tk);
}

static void ok_select_with_timer(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.c = tt_chan_make(ELEM, 0), .tm = tt_timer_make(TT_MS(60000))};
  int64_t s = tt_go_opts(select_with_timer, &k, &(tt_spawn_opts){.give_chans = {k.c}});
  tt_chan_unref(k.c);
  await_parked(s, "select");
  quiet();
  tt_timer_reset(k.tm, TT_MS(1));
  finish(base);
  tt_timer_free(k.tm);
}

static void wait_thread(ctl *k, pthread_t th) {
  wait_flag(&k->done);
  pthread_join(th, NULL);
}

static void ok_thread_holds_ref(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.c = tt_chan_make(ELEM, 0)};
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, thread_holding_ref, &k), 0);
  wait_flag(&k.ready);
  int64_t r = tt_go_opts(recv_expect_closed, k.c, &(tt_spawn_opts){.give_chans = {k.c}});
  tt_chan_unref(k.c);
  await_parked(r, "chan receive");
  quiet();
  atomic_store(&k.go, 1);
  wait_thread(&k, th);
  finish(base);
}

static void ok_thread_spawned_receiver(void) {
  int64_t base = tt_num_tasks();
  ctl k = {0};
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, thread_spawning_receiver, &k), 0);
  await_parked(await_id(&k.id), "chan receive");
  quiet();
  atomic_store(&k.go, 1);
  wait_thread(&k, th);
  finish(base);
}

static void ok_reply_in_request(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.c = tt_chan_make(sizeof(request), 0)};
  tt_go_opts(busy_server, &k, &(tt_spawn_opts){.give_chans = {k.c}});
  tt_go_opts(client, &k, &(tt_spawn_opts){.give_chans = {k.c}});
  tt_chan_unref(k.c);
  await_parked(await_id(&k.id), "chan receive");
  quiet();
  atomic_store(&k.go, 1);
  finish(base);
}

static void ok_request_queued(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.c = tt_chan_make(sizeof(request), 4)};
  tt_go_opts(late_server, &k, &(tt_spawn_opts){.give_chans = {k.c}});
  tt_go_opts(client, &k, &(tt_spawn_opts){.give_chans = {k.c}});
  tt_chan_unref(k.c);
  await_parked(await_id(&k.id), "chan receive");
  quiet();
  atomic_store(&k.go, 1);
  finish(base);
}

static void ok_handed_through_mutex(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.m = fresh_mutex()};
  int64_t pub = tt_go(publisher, &k);
  tt_go(picker, &k);
  await_parked(pub, "chan receive");
  quiet();
  atomic_store(&k.go, 1);
  finish(base);
}

static void ok_mutex_holder_sleeps(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.m = fresh_mutex()};
  await_parked(tt_go(lock_sleep_unlock, &k), "sleep"); /* holding m */
  int64_t w = tt_go(lock_unlock, k.m);
  await_parked(w, "sync.Mutex.Lock");
  quiet();
  atomic_store(&k.go, 1);
  finish(base);
}

static void ok_mutex_holder_waits_live(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.m = fresh_mutex(), .c = tt_chan_make(ELEM, 0)};
  int64_t h = tt_go_opts(lock_recv_unlock, &k, &(tt_spawn_opts){.give_chans = {k.c}});
  await_parked(h, "chan receive"); /* holding m */
  int64_t w = tt_go(lock_unlock, k.m);
  await_parked(w, "sync.Mutex.Lock");
  quiet(); /* this task holds c: the holder can be woken */
  int64_t v = 1;
  CHECK_EQ(tt_chan_send(k.c, &v), 0);
  tt_chan_unref(k.c);
  finish(base);
}

static void ok_wg_worker_sleeps(void) {
  int64_t base = tt_num_tasks();
  ctl k = {0};
  int64_t w = tt_go(wg_owner_sleeping_worker, &k);
  await_parked(w, "sync.WaitGroup.Wait");
  quiet();
  atomic_store(&k.go, 1);
  finish(base);
}

static void ok_wg_worker_waits_live(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.c = tt_chan_make(ELEM, 0)};
  int64_t w = tt_go(wg_owner_blocked_worker, &k);
  await_parked(w, "sync.WaitGroup.Wait");
  quiet(); /* this task holds c */
  int64_t v = 1;
  CHECK_EQ(tt_chan_send(k.c, &v), 0);
  tt_chan_unref(k.c);
  finish(base);
}

static void ok_late_sender(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.c = tt_chan_make(ELEM, 0)};
  int64_t r = tt_go(recv_expect_value, k.c); /* inherits c only */
  tt_go_opts(late_sender, &k, &(tt_spawn_opts){.give_chans = {k.c}});
  tt_chan_unref(k.c);
  await_parked(r, "chan receive");
  quiet();
  atomic_store(&k.go, 1);
  finish(base);
}

static void ok_cond_wait(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.m = fresh_mutex()};
  await_parked(tt_go(cond_waiter, &k), "sync.Cond.Wait");
  quiet();
  tt_mutex_lock(k.m);
  atomic_store(&k.cond_flag, 1);
  tt_cond_broadcast(&k.cond);
  tt_mutex_unlock(k.m);
  finish(base);
}

static void ok_sem_acquire(void) {
  int64_t base = tt_num_tasks();
  ctl k = {0};
  await_parked(tt_go(sem_waiter, &k), "semacquire");
  quiet();
  CHECK_EQ(tt_sem_release(&k.sem, 1), 0);
  finish(base);
}

static void ok_select_one_live_case(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.c = tt_chan_make(ELEM, 0), .d = tt_chan_make(ELEM, 0)};
  selargs s = {2, {k.c, k.d}, 1};
  int64_t sel = tt_go_opts(select_recv, &s, &(tt_spawn_opts){.give_chans = {k.c, k.d}});
  ctl late = {.c = k.d};
  tt_go_opts(late_sender, &late, &(tt_spawn_opts){.give_chans = {k.d}});
  tt_chan_unref(k.c);
  tt_chan_unref(k.d);
  await_parked(sel, "select");
  quiet();
  atomic_store(&late.go, 1);
  finish(base);
}

static void ok_peer_in_blocking_call(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.c = tt_chan_make(ELEM, 0)};
  CHECK_EQ(pipe(k.fds), 0);
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, thread_write_pipe, &k), 0);
  int64_t b = tt_go_opts(blocking_then_send, &k, &(tt_spawn_opts){.give_chans = {k.c}});
  int64_t r = tt_go_opts(recv_expect_value, k.c, &(tt_spawn_opts){.give_chans = {k.c}});
  tt_chan_unref(k.c);
  await_parked(b, "syscall");
  await_parked(r, "chan receive");
  quiet();
  atomic_store(&k.go, 1);
  wait_thread(&k, th);
  finish(base);
  close(k.fds[0]);
  close(k.fds[1]);
}

static void ok_wide_select(void) {
  int64_t base = tt_num_tasks();
  ctl *k = calloc(1, sizeof *k);
  int64_t s = tt_go(wide_select, k);
  wait_flag(&k->ready);
  await_parked(s, "select");
  quiet(); /* more channels than the detector analyses: treated as live */
  /* The pointer this task read from k is good while the select holds the
   * channel: a global, in effect. */
  CHECK_EQ(tt_chan_close(k->wide[0]), 0);
  finish(base);
  free(k);
}

static void ok_chain_tail_peer_sleeps(void) {
  int64_t base = tt_num_tasks();
  fwd f[3];
  int64_t id[3];
  tt_chan *prev = NULL;
  for (int i = 0; i < 3; i++) {
    tt_chan *c = tt_chan_make(ELEM, 0);
    f[i] = (fwd){c, prev};
    id[i] = tt_go_opts(fwd_task, &f[i], &(tt_spawn_opts){.give_chans = {c, prev}});
    await_parked(id[i], "chan receive");
    if (prev)
      tt_chan_unref(prev);
    prev = c;
  }
  ctl k = {.c = prev};
  tt_go_opts(late_sender, &k, &(tt_spawn_opts){.give_chans = {prev}});
  tt_chan_unref(prev);
  quiet();
  atomic_store(&k.go, 1);
  finish(base);
}

static void ok_peer_yields(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.c = tt_chan_make(ELEM, 0)};
  int64_t r = tt_go_opts(recv_expect_value, k.c, &(tt_spawn_opts){.give_chans = {k.c}});
  tt_go_opts(yield_then_send, &k, &(tt_spawn_opts){.give_chans = {k.c}});
  tt_chan_unref(k.c);
  await_parked(r, "chan receive");
  quiet();
  atomic_store(&k.go, 1);
  finish(base);
}

static void ok_mutex_unlocked_by_other(void) {
  int64_t base = tt_num_tasks();
  tt_mutex *m = fresh_mutex();
  orphan(m);
  tt_go(unlock_it, m); /* Go allows it: from now on anyone may unlock m */
  settle(base, 0);
  orphan(m);
  int64_t w = tt_go(lock_unlock, m);
  await_parked(w, "sync.Mutex.Lock");
  quiet();
  CHECK_EQ(tt_mutex_unlock(m), 0);
  finish(base);
}

static void ok_rwmutex_orphaned(void) {
  int64_t base = tt_num_tasks();
  ctl *k = calloc(1, sizeof *k);
  tt_go(rw_lock_and_exit, &k->rw);
  settle(base, 0); /* it has locked it and returned */
  int64_t r1 = tt_go(rw_read, &k->rw), r2 = tt_go(rw_read, &k->rw);
  await_parked(r1, "sync.RWMutex.RLock");
  await_parked(r2, "sync.RWMutex.RLock");
  quiet(); /* RWMutex waits are not analysed */
  CHECK_EQ(tt_rwmutex_unlock(&k->rw), 0);
  finish(base);
  free(k);
}

static void ok_select_thread_holds_one(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.c = tt_chan_make(ELEM, 0)};
  tt_chan *a = tt_chan_make(ELEM, 0);
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, thread_holding_ref, &k), 0);
  wait_flag(&k.ready);
  selargs s = {2, {a, k.c}, 1};
  int64_t sel = tt_go_opts(select_recv, &s, &(tt_spawn_opts){.give_chans = {a, k.c}});
  tt_chan_unref(a);
  tt_chan_unref(k.c);
  await_parked(sel, "select");
  quiet();
  atomic_store(&k.go, 1);
  wait_thread(&k, th);
  finish(base);
}

static void ok_wg_done_by_thread(void) {
  int64_t base = tt_num_tasks();
  ctl k = {0};
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, thread_wg, &k), 0);
  int64_t w = tt_go(wg_owner_thread_done, &k);
  await_parked(w, "sync.WaitGroup.Wait");
  quiet();
  atomic_store(&k.go, 1);
  wait_thread(&k, th);
  finish(base);
}

static void ok_group_honours_ctx(void) {
  int64_t base = tt_num_tasks();
  ctl k = {0};
  int64_t o = tt_go(group_owner_ctx, &k);
  await_parked(o, "sync.WaitGroup.Wait");
  await_parked(await_id(&k.id), "chan receive");
  quiet();
  tt_cancel(tt_group_context(atomic_load(&k.group)));
  finish(base);
}

static void ok_maker_exited_counting(void) {
  int64_t base = tt_num_tasks();
  ctl k = {0};
  tt_go(maker_exits, &k);
  await_parked(await_id(&k.id), "chan receive");
  settle(base, 1);
  quiet();
  CHECK_EQ(tt_chan_close(k.c), 0);
  settle(base, 0);
  CHECK_EQ(tt_chan_unref(k.c), 0); /* the maker's reference, given away */
  finish(base);
}

static void ok_chain_tail_sem(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.c = tt_chan_make(ELEM, 0)};
  int64_t r = tt_go_opts(recv_expect_value, k.c, &(tt_spawn_opts){.give_chans = {k.c}});
  int64_t t = tt_go_opts(sem_then_send, &k, &(tt_spawn_opts){.give_chans = {k.c}});
  tt_chan_unref(k.c);
  await_parked(r, "chan receive");
  await_parked(t, "semacquire");
  quiet();
  CHECK_EQ(tt_sem_release(&k.sem, 1), 0);
  finish(base);
}

static void ok_chain_tail_cond(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.c = tt_chan_make(ELEM, 0), .m = fresh_mutex()};
  int64_t r = tt_go_opts(recv_expect_value, k.c, &(tt_spawn_opts){.give_chans = {k.c}});
  int64_t t = tt_go_opts(cond_then_send, &k, &(tt_spawn_opts){.give_chans = {k.c}});
  tt_chan_unref(k.c);
  await_parked(r, "chan receive");
  await_parked(t, "sync.Cond.Wait");
  quiet();
  tt_mutex_lock(k.m);
  atomic_store(&k.cond_flag, 1);
  tt_cond_signal(&k.cond);
  tt_mutex_unlock(k.m);
  finish(base);
}

static void ok_peer_waits_deadlines(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.c = tt_chan_make(ELEM, 0), .d = tt_chan_make(ELEM, 0)};
  int64_t r = tt_go_opts(recv_expect_value, k.c, &(tt_spawn_opts){.give_chans = {k.c}});
  tt_go_opts(deadlines_then_send, &k, &(tt_spawn_opts){.give_chans = {k.c, k.d}});
  tt_chan_unref(k.c);
  tt_chan_unref(k.d);
  await_parked(r, "chan receive");
  quiet();
  atomic_store(&k.go, 1);
  finish(base);
}

static void ok_lock_until_orphaned(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.m = fresh_mutex()};
  orphan(k.m);
  await_parked(tt_go(lock_until_loop, &k), "sync.Mutex.Lock");
  quiet();
  atomic_store(&k.go, 1);
  finish(base);
}

static void ok_passed_on_in_message(void) {
  int64_t base = tt_num_tasks();
  ctl k = {.d = tt_chan_make(sizeof(handles), 0)};
  tt_go_opts(receive_handles, &k, &(tt_spawn_opts){.give_chans = {k.d}}); /* d only */
  k.c = tt_chan_make(ELEM, 0);
  k.e = tt_chan_make(ELEM, 0);
  int64_t r = tt_go_opts(recv_expect_value, k.c, &(tt_spawn_opts){.give_chans = {k.c}});
  int64_t t = tt_go_opts(pass_on_then_wait, &k, &(tt_spawn_opts){.give_chans = {k.c, k.d, k.e}});
  tt_chan_unref(k.c);
  tt_chan_unref(k.d);
  tt_chan_unref(k.e);
  await_parked(r, "chan receive");
  await_parked(t, "chan receive");
  quiet(); /* c and e went out in a message: the receiver may use them */
  atomic_store(&k.go, 1);
  finish(base);
}

/* The same server, its owner held by a task that sleeps, then closes stop. */
static void server_closer(void *arg) {
  server *s = arg;
  wait_flag(&s->go);
  CHECK_EQ(tt_chan_close(s->stop), 0);
}

static void server_worker_closed(void *arg) {
  server *s = arg;
  CHECK_EQ(tt_chan_recv(s->stop, NULL), TT_ECLOSED);
}

static void ok_owner_held_by_live_task(void) {
  int64_t base = tt_num_tasks();
  server s = {.own = tt_owner_make(), .stop = tt_chan_make(0, 0)};
  CHECK_EQ(tt_owner_adopt_chan(s.own, s.stop), 0);
  int64_t w[3];
  for (int i = 0; i < 3; i++)
    w[i] = tt_go_opts(server_worker_closed, &s, &(tt_spawn_opts){.give_owner = s.own});
  tt_go_opts(server_closer, &s, &(tt_spawn_opts){.give_owner = s.own});
  tt_owner_unref(s.own);
  for (int i = 0; i < 3; i++)
    await_parked(w[i], "chan receive");
  quiet();
  atomic_store(&s.go, 1);
  finish(base);
}

/* ---- driver --------------------------------------------------------------------- */

typedef struct shape {
  const char *name;
  void (*fn)(void);
} shape;

static const shape leaks[] = {
    {"self-wait on a given channel", leak_self_given},
    {"self-wait: receives on a channel it made", leak_self_made_recv},
    {"self-wait: sends on a channel it made", leak_self_made_send},
    {"self-wait: fills its own buffer", leak_self_full_buffer},
    {"two self-waits", leak_self_two},
    {"three self-waits of three kinds", leak_self_three_kinds},
    {"error path, one worker", leak_error_path1},
    {"error path, two workers", leak_error_path2},
    {"error path, three workers", leak_error_path3},
    {"error path on the send side", leak_error_path_send},
    {"error path, receiver and worker spawned side by side", leak_error_path_top},
    {"chain of two", leak_chain2},
    {"chain of three ending in an error path", leak_chain3},
    {"chain of five", leak_chain5},
    {"cycle through two channels", leak_cycle2},
    {"cycle through three channels", leak_cycle3},
    {"cycle through four channels", leak_cycle4},
    {"cycle through a select", leak_cycle_with_select},
    {"select over two channels only it holds", leak_select2},
    {"select over three channels held by blocked tasks", leak_select3_holders},
    {"select over four channels only it holds", leak_select4},
    {"select inside a chain", leak_select_in_chain},
    {"two selects sharing a channel", leak_two_selects},
    {"WaitGroup: two Adds, one worker", leak_wg1},
    {"WaitGroup: three Adds, two workers", leak_wg2},
    {"WaitGroup: six Adds, five workers", leak_wg5},
    {"WaitGroup never done, two waiters", leak_wg_two_waiters},
    {"WaitGroup whose worker is leaked", leak_wg_leaked_worker},
    {"WaitGroup whose workers form a cycle", leak_wg_cycle_workers},
    {"receiver whose peer waits on a WaitGroup never done", leak_wg_receiver},
    {"orphaned mutex, one waiter", leak_mutex_orphaned1},
    {"orphaned mutex, three waiters", leak_mutex_orphaned3},
    {"orphaned mutex whose waiter holds a receiver's channel", leak_mutex_orphaned_chain},
    {"lock cycle of two", leak_lock_cycle2},
    {"lock cycle of three", leak_lock_cycle3},
    {"mutex held by a leaked task", leak_mutex_held_leaked},
    {"mutex held by a lock cycle", leak_mutex_held_by_cycle},
    {"chain through a mutex", leak_mutex_chain},
    {"pipeline whose last stage is gone", leak_pipeline_sink_gone},
    {"fan-in, consumer blocked elsewhere", leak_fan_in_consumer_stuck},
    {"fan-in, consumer gone", leak_fan_in_consumer_gone},
    {"task group whose task ignores its context", leak_group},
    {"worker pool of one, results never sent", leak_pool1},
    {"worker pool of three, results never sent", leak_pool3},
    {"parent and the child that inherited its channel", leak_nested},
    {"owner released with its stop channel never closed", leak_owner_stop_never_closed},
};

static const shape look_alikes[] = {
    {"self-wait while the maker holds the channel", ok_self_wait_held},
    {"chain of three, the tail's channel held", ok_chain_held_tail},
    {"cycle of three, one channel held", ok_cycle_held_one},
    {"receive with a deadline", ok_recv_deadline},
    {"sends with deadlines on a full buffer", ok_send_deadline_loop},
    {"selects with deadlines", ok_select_deadline_loop},
    {"receive bounded by a context", ok_recv_ctx},
    {"receive on a context's done channel", ok_recv_done_chan},
    {"select bounded by a context", ok_select_ctx},
    {"orphaned mutex, lock bounded by a context", ok_lock_ctx_orphaned},
    {"WaitGroup never done, wait bounded by a context", ok_wg_wait_ctx},
    {"receive on a timer", ok_timer},
    {"receives on a ticker", ok_ticker},
    {"select over an unreachable channel and a timer", ok_select_with_timer},
    {"a plain thread holds a reference", ok_thread_holds_ref},
    {"receiver spawned by a plain thread", ok_thread_spawned_receiver},
    {"reply channel in a request to a busy server", ok_reply_in_request},
    {"request queued for a server not started yet", ok_request_queued},
    {"channel handed over through a mutex-guarded struct", ok_handed_through_mutex},
    {"mutex whose holder sleeps", ok_mutex_holder_sleeps},
    {"mutex whose holder waits on a held channel", ok_mutex_holder_waits_live},
    {"WaitGroup whose worker sleeps", ok_wg_worker_sleeps},
    {"WaitGroup whose worker waits on a held channel", ok_wg_worker_waits_live},
    {"late sender given the channel", ok_late_sender},
    {"cond wait", ok_cond_wait},
    {"semaphore acquire", ok_sem_acquire},
    {"select with one live case", ok_select_one_live_case},
    {"peer in a blocking call", ok_peer_in_blocking_call},
    {"select over 65 channels", ok_wide_select},
    {"chain of three whose tail's peer sleeps", ok_chain_tail_peer_sleeps},
    {"peer that keeps yielding", ok_peer_yields},
    {"orphaned mutex once unlocked by another task", ok_mutex_unlocked_by_other},
    {"RWMutex writer exited holding it", ok_rwmutex_orphaned},
    {"select, one channel held by a plain thread", ok_select_thread_holds_one},
    {"WaitGroup used by a plain thread", ok_wg_done_by_thread},
    {"task group whose task honours its context", ok_group_honours_ctx},
    {"maker exited still counting the channel", ok_maker_exited_counting},
    {"peer waiting on a semaphore", ok_chain_tail_sem},
    {"peer waiting on a cond", ok_chain_tail_cond},
    {"peer waiting with deadlines", ok_peer_waits_deadlines},
    {"orphaned mutex, locks with deadlines", ok_lock_until_orphaned},
    {"handles passed on in a message", ok_passed_on_in_message},
    {"owner held by a task that will close stop", ok_owner_held_by_live_task},
};

static void shape_task(void *arg) { ((const shape *)arg)->fn(); }

/* In a task of its own; the driver never touches a handle. */
static void run(const shape *s, const char *kind) {
  NOTE("%s: %s", kind, s->name);
  int64_t id = tt_go(shape_task, (void *)s);
  tt_test_task t;
  while (tt_test_find_task(id, &t))
    tt_sleep(TT_MS(1));
}

static int count_leaked_in_dump(void) {
  char *dump = tt_test_dump(TT_DUMP_GO_DEBUG2);
  int n = 0;
  for (const char *p = dump; (p = strstr(p, "(leaked)")) != NULL; p++)
    n++;
  free(dump);
  return n;
}

static void corpus_main(void *arg) {
  (void)arg;
  size_t nl = sizeof leaks / sizeof leaks[0], nn = sizeof look_alikes / sizeof look_alikes[0];
  NOTE("%zu leak shapes, %zu look-alikes", nl, nn);
  int64_t leaks0 = tt_leak_count();
  atomic_store(&g_expected, 0);
  /* Interleaved, so that look-alikes run beside earlier leaks. */
  for (size_t i = 0; i < nl || i < nn; i++) {
    if (i < nl)
      run(&leaks[i], "leak");
    if (i < nn)
      run(&look_alikes[i], "look-alike");
  }
  long want = atomic_load(&g_expected);
  CHECK_EQ(tt_leak_count() - leaks0, want);
  /* Only this task and the leaked ones are left, each marked. */
  CHECK_EQ(tt_num_tasks(), 1 + want);
  CHECK_EQ(count_leaked_in_dump(), want);
  CHECK_EQ(tt_leak_check(), 0);
}

int main(void) {
  tt_test_leaks_expected = 1; /* it leaks on purpose */
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(120);
  CHECK_EQ(tt_leak_check(), TT_ENOTINIT);
  for (int procs = 1; procs <= 2; procs++) {
    NOTE("procs %d", procs);
    g_run = procs - 1;
    atomic_store(&g_nmutex, 0);
    RUN_MAIN(procs, corpus_main, NULL);
    free_kept_wgs();
  }
  return TEST_REPORT();
}
