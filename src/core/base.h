/*
 * The ground floor of the runtime: what every file of every layer may use.
 * Branch hints, the cache-line size, fatal errors, the page size, the
 * bookkeeping clock and the one switch that can compile the leak
 * bookkeeping out (for the bench-only build that measures its cost).
 */
#ifndef TT_CORE_BASE_H
#define TT_CORE_BASE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tether.h"

#include "core/spinlock.h"

#define TT_LIKELY(x) __builtin_expect(!!(x), 1)
#define TT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TT_CACHELINE 64

/* Leak bookkeeping (spawn sites, wait records, task lists, the counters
 * stack walks rely on) is always on. A bench-only build configured with
 * -DTT_NO_BOOKKEEPING=ON compiles it out, so scripts/bench.sh can show what
 * it costs; nothing else may turn it off. */
#ifdef TT_NO_BOOKKEEPING
#define TT_BOOKKEEPING 0
#else
#define TT_BOOKKEEPING 1
#endif

/* Print "tether: fatal: ..." and abort (runtime.c). */
void tt__fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
size_t tt__page_size(void); /* stack.c */

/* CLOCK_MONOTONIC_COARSE in ns: cheap stamps for bookkeeping (clock.c). */
int64_t tt__coarse_now(void);

/* The latest time a timer is set for: a sleep or wait "for ever" (a timeout
 * near INT64_MAX) still has a timer, so the runtime never mistakes it for
 * a task nothing can wake, and tt_now() + ns never wraps into the past. */
#define TT_FAR_FUTURE (INT64_MAX - 1)
/* tt_now() + ns, saturated: TT_FAR_FUTURE at most, INT64_MIN at least. */
int64_t tt__after(int64_t ns);

#endif
