/*
 * Time. tt_now() is CLOCK_MONOTONIC in nanoseconds, the base of every
 * deadline. Bookkeeping on hot paths (when a task started waiting) uses
 * tt__ticks() instead: on x86-64 with an invariant TSC it is one rdtsc, and
 * the conversion to nanoseconds happens only when a dump or report reads the
 * stamp. The tick rate is measured against CLOCK_MONOTONIC lazily, over the
 * whole time since start-up, so it needs no calibration pause.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

int64_t tt_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#if defined(__x86_64__)
#include <x86intrin.h>

static bool use_tsc;
static uint64_t tsc0;
static int64_t ns0;

/* The TSC is usable as a clock only when the kernel says it is constant
 * and keeps running in deep idle states. */
static bool tsc_is_invariant(void) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f)
    return false;
  char line[4096];
  bool constant = false, nonstop = false;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "flags", 5) != 0)
      continue;
    constant = strstr(line, " constant_tsc") != NULL;
    nonstop = strstr(line, " nonstop_tsc") != NULL;
    break;
  }
  fclose(f);
  return constant && nonstop;
}

void tt__clock_init(void) {
  static atomic_int done;
  if (atomic_exchange(&done, 1))
    return;
  use_tsc = tsc_is_invariant();
  ns0 = tt_now();
  tsc0 = __rdtsc();
}

uint64_t tt__ticks(void) { return use_tsc ? __rdtsc() : (uint64_t)tt_now(); }

int64_t tt__ticks_to_ns(uint64_t ticks) {
  if (!use_tsc)
    return (int64_t)ticks;
  uint64_t tnow = __rdtsc();
  int64_t nnow = tt_now();
  double dt = (double)(tnow - tsc0), dn = (double)(nnow - ns0);
  if (dt <= 0 || dn <= 0)
    return nnow;
  /* ticks may be slightly later than tnow when read on another core. */
  double back = ((double)tnow - (double)ticks) * (dn / dt);
  return nnow - (int64_t)back;
}

#else

void tt__clock_init(void) {}
uint64_t tt__ticks(void) { return (uint64_t)tt_now(); }
int64_t tt__ticks_to_ns(uint64_t ticks) { return (int64_t)ticks; }

#endif
