/*
 * Global deadlock: "all tasks are asleep - deadlock!", as Go's checkdead
 * says it, but only when it is certain.
 *
 * The last worker to go idle, with no timer pending anywhere, asks whether
 * anything could ever wake a task again. Nothing can when
 *   - every task waits, none in a blocking call (the pool thread running it
 *     will finish) and none with a deadline (there would be a timer);
 *   - every thread of the process is one the runtime knows cannot wake a
 *     task by itself (core/threads.h). Any other thread (the user's own, a
 *     sanitizer's) might hold a handle and send, cancel or unlock, so then
 *     nothing is said.
 *
 * TT_DEADLOCK=exit (default) prints the report and a debug=2 dump and ends
 * the process with status 2, as Go's "fatal error" does; report prints them
 * once per standstill and lets the program hang (something outside the
 * census, a debugger or a signal, may still end it); abort prints and
 * aborts (a core dump); off says nothing.
 *
 * A wait-for-graph run of TT_LEAKCHECK (leakgraph.c) defers the check: its
 * thread may be starting (not yet in the census), and in recover mode it
 * wakes leaked tasks. When its run ends with every worker idle, it asks
 * again, so the standstill is never missed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/netpoll.h"
#include "core/runtime.h"
#include "core/threads.h"
#include "leak/hooks.h"
#include "leak/leak.h"

static _Atomic uint64_t reported_at = UINT64_MAX; /* switch count at the last report */

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

enum { MODE_OFF, MODE_REPORT, MODE_ABORT, MODE_EXIT };

/* TT_DEADLOCK: exit (default, also for an unknown value), report, abort, off. */
static int deadlock_mode(void) {
  const char *env = getenv("TT_DEADLOCK");
  if (!env)
    return MODE_EXIT;
  if (strcmp(env, "off") == 0)
    return MODE_OFF;
  if (strcmp(env, "report") == 0)
    return MODE_REPORT;
  if (strcmp(env, "abort") == 0)
    return MODE_ABORT;
  return MODE_EXIT;
}

static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic bool check_again; /* asked while another thread was looking */

static void checkdead_locked(void);

void tt__checkdead(void) {
  if (!TT_BOOKKEEPING)
    return;
  /* Two workers may go idle together: one looks, and looks again if the
   * other asked meanwhile (what it saw may have been the other still
   * going idle), so the last to go idle is never left unanswered. */
  atomic_store(&check_again, true);
  while (atomic_load(&check_again)) {
    if (pthread_mutex_trylock(&check_lock) != 0)
      return; /* the holder sees check_again after it unlocks */
    atomic_store(&check_again, false);
    checkdead_locked();
    pthread_mutex_unlock(&check_lock);
  }
}

static void checkdead_locked(void) {
  int mode = deadlock_mode();
  if (mode == MODE_OFF || atomic_load(&tt__rt.state) != TT_RT_RUNNING || tt_num_tasks() == 0 ||
      atomic_load(&tt__rt.gq_size) > 0)
    return;
  if (tt__leakgraph_busy())
    return; /* it asks again when its run ends */
  /* A watched signal (tt_signal_notify) may still arrive and wake a task:
   * like Go's signal loop, it keeps the program from being dead. */
  if (atomic_load(&tt__netpoll_signals))
    return;
  uint64_t before = switches_total();
  if (before == reported_at)
    return; /* this standstill was reported already */
  /* The census first: with a thread of the user's around it fails at
   * once, before any walk of what may be a million tasks. */
  if (!tt__threads_all_known(true))
    return;
  all_asleep a = {.ok = true, .main_id = tt__main_task_id()};
  tt_tasks_foreach(check_task, &a);
  if (!a.ok || a.n == 0 || !tt__threads_all_known(a.main_alive))
    return;
  /* Nothing ran meanwhile (the main task, seen waiting, cannot have exited
   * since), and still nobody works: certain. */
  if (switches_total() != before || atomic_load(&tt__rt.nidle) != tt__rt.nworkers ||
      tt__timers_earliest() != INT64_MAX)
    return;
  reported_at = before;
  fprintf(stderr, "tether: all tasks are asleep - deadlock!\n\n");
  tt_dump_as(stderr, TT_DUMP_GO_DEBUG2);
  if (mode == MODE_ABORT) {
    fprintf(stderr, "tether: aborting (TT_DEADLOCK=abort)\n");
    abort();
  }
  if (mode == MODE_EXIT) {
    /* Go's exit status for a fatal error. No atexit handler runs: the
     * program's state is a standstill, not an orderly end. */
    fflush(stdout);
    fflush(stderr);
    _exit(2);
  }
}
