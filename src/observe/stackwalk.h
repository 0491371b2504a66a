/* Frame-pointer walks of task stacks (stackwalk.c). */
#ifndef TT_OBSERVE_STACKWALK_H
#define TT_OBSERVE_STACKWALK_H

#include "core/runtime.h"

/* Return addresses of a task that is not running, innermost first, up to
 * max. Call with the task's list lock held (that keeps its stack mapped).
 * Sets *ran when the task was running or ran during the walk: its stack is
 * then unavailable and 0 is returned. */
int tt__stack_walk_parked(const tt_task *t, uintptr_t *out, int max, bool *ran);

/* The calling task's own stack, starting at the caller of this function. */
int tt__stack_walk_self(const tt_task *t, uintptr_t *out, int max);

/* The stack of a task running on another worker, sampled by that worker's
 * thread in a signal handler (stackwalk.c): innermost first, the first
 * frame the interrupted instruction. Returns the number of frames, 0 when
 * the task was no longer running there (look at it again), TT_EBUSY when
 * the thread did not answer in time, or TT_EINVAL when it cannot be asked
 * (no worker; a platform without the registers). *whole says whether the
 * walk started in the object of the task's entry function and reached the
 * entry frame: interrupted in code without frame pointers (libc, the
 * vDSO) the walk skips the caller there, so a caller samples again. */
int tt__stack_sample_running(const tt_task *t, uintptr_t *out, int max, bool *whole);

#endif
