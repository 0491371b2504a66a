/*
 * Global deadlock: "all tasks are asleep - deadlock!", as Go's checkdead
 * says it, but only when it is certain.
 *
 * The last worker to go idle, with no timer pending anywhere, asks whether
 * anything could ever wake a task again. Nothing can when
 *   - every task waits, none in a blocking call (the pool thread running it
 *     will finish) and none with a deadline (there would be a timer);
 *   - every thread of the process is one the runtime knows cannot wake a
 *     task by itself: a worker, an idle blocking-pool thread, the dump
 *     thread, a monitor without a user callback, or the thread waiting in
 *     tt_main. Any other thread (the user's own, a sanitizer's) might hold
 *     a handle and send, cancel or unlock, so then nothing is said.
 * New threads can only come from existing ones, so the census is sound.
 *
 * TT_DEADLOCK=report (default) prints the report and a debug=2 dump once per
 * standstill; abort also aborts, like Go's fatal error; off says nothing.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define MAX_KNOWN 1024

static pthread_mutex_t known_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t known[MAX_KNOWN];
static int nknown;
static bool known_overflow;                       /* too many to track: never claim a deadlock */
static _Atomic uint64_t reported_at = UINT64_MAX; /* switch count at the last report */

static pid_t self_tid(void) { return (pid_t)syscall(SYS_gettid); }

/* The thread in tt_main and its main task. */
static _Atomic pid_t main_tid;
static _Atomic int64_t main_id;

void tt__main_waiting(int64_t id, bool waiting) {
  if (waiting) {
    atomic_store(&main_id, id);
    atomic_store(&main_tid, self_tid());
  } else {
    atomic_store(&main_tid, 0);
    atomic_store(&main_id, 0);
  }
}

void tt__thread_known(bool add) {
  pid_t tid = self_tid();
  pthread_mutex_lock(&known_lock);
  if (add) {
    if (nknown < MAX_KNOWN)
      known[nknown++] = tid;
    else
      known_overflow = true;
  } else {
    for (int i = 0; i < nknown; i++)
      if (known[i] == tid) {
        known[i] = known[--nknown];
        break;
      }
  }
  pthread_mutex_unlock(&known_lock);
}

static bool is_known(pid_t tid) {
  for (int i = 0; i < nknown; i++)
    if (known[i] == tid)
      return true;
  return false;
}

/* Every thread of the process is one we know. `main_alive`: the main task
 * was seen waiting, so the thread in tt_main is still stuck there. */
static bool census_ok(bool main_alive) {
  pid_t waiter = main_alive ? atomic_load(&main_tid) : 0;
  DIR *d = opendir("/proc/self/task");
  if (!d)
    return false;
  bool ok = true;
  pthread_mutex_lock(&known_lock);
  if (known_overflow)
    ok = false;
  struct dirent *e;
  while (ok && (e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    pid_t tid = (pid_t)strtol(e->d_name, NULL, 10);
    ok = is_known(tid) || (waiter && tid == waiter);
  }
  pthread_mutex_unlock(&known_lock);
  closedir(d);
  return ok;
}

static uint64_t switches_total(void) {
  uint64_t n = 0;
  for (int i = 0; i < tt__rt.nworkers; i++)
    n += atomic_load_explicit(&tt__rt.workers[i]->switches, memory_order_relaxed);
  return n;
}

typedef struct all_asleep {
  bool ok;
  bool main_alive;
  int64_t main_id;
  int64_t n;
} all_asleep;

static int check_task(const tt_task_info *i, void *arg) {
  all_asleep *a = arg;
  a->n++;
  if (a->main_id && i->id == a->main_id)
    a->main_alive = true;
  if (i->state != TT_TASK_WAITING || strcmp(i->wait_reason, "syscall") == 0 ||
      strcmp(i->wait_reason, "IO wait") == 0) {
    a->ok = false;
    return 1;
  }
  return 0;
}

static int deadlock_mode(void) {
  const char *env = getenv("TT_DEADLOCK");
  if (env && strcmp(env, "off") == 0)
    return 0;
  if (env && strcmp(env, "abort") == 0)
    return 2;
  return 1;
}

static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;

static void checkdead_locked(void);

void tt__checkdead(void) {
  if (!TT_BOOKKEEPING)
    return;
  /* Two workers may go idle together; one look is enough. */
  if (pthread_mutex_trylock(&check_lock) != 0)
    return;
  checkdead_locked();
  pthread_mutex_unlock(&check_lock);
}

static void checkdead_locked(void) {
  int mode = deadlock_mode();
  if (!mode || tt_num_tasks() == 0 || atomic_load(&tt__rt.gq_size) > 0)
    return;
  uint64_t before = switches_total();
  if (before == reported_at)
    return; /* this standstill was reported already */
  /* The census first: with a thread of the user's around it fails at
   * once, before any walk of what may be a million tasks. */
  if (!census_ok(true))
    return;
  all_asleep a = {.ok = true, .main_id = atomic_load(&main_id)};
  tt_tasks_foreach(check_task, &a);
  if (!a.ok || a.n == 0 || !census_ok(a.main_alive))
    return;
  /* Nothing ran meanwhile (the main task, seen waiting, cannot have exited
   * since), and still nobody works: certain. */
  if (switches_total() != before || atomic_load(&tt__rt.nidle) != tt__rt.nworkers ||
      tt__timers_earliest() != INT64_MAX)
    return;
  reported_at = before;
  fprintf(stderr, "tether: all tasks are asleep - deadlock!\n\n");
  tt_dump_as(stderr, TT_DUMP_GO_DEBUG2);
  if (mode == 2) {
    fprintf(stderr, "tether: aborting (TT_DEADLOCK=abort)\n");
    abort();
  }
}
