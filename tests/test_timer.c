/*
 * test_timer: timers and tickers.
 *
 *  - a timer fires once, never early; the value on its channel (capacity 1)
 *    is its fire time, >= the deadline and <= when it was received; it
 *    fires also when nobody waits;
 *  - Go 1.23's stop: before the fire it returns 1 and nothing is ever
 *    delivered; after the value was received it returns 0; with the value
 *    unread it discards it and returns 1; concurrent stops: exactly one
 *    returns 1; stop and reset racing the fire with nobody receiving: always
 *    1 and no stale value; racing a receiver: 0 <=> the receiver got it;
 *  - reset re-arms (after a fire, a stop, or while pending, earlier or
 *    later) and returns what stop would have;
 *  - a ticker ticks at roughly its period, keeps no backlog for a slow
 *    reader, stops, and changes period on reset;
 *  - freeing running timers and tickers is clean (ASan);
 *  - thousands of timers all fire, each not before its deadline;
 *  - timers from a plain thread.
 *
 * Every scenario runs on 1 and on 2 workers.
 */
#include "harness.h"

#include <pthread.h>

#define PROMPT (TT_TEST_SANITIZED ? TT_MS(4000) : TT_MS(1000))
#define LONG_NS TT_MS(60000)

static int g_procs;

static uint64_t g_rng = 0xD1B54A32D192ED03ULL;
static uint64_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

static void join_fn(void *arg) { pthread_join(*(pthread_t *)arg, NULL); }

/* ---- one-shot timers ----------------------------------------------------------------- */

static void test_timer_fires_once(void) {
  NOTE("timer fires once");
  int64_t t0 = tt_now();
  tt_timer *t = tt_timer_make(TT_MS(20));
  CHECK(t != NULL);
  if (!t)
    return;
  tt_chan *c = tt_timer_chan(t);
  CHECK(c != NULL);
  CHECK(tt_timer_chan(t) == c);
  CHECK_EQ(tt_chan_cap(c), 1);
  int64_t v = 0;
  CHECK_EQ(tt_chan_recv(c, &v), 0);
  int64_t t1 = tt_now();
  CHECK_MSG(v >= t0 + TT_MS(20), "fired %" PRId64 " us early",
            (int64_t)((t0 + TT_MS(20) - v) / 1000));
  CHECK(v <= t1);
  CHECK(t1 >= t0 + TT_MS(20));
  CHECK(t1 - (t0 + TT_MS(20)) < PROMPT);
  /* once only */
  CHECK_EQ(tt_chan_recv_until(c, &v, tt_now() + TT_MS(40)), TT_ETIMEDOUT);
  CHECK_EQ(tt_timer_stop(t), 0);
  CHECK_EQ(tt_timer_stop(t), 0);
  CHECK_EQ(tt_timer_free(t), 0);

  /* nobody waits: the value sits in the channel */
  t0 = tt_now();
  t = tt_timer_make(TT_MS(10));
  c = tt_timer_chan(t);
  tt_sleep(TT_MS(30));
  int64_t end = tt_now() + PROMPT;
  while (tt_chan_len(c) == 0 && tt_now() < end)
    tt_sleep(TT_MS(1));
  CHECK_EQ(tt_chan_len(c), 1);
  v = 0;
  CHECK_EQ(tt_chan_try_recv(c, &v), 0);
  CHECK(v >= t0 + TT_MS(10));
  CHECK(v <= tt_now());
  CHECK_EQ(tt_chan_try_recv(c, &v), TT_EAGAIN);
  CHECK_EQ(tt_timer_stop(t), 0); /* it had fired */
  CHECK_EQ(tt_timer_free(t), 0);

  /* zero duration: fires at once */
  t0 = tt_now();
  t = tt_timer_make(0);
  CHECK_EQ(tt_chan_recv_until(tt_timer_chan(t), &v, tt_now() + PROMPT), 0);
  CHECK(v >= t0);
  CHECK_EQ(tt_timer_free(t), 0);

  /* in select, against a channel that never delivers */
  tt_chan *never = tt_chan_make(sizeof(int), 0);
  t0 = tt_now();
  t = tt_timer_make(TT_MS(15));
  int x;
  tt_case cs[2] = {tt_case_recv(never, &x), tt_case_recv(tt_timer_chan(t), &v)};
  CHECK_EQ(tt_select(cs, 2, 0, tt_now() + LONG_NS), 1);
  CHECK(v >= t0 + TT_MS(15));
  CHECK_EQ(tt_timer_free(t), 0);
  tt_chan_unref(never);
}

static void test_timer_stop(void) {
  NOTE("timer stop");
  int64_t t0 = tt_now();
  tt_timer *t = tt_timer_make(TT_MS(30));
  tt_chan *c = tt_timer_chan(t);
  int rc = tt_timer_stop(t);
  if (tt_now() < t0 + TT_MS(30)) { /* certainly still pending at the stop */
    CHECK_EQ(rc, 1);
    CHECK_EQ(tt_timer_stop(t), 0); /* stopped already */
    int64_t v;
    CHECK_EQ(tt_chan_recv_until(c, &v, tt_now() + TT_MS(60)), TT_ETIMEDOUT);
    CHECK_EQ(tt_chan_len(c), 0);
  } else {
    NOTE("too slow to stop a 30 ms timer in time: skipped");
  }
  CHECK_EQ(tt_timer_free(t), 0);

  /* stop after the fire */
  t = tt_timer_make(TT_MS(5));
  c = tt_timer_chan(t);
  int64_t end = tt_now() + PROMPT + TT_MS(5);
  while (tt_chan_len(c) == 0 && tt_now() < end)
    tt_sleep(TT_MS(1));
  CHECK_EQ(tt_chan_len(c), 1);
  /* its value was never received: the stop discards it and says stopped */
  CHECK_EQ(tt_timer_stop(t), 1);
  CHECK_EQ(tt_chan_len(c), 0);
  int64_t v;
  CHECK_EQ(tt_chan_try_recv(c, &v), TT_EAGAIN);
  CHECK_EQ(tt_timer_stop(t), 0); /* stopped already */
  CHECK_EQ(tt_timer_free(t), 0);
}

typedef struct {
  tt_timer *t;
  atomic_int go;
  atomic_int ones;
  atomic_int zeros;
} stop_race;

static void stop_racer(void *arg) {
  stop_race *r = arg;
  while (!atomic_load(&r->go))
    tt_yield();
  int rc = tt_timer_stop(r->t);
  if (rc == 1)
    atomic_fetch_add(&r->ones, 1);
  else if (rc == 0)
    atomic_fetch_add(&r->zeros, 1);
}

typedef struct {
  tt_timer *t;
  tt_chan *quit;
  atomic_int got; /* 1: received the timer's value, 0: saw quit first */
} recv_race;

/* Receives the timer's value or gives up when quit closes. Once the timer
 * is stopped, quit is closed, so a value still in the timer's channel then
 * would be a race between the two cases: the contract says there is none. */
static void timer_receiver(void *arg) {
  recv_race *r = arg;
  int64_t v;
  tt_case cs[2] = {tt_case_recv(tt_timer_chan(r->t), &v), tt_case_recv(r->quit, NULL)};
  int i = tt_select(cs, 2, 0, TT_NO_DEADLINE);
  atomic_store(&r->got, i == 0 ? 1 : 0);
}

static void test_timer_stop_races(void) {
  NOTE("timer stop races");
  tt_wg *wg = tt_wg_make();
  long rounds = tt_test_scale_min(200, 20);
  /* concurrent stops of a pending timer: exactly one wins */
  for (long i = 0; i < rounds; i++) {
    stop_race r;
    r.t = tt_timer_make(LONG_NS);
    atomic_store(&r.go, 0);
    atomic_store(&r.ones, 0);
    atomic_store(&r.zeros, 0);
    for (int k = 0; k < 3; k++)
      CHECK(tt_wg_go(wg, stop_racer, &r) > 0);
    tt_yield();
    atomic_store(&r.go, 1);
    CHECK_EQ(tt_wg_wait(wg), TT_OK);
    CHECK_EQ(atomic_load(&r.ones), 1);
    CHECK_EQ(atomic_load(&r.zeros), 2);
    CHECK_EQ(tt_chan_len(tt_timer_chan(r.t)), 0);
    CHECK_EQ(tt_timer_free(r.t), 0);
  }
  /* stop and reset racing the fire, nobody receiving: Go 1.23's contract.
   * The value was never received, so both say "stopped" (1) whether the
   * timer was pending, its callback in flight or its value unread, and no
   * value arrives afterwards. (Before that contract was kept, a stop that
   * met the callback in flight said "fired" and nothing ever came.) */
  long bad_stop = 0, bad_reset = 0, stale = 0, unread = 0;
  for (long i = 0; i < rounds; i++) {
    tt_timer *t = tt_timer_make((int64_t)(rnd() % TT_US(400)));
    tt_chan *c = tt_timer_chan(t);
    int64_t pause = (int64_t)(rnd() % TT_US(400));
    if (i % 2)
      tt_test_spin_ns(pause);
    else
      tt_sleep(pause);
    unread += tt_chan_len(c) != 0; /* a hint of which case this round was */
    int64_t v;
    if (i % 4 < 2) {
      bad_stop += tt_timer_stop(t) != 1;
    } else {
      bad_reset += tt_timer_reset(t, LONG_NS) != 1;
      bad_reset += tt_timer_stop(t) != 1;
    }
    stale += tt_chan_try_recv(c, &v) != TT_EAGAIN;
    if (i % 16 == 0) { /* and nothing comes later either */
      tt_sleep(TT_MS(1));
      stale += tt_chan_try_recv(c, &v) != TT_EAGAIN;
    }
    CHECK_EQ(tt_timer_free(t), 0);
  }
  CHECK_EQ(bad_stop, 0);
  CHECK_EQ(bad_reset, 0);
  CHECK_EQ(stale, 0);
  NOTE("procs %d: stop/reset vs fire: %ld rounds, %ld with the value unread", g_procs, rounds,
       unread);
  /* stop racing a receiver: 0 ("fired") exactly when the receiver got the
   * value, and then Go's `if (!stop) recv` idiom would be the caller's own
   * second receive; 1 exactly when nothing was or will be received. */
  long fired = 0, stopped = 0, bad = 0;
  for (long i = 0; i < rounds; i++) {
    recv_race r = {.t = tt_timer_make((int64_t)(rnd() % TT_US(300))), .quit = tt_chan_make(0, 0)};
    atomic_store(&r.got, -1);
    CHECK(tt_wg_go(wg, timer_receiver, &r) > 0);
    int64_t pause = (int64_t)(rnd() % TT_US(300));
    if (i % 2)
      tt_test_spin_ns(pause);
    else
      tt_sleep(pause);
    int rc = tt_timer_stop(r.t);
    int64_t v;
    bad += tt_chan_try_recv(tt_timer_chan(r.t), &v) != TT_EAGAIN;
    CHECK_EQ(tt_chan_close(r.quit), TT_OK);
    CHECK_EQ(tt_wg_wait(wg), TT_OK);
    int got = atomic_load(&r.got);
    if (rc == 0 && got == 1)
      fired++;
    else if (rc == 1 && got == 0)
      stopped++;
    else
      bad++;
    CHECK_EQ(tt_timer_free(r.t), 0);
    tt_chan_unref(r.quit);
  }
  CHECK_EQ(bad, 0);
  NOTE("procs %d: stop vs fire with a receiver: %ld stopped, %ld received", g_procs, stopped,
       fired);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
}

static void test_timer_reset(void) {
  NOTE("timer reset");
  int64_t v = 0, tr;
  /* after a fire */
  tt_timer *t = tt_timer_make(TT_MS(5));
  tt_chan *c = tt_timer_chan(t);
  CHECK_EQ(tt_chan_recv(c, &v), 0);
  tr = tt_now();
  CHECK_EQ(tt_timer_reset(t, TT_MS(20)), 0);
  CHECK_EQ(tt_chan_recv(c, &v), 0);
  CHECK(v >= tr + TT_MS(20));
  CHECK(tt_now() - (tr + TT_MS(20)) < PROMPT);
  CHECK_EQ(tt_timer_free(t), 0);

  /* pending, to an earlier time */
  t = tt_timer_make(LONG_NS);
  c = tt_timer_chan(t);
  tr = tt_now();
  CHECK_EQ(tt_timer_reset(t, TT_MS(20)), 1);
  CHECK_EQ(tt_chan_recv_until(c, &v, tr + TT_MS(20) + PROMPT), 0);
  CHECK(v >= tr + TT_MS(20));
  CHECK_EQ(tt_chan_recv_until(c, &v, tt_now() + TT_MS(30)), TT_ETIMEDOUT); /* once */
  CHECK_EQ(tt_timer_free(t), 0);

  /* pending, to a later time: the old deadline does not fire */
  int64_t t0 = tt_now();
  t = tt_timer_make(TT_MS(20));
  c = tt_timer_chan(t);
  tr = tt_now();
  int rc = tt_timer_reset(t, TT_MS(100));
  if (tt_now() < t0 + TT_MS(20)) { /* certainly still pending at the reset */
    CHECK_EQ(rc, 1);
    CHECK_EQ(tt_chan_recv_until(c, &v, tr + TT_MS(60)), TT_ETIMEDOUT);
    CHECK_EQ(tt_chan_recv_until(c, &v, tr + TT_MS(100) + PROMPT), 0);
    CHECK(v >= tr + TT_MS(100));
  } else {
    NOTE("too slow to reset a 20 ms timer in time: skipped");
  }
  CHECK_EQ(tt_timer_free(t), 0);

  /* after a stop */
  t = tt_timer_make(LONG_NS);
  c = tt_timer_chan(t);
  CHECK_EQ(tt_timer_stop(t), 1);
  tr = tt_now();
  CHECK_EQ(tt_timer_reset(t, TT_MS(10)), 0);
  CHECK_EQ(tt_chan_recv_until(c, &v, tr + TT_MS(10) + PROMPT), 0);
  CHECK(v >= tr + TT_MS(10));
  /* and stop after a reset */
  CHECK_EQ(tt_timer_reset(t, LONG_NS), 0);
  CHECK_EQ(tt_timer_stop(t), 1);
  CHECK_EQ(tt_chan_recv_until(c, &v, tt_now() + TT_MS(50)), TT_ETIMEDOUT);
  /* many resets in a row: only the last counts, one value */
  for (int i = 0; i < 50; i++)
    tt_timer_reset(t, LONG_NS + i * TT_US(100));
  tr = tt_now();
  CHECK_EQ(tt_timer_reset(t, TT_MS(15)), 1);
  CHECK_EQ(tt_chan_recv_until(c, &v, tr + TT_MS(15) + PROMPT), 0);
  CHECK(v >= tr + TT_MS(15));
  CHECK_EQ(tt_chan_recv_until(c, &v, tt_now() + TT_MS(30)), TT_ETIMEDOUT);
  CHECK_EQ(tt_timer_free(t), 0);
}

/* ---- tickers --------------------------------------------------------------------------------- */

static void test_ticker_rate(void) {
  NOTE("ticker rate");
  int64_t t0 = tt_now();
  tt_ticker *tk = tt_ticker_make(TT_MS(10));
  CHECK(tk != NULL);
  if (!tk)
    return;
  tt_chan *c = tt_ticker_chan(tk);
  CHECK(c != NULL);
  CHECK_EQ(tt_chan_cap(c), 1);
  int64_t end = t0 + TT_MS(200), prev = 0, first = 0, v;
  int n = 0, order_bad = 0, future = 0;
  while (tt_chan_recv_until(c, &v, end) == 0) {
    if (!n)
      first = v;
    if (v <= prev)
      order_bad++;
    if (v > tt_now())
      future++;
    prev = v;
    n++;
  }
  NOTE("procs %d: %d ticks of 10 ms in 200 ms", g_procs, n);
  CHECK_MSG(n >= 5 && n <= 21, "%d ticks of a 10 ms ticker in 200 ms", n);
  CHECK(first >= t0 + TT_MS(10));
  CHECK_EQ(order_bad, 0);
  CHECK_EQ(future, 0);
  CHECK(tt_ticker_stop(tk) >= 0);
  CHECK_EQ(tt_ticker_free(tk), 0);
}

static void test_ticker_slow_reader(void) {
  NOTE("ticker slow reader");
  tt_ticker *tk = tt_ticker_make(TT_MS(5));
  tt_chan *c = tt_ticker_chan(tk);
  int64_t v1 = 0, v2 = 0;
  for (int round = 0; round < 3; round++) {
    tt_sleep(TT_MS(60)); /* ~12 periods unread */
    int64_t slept_until = tt_now();
    CHECK(tt_chan_len(c) <= 1);
    CHECK_EQ(tt_chan_recv_until(c, &v1, tt_now() + PROMPT), 0);
    CHECK_EQ(tt_chan_recv_until(c, &v2, tt_now() + PROMPT), 0);
    /* no backlog: the tick after the buffered one was sent after we drained */
    CHECK_MSG(v2 >= slept_until, "round %d: second tick is %" PRId64 " us old: a backlog", round,
              (slept_until - v2) / 1000);
    CHECK(v2 > v1);
  }
  CHECK_EQ(tt_ticker_free(tk), 0);
}

static void test_ticker_stop_reset(void) {
  NOTE("ticker stop / reset");
  tt_ticker *tk = tt_ticker_make(TT_MS(5));
  tt_chan *c = tt_ticker_chan(tk);
  int64_t v;
  CHECK_EQ(tt_chan_recv(c, &v), 0);
  CHECK_EQ(tt_chan_recv(c, &v), 0);
  CHECK(tt_ticker_stop(tk) >= 0);
  tt_sleep(TT_MS(10)); /* a send in flight at the stop lands by now */
  while (tt_chan_try_recv(c, &v) == 0) {
  }
  CHECK_EQ(tt_chan_recv_until(c, &v, tt_now() + TT_MS(50)), TT_ETIMEDOUT);
  CHECK_EQ(tt_ticker_free(tk), 0);

  /* reset to a shorter period */
  tk = tt_ticker_make(TT_MS(300));
  c = tt_ticker_chan(tk);
  int64_t tr = tt_now();
  CHECK(tt_ticker_reset(tk, TT_MS(5)) >= 0);
  int n = 0;
  int64_t first = 0;
  while (tt_chan_recv_until(c, &v, tr + TT_MS(100)) == 0) {
    if (!n)
      first = v;
    n++;
  }
  CHECK_MSG(n >= 5, "only %d ticks in 100 ms after reset to 5 ms", n);
  CHECK(first >= tr + TT_MS(5));
  /* reset to a longer period */
  tr = tt_now();
  CHECK(tt_ticker_reset(tk, TT_MS(250)) >= 0);
  tt_sleep(TT_MS(10));
  while (tt_chan_try_recv(c, &v) == 0) {
  }
  CHECK_EQ(tt_chan_recv_until(c, &v, tr + TT_MS(200)), TT_ETIMEDOUT);
  CHECK_EQ(tt_chan_recv_until(c, &v, tr + TT_MS(250) + PROMPT), 0);
  CHECK(v >= tr + TT_MS(250));
  CHECK_EQ(tt_ticker_free(tk), 0);
}

/* ---- freeing running timers and tickers -------------------------------------------------------
 */

static void free_in_task(void *arg) {
  tt_sleep(TT_MS(1));
  tt_timer_free(arg);
}

static void test_free_running(void) {
  NOTE("free running timers and tickers");
  enum { NT = 200, NK = 50 };
  tt_timer *t[NT];
  tt_ticker *k[NK];
  for (int i = 0; i < NT; i++)
    t[i] = tt_timer_make(TT_US(100) + (int64_t)(rnd() % TT_MS(4)));
  for (int i = 0; i < NK; i++)
    k[i] = tt_ticker_make(TT_US(200) + (int64_t)(rnd() % TT_MS(2)));
  for (int i = 0; i < NT; i += 2)
    CHECK_EQ(tt_timer_free(t[i]), 0);
  for (int i = 0; i < NK; i += 2)
    CHECK_EQ(tt_ticker_free(k[i]), 0);
  tt_sleep(TT_MS(3)); /* some fired, some ticked */
  tt_wg *wg = tt_wg_make();
  for (int i = 1; i < NT; i += 2) {
    if (i % 3 == 0)
      CHECK(tt_wg_go(wg, free_in_task, t[i]) > 0);
    else
      CHECK_EQ(tt_timer_free(t[i]), 0);
  }
  for (int i = 1; i < NK; i += 2)
    CHECK_EQ(tt_ticker_free(k[i]), 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  tt_sleep(TT_MS(10)); /* anything still referring to them would fire now */
  /* stopped, then freed; fired with the value unread, then freed */
  tt_timer *a = tt_timer_make(TT_MS(1));
  CHECK_EQ(tt_timer_stop(a), 1);
  CHECK_EQ(tt_timer_free(a), 0);
  a = tt_timer_make(TT_US(100));
  tt_sleep(TT_MS(3));
  CHECK_EQ(tt_timer_free(a), 0);
  tt_ticker *b = tt_ticker_make(TT_MS(1));
  CHECK(tt_ticker_stop(b) >= 0);
  CHECK_EQ(tt_ticker_free(b), 0);
}

/* ---- many timers
 * --------------------------------------------------------------------------------- */

static void test_many_timers(void) {
  long n = tt_test_scale_min(10000, 500);
  NOTE("%ld timers", n);
  tt_timer **t = calloc((size_t)n, sizeof *t);
  int64_t *dl = calloc((size_t)n, sizeof *dl);
  long made = 0;
  for (long i = 0; i < n; i++) {
    int64_t d = TT_MS(1) + (int64_t)(rnd() % TT_MS(50));
    dl[i] = tt_now() + d;
    t[i] = tt_timer_make(d);
    if (!t[i])
      break;
    made++;
  }
  CHECK_EQ(made, n);
  long fired = 0, early = 0;
  int64_t limit = tt_now() + TT_MS(50) + PROMPT * 5;
  for (long i = 0; i < made; i++) {
    int64_t v = 0;
    if (tt_chan_recv_until(tt_timer_chan(t[i]), &v, limit) == 0) {
      fired++;
      if (v < dl[i])
        early++;
    }
  }
  CHECK_EQ(fired, made);
  CHECK_EQ(early, 0);
  for (long i = 0; i < made; i++)
    CHECK_EQ(tt_timer_free(t[i]), 0);
  free(t);
  free(dl);
}

/* timers waited on by tasks spread over the workers */
typedef struct {
  int64_t d;
  int64_t made;
  int ok;
} timer_task_arg;

static void timer_task(void *arg) {
  timer_task_arg *a = arg;
  a->made = tt_now();
  tt_timer *t = tt_timer_make(a->d);
  int64_t v = 0;
  a->ok = tt_chan_recv(tt_timer_chan(t), &v) == 0 && v >= a->made + a->d && v <= tt_now();
  tt_timer_free(t);
}

static void test_timers_in_tasks(void) {
  long n = tt_test_scale_min(2000, 100);
  NOTE("%ld tasks with a timer each", n);
  timer_task_arg *a = calloc((size_t)n, sizeof *a);
  tt_wg *wg = tt_wg_make();
  for (long i = 0; i < n; i++) {
    a[i].d = TT_US(100) + (int64_t)(rnd() % TT_MS(20));
    CHECK(tt_wg_go(wg, timer_task, &a[i]) > 0);
  }
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  long ok = 0;
  for (long i = 0; i < n; i++)
    ok += a[i].ok;
  CHECK_EQ(ok, n);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  free(a);
}

/* ---- a plain thread uses timers -----------------------------------------------------------------
 */

static void *plain_timer(void *arg) {
  (void)arg;
  int64_t t0 = tt_now();
  tt_timer *t = tt_timer_make(TT_MS(10));
  CHECK(t != NULL);
  if (!t)
    return NULL;
  tt_chan *c = tt_timer_chan(t);
  int64_t v = 0;
  int rc;
  while ((rc = tt_chan_try_recv(c, &v)) == TT_EAGAIN && tt_now() < t0 + TT_MS(10) + PROMPT)
    tt_test_sleep_ns(TT_MS(1));
  CHECK_EQ(rc, 0);
  CHECK(v >= t0 + TT_MS(10));
  CHECK_EQ(tt_timer_reset(t, LONG_NS), 0);
  CHECK_EQ(tt_timer_stop(t), 1);
  CHECK_EQ(tt_timer_free(t), 0);
  tt_ticker *k = tt_ticker_make(TT_MS(2));
  int ticks = 0;
  while (ticks < 3 && tt_now() < t0 + PROMPT * 2) {
    if (tt_chan_try_recv(tt_ticker_chan(k), &v) == 0)
      ticks++;
    else
      tt_test_sleep_ns(TT_MS(1));
  }
  CHECK_EQ(ticks, 3);
  CHECK_EQ(tt_ticker_free(k), 0);
  return NULL;
}

static void test_plain_thread(void) {
  NOTE("plain thread");
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, plain_timer, NULL), 0);
  CHECK_EQ(tt_blocking(join_fn, &th), TT_OK);
}

static void test_bad_period(void) {
  NOTE("bad ticker periods");
  CHECK(tt_ticker_make(0) == NULL);
  CHECK(tt_ticker_make(-TT_MS(1)) == NULL);
}

static void timer_main(void *arg) {
  (void)arg;
  g_procs = tt_procs();
  test_timer_fires_once();
  test_timer_stop();
  test_timer_stop_races();
  test_timer_reset();
  test_ticker_rate();
  test_ticker_slow_reader();
  test_ticker_stop_reset();
  test_free_running();
  test_many_timers();
  test_timers_in_tasks();
  test_plain_thread();
  test_bad_period();
}

/* ---- tickers and timers left running by a task that exited ---------------------- */

static tt_ticker *g_orphan_ticker;
static tt_timer *g_orphan_timer;
static int64_t g_orphan_base; /* orphans other tests may have left */

static void forgetful_owner(void *arg) {
  (void)arg;
  g_orphan_ticker = tt_ticker_make(TT_MS(5));
  g_orphan_timer = tt_timer_make(TT_MS(60000));
}

static void careful_owner(void *arg) {
  (void)arg;
  tt_ticker *t = tt_ticker_make(TT_MS(5));
  tt_timer *u = tt_timer_make(TT_MS(60000));
  /* Runs before forgetful_owner is spawned (orphan_main waits for it). */
  CHECK_EQ(tt_timers_orphaned(NULL), g_orphan_base); /* its owner is alive */
  tt_ticker_free(t);
  tt_timer_stop(u);
  tt_timer_free(u);
}

static void orphan_main(void *arg) {
  (void)arg;
  g_orphan_base = tt_timers_orphaned(NULL);
  tt_ticker *mine = tt_ticker_make(TT_MS(5)); /* owner (this task) stays alive */
  tt_wg *wg = tt_wg_make();
  CHECK(tt_wg_go(wg, careful_owner, NULL) > 0);
  tt_wg_wait(wg);
  tt_wg_free(wg);
  CHECK(tt_go(forgetful_owner, NULL) > 0);
  while (tt_num_tasks() > 1)
    tt_sleep(TT_MS(1));
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  int64_t n = tt_timers_orphaned(out);
  fclose(out);
  CHECK_EQ(n, g_orphan_base + 2);
  CHECK(text && strstr(text, "ticker made at") && strstr(text, "test_timer.c"));
  CHECK(text && strstr(text, "timer made at"));
  free(text);
  CHECK_EQ(tt_timer_stop(g_orphan_timer), 1);
  CHECK_EQ(tt_timers_orphaned(NULL), g_orphan_base + 1); /* stopped: no longer running */
  tt_ticker_free(g_orphan_ticker);
  tt_timer_free(g_orphan_timer);
  CHECK_EQ(tt_timers_orphaned(NULL), g_orphan_base);
  tt_ticker_free(mine);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(300);
  /* timers need a running runtime */
  CHECK(tt_timer_make(TT_MS(1)) == NULL);
  CHECK(tt_ticker_make(TT_MS(1)) == NULL);
  RUN_MAIN(1, timer_main, NULL);
  RUN_MAIN(2, timer_main, NULL);
  RUN_MAIN(2, orphan_main, NULL);
  CHECK_EQ(tt_num_tasks(), 0);
  return TEST_REPORT();
}
