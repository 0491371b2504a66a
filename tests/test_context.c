/*
 * test_context: Go's context semantics.
 *
 *  - the background context is never done;
 *  - cancelling any node of a 4-level tree cancels exactly its subtree;
 *  - a child's deadline never exceeds its parent's; deadlines fire (done
 *    closed, TT_ETIMEDOUT, never early) also when nobody waits;
 *  - causes and messages propagate; the first cancel wins; cancel is
 *    idempotent and safe from plain threads and tasks on every worker while
 *    other tasks select on the done channel;
 *  - value lookups through chains; value contexts share their parent's
 *    done channel, error and deadline;
 *  - children of a done parent are born done;
 *  - tt_sleep_ctx / tt_chan_send_ctx / tt_chan_recv_ctx / tt_select_ctx
 *    return the context's error promptly, and succeed when the operation
 *    wins;
 *  - lost-cancel accounting (and the TT_STRICT report, in a child process);
 *  - release in any order (ASan: no leak, no use after free);
 *  - fan-out: thousands of tasks blocked on one context all wake on one
 *    cancel, and leave the channel's queue clean.
 *
 * Every scenario runs on 1 and on 2 workers.
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <sys/wait.h>

/* generous upper bound for "promptly" */
#define PROMPT (TT_TEST_SANITIZED ? TT_MS(4000) : TT_MS(1000))
/* a wait that must never run out in a passing test */
#define LONG_NS TT_MS(60000)

static int g_procs; /* workers of the current run */

/* TT_ECLOSED when the channel is closed, TT_EAGAIN when it is open and
 * empty. For done channels: "is it done?" without calling tt_context_err
 * (which would itself notice a passed deadline). */
static int chan_state(tt_chan *c) { return tt_chan_try_recv(c, NULL); }
static int is_done_chan(tt_context *c) { return chan_state(tt_context_done(c)) == TT_ECLOSED; }

/* Join a pthread from a task without stalling its worker. */
static void join_fn(void *arg) { pthread_join(*(pthread_t *)arg, NULL); }
static void task_join(pthread_t th) { CHECK_EQ(tt_blocking(join_fn, &th), TT_OK); }

static uint64_t g_rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

/* ---- background ------------------------------------------------------------------- */

static int g_key_a, g_key_b, g_key_c; /* value keys: compared by address */

static void test_background(void) {
  NOTE("background");
  int64_t lost0 = tt_context_lost_cancels();
  tt_context *bg = tt_background();
  CHECK(bg != NULL);
  CHECK(tt_background() == bg);
  CHECK_EQ(tt_context_err(bg), 0);
  CHECK(tt_context_done(bg) == NULL);
  CHECK_EQ(tt_context_deadline(bg), TT_NO_DEADLINE);
  const char *msg = "not touched";
  CHECK_EQ(tt_context_cause(bg, &msg), 0);
  CHECK_STREQ(msg, "");
  CHECK_EQ(tt_context_cause(bg, NULL), 0);
  CHECK(tt_context_value(bg, &g_key_a) == NULL);
  CHECK(tt_context_value(bg, NULL) == NULL);

  /* reference counting is a no-op on the root, in any amount */
  for (int i = 0; i < 10; i++)
    CHECK(tt_context_ref(bg) == bg);
  for (int i = 0; i < 25; i++)
    CHECK_EQ(tt_context_unref(bg), 0);

  /* nothing cancels it */
  tt_cancel(bg);
  tt_cancel_cause(bg, -1234, "no");
  tt_context_release(bg);
  CHECK_EQ(tt_context_err(bg), 0);
  CHECK(tt_context_done(bg) == NULL);
  CHECK_EQ(tt_context_cause(bg, &msg), 0);
  CHECK_STREQ(msg, "");

  /* waits bounded by it run their full course */
  int64_t t0 = tt_now();
  CHECK_EQ(tt_sleep_ctx(TT_MS(20), bg), 0);
  CHECK(tt_now() - t0 >= TT_MS(20));
  tt_case k = tt_case_recv(tt_context_done(bg), NULL);
  CHECK_EQ(tt_select(&k, 1, 0, tt_now() + TT_MS(10)), TT_ETIMEDOUT);
  CHECK_EQ(tt_select_ctx(NULL, 0, TT_SELECT_NONBLOCK, bg), TT_EAGAIN);
  tt_chan *c = tt_chan_make(sizeof(int), 1);
  int v = 7, out = 0;
  CHECK_EQ(tt_chan_send_ctx(c, &v, bg), 0);
  CHECK_EQ(tt_chan_recv_ctx(c, &out, bg), 0);
  CHECK_EQ(out, 7);
  tt_chan_unref(c);

  /* NULL as a parent means the background */
  tt_context *ch = tt_with_cancel(NULL);
  CHECK(ch != NULL && ch != bg);
  CHECK_EQ(tt_context_deadline(ch), TT_NO_DEADLINE);
  CHECK_EQ(tt_context_err(ch), 0);
  CHECK(tt_context_done(ch) != NULL);
  CHECK_EQ(chan_state(tt_context_done(ch)), TT_EAGAIN);
  tt_context *vv = tt_with_value(NULL, &g_key_a, &v);
  CHECK(vv != NULL);
  CHECK(tt_context_value(vv, &g_key_a) == &v);
  CHECK(tt_context_done(vv) == NULL); /* shares the background's (nil) done channel */
  CHECK_EQ(tt_context_err(vv), 0);
  CHECK_EQ(tt_context_deadline(vv), TT_NO_DEADLINE);
  CHECK_EQ(tt_context_unref(vv), 0);
  CHECK_EQ(tt_context_release(ch), 0);
  CHECK_EQ(tt_context_err(bg), 0);

  CHECK_EQ(tt_cancel(NULL), TT_EINVAL);
  CHECK_EQ(tt_cancel_cause(NULL, -5, "x"), TT_EINVAL);
  CHECK_EQ(tt_context_lost_cancels(), lost0);
}

/* ---- cancel at every depth of a 4-level tree ---------------------------------------- */

#define TREE_N 15 /* binary tree, depths 0..3 */

static int tree_parent(int i) { return i == 0 ? -1 : (i - 1) / 2; }
static int in_subtree(int node, int root) {
  for (; node >= 0; node = tree_parent(node))
    if (node == root)
      return 1;
  return 0;
}

/* variant 0: plain cancel contexts; variant 1: deadline contexts (far
 * away) mixed in and every edge going through a value context. */
static void build_tree(tt_context **n, int variant) {
  for (int i = 0; i < TREE_N; i++) {
    tt_context *p = i ? n[tree_parent(i)] : NULL;
    if (variant == 0) {
      n[i] = tt_with_cancel(p);
    } else {
      tt_context *via = tt_with_value(p, &g_key_a, (void *)(intptr_t)(i + 1));
      CHECK(via != NULL);
      n[i] = (i % 2) ? tt_with_cancel(via) : tt_with_timeout(via, LONG_NS + i);
      CHECK_EQ(tt_context_unref(via), 0); /* the child keeps it alive */
    }
    CHECK(n[i] != NULL);
  }
}

static void release_tree(tt_context **n, int order) {
  int idx[TREE_N];
  for (int i = 0; i < TREE_N; i++)
    idx[i] = i;
  if (order == 0) { /* leaves first */
    for (int i = 0; i < TREE_N; i++)
      idx[i] = TREE_N - 1 - i;
  } else if (order == 2) { /* shuffled */
    for (int i = TREE_N - 1; i > 0; i--) {
      int j = (int)(rnd() % (uint64_t)(i + 1));
      int t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
    }
  } /* order 1: root first */
  for (int i = 0; i < TREE_N; i++)
    CHECK_EQ(tt_context_release(n[idx[i]]), 0);
}

static void test_tree_cancel(void) {
  NOTE("tree cancel");
  for (int variant = 0; variant < 2; variant++) {
    for (int target = 0; target < TREE_N; target++) {
      int64_t lost0 = tt_context_lost_cancels();
      tt_context *n[TREE_N];
      build_tree(n, variant);
      for (int i = 0; i < TREE_N; i++)
        CHECK_EQ(tt_context_err(n[i]), 0);
      char msg[64];
      snprintf(msg, sizeof msg, "cut at %d", target);
      CHECK_EQ(tt_cancel_cause(n[target], -100 - target, msg), 0);
      for (int i = 0; i < TREE_N; i++) {
        const char *m = NULL;
        int cause = tt_context_cause(n[i], &m);
        if (in_subtree(i, target)) {
          CHECK_MSG(is_done_chan(n[i]), "v%d target %d: node %d done channel open", variant, target,
                    i);
          CHECK_MSG(tt_context_err(n[i]) == TT_ECANCELED, "v%d target %d: node %d err %d", variant,
                    target, i, tt_context_err(n[i]));
          CHECK_MSG(cause == -100 - target, "v%d target %d: node %d cause %d", variant, target, i,
                    cause);
          CHECK_STREQ(m, msg);
        } else {
          CHECK_MSG(!is_done_chan(n[i]), "v%d target %d: node %d (outside) done", variant, target,
                    i);
          CHECK_MSG(tt_context_err(n[i]) == 0, "v%d target %d: node %d (outside) err %d", variant,
                    target, i, tt_context_err(n[i]));
          CHECK_EQ(cause, 0);
          CHECK_STREQ(m, "");
        }
        if (variant == 1) /* lookups still walk through the value contexts */
          CHECK(tt_context_value(n[i], &g_key_a) == (void *)(intptr_t)(i + 1));
      }
      /* cancelling the root later reaches the rest; the subtree keeps its cause */
      CHECK_EQ(tt_cancel_cause(n[0], -99, "root"), 0);
      for (int i = 0; i < TREE_N; i++) {
        CHECK(is_done_chan(n[i]));
        CHECK_EQ(tt_context_err(n[i]), TT_ECANCELED);
        CHECK_EQ(tt_context_cause(n[i], NULL), in_subtree(i, target) ? -100 - target : -99);
      }
      release_tree(n, target % 3);
      CHECK_EQ(tt_context_lost_cancels(), lost0);
    }
  }
  /* release without any cancel beforehand, all three orders */
  for (int order = 0; order < 3; order++) {
    int64_t lost0 = tt_context_lost_cancels();
    tt_context *n[TREE_N];
    build_tree(n, order == 1);
    release_tree(n, order);
    CHECK_EQ(tt_context_lost_cancels(), lost0);
  }
}

/* ---- deadlines ----------------------------------------------------------------------- */

static void test_deadline_inheritance(void) {
  NOTE("deadline inheritance");
  int64_t now = tt_now();
  int64_t pd = now + TT_MS(600000), early = now + TT_MS(300000);
  tt_context *p = tt_with_deadline(NULL, pd);
  CHECK_EQ(tt_context_deadline(p), pd);
  tt_context *later = tt_with_deadline(p, now + TT_MS(1200000));
  CHECK_EQ(tt_context_deadline(later), pd);
  tt_context *earlier = tt_with_deadline(p, early);
  CHECK_EQ(tt_context_deadline(earlier), early);
  tt_context *nodl = tt_with_cancel(p);
  CHECK_EQ(tt_context_deadline(nodl), pd);
  tt_context *tmo = tt_with_timeout(earlier, TT_MS(900000));
  CHECK_EQ(tt_context_deadline(tmo), early);
  tt_context *val = tt_with_value(earlier, &g_key_b, NULL);
  CHECK_EQ(tt_context_deadline(val), early);
  tt_context *viaval = tt_with_deadline(val, TT_NO_DEADLINE);
  CHECK_EQ(tt_context_deadline(viaval), early);
  tt_context *none = tt_with_deadline(NULL, TT_NO_DEADLINE);
  CHECK_EQ(tt_context_deadline(none), TT_NO_DEADLINE);
  tt_context *all[] = {viaval, tmo, nodl, later, earlier, p, none};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    CHECK_EQ(tt_context_release(all[i]), 0);
  CHECK_EQ(tt_context_unref(val), 0);

  /* random chains: every child's deadline is min(parent's, asked) */
  for (int round = 0; round < 50; round++) {
    tt_context *chain[6];
    int64_t expect = TT_NO_DEADLINE, base = tt_now() + TT_MS(600000);
    for (int i = 0; i < 6; i++) {
      int64_t asked = (rnd() % 4 == 0) ? TT_NO_DEADLINE : base + (int64_t)(rnd() % 1000000);
      chain[i] = tt_with_deadline(i ? chain[i - 1] : NULL, asked);
      if (asked < expect)
        expect = asked;
      CHECK_EQ(tt_context_deadline(chain[i]), expect);
      if (i)
        CHECK(tt_context_deadline(chain[i]) <= tt_context_deadline(chain[i - 1]));
    }
    for (int i = 0; i < 6; i++)
      CHECK_EQ(tt_context_release(chain[(i * 7 + round) % 6]), 0);
  }

  /* the parent's deadline fires for a child that asked for a later one */
  tt_context *short_p = tt_with_timeout(NULL, TT_MS(30));
  tt_context *long_c = tt_with_timeout(short_p, LONG_NS);
  int64_t dl = tt_context_deadline(short_p);
  CHECK_EQ(tt_context_deadline(long_c), dl);
  CHECK_EQ(tt_chan_recv(tt_context_done(long_c), NULL), TT_ECLOSED);
  CHECK(tt_now() >= dl);
  CHECK_EQ(tt_context_err(long_c), TT_ETIMEDOUT);
  CHECK_EQ(tt_context_err(short_p), TT_ETIMEDOUT);
  CHECK_EQ(tt_context_release(long_c), 0);
  CHECK_EQ(tt_context_release(short_p), 0);

  /* a child's earlier deadline fires without touching the parent */
  tt_context *lp = tt_with_timeout(NULL, LONG_NS);
  tt_context *sc = tt_with_timeout(lp, TT_MS(20));
  dl = tt_context_deadline(sc);
  CHECK_EQ(tt_chan_recv(tt_context_done(sc), NULL), TT_ECLOSED);
  CHECK(tt_now() >= dl);
  CHECK_EQ(tt_context_err(sc), TT_ETIMEDOUT);
  CHECK_EQ(tt_context_err(lp), 0);
  CHECK(!is_done_chan(lp));
  CHECK_EQ(tt_context_release(sc), 0);
  CHECK_EQ(tt_context_release(lp), 0);
}

typedef struct {
  tt_context *ctx;
  int64_t woke;
  int rc;
  int err;
} dl_waiter;

static void done_waiter(void *arg) {
  dl_waiter *w = arg;
  w->rc = tt_chan_recv(tt_context_done(w->ctx), NULL);
  w->woke = tt_now();
  w->err = tt_context_err(w->ctx);
}

static void test_deadline_fires(void) {
  NOTE("deadline fires");
  /* nobody waits and nobody asks: only the timer can close done */
  int64_t lost0 = tt_context_lost_cancels();
  tt_context *c = tt_with_timeout(NULL, TT_MS(40));
  int64_t dl = tt_context_deadline(c);
  int e = tt_context_err(c);
  if (tt_now() < dl)
    CHECK_EQ(e, 0);
  int64_t sl = dl - tt_now() + TT_MS(10);
  tt_sleep(sl > 0 ? sl : 0); /* not a context-aware sleep */
  int st = TT_EAGAIN;
  int early = 0;
  for (;;) {
    st = chan_state(tt_context_done(c));
    int64_t after = tt_now();
    if (st == TT_ECLOSED && after < dl)
      early = 1;
    if (st != TT_EAGAIN || after > dl + PROMPT)
      break;
    tt_sleep(TT_MS(1));
  }
  CHECK_EQ(st, TT_ECLOSED);
  CHECK(!early);
  CHECK_EQ(tt_context_err(c), TT_ETIMEDOUT);
  const char *m = NULL;
  CHECK_EQ(tt_context_cause(c, &m), TT_ETIMEDOUT);
  CHECK(m != NULL);
  CHECK_EQ(tt_context_unref(c), 0); /* expired: no cancel needed */
  CHECK_EQ(tt_context_lost_cancels(), lost0);

  /* many contexts with assorted deadlines, none observed until all passed */
  enum { NDL = 100 };
  tt_context *many[NDL];
  int64_t latest = 0;
  for (int i = 0; i < NDL; i++) {
    many[i] = tt_with_timeout(i % 3 ? NULL : tt_background(), TT_MS(1 + (int64_t)(rnd() % 50)));
    if (tt_context_deadline(many[i]) > latest)
      latest = tt_context_deadline(many[i]);
  }
  tt_sleep(latest - tt_now() + TT_MS(5));
  int64_t until = tt_now() + PROMPT;
  int closed = 0;
  while (closed < NDL && tt_now() < until) {
    closed = 0;
    for (int i = 0; i < NDL; i++)
      closed += is_done_chan(many[i]);
    if (closed < NDL)
      tt_sleep(TT_MS(2));
  }
  CHECK_EQ(closed, NDL);
  for (int i = 0; i < NDL; i++) {
    CHECK_EQ(tt_context_err(many[i]), TT_ETIMEDOUT);
    CHECK_EQ(tt_context_unref(many[i]), 0);
  }
  CHECK_EQ(tt_context_lost_cancels(), lost0);

  /* waiters on done (plain channel receive) wake at the deadline, never before */
  enum { NW = 6 };
  dl_waiter w[NW];
  tt_context *root = tt_with_timeout(NULL, TT_MS(30));
  tt_context *kids[NW];
  tt_wg *wg = tt_wg_make();
  dl = tt_context_deadline(root);
  for (int i = 0; i < NW; i++) {
    kids[i] = i % 2 ? tt_with_cancel(root) : tt_with_value(root, &g_key_b, NULL);
    w[i] = (dl_waiter){kids[i], 0, 1, 1};
    CHECK(tt_wg_go(wg, done_waiter, &w[i]) > 0);
  }
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  for (int i = 0; i < NW; i++) {
    CHECK_EQ(w[i].rc, TT_ECLOSED);
    CHECK_MSG(w[i].woke >= dl, "waiter %d woke %" PRId64 " ns before the deadline", i,
              dl - w[i].woke);
    CHECK(w[i].woke - dl < PROMPT);
    CHECK_EQ(w[i].err, TT_ETIMEDOUT);
    if (i % 2)
      CHECK_EQ(tt_context_release(kids[i]), 0);
    else
      CHECK_EQ(tt_context_unref(kids[i]), 0);
  }
  CHECK_EQ(tt_context_unref(root), 0);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  CHECK_EQ(tt_context_lost_cancels(), lost0);

  /* a deadline already passed: born done */
  tt_context *past = tt_with_deadline(NULL, tt_now() - 1);
  CHECK(is_done_chan(past));
  CHECK_EQ(tt_context_err(past), TT_ETIMEDOUT);
  CHECK_EQ(tt_context_unref(past), 0);
  CHECK_EQ(tt_context_lost_cancels(), lost0);
}

/* ---- causes, first cancel wins ----------------------------------------------------------- */

static void test_cause(void) {
  NOTE("cause");
  tt_context *a = tt_with_cancel(NULL);
  tt_context *b = tt_with_timeout(a, LONG_NS);
  int x = 1;
  tt_context *v = tt_with_value(b, &g_key_a, &x);
  tt_context *c = tt_with_cancel(v);
  const char *m = NULL;
  CHECK_EQ(tt_context_cause(c, &m), 0);
  CHECK_STREQ(m, "");
  char buf[64];
  snprintf(buf, sizeof buf, "disk %s", "full");
  CHECK_EQ(tt_cancel_cause(b, -4242, buf), 0);
  memset(buf, 'Z', sizeof buf - 1); /* the message must have been copied */
  tt_context *sub[] = {b, v, c};
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(tt_context_err(sub[i]), TT_ECANCELED);
    CHECK_EQ(tt_context_cause(sub[i], &m), -4242);
    CHECK_STREQ(m, "disk full");
    CHECK(is_done_chan(sub[i]));
  }
  CHECK_EQ(tt_context_err(a), 0);
  CHECK_EQ(tt_context_cause(a, &m), 0);
  CHECK_STREQ(m, "");

  /* plain tt_cancel: the cause is the error */
  CHECK_EQ(tt_cancel(a), 0);
  CHECK_EQ(tt_context_cause(a, &m), TT_ECANCELED);
  CHECK(m != NULL);
  CHECK_EQ(tt_context_cause(c, &m), -4242); /* first cancel wins below */
  CHECK_STREQ(m, "disk full");

  /* children of a cancelled context are born cancelled, with its cause */
  tt_context *born[] = {tt_with_cancel(c), tt_with_timeout(c, LONG_NS),
                        tt_with_deadline(c, tt_now() + LONG_NS), tt_with_value(c, &g_key_c, &x)};
  for (int i = 0; i < 4; i++) {
    CHECK(born[i] != NULL);
    CHECK(is_done_chan(born[i]));
    CHECK_EQ(tt_context_err(born[i]), TT_ECANCELED);
    CHECK_EQ(tt_context_cause(born[i], &m), -4242);
    CHECK_STREQ(m, "disk full");
  }
  CHECK(tt_context_value(born[3], &g_key_c) == &x);
  CHECK(tt_context_value(born[3], &g_key_a) == &x);
  int64_t lost0 = tt_context_lost_cancels();
  /* already done when the last reference goes: not a lost cancel */
  for (int i = 0; i < 4; i++)
    CHECK_EQ(tt_context_unref(born[i]), 0);
  CHECK_EQ(tt_context_lost_cancels(), lost0);

  /* long messages are cut at 127 bytes */
  char big[300];
  memset(big, 'm', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  tt_context *f = tt_with_cancel(NULL);
  CHECK_EQ(tt_cancel_cause(f, -7, big), 0);
  CHECK_EQ(tt_context_cause(f, &m), -7);
  CHECK(m != NULL && strlen(m) == 127 && strncmp(m, big, 127) == 0);
  CHECK_EQ(tt_context_err(f), TT_ECANCELED);
  /* a NULL message is allowed */
  tt_context *g = tt_with_cancel(NULL);
  CHECK_EQ(tt_cancel_cause(g, -8, NULL), 0);
  CHECK_EQ(tt_context_cause(g, &m), -8);
  CHECK(m != NULL);

  tt_context *rel[] = {c, a, b, f, g};
  for (int i = 0; i < 5; i++)
    CHECK_EQ(tt_context_release(rel[i]), 0);
  CHECK_EQ(tt_context_unref(v), 0);
  CHECK_EQ(tt_context_lost_cancels(), lost0);
}

static void test_first_cancel_wins(void) {
  NOTE("first cancel wins");
  const char *m;
  tt_context *c = tt_with_cancel(NULL);
  CHECK_EQ(tt_cancel_cause(c, -11, "first"), 0);
  CHECK_EQ(tt_cancel_cause(c, -22, "second"), 0);
  CHECK_EQ(tt_cancel(c), 0);
  CHECK_EQ(tt_cancel(c), 0);
  CHECK_EQ(tt_context_err(c), TT_ECANCELED);
  CHECK_EQ(tt_context_cause(c, &m), -11);
  CHECK_STREQ(m, "first");
  CHECK_EQ(tt_context_release(c), 0);

  /* expired, then cancelled: stays timed out */
  tt_context *d = tt_with_timeout(NULL, TT_MS(2));
  CHECK_EQ(tt_chan_recv(tt_context_done(d), NULL), TT_ECLOSED);
  CHECK_EQ(tt_cancel_cause(d, -33, "late"), 0);
  CHECK_EQ(tt_context_err(d), TT_ETIMEDOUT);
  CHECK_EQ(tt_context_cause(d, &m), TT_ETIMEDOUT);
  CHECK_EQ(tt_context_release(d), 0);

  /* cancelled, then the deadline passes: stays cancelled */
  tt_context *e = tt_with_timeout(NULL, TT_MS(20));
  int64_t dl = tt_context_deadline(e);
  CHECK_EQ(tt_cancel_cause(e, -34, "early"), 0);
  int before = tt_context_err(e);
  if (tt_now() < dl) { /* the cancel certainly came first */
    CHECK_EQ(before, TT_ECANCELED);
    tt_sleep(dl - tt_now() + TT_MS(10));
    CHECK_EQ(tt_context_err(e), TT_ECANCELED);
    CHECK_EQ(tt_context_cause(e, &m), -34);
    CHECK_STREQ(m, "early");
  } else {
    NOTE("too slow to cancel a 20 ms context in time: skipped");
  }
  CHECK_EQ(tt_context_release(e), 0);

  /* a child cancelled first keeps its own cause */
  tt_context *p = tt_with_cancel(NULL), *k = tt_with_cancel(p);
  CHECK_EQ(tt_cancel_cause(k, -44, "kid"), 0);
  CHECK_EQ(tt_context_err(p), 0);
  CHECK_EQ(tt_cancel_cause(p, -55, "parent"), 0);
  CHECK_EQ(tt_context_cause(k, &m), -44);
  CHECK_STREQ(m, "kid");
  CHECK_EQ(tt_context_cause(p, &m), -55);
  CHECK_STREQ(m, "parent");
  CHECK_EQ(tt_context_release(p), 0); /* parent before child */
  CHECK_EQ(tt_context_release(k), 0);
}

/* ---- cancel races: tasks on every worker, plain threads, select on done ----------------- */

typedef struct {
  tt_context *ctx;
  tt_chan *never;
  atomic_int go;
  atomic_int selected_done;
  atomic_int cancel_ok;
  atomic_int worker_mask;
  tt_context *kids[32];
  int nkids;
} race_round;

static void race_select_waiter(void *arg) {
  race_round *r = arg;
  int v = 0;
  tt_case cs[2] = {tt_case_recv(r->never, &v), tt_case_recv(tt_context_done(r->ctx), NULL)};
  int rc = tt_select(cs, 2, 0, tt_now() + LONG_NS);
  if (rc == 1 && cs[1].err == TT_ECLOSED)
    atomic_fetch_add(&r->selected_done, 1);
  tt_context_unref(r->ctx);
}

static void race_canceller(void *arg) {
  race_round *r = arg;
  while (!atomic_load(&r->go))
    tt_yield();
  int w = tt_worker_id();
  if (w >= 0 && w < 30)
    atomic_fetch_or(&r->worker_mask, 1 << w);
  char msg[32];
  int code = -1000 - (int)(tt_self() % 1000);
  snprintf(msg, sizeof msg, "cause %d", code);
  if (tt_cancel_cause(r->ctx, code, msg) == 0 && tt_cancel(r->ctx) == 0)
    atomic_fetch_add(&r->cancel_ok, 1);
  tt_context_unref(r->ctx);
}

static void race_maker(void *arg) {
  race_round *r = arg;
  while (!atomic_load(&r->go))
    tt_yield();
  for (int i = 0; i < 32; i++) {
    r->kids[i] = (i % 2) ? tt_with_cancel(r->ctx) : tt_with_timeout(r->ctx, LONG_NS);
    r->nkids = i + 1;
    if (i % 4 == 0)
      tt_yield();
  }
}

static void *race_plain_canceller(void *arg) {
  race_round *r = arg;
  while (!atomic_load(&r->go)) {
  }
  char msg[32];
  snprintf(msg, sizeof msg, "cause %d", -3);
  if (tt_cancel_cause(r->ctx, -3, msg) == 0 && tt_cancel(r->ctx) == 0 &&
      tt_cancel_cause(r->ctx, -4, "again") == 0)
    atomic_fetch_add(&r->cancel_ok, 1);
  tt_context_unref(r->ctx);
  return NULL;
}

static void test_cancel_races(void) {
  NOTE("cancel races");
  long rounds = tt_test_scale_min(150, 8);
  int mask_all = 0;
  int64_t lost0 = tt_context_lost_cancels();
  for (long round = 0; round < rounds; round++) {
    race_round *r = calloc(1, sizeof *r);
    r->ctx = (round % 2) ? tt_with_cancel(NULL) : tt_with_timeout(NULL, LONG_NS);
    r->never = tt_chan_make(sizeof(int), 0);
    tt_wg *wg = tt_wg_make();
    enum { NWAIT = 4, NCANCEL = 4, NPLAIN = 2 };
    for (int i = 0; i < NWAIT; i++) {
      tt_context_ref(r->ctx);
      CHECK(tt_wg_go(wg, race_select_waiter, r) > 0);
    }
    for (int i = 0; i < NCANCEL; i++) {
      tt_context_ref(r->ctx);
      CHECK(tt_wg_go(wg, race_canceller, r) > 0);
    }
    CHECK(tt_wg_go(wg, race_maker, r) > 0);
    pthread_t th[NPLAIN];
    for (int i = 0; i < NPLAIN; i++) {
      tt_context_ref(r->ctx);
      CHECK_EQ(pthread_create(&th[i], NULL, race_plain_canceller, r), 0);
    }
    tt_yield();
    atomic_store(&r->go, 1);
    CHECK_EQ(tt_wg_wait(wg), TT_OK);
    for (int i = 0; i < NPLAIN; i++)
      task_join(th[i]);
    CHECK_EQ(atomic_load(&r->selected_done), NWAIT);
    CHECK_EQ(atomic_load(&r->cancel_ok), NCANCEL + NPLAIN);
    CHECK_EQ(tt_context_err(r->ctx), TT_ECANCELED);
    CHECK(is_done_chan(r->ctx));
    /* cause and message come from the same (winning) cancel */
    const char *m = NULL;
    int cause = tt_context_cause(r->ctx, &m);
    char expect[32];
    snprintf(expect, sizeof expect, "cause %d", cause);
    CHECK_STREQ(m, expect);
    /* children made while the cancel raced: every one ends cancelled */
    CHECK_EQ(r->nkids, 32);
    for (int i = 0; i < r->nkids; i++) {
      CHECK(is_done_chan(r->kids[i]));
      CHECK_EQ(tt_context_err(r->kids[i]), TT_ECANCELED);
      CHECK_EQ(tt_context_cause(r->kids[i], NULL), cause);
      /* half released, half just dropped (they are done: not lost) */
      if (i % 2)
        CHECK_EQ(tt_context_release(r->kids[i]), 0);
      else
        CHECK_EQ(tt_context_unref(r->kids[i]), 0);
    }
    mask_all |= atomic_load(&r->worker_mask);
    CHECK_EQ(tt_context_unref(r->ctx), 0); /* cancelled: not lost */
    CHECK_EQ(tt_chan_unref(r->never), 0);
    CHECK_EQ(tt_wg_free(wg), TT_OK);
    free(r);
  }
  CHECK_EQ(tt_context_lost_cancels(), lost0);
  NOTE("procs %d: cancelling tasks ran on worker mask 0x%x", g_procs, mask_all);
}

/* ---- values ------------------------------------------------------------------------------ */

static void test_values(void) {
  NOTE("values");
  int64_t lost0 = tt_context_lost_cancels();
  int va = 1, vb = 2, vc = 3, shadow = 4;
  tt_context *v1 = tt_with_value(NULL, &g_key_a, &va);
  tt_context *c = tt_with_timeout(v1, LONG_NS);
  tt_context *v2 = tt_with_value(c, &g_key_b, &vb);
  tt_context *v3 = tt_with_value(v2, &g_key_a, &shadow);
  tt_context *leaf = tt_with_cancel(v3);
  tt_context *v4 = tt_with_value(leaf, &g_key_c, &vc);

  CHECK(tt_context_value(v4, &g_key_a) == &shadow); /* the nearest wins */
  CHECK(tt_context_value(v4, &g_key_b) == &vb);
  CHECK(tt_context_value(v4, &g_key_c) == &vc);
  CHECK(tt_context_value(v2, &g_key_a) == &va);
  CHECK(tt_context_value(c, &g_key_a) == &va);
  CHECK(tt_context_value(c, &g_key_b) == NULL); /* parents do not see children's values */
  CHECK(tt_context_value(v1, &g_key_c) == NULL);
  int other_key_same_content = 0;
  CHECK(tt_context_value(v4, &other_key_same_content) == NULL);
  CHECK(tt_context_value(v4, NULL) == NULL);

  /* a value context answers with its parent's done channel, error, deadline */
  CHECK(tt_context_done(v2) == tt_context_done(c));
  CHECK(tt_context_done(v3) == tt_context_done(c));
  CHECK(tt_context_done(v4) == tt_context_done(leaf));
  CHECK(tt_context_done(v1) == NULL);
  CHECK_EQ(tt_context_deadline(v2), tt_context_deadline(c));
  CHECK_EQ(tt_context_deadline(v4), tt_context_deadline(c));
  CHECK_EQ(tt_context_err(v2), 0);
  CHECK_EQ(tt_context_cause(v2, NULL), 0);

  /* a NULL value is stored like any other */
  tt_context *vn = tt_with_value(v4, &g_key_b, NULL);
  CHECK(tt_context_value(vn, &g_key_b) == NULL);
  CHECK(tt_context_value(vn, &g_key_c) == &vc);

  /* value contexts are not cancellable themselves: cancel is a no-op */
  tt_cancel(v2);
  CHECK_EQ(tt_context_err(c), 0);
  CHECK_EQ(tt_context_err(v2), 0);

  CHECK_EQ(tt_cancel_cause(c, -9, "via c"), 0);
  const char *m;
  CHECK_EQ(tt_context_err(v2), TT_ECANCELED);
  CHECK_EQ(tt_context_err(v3), TT_ECANCELED);
  CHECK_EQ(tt_context_err(v4), TT_ECANCELED);
  CHECK_EQ(tt_context_cause(v4, &m), -9);
  CHECK_STREQ(m, "via c");
  CHECK(is_done_chan(v2));
  CHECK_EQ(tt_context_err(v1), 0);
  /* lookups still work after cancellation */
  CHECK(tt_context_value(v4, &g_key_a) == &shadow);

  /* dropping value contexts is never a lost cancel; parent released first */
  CHECK_EQ(tt_context_unref(v1), 0);
  CHECK_EQ(tt_context_release(c), 0);
  CHECK(tt_context_value(v4, &g_key_a) == &shadow);
  CHECK(tt_context_value(vn, &g_key_a) == &shadow);
  CHECK_EQ(tt_context_unref(v2), 0);
  CHECK_EQ(tt_context_unref(vn), 0);
  CHECK_EQ(tt_context_unref(v4), 0);
  CHECK_EQ(tt_context_release(leaf), 0);
  CHECK_EQ(tt_context_unref(v3), 0);
  /* a long chain */
  tt_context *chain = tt_with_cancel(NULL);
  static char keys[200];
  for (int i = 0; i < 200; i++) {
    tt_context *n = tt_with_value(chain, &keys[i], (void *)(intptr_t)(i + 1));
    CHECK(n != NULL);
    CHECK_EQ(tt_context_unref(chain), 0); /* the new link keeps its parent */
    chain = n;
  }
  for (int i = 0; i < 200; i += 17)
    CHECK(tt_context_value(chain, &keys[i]) == (void *)(intptr_t)(i + 1));
  CHECK(tt_context_value(chain, &g_key_a) == NULL);
  CHECK_EQ(tt_context_err(chain), 0);
  CHECK_EQ(tt_context_unref(chain),
           0); /* frees all 200 and the root: the root was never cancelled */
  CHECK_EQ(tt_context_lost_cancels(), lost0 + 1);
}

/* ---- context-bounded waits ------------------------------------------------------------------ */

typedef struct {
  tt_context *ctx;
  int64_t delay;
  int64_t at; /* tt_now() just before the cancel */
  tt_chan *ch;
  int value;
  int rc;
} later_arg;

static void cancel_later(void *arg) {
  later_arg *a = arg;
  tt_sleep(a->delay);
  a->at = tt_now();
  tt_cancel(a->ctx);
}

static void send_later(void *arg) {
  later_arg *a = arg;
  tt_sleep(a->delay);
  a->at = tt_now();
  a->rc = tt_chan_send(a->ch, &a->value);
}

static void recv_later(void *arg) {
  later_arg *a = arg;
  tt_sleep(a->delay);
  a->at = tt_now();
  a->rc = tt_chan_recv(a->ch, &a->value);
}

static void test_ctx_waits(void) {
  NOTE("context-bounded waits");
  tt_wg *wg = tt_wg_make();
  int64_t t0, t1;
  int v = 0;

  /* --- tt_sleep_ctx --- */
  tt_context *c = tt_with_cancel(NULL);
  later_arg la = {c, TT_MS(20), 0, NULL, 0, 0};
  CHECK(tt_wg_go(wg, cancel_later, &la) > 0);
  t0 = tt_now();
  CHECK_EQ(tt_sleep_ctx(LONG_NS, c), TT_ECANCELED);
  t1 = tt_now();
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK(t1 >= la.at);
  CHECK_MSG(t1 - la.at < PROMPT, "sleep_ctx returned %" PRId64 " ms after the cancel",
            (t1 - la.at) / 1000000);
  CHECK_EQ(tt_sleep_ctx(TT_MS(1), c), TT_ECANCELED); /* already done: at once */
  CHECK_EQ(tt_sleep_ctx(0, c), TT_ECANCELED);
  CHECK_EQ(tt_context_release(c), 0);

  c = tt_with_timeout(NULL, TT_MS(30));
  int64_t dl = tt_context_deadline(c);
  CHECK_EQ(tt_sleep_ctx(LONG_NS, c), TT_ETIMEDOUT);
  t1 = tt_now();
  CHECK(t1 >= dl);
  CHECK(t1 - dl < PROMPT);
  CHECK_EQ(tt_context_release(c), 0);

  c = tt_with_timeout(NULL, LONG_NS);
  t0 = tt_now();
  CHECK_EQ(tt_sleep_ctx(TT_MS(20), c), 0); /* the sleep wins */
  CHECK(tt_now() - t0 >= TT_MS(20));
  CHECK_EQ(tt_sleep_ctx(0, c), 0);
  CHECK_EQ(tt_sleep_ctx(-5, c), 0);
  CHECK_EQ(tt_context_err(c), 0);
  CHECK_EQ(tt_context_release(c), 0);

  /* --- tt_chan_recv_ctx --- */
  tt_chan *ch = tt_chan_make(sizeof(int), 0);
  c = tt_with_cancel(NULL);
  la = (later_arg){c, TT_MS(20), 0, NULL, 0, 0};
  CHECK(tt_wg_go(wg, cancel_later, &la) > 0);
  v = 123;
  CHECK_EQ(tt_chan_recv_ctx(ch, &v, c), TT_ECANCELED);
  t1 = tt_now();
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK(t1 >= la.at && t1 - la.at < PROMPT);
  CHECK_EQ(tt_chan_try_send(ch, &v), TT_EAGAIN); /* the cancelled receiver left the queue */
  CHECK_EQ(tt_chan_recv_ctx(ch, &v, c), TT_ECANCELED);
  CHECK_EQ(tt_context_release(c), 0);

  c = tt_with_timeout(NULL, TT_MS(25));
  dl = tt_context_deadline(c);
  CHECK_EQ(tt_chan_recv_ctx(ch, &v, c), TT_ETIMEDOUT);
  t1 = tt_now();
  CHECK(t1 >= dl && t1 - dl < PROMPT);
  CHECK_EQ(tt_context_release(c), 0);

  c = tt_with_timeout(NULL, LONG_NS);
  la = (later_arg){c, TT_MS(10), 0, ch, 4242, 1};
  CHECK(tt_wg_go(wg, send_later, &la) > 0);
  v = 0;
  CHECK_EQ(tt_chan_recv_ctx(ch, &v, c), 0); /* the value wins */
  CHECK_EQ(v, 4242);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(la.rc, 0);
  CHECK_EQ(tt_context_err(c), 0);
  /* nil channel: only the context ends the wait */
  tt_context *c2 = tt_with_timeout(c, TT_MS(15));
  CHECK_EQ(tt_chan_recv_ctx(NULL, &v, c2), TT_ETIMEDOUT);
  CHECK_EQ(tt_context_release(c2), 0);
  /* closed channel */
  tt_chan *closed = tt_chan_make(sizeof(int), 2);
  v = 5;
  CHECK_EQ(tt_chan_send(closed, &v), 0);
  CHECK_EQ(tt_chan_close(closed), 0);
  v = 0;
  CHECK_EQ(tt_chan_recv_ctx(closed, &v, c), 0);
  CHECK_EQ(v, 5);
  v = 9;
  CHECK_EQ(tt_chan_recv_ctx(closed, &v, c), TT_ECLOSED);
  CHECK_EQ(v, 0);
  CHECK_EQ(tt_chan_send_ctx(closed, &v, c), TT_ECLOSED);
  CHECK_EQ(tt_chan_unref(closed), 0);
  CHECK_EQ(tt_context_release(c), 0);

  /* --- tt_chan_send_ctx --- */
  c = tt_with_cancel(NULL);
  la = (later_arg){c, TT_MS(20), 0, NULL, 0, 0};
  CHECK(tt_wg_go(wg, cancel_later, &la) > 0);
  v = 77;
  CHECK_EQ(tt_chan_send_ctx(ch, &v, c), TT_ECANCELED);
  t1 = tt_now();
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK(t1 >= la.at && t1 - la.at < PROMPT);
  CHECK_EQ(tt_chan_try_recv(ch, &v), TT_EAGAIN); /* nothing was delivered, no sender queued */
  CHECK_EQ(tt_context_release(c), 0);

  c = tt_with_timeout(NULL, TT_MS(25));
  dl = tt_context_deadline(c);
  CHECK_EQ(tt_chan_send_ctx(ch, &v, c), TT_ETIMEDOUT);
  t1 = tt_now();
  CHECK(t1 >= dl && t1 - dl < PROMPT);
  CHECK_EQ(tt_chan_try_recv(ch, &v), TT_EAGAIN);
  CHECK_EQ(tt_context_release(c), 0);

  c = tt_with_timeout(NULL, LONG_NS);
  la = (later_arg){c, TT_MS(10), 0, ch, 0, 1};
  CHECK(tt_wg_go(wg, recv_later, &la) > 0);
  v = 31337;
  CHECK_EQ(tt_chan_send_ctx(ch, &v, c), 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(la.rc, 0);
  CHECK_EQ(la.value, 31337);
  tt_chan *buf = tt_chan_make(sizeof(int), 1);
  CHECK_EQ(tt_chan_send_ctx(buf, &v, c), 0); /* room in the buffer: immediate */
  CHECK_EQ(tt_chan_len(buf), 1);
  CHECK_EQ(tt_context_release(c), 0);

  /* --- tt_select_ctx --- */
  tt_chan *ch2 = tt_chan_make(sizeof(int), 0);
  c = tt_with_cancel(NULL);
  int r1 = 0, r2 = 0, s3 = 3;
  tt_case cs[3] = {tt_case_recv(ch, &r1), tt_case_recv(ch2, &r2), tt_case_send(ch2, &s3)};
  CHECK_EQ(tt_select_ctx(cs, 2, TT_SELECT_NONBLOCK, c), TT_EAGAIN);
  la = (later_arg){c, TT_MS(20), 0, NULL, 0, 0};
  CHECK(tt_wg_go(wg, cancel_later, &la) > 0);
  CHECK_EQ(tt_select_ctx(cs, 3, 0, c), TT_ECANCELED);
  t1 = tt_now();
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK(t1 >= la.at && t1 - la.at < PROMPT);
  CHECK_EQ(tt_select_ctx(cs, 3, TT_SELECT_NONBLOCK, c), TT_ECANCELED); /* done is ready */
  CHECK_EQ(tt_select_ctx(NULL, 0, 0, c), TT_ECANCELED);
  CHECK_EQ(tt_context_release(c), 0);

  c = tt_with_timeout(NULL, TT_MS(25));
  dl = tt_context_deadline(c);
  CHECK_EQ(tt_select_ctx(cs, 3, 0, c), TT_ETIMEDOUT);
  t1 = tt_now();
  CHECK(t1 >= dl && t1 - dl < PROMPT);
  CHECK_EQ(tt_context_release(c), 0);

  c = tt_with_timeout(NULL, LONG_NS);
  la = (later_arg){c, TT_MS(10), 0, ch2, 0, 1};
  CHECK(tt_wg_go(wg, recv_later, &la) > 0);
  s3 = 99;
  cs[2].err = 1;
  CHECK_EQ(tt_select_ctx(cs, 3, 0, c), 2); /* the send case wins */
  CHECK_EQ(cs[2].err, 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(la.value, 99);
  /* a ready case beats a live context; buffered value */
  tt_case one = tt_case_recv(buf, &r1);
  r1 = 0;
  CHECK_EQ(tt_select_ctx(&one, 1, TT_SELECT_NONBLOCK, c), 0);
  CHECK_EQ(r1, 31337);
  CHECK_EQ(tt_select_ctx(&one, 1, TT_SELECT_NONBLOCK, c), TT_EAGAIN);
  CHECK_EQ(tt_context_release(c), 0);

  CHECK_EQ(tt_chan_unref(ch), 0);
  CHECK_EQ(tt_chan_unref(ch2), 0);
  CHECK_EQ(tt_chan_unref(buf), 0);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
}

/* ---- lost cancels ---------------------------------------------------------------------------- */

static void test_lost_cancels(void) {
  NOTE("lost cancels");
  int64_t base = tt_context_lost_cancels();
  CHECK(base >= 0);

  tt_context *c = tt_with_cancel(NULL);
  CHECK_EQ(tt_context_unref(c), 0);
  CHECK_EQ(tt_context_lost_cancels(), base + 1);

  c = tt_with_cancel(tt_background());
  tt_context_ref(c);
  CHECK_EQ(tt_context_unref(c), 0); /* not the last reference */
  CHECK_EQ(tt_context_lost_cancels(), base + 1);
  CHECK_EQ(tt_context_unref(c), 0);
  CHECK_EQ(tt_context_lost_cancels(), base + 2);

  /* a deadline context dropped long before its deadline (Go's classic
   * WithTimeout without cancel) */
  c = tt_with_timeout(NULL, LONG_NS);
  CHECK_EQ(tt_context_unref(c), 0);
  CHECK_MSG(tt_context_lost_cancels() == base + 3,
            "with_timeout(60 s) dropped without cancel: lost cancels went %" PRId64 " -> %" PRId64,
            base + 2, tt_context_lost_cancels());
  base = tt_context_lost_cancels();

  /* released properly, or cancelled before the last unref: not counted */
  c = tt_with_cancel(NULL);
  CHECK_EQ(tt_context_release(c), 0);
  c = tt_with_timeout(NULL, LONG_NS);
  CHECK_EQ(tt_context_release(c), 0);
  c = tt_with_deadline(NULL, tt_now() + LONG_NS);
  CHECK_EQ(tt_cancel(c), 0);
  CHECK_EQ(tt_context_unref(c), 0);
  c = tt_with_cancel(NULL);
  tt_context_ref(c);
  CHECK_EQ(tt_context_release(c), 0); /* cancels, drops one of two */
  CHECK_EQ(tt_context_unref(c), 0);
  c = tt_with_cancel(NULL);
  CHECK_EQ(tt_cancel_cause(c, -1, "bye"), 0);
  CHECK_EQ(tt_context_unref(c), 0);
  CHECK_EQ(tt_context_lost_cancels(), base);

  /* value contexts never count */
  tt_context *v = tt_with_value(NULL, &g_key_a, NULL);
  CHECK_EQ(tt_context_unref(v), 0);
  c = tt_with_cancel(NULL);
  v = tt_with_value(c, &g_key_a, NULL);
  CHECK_EQ(tt_context_unref(v), 0);
  CHECK_EQ(tt_context_release(c), 0);
  CHECK_EQ(tt_context_lost_cancels(), base);

  /* expired: the deadline did the cancelling */
  c = tt_with_timeout(NULL, TT_MS(3));
  CHECK_EQ(tt_chan_recv(tt_context_done(c), NULL), TT_ECLOSED);
  CHECK_EQ(tt_context_unref(c), 0);
  CHECK_EQ(tt_context_lost_cancels(), base);
  /* deadline passed, but maybe not yet noticed by any timer: the worker spins */
  c = tt_with_timeout(NULL, TT_MS(1));
  int64_t dl = tt_context_deadline(c);
  while (tt_now() <= dl + TT_MS(1))
    tt_test_spin_ns(TT_US(100));
  CHECK_EQ(tt_context_unref(c), 0);
  CHECK_MSG(tt_context_lost_cancels() == base,
            "dropped after its deadline passed: lost cancels went %" PRId64 " -> %" PRId64, base,
            tt_context_lost_cancels());
  base = tt_context_lost_cancels();

  /* cancelled through the parent */
  tt_context *p = tt_with_cancel(NULL);
  tt_context *k = tt_with_timeout(p, LONG_NS);
  CHECK_EQ(tt_context_release(p), 0);
  CHECK_EQ(tt_context_unref(k), 0);
  CHECK_EQ(tt_context_lost_cancels(), base);
  /* a parent dropped (not cancelled) while a child keeps it: counted once,
   * when its last reference (the child's) goes */
  p = tt_with_cancel(NULL);
  k = tt_with_cancel(p);
  CHECK_EQ(tt_context_unref(p), 0);
  CHECK_EQ(tt_context_err(k), 0); /* nobody cancelled the parent */
  CHECK_EQ(tt_context_release(k), 0);
  CHECK_EQ(tt_context_lost_cancels(), base + 1);
}

/* ---- release orders, timers of released contexts ------------------------------------------------
 */

static void test_release_orders(void) {
  NOTE("release orders");
  int64_t lost0 = tt_context_lost_cancels();
  /* parent first: the children stay usable */
  tt_context *p = tt_with_cancel(NULL);
  tt_context *c = tt_with_cancel(p);
  tt_context *g = tt_with_timeout(c, LONG_NS);
  int x;
  tt_context *v = tt_with_value(g, &g_key_b, &x);
  CHECK_EQ(tt_context_release(p), 0);
  CHECK_EQ(tt_context_err(c), TT_ECANCELED);
  CHECK_EQ(tt_context_err(v), TT_ECANCELED);
  CHECK(tt_context_value(v, &g_key_b) == &x);
  CHECK(is_done_chan(g));
  CHECK_EQ(tt_context_release(c), 0);
  CHECK_EQ(tt_context_unref(v), 0);
  CHECK_EQ(tt_context_release(g), 0);

  /* children first */
  p = tt_with_cancel(NULL);
  c = tt_with_cancel(p);
  g = tt_with_timeout(c, LONG_NS);
  CHECK_EQ(tt_context_release(g), 0);
  CHECK_EQ(tt_context_err(c), 0);
  CHECK_EQ(tt_context_release(c), 0);
  CHECK_EQ(tt_context_err(p), 0);
  CHECK_EQ(tt_context_release(p), 0);

  /* contexts whose timers would fire after they are gone */
  enum { NT = 500 };
  tt_context *t[NT];
  for (int i = 0; i < NT; i++)
    t[i] = tt_with_timeout(NULL, TT_US(200) + (int64_t)(rnd() % TT_MS(5)));
  for (int i = 0; i < NT; i++) {
    CHECK_EQ(tt_context_release(t[i]), 0);
    if (i % 50 == 0)
      tt_yield();
  }
  tt_sleep(TT_MS(15));
  /* children of expiring parents, released from the leaves and from the root */
  for (int i = 0; i < 50; i++) {
    tt_context *r = tt_with_timeout(NULL, TT_US(50) * (i % 20));
    tt_context *m = tt_with_cancel(r);
    tt_context *l = tt_with_timeout(m, TT_MS(1));
    if (i % 3 == 0)
      tt_sleep(TT_US(300));
    if (i % 2) {
      tt_context_release(r);
      tt_context_release(m);
      tt_context_release(l);
    } else {
      tt_context_release(l);
      tt_context_release(m);
      tt_context_release(r);
    }
  }
  tt_sleep(TT_MS(10));
  CHECK_EQ(tt_context_lost_cancels(), lost0);
}

/* ---- cancel fan-out ----------------------------------------------------------------------------
 */

typedef struct {
  tt_context *ctx;
  tt_chan *ch;
  atomic_long started, canceled, other;
} fan_arg;

static void fan_waiter(void *arg) {
  fan_arg *a = arg;
  int v = 0;
  atomic_fetch_add(&a->started, 1);
  int rc = tt_chan_recv_ctx(a->ch, &v, a->ctx);
  if (rc == TT_ECANCELED)
    atomic_fetch_add(&a->canceled, 1);
  else
    atomic_fetch_add(&a->other, 1);
}

/* mixed waits on per-task children of one root */
typedef struct {
  tt_context *root;
  tt_chan *rx; /* nobody sends on it */
  tt_chan *tx; /* nobody receives from it */
  int kind;
  atomic_long *canceled;
} fan2_arg;

static void fan2_waiter(void *arg) {
  fan2_arg *a = arg;
  tt_context *mine = (a->kind % 2) ? tt_with_cancel(a->root) : tt_with_timeout(a->root, LONG_NS);
  int v = 1, rc;
  switch (a->kind) {
  case 0: rc = tt_sleep_ctx(LONG_NS, mine); break;
  case 1: rc = tt_chan_send_ctx(a->tx, &v, mine); break;
  case 2: rc = tt_chan_recv_ctx(a->rx, &v, mine); break;
  default: {
    tt_case k[2] = {tt_case_recv(a->rx, &v), tt_case_recv(NULL, &v)};
    rc = tt_select_ctx(k, 2, 0, mine);
    break;
  }
  }
  if (rc == TT_ECANCELED && tt_context_err(mine) == TT_ECANCELED)
    atomic_fetch_add(a->canceled, 1);
  tt_context_unref(mine); /* cancelled through the root: not lost */
}

static void test_fanout(void) {
  long n = tt_test_scale_min(10000, 100);
  NOTE("fan-out: %ld tasks on one context", n);
  fan_arg a;
  a.ctx = tt_with_cancel(NULL);
  a.ch = tt_chan_make(sizeof(int), 0);
  atomic_store(&a.started, 0);
  atomic_store(&a.canceled, 0);
  atomic_store(&a.other, 0);
  tt_wg *wg = tt_wg_make();
  for (long i = 0; i < n; i++)
    if (tt_wg_go(wg, fan_waiter, &a) <= 0) {
      CHECK_MSG(0, "spawn %ld failed", i);
      break;
    }
  int64_t until = tt_test_mono_ns() + PROMPT * 10;
  while (atomic_load(&a.started) < n && tt_test_mono_ns() < until)
    tt_sleep(TT_MS(1));
  CHECK_EQ(atomic_load(&a.started), n);
  tt_sleep(TT_MS(10));
  CHECK_EQ(atomic_load(&a.canceled), 0);
  int64_t t0 = tt_now();
  CHECK_EQ(tt_cancel(a.ctx), 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  int64_t took = tt_now() - t0;
  CHECK_EQ(atomic_load(&a.canceled), n);
  CHECK_EQ(atomic_load(&a.other), 0);
  CHECK_MSG(took < PROMPT * 5, "fan-out of %ld took %" PRId64 " ms", n, took / 1000000);
  NOTE("procs %d: %ld waiters woke in %" PRId64 " us", g_procs, n, took / 1000);
  /* no stale receiver is left on the channel */
  int v = 1;
  CHECK_EQ(tt_chan_try_send(a.ch, &v), TT_EAGAIN);
  CHECK_EQ(tt_context_release(a.ctx), 0);
  CHECK_EQ(tt_chan_unref(a.ch), 0);

  /* a tree: one cancel of the root reaches every per-task child, all wait kinds */
  long m = tt_test_scale_min(2000, 40);
  fan2_arg *args = calloc((size_t)m, sizeof *args);
  atomic_long canceled;
  atomic_store(&canceled, 0);
  tt_context *root = tt_with_timeout(NULL, LONG_NS);
  tt_chan *ch = tt_chan_make(sizeof(int), 0), *tx = tt_chan_make(sizeof(int), 0);
  for (long i = 0; i < m; i++) {
    args[i] = (fan2_arg){root, ch, tx, (int)(i % 4), &canceled};
    CHECK(tt_wg_go(wg, fan2_waiter, &args[i]) > 0);
  }
  tt_sleep(TT_MS(20));
  CHECK_EQ(atomic_load(&canceled), 0);
  CHECK_EQ(tt_cancel(root), 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(atomic_load(&canceled), m);
  CHECK_EQ(tt_chan_try_send(ch, &v), TT_EAGAIN);
  CHECK_EQ(tt_chan_try_recv(tx, &v), TT_EAGAIN);
  CHECK_EQ(tt_context_release(root), 0);
  CHECK_EQ(tt_chan_unref(ch), 0);
  CHECK_EQ(tt_chan_unref(tx), 0);
  free(args);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
}

/* ---- from a plain thread while the runtime runs -------------------------------------------------
 */

static void *plain_thread_checks(void *arg) {
  (void)arg;
  tt_context *c = tt_with_cancel(NULL);
  tt_chan *ch = tt_chan_make(sizeof(int), 0);
  int v = 0;
  CHECK_EQ(tt_sleep_ctx(TT_MS(1), c), TT_ENOTASK);
  CHECK_EQ(tt_chan_recv_ctx(ch, &v, c), TT_ENOTASK);
  CHECK_EQ(tt_chan_send_ctx(ch, &v, c), TT_ENOTASK);
  tt_case k = tt_case_recv(ch, &v);
  CHECK_EQ(tt_select_ctx(&k, 1, 0, c), TT_ENOTASK);
  CHECK_EQ(tt_select_ctx(&k, 1, TT_SELECT_NONBLOCK, c), TT_EAGAIN);
  CHECK_EQ(tt_cancel(c), 0);
  CHECK_EQ(tt_select_ctx(&k, 1, TT_SELECT_NONBLOCK, c), TT_ECANCELED);
  CHECK_EQ(tt_context_release(c), 0);
  /* a deadline made on a plain thread fires through the runtime's timers */
  c = tt_with_timeout(NULL, TT_MS(20));
  int64_t dl = tt_context_deadline(c);
  int64_t until = dl + PROMPT;
  int st;
  while ((st = chan_state(tt_context_done(c))) == TT_EAGAIN && tt_now() < until)
    tt_test_sleep_ns(TT_MS(1));
  CHECK_EQ(st, TT_ECLOSED);
  CHECK(tt_now() >= dl);
  CHECK_EQ(tt_context_err(c), TT_ETIMEDOUT);
  CHECK_EQ(tt_context_unref(c), 0);
  tt_chan_unref(ch);
  return NULL;
}

static void test_plain_thread(void) {
  NOTE("plain thread");
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, plain_thread_checks, NULL), 0);
  task_join(th);
}

/* made before tt_init: no timer could be armed, the waits still honour it */
static tt_context *g_pre;

static void test_made_before_init(void) {
  NOTE("context made before tt_init");
  tt_chan *never = tt_chan_make(sizeof(int), 0);
  int v;
  int64_t dl = tt_context_deadline(g_pre);
  CHECK_EQ(tt_chan_recv_ctx(never, &v, g_pre), TT_ETIMEDOUT);
  CHECK(tt_now() >= dl);
  CHECK(tt_now() - dl < PROMPT);
  CHECK_EQ(tt_sleep_ctx(LONG_NS, g_pre), TT_ETIMEDOUT);
  CHECK_EQ(tt_context_err(g_pre), TT_ETIMEDOUT);
  tt_chan_unref(never);
}

static void ctx_main(void *arg) {
  (void)arg;
  g_procs = tt_procs();
  test_made_before_init();
  test_background();
  test_tree_cancel();
  test_deadline_inheritance();
  test_deadline_fires();
  test_cause();
  test_first_cancel_wins();
  test_cancel_races();
  test_values();
  test_ctx_waits();
  test_lost_cancels();
  test_release_orders();
  test_fanout();
  test_plain_thread();
}

/* ---- without a runtime
 * ----------------------------------------------------------------------------- */

static void test_without_runtime(void) {
  NOTE("without a runtime");
  CHECK_EQ(tt_procs(), 0);
  int64_t lost0 = tt_context_lost_cancels();
  tt_context *c = tt_with_timeout(NULL, TT_MS(2));
  CHECK(c != NULL);
  int64_t dl = tt_context_deadline(c);
  while (tt_now() <= dl)
    tt_test_sleep_ns(TT_US(200));
  /* no timer can have run; the deadline has passed all the same */
  CHECK_EQ(tt_context_unref(c), 0);
  CHECK_MSG(tt_context_lost_cancels() == lost0,
            "dropped after its deadline (no runtime): lost cancels went %" PRId64 " -> %" PRId64,
            lost0, tt_context_lost_cancels());
  c = tt_with_timeout(NULL, TT_MS(2));
  dl = tt_context_deadline(c);
  while (tt_now() <= dl)
    tt_test_sleep_ns(TT_US(200));
  CHECK_EQ(tt_context_err(c), TT_ETIMEDOUT);
  CHECK(is_done_chan(c));
  CHECK_EQ(tt_context_unref(c), 0);
  c = tt_with_cancel(NULL);
  tt_context *k = tt_with_cancel(c);
  CHECK_EQ(tt_cancel(c), 0);
  CHECK_EQ(tt_context_err(k), TT_ECANCELED);
  CHECK_EQ(tt_context_release(k), 0);
  CHECK_EQ(tt_context_release(c), 0);
}

/* ---- TT_STRICT=1: a lost cancel is reported with its site (child process)
 * ------------------------ */

static int g_strict_line;
static void strict_child_main(void *arg) {
  (void)arg;
  tt_context *c = tt_with_cancel(NULL);
  g_strict_line = __LINE__ - 1;
  fprintf(stderr, "site-line %d\n", g_strict_line);
  fflush(stderr);
  tt_context_unref(c);
}

static int run_self(const char *mode, char **err_out, int *status) {
  return tt_test_run_self("test_context", mode, "TT_STRICT=1", err_out, status);
}

static void test_strict_report(void) {
  NOTE("TT_STRICT=1 lost-cancel report");
  char *err = NULL;
  int status = 0;
  CHECK_EQ(run_self("--strict-child", &err, &status), 0);
  if (!err)
    return;
  CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x; stderr:\n%s", status,
            err);
  int line = 0;
  const char *p = strstr(err, "site-line ");
  if (p)
    line = atoi(p + 10);
  CHECK(line > 0);
  char site[64];
  snprintf(site, sizeof site, "test_context.c:%d", line);
  CHECK_MSG(strstr(err, site) != NULL, "no \"%s\" in the strict report:\n%s", site, err);
  free(err);
}

/* ---- contexts that outlive the runtime that armed their timers (child process) ----------------
 */

static tt_context *g_out[4];
static void outlive_child_main(void *arg) {
  (void)arg;
  g_out[0] = tt_with_timeout(NULL, LONG_NS);
  g_out[1] = tt_with_cancel(g_out[0]);
  g_out[2] = tt_with_deadline(NULL, tt_now() + LONG_NS);
  g_out[3] = tt_with_timeout(g_out[1], LONG_NS / 2);
}

static int outlive_child(void) {
  tt_config cfg = {1, 0};
  if (tt_init(&cfg) != 0)
    return 2;
  if (tt_main(outlive_child_main, NULL) != 0)
    return 3;
  if (tt_shutdown() != 0)
    return 4;
  int bad = 0;
  for (int i = 0; i < 4; i++)
    bad += tt_context_err(g_out[i]) != 0;
  /* released after the runtime is gone, in a mixed order */
  bad += tt_context_release(g_out[1]) != 0;
  bad += tt_context_release(g_out[0]) != 0;
  bad += tt_context_release(g_out[3]) != 0;
  bad += tt_context_release(g_out[2]) != 0;
  /* and the runtime starts again afterwards */
  if (tt_init(&cfg) != 0 || tt_shutdown() != 0)
    bad++;
  return bad ? 1 : 0;
}

static void test_outlive_runtime(void) {
  NOTE("deadline contexts released after tt_shutdown (child process)");
  char *err = NULL;
  int status = 0;
  CHECK_EQ(run_self("--outlive-child", &err, &status), 0);
  if (!err)
    return;
  CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0 && !strstr(err, "Sanitizer"),
            "child status 0x%x; stderr:\n%s", status, err);
  free(err);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "--strict-child") == 0) {
    tt_test_watchdog(30);
    int rc = tt_main(strict_child_main, NULL);
    return rc == 0 && tt_context_lost_cancels() == 1 ? 0 : 1;
  }
  if (argc > 1 && strcmp(argv[1], "--outlive-child") == 0) {
    tt_test_watchdog(30);
    return outlive_child();
  }
  tt_test_watchdog(300);
  test_strict_report();
  test_without_runtime();
  g_pre = tt_with_timeout(NULL, TT_MS(40));
  RUN_MAIN(1, ctx_main, NULL);
  CHECK_EQ(tt_context_release(g_pre), 0);
  g_pre = tt_with_timeout(NULL, TT_MS(40));
  RUN_MAIN(2, ctx_main, NULL);
  CHECK_EQ(tt_context_release(g_pre), 0);
  test_without_runtime();
  test_outlive_runtime();
  CHECK_EQ(tt_num_tasks(), 0);
  return TEST_REPORT();
}
