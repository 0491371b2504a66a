/* WaitGroup internals shared with the runtime's own users (waitgroup.c). */
#ifndef TT_SYNC_WAITGROUP_H
#define TT_SYNC_WAITGROUP_H

#include "core/base.h"

int tt__wg_add(tt_wg *wg, int64_t delta);
/* The Done of a task spawned with tt_wg_go, as it exits (its exit_fn): its
 * table is gone by then, and it needs no entry for wg. */
void tt__wg_exit_done(void *wg);
/* wg's serial (leak/hooks.h), read without synchronisation by the leak
 * detector, which checks that its waiter stayed parked meanwhile. */
uint32_t tt__wg_serial_peek(const void *wg);

#endif
