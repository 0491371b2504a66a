/*
 * printf into a byte buffer: see bufprintf.h.
 */
#include "http/bufprintf.h"

#include <stdarg.h>
#include <stdio.h>

void tt__http_bufprintf(tt_bytebuf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  /* clang-tidy 14 reports `ap` uninitialized here when this file is checked
   * in one run after the core layer's files (make lint), never alone: a false
   * positive of its va_list checker. */
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
  va_end(ap);
  if (n > 0)
    tt__bytebuf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
