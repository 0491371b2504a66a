/*
 * dump_subject: a program in a known state, dumped for Go's tools to read
 * (tests/gotools/run.sh). The test builds it twice, with and without -g, so
 * the dump of code without line tables is read too.
 *
 *   dump_subject OUT [SPINNERS]
 *
 * Parks receivers on a channel, a sleeper and a mutex waiter; starts
 * SPINNERS (default 0) tasks that keep running, waits until each is on a
 * worker, then writes a debug=2 dump to OUT. Each spinner measures the
 * longest gap between two turns of its loop while the dump is taken: the
 * pause the dump cost a running task, printed as "worst pause: N us",
 * beside the same measure over a window as long without a dump. Exit 0
 * when the dump was written.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tether.h"

enum { RECEIVERS = 4 };

static tt_chan *never; /* nobody sends until the end */
static tt_mutex held;
static atomic_int stop, spinning, dumping;
static atomic_llong worst_gap_ns;

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

__attribute__((noinline)) static void receiver(void *arg) {
  (void)arg;
  int v;
  if (tt_chan_recv(never, &v) == 0)
    printf("received %d\n", v);
}

__attribute__((noinline)) static void sleeper(void *arg) {
  (void)arg;
  if (tt_sleep(60LL * 1000000000) == 0)
    puts("slept");
}

__attribute__((noinline)) static void locker(void *arg) {
  (void)arg;
  if (tt_mutex_lock(&held) == 0)
    tt_mutex_unlock(&held);
}

/* About a microsecond of work that calls nothing. */
__attribute__((noinline)) static void spin_some(void) {
  for (volatile int i = 0; i < 1000; i++) {
  }
}

/* Runs without yielding until told to stop; while the dump is taken it
 * notes the longest gap between two of its turns. */
__attribute__((noinline)) static void spinner(void *arg) {
  (void)arg;
  atomic_fetch_add(&spinning, 1);
  long long last = now_ns();
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    spin_some();
    long long t = now_ns();
    if (atomic_load_explicit(&dumping, memory_order_relaxed) &&
        t - last > atomic_load_explicit(&worst_gap_ns, memory_order_relaxed))
      atomic_store(&worst_gap_ns, t - last);
    last = t;
  }
}

static const char *out_path;
static int spinners;

/* From a plain thread the spinners go to the global queue, where idle
 * workers take them; spawned from a task, the second could wait behind
 * the first on that task's worker forever (neither ever yields). */
static void *spawn_spinners(void *arg) {
  (void)arg;
  for (int i = 0; i < spinners; i++)
    tt_go(spinner, NULL);
  return NULL;
}
static int result = 1;

static void main_task(void *arg) {
  (void)arg;
  never = tt_chan_make(sizeof(int), 0);
  tt_mutex_lock(&held);
  for (int i = 0; i < RECEIVERS; i++)
    tt_go(receiver, NULL);
  tt_go(sleeper, NULL);
  tt_go(locker, NULL);
  pthread_t th;
  if (spinners > 0 && pthread_create(&th, NULL, spawn_spinners, NULL) == 0)
    pthread_join(th, NULL);
  while (atomic_load(&spinning) < spinners)
    tt_sleep(1000000);
  tt_sleep(20 * 1000000); /* let the others park */
  FILE *out = fopen(out_path, "w");
  if (out) {
    atomic_store(&dumping, 1);
    long long t0 = now_ns();
    int rc = tt_dump_as(out, TT_DUMP_GO_DEBUG2);
    long long took = now_ns() - t0;
    atomic_store(&dumping, 0);
    printf("dump took: %lld us\n", took / 1000);
    if (spinners) {
      /* The same window without a dump: what the machine alone costs a
       * spinner (other threads, other programs), to set the pause beside. */
      long long during = atomic_exchange(&worst_gap_ns, 0);
      atomic_store(&dumping, 1);
      tt_sleep(took);
      atomic_store(&dumping, 0);
      printf("worst pause: %lld us (the same window without a dump: %lld us)\n", during / 1000,
             atomic_load(&worst_gap_ns) / 1000);
    }
    result = fclose(out) != 0 || rc != 0;
    if (rc != 0)
      fprintf(stderr, "dump_subject: tt_dump_as: %s\n", tt_strerror(rc));
  } else {
    perror(out_path);
  }
  atomic_store(&stop, 1);
  tt_mutex_unlock(&held);
  tt_chan_close(never);
  tt_chan_unref(never);
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: dump_subject OUT [SPINNERS]\n");
    return 2;
  }
  out_path = argv[1];
  spinners = argc == 3 ? atoi(argv[2]) : 0;
  if (tt_main(main_task, NULL) < 0)
    return 1;
  return result;
}
