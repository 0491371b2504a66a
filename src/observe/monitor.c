/*
 * The growth monitor: a plain thread that samples the task population every
 * `interval`, reports spawn sites whose population keeps growing (the
 * signature of a leak: tasks parked forever, piling up at one tt_go), and
 * flags a task that runs for too long without a scheduling point.
 *
 * It is a pthread, not a task, on purpose: a task that never yields starves
 * its worker, and with every worker starved a monitor task would never run
 * to say so.
 *
 * Growth. Each sample is tt_count_by_site (one walk of the task lists, no
 * stop-the-world), kept in a ring of `history` samples. The newest is
 * compared with the oldest: the window spans (history - 1) intervals. When
 * the total grows by more than total_growth or a site by more than
 * site_growth, one report goes out. Then the monitor stays quiet for one
 * whole window (history - 1 samples), so that the next window shares no
 * interval with the one just reported: a steady leak produces one line per
 * window, each with fresh figures, rather than one per sample.
 *
 * Stalls. Each worker counts the switches into its tasks (w->switches). If
 * a worker shows the same count and the same non-NULL current task for
 * longer than `stall`, that task has been running without a scheduling
 * point for at least that long. The check is a few loads per worker, so it
 * runs every stall/4 (at least 1 ms), more often than the growth sample.
 * Each such run is reported once; a new run of the same task (after it
 * yields and stalls again) is a new report.
 *
 * The monitor reads tt__rt.workers, which tt_shutdown frees; tt_shutdown
 * must therefore stop it first, through tt__monitor_shutdown() below.
 */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/sanitizer.h"
#include "core/threads.h"
#include "observe/baseline.h"
#include "observe/hooks.h"
#include "observe/walk.h"

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

#define DEFAULT_INTERVAL NS_PER_S
#define DEFAULT_HISTORY 10
#define DEFAULT_TOTAL_GROWTH 1000
#define DEFAULT_SITE_GROWTH 100
#define DEFAULT_STALL (100 * NS_PER_MS)
#define MIN_STALL_TICK NS_PER_MS
/* Sites named on one log line; the event carries all of them. */
#define LOG_SITES 5
/* When only the total crossed its threshold, no single site did: name the
 * few that grew most so the report still says where to look. */
#define TOTAL_ONLY_SITES 5

typedef struct sample {
  int64_t when, total;
  tt_site_count *sites; /* sorted by site key, for lookups */
  int nsites;
} sample;

/* What one worker looked like when we first saw its current run. */
typedef struct stall_watch {
  uint64_t switches;
  const void *current; /* compared, never dereferenced */
  int64_t since;
  bool reported;
} stall_watch;

typedef struct monitor {
  int64_t interval, total_growth, site_growth, stall, tick;
  int history;
  void (*callback)(const tt_monitor_event *ev, void *arg);
  void *arg;
  FILE *log; /* NULL: no log line */

  uint64_t gen; /* the runtime generation whose workers we watch */
  int nworkers;
  stall_watch *watch;

  sample *ring; /* history slots */
  int nring;    /* filled slots */
  int next;     /* slot of the next sample */
  int64_t seq;  /* samples taken */
  int64_t last_report;

  const tt_baseline *baseline;
  int64_t baseline_tolerance;
  int64_t baseline_excess; /* tasks beyond tolerance at the last baseline report */

  tt_site_count *buf; /* scratch for tt_count_by_site */
  int bufcap;

  bool stop; /* under mon_lock */
} monitor;

/* One monitor at a time. mon_lock guards these and every monitor's `stop`;
 * mon_cond (on CLOCK_MONOTONIC, the tt_now() clock) is what the monitor
 * thread sleeps on between ticks, so stopping it takes effect at once. */
static pthread_mutex_t mon_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mon_cond;
static pthread_once_t mon_once = PTHREAD_ONCE_INIT;
static monitor *mon_cur;
static pthread_t mon_thread;
static bool mon_stopping; /* a stop is joining the thread right now */

static void mon_init_cond(void) {
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(&mon_cond, &a);
  pthread_condattr_destroy(&a);
}

static bool stopped(monitor *m) {
  pthread_mutex_lock(&mon_lock);
  bool s = m->stop;
  pthread_mutex_unlock(&mon_lock);
  return s;
}

static void monitor_free(monitor *m) {
  if (!m)
    return;
  if (m->ring)
    for (int i = 0; i < m->history; i++)
      free(m->ring[i].sites);
  free(m->ring);
  free(m->watch);
  free(m->buf);
  free(m);
}

/* ---- Formatting ------------------------------------------------------------ */

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

static void fmt_duration(char *buf, size_t n, int64_t ns) {
  if (ns < NS_PER_MS)
    snprintf(buf, n, "%lldus", (long long)(ns / 1000));
  else if (ns < NS_PER_S)
    snprintf(buf, n, "%lldms", (long long)(ns / NS_PER_MS));
  else if (ns % NS_PER_S < 50 * NS_PER_MS || ns % NS_PER_S >= 950 * NS_PER_MS)
    snprintf(buf, n, "%llds", (long long)((ns + NS_PER_S / 2) / NS_PER_S));
  else
    snprintf(buf, n, "%.1fs", (double)ns / (double)NS_PER_S);
}

/* snprintf that appends and never runs past the end. */
__attribute__((format(printf, 4, 5))) static void append(char *buf, size_t n, size_t *len,
                                                         const char *fmt, ...) {
  if (*len >= n)
    return;
  va_list ap;
  va_start(ap, fmt);
  /* va_start is just above: the analyzer loses track of it here */
  int r = vsnprintf(buf + *len, n - *len, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
  va_end(ap);
  if (r > 0)
    *len = *len + (size_t)r < n ? *len + (size_t)r : n;
}

/* The log line goes out with one fputs, so lines from other threads writing
 * to the same FILE cannot interleave inside it. */
static void emit(monitor *m, const tt_monitor_event *ev, const char *line) {
  if (m->log) {
    fputs(line, m->log);
    fflush(m->log);
  }
  if (m->callback)
    m->callback(ev, m->arg);
}

/* ---- Growth ------------------------------------------------------------------ */

static int str_cmp(const char *a, const char *b) { return a == b ? 0 : strcmp(a, b); }

/* The key of a site: file, line, entry (func follows from file:line). */
static int site_key_cmp(const void *pa, const void *pb) {
  const tt_site_count *a = pa, *b = pb;
  if (a->line != b->line)
    return a->line < b->line ? -1 : 1;
  int c = str_cmp(a->file, b->file);
  return c ? c : str_cmp(a->entry, b->entry);
}

/* All sites into m->buf; the population may grow between the calls, hence
 * the loop. Returns how many, or a TT_E* code. */
static int take_sites(monitor *m) {
  for (;;) {
    int n = tt_count_by_site(m->buf, m->bufcap);
    if (n <= m->bufcap)
      return n; /* also the error codes */
    int cap = n + n / 2 + 16;
    tt_site_count *b = realloc(m->buf, (size_t)cap * sizeof *b);
    if (!b)
      return TT_ENOMEM;
    m->buf = b;
    m->bufcap = cap;
  }
}

typedef struct grower {
  tt_site_count site;
  int64_t growth;
} grower;

static int grower_cmp(const void *pa, const void *pb) {
  const grower *a = pa, *b = pb;
  if (a->growth != b->growth)
    return a->growth > b->growth ? -1 : 1;
  return site_key_cmp(&a->site, &b->site);
}

static void report_growth(monitor *m, const sample *base, const sample *cur, grower *g, int ng) {
  tt_site_count *sites = malloc((size_t)(ng ? ng : 1) * sizeof *sites);
  int64_t *growth = malloc((size_t)(ng ? ng : 1) * sizeof *growth);
  if (!sites || !growth) {
    free(sites);
    free(growth);
    return;
  }
  for (int i = 0; i < ng; i++) {
    sites[i] = g[i].site;
    growth[i] = g[i].growth;
  }

  char line[1024], dur[32];
  size_t len = 0;
  fmt_duration(dur, sizeof dur, cur->when - base->when);
  append(line, sizeof line, &len, "tether monitor: tasks %lld -> %lld (%+lld) in %s",
         (long long)base->total, (long long)cur->total, (long long)(cur->total - base->total), dur);
  for (int i = 0; i < ng && i < LOG_SITES; i++) {
    append(line, sizeof line, &len, "%s%s:%d %s %+lld",
           i ? ", " : "; growing: ", base_name(sites[i].file), sites[i].line, sites[i].entry,
           (long long)growth[i]);
    if (sites[i].top_reason && *sites[i].top_reason)
      append(line, sizeof line, &len, " [%s]", sites[i].top_reason);
  }
  if (ng > LOG_SITES)
    append(line, sizeof line, &len, " (and %d more)", ng - LOG_SITES);
  if (len >= sizeof line - 1)
    len = sizeof line - 2;
  line[len] = '\n';
  line[len + 1] = '\0';

  tt_monitor_event ev = {.kind = TT_MONITOR_GROWTH,
                         .total = cur->total,
                         .total_before = base->total,
                         .sites = sites,
                         .site_growth = growth,
                         .nsites = ng,
                         .worker = -1};
  emit(m, &ev, line);
  free(sites);
  free(growth);
}

static void take_sample(monitor *m, int64_t now) {
  int n = take_sites(m);
  if (n < 0)
    return; /* out of memory, or the runtime is going away: try next time */

  tt_site_count *copy = malloc((size_t)(n ? n : 1) * sizeof *copy);
  if (!copy)
    return; /* skip this sample; the ring keeps the ones it has */
  if (n > 0)
    memcpy(copy, m->buf, (size_t)n * sizeof *copy);
  qsort(copy, (size_t)n, sizeof *copy, site_key_cmp);

  /* The new sample takes the slot of the oldest once the ring is full. */
  sample *cur = &m->ring[m->next];
  free(cur->sites);
  *cur = (sample){.when = now, .total = 0, .sites = copy, .nsites = n};
  for (int i = 0; i < n; i++)
    cur->total += copy[i].count;
  m->next = (m->next + 1) % m->history;
  if (m->nring < m->history)
    m->nring++;
  int64_t seq = m->seq++;

  if (m->nring < 2)
    return;
  if (m->last_report >= 0 && seq - m->last_report < m->history - 1)
    return; /* quiet until the window has moved past the last report */
  const sample *base = &m->ring[(m->next + m->history - m->nring) % m->history];

  grower *g = malloc((size_t)(n ? n : 1) * sizeof *g);
  if (!g)
    return;
  int ng = 0, over = 0;
  for (int i = 0; i < n; i++) {
    const tt_site_count *was = base->nsites
                                   ? bsearch(&cur->sites[i], base->sites, (size_t)base->nsites,
                                             sizeof *base->sites, site_key_cmp)
                                   : NULL;
    int64_t d = cur->sites[i].count - (was ? was->count : 0);
    if (d <= 0)
      continue;
    g[ng].site = cur->sites[i];
    g[ng].growth = d;
    over += d > m->site_growth;
    ng++;
  }
  bool total_grew = cur->total - base->total > m->total_growth;
  if (over || total_grew) {
    qsort(g, (size_t)ng, sizeof *g, grower_cmp);
    /* Sorted by growth, the sites over the threshold come first. */
    int shown = over ? over : (ng < TOTAL_ONLY_SITES ? ng : TOTAL_ONLY_SITES);
    m->last_report = seq;
    report_growth(m, base, cur, g, shown);
  }
  free(g);
}

/* ---- Baseline -------------------------------------------------------------- */

/* Report the sites grown past the baseline's tolerance when more tasks
 * are beyond it than at the last such report: a steady leak is reported as
 * it grows, a stable excess once. */
static void check_baseline(monitor *m) {
  tt__baseline_diff d;
  if (tt__baseline_compare(m->baseline, m->baseline_tolerance, &d) < 0)
    return;
  int64_t excess = 0;
  for (int i = 0; i < d.n; i++)
    excess += d.growers[i].growth - m->baseline_tolerance;
  if (excess > m->baseline_excess) {
    tt_site_count *sites = malloc((size_t)(d.n ? d.n : 1) * sizeof *sites);
    int64_t *growth = malloc((size_t)(d.n ? d.n : 1) * sizeof *growth);
    char *text = NULL;
    size_t len = 0;
    FILE *f = m->log ? open_memstream(&text, &len) : NULL;
    if (f) {
      tt__baseline_print(&d, m->baseline_tolerance, f);
      fclose(f);
    }
    if (sites && growth) {
      for (int i = 0; i < d.n; i++) {
        sites[i] = d.growers[i].site;
        growth[i] = d.growers[i].growth;
      }
      tt_monitor_event ev = {.kind = TT_MONITOR_BASELINE,
                             .total = d.total,
                             .total_before = d.total_before,
                             .sites = sites,
                             .site_growth = growth,
                             .nsites = d.n,
                             .worker = -1};
      emit(m, &ev, text ? text : "");
    }
    free(text);
    free(sites);
    free(growth);
  }
  m->baseline_excess = excess;
  tt__baseline_diff_free(&d);
}

/* ---- Stalls ------------------------------------------------------------------ */

/* w->current is a plain pointer written only by its worker. We compare it
 * and never dereference it, so a stale value costs at most one tick. TSan
 * would count an atomic load of a field written non-atomically as a race,
 * so under TSan the read is an uninstrumented one, as stackwalk.c does for
 * its reads of live stacks. */
#ifdef TT_TSAN
__attribute__((no_sanitize("thread"), noinline)) static const void *peek_current(tt_worker *w) {
  return *(tt_task *const volatile *)&w->current;
}
#else
static const void *peek_current(tt_worker *w) {
  return __atomic_load_n(&w->current, __ATOMIC_RELAXED);
}
#endif

typedef struct running_find {
  int worker;
  bool found;
  int64_t id;
  const char *entry, *file, *func;
  int line;
  char name[32];
} running_find;

static int find_running_visit(const tt_task_info *info, void *arg) {
  running_find *f = arg;
  if (info->state != TT_TASK_RUNNING || info->worker != f->worker)
    return 0;
  f->found = true;
  f->id = info->id;
  f->entry = info->entry ? info->entry : "";
  f->file = info->spawn_file ? info->spawn_file : "";
  f->func = info->spawn_func ? info->spawn_func : "";
  f->line = info->spawn_line;
  memcpy(f->name, info->name, sizeof f->name);
  f->name[sizeof f->name - 1] = '\0';
  return 1;
}

static void report_stall(monitor *m, int worker, const running_find *f, int64_t dur) {
  char line[512], d[32];
  fmt_duration(d, sizeof d, dur);
  snprintf(line, sizeof line,
           "tether monitor: task %lld%s%s%s (%s, spawned at %s:%d) has run for %s on worker %d "
           "without a scheduling point\n",
           (long long)f->id, f->name[0] ? " \"" : "", f->name, f->name[0] ? "\"" : "", f->entry,
           base_name(f->file), f->line, d, worker);
  tt_site_count site = {.file = f->file,
                        .func = f->func,
                        .entry = f->entry,
                        .line = f->line,
                        .count = 1,
                        .waiting = 0,
                        .top_reason = ""};
  tt_monitor_event ev = {.kind = TT_MONITOR_STALL,
                         .sites = &site,
                         .nsites = 1,
                         .task_id = f->id,
                         .worker = worker,
                         .stalled_for = dur};
  emit(m, &ev, line);
}

/* Returns false when a callback stopped the monitor (the runtime may be
 * gone: touch nothing more). */
static bool check_stalls(monitor *m, int64_t now) {
  for (int i = 0; i < m->nworkers; i++) {
    tt_worker *w = tt__rt.workers[i];
    stall_watch *s = &m->watch[i];
    uint64_t sw = atomic_load_explicit(&w->switches, memory_order_relaxed);
    const void *cur = peek_current(w);
    if (!cur || sw != s->switches || cur != s->current) {
      *s = (stall_watch){.switches = sw, .current = cur, .since = now, .reported = false};
      continue;
    }
    if (s->reported || now - s->since <= m->stall)
      continue;
    /* The task pointer may not be dereferenced (it can exit and be freed at
     * any moment), so look the running task up by its worker through the
     * walk, which copies records under the list locks. Only one task can be
     * running on a worker whose switch count stands still. */
    running_find f = {.worker = i};
    tt_tasks_foreach(find_running_visit, &f);
    if (!f.found)
      continue; /* caught mid-switch: look again next tick */
    if (atomic_load_explicit(&w->switches, memory_order_relaxed) != sw || peek_current(w) != cur)
      continue; /* it moved on during the walk: next tick starts afresh */
    s->reported = true;
    report_stall(m, i, &f, tt_now() - s->since);
    if (stopped(m))
      return false;
  }
  return true;
}

/* ---- The thread ---------------------------------------------------------------- */

/* Deadlines saturate: an interval or stall of "forever" is legal. */
static int64_t sat_add(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }

static bool runtime_ours(const monitor *m) {
  return atomic_load(&tt__rt.state) == TT_RT_RUNNING && atomic_load(&tt__rt.generation) == m->gen;
}

static void *monitor_main(void *arg) {
  monitor *m = arg;
  tt__shutdown_waits_for_me = true;
  /* Without a user callback it only reads; a callback could wake tasks. */
  if (!m->callback)
    tt__thread_known(true);
  int64_t now = tt_now();
  int64_t next_sample = now; /* the first sample, at once, is the baseline */
  int64_t next_tick = m->stall > 0 ? sat_add(now, m->tick) : INT64_MAX;

  pthread_mutex_lock(&mon_lock);
  while (!m->stop) {
    now = tt_now();
    int64_t due = next_sample < next_tick ? next_sample : next_tick;
    if (now < due) {
      struct timespec ts = {.tv_sec = (time_t)(due / NS_PER_S), .tv_nsec = (long)(due % NS_PER_S)};
      pthread_cond_timedwait(&mon_cond, &mon_lock, &ts);
      continue;
    }
    pthread_mutex_unlock(&mon_lock);

    /* Without the runtime that started us there is nothing to look at; a
     * wired tt_shutdown stops us before this can be false. */
    bool alive = runtime_ours(m);
    if (alive && now >= next_tick)
      alive = check_stalls(m, now);
    if (alive && now >= next_sample) {
      take_sample(m, now);
      if (m->baseline)
        check_baseline(m);
    }
    if (now >= next_tick)
      next_tick = sat_add(now, m->tick);
    if (now >= next_sample) {
      next_sample = sat_add(next_sample, m->interval);
      if (next_sample <= now) /* fell behind (a long walk): no burst of catch-up samples */
        next_sample = sat_add(now, m->interval);
    }

    pthread_mutex_lock(&mon_lock);
  }
  pthread_mutex_unlock(&mon_lock);
  if (!m->callback)
    tt__thread_known(false);
  monitor_free(m);
  return NULL;
}

/* ---- API ----------------------------------------------------------------------- */

int tt_monitor_start(const tt_monitor_opts *opts) {
  tt_monitor_opts o = opts ? *opts : (tt_monitor_opts){0};
  if (o.interval < 0 || o.history < 0 || o.history == 1 || o.total_growth < 0 ||
      o.site_growth < 0 || o.baseline_tolerance < 0)
    return TT_EINVAL;
  pthread_once(&mon_once, mon_init_cond);

  monitor *m = calloc(1, sizeof *m);
  if (!m)
    return TT_ENOMEM;
  m->interval = o.interval ? o.interval : DEFAULT_INTERVAL;
  m->history = o.history ? o.history : DEFAULT_HISTORY;
  m->total_growth = o.total_growth ? o.total_growth : DEFAULT_TOTAL_GROWTH;
  m->site_growth = o.site_growth ? o.site_growth : DEFAULT_SITE_GROWTH;
  m->stall = o.stall < 0 ? 0 : o.stall ? o.stall : DEFAULT_STALL;
  m->tick = m->stall / 4 > MIN_STALL_TICK ? m->stall / 4 : MIN_STALL_TICK;
  m->callback = o.callback;
  m->arg = o.arg;
  m->log = o.log ? o.log : o.callback ? NULL : stderr;
  m->last_report = -1;
  m->baseline = o.baseline;
  m->baseline_tolerance = o.baseline_tolerance;
  m->ring = calloc((size_t)m->history, sizeof *m->ring);
  if (!m->ring) {
    monitor_free(m);
    return TT_ENOMEM;
  }

  pthread_mutex_lock(&mon_lock);
  int rc = 0;
  int st = atomic_load(&tt__rt.state);
  if (mon_cur || mon_stopping)
    rc = TT_EBUSY;
  else if (st != TT_RT_RUNNING)
    rc = st == TT_RT_OFF ? TT_ENOTINIT : TT_ESHUTDOWN;
  if (rc == 0) {
    /* Under mon_lock and with the runtime running: tt_shutdown marks the
     * runtime stopping before it calls tt__monitor_shutdown, which takes
     * mon_lock, so either we see "stopping" here or it sees our monitor. */
    m->gen = atomic_load(&tt__rt.generation);
    m->nworkers = tt__rt.nworkers;
    m->watch = calloc((size_t)m->nworkers, sizeof *m->watch);
    if (!m->watch)
      rc = TT_ENOMEM;
  }
  if (rc == 0) {
    /* Signals meant for the application (or for a sigwait-ing helper such
     * as the dump-on-signal thread) must never land on the monitor. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (tt__thread_create(&mon_thread, NULL, monitor_main, m) != 0)
      rc = TT_ENOMEM;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  if (rc == 0)
    mon_cur = m;
  pthread_mutex_unlock(&mon_lock);
  if (rc < 0)
    monitor_free(m);
  return rc;
}

/* from_shutdown: the runtime is going away, so a monitor thread that calls
 * this from its own callback cannot be refused; it is detached instead and
 * exits when the callback returns, touching nothing of the runtime. */
static int monitor_stop(bool from_shutdown) {
  pthread_mutex_lock(&mon_lock);
  /* A stop already under way on another thread: wait for its join, so
   * that a shutdown never frees the workers under a monitor still running. */
  while (!mon_cur && mon_stopping)
    pthread_cond_wait(&mon_cond, &mon_lock);
  monitor *m = mon_cur;
  if (!m) {
    pthread_mutex_unlock(&mon_lock);
    /* No monitor: say so, unless the runtime itself is not running. */
    return atomic_load(&tt__rt.state) == TT_RT_RUNNING ? TT_ENOENT : TT_ENOTINIT;
  }
  pthread_t t = mon_thread;
  if (pthread_equal(t, pthread_self())) {
    if (!from_shutdown) {
      pthread_mutex_unlock(&mon_lock);
      return TT_EBUSY; /* it cannot join itself */
    }
    m->stop = true;
    mon_cur = NULL;
    pthread_detach(t);
    pthread_mutex_unlock(&mon_lock);
    return 0;
  }
  m->stop = true;
  mon_cur = NULL;
  mon_stopping = true;
  pthread_cond_broadcast(&mon_cond);
  pthread_mutex_unlock(&mon_lock);

  pthread_join(t, NULL); /* the thread frees its monitor */

  pthread_mutex_lock(&mon_lock);
  mon_stopping = false;
  pthread_cond_broadcast(&mon_cond);
  pthread_mutex_unlock(&mon_lock);
  return 0;
}

int tt_monitor_stop(void) {
  pthread_once(&mon_once, mon_init_cond);
  return monitor_stop(false);
}

void tt__monitor_shutdown(void) {
  pthread_once(&mon_once, mon_init_cond);
  monitor_stop(true);
}
