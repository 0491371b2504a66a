/*
 * The checks every leaky pattern program ends with (examples/pattern*_leak.c).
 * First tt_verify_none must find the leaked tasks, waiting where the pattern
 * leaves them: it reports every task still there, a suspect. Then, once the
 * pattern's function has let go of its handles, the definite-leak detector
 * must prove them leaked (at the unref, or through tt_leak_check's wait-for
 * graph) and name the pattern. Each program is its own test: it exits 0 only
 * when its leak was caught both ways.
 */
#ifndef TT_EXAMPLES_EXPECT_LEAKS_H
#define TT_EXAMPLES_EXPECT_LEAKS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tether.h"

/* tt_verify_none must find `want` tasks waiting in `reason`: print its
 * report and say whether it did. */
static __attribute__((unused)) int expect_leaks(int64_t want, const char *reason) {
  tt_verify_report *rep = NULL;
  int64_t n = tt_verify_none(&(tt_verify_opts){.max_wait = 100 * 1000000}, &rep);
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  tt_verify_report_print(rep, mem);
  fclose(mem);
  printf("%s", text);
  /* TT_EXAMPLE_DUMP=<path>: also write the goroutine dump (debug=2) of this
   * moment there, as Go prints on SIGQUIT, to set beside the Go twin's. */
  const char *dump_path = getenv("TT_EXAMPLE_DUMP");
  FILE *dump = dump_path && *dump_path ? fopen(dump_path, "w") : NULL;
  if (dump) {
    tt_dump_as(dump, TT_DUMP_GO_DEBUG2);
    fclose(dump);
  }
  char tag[64];
  snprintf(tag, sizeof tag, "[%s, waiting", reason);
  int ok = n == want && strstr(text, tag) != NULL;
  printf("%s: %lld task(s) in \"%s\"\n", ok ? "leak caught as expected" : "NOT CAUGHT",
         (long long)n, reason);
  free(text);
  tt_verify_report_free(rep);
  return ok;
}

/* The definite-leak detector must have found `want` leaks in all, each of
 * the class `why` (a phrase of its description): print its report and say
 * whether it did. */
static __attribute__((unused)) int expect_definite(int64_t want, const char *why) {
  tt_leak_check(); /* the wait-for graph; unref-time leaks are already in */
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  tt_leak_report(mem);
  fclose(mem);
  printf("%s", text);
  int found = 0;
  for (const char *p = text; (p = strstr(p, why)) != NULL; p++)
    found++;
  int ok = tt_leak_count() == want && found == want;
  printf("%s: %lld definite leak(s) \"%s\"\n", ok ? "definite leak proven" : "NOT PROVEN",
         (long long)tt_leak_count(), why);
  free(text);
  return ok;
}

/* Tasks alive beyond `base`, once those finishing have gone. A task that
 * called tt_wg_done (or was spawned with tt_wg_go) has not exited yet when
 * tt_wg_wait returns, just as a goroutine still runs its deferred wg.Done
 * when Wait returns in Go: give such tasks up to a second to leave. */
static __attribute__((unused)) int64_t tasks_left(int64_t base) {
  int64_t n = tt_num_tasks() - base;
  for (int i = 0; i < 1000 && n > 0; i++) {
    tt_sleep(1000000);
    n = tt_num_tasks() - base;
  }
  return n;
}

/* For the fixed programs: nothing the detector could prove. */
static __attribute__((unused)) int expect_no_definite_leak(void) {
  int64_t n = tt_leak_check();
  int ok = n == 0 && tt_leak_count() == 0;
  printf("%s\n", ok ? "leak detector: nothing leaked" : "leak detector: LEAKED");
  if (!ok)
    tt_leak_report(stdout);
  return ok;
}

#endif
