/* Owners of handles (owner.c), as the leak detector and spawns see them. */
#ifndef TT_LEAK_OWNER_H
#define TT_LEAK_OWNER_H

#include "core/task.h"

/* One edge: owner owns (or tracks) child. */
typedef struct tt__owner_edge {
  const void *owner, *child;
  uint32_t child_serial;
} tt__owner_edge;

/* Every edge of every live owner, malloc'd into *out; the count or
 * TT_ENOMEM. */
int64_t tt__owners_copy(tt__owner_edge **out);

/* References taken and dropped by the runtime on a task's behalf (holds.c). */
void tt__owner_ref_raw(tt_owner *o);
int tt__owner_unref_raw(tt_owner *o); /* 1 when that was the last reference */
bool tt__owner_check(const void *p);  /* a live owner? */
uint32_t tt__owner_serial(const tt_owner *o);

#endif
