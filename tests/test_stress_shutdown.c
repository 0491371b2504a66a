/*
 * test_stress_shutdown: tt_shutdown racing what plain threads do to a
 * running runtime, over many restarts (200 rounds per race under
 * `make test`, 60 under TSan, 100 under ASan; 100 times as many under
 * `make stress`):
 *
 *  - verify: a thread calls tt_verify_none (and tt_num_tasks,
 *    tt_verify_snapshot_take) in a loop while the runtime starts and stops
 *    under it; every call returns a count or a clean TT_ENOTINIT /
 *    TT_ESHUTDOWN, never a crash;
 *  - spawn + dump: threads spawn tasks and write dumps in every format while
 *    the runtime shuts down; spawns fail with TT_ESHUTDOWN / TT_ENOTINIT,
 *    dumps with TT_ENOTINIT / TT_ESHUTDOWN or succeed;
 *  - signal dump: TT_DUMP_SIGNAL arms a dump on SIGUSR1 at every tt_init, a
 *    thread keeps sending the signal, and the dump thread's dumps race the
 *    shutdown (TSan checks the hand-over of the runtime's memory); the
 *    re-arming at each start never lets the signal end the process.
 *
 * Each round starts the runtime with two workers and a few tasks that
 * sleep, wait on a channel or spin, then shuts it down after a random pause
 * of up to 1 ms while the racing threads run.
 */
#include "harness.h"

#include <pthread.h>

static uint64_t g_rng = 0xA0761D6478BD642FULL;
static uint64_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

static long g_rounds;
static atomic_int g_stop;       /* the racing threads end */
static atomic_long g_bad_rc;    /* calls that returned something undocumented */
static atomic_long g_calls;     /* calls the racing threads made */
static atomic_long g_succeeded; /* of those, on a running runtime */

static void bad(const char *what, int64_t rc) {
  if (atomic_fetch_add(&g_bad_rc, 1) < 5)
    fprintf(stderr, "%s returned %lld (%s)\n", what, (long long)rc, tt_strerror((int)rc));
}

/* ---- the runtime under the race --------------------------------------------- */

static tt_chan *g_never; /* nobody sends on it */

static void sleeper(void *arg) {
  (void)arg;
  tt_sleep(TT_MS(60000));
}

static void chan_waiter(void *arg) { tt_chan_recv(arg, NULL); }

static void yielder(void *arg) {
  (void)arg;
  for (;;)
    tt_yield();
}

static void spawned(void *arg) {
  (void)arg;
  tt_yield();
}

/* Spawns from inside the runtime until shutdown drops it. */
static void spawner(void *arg) {
  (void)arg;
  for (;;) {
    tt_go(spawned, NULL);
    tt_yield();
  }
}

/* Start the runtime with a few tasks, let it run for a random moment while
 * the racers work, and shut it down. */
static void restart_rounds(void) {
  for (long i = 0; i < g_rounds; i++) {
    tt_config cfg = {2, 0};
    int rc = tt_init(&cfg);
    CHECK_EQ(rc, TT_OK);
    if (rc != TT_OK)
      return;
    g_never = tt_chan_make(0, 0);
    CHECK(tt_go(sleeper, NULL) > 0);
    CHECK(tt_go(chan_waiter, g_never) > 0);
    CHECK(tt_go(yielder, NULL) > 0);
    CHECK(tt_go(spawner, NULL) > 0);
    tt_test_spin_ns((int64_t)(rnd() % TT_US(1000)));
    CHECK_EQ(tt_shutdown(), TT_OK);
    tt_chan_unref(g_never);
  }
}

typedef void *(*racer_fn)(void *);

static void race(const char *name, racer_fn *racers, int n) {
  atomic_store(&g_stop, 0);
  atomic_store(&g_bad_rc, 0);
  atomic_store(&g_calls, 0);
  atomic_store(&g_succeeded, 0);
  pthread_t th[8];
  for (int i = 0; i < n; i++)
    CHECK_EQ(pthread_create(&th[i], NULL, racers[i], NULL), 0);
  int64_t t0 = tt_test_mono_ns();
  restart_rounds();
  atomic_store(&g_stop, 1);
  for (int i = 0; i < n; i++)
    pthread_join(th[i], NULL);
  CHECK_EQ(atomic_load(&g_bad_rc), 0);
  CHECK(atomic_load(&g_calls) > 0);
  NOTE("%s: %ld restarts in %.1f s, %ld racing calls (%ld on a running runtime)", name, g_rounds,
       (tt_test_mono_ns() - t0) / 1e9, atomic_load(&g_calls), atomic_load(&g_succeeded));
}

/* ---- verify-none ------------------------------------------------------------- */

static void *verify_racer(void *arg) {
  (void)arg;
  tt_verify_opts o = {.max_wait = TT_US(100)};
  while (!atomic_load(&g_stop)) {
    tt_verify_report *rep = NULL;
    int64_t n = tt_verify_none(&o, &rep);
    if (n > 0) {
      if (tt_verify_report_count(rep) != n)
        bad("tt_verify_report_count", tt_verify_report_count(rep));
      atomic_fetch_add(&g_succeeded, 1);
    } else if (n != 0 && n != TT_ESHUTDOWN) {
      bad("tt_verify_none", n);
    }
    tt_verify_report_free(rep);
    if (tt_num_tasks() < 0)
      bad("tt_num_tasks", tt_num_tasks());
    tt_verify_snapshot_free(tt_verify_snapshot_take());
    atomic_fetch_add(&g_calls, 1);
  }
  return NULL;
}

static void test_verify_vs_shutdown(void) {
  racer_fn r[] = {verify_racer};
  race("verify-none vs shutdown", r, 1);
}

/* ---- spawns and dumps ---------------------------------------------------------- */

static void short_task(void *arg) {
  (void)arg;
  tt_yield();
}

static void *spawn_racer(void *arg) {
  (void)arg;
  while (!atomic_load(&g_stop)) {
    int64_t id = tt_go(short_task, NULL);
    if (id > 0)
      atomic_fetch_add(&g_succeeded, 1);
    else if (id != TT_ESHUTDOWN && id != TT_ENOTINIT)
      bad("tt_go", id);
    atomic_fetch_add(&g_calls, 1);
  }
  return NULL;
}

static void *dump_racer(void *arg) {
  (void)arg;
  FILE *out = fopen("/dev/null", "w");
  CHECK(out != NULL);
  static const tt_dump_format formats[] = {TT_DUMP_GO_DEBUG2, TT_DUMP_GO_DEBUG1,
                                           TT_DUMP_PPROF,     TT_DUMP_JSON,
                                           TT_DUMP_SUMMARY,   TT_DUMP_PPROF_LEAKED};
  for (unsigned i = 0; out && !atomic_load(&g_stop); i++) {
    /* Every other dump is tt_dump's short text: it is the quickest, so it
     * meets the shutdown most often. */
    int rc = i % 2 ? tt_dump(out) : tt_dump_as(out, formats[i / 2 % 6]);
    if (rc == 0)
      atomic_fetch_add(&g_succeeded, 1);
    else if (rc != TT_ESHUTDOWN && rc != TT_ENOTINIT)
      bad("tt_dump_as", rc);
    atomic_fetch_add(&g_calls, 1);
  }
  if (out)
    fclose(out);
  return NULL;
}

static void test_spawn_and_dump_vs_shutdown(void) {
  racer_fn r[] = {spawn_racer, dump_racer};
  race("spawn + dump vs shutdown", r, 2);
}

/* ---- dumps on a signal ------------------------------------------------------- */

static void *signal_racer(void *arg) {
  (void)arg;
  while (!atomic_load(&g_stop)) {
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    atomic_fetch_add(&g_calls, 1);
    tt_test_sleep_ns(TT_US(50)); /* the dump thread coalesces the rest */
  }
  return NULL;
}

static void test_signal_dump_vs_shutdown(void) {
  /* tt_init arms the dump from the environment at every start; once armed,
   * a restart must never leave the signal's default action (which ends the
   * process) in place, not even for a moment. */
  char path[] = "/tmp/tether-stress-dumps.XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0)
    return;
  setenv("TT_DUMP_SIGNAL", "USR1", 1);
  setenv("TT_DUMP_FILE", path, 1);
  setenv("TT_DUMP_FORMAT", "json", 1);
  tt_config cfg = {1, 0};
  CHECK_EQ(tt_init(&cfg), TT_OK);
  CHECK_EQ(tt_shutdown(), TT_OK);
  racer_fn r[] = {signal_racer};
  race("signal dumps vs shutdown", r, 1);
  CHECK_EQ(tt_dump_on_signal(0, TT_DUMP_GO_DEBUG2, NULL), TT_OK);
  /* A JSON signal dump goes to a numbered file of its own (path.N, renamed
   * into place once whole; the numbering starts again at each tt_init's
   * re-arming); a dump that met no running runtime writes no file and says
   * why on stderr. Every file there is must be a whole JSON document, and
   * no half-written one may be left behind. */
  long whole = 0, failed = 0;
  for (int k = 1; k < 100000; k++) {
    char name[64], tmp[80];
    snprintf(name, sizeof name, "%s.%d", path, k);
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    /* A dump the last signal started may still be finishing after the
     * disarm (it copied the path before): it is renamed once whole, or
     * removed if it failed, so its temporary name must go soon. */
    for (int wait = 0; access(tmp, F_OK) == 0 && wait < 5000; wait++)
      tt_test_sleep_ns(TT_MS(1));
    CHECK_MSG(access(tmp, F_OK) != 0, "%s was left half-written", tmp);
    unlink(tmp);
    FILE *f = fopen(name, "r");
    if (!f)
      break;
    char *doc = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&doc, &cap, '\0', f);
    fclose(f);
    unlink(name);
    int ok = n > 1 && doc[0] == '{' && strstr(doc, "\"tasks\":[") && doc[n - 1] == '\n' &&
             doc[n - 2] == '}';
    whole += ok;
    failed += !ok;
    free(doc);
  }
  close(fd);
  unlink(path);
  CHECK_EQ(failed, 0);
  NOTE("signal dumps: %ld whole files, %ld broken", whole, failed);
  unsetenv("TT_DUMP_SIGNAL");
  unsetenv("TT_DUMP_FILE");
  unsetenv("TT_DUMP_FORMAT");
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog((unsigned)(300 * tt_test_scale_env()));
  /* Fewer under the sanitizers, TSan above all: each restart there starts
   * and joins threads it instruments (make stress raises them all). */
  g_rounds = (long)((TT_TEST_TSAN ? 60 : TT_TEST_ASAN ? 100 : 200) * tt_test_scale_env());
  test_verify_vs_shutdown();
  test_spawn_and_dump_vs_shutdown();
  test_signal_dump_vs_shutdown();
  CHECK_EQ(tt_num_tasks(), 0);
  return TEST_REPORT();
}
