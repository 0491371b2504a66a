/*
 * Time. tt_now() is CLOCK_MONOTONIC in nanoseconds, the base of every
 * deadline. Bookkeeping stamps on hot paths (when a task was created, when
 * it started waiting) use CLOCK_MONOTONIC_COARSE instead: the same time
 * base, read from the vDSO without touching the hardware counter, at a
 * quarter of the cost, with the kernel tick's resolution (a few ms). Go's
 * own wait times are coarser still: it stamps them lazily at GC time.
 */
#include <time.h>

#include "core/base.h"

int64_t tt_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t tt__coarse_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t tt__after(int64_t ns) {
  int64_t now = tt_now();
  if (ns > 0 && now > TT_FAR_FUTURE - ns)
    return TT_FAR_FUTURE;
  return ns < 0 && now < INT64_MIN - ns ? INT64_MIN : now + ns;
}

int64_t tt__timeout_deadline(int64_t ns) {
  int64_t d = tt__after(ns);
  return d == TT_FAR_FUTURE ? TT_NO_DEADLINE : d;
}
