/* Frame-pointer walks of task stacks (stackwalk.c). */
#ifndef TT_STACKWALK_H
#define TT_STACKWALK_H

#include "internal.h"

/* Return addresses of a task that is not running, innermost first, up to
 * max. Call with the task's list lock held (that keeps its stack mapped).
 * Sets *ran when the task was running or ran during the walk: its stack is
 * then unavailable and 0 is returned. */
int tt__stack_walk_parked(const tt_task *t, uintptr_t *out, int max, bool *ran);

/* The calling task's own stack, starting at the caller of this function. */
int tt__stack_walk_self(const tt_task *t, uintptr_t *out, int max);

#endif
