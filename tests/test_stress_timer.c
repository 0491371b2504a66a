/*
 * test_stress_timer: tt_timer_stop and tt_timer_reset racing the timer's
 * fire, over many rounds (20,000 per worker count under `make test`, two
 * million under `make stress`, which sets TT_TEST_SCALE).
 *
 * The contract (Go 1.23's): once stop or reset returns, no stale value is
 * received from the timer's channel, and they return 0 ("fired") only when
 * the value was received. So a program that has not received the value
 * always gets 1, and Go's idiom `if (!t.Stop()) <-t.C`, written
 * `if (tt_timer_stop(t) == 0) tt_chan_recv(...)`, never receives (and so
 * never blocks forever). With a task receiving at the same time, 0 comes
 * exactly when that task got the value.
 *
 * And context deadlines: a parent's and its child's firing together while
 * the child is released.
 *
 * The deadlines are a few microseconds so that the fire lands in every part
 * of stop's window: before it, while a worker has the timer off its heap
 * and is about to send, and after the send with the value unread.
 */
#include "harness.h"

static uint64_t g_rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

static long g_rounds;

/* Let the timer fire, or not, for a random few microseconds. A yield or a
 * sleep now and then lets a single worker look at its timers too. */
static void random_pause(void) {
  uint64_t r = rnd();
  if (r % 8 == 0)
    tt_yield();
  else if (r % 8 == 1)
    tt_sleep((int64_t)(r >> 8) % TT_US(20));
  else
    tt_test_spin_ns((int64_t)(r >> 8) % TT_US(20));
}

static void stop_without_receiver(void) {
  long bad_rc = 0, stale = 0, idiom_recv = 0, unread = 0;
  for (long i = 0; i < g_rounds; i++) {
    tt_timer *t = tt_timer_make((int64_t)(rnd() % TT_US(20)));
    if (!t) {
      CHECK(t != NULL);
      return;
    }
    tt_chan *c = tt_timer_chan(t);
    random_pause();
    unread += tt_chan_len(c) != 0;
    int64_t v;
    switch (i % 3) {
    case 0: /* Go's idiom: with nothing received, stop never says fired */
      if (tt_timer_stop(t) == 0) {
        idiom_recv++;
        tt_chan_recv_until(c, &v, tt_now() + TT_MS(100)); /* the hang, bounded */
      }
      break;
    case 1: bad_rc += tt_timer_stop(t) != 1; break;
    default:
      bad_rc += tt_timer_reset(t, TT_MS(60000)) != 1;
      bad_rc += tt_timer_stop(t) != 1;
      break;
    }
    stale += tt_chan_try_recv(c, &v) != TT_EAGAIN;
    CHECK_EQ(tt_timer_free(t), 0);
  }
  CHECK_EQ(bad_rc, 0);
  CHECK_EQ(idiom_recv, 0);
  CHECK_EQ(stale, 0);
  NOTE("procs %d: %ld stop/reset rounds without a receiver, %ld with the value unread", tt_procs(),
       g_rounds, unread);
}

typedef struct {
  tt_timer *t;
  tt_chan *quit;
  atomic_int got; /* 1: the timer's value, 0: quit */
} race;

static void receiver(void *arg) {
  race *r = arg;
  int64_t v;
  tt_case cs[2] = {tt_case_recv(tt_timer_chan(r->t), &v), tt_case_recv(r->quit, NULL)};
  atomic_store(&r->got, tt_select(cs, 2, 0, TT_NO_DEADLINE) == 0);
}

static void stop_with_receiver(void) {
  tt_wg *wg = tt_wg_make();
  long rounds = g_rounds / 4 > 1 ? g_rounds / 4 : 1;
  long received = 0, stopped = 0, bad = 0;
  for (long i = 0; i < rounds; i++) {
    race r = {.t = tt_timer_make((int64_t)(rnd() % TT_US(20))), .quit = tt_chan_make(0, 0)};
    atomic_store(&r.got, -1);
    CHECK(tt_wg_go(wg, receiver, &r) > 0);
    random_pause();
    int rc = tt_timer_stop(r.t);
    int64_t v;
    bad += tt_chan_try_recv(tt_timer_chan(r.t), &v) != TT_EAGAIN;
    tt_chan_close(r.quit);
    tt_wg_wait(wg);
    int got = atomic_load(&r.got);
    if (rc == 0 && got == 1)
      received++;
    else if (rc == 1 && got == 0)
      stopped++;
    else
      bad++;
    CHECK_EQ(tt_timer_free(r.t), 0);
    tt_chan_unref(r.quit);
  }
  CHECK_EQ(bad, 0);
  NOTE("procs %d: %ld stop rounds with a receiver: %ld stopped, %ld received", tt_procs(), rounds,
       stopped, received);
  tt_wg_free(wg);
}

/* A parent and its children due at the same moment, the children released
 * while the parent's deadline fires: a worker takes the timers off its heap
 * in one batch, fires the parent's first, and cancelling the parent can
 * drop a child's last reference before that child's own timer has run.
 * That last drop must not wait for the child's timer, which the same
 * worker runs next (it hung). */
enum { RACE_KIDS = 32 };
static void deadline_tree_race(void) {
  long rounds = g_rounds / 20, timed_out = 0;
  for (long i = 0; i < rounds; i++) {
    int64_t deadline = tt_now() + TT_US(30) + (int64_t)(rnd() % TT_US(20));
    tt_context *parent = tt_with_deadline(NULL, deadline);
    tt_context *kids[RACE_KIDS];
    int n = 0;
    while (parent && n < RACE_KIDS && (kids[n] = tt_with_deadline(parent, deadline)))
      n++;
    CHECK_EQ(n, RACE_KIDS);
    while (tt_now() < deadline - TT_US(2))
      ;
    for (int k = 0; k < n; k++)
      tt_context_release(kids[k]);
    timed_out += tt_context_err(parent) == TT_ETIMEDOUT;
    tt_context_release(parent);
  }
  NOTE("procs %d: %ld rounds of a parent and %d children due together, %ld timed out before "
       "the release",
       tt_procs(), rounds, RACE_KIDS, timed_out);
}

static void stress_main(void *arg) {
  (void)arg;
  stop_without_receiver();
  stop_with_receiver();
  deadline_tree_race();
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog((unsigned)(300 * tt_test_scale_env()));
  g_rounds = tt_test_scale_min(20000, 2000);
  RUN_MAIN(1, stress_main, NULL);
  RUN_MAIN(2, stress_main, NULL);
  return TEST_REPORT();
}
