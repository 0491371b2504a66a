/*
 * The registry of threads that cannot wake a task by themselves, and the
 * census against /proc/self/task that the deadlock check relies on (see
 * threads.h). New threads can only come from existing ones, so a census
 * that finds only known threads is sound.
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/netpoll.h"
#include "core/threads.h"

#define MAX_KNOWN 1024

__thread bool tt__shutdown_waits_for_me;

static pthread_mutex_t known_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t known[MAX_KNOWN];
static int nknown;
static bool known_overflow; /* too many to track: never claim a deadlock */

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

int64_t tt__main_task_id(void) { return atomic_load(&main_id); }

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

bool tt__threads_all_known(bool main_alive) {
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

int tt__thread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
  uint64_t watched = atomic_load(&tt__netpoll_signals);
  if (!watched)
    return pthread_create(th, attr, fn, arg);
  sigset_t set, old;
  sigemptyset(&set);
  for (int s = 1; s <= 64; s++)
    if (watched & (UINT64_C(1) << (s - 1)))
      sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  int rc = pthread_create(th, attr, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc;
}
