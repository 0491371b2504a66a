/*
 * Time. tt_now() is CLOCK_MONOTONIC in nanoseconds, the base of every
 * deadline. Bookkeeping stamps on hot paths (when a task was created, when
 * it started waiting) use CLOCK_MONOTONIC_COARSE instead: the same time
 * base, read from the vDSO without touching the hardware counter, at a
 * quarter of the cost, with the kernel tick's resolution (a few ms). Go's
 * own wait times are coarser still: it stamps them lazily at GC time.
 */
#include <time.h>

#include "internal.h"

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
