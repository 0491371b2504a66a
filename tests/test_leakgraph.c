/*
 * test_leakgraph: the wait-for-graph detector (tt_leak_check) and the
 * ownership rules it rests on. Each leak shape must be found with its
 * class and proof; each look-alike must not be, however long it waits:
 * a handle a live task holds, one passed on in a message or behind a
 * mutex, a timer, a context, a deadline, a mutex whose holder still runs.
 * Instant mode (TT_LEAKCHECK=report) must find a leak without being asked.
 */
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static void await_parked(int64_t id, const char *reason) {
  tt_test_task t;
  CHECK_MSG(tt_test_await_wait_reason(id, reason, TT_MS(10000), &t), "task %lld never waited in %s",
            (long long)id, reason);
}

/* tt_leak_check must find exactly `want` new leaks, and the report must
 * mention each string of `needles` (NULL-terminated). */
static void expect_check(int64_t want, const char *const *needles) {
  int64_t before = tt_leak_count();
  int64_t got = tt_leak_check();
  CHECK_EQ(got, want);
  CHECK_EQ(tt_leak_count() - before, want);
  char *rep = tt_test_leak_report();
  for (int i = 0; needles && needles[i]; i++)
    CHECK_MSG(strstr(rep, needles[i]) != NULL, "\"%s\" not in the report:\n%s", needles[i], rep);
  free(rep);
}

/* Is the task marked "(leaked)" in its debug=2 header line? */
static int task_leaked(int64_t id) {
  char *dump = tt_test_dump(TT_DUMP_GO_DEBUG2);
  char head[64];
  snprintf(head, sizeof head, "goroutine %lld [", (long long)id);
  char *at = strstr(dump, head);
  char *eol = at ? strchr(at, '\n') : NULL;
  if (eol)
    *eol = '\0';
  int leaked = at && strstr(at, "(leaked)") != NULL;
  free(dump);
  return leaked;
}

/* ---- Seed pattern 3: a task waiting on itself --------------------------------- */

static int g_self_recv_line;

static void echo_self(void *arg) {
  tt_chan *ch = arg;
  int v;
  g_self_recv_line = __LINE__ + 1;
  if (tt_chan_recv(ch, &v) == 0)
    tt_chan_send(ch, &v);
}

static void test_self_wait(void) {
  NOTE("pattern 3: waiting on itself");
  tt_chan *ch = tt_chan_make(sizeof(int), 0);
  int64_t id = tt_go_opts(echo_self, ch, &(tt_spawn_opts){.give_chans = {ch}});
  await_parked(id, "chan receive");
  /* While this task still holds ch, the echo task may yet be answered. */
  expect_check(0, NULL);
  tt_chan_unref(ch); /* ch's only holder is now the task waiting on it */
  char line[64];
  snprintf(line, sizeof line, "test_leakgraph.c:%d", g_self_recv_line);
  expect_check(1, (const char *const[]){"waiting on itself (seed pattern 3)", "echo_self", line,
                                        "no other task can reach it", NULL});
  CHECK(task_leaked(id));
  expect_check(0, NULL); /* found once */
}

/* ---- Seed pattern 6: the error path returns without sending -------------------- */

static void worker6(void *arg) {
  tt_chan *result = arg;
  tt_sleep(TT_MS(1));
  int fail = 1; /* the error path: return without sending */
  if (!fail) {
    long r = 7;
    tt_chan_send(result, &r);
  }
}

static atomic_long g_handler_done;

/* What the tasks leaked on purpose made for themselves: shutdown drops
 * those tasks, and with them the only references, so main frees these once
 * the runtime is down (LeakSanitizer would rightly see them lost). */
static void *g_left_chans[32], *g_left_wgs[8];
static atomic_int g_nleft_chans, g_nleft_wgs;
static void left_by_leaked(void **list, atomic_int *n, int max, void *obj) {
  int i = atomic_fetch_add(n, 1);
  if (i < max)
    list[i] = obj;
}
#define LEFT_CHAN(c) left_by_leaked(g_left_chans, &g_nleft_chans, 32, (c))
#define LEFT_WG(wg) left_by_leaked(g_left_wgs, &g_nleft_wgs, 8, (wg))

static void handler6(void *arg) {
  (void)arg;
  tt_chan *result = tt_chan_make(sizeof(long), 0);
  LEFT_CHAN(result);
  tt_go_opts(worker6, result, &(tt_spawn_opts){.give_chans = {result}});
  long r;
  tt_chan_recv(result, &r); /* blocks forever: the worker returned */
  atomic_fetch_add(&g_handler_done, 1);
}

static void test_error_path(void) {
  NOTE("pattern 6: error-path leak");
  int64_t base = tt_num_tasks();
  int64_t id = tt_go(handler6, NULL);
  await_parked(id, "chan receive");
  while (tt_num_tasks() > base + 1) /* the handler is left: the worker is gone */
    tt_sleep(TT_MS(1));
  expect_check(
      1, (const char *const[]){"error-path leak (seed pattern 6)", "handler6", "has exited", NULL});
  CHECK(task_leaked(id));
}

/* ---- Chains and cycles through channels ----------------------------------------- */

typedef struct pair {
  tt_chan *wait_on, *other;
} pair;

static void wait_recv(void *arg) {
  pair *p = arg;
  int v;
  tt_chan_recv(p->wait_on, &v);
  tt_chan_send(p->other, &v); /* never reached */
}

static void test_cycle(void) {
  NOTE("cycle through two channels");
  tt_chan *a = tt_chan_make(sizeof(int), 0), *b = tt_chan_make(sizeof(int), 0);
  pair pa = {a, b}, pb = {b, a};
  /* Each waits on one and would send on the other: each holds both. */
  int64_t t1 = tt_go_opts(wait_recv, &pa, &(tt_spawn_opts){.give_chans = {a, b}});
  int64_t t2 = tt_go_opts(wait_recv, &pb, &(tt_spawn_opts){.give_chans = {a, b}});
  await_parked(t1, "chan receive");
  await_parked(t2, "chan receive");
  expect_check(0, NULL);
  tt_chan_unref(a);
  tt_chan_unref(b);
  char who[64];
  snprintf(who, sizeof who, "task %lld [chan receive", (long long)t2);
  expect_check(2, (const char *const[]){"a wait-for chain or cycle",
                                        "only tasks that can never run again", who, NULL});
}

static void select_both(void *arg) {
  tt_chan **c = arg;
  int x, y;
  tt_case cs[2] = {tt_case_recv(c[0], &x), tt_case_recv(c[1], &y)};
  tt_select(cs, 2, 0, TT_NO_DEADLINE);
}

static void test_select_chain(void) {
  NOTE("select over channels only a blocked task holds");
  tt_chan *a = tt_chan_make(sizeof(int), 0), *b = tt_chan_make(sizeof(int), 0);
  pair holder_args = {a, b};
  /* The holder waits on a, and holds b; the selector waits on both. */
  int64_t holder = tt_go_opts(wait_recv, &holder_args, &(tt_spawn_opts){.give_chans = {a, b}});
  await_parked(holder, "chan receive");
  tt_chan *chans[2] = {a, b};
  int64_t sel = tt_go_opts(select_both, chans, &(tt_spawn_opts){.give_chans = {a, b}});
  await_parked(sel, "select");
  expect_check(0, NULL);
  tt_chan_unref(a);
  tt_chan_unref(b);
  expect_check(2, (const char *const[]){"select whose every channel is reachable only", NULL});
  CHECK(task_leaked(sel));
}

/* ---- WaitGroup and mutexes ------------------------------------------------------------ */

static void done_once(void *arg) { tt_wg_done(arg); }

static void wg_waiter(void *arg) {
  (void)arg;
  tt_wg *wg = tt_wg_make();
  LEFT_WG(wg);
  tt_wg_add(wg, 2); /* two obligations, one worker: Wait never returns */
  tt_go(done_once, wg);
  tt_wg_wait(wg);
}

static void test_wg_never_done(void) {
  NOTE("WaitGroup never done");
  int64_t base = tt_num_tasks();
  int64_t id = tt_go(wg_waiter, NULL);
  await_parked(id, "sync.WaitGroup.Wait");
  while (tt_num_tasks() > base + 1)
    tt_sleep(TT_MS(1));
  expect_check(1, (const char *const[]){"WaitGroup never done", "wg_waiter", NULL});
}

/* Zero values: unlocked. Each run of the tests gets its own, since a
 * leaked task keeps its mutex locked for good. */
static tt_mutex g_locks[2][3];
static int g_run;
#define g_orphan g_locks[g_run][0]
#define g_m1 g_locks[g_run][1]
#define g_m2 g_locks[g_run][2]

static void lock_and_exit(void *arg) { tt_mutex_lock(arg); /* returns holding it */ }

static void lock_one(void *arg) { tt_mutex_lock(arg); }

static void test_mutex_orphaned(void) {
  NOTE("mutex held by a task that exited");
  int64_t owner = tt_go(lock_and_exit, &g_orphan);
  int64_t waiter = tt_go(lock_one, &g_orphan);
  await_parked(waiter, "sync.Mutex.Lock");
  char why[96];
  snprintf(why, sizeof why, "locked by task %lld, which has exited", (long long)owner);
  expect_check(1, (const char *const[]){"mutex held by a task that exited", why, NULL});
}

typedef struct two_locks {
  tt_mutex *first, *second;
  tt_chan *ready, *go;
} two_locks;

static void lock_two(void *arg) {
  two_locks *l = arg;
  tt_mutex_lock(l->first);
  tt_chan_send(l->ready, NULL);
  tt_chan_recv(l->go, NULL); /* both hold their first mutex now */
  tt_mutex_lock(l->second);
}

static void test_lock_cycle(void) {
  NOTE("lock cycle");
  tt_chan *ready = tt_chan_make(0, 2), *go = tt_chan_make(0, 0);
  two_locks a = {&g_m1, &g_m2, ready, go}, b = {&g_m2, &g_m1, ready, go};
  int64_t ta = tt_go(lock_two, &a);
  int64_t tb = tt_go(lock_two, &b);
  tt_chan_recv(ready, NULL);
  tt_chan_recv(ready, NULL);
  tt_chan_close(go);
  await_parked(ta, "sync.Mutex.Lock");
  await_parked(tb, "sync.Mutex.Lock");
  expect_check(2, (const char *const[]){"lock cycle", "this task: a cycle", NULL});
  tt_chan_unref(ready);
  tt_chan_unref(go);
}

/* ---- Look-alikes: none of these may ever be reported --------------------------------- */

typedef struct request {
  tt_chan *reply;
  int value;
} request;

/* The look-alikes below act only once the test has looked at them (a
 * fixed delay would let them finish before a loaded machine gets there). */
static atomic_int g_release;
static void sleep_until_released(void) {
  while (!atomic_load(&g_release))
    tt_sleep(TT_MS(2));
}

static void slow_server(void *arg) {
  tt_chan *requests = arg;
  request req;
  while (tt_chan_recv(requests, &req) == 0) {
    sleep_until_released(); /* busy: the client waits meanwhile */
    int answer = req.value * 2;
    tt_chan_send(req.reply, &answer);
  }
}

static void client(void *arg) {
  tt_chan *requests = arg;
  tt_chan *reply = tt_chan_make(sizeof(int), 0);
  request req = {reply, 21};
  tt_chan_send(requests, &req); /* reply travels in the message */
  int answer = 0;
  tt_chan_recv(reply, &answer);
  CHECK_EQ(answer, 42);
  tt_chan_unref(reply);
}

typedef struct shared {
  tt_mutex mu;
  tt_chan *slot;
} shared;

static void publisher(void *arg) {
  shared *s = arg;
  tt_chan *c = tt_chan_make(sizeof(int), 0);
  tt_mutex_lock(&s->mu);
  s->slot = c; /* handed over through state a mutex guards */
  tt_mutex_unlock(&s->mu);
  int v;
  tt_chan_recv(c, &v);
  tt_chan_unref(c);
}

static void picker(void *arg) {
  shared *s = arg;
  sleep_until_released();
  tt_chan *c = NULL;
  while (!c) {
    tt_mutex_lock(&s->mu);
    c = s->slot;
    tt_mutex_unlock(&s->mu);
    if (!c)
      tt_sleep(TT_MS(1));
  }
  int v = 1;
  tt_chan_send(c, &v);
}

static void sleeper_holding_lock(void *arg) {
  tt_mutex_lock(arg);
  sleep_until_released();
  tt_mutex_unlock(arg);
}

static void lock_briefly(void *arg) {
  tt_mutex_lock(arg);
  tt_mutex_unlock(arg);
}

static void recv_until(void *arg) {
  int v;
  tt_chan_recv_until(arg, &v, tt_now() + TT_MS(60000)); /* the test sends when done */
}

static void wait_ctx_done(void *arg) { tt_chan_recv(tt_context_done(arg), NULL); }

static void late_sender(void *arg) {
  sleep_until_released();
  int v = 1;
  tt_chan_send(arg, &v);
}

static void recv_once(void *arg) {
  int v;
  tt_chan_recv(arg, &v);
}

static void test_look_alikes(void) {
  NOTE("look-alikes: never reported");
  int64_t leaks0 = tt_leak_count(), base = tt_num_tasks();
  atomic_store(&g_release, 0);
  /* A reply channel in a request message, the server busy. */
  tt_chan *requests = tt_chan_make(sizeof(request), 0);
  tt_go_opts(slow_server, requests, &(tt_spawn_opts){.give_chans = {requests}});
  int64_t c1 = tt_go(client, requests);
  /* A channel handed over through a mutex-guarded struct. */
  shared *s = calloc(1, sizeof *s);
  int64_t pub = tt_go(publisher, s);
  tt_go(picker, s);
  /* A mutex whose holder sleeps. */
  static tt_mutex mu;
  tt_go(sleeper_holding_lock, &mu);
  int64_t locker = tt_go(lock_briefly, &mu);
  /* A deadline; a context's done channel; a sender that comes late, with
   * its own reference (the receiver only inherited the channel). */
  tt_chan *quiet = tt_chan_make(sizeof(int), 0);
  int64_t bounded = tt_go(recv_until, quiet);
  tt_context *ctx = tt_with_cancel(NULL);
  int64_t on_ctx = tt_go(wait_ctx_done, ctx);
  tt_chan *late = tt_chan_make(sizeof(int), 0);
  int64_t rx = tt_go(recv_once, late);
  tt_go_opts(late_sender, late, &(tt_spawn_opts){.give_chans = {late}});
  tt_chan_unref(late);
  /* A timer channel. */
  tt_timer *tm = tt_timer_make(TT_MS(30));
  await_parked(c1, "chan receive");
  await_parked(pub, "chan receive");
  await_parked(locker, "sync.Mutex.Lock");
  await_parked(bounded, "chan receive");
  await_parked(on_ctx, "chan receive");
  await_parked(rx, "chan receive");
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(tt_leak_check(), 0);
    tt_sleep(TT_MS(5));
  }
  atomic_store(&g_release, 1);
  int one = 1;
  CHECK_EQ(tt_chan_send(quiet, &one), 0); /* ends the wait with a deadline */
  CHECK_EQ(tt_chan_recv(tt_timer_chan(tm), NULL), 0);
  tt_timer_free(tm);
  tt_context_release(ctx);
  tt_test_task gone;
  while (tt_test_find_task(c1, &gone))
    tt_sleep(TT_MS(1));
  tt_chan_close(requests); /* the server's loop ends */
  tt_chan_unref(requests);
  while (tt_num_tasks() > base)
    tt_sleep(TT_MS(1));
  CHECK_EQ(tt_leak_check(), 0);
  CHECK_EQ(tt_leak_count(), leaks0);
  if (tt_leak_count() != leaks0) {
    char *rep = tt_test_leak_report();
    fprintf(stderr, "%s", rep);
    free(rep);
  }
  tt_chan_unref(quiet);
  free(s);
}

/* ---- What the rules must not hide ---------------------------------------------------- */

static void send_a(void *arg) {
  pair *p = arg;
  int v = 1;
  tt_chan_send(p->wait_on, &v); /* never completes: publishes nothing */
}

static void recv_b(void *arg) {
  pair *p = arg;
  int v;
  tt_chan_recv(p->other, &v);
}

static void select_send_recv(void *arg) {
  pair *p = arg;
  int v = 0, w;
  tt_case k[2] = {tt_case_send(p->wait_on, &v), tt_case_recv(p->other, &w)};
  tt_select(k, 2, 0, TT_NO_DEADLINE);
}

static atomic_int g_stop_server;
static void idle_server(void *arg) {
  (void)arg;
  while (!atomic_load(&g_stop_server))
    tt_sleep(TT_MS(1));
}

static void self_wait_made_here(void *arg) {
  (void)arg;
  tt_chan *c = tt_chan_make(0, 0); /* counted here only */
  LEFT_CHAN(c);
  tt_chan_recv(c, NULL);
}

static void test_precision(void) {
  NOTE("a blocked send, a select's send case and a reused address hide nothing");
  /* A send that never completes passed nothing on: b is not reachable. */
  pair p1 = {tt_chan_make(sizeof(int), 0), tt_chan_make(sizeof(int), 0)};
  int64_t x = tt_go_opts(send_a, &p1, &(tt_spawn_opts){.give_chans = {p1.wait_on, p1.other}});
  int64_t y = tt_go_opts(recv_b, &p1, &(tt_spawn_opts){.give_chans = {p1.wait_on, p1.other}});
  await_parked(x, "chan send");
  await_parked(y, "chan receive");
  tt_chan_unref(p1.wait_on);
  tt_chan_unref(p1.other);
  expect_check(2, (const char *const[]){"a wait-for chain or cycle", NULL});
  /* Nor does a select whose send case never fired. */
  pair p2 = {tt_chan_make(sizeof(int), 0), tt_chan_make(sizeof(int), 0)};
  x = tt_go_opts(select_send_recv, &p2, &(tt_spawn_opts){.give_chans = {p2.wait_on, p2.other}});
  await_parked(x, "select");
  tt_chan_unref(p2.wait_on);
  tt_chan_unref(p2.other);
  expect_check(1, (const char *const[]){"select whose every channel", NULL});
  /* A live task that inherited channels since freed must not seem to reach
   * new channels at their addresses. */
  atomic_store(&g_stop_server, 0);
  tt_chan *old[8];
  for (int i = 0; i < 8; i++)
    old[i] = tt_chan_make(0, 0);
  tt_go(idle_server, NULL); /* inherits the eight */
  for (int i = 0; i < 8; i++)
    tt_chan_unref(old[i]); /* freed; the server's entries stay */
  for (int i = 0; i < 4; i++) {
    int64_t id = tt_go(self_wait_made_here, NULL);
    await_parked(id, "chan receive");
    expect_check(1, (const char *const[]){"waiting on itself", NULL});
  }
  atomic_store(&g_stop_server, 1);
}

/* ---- Owners: reachability through a struct ------------------------------------------- */

typedef struct server {
  tt_owner *own;
  tt_chan *stop;
  tt_wg *wg;
} server;

static void server_worker(void *arg) {
  server *s = arg;
  tt_chan_recv(s->stop, NULL); /* until the server is stopped */
  tt_wg_done(s->wg);
}

static void test_owner_server(void) {
  NOTE("owner: a server struct's workers leak when nobody can stop it");
  server *s = calloc(1, sizeof *s);
  s->own = tt_owner_make();
  s->stop = tt_chan_make(0, 0);
  s->wg = tt_wg_make();
  CHECK_EQ(tt_owner_adopt_chan(s->own, s->stop), 0);
  CHECK_EQ(tt_owner_track_wg(s->own, s->wg), 0);
  int64_t w[2];
  for (int i = 0; i < 2; i++) {
    tt_wg_add(s->wg, 1);
    w[i] = tt_go_opts(server_worker, s, &(tt_spawn_opts){.give_owner = s->own});
  }
  await_parked(w[0], "chan receive");
  await_parked(w[1], "chan receive");
  /* This task holds the owner, so it can still close stop. */
  expect_check(0, NULL);
  tt_owner_unref(s->own); /* dropped without stopping the server */
  char who[64];
  snprintf(who, sizeof who, "task %lld [chan receive", (long long)w[1]);
  expect_check(2, (const char *const[]){"a wait-for chain or cycle", who, NULL});
  /* s stays allocated: the leaked workers point into it until shutdown. */
  static server *kept[4];
  for (int i = 0; i < 4; i++)
    if (!kept[i]) {
      kept[i] = s;
      break;
    }
}

static void wait_on(void *arg) { tt_chan_recv(arg, NULL); }

typedef struct plain_holder {
  tt_owner *o;
  atomic_int stage; /* 1: it holds its reference; 2: it may drop it */
} plain_holder;

static void *plain_holds_owner(void *arg) {
  plain_holder *p = arg;
  tt_owner_ref(p->o); /* a plain thread's reference: the owner is a root */
  atomic_store(&p->stage, 1);
  while (atomic_load(&p->stage) != 2)
    tt_test_sleep_ns(TT_MS(1));
  tt_owner_unref(p->o);
  return NULL;
}

static void test_owner_nested(void) {
  NOTE("owner: owners that own owners");
  int64_t leaks0 = tt_leak_count();
  tt_owner *outer = tt_owner_make(), *inner = tt_owner_make();
  tt_chan *c = tt_chan_make(0, 0);
  int64_t waiter = tt_go(wait_on, c); /* it inherits c and uses it */
  await_parked(waiter, "chan receive");
  CHECK_EQ(tt_owner_adopt_chan(inner, c), 0);      /* this task's reference to c... */
  CHECK_EQ(tt_owner_adopt_owner(outer, inner), 0); /* ...and to inner go to owners */
  /* The only way from a live task to c: this task -> outer -> inner -> c. */
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(tt_leak_check(), 0);
    tt_sleep(TT_MS(1));
  }
  /* A plain thread's reference keeps it all reachable too. */
  plain_holder p = {.o = outer};
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, plain_holds_owner, &p), 0);
  while (atomic_load(&p.stage) != 1)
    tt_sleep(TT_MS(1));
  CHECK_EQ(tt_owner_unref(outer), 0); /* this task's: only the plain thread's is left */
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(tt_leak_check(), 0);
    tt_sleep(TT_MS(1));
  }
  CHECK_EQ(tt_chan_close(c), 0); /* a borrowed pointer: outer -> inner still own c */
  tt_test_task gone;
  while (tt_test_find_task(waiter, &gone))
    tt_sleep(TT_MS(1));
  atomic_store(&p.stage, 2); /* the last reference: outer, inner and c go */
  pthread_join(th, NULL);
  CHECK_EQ(tt_leak_count(), leaks0);
}

static void test_owner_bad_input(void) {
  NOTE("owner: bad input");
  tt_owner *o = tt_owner_make();
  tt_chan *c = tt_chan_make(0, 0);
  CHECK_EQ(tt_owner_adopt_chan(NULL, c), TT_EINVAL);
  CHECK_EQ(tt_owner_adopt_chan(o, NULL), TT_EINVAL);
  CHECK_EQ(tt_owner_adopt_owner(o, o), TT_EINVAL);
  CHECK_EQ(tt_owner_adopt_owner(o, NULL), TT_EINVAL);
  CHECK_EQ(tt_owner_track_wg(o, NULL), TT_EINVAL);
  CHECK_EQ(tt_owner_unref(NULL), TT_EINVAL);
  CHECK(tt_owner_ref(NULL) == NULL);
  CHECK_EQ(tt_owner_adopt_chan(o, c), 0);
  CHECK_EQ(tt_owner_unref(o), 0); /* releases c with it: no leak report either */
  CHECK_EQ(tt_leak_check(), 0);
}

/* ---- Suspects: long waits that cannot be proven ---------------------------------------- */

typedef struct read_call {
  int fd;
  char buf[16];
  ssize_t n;
} read_call;

static void read_no_deadline(void *arg) {
  read_call *c = arg;
  c->n = read(c->fd, c->buf, sizeof c->buf);
}

static void fetch_forever(void *arg) { tt_blocking(read_no_deadline, arg); }

static char *suspects_text(int64_t min_wait, int64_t *n) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  *n = tt_leak_suspects(f, min_wait);
  fclose(f);
  return buf;
}

static void test_suspects(void) {
  NOTE("suspects: pattern 4 is listed, never proven");
  int fds[2];
  CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  read_call c = {.fd = fds[0]};
  int64_t id = tt_go(fetch_forever, &c);
  await_parked(id, "syscall");
  tt_sleep(TT_MS(30));
  CHECK_EQ(tt_leak_check(), 0); /* the peer may still answer */
  int64_t n;
  char *text = suspects_text(TT_MS(20), &n);
  CHECK_EQ(n, 1);
  CHECK_MSG(strstr(text, "suspect (not proven leaked)") && strstr(text, "seed pattern 4") &&
                strstr(text, "fetch_forever"),
            "%s", text);
  free(text);
  text = suspects_text(TT_MS(3600 * 1000), &n); /* nobody has waited an hour */
  CHECK_EQ(n, 0);
  CHECK(strstr(text, "no suspects") != NULL);
  free(text);
  CHECK_EQ(tt_leak_suspects(NULL, 0), TT_EINVAL);
  CHECK_EQ(tt_leak_suspects(stderr, -1), TT_EINVAL);
  close(fds[1]); /* the server hangs up: the read returns 0 */
  tt_test_task gone;
  while (tt_test_find_task(id, &gone))
    tt_sleep(TT_MS(1));
  CHECK_EQ(c.n, 0);
  close(fds[0]);
}

/* ---- Instant mode ------------------------------------------------------------------------ */

static void test_instant(void) {
  NOTE("instant mode: found without asking");
  int old = tt_leak_set_mode(TT_LEAK_REPORT);
  int64_t before = tt_leak_count();
  tt_chan *ch = tt_chan_make(sizeof(int), 0);
  int64_t id = tt_go_opts(echo_self, ch, &(tt_spawn_opts){.give_chans = {ch}});
  await_parked(id, "chan receive");
  tt_chan_unref(ch); /* the event */
  int64_t until = tt_now() + TT_MS(5000);
  while (tt_leak_count() == before && tt_now() < until)
    tt_sleep(TT_MS(1));
  CHECK_EQ(tt_leak_count(), before + 1);
  CHECK(task_leaked(id));
  char *rep = tt_test_leak_report();
  CHECK_MSG(strstr(rep, "the last event that made it certain was in task") != NULL, "%s", rep);
  free(rep);
  tt_leak_set_mode((tt_leak_mode)old);
}

/* ---- Bad input ------------------------------------------------------------------------------ */

static void test_outside(void) {
  NOTE("without a runtime");
  CHECK_EQ(tt_leak_check(), TT_ENOTINIT);
  CHECK_EQ(tt_leak_suspects(stderr, 0), TT_ENOTINIT);
}

static void graph_main(void *arg) {
  (void)arg;
  test_self_wait();
  test_error_path();
  test_cycle();
  test_select_chain();
  test_wg_never_done();
  test_mutex_orphaned();
  test_lock_cycle();
  test_look_alikes();
  test_precision();
  test_owner_server();
  test_owner_nested();
  test_owner_bad_input();
  test_suspects();
  test_instant();
}

int main(void) {
  tt_test_leaks_expected = 1; /* it leaks on purpose */
  tt_test_watchdog(120);
  test_outside();
  for (int procs = 1; procs <= 2; procs++) {
    NOTE("procs %d", procs);
    g_run = procs - 1;
    RUN_MAIN(procs, graph_main, NULL);
  }
  CHECK(atomic_load(&g_nleft_chans) <= 32 && atomic_load(&g_nleft_wgs) <= 8);
  for (int i = 0; i < atomic_load(&g_nleft_chans) && i < 32; i++)
    CHECK_EQ(tt_chan_unref(g_left_chans[i]), 0);
  for (int i = 0; i < atomic_load(&g_nleft_wgs) && i < 8; i++)
    CHECK_EQ(tt_wg_free(g_left_wgs[i]), 0);
  return TEST_REPORT();
}
