/* Context internals for the layers above (context.c). */
#ifndef TT_SYNC_CONTEXT_H
#define TT_SYNC_CONTEXT_H

#include "core/base.h"

/* References without the calling task's bookkeeping: for the references
 * the runtime takes and drops on a task's behalf (leak/holds.c). */
void tt__context_ref_raw(tt_context *c);
int tt__context_unref_raw(tt_context *c); /* 1 when that was the last reference */

/* Call fn(c) once c is cancelled (by its own cancel, its parent's, or its
 * deadline), from whichever thread cancels it, after its error is set and
 * before its done channel is closed; one hook per context. False when c is
 * done already or not cancellable (nothing is set then). fn must not take
 * locks that are held while cancelling c. */
bool tt__context_on_cancel(tt_context *c, void (*fn)(tt_context *c));
/* Remove the hook. A cancel that took it already may still be running it:
 * fn must cope (net/signal.c looks its watch up under its own lock). */
void tt__context_clear_on_cancel(tt_context *c);

#endif
