/*
 * test_stress_restart: a runtime started and shut down again and again
 * keeps nothing of its earlier runs (100 rounds under `make test`, 50 under
 * TSan; 100 times as many under `make stress`).
 *
 * Each round does some of everything (channels, a timer, a context with a
 * deadline, a WaitGroup, a task group) and leaves behind what a real
 * program leaves when it shuts down in a hurry: a task group destroyed
 * while its task is stuck (TT_ELEAKED: the group then belongs to that
 * task), a task blocked on a channel nobody can reach (a definite leak,
 * recorded), and a task sleeping for an hour. Shutdown drops those tasks;
 * it must free what the runtime owns with them, and the next tt_init starts
 * with no leak records.
 *
 * After a warm-up the process's resident memory, heap in use (glibc's
 * mallinfo2, release build), open fds, mappings and threads must stay flat
 * (read from /proc/self); under ASan, LeakSanitizer checks at exit that
 * nothing was lost (an abandoned group used to be).
 */
#include "harness.h"

#include <dirent.h>
#include <malloc.h>

static tt_chan *g_hold; /* the stuck group task waits on it; main holds it */

static int stuck_in_group(tt_context *ctx, void *arg) {
  (void)ctx;
  (void)arg;
  tt_chan_recv(g_hold, NULL); /* ignores the group's cancellation */
  return 0;
}

static int quick_in_group(tt_context *ctx, void *arg) {
  (void)arg;
  return tt_sleep_ctx(TT_US(100), ctx);
}

static void receiver(void *arg) { tt_chan_recv(arg, NULL); }

static void hour_sleeper(void *arg) {
  (void)arg;
  tt_sleep(TT_MS(3600LL * 1000));
}

static void wg_worker(void *arg) { tt_chan_send(arg, &(int){1}); }

static void round_main(void *arg) {
  (void)arg;
  CHECK_EQ(tt_leak_count(), 0); /* the records of the last run are gone */

  /* Work that finishes. */
  tt_chan *c = tt_chan_make(sizeof(int), 4);
  tt_wg *wg = tt_wg_make();
  for (int i = 0; i < 4; i++)
    CHECK(tt_wg_go(wg, wg_worker, c) > 0);
  CHECK_EQ(tt_wg_wait(wg), TT_OK);
  CHECK_EQ(tt_chan_len(c), 4);
  CHECK_EQ(tt_wg_free(wg), TT_OK);
  tt_chan_unref(c);
  tt_timer *t = tt_timer_make(TT_US(50));
  int64_t v;
  CHECK_EQ(tt_chan_recv(tt_timer_chan(t), &v), 0);
  CHECK_EQ(tt_timer_free(t), 0);
  tt_context *ctx = tt_with_timeout(NULL, TT_US(100));
  CHECK_EQ(tt_sleep_ctx(TT_MS(10000), ctx), TT_ETIMEDOUT);
  tt_context_release(ctx);
  tt_group *ok = tt_group_make(NULL, 2);
  for (int i = 0; i < 3; i++)
    CHECK(tt_group_go(ok, quick_in_group, NULL) > 0);
  CHECK_EQ(tt_group_wait(ok), 0);
  CHECK_EQ(tt_group_destroy(ok, 0), 0);

  /* What a hurried shutdown leaves behind. */
  tt_group *g = tt_group_make(NULL, 1);
  CHECK(tt_group_go(g, stuck_in_group, NULL) > 0);
  tt_yield();
  CHECK_EQ(tt_group_destroy(g, 0), TT_ELEAKED);
  tt_chan *lost = tt_chan_make(sizeof(int), 0);
  int64_t id = tt_go(receiver, lost);
  CHECK(id > 0);
  tt_test_task info;
  CHECK(tt_test_await_wait_reason(id, "chan receive", TT_MS(10000), &info));
  tt_chan_unref(lost);
  CHECK_EQ(tt_leak_count(), 1);
  CHECK(tt_go(hour_sleeper, NULL) > 0);
}

typedef struct usage {
  long rss_kb, threads, fds, maps;
  size_t heap; /* bytes in use (mallinfo2); 0 under sanitizers */
} usage;

static long status_field(const char *name) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t n = strlen(name);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, name, n) == 0 && line[n] == ':')
      v = strtol(line + n + 1, NULL, 10);
  if (f)
    fclose(f);
  return v;
}

static long count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  long n = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    n += e->d_name[0] != '.';
  if (d)
    closedir(d);
  return n - 1; /* the directory's own fd */
}

static long count_maps(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  long n = 0;
  for (int ch; f && (ch = fgetc(f)) != EOF;)
    n += ch == '\n';
  if (f)
    fclose(f);
  return n;
}

static usage measure(void) {
  usage u = {status_field("VmRSS"), status_field("Threads"), count_fds(), count_maps(), 0};
#if !TT_TEST_SANITIZED
  u.heap = mallinfo2().uordblks;
#endif
  return u;
}

static void one_round(void) {
  tt_config cfg = {2, 0};
  int rc = tt_init(&cfg);
  CHECK_EQ(rc, TT_OK);
  if (rc != TT_OK)
    return;
  g_hold = tt_chan_make(0, 0);
  CHECK_EQ(tt_main(round_main, NULL), TT_OK);
  CHECK_EQ(tt_shutdown(), TT_OK);
  tt_chan_unref(g_hold);
  g_hold = NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  long rounds = (long)((TT_TEST_TSAN ? 50 : 100) * tt_test_scale_env());
  long warmup = 10;
  tt_test_watchdog((unsigned)(300 * tt_test_scale_env()));
  /* Every round's group reports its stuck task on stderr: keep the
   * output for failures. */
  int saved_err = dup(2);
  FILE *quiet = fopen("/dev/null", "w");
  if (quiet)
    dup2(fileno(quiet), 2);
  usage before = {0};
  for (long i = 0; i < rounds; i++) {
    if (i == warmup)
      before = measure();
    one_round();
  }
  usage after = measure();
  dup2(saved_err, 2);
  close(saved_err);
  if (quiet)
    fclose(quiet);
  NOTE("after %ld rounds: rss %ld -> %ld kB, heap %zu -> %zu B, threads %ld -> %ld, fds %ld -> "
       "%ld, maps %ld -> %ld",
       rounds - warmup, before.rss_kb, after.rss_kb, before.heap, after.heap, before.threads,
       after.threads, before.fds, after.fds, before.maps, after.maps);
  CHECK_EQ(after.threads, before.threads);
  CHECK_EQ(after.fds, before.fds);
#if !TT_TEST_SANITIZED
  /* (The sanitizers' allocators keep freed memory in quarantine and map
   * more as they go: there LeakSanitizer's verdict at exit counts.) */
  CHECK(after.maps <= before.maps + 4); /* an allocator arena may appear */
  /* Resident memory: the allocator's own slack, never a round's worth of
   * leftovers times the rounds. */
  CHECK_MSG(after.rss_kb <= before.rss_kb + 1024, "rss grew %ld kB", after.rss_kb - before.rss_kb);
  /* Heap in use: the bounded caches (timers, symbols, root set) grow by
   * about 10 KiB after the warm-up, however many rounds follow; what a
   * dropped group, its context and a leaked channel with its record used
   * to keep is over 1 KiB a round. */
  CHECK_MSG(after.heap <= before.heap + 32768, "heap in use grew %zu bytes over %ld rounds",
            after.heap - before.heap, rounds - warmup);
#endif
  CHECK_EQ(tt_num_tasks(), 0);
  return TEST_REPORT();
}
