/*
 * The scheduler's entry points (sched.c, idle.c): how every primitive
 * parks a task and makes it runnable again, and how idle workers are woken.
 */
#ifndef TT_CORE_SCHED_H
#define TT_CORE_SCHED_H

#include "core/runtime.h"

/* Park the calling task. Once it is off its stack, its worker calls
 * unlock(arg) (if non-NULL) — the lock guarding the wait list the task put
 * itself on — so a waker can never resume a task that is still running. */
void tt__park(tt_wait_reason why, void *wait_obj, void (*unlock)(void *), void *arg);
/* Make a parked or new task runnable. From a task it goes to the run-next
 * slot; from a scheduler or a plain thread, to a run queue. */
void tt__ready(tt_task *t);
void tt__spin_unlock_cb(void *lock); /* unlock callback for tt__park */
/* The same with the caller's worker already at hand (w == tt__worker()). */
void tt__park_on(tt_worker *w, tt_wait_reason why, void *wait_obj, void (*unlock)(void *),
                 void *arg);
void tt__ready_on(tt_worker *w, tt_task *t);
/* Start a new task from a running one, child first (see sched.c). */
void tt__run_child_first(tt_task *child);
/* First call of every new task: completes the switch that started it. */
void tt__task_landed(void);

void tt__worker_loop(tt_worker *w);
void tt__gq_put(tt_task *t);
void tt__gq_put_batch(tt_task *first, tt_task *last, int64_t n);

/* ---- Idle workers (idle.c) ----------------------------------------------- */

void tt__wakep(void);
void tt__wake_all_idle(void);
void tt__kick_poller(int64_t when);
void tt__idle_park(tt_worker *w);
bool tt__work_visible(void); /* any runnable task or due timer anywhere */

#endif
