/*
 * test_dump: tt_tasks_foreach and tt_dump on constructed scenarios.
 */
#include "harness.h"

#include <pthread.h>

/* Spawn and remember the line of the spawn: __LINE__ here and inside the
 * tt_go macro both expand to the line of the invocation. */
#define GO_AT(line_var, fn, arg) ((line_var) = __LINE__, tt_go(fn, arg))
#define GO_OPTS_AT(line_var, fn, arg, opts) ((line_var) = __LINE__, tt_go_opts(fn, arg, opts))
#define WG_GO_AT(line_var, wg, fn, arg) ((line_var) = __LINE__, tt_wg_go(wg, fn, arg))

/* created / wait_since are stamped at the kernel tick's resolution */
#define TICK_SLACK TT_MS(20)

static int g_main_line; /* line of the tt_main call for dump_main */
static tt_wg *g_block;  /* never released while we look */
static atomic_llong g_grandchild_id;
static int g_grandchild_line;

static void sleeper_task(void *arg) {
  (void)arg;
  tt_sleep(TT_MS(3600LL * 1000));
}

static void waiter_task(void *arg) {
  (void)arg;
  tt_wg_wait(g_block);
}

static void grandchild_task(void *arg) {
  (void)arg;
  tt_sleep(TT_MS(3600LL * 1000));
}

static void parent_task(void *arg) {
  (void)arg;
  atomic_store(&g_grandchild_id, GO_AT(g_grandchild_line, grandchild_task, NULL));
  tt_wg_wait(g_block);
}

static void renamer_task(void *arg) {
  (void)arg;
  tt_set_name("renamed");
  tt_wg_wait(g_block);
}

static void wg_sleeper(void *arg) {
  (void)arg;
  tt_sleep(TT_MS(3600LL * 1000));
}

static int g_fresh_line;
static atomic_int g_fresh_ran;
static void fresh_task(void *arg) {
  (void)arg;
  atomic_store(&g_fresh_ran, 1);
}

static void *spawn_fresh_thread(void *arg) {
  *(int64_t *)arg = GO_AT(g_fresh_line, fresh_task, NULL);
  return NULL;
}

/* ---- visitors -------------------------------------------------------------------------- */

typedef struct {
  int64_t ids[64];
  int n;
  int overflow;
  int bad_strings; /* NULL state_name / wait_reason / entry / spawn_file / spawn_func */
  int bad_state;
} collect_arg;

static int collect_visit(const tt_task_info *info, void *arg) {
  collect_arg *c = arg;
  if (c->n < 64)
    c->ids[c->n++] = info->id;
  else
    c->overflow = 1;
  if (!info->state_name || !info->wait_reason || !info->entry || !info->spawn_file ||
      !info->spawn_func)
    c->bad_strings++;
  if (info->state != TT_TASK_RUNNABLE && info->state != TT_TASK_RUNNING &&
      info->state != TT_TASK_WAITING)
    c->bad_state++;
  return 0;
}

static int count_in(const collect_arg *c, int64_t id) {
  int k = 0;
  for (int i = 0; i < c->n; i++)
    k += c->ids[i] == id;
  return k;
}

typedef struct {
  int calls;
  int stop_after;
} stop_arg;

static int stop_visit(const tt_task_info *info, void *arg) {
  (void)info;
  stop_arg *s = arg;
  s->calls++;
  return s->calls >= s->stop_after;
}

/* ---- dump parsing ------------------------------------------------------------------------- */

/* The first run of digits in `line`, or -1. A dump line names its task's id
 * before anything else numeric ("task 12 [sleep, 3 ms] ..."); other ids on
 * the line (a parent's) and numbers in a header line come later or belong to
 * lines without our spawn site. */
static int64_t first_number(const char *line) {
  const char *p = line;
  while (*p && !(*p >= '0' && *p <= '9'))
    p++;
  if (!*p)
    return -1;
  return strtoll(p, NULL, 10);
}

/* strstr(line, word) where the match is not followed by a digit (so that
 * "x.c:35" does not match "x.c:350"). */
static int contains_word(const char *line, const char *word) {
  size_t lw = strlen(word);
  for (const char *p = line; (p = strstr(p, word)) != NULL; p++)
    if (!(p[lw] >= '0' && p[lw] <= '9'))
      return 1;
  return 0;
}

/* Find the dump line of task `id`: its first number is the id and it
 * contains `must` (e.g. the spawn site). Copies the first one to out (empty
 * if none). Returns the number of such lines. */
static int find_dump_line(const char *dump, int64_t id, const char *must, char *out, size_t n) {
  int hits = 0;
  out[0] = '\0';
  const char *p = dump;
  while (*p) {
    const char *e = strchr(p, '\n');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    char line[1024];
    size_t cl = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, p, cl);
    line[cl] = '\0';
    if (first_number(line) == id && (!must || contains_word(line, must))) {
      if (!hits)
        snprintf(out, n, "%s", line);
      hits++;
    }
    p += len;
    if (*p == '\n')
      p++;
  }
  return hits;
}

static int count_lines_with(const char *dump, const char *needle) {
  int k = 0;
  const char *p = dump;
  while (*p) {
    const char *e = strchr(p, '\n');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    char line[1024];
    size_t cl = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, p, cl);
    line[cl] = '\0';
    if (strstr(line, needle))
      k++;
    p += len;
    if (*p == '\n')
      p++;
  }
  return k;
}

/* tt_dump into memory, via open_memstream. Caller frees. */
static char *dump_to_memory(void) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  CHECK(f != NULL);
  if (!f)
    return strdup("");
  int rc = tt_dump(f);
  CHECK_MSG(rc >= 0, "tt_dump = %d", rc);
  fclose(f);
  return buf;
}

/* tt_dump into a tmpfile(), read back. Caller frees. */
static char *dump_to_tmpfile(void) {
  FILE *f = tmpfile();
  CHECK(f != NULL);
  if (!f)
    return strdup("");
  int rc = tt_dump(f);
  CHECK_MSG(rc >= 0, "tt_dump = %d", rc);
  fflush(f);
  long size = ftell(f);
  CHECK(size > 0);
  if (size < 0)
    size = 0;
  char *buf = calloc(1, (size_t)size + 1);
  rewind(f);
  size_t got = fread(buf, 1, (size_t)size, f);
  buf[got] = '\0';
  fclose(f);
  return buf;
}

/* Check task `id` has exactly one line in the dump, holding its spawn site
 * "test_dump.c:<spawn_line>" and the given words. */
static void check_dump_line(const char *dump, const char *what, int64_t id, const char *needle1,
                            const char *needle2, int spawn_line) {
  char line[1024], site[64];
  snprintf(site, sizeof site, "test_dump.c:%d", spawn_line);
  int hits = find_dump_line(dump, id, site, line, sizeof line);
  CHECK_MSG(hits == 1, "%s: %d dump lines for task %" PRId64 " with spawn site %s in:\n%s", what,
            hits, id, site, dump);
  if (!hits)
    return;
  if (needle1)
    CHECK_MSG(strstr(line, needle1) != NULL, "%s: \"%s\" missing from: %s", what, needle1, line);
  if (needle2)
    CHECK_MSG(strstr(line, needle2) != NULL, "%s: \"%s\" missing from: %s", what, needle2, line);
}

/* ---- session A: one worker, everything parked, deterministic states ------------------------ */

static void dump_main(void *arg) {
  (void)arg;
  int64_t me = tt_self();
  int sleeper_line = 0, waiter_line = 0, parent_line = 0, renamer_line = 0, wgs_line = 0;
  g_block = tt_wg_make();
  tt_wg *wg2 = tt_wg_make();
  CHECK_EQ(tt_wg_add(g_block, 1), TT_OK);
  int64_t t_before = tt_now();
  int64_t baseline = tt_num_tasks(); /* 1: this task */
  CHECK_EQ(baseline, 1);

  int64_t sleeper = GO_AT(sleeper_line, sleeper_task, NULL);
  tt_spawn_opts wo = {.name = "wg-waiter", .stack_size = 128 * 1024};
  int64_t waiter = GO_OPTS_AT(waiter_line, waiter_task, NULL, &wo);
  int64_t parent = GO_AT(parent_line, parent_task, NULL);
  int64_t renamer = GO_AT(renamer_line, renamer_task, NULL);
  int64_t wgs = WG_GO_AT(wgs_line, wg2, wg_sleeper, NULL);
  CHECK(sleeper > 0 && waiter > 0 && parent > 0 && renamer > 0 && wgs > 0);

  tt_test_task t;
  /* A task that exists but has never run: spawn it from a plain thread while
   * this task keeps the only worker busy (blocked in pthread_join). (A spawn
   * from a task may run the child first, so it cannot be used here.) */
  pthread_t th;
  int64_t fresh = 0;
  CHECK_EQ(pthread_create(&th, NULL, spawn_fresh_thread, &fresh), 0);
  pthread_join(th, NULL);
  CHECK(fresh > 0);
  CHECK(tt_test_find_task(fresh, &t));
  CHECK_EQ(t.info.state, TT_TASK_RUNNABLE);
  CHECK_STREQ(t.info.state_name, "runnable");
  CHECK_STREQ(t.info.wait_reason, "");
  CHECK_EQ(t.info.wait_since, 0);
  CHECK_EQ(t.info.worker, -1);
  /* docs/API.md: created and wait_since are on the tt_now() time base "at
   * the kernel tick's resolution, a few ms": allow one tick behind, never
   * ahead. */
  int64_t t_after = tt_now();
  CHECK_MSG(t.info.created >= t_before - TICK_SLACK && t.info.created <= t_after,
            "created %" PRId64 " not within [%" PRId64 " - tick, %" PRId64
            "] (tt_now before/after spawn)",
            t.info.created, t_before, t_after);
  CHECK_EQ(t.info.parent_id, 0);
  CHECK_EQ(t.info.spawn_line, g_fresh_line);
  CHECK_STREQ(t.info.spawn_func, "spawn_fresh_thread");
  CHECK_STREQ(t.info.entry, "fresh_task");
  char *fd = dump_to_memory();
  check_dump_line(fd, "never-run task", fresh, "runnable", "fresh_task", g_fresh_line);
  free(fd);

  /* children know their parent */
  CHECK(tt_test_find_task(sleeper, &t));
  CHECK_EQ(t.info.parent_id, me);

  /* the caller itself is running */
  CHECK(tt_test_find_task(me, &t));
  CHECK_EQ(t.info.state, TT_TASK_RUNNING);
  CHECK_STREQ(t.info.state_name, "running");
  CHECK_STREQ(t.info.wait_reason, "");
  CHECK_EQ(t.info.wait_since, 0);
  CHECK_EQ(t.info.worker, 0);
  CHECK_EQ(t.info.worker, tt_worker_id());
  /* tt_main's task: named "main", spawned at the tt_main call in main() */
  CHECK_STREQ(t.info.name, "main");
  CHECK_STREQ(t.info.entry, "dump_main");
  CHECK_MSG(tt_test_ends_with(t.info.spawn_file, "test_dump.c"), "spawn_file %s", t.spawn_file);
  CHECK_EQ(t.info.spawn_line, g_main_line);
  CHECK_STREQ(t.info.spawn_func, "main");
  CHECK_EQ(t.info.parent_id, 0);

  /* let them park (and the fresh task run and exit) */
  {
    int64_t end = tt_test_mono_ns() + TT_MS(10000);
    while (!atomic_load(&g_fresh_ran) && tt_test_mono_ns() < end)
      tt_sleep(TT_MS(1));
    CHECK_EQ(atomic_load(&g_fresh_ran), 1);
    while (tt_test_find_task(fresh, &t) && tt_test_mono_ns() < end)
      tt_sleep(TT_MS(1));
    CHECK(!tt_test_find_task(fresh, &t));
  }
  CHECK(tt_test_await_wait_reason(sleeper, "sleep", TT_MS(10000), &t));
  CHECK_EQ(t.info.id, sleeper);
  CHECK_EQ(t.info.state, TT_TASK_WAITING);
  CHECK_STREQ(t.info.state_name, "waiting");
  CHECK_STREQ(t.info.wait_reason, "sleep");
  CHECK(t.info.wait_since > 0);
  CHECK(t.info.wait_since >= t.info.created);
  CHECK(t.info.wait_since <= tt_now());
  /* it parked after t_before was read (to the tick, as for created) */
  CHECK_MSG(t.info.wait_since >= t_before - TICK_SLACK,
            "wait_since %" PRId64 " more than a tick before tt_now() at spawn %" PRId64,
            t.info.wait_since, t_before);
  CHECK_STREQ(t.info.entry, "sleeper_task");
  CHECK_MSG(tt_test_ends_with(t.info.spawn_file, "test_dump.c"), "spawn_file %s", t.spawn_file);
  CHECK_EQ(t.info.spawn_line, sleeper_line);
  CHECK_STREQ(t.info.spawn_func, "dump_main");
  CHECK_EQ(t.info.parent_id, me);
  CHECK_STREQ(t.info.name, "");
  CHECK_EQ(t.info.worker, 0);
  CHECK(t.info.stack_size > 0);

  CHECK(tt_test_await_wait_reason(waiter, "sync.WaitGroup.Wait", TT_MS(10000), &t));
  CHECK_EQ(t.info.state, TT_TASK_WAITING);
  CHECK_STREQ(t.info.entry, "waiter_task");
  CHECK_STREQ(t.info.name, "wg-waiter");
  CHECK_EQ(t.info.spawn_line, waiter_line);
  CHECK_STREQ(t.info.spawn_func, "dump_main");
  CHECK_EQ(t.info.parent_id, me);
  CHECK(t.info.stack_size >= 128 * 1024);
  CHECK(t.info.wait_since > 0);

  CHECK(tt_test_await_wait_reason(parent, "sync.WaitGroup.Wait", TT_MS(10000), &t));
  int64_t grandchild = atomic_load(&g_grandchild_id);
  CHECK(grandchild > 0);
  CHECK(tt_test_await_wait_reason(grandchild, "sleep", TT_MS(10000), &t));
  CHECK_EQ(t.info.parent_id, parent);
  CHECK_STREQ(t.info.spawn_func, "parent_task");
  CHECK_STREQ(t.info.entry, "grandchild_task");
  CHECK_EQ(t.info.spawn_line, g_grandchild_line);

  CHECK(tt_test_await_wait_reason(renamer, "sync.WaitGroup.Wait", TT_MS(10000), &t));
  CHECK_STREQ(t.info.name, "renamed");
  CHECK_EQ(t.info.spawn_line, renamer_line);

  CHECK(tt_test_await_wait_reason(wgs, "sleep", TT_MS(10000), &t));
  CHECK_STREQ(t.info.entry, "wg_sleeper");
  CHECK_EQ(t.info.spawn_line, wgs_line);
  CHECK_STREQ(t.info.spawn_func, "dump_main");
  CHECK_EQ(t.info.parent_id, me);

  /* every live task visited exactly once; count matches tt_num_tasks */
  collect_arg c;
  memset(&c, 0, sizeof c);
  int64_t visited = tt_tasks_foreach(collect_visit, &c);
  CHECK_EQ(visited, c.n);
  CHECK_EQ(visited, tt_num_tasks());
  CHECK_EQ(visited, baseline + 6); /* + sleeper, waiter, parent, grandchild, renamer, wgs */
  CHECK(!c.overflow);
  CHECK_EQ(c.bad_strings, 0);
  CHECK_EQ(c.bad_state, 0);
  int64_t all[] = {me, sleeper, waiter, parent, grandchild, renamer, wgs};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    CHECK_MSG(count_in(&c, all[i]) == 1, "task %" PRId64 " visited %d times", all[i],
              count_in(&c, all[i]));

  /* early stop */
  stop_arg s = {0, 3};
  CHECK_EQ(tt_tasks_foreach(stop_visit, &s), 3);
  CHECK_EQ(s.calls, 3);
  stop_arg s1 = {0, 1};
  CHECK_EQ(tt_tasks_foreach(stop_visit, &s1), 1);
  CHECK_EQ(s1.calls, 1);
  stop_arg sall = {0, 1000};
  CHECK_EQ(tt_tasks_foreach(stop_visit, &sall), baseline + 6);
  CHECK_EQ(sall.calls, baseline + 6);

  /* tt_dump, to memory and to a tmpfile */
  for (int pass = 0; pass < 2; pass++) {
    char *d = pass == 0 ? dump_to_memory() : dump_to_tmpfile();
    check_dump_line(d, "sleeper", sleeper, "sleep", "sleeper_task", sleeper_line);
    check_dump_line(d, "wg waiter", waiter, "sync.WaitGroup.Wait", "waiter_task", waiter_line);
    check_dump_line(d, "parent", parent, "sync.WaitGroup.Wait", "parent_task", parent_line);
    check_dump_line(d, "grandchild", grandchild, "sleep", "grandchild_task", g_grandchild_line);
    check_dump_line(d, "renamer", renamer, "sync.WaitGroup.Wait", NULL, renamer_line);
    check_dump_line(d, "wg_go sleeper", wgs, "sleep", "wg_sleeper", wgs_line);
    check_dump_line(d, "main task", me, "running", "dump_main", g_main_line);
    /* one line per task: all were spawned in this file (the main task by tt_main) */
    CHECK_MSG(count_lines_with(d, "test_dump.c:") == baseline + 6, "dump:\n%s", d);
    if (pass == 0)
      NOTE("tt_dump output:\n%s", d);
    free(d);
  }

  /* release the WaitGroup waiters; the sleepers are dropped by tt_main */
  CHECK_EQ(tt_wg_done(g_block), TT_OK);
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  while (tt_test_find_task(waiter, &t) && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK(!tt_test_find_task(waiter, &t));
  while (tt_test_find_task(renamer, &t) && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK(!tt_test_find_task(renamer, &t));
  /* a finished task is gone from the dump too */
  char *d = dump_to_memory();
  char line[1024], site[64];
  snprintf(site, sizeof site, "test_dump.c:%d", waiter_line);
  CHECK_EQ(find_dump_line(d, waiter, site, line, sizeof line), 0);
  check_dump_line(d, "sleeper after release", sleeper, "sleep", NULL, sleeper_line);
  free(d);
  while (tt_test_find_task(parent, &t) && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK_EQ(tt_wg_free(g_block), TT_OK); /* all its waiters are gone */
  /* wg2's only task sleeps on; nobody waits on wg2 itself */
  CHECK_EQ(tt_wg_free(wg2), TT_OK);
}

/* ---- session B: two workers, a spinning task is seen running -------------------------------- */

static atomic_int g_spin_stop;
static void spin_task(void *arg) {
  (void)arg;
  while (!atomic_load(&g_spin_stop)) {
    tt_test_spin_ns(TT_US(50));
    tt_yield();
  }
}

static void running_main(void *arg) {
  (void)arg;
  tt_wg *wg = tt_wg_make();
  int64_t a = tt_wg_go(wg, spin_task, NULL);
  int64_t b = tt_wg_go(wg, spin_task, NULL);
  CHECK(a > 0 && b > 0);
  int seen_running = 0, seen_bad = 0, seen_worker_bad = 0, polls = 0;
  int64_t end = tt_test_mono_ns() + TT_MS(3000);
  while (tt_test_mono_ns() < end && seen_running < 5) {
    for (int k = 0; k < 2; k++) {
      tt_test_task t;
      if (!tt_test_find_task(k ? b : a, &t)) {
        seen_bad++;
        continue;
      }
      if (t.info.state == TT_TASK_RUNNING) {
        seen_running++;
        if (strcmp(t.state_name, "running") != 0)
          seen_bad++;
        if (t.info.worker < 0 || t.info.worker >= 2)
          seen_worker_bad++;
      } else if (t.info.state == TT_TASK_RUNNABLE) {
        if (strcmp(t.state_name, "runnable") != 0)
          seen_bad++;
      } else {
        seen_bad++; /* never waiting */
      }
      if (t.wait_reason[0] != '\0' || t.info.wait_since != 0)
        seen_bad++;
    }
    polls++;
    if (polls % 2)
      tt_sleep(TT_US(500));
    else
      tt_yield();
  }
  CHECK_MSG(seen_running > 0, "a spinning task was never seen running in %d polls", polls);
  CHECK_EQ(seen_bad, 0);
  CHECK_EQ(seen_worker_bad, 0);
  atomic_store(&g_spin_stop, 1);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  tt_wg_free(wg);
}

/* ---- session C: tasks spawned from a plain thread -------------------------------------------- */

static void plain_sleeper(void *arg) {
  (void)arg;
  tt_sleep(TT_MS(3600LL * 1000));
}

static void test_plain_parent(void) {
  CHECK_EQ(tt_init(NULL), TT_OK);
  int line = 0;
  int64_t id = GO_AT(line, plain_sleeper, NULL);
  CHECK(id > 0);
  tt_test_task t;
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  while (!(tt_test_find_task(id, &t) && t.info.state == TT_TASK_WAITING) && tt_test_mono_ns() < end)
    tt_test_sleep_ns(TT_MS(1));
  CHECK_EQ(t.info.state, TT_TASK_WAITING);
  CHECK_STREQ(t.info.wait_reason, "sleep");
  CHECK_EQ(t.info.parent_id, 0);
  CHECK_STREQ(t.info.spawn_func, "test_plain_parent");
  CHECK_EQ(t.info.spawn_line, line);
  CHECK(t.info.worker >= 0);
  /* foreach and dump from a plain thread */
  CHECK_EQ(tt_tasks_foreach(stop_visit, &(stop_arg){0, 1000}), 1);
  char *d = dump_to_memory();
  check_dump_line(d, "plain-thread child", id, "sleep", "plain_sleeper", line);
  free(d);
  TEST_SHUTDOWN();
  /* nothing is live after shutdown: no visit (0, or an error code) */
  stop_arg after = {0, 1000};
  int64_t n_after = tt_tasks_foreach(stop_visit, &after);
  CHECK_MSG(n_after <= 0, "tt_tasks_foreach after shutdown = %" PRId64, n_after);
  CHECK_EQ(after.calls, 0);
  /* (tt_dump's return value with no runtime is not specified: not checked) */
  size_t len = 0;
  d = NULL;
  FILE *f = open_memstream(&d, &len);
  tt_dump(f);
  fclose(f);
  CHECK_MSG(count_lines_with(d, "test_dump.c:") == 0, "dump after shutdown:\n%s", d);
  free(d);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(120);
  g_main_line = __LINE__ + 1; /* the RUN_MAIN below spawns main */
  RUN_MAIN(1, dump_main, NULL);
  RUN_MAIN(2, running_main, NULL);
  test_plain_parent();
  return TEST_REPORT();
}
