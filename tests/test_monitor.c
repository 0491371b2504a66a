/*
 * test_monitor: task counts (tt_count_tasks, tt_count_by_site,
 * tt_wait_reason_name) and the growth / stall monitor.
 *
 * Every test drives the runtime from the plain main thread: tasks spawned
 * from here go to the global queue, so no test task shares a worker with the
 * code that watches it, and waits are plain sleeps between polls. Timing is
 * never asserted tightly: positive checks poll with generous deadlines, and
 * negative checks ("no report") use thresholds far above what a loaded,
 * sanitized 2-core machine can produce by accident.
 */
#include "harness.h"

#include <pthread.h>

/* Spawn and remember the line: __LINE__ here and inside tt_go both expand
 * to the line of the invocation. */
#define GO_AT(line_var, fn, arg) ((line_var) = __LINE__, tt_go(fn, arg))

/* Stops the monitor from inside tt_shutdown (runtime.c calls it); tested
 * directly here, including from the monitor's own callback. */
void tt__monitor_shutdown(void); /* internal (monitor.c), called by tt_shutdown */

/* Deadlines for polls: long enough for the slowest sanitized run. */
#define POLL_LIMIT TT_MS(60000)

typedef int (*pred_fn)(void *arg);

/* Poll pred every 2 ms until it holds or `limit` ns pass. */
static int wait_until(pred_fn pred, void *arg, int64_t limit) {
  int64_t end = tt_test_mono_ns() + limit;
  for (;;) {
    if (pred(arg))
      return 1;
    if (tt_test_mono_ns() > end)
      return 0;
    tt_test_sleep_ns(TT_MS(2));
  }
}

static int no_tasks(void *arg) {
  (void)arg;
  return tt_num_tasks() == 0;
}

static int64_t g_want_waiting;
static int all_waiting(void *arg) {
  (void)arg;
  tt_task_counts c;
  return tt_count_tasks(&c) == 0 && c.waiting == g_want_waiting && c.total == g_want_waiting;
}

static int reason_index(const char *name) {
  for (int i = 0; tt_wait_reason_name(i); i++)
    if (strcmp(tt_wait_reason_name(i), name) == 0)
      return i;
  return -1;
}

/* ---- tasks -------------------------------------------------------------------------------- */

static void recv_forever(void *arg) {
  int v;
  while (tt_chan_recv(arg, &v) == 0) {
  }
}

static void send_forever(void *arg) {
  int v = 1;
  while (tt_chan_send(arg, &v) == 0) {
  }
}

static tt_wg *g_wg;
static void wg_waiter(void *arg) {
  (void)arg;
  tt_wg_wait(g_wg);
}

static tt_chan *g_mixed_chan;
static void mixed(void *arg) {
  if (arg)
    tt_wg_wait(g_wg);
  else
    recv_forever(g_mixed_chan);
}

static tt_context *g_sleep_ctx;
static void sleeper(void *arg) {
  (void)arg;
  tt_sleep_ctx(TT_MS(3600LL * 1000), g_sleep_ctx);
}

/* ---- tt_wait_reason_name ------------------------------------------------------------------- */

static void test_reason_names(void) {
  NOTE("wait reason names");
  CHECK_STREQ(tt_wait_reason_name(0), "");
  CHECK_STREQ(tt_wait_reason_name(1), "sleep");
  CHECK(tt_wait_reason_name(-1) == NULL);
  CHECK(tt_wait_reason_name(24) == NULL);
  CHECK(tt_wait_reason_name(1 << 20) == NULL);
  int n = 0;
  while (tt_wait_reason_name(n))
    n++;
  CHECK_MSG(n > 10 && n <= 24, "%d reasons", n);
  for (int i = 1; i < n; i++) {
    CHECK(tt_wait_reason_name(i)[0] != '\0');
    for (int j = 1; j < i; j++)
      CHECK_MSG(strcmp(tt_wait_reason_name(i), tt_wait_reason_name(j)) != 0, "%d and %d: %s", i, j,
                tt_wait_reason_name(i));
  }
  CHECK(reason_index("chan receive") > 0);
  CHECK(reason_index("chan send") > 0);
  CHECK(reason_index("sync.WaitGroup.Wait") > 0);
}

/* ---- counts on a constructed population ---------------------------------------------------- */

static void test_counts(void) {
  NOTE("counts on a constructed population");
  tt_task_counts c;
  tt_site_count sites[16];
  CHECK_EQ(tt_count_tasks(&c), TT_ENOTINIT);
  CHECK_EQ(tt_count_by_site(sites, 16), TT_ENOTINIT);

  tt_config cfg = {2, 0};
  CHECK_EQ(tt_init(&cfg), TT_OK);
  CHECK_EQ(tt_count_tasks(NULL), TT_EINVAL);
  CHECK_EQ(tt_count_by_site(NULL, 3), TT_EINVAL);
  CHECK_EQ(tt_count_by_site(sites, -1), TT_EINVAL);
  CHECK_EQ(tt_count_tasks(&c), 0);
  CHECK_EQ(c.total, 0);
  CHECK_EQ(tt_count_by_site(NULL, 0), 0);

  tt_chan *rc = tt_chan_make(sizeof(int), 0), *sc = tt_chan_make(sizeof(int), 0);
  g_mixed_chan = tt_chan_make(sizeof(int), 0);
  g_wg = tt_wg_make();
  tt_wg_add(g_wg, 1);
  g_sleep_ctx = tt_with_cancel(NULL);
  int l_recv = 0, l_mixed = 0, l_send = 0, l_wg = 0, l_sleep = 0;
  for (int i = 0; i < 7; i++)
    CHECK(GO_AT(l_recv, recv_forever, rc) > 0);
  for (int i = 0; i < 6; i++) /* 4 receivers and 2 WaitGroup waiters at one site */
    CHECK(GO_AT(l_mixed, mixed, (void *)(intptr_t)(i % 3 == 2)) > 0);
  for (int i = 0; i < 5; i++)
    CHECK(GO_AT(l_send, send_forever, sc) > 0);
  for (int i = 0; i < 3; i++)
    CHECK(GO_AT(l_wg, wg_waiter, NULL) > 0);
  for (int i = 0; i < 2; i++)
    CHECK(GO_AT(l_sleep, sleeper, NULL) > 0);

  g_want_waiting = 23;
  CHECK_MSG(wait_until(all_waiting, NULL, POLL_LIMIT), "population never settled");
  /* Parked forever: from here on the population does not change. */
  CHECK_EQ(tt_count_tasks(&c), 0);
  CHECK_EQ(c.total, 23);
  CHECK_EQ(c.waiting, 23);
  CHECK_EQ(c.running, 0);
  CHECK_EQ(c.runnable, 0);
  CHECK_EQ(c.by_reason[0], 0);
  int64_t sum = 0;
  for (int i = 0; i < 24; i++)
    sum += c.by_reason[i];
  CHECK_EQ(sum, 23);
  CHECK_EQ(c.by_reason[reason_index("chan receive")], 11);
  CHECK_EQ(c.by_reason[reason_index("chan send")], 5);
  CHECK_EQ(c.by_reason[reason_index("sync.WaitGroup.Wait")], 5);
  CHECK_EQ(c.by_reason[reason_index("sleep")], 2);

  memset(sites, 0, sizeof sites);
  CHECK_EQ(tt_count_by_site(sites, 16), 5);
  struct {
    int line;
    const char *entry;
    int64_t count;
    const char *reason;
  } want[5] = {{l_recv, "recv_forever", 7, "chan receive"},
               {l_mixed, "mixed", 6, "chan receive"},
               {l_send, "send_forever", 5, "chan send"},
               {l_wg, "wg_waiter", 3, "sync.WaitGroup.Wait"},
               {l_sleep, "sleeper", 2, "sleep"}};
  for (int i = 0; i < 5; i++) {
    CHECK_EQ(sites[i].line, want[i].line);
    CHECK_STREQ(sites[i].entry, want[i].entry);
    CHECK_EQ(sites[i].count, want[i].count);
    CHECK_EQ(sites[i].waiting, want[i].count);
    CHECK_STREQ(sites[i].top_reason, want[i].reason);
    CHECK_STREQ(sites[i].func, "test_counts");
    CHECK(tt_test_ends_with(sites[i].file, "test_monitor.c"));
  }
  CHECK(sites[5].file == NULL);

  /* A short array gets the most populous sites and the full count. */
  tt_site_count two[3];
  memset(two, 0, sizeof two);
  CHECK_EQ(tt_count_by_site(two, 2), 5);
  CHECK_EQ(two[0].line, l_recv);
  CHECK_EQ(two[1].line, l_mixed);
  CHECK(two[2].file == NULL);
  CHECK_EQ(tt_count_by_site(NULL, 0), 5);

  CHECK_EQ(tt_chan_close(rc), 0);
  CHECK_EQ(tt_chan_close(sc), 0);
  CHECK_EQ(tt_chan_close(g_mixed_chan), 0);
  CHECK_EQ(tt_wg_done(g_wg), 0);
  CHECK_EQ(tt_cancel(g_sleep_ctx), 0);
  CHECK_MSG(wait_until(no_tasks, NULL, POLL_LIMIT), "%lld tasks left", (long long)tt_num_tasks());
  CHECK_EQ(tt_count_tasks(&c), 0);
  CHECK_EQ(c.total, 0);
  CHECK_EQ(tt_count_by_site(NULL, 0), 0);
  tt_chan_unref(rc);
  tt_chan_unref(sc);
  tt_chan_unref(g_mixed_chan);
  CHECK_EQ(tt_wg_free(g_wg), 0);
  tt_context_release(g_sleep_ctx);
  TEST_SHUTDOWN();
}

/* Many sites (the table grows several times) and one site reached through
 * distinct but equal strings (merged by content). tt__spawn is what tt_go
 * expands to; calling it directly lets us make up spawn sites. */
static void test_many_sites(void) {
  NOTE("many spawn sites");
  tt_config cfg = {2, 0};
  CHECK_EQ(tt_init(&cfg), TT_OK);
  tt_chan *ch = tt_chan_make(sizeof(int), 0);
  int nsites = (int)tt_test_scale_min(300, 150);
  int64_t total = 0;
  for (int i = 0; i < nsites; i++)
    for (int k = 0; k <= i % 3; k++, total++)
      CHECK(tt__spawn(recv_forever, ch, NULL, "gen_entry", "gen.c", i + 1, "gen_func") > 0);
  char *dups[3];
  for (int i = 0; i < 3; i++) {
    dups[i] = strdup("merge.c");
    CHECK(tt__spawn(recv_forever, ch, NULL, "merged", dups[i], 7, "merge_func") > 0);
    total++;
  }
  g_want_waiting = total;
  CHECK_MSG(wait_until(all_waiting, NULL, POLL_LIMIT), "population never settled");

  tt_site_count *s = calloc((size_t)nsites + 8, sizeof *s);
  CHECK_EQ(tt_count_by_site(s, nsites + 8), nsites + 1);
  int64_t sum = 0, merged = 0;
  int bad_order = 0, gen_sites = 0;
  for (int i = 0; i < nsites + 1; i++) {
    sum += s[i].count;
    if (i && s[i].count > s[i - 1].count)
      bad_order++;
    if (strcmp(s[i].file, "merge.c") == 0) {
      merged++;
      CHECK_EQ(s[i].count, 3);
      CHECK_EQ(s[i].line, 7);
      CHECK_STREQ(s[i].entry, "merged");
    } else {
      gen_sites++;
      CHECK_EQ(s[i].count, (s[i].line - 1) % 3 + 1);
    }
    CHECK_STREQ(s[i].top_reason, "chan receive");
  }
  CHECK_EQ(sum, total);
  CHECK_EQ(merged, 1);
  CHECK_EQ(gen_sites, nsites);
  CHECK_EQ(bad_order, 0);
  free(s);

  tt_chan_close(ch);
  CHECK_MSG(wait_until(no_tasks, NULL, POLL_LIMIT), "%lld tasks left", (long long)tt_num_tasks());
  tt_chan_unref(ch);
  TEST_SHUTDOWN();
  for (int i = 0; i < 3; i++)
    free(dups[i]);
}

/* ---- monitor events ---------------------------------------------------------------------- */

typedef struct ev_rec {
  int kind;
  int64_t total, total_before;
  int nsites;
  char file[256], entry[64], reason[64];
  int line;
  int64_t growth;
  int names_steady; /* a site of the steady population is among the event's sites */
  int bad_order;    /* site_growth not in decreasing order */
  int64_t task_id, stalled_for;
  int worker;
} ev_rec;

#define MAX_EVENTS 256
static pthread_mutex_t g_ev_lock = PTHREAD_MUTEX_INITIALIZER;
static ev_rec g_evs[MAX_EVENTS];
static int g_nev, g_nev_dropped;
static int g_steady_line;
static atomic_int g_stop_rc; /* tt_monitor_stop from inside the first callback */
static atomic_int g_callbacks_done;
static atomic_int g_shutdown_in_callback;

static void reset_events(void) {
  pthread_mutex_lock(&g_ev_lock);
  g_nev = g_nev_dropped = 0;
  pthread_mutex_unlock(&g_ev_lock);
  atomic_store(&g_stop_rc, 1);
  atomic_store(&g_callbacks_done, 0);
}

static void on_event(const tt_monitor_event *ev, void *arg) {
  (void)arg;
  ev_rec r;
  memset(&r, 0, sizeof r);
  r.kind = ev->kind;
  r.total = ev->total;
  r.total_before = ev->total_before;
  r.nsites = ev->nsites;
  r.task_id = ev->task_id;
  r.worker = ev->worker;
  r.stalled_for = ev->stalled_for;
  if (ev->nsites > 0 && ev->sites) {
    snprintf(r.file, sizeof r.file, "%s", ev->sites[0].file);
    snprintf(r.entry, sizeof r.entry, "%s", ev->sites[0].entry);
    snprintf(r.reason, sizeof r.reason, "%s", ev->sites[0].top_reason);
    r.line = ev->sites[0].line;
    r.growth = ev->site_growth ? ev->site_growth[0] : 0;
  }
  for (int i = 0; i < ev->nsites && ev->kind == TT_MONITOR_GROWTH; i++) {
    if (ev->sites[i].line == g_steady_line &&
        tt_test_ends_with(ev->sites[i].file, "test_monitor.c"))
      r.names_steady = 1;
    if (i && ev->site_growth[i] > ev->site_growth[i - 1])
      r.bad_order = 1;
  }
  int first;
  pthread_mutex_lock(&g_ev_lock);
  first = g_nev == 0;
  if (g_nev < MAX_EVENTS)
    g_evs[g_nev++] = r;
  else
    g_nev_dropped++;
  pthread_mutex_unlock(&g_ev_lock);
  if (first)
    atomic_store(&g_stop_rc, tt_monitor_stop()); /* the monitor cannot join itself */
  if (atomic_load(&g_shutdown_in_callback))
    tt__monitor_shutdown();
  atomic_fetch_add(&g_callbacks_done, 1);
}

static int callbacks_done(void *arg) { return atomic_load(&g_callbacks_done) >= *(int *)arg; }

static int nevents(void) {
  pthread_mutex_lock(&g_ev_lock);
  int n = g_nev;
  pthread_mutex_unlock(&g_ev_lock);
  return n;
}

static int count_kind(int kind) {
  int k = 0;
  pthread_mutex_lock(&g_ev_lock);
  for (int i = 0; i < g_nev; i++)
    k += g_evs[i].kind == kind;
  pthread_mutex_unlock(&g_ev_lock);
  return k;
}

static char *read_file(FILE *f) {
  fflush(f);
  long n = ftell(f);
  char *buf = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
  rewind(f);
  size_t got = n > 0 ? fread(buf, 1, (size_t)n, f) : 0;
  buf[got] = '\0';
  return buf;
}

static int count_lines_with(const char *text, const char *needle) {
  int k = 0;
  for (const char *p = text; *p;) {
    const char *e = strchr(p, '\n');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    char line[2048];
    size_t cl = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, p, cl);
    line[cl] = '\0';
    if (strstr(line, needle))
      k++;
    p += len + (e ? 1 : 0);
  }
  return k;
}

/* ---- error paths ------------------------------------------------------------------------- */

static void test_errors(void) {
  NOTE("monitor error paths");
  tt_monitor_opts ok = {.interval = TT_MS(3600LL * 1000), .stall = -1, .callback = on_event};
  CHECK_EQ(tt_monitor_start(&ok), TT_ENOTINIT);
  CHECK_EQ(tt_monitor_stop(), TT_ENOTINIT);

  tt_config cfg = {2, 0};
  CHECK_EQ(tt_init(&cfg), TT_OK);
  tt_monitor_opts bad = ok;
  bad.interval = -1;
  CHECK_EQ(tt_monitor_start(&bad), TT_EINVAL);
  bad = ok;
  bad.history = -3;
  CHECK_EQ(tt_monitor_start(&bad), TT_EINVAL);
  bad = ok;
  bad.history = 1; /* a window needs two samples */
  CHECK_EQ(tt_monitor_start(&bad), TT_EINVAL);
  bad = ok;
  bad.total_growth = -1;
  CHECK_EQ(tt_monitor_start(&bad), TT_EINVAL);
  bad = ok;
  bad.site_growth = -5;
  CHECK_EQ(tt_monitor_start(&bad), TT_EINVAL);
  CHECK_EQ(tt_monitor_stop(), TT_ENOENT); /* running, but no monitor */

  CHECK_EQ(tt_monitor_start(&ok), TT_OK);
  CHECK_EQ(tt_monitor_start(&ok), TT_EBUSY);
  CHECK_EQ(tt_monitor_start(NULL), TT_EBUSY);
  /* An hour-long interval: stop must wake the thread, not wait it out. */
  int64_t t0 = tt_test_mono_ns();
  CHECK_EQ(tt_monitor_stop(), TT_OK);
  CHECK_MSG(tt_test_mono_ns() - t0 < TT_MS(10000), "stop took %lld ms",
            (long long)((tt_test_mono_ns() - t0) / 1000000));
  CHECK_EQ(tt_monitor_stop(), TT_ENOENT); /* stopped: none runs now */

  /* "Forever" is a legal interval and stall: deadlines must not overflow. */
  tt_monitor_opts forever = {.interval = INT64_MAX, .stall = INT64_MAX, .callback = on_event};
  CHECK_EQ(tt_monitor_start(&forever), TT_OK);
  tt_test_sleep_ns(TT_MS(5));
  CHECK_EQ(tt_monitor_stop(), TT_OK);

  /* All defaults (log to stderr), and a restart after a stop. */
  CHECK_EQ(tt_monitor_start(NULL), TT_OK);
  CHECK_EQ(tt_monitor_stop(), TT_OK);
  CHECK_EQ(tt_monitor_start(&ok), TT_OK);

  /* The shutdown hook stops a running monitor and is a no-op without one. */
  tt__monitor_shutdown();
  CHECK_EQ(tt_monitor_stop(), TT_ENOENT);
  tt__monitor_shutdown();
  CHECK_EQ(tt_monitor_start(&ok), TT_OK);
  CHECK_EQ(tt_monitor_stop(), TT_OK);
  TEST_SHUTDOWN();
  CHECK_EQ(tt_monitor_start(&ok), TT_ENOTINIT);
}

/* ---- growth ----------------------------------------------------------------------------- */

static atomic_int g_churn_stop;
static void noop(void *arg) { (void)arg; }
/* Short-lived tasks come and go all the time: a steady state is not a
 * frozen one. */
static void churner(void *arg) {
  (void)arg;
  while (!atomic_load(&g_churn_stop)) {
    tt_go(noop, NULL);
    tt_sleep(TT_MS(1));
  }
}

static int g_leak_line;
static void leak_sender(void *arg) {
  int v = 0;
  tt_chan_send(arg, &v); /* nobody ever receives: parks until the close */
}

typedef struct leak_step {
  tt_chan *c;
  int n;
} leak_step;

/* Spawned from a task, each child runs first until it parks, so a sample
 * sees at most one leaker of the step not yet parked: the site's top wait
 * reason is never caught as "" just because the children had not run. */
static void leak_spawner(void *arg) {
  leak_step *st = arg;
  for (int i = 0; i < st->n; i++)
    CHECK(GO_AT(g_leak_line, leak_sender, st->c) > 0);
}

static void spawn_leakers(tt_chan *c, int n) {
  leak_step st = {c, n};
  tt_wg *wg = tt_wg_make();
  CHECK(tt_wg_go(wg, leak_spawner, &st) > 0);
  CHECK_EQ(tt_wg_wait(wg), 0);
  CHECK_EQ(tt_wg_free(wg), 0);
}

/* A window of 8 intervals is far longer than spawning one step takes even
 * under TSan, so some window always sees a whole step. */
#define GROWTH_INTERVAL TT_MS(25)
#define GROWTH_HISTORY 9
#define SITE_GROWTH 30
#define STEP 40 /* more than SITE_GROWTH: one step alone is a report */
/* TSan dies past 8128 tasks (each is a fiber). */
#define MAX_LEAKED 3000

static void test_growth(void) {
  NOTE("growth: silent on a steady state, fires on a growing site, rate-limited");
  tt_config cfg = {2, 0};
  CHECK_EQ(tt_init(&cfg), TT_OK);
  reset_events();

  /* The steady population exists before the monitor starts. */
  tt_chan *steady = tt_chan_make(sizeof(int), 0);
  tt_chan *leak = tt_chan_make(sizeof(int), 0);
  for (int i = 0; i < 50; i++)
    CHECK(GO_AT(g_steady_line, recv_forever, steady) > 0);
  atomic_store(&g_churn_stop, 0);
  CHECK(tt_go(churner, NULL) > 0);
  tt_task_counts c;
  int64_t settle_end = tt_test_mono_ns() + POLL_LIMIT;
  while ((tt_count_tasks(&c) != 0 || c.by_reason[reason_index("chan receive")] != 50) &&
         tt_test_mono_ns() < settle_end)
    tt_test_sleep_ns(TT_MS(2));
  CHECK_EQ(c.by_reason[reason_index("chan receive")], 50);

  FILE *log = tmpfile();
  CHECK(log != NULL);
  tt_monitor_opts o = {.interval = GROWTH_INTERVAL,
                       .history = GROWTH_HISTORY,
                       .total_growth = 1000000, /* only the site threshold matters here */
                       .site_growth = SITE_GROWTH,
                       .stall = -1,
                       .callback = on_event,
                       .log = log};
  int64_t started = tt_test_mono_ns();
  CHECK_EQ(tt_monitor_start(&o), TT_OK);

  /* Steady state for a few windows: nothing to report. */
  tt_test_sleep_ns(GROWTH_INTERVAL * GROWTH_HISTORY * 3);
  CHECK_EQ(nevents(), 0);

  /* Growth in steps, one site, until a report comes. */
  int64_t end = tt_test_mono_ns() + POLL_LIMIT;
  int spawned = 0;
  while (nevents() == 0 && tt_test_mono_ns() < end) {
    if (spawned < STEP * 5) {
      spawn_leakers(leak, STEP);
      spawned += STEP;
    }
    tt_test_sleep_ns(GROWTH_INTERVAL * 3);
  }
  CHECK_MSG(nevents() > 0, "no growth report after %d leaked tasks", spawned);

  pthread_mutex_lock(&g_ev_lock);
  ev_rec first = g_evs[0];
  pthread_mutex_unlock(&g_ev_lock);
  CHECK_EQ(first.kind, TT_MONITOR_GROWTH);
  CHECK(tt_test_ends_with(first.file, "test_monitor.c"));
  CHECK_EQ(first.line, g_leak_line);
  CHECK_STREQ(first.entry, "leak_sender");
  CHECK_STREQ(first.reason, "chan send");
  CHECK_MSG(first.growth > SITE_GROWTH, "growth %lld", (long long)first.growth);
  CHECK_EQ(first.nsites, 1); /* only the leaking site crossed the threshold */
  CHECK_EQ(first.names_steady, 0);
  /* The churner's short-lived tasks may make the total differ by one. */
  CHECK(first.total - first.total_before >= first.growth - 2);
  int one = 1;
  CHECK(wait_until(callbacks_done, &one, POLL_LIMIT));
  CHECK_EQ(atomic_load(&g_stop_rc), TT_EBUSY);

  /* A steady leak: one report per window, not one per sample. Keep leaking
   * until a second report, then bound the count by the elapsed time. */
  end = tt_test_mono_ns() + POLL_LIMIT;
  while (nevents() < 2 && tt_test_mono_ns() < end) {
    if (spawned < MAX_LEAKED) {
      spawn_leakers(leak, STEP);
      spawned += STEP;
    }
    tt_test_sleep_ns(GROWTH_INTERVAL);
  }
  for (int i = 0; i < 2 * GROWTH_HISTORY && spawned < MAX_LEAKED; i++) {
    spawn_leakers(leak, STEP);
    spawned += STEP;
    tt_test_sleep_ns(GROWTH_INTERVAL);
  }
  CHECK_EQ(tt_monitor_stop(), TT_OK);
  int64_t elapsed = tt_test_mono_ns() - started;
  int n = nevents();
  /* Samples come at most once per interval (plus one at start), and after a
   * report the next needs history - 1 more samples. */
  int64_t bound = 2 + elapsed / (GROWTH_INTERVAL * (GROWTH_HISTORY - 1));
  CHECK_MSG(n >= 2 && n <= bound, "%d reports in %lld ms (bound %lld)", n,
            (long long)(elapsed / 1000000), (long long)bound);
  CHECK_EQ(count_kind(TT_MONITOR_GROWTH), n);
  pthread_mutex_lock(&g_ev_lock);
  for (int i = 0; i < g_nev; i++) {
    CHECK_EQ(g_evs[i].line, g_leak_line);
    CHECK_EQ(g_evs[i].names_steady, 0);
    CHECK_EQ(g_evs[i].bad_order, 0);
  }
  pthread_mutex_unlock(&g_ev_lock);

  /* One log line per report, naming the site, its growth and wait reason. */
  char *text = read_file(log);
  char needle[128];
  snprintf(needle, sizeof needle, "growing: test_monitor.c:%d leak_sender +", g_leak_line);
  CHECK_EQ(count_lines_with(text, "tether monitor: tasks "), n);
  CHECK_EQ(count_lines_with(text, needle), n);
  CHECK_EQ(count_lines_with(text, "[chan send]"), n);
  if (count_lines_with(text, needle) != n)
    fprintf(stderr, "log:\n%s", text);
  else
    NOTE("log: %.*s", (int)strcspn(text, "\n"), text);
  free(text);
  fclose(log);

  atomic_store(&g_churn_stop, 1);
  tt_chan_close(steady);
  tt_chan_close(leak);
  CHECK_MSG(wait_until(no_tasks, NULL, POLL_LIMIT), "%lld tasks left", (long long)tt_num_tasks());
  tt_chan_unref(steady);
  tt_chan_unref(leak);
  TEST_SHUTDOWN();
}

/* A callback may shut the monitor down (tt_shutdown does, through the
 * hook): the thread cannot join itself, so it is let go and exits as soon
 * as the callback returns. */
static void test_shutdown_from_callback(void) {
  NOTE("shutdown hook from the monitor's own callback");
  tt_config cfg = {2, 0};
  CHECK_EQ(tt_init(&cfg), TT_OK);
  reset_events();
  atomic_store(&g_shutdown_in_callback, 1);
  tt_chan *leak = tt_chan_make(sizeof(int), 0);
  tt_monitor_opts o = {.interval = GROWTH_INTERVAL,
                       .history = 3,
                       .site_growth = 5,
                       .stall = -1,
                       .callback = on_event};
  CHECK_EQ(tt_monitor_start(&o), TT_OK);
  int64_t end = tt_test_mono_ns() + POLL_LIMIT;
  for (int steps = 0; nevents() == 0 && tt_test_mono_ns() < end; steps++) {
    if (steps < 10)
      spawn_leakers(leak, STEP);
    tt_test_sleep_ns(GROWTH_INTERVAL * 3);
  }
  CHECK(nevents() > 0);
  int one = 1;
  CHECK(wait_until(callbacks_done, &one, POLL_LIMIT));
  CHECK_EQ(atomic_load(&g_stop_rc), TT_EBUSY);
  CHECK_EQ(tt_monitor_stop(), TT_ENOENT);
  /* No more reports once it is let go, however much more leaks. */
  spawn_leakers(leak, STEP * 2);
  tt_test_sleep_ns(GROWTH_INTERVAL * 10);
  CHECK_EQ(nevents(), 1);
  atomic_store(&g_shutdown_in_callback, 0);
  /* And a new monitor may start at once. */
  tt_monitor_opts quiet = {.interval = TT_MS(3600LL * 1000), .stall = -1, .callback = on_event};
  CHECK_EQ(tt_monitor_start(&quiet), TT_OK);
  CHECK_EQ(tt_monitor_stop(), TT_OK);
  tt_chan_close(leak);
  CHECK_MSG(wait_until(no_tasks, NULL, POLL_LIMIT), "%lld tasks left", (long long)tt_num_tasks());
  tt_chan_unref(leak);
  TEST_SHUTDOWN();
}

/* ---- stalls ----------------------------------------------------------------------------- */

static atomic_int g_spin_stop;
static atomic_llong g_yields;
static int g_spinner_line;

/* Runs without a scheduling point until told to stop (or for a minute, so
 * that a broken monitor fails the test instead of hanging it). */
static void spinner(void *arg) {
  (void)arg;
  int64_t end = tt_now() + TT_MS(60000);
  while (!atomic_load(&g_spin_stop) && tt_now() < end) {
  }
}

/* Busy too, but reaches a scheduling point every ~100 us. */
static void yielder(void *arg) {
  (void)arg;
  while (!atomic_load(&g_spin_stop)) {
    int64_t until = tt_now() + TT_US(100);
    while (tt_now() < until) {
    }
    tt_yield();
    atomic_fetch_add(&g_yields, 1);
  }
}

static void napper(void *arg) {
  (void)arg;
  while (!atomic_load(&g_spin_stop))
    tt_sleep(TT_MS(1));
}

static int64_t g_spinner_id;
static int spinner_reported(void *arg) {
  (void)arg;
  int found = 0;
  pthread_mutex_lock(&g_ev_lock);
  for (int i = 0; i < g_nev; i++)
    found |= g_evs[i].kind == TT_MONITOR_STALL && g_evs[i].task_id == g_spinner_id;
  pthread_mutex_unlock(&g_ev_lock);
  return found;
}

#define STALL TT_MS(50)

static void test_stall(void) {
  NOTE("stall: a task that never yields is reported once");
  tt_config cfg = {3, 0};
  CHECK_EQ(tt_init(&cfg), TT_OK);
  reset_events();
  FILE *log = tmpfile();
  CHECK(log != NULL);
  tt_monitor_opts o = {.interval = TT_MS(3600LL * 1000),
                       .total_growth = 1000000,
                       .site_growth = 1000000,
                       .stall = STALL,
                       .callback = on_event,
                       .log = log};
  CHECK_EQ(tt_monitor_start(&o), TT_OK);
  atomic_store(&g_spin_stop, 0);
  g_spinner_id = GO_AT(g_spinner_line, spinner, NULL);
  CHECK(g_spinner_id > 0);
  CHECK_MSG(wait_until(spinner_reported, NULL, POLL_LIMIT), "no stall report");
  /* It keeps spinning for several more thresholds: still one report. */
  tt_test_sleep_ns(STALL * 6);
  atomic_store(&g_spin_stop, 1);
  CHECK_MSG(wait_until(no_tasks, NULL, POLL_LIMIT), "%lld tasks left", (long long)tt_num_tasks());
  CHECK_EQ(tt_monitor_stop(), TT_OK);

  int reports = 0;
  pthread_mutex_lock(&g_ev_lock);
  for (int i = 0; i < g_nev; i++) {
    const ev_rec *r = &g_evs[i];
    CHECK_EQ(r->kind, TT_MONITOR_STALL);
    if (r->task_id != g_spinner_id)
      continue;
    reports++;
    CHECK(r->worker >= 0 && r->worker < 3);
    CHECK_MSG(r->stalled_for > STALL, "stalled_for %lld", (long long)r->stalled_for);
    CHECK_EQ(r->nsites, 1);
    CHECK_STREQ(r->entry, "spinner");
    CHECK_EQ(r->line, g_spinner_line);
    CHECK(tt_test_ends_with(r->file, "test_monitor.c"));
  }
  pthread_mutex_unlock(&g_ev_lock);
  CHECK_EQ(reports, 1);
  CHECK_EQ(atomic_load(&g_stop_rc), TT_EBUSY);
  char *text = read_file(log);
  char needle[160];
  snprintf(needle, sizeof needle,
           "tether monitor: task %lld (spinner, spawned at test_monitor.c:%d) has run for ",
           (long long)g_spinner_id, g_spinner_line);
  CHECK_EQ(count_lines_with(text, needle), 1);
  CHECK_EQ(count_lines_with(text, "without a scheduling point"), 1);
  if (count_lines_with(text, needle) != 1)
    fprintf(stderr, "log:\n%s", text);
  else
    NOTE("log: %.*s", (int)strcspn(text, "\n"), text);
  free(text);
  fclose(log);

  /* Tasks that yield or sleep are never reported. The threshold is far
   * above any time a loaded machine keeps a runnable worker thread off the
   * CPU, which would look exactly like a stall. */
  NOTE("stall: tasks that yield or sleep are not reported");
  reset_events();
  o.stall = TT_MS(500);
  o.log = NULL;
  CHECK_EQ(tt_monitor_start(&o), TT_OK);
  atomic_store(&g_spin_stop, 0);
  atomic_store(&g_yields, 0);
  CHECK(tt_go(yielder, NULL) > 0);
  CHECK(tt_go(napper, NULL) > 0);
  int64_t until = tt_test_mono_ns() + TT_MS(2000);
  while (tt_test_mono_ns() < until)
    tt_test_sleep_ns(TT_MS(10));
  atomic_store(&g_spin_stop, 1);
  CHECK_MSG(wait_until(no_tasks, NULL, POLL_LIMIT), "%lld tasks left", (long long)tt_num_tasks());
  CHECK_EQ(tt_monitor_stop(), TT_OK);
  CHECK_EQ(nevents(), 0);
  CHECK(atomic_load(&g_yields) > 100);
  NOTE("the yielder yielded %lld times", (long long)atomic_load(&g_yields));
  TEST_SHUTDOWN();
}

#define RUN(test) \
  do { \
    int64_t t0_ = tt_test_mono_ns(); \
    test(); \
    NOTE("%s: %lld ms", #test, (long long)((tt_test_mono_ns() - t0_) / 1000000)); \
  } while (0)

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(240);
  RUN(test_reason_names);
  RUN(test_counts);
  RUN(test_many_sites);
  RUN(test_errors);
  RUN(test_growth);
  RUN(test_shutdown_from_callback);
  RUN(test_stall);
  return TEST_REPORT();
}
