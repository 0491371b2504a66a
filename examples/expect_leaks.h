/*
 * The check every leaky pattern program ends with (examples/pattern*_leak.c):
 * tt_verify_none must find the leaked tasks, waiting where the pattern
 * leaves them. Each program is its own test: it exits 0 only when its leak
 * was caught.
 */
#ifndef TT_EXAMPLES_EXPECT_LEAKS_H
#define TT_EXAMPLES_EXPECT_LEAKS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tether.h"

/* tt_verify_none must find `want` tasks waiting in `reason`: print its
 * report and say whether it did. */
static int expect_leaks(int64_t want, const char *reason) {
  tt_verify_report *rep = NULL;
  int64_t n = tt_verify_none(&(tt_verify_opts){.max_wait = 100 * 1000000}, &rep);
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  tt_verify_report_print(rep, mem);
  fclose(mem);
  printf("%s", text);
  char tag[64];
  snprintf(tag, sizeof tag, "[%s, waiting", reason);
  int ok = n == want && strstr(text, tag) != NULL;
  printf("%s: %lld task(s) in \"%s\"\n", ok ? "leak caught as expected" : "NOT CAUGHT",
         (long long)n, reason);
  free(text);
  tt_verify_report_free(rep);
  return ok;
}

#endif
