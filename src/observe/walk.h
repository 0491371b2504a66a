/*
 * Walking the live tasks without stopping the world (introspect.c): every
 * look at the tasks (counts, snapshots, the leak detector) goes through it.
 */
#ifndef TT_OBSERVE_WALK_H
#define TT_OBSERVE_WALK_H

#include "core/runtime.h"

/* A walk visits every task list in turn without stopping the world. take()
 * runs under one list's lock for each task (at most a small batch per lock
 * hold) and must copy what it needs: the task may exit once the lock is let
 * go. It returns false when it has no room, and that task is offered again
 * after flush(), which runs with no lock held; flush() returns false to end
 * the walk. */
typedef struct tt__walker tt__walker;
struct tt__walker {
  bool (*take)(tt__walker *wk, const tt_task *t);
  bool (*flush)(tt__walker *wk);
};
bool tt__tasks_walk(tt__walker *wk); /* false when flush ended it early, or shutdown began */
void tt__task_info_fill(const tt_task *t, tt_task_info *info);

#endif
