/* Suspect ranking (suspects.h). */
#include "suspects.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

const lk_pattern lk_patterns[LK_PAT_COUNT] = {
    [LK_PAT_NONE] = {"none", "", ""},
    [LK_PAT_SENDER] = {"abandoned-sender",
                       "abandoned sender: blocked sending on a channel nobody reads",
                       "give the channel a buffer of 1 so the send completes, or send inside a "
                       "select that also waits on ctx.Done()"},
    [LK_PAT_RECEIVER] = {"abandoned-receiver",
                         "abandoned receiver: blocked on a channel nobody sends to or closes",
                         "close the channel when the sending side is done (defer close(ch)), or "
                         "receive inside a select with ctx.Done(); if only some paths send (an "
                         "error path returns early), make every path send, or use buffered "
                         "result and error channels"},
    [LK_PAT_SELECT] = {"select-no-live-case",
                       "select with no live case: every channel it waits on is idle",
                       "add a case on ctx.Done() (or a timeout) so the select can always leave"},
    [LK_PAT_SELECT_EMPTY] = {"select-no-cases", "select with no cases: blocks forever by design",
                             "replace select{} with a wait on a context or a signal that ends"},
    [LK_PAT_NIL_CHAN] = {"nil-channel", "operation on a nil channel: can never proceed",
                         "make the channel before use; a nil channel never becomes ready"},
    [LK_PAT_IO] = {"io-without-deadline", "I/O without a deadline: waiting on the network",
                   "give the call a timeout: http.Client{Timeout: ...}, a request made with "
                   "http.NewRequestWithContext, or conn.SetDeadline"},
    [LK_PAT_POOL] = {"worker-pool-never-shut-down",
                     "worker pool never shut down: many receivers from one site",
                     "on shutdown close(jobs) (or cancel a context the workers select on) and "
                     "wg.Wait() for them"},
    [LK_PAT_MUTEX] = {"mutex-wait", "waiting on a mutex",
                      "find the holder: a Lock without Unlock on some path (use defer "
                      "mu.Unlock()), or two locks taken in different orders"},
    [LK_PAT_WAITGROUP] = {"waitgroup-wait", "waiting on a WaitGroup whose count never reaches zero",
                          "every wg.Add needs a Done on every path: defer wg.Done() first thing "
                          "in each goroutine"},
    [LK_PAT_COND] = {"cond-wait", "waiting on a sync.Cond nobody signals",
                     "signal or broadcast after every state change, and broadcast on shutdown "
                     "after setting a done flag the waiters check"},
};

static bool has_prefix(const char *s, const char *pre) { return strncmp(s, pre, strlen(pre)) == 0; }

static lk_pattern_id kind_of_state(const char *s) {
  if (has_prefix(s, "chan send (nil chan)") || has_prefix(s, "chan receive (nil chan)"))
    return LK_PAT_NIL_CHAN;
  if (has_prefix(s, "chan send"))
    return LK_PAT_SENDER;
  if (has_prefix(s, "chan receive"))
    return LK_PAT_RECEIVER;
  if (has_prefix(s, "select (no cases)"))
    return LK_PAT_SELECT_EMPTY;
  if (has_prefix(s, "select"))
    return LK_PAT_SELECT;
  if (has_prefix(s, "IO wait"))
    return LK_PAT_IO;
  if (has_prefix(s, "sync.Mutex.") || has_prefix(s, "sync.RWMutex."))
    return LK_PAT_MUTEX;
  if (has_prefix(s, "sync.WaitGroup."))
    return LK_PAT_WAITGROUP;
  if (has_prefix(s, "sync.Cond."))
    return LK_PAT_COND;
  return LK_PAT_NONE;
}

/* Frames that tell the wait apart when the state does not (Go 1.19 says
 * "semacquire" for mutexes and WaitGroups; debug=1 and Go's pprof carry no
 * state at all). Go's runtime and sync, and tether's API. */
static lk_pattern_id kind_of_func(const char *f) {
  static const struct {
    const char *name;
    lk_pattern_id kind;
  } map[] = {
      {"runtime.chansend", LK_PAT_SENDER},
      {"runtime.chanrecv", LK_PAT_RECEIVER},
      {"runtime.selectgo", LK_PAT_SELECT},
      {"runtime.block", LK_PAT_SELECT_EMPTY},
      {"internal/poll.runtime_pollWait", LK_PAT_IO},
      {"internal/poll.(*pollDesc).wait", LK_PAT_IO},
      {"sync.(*Mutex).Lock", LK_PAT_MUTEX},
      {"sync.(*RWMutex).Lock", LK_PAT_MUTEX},
      {"sync.(*RWMutex).RLock", LK_PAT_MUTEX},
      {"sync.(*WaitGroup).Wait", LK_PAT_WAITGROUP},
      {"sync.(*Cond).Wait", LK_PAT_COND},
      {"tt_chan_send", LK_PAT_SENDER},
      {"tt_chan_recv", LK_PAT_RECEIVER},
      {"tt_select", LK_PAT_SELECT},
      {"tt_mutex_lock", LK_PAT_MUTEX},
      {"tt_rwmutex_", LK_PAT_MUTEX},
      {"tt_wg_wait", LK_PAT_WAITGROUP},
      {"tt_cond_wait", LK_PAT_COND},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (has_prefix(f, map[i].name))
      return map[i].kind;
  return LK_PAT_NONE;
}

lk_pattern_id lk_wait_kind(const lk_groups *g, const lk_group *gr) {
  lk_pattern_id k = kind_of_state(lk_str(g, gr->state));
  if (k != LK_PAT_NONE)
    return k;
  const char *st = lk_str(g, gr->state);
  /* A state that says it is not blocked settles it. */
  if (st[0] && !has_prefix(st, "semacquire") && !has_prefix(st, "sync."))
    return LK_PAT_NONE;
  for (int i = 0; i < gr->nframes; i++) {
    const lk_iframe *f = lk_frame_at(g, gr->frames[i]);
    if (f && (k = kind_of_func(lk_str(g, f->func))) != LK_PAT_NONE)
      return k;
  }
  return LK_PAT_NONE;
}

const char *lk_dur_fmt(int64_t s, char *buf, size_t n) {
  if (s < 0)
    snprintf(buf, n, "?");
  else if (s < 60)
    snprintf(buf, n, "%" PRId64 "s", s);
  else if (s < 3600)
    snprintf(buf, n, "%" PRId64 "m", s / 60);
  else
    snprintf(buf, n, "%" PRId64 "h%" PRId64 "m", s / 3600, s / 60 % 60);
  return buf;
}

/* Go's words for a wait, for evidence when the dump gave no state. */
static const char *const wait_words[LK_PAT_COUNT] = {
    [LK_PAT_SENDER] = "chan send",
    [LK_PAT_RECEIVER] = "chan receive",
    [LK_PAT_SELECT] = "select",
    [LK_PAT_SELECT_EMPTY] = "select (no cases)",
    [LK_PAT_NIL_CHAN] = "nil chan",
    [LK_PAT_IO] = "IO wait",
    [LK_PAT_POOL] = "chan receive",
    [LK_PAT_MUTEX] = "sync.Mutex.Lock",
    [LK_PAT_WAITGROUP] = "sync.WaitGroup.Wait",
    [LK_PAT_COND] = "sync.Cond.Wait",
};

int lk_suspects_rank(lk_groups *g, lk_sopts o) {
  for (size_t i = 0; i < lk_groups_count(g); i++) {
    lk_group *gr = lk_groups_at(g, i);
    lk_pattern_id k = lk_wait_kind(g, gr);
    if (k == LK_PAT_RECEIVER) {
      /* One channel shared by every member (known from tether's dumps) is
       * a pool; otherwise many receivers from one site read as one. */
      bool shared = gr->addr != 0 && !gr->addr_mixed && gr->count >= 2;
      if (shared || (gr->addr == 0 && gr->count >= o.pool_min))
        k = LK_PAT_POOL;
    }
    /* An I/O wait is a suspect once it is long; with no wait time in the
     * format, only when every I/O wait is asked for (--io-min 0). */
    if (k == LK_PAT_IO && !gr->leaked && (gr->wmax < 0 ? o.io_min_s > 0 : gr->wmax < o.io_min_s))
      k = LK_PAT_NONE;
    gr->verdict = (lk_verdict){.pattern = k};
    if (k == LK_PAT_NONE)
      continue;
    char ev[1024], site[512], top[512], a[16], b[16], c[16];
    const lk_iframe *sf = lk_frame_at(g, gr->site);
    const char *st = lk_str(g, gr->state);
    int len = snprintf(ev, sizeof ev, "%" PRId64 " goroutine%s in %s%s", gr->count,
                       gr->count == 1 ? "" : "s", st[0] ? st : wait_words[k],
                       st[0] ? "" : " (seen in its frames)");
    if (gr->wmax >= 0 && len > 0 && (size_t)len < sizeof ev)
      len += snprintf(ev + len, sizeof ev - (size_t)len, ", waiting %s..%s (median %s)",
                      lk_dur_fmt(gr->wmin, a, sizeof a), lk_dur_fmt(gr->wmax, b, sizeof b),
                      lk_dur_fmt(gr->wmed, c, sizeof c));
    if (len > 0 && (size_t)len < sizeof ev)
      len += snprintf(ev + len, sizeof ev - (size_t)len, "; %s %s; top user frame %s",
                      gr->site_created ? "created by" : "entry",
                      lk_frame_fmt(g, sf, site, sizeof site),
                      lk_frame_fmt(g, lk_group_user_frame(g, gr), top, sizeof top));
    if (k == LK_PAT_POOL && gr->addr && len > 0 && (size_t)len < sizeof ev)
      snprintf(ev + len, sizeof ev - (size_t)len, "; all on one channel 0x%" PRIx64, gr->addr);
    uint32_t id = lk_intern(g, ev, strlen(ev));
    if (id == LK_NONE)
      return -1;
    gr->verdict.evidence = lk_str(g, id);
  }
  return 0;
}
