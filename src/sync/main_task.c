/*
 * tt_main: run the program's main function as a task named "main", wait
 * for it from the calling thread, and shut the runtime down if this call
 * started it. It lives above the core because the wait is a WaitGroup's,
 * and because the calling thread takes part in the deadlock census.
 */
#include "core/runtime.h"
#include "core/threads.h"
#include "leak/hooks.h"
#include "sync/sync.h"

#include <sched.h>

int tt__main(tt_fn fn, void *arg, const char *entry, const char *file, int line, const char *func) {
  if (!fn)
    return TT_EINVAL;
  if (tt__worker())
    return TT_EBUSY;
  bool started = false;
  if (atomic_load(&tt__rt.state) == TT_RT_OFF) {
    int rc = tt_init(NULL);
    if (rc < 0)
      return rc;
    started = true;
  }
  uint64_t gen = atomic_load(&tt__rt.generation); /* this runtime's, until it stops */
  tt_wg *wg = tt_wg_make();
  if (!wg)
    return TT_ENOMEM;
  int64_t id = tt__wg_spawn(wg, fn, arg, &(tt_spawn_opts){.name = "main", .stack_size = 0}, entry,
                            file, line, func);
  if (id >= 0) {
    tt__main_waiting(id, true); /* while main runs, this thread wakes nobody */
    /* Everything may have stopped before we said so: then no worker will
     * go idle again to notice. As a walker, so that a tt_shutdown on
     * another thread waits before it frees the workers we look at. */
    atomic_fetch_add(&tt__rt.walkers, 1);
    if (atomic_load(&tt__rt.state) == TT_RT_RUNNING && atomic_load(&tt__rt.generation) == gen &&
        atomic_load(&tt__rt.nidle) == tt__rt.nworkers)
      tt__checkdead();
    atomic_fetch_sub(&tt__rt.walkers, 1);
    int rc = tt__wg_wait_main(wg, gen);
    tt__main_waiting(id, false);
    if (rc < 0) {
      id = rc; /* tt_shutdown from another thread: the main task was dropped */
      while (atomic_load(&tt__rt.state) == TT_RT_STOPPING)
        sched_yield(); /* let it finish with the task before wg goes */
    }
  }
  tt_wg_free(wg);
  if (started)
    tt_shutdown();
  return id < 0 ? (int)id : 0;
}
