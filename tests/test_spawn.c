/*
 * test_spawn: spawning and exiting tasks at scale, task ids, tt_self,
 * named tasks and custom stack sizes.
 */
#include "harness.h"

#include <pthread.h>

static long g_n; /* 1,000,000 scaled */

/* ---- 1M tasks in waves, exact sum --------------------------------------- */

#define WAVES 10
static atomic_ullong g_sum;
static atomic_long g_wave_bad_self;

static void wave_task(void *arg) {
  uint64_t i = (uint64_t)(uintptr_t)arg;
  /* a little per-task work whose result is known exactly */
  uint64_t v = i * 3 + (i % 7);
  atomic_fetch_add_explicit(&g_sum, v, memory_order_relaxed);
  if (tt_self() <= 0)
    atomic_fetch_add(&g_wave_bad_self, 1);
}

/* From a task: wait (bounded) until tt_num_tasks() == want. */
static int await_num_tasks(int64_t want, int64_t timeout_ns) {
  int64_t end = tt_test_mono_ns() + timeout_ns;
  while (tt_num_tasks() != want) {
    if (tt_test_mono_ns() > end)
      return 0;
    tt_sleep(TT_MS(1));
  }
  return 1;
}

static void test_waves(void) {
  int64_t baseline = tt_num_tasks();
  long per_wave = g_n / WAVES;
  tt_wg *wg = tt_wg_make();
  CHECK(wg != NULL);
  if (!wg)
    return;
  int64_t t0 = tt_test_mono_ns();
  long spawn_errors = 0;
  int64_t first_err = 0;
  for (int w = 0; w < WAVES; w++) {
    uint64_t expect = 0;
    atomic_store(&g_sum, 0);
    for (long i = 0; i < per_wave; i++) {
      uint64_t idx = (uint64_t)w * (uint64_t)per_wave + (uint64_t)i;
      int64_t id = tt_wg_go(wg, wave_task, (void *)(uintptr_t)idx);
      if (id <= 0) {
        if (!spawn_errors)
          first_err = id;
        spawn_errors++;
        break;
      }
      expect += idx * 3 + (idx % 7);
    }
    CHECK_EQ(tt_wg_wait(wg), TT_OK);
    uint64_t got = atomic_load(&g_sum);
    CHECK_MSG(got == expect, "wave %d: sum %llu, expected %llu", w, (unsigned long long)got,
              (unsigned long long)expect);
    if (spawn_errors)
      break;
  }
  CHECK_MSG(spawn_errors == 0, "tt_wg_go failed: %" PRId64 " (%s)", first_err,
            tt_strerror((int)first_err));
  CHECK_EQ(atomic_load(&g_wave_bad_self), 0);
  CHECK_MSG(await_num_tasks(baseline, TT_MS(5000)), "tt_num_tasks()=%" PRId64 ", baseline %" PRId64,
            tt_num_tasks(), baseline);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  NOTE("waves: %d x %ld tasks in %.2f s", WAVES, per_wave, (tt_test_mono_ns() - t0) / 1e9);
}

/* ---- 1M tasks alive at once ---------------------------------------------- */

static tt_wg *g_release;
static atomic_long g_arrived, g_left, g_park_err;

static void parked_task(void *arg) {
  (void)arg;
  atomic_fetch_add(&g_arrived, 1);
  if (tt_wg_wait(g_release) != TT_OK)
    atomic_fetch_add(&g_park_err, 1);
  atomic_fetch_add(&g_left, 1);
}

static void test_alive_at_once(void) {
  int64_t baseline = tt_num_tasks();
  g_release = tt_wg_make();
  tt_wg *done = tt_wg_make();
  CHECK(g_release != NULL && done != NULL);
  if (!g_release || !done)
    return;
  CHECK_EQ(tt_wg_add(g_release, 1), TT_OK);
  int64_t t0 = tt_test_mono_ns();
  long spawned = 0;
  int64_t err = 0;
  for (long i = 0; i < g_n; i++) {
    int64_t id = tt_wg_go(done, parked_task, NULL);
    if (id <= 0) {
      err = id;
      break;
    }
    spawned++;
  }
  CHECK_MSG(spawned == g_n, "only %ld of %ld tasks spawned: %" PRId64 " (%s)", spawned, g_n, err,
            tt_strerror((int)err));
  /* every task has started and is parked: they are all alive at once */
  int64_t end = tt_test_mono_ns() + TT_MS(120000);
  while (atomic_load(&g_arrived) < spawned && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK_EQ(atomic_load(&g_arrived), spawned);
  int64_t live = tt_num_tasks();
  CHECK_MSG(live >= baseline + spawned,
            "tt_num_tasks()=%" PRId64 " with %ld parked, baseline %" PRId64, live, spawned,
            baseline);
  CHECK_MSG(live >= g_n, "tt_num_tasks()=%" PRId64 " < %ld", live, g_n);
  CHECK_EQ(atomic_load(&g_left), 0);
  NOTE("alive at once: %ld tasks parked in %.2f s", spawned, (tt_test_mono_ns() - t0) / 1e9);

  CHECK_EQ(tt_wg_done(g_release), TT_OK);
  CHECK_EQ(tt_wg_wait(done), TT_OK);
  CHECK_EQ(atomic_load(&g_left), spawned);
  CHECK_EQ(atomic_load(&g_park_err), 0);
  CHECK_MSG(await_num_tasks(baseline, TT_MS(5000)), "tt_num_tasks()=%" PRId64 ", baseline %" PRId64,
            tt_num_tasks(), baseline);
  CHECK_EQ(tt_wg_free(done), TT_OK);
  CHECK_EQ(tt_wg_free(g_release), TT_OK);
  NOTE("alive at once: released and joined in %.2f s total", (tt_test_mono_ns() - t0) / 1e9);
}

/* Sleeping (rather than WaitGroup-parked) tasks are counted too. */
static atomic_long g_slept;
static void sleeper_task(void *arg) {
  (void)arg;
  if (tt_sleep(TT_MS(1000)) == TT_OK)
    atomic_fetch_add(&g_slept, 1);
}

static void test_sleepers_counted(void) {
  long n = tt_test_scale_min(50000, 1000);
  int64_t baseline = tt_num_tasks();
  tt_wg *wg = tt_wg_make();
  int64_t t0 = tt_test_mono_ns();
  long spawned = 0;
  for (long i = 0; i < n; i++) {
    if (tt_wg_go(wg, sleeper_task, NULL) <= 0)
      break;
    spawned++;
  }
  int64_t live = tt_num_tasks();
  int64_t took = tt_test_mono_ns() - t0;
  CHECK_EQ(spawned, n);
  if (took < TT_MS(800))
    CHECK_MSG(live >= baseline + spawned, "tt_num_tasks()=%" PRId64 " with %ld sleepers", live,
              spawned);
  else
    NOTE("spawning %ld sleepers took %.2f s; count check skipped", spawned, took / 1e9);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(atomic_load(&g_slept), spawned);
  CHECK(await_num_tasks(baseline, TT_MS(5000)));
  tt_wg_free(wg);
}

/* ---- ids ------------------------------------------------------------------ */

#define NSPAWNERS 4
static long g_ids_per;
static int64_t *g_ret_ids[NSPAWNERS];
static int64_t *g_self_ids[NSPAWNERS];
static tt_wg *g_ids_wg;

static void id_task(void *arg) { *(int64_t *)arg = tt_self(); }

static void id_spawner(void *arg) {
  int s = (int)(intptr_t)arg;
  for (long i = 0; i < g_ids_per; i++) {
    g_ret_ids[s][i] = tt_wg_go(g_ids_wg, id_task, &g_self_ids[s][i]);
    if (i % 16 == 0)
      tt_yield(); /* scheduling points: the spawner may migrate */
  }
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static void test_ids(void) {
  g_ids_per = tt_test_scale_min(50000, 1000);
  g_ids_wg = tt_wg_make();
  tt_wg *spawners = tt_wg_make();
  for (int s = 0; s < NSPAWNERS; s++) {
    g_ret_ids[s] = calloc((size_t)g_ids_per, sizeof(int64_t));
    g_self_ids[s] = calloc((size_t)g_ids_per, sizeof(int64_t));
  }
  int64_t me = tt_self();
  CHECK(me > 0);
  for (int s = 0; s < NSPAWNERS; s++) {
    int64_t id = tt_wg_go(spawners, id_spawner, (void *)(intptr_t)s);
    CHECK(id > 0);
    CHECK(id > me); /* spawned after the caller: ids grow */
  }
  CHECK_EQ(tt_wg_wait(spawners), TT_OK);
  CHECK_EQ(tt_wg_wait(g_ids_wg), TT_OK);

  long nonpos = 0, not_increasing = 0, self_mismatch = 0;
  size_t total = (size_t)NSPAWNERS * (size_t)g_ids_per;
  int64_t *all = malloc(total * sizeof(int64_t));
  size_t k = 0;
  int64_t max_id = 0;
  for (int s = 0; s < NSPAWNERS; s++) {
    for (long i = 0; i < g_ids_per; i++) {
      int64_t id = g_ret_ids[s][i];
      if (id <= 0)
        nonpos++;
      if (i > 0 && id <= g_ret_ids[s][i - 1])
        not_increasing++;
      if (g_self_ids[s][i] != id)
        self_mismatch++;
      if (id > max_id)
        max_id = id;
      all[k++] = id;
    }
  }
  CHECK_EQ(nonpos, 0);
  CHECK_EQ(not_increasing, 0);
  CHECK_EQ(self_mismatch, 0);
  qsort(all, total, sizeof(int64_t), cmp_i64);
  long dups = 0;
  for (size_t i = 1; i < total; i++)
    if (all[i] == all[i - 1])
      dups++;
  CHECK_EQ(dups, 0);

  /* a task spawned after all of those were joined gets a larger id */
  int64_t later = tt_wg_go(g_ids_wg, id_task, &g_self_ids[0][0]);
  CHECK_MSG(later > max_id, "later id %" PRId64 " <= earlier max %" PRId64, later, max_id);
  tt_wg_wait(g_ids_wg);
  CHECK_EQ(g_self_ids[0][0], later);

  free(all);
  for (int s = 0; s < NSPAWNERS; s++) {
    free(g_ret_ids[s]);
    free(g_self_ids[s]);
  }
  tt_wg_free(spawners);
  tt_wg_free(g_ids_wg);
}

/* One task that keeps moving between workers and spawns a child after every
 * move: its children's ids must still increase. */
static atomic_int g_busy_stop;
static void busy_yielder(void *arg) {
  (void)arg;
  while (!atomic_load(&g_busy_stop)) {
    tt_test_spin_ns(TT_US(20));
    tt_yield();
  }
}

static void noop_task(void *arg) { (void)arg; }

typedef struct {
  long spawned, moves, not_increasing;
  int64_t bad_prev, bad_next;
  int bad_prev_w, bad_next_w;
} migrate_ids_result;

static void migrating_spawner(void *arg) {
  migrate_ids_result *r = arg;
  tt_wg *wg = tt_wg_make();
  int64_t prev = 0;
  int prev_w = tt_worker_id();
  int64_t end = tt_test_mono_ns() + (TT_TEST_SANITIZED ? TT_MS(10000) : TT_MS(3000));
  for (long i = 0; r->moves < 50 && tt_test_mono_ns() < end; i++) {
    int w = tt_worker_id();
    if (w != prev_w)
      r->moves++;
    int64_t id = tt_wg_go(wg, noop_task, NULL);
    if (id <= prev && !r->not_increasing++) {
      r->bad_prev = prev;
      r->bad_next = id;
      r->bad_prev_w = prev_w;
      r->bad_next_w = w;
    }
    prev = id;
    prev_w = w;
    r->spawned++;
    if (i & 1)
      tt_sleep(TT_US(50));
    else
      tt_yield();
  }
  tt_wg_wait(wg);
  tt_wg_free(wg);
}

static void test_ids_across_migration(void) {
  if (tt_procs() < 2)
    return;
  atomic_store(&g_busy_stop, 0);
  tt_wg *busy = tt_wg_make(), *wg = tt_wg_make();
  for (int i = 0; i < 4; i++)
    CHECK(tt_wg_go(busy, busy_yielder, NULL) > 0);
  migrate_ids_result r;
  memset(&r, 0, sizeof r);
  CHECK(tt_wg_go(wg, migrating_spawner, &r) > 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  atomic_store(&g_busy_stop, 1);
  CHECK_EQ(tt_wg_wait(busy), TT_OK);
  NOTE("migrating spawner: %ld spawns, %ld worker changes", r.spawned, r.moves);
  CHECK_MSG(r.not_increasing == 0,
            "%ld of %ld ids from one task did not increase; first: id %" PRId64
            " (on worker %d) then id %" PRId64 " (on worker %d)",
            r.not_increasing, r.spawned, r.bad_prev, r.bad_prev_w, r.bad_next, r.bad_next_w);
  tt_wg_free(busy);
  tt_wg_free(wg);
}

/* ---- names and stack sizes --------------------------------------------------- */

static volatile int g_zero;

/* About 1 KiB of stack per level. */
__attribute__((noinline)) static long stack_eater(int depth) {
  volatile char frame[1024];
  for (int i = 1023; i >= 0; i -= 64)
    frame[i] = (char)(depth + i);
  frame[0] = (char)depth;
  long below = depth > 1 ? stack_eater(depth - 1) : g_zero;
  return below + frame[0] + frame[959];
}

static long stack_eater_expected(int depth) {
  long r = 0;
  for (int d = 1; d <= depth; d++)
    r += (char)d + (char)(d + 959);
  return r;
}

#define EAT_LEVELS 150 /* ~150 KiB */

static tt_wg *g_hold;
static atomic_long g_eaten;
static atomic_llong g_named_self;

static void named_task_fn(void *arg) {
  (void)arg;
  atomic_store(&g_named_self, tt_self());
  atomic_store(&g_eaten, stack_eater(EAT_LEVELS));
  tt_wg_wait(g_hold);
}

static char g_long_name_seen[64];
static void renamed_task_fn(void *arg) {
  (void)arg;
  CHECK_EQ(tt_set_name("a-name-that-is-much-longer-than-31-bytes"), TT_OK);
  tt_wg_wait(g_hold);
}

static void small_stack_fn(void *arg) { atomic_store((atomic_long *)arg, stack_eater(4)); }

static void test_names_and_stacks(void) {
  g_hold = tt_wg_make();
  tt_wg *done = tt_wg_make();
  CHECK_EQ(tt_wg_add(g_hold, 1), TT_OK);

  char namebuf[32];
  snprintf(namebuf, sizeof namebuf, "%s", "named-task");
  tt_spawn_opts o = {.name = namebuf, .stack_size = 256 * 1024};
  CHECK_EQ(tt_wg_add(done, 1), TT_OK);
  int64_t id = tt_go_opts(named_task_fn, NULL, &o);
  CHECK(id > 0);
  memset(namebuf, 'X', sizeof namebuf - 1); /* the name must have been copied */

  int64_t id2 = tt_wg_go(done, renamed_task_fn, NULL);
  CHECK(id2 > 0);

  tt_test_task t;
  CHECK(tt_test_await_wait_reason(id, "sync.WaitGroup.Wait", TT_MS(10000), &t));
  CHECK_STREQ(t.info.name, "named-task");
  CHECK_MSG(t.info.stack_size >= 256 * 1024, "stack_size %zu", t.info.stack_size);
  CHECK_STREQ(t.info.entry, "named_task_fn");
  CHECK_EQ(atomic_load(&g_named_self), id);
  CHECK_EQ(atomic_load(&g_eaten), stack_eater_expected(EAT_LEVELS));

  CHECK(tt_test_await_wait_reason(id2, "sync.WaitGroup.Wait", TT_MS(10000), &t));
  snprintf(g_long_name_seen, sizeof g_long_name_seen, "%s", t.info.name);
  CHECK_EQ(strlen(g_long_name_seen), 31);
  CHECK(strncmp(g_long_name_seen, "a-name-that-is-much-longer-than-31-bytes", 31) == 0);

  /* a task without options reports the default stack size, > 0 */
  CHECK(tt_test_find_task(tt_self(), &t));
  CHECK(t.info.stack_size > 0);

  CHECK_EQ(tt_wg_done(g_hold), TT_OK);
  /* named_task_fn was spawned with tt_go_opts: wait for it through its count */
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  while (tt_test_find_task(id, &t) && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK(!tt_test_find_task(id, &t));
  CHECK_EQ(tt_wg_done(done), TT_OK); /* the add(1) made for named_task_fn */
  CHECK_EQ(tt_wg_wait(done), TT_OK);

  /* a small custom stack works for a modest task */
  atomic_long small_result = 0;
  tt_spawn_opts so = {.name = "small", .stack_size = 32 * 1024};
  CHECK_EQ(tt_wg_add(done, 1), TT_OK);
  int64_t sid = tt_go_opts(small_stack_fn, &small_result, &so);
  CHECK(sid > 0);
  end = tt_test_mono_ns() + TT_MS(10000);
  while (tt_test_find_task(sid, &t) && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
  CHECK_EQ(atomic_load(&small_result), stack_eater_expected(4));
  tt_wg_done(done);

  CHECK_EQ(tt_wg_free(done), TT_OK);
  CHECK_EQ(tt_wg_free(g_hold), TT_OK);
}

/* ---- default stack size: tt_config.stack_size and $TT_STACK_SIZE ---------------------- */

static atomic_long g_cfg_eaten;
static atomic_llong g_cfg_stack;
static void cfg_stack_task(void *arg) {
  int levels = (int)(intptr_t)arg;
  tt_test_task t;
  if (tt_test_find_task(tt_self(), &t))
    atomic_store(&g_cfg_stack, (long long)t.info.stack_size);
  atomic_store(&g_cfg_eaten, stack_eater(levels));
}

/* Start the runtime with `cfg`, run a task that uses `levels` KiB of stack,
 * return the stack size it reports (0 on failure). */
static size_t run_with_stack_config(const tt_config *cfg, int levels) {
  atomic_store(&g_cfg_stack, 0);
  atomic_store(&g_cfg_eaten, -1);
  CHECK_EQ(tt_init(cfg), TT_OK);
  tt_wg *wg = tt_wg_make();
  CHECK(tt_wg_go(wg, cfg_stack_task, (void *)(intptr_t)levels) > 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  tt_wg_free(wg);
  TEST_SHUTDOWN();
  CHECK_EQ(atomic_load(&g_cfg_eaten), stack_eater_expected(levels));
  return (size_t)atomic_load(&g_cfg_stack);
}

static void test_stack_config(void) {
  unsetenv("TT_STACK_SIZE");
  size_t got = run_with_stack_config(NULL, 8);
  CHECK_MSG(got >= 64 * 1024 && got < 128 * 1024, "default stack_size %zu, want 64 KiB", got);

  tt_config c = {0, 192 * 1024};
  got = run_with_stack_config(&c, 150);
  CHECK_MSG(got >= 192 * 1024, "tt_config.stack_size 192 KiB: task reports %zu", got);

  CHECK_EQ(setenv("TT_STACK_SIZE", "262144", 1), 0);
  got = run_with_stack_config(NULL, 200);
  CHECK_MSG(got >= 256 * 1024, "TT_STACK_SIZE=262144: task reports %zu", got);
  tt_config zero = {0, 0};
  got = run_with_stack_config(&zero, 200);
  CHECK_MSG(got >= 256 * 1024, "TT_STACK_SIZE=262144, stack_size 0: task reports %zu", got);
  /* an explicit stack_size wins over the environment */
  got = run_with_stack_config(&c, 150);
  CHECK_MSG(got >= 192 * 1024 && got < 256 * 1024, "stack_size 192 KiB with TT_STACK_SIZE set: %zu",
            got);
  CHECK_EQ(unsetenv("TT_STACK_SIZE"), 0);
}

/* ---- tt_self outside tasks ---------------------------------------------------- */

static void *plain_thread(void *arg) {
  int64_t *out = arg;
  out[0] = tt_self();
  out[1] = tt_worker_id();
  return NULL;
}

static void test_self_outside(void) {
  CHECK_EQ(tt_self(), 0);
  CHECK_EQ(tt_init(NULL), TT_OK);
  CHECK_EQ(tt_self(), 0);
  CHECK_EQ(tt_worker_id(), -1);
  int64_t out[2] = {-7, -7};
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, plain_thread, out), 0);
  pthread_join(th, NULL);
  CHECK_EQ(out[0], 0);
  CHECK_EQ(out[1], -1);
  TEST_SHUTDOWN();
  CHECK_EQ(tt_self(), 0);
}

static void spawn_main(void *arg) {
  (void)arg;
  CHECK(tt_self() > 0);
  CHECK(tt_worker_id() >= 0);
  test_ids();
  test_ids_across_migration();
  test_names_and_stacks();
  test_waves();
  test_alive_at_once();
  test_sleepers_counted();
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(300);
  g_n = tt_test_scale(1000000);
  NOTE("scale: %ld tasks", g_n);
  test_self_outside();
  test_stack_config();
  RUN_MAIN(0, spawn_main, NULL);
  CHECK_EQ(tt_num_tasks(), 0);
  return TEST_REPORT();
}
