/*
 * Helpers shared by the C benchmarks (bench/bench_<workload>.c).
 *
 * Every benchmark prints exactly one line on stdout:
 *   RESULT name=<workload> procs=<n> value=<number> unit=<unit>
 * and diagnostics (if any) on stderr. A failed check prints "ERROR ..." on
 * stderr and exits with status 1 without printing a RESULT line.
 */
#ifndef TT_BENCH_UTIL_H
#define TT_BENCH_UTIL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tether.h"

/* Print a failure and leave at once: _exit() so that no atexit handler runs
 * while worker threads are still busy. */
static inline void bench_fail(const char *name, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "ERROR %s: ", name);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stdout);
  fflush(stderr);
  _exit(1);
}

/* Resident set size of this process in bytes (/proc/self/statm, field 2). */
static inline int64_t bench_rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long long size = 0, resident = 0;
  if (!f)
    return -1;
  if (fscanf(f, "%lld %lld", &size, &resident) != 2)
    resident = -1;
  fclose(f);
  return resident < 0 ? -1 : (int64_t)resident * (int64_t)sysconf(_SC_PAGESIZE);
}

/* Optional positive integer from argv[i] (to experiment with sizes). */
static inline int64_t bench_arg(int argc, char **argv, int i, int64_t dflt) {
  if (argc > i) {
    long long v = atoll(argv[i]);
    if (v > 0)
      return (int64_t)v;
  }
  return dflt;
}

/* qsort comparator for int64_t (medians of timed runs). */
static inline int bench_cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static inline void bench_result(const char *name, double value, const char *unit) {
  printf("RESULT name=%s procs=%d value=%.3f unit=%s\n", name, tt_procs(), value, unit);
  fflush(stdout);
}

#endif
