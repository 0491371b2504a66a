/*
 * Who can reach which primitive: the ownership bookkeeping behind the leak
 * detector (leakgraph.c). See docs/API.md, "Ownership of handles", for the
 * rules as users see them.
 *
 * Each task keeps a table of the handles it holds (tt_hold in core/task.h):
 *  - counted entries for references it owns: a channel or context made or
 *    referenced inside it, or handed to it at spawn (tt_spawn_opts.give_*);
 *  - borrowed entries for handles it used (any operation on a primitive
 *    touches it) or inherited: a new task can reach whatever its spawner
 *    could, since its argument may carry any of it.
 * A handle that leaves the tables' sight becomes a root, reachable for good
 * (until it is freed): handles made or referenced from plain threads, every
 * entry of a task that exits while it still counts references, entries a
 * task may have passed on (older than its latest send, close, unlock or
 * signal: the message or the shared memory may carry them), and runtime
 * channels (timers, tickers, context done channels).
 */
#ifndef TT_LEAK_HOLDS_H
#define TT_LEAK_HOLDS_H

#include "leak/hooks.h"

/* A pointer or an id spread over 32 bits, for the open-addressing tables
 * of holds.c and leakgraph.c (the finalizer of MurmurHash3). */
static inline uint32_t tt__hash64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (uint32_t)x;
}

/* Tables stop growing here; further handles become roots. */
#define TT_HOLDS_MAX 4096

/* Copy the roots, for the detector: a malloc'd array of *n pointers, or
 * NULL with *n = -1 when the set overflowed (every primitive is then
 * treated as reachable). */
const void **tt__roots_copy(int64_t *n);

#endif
