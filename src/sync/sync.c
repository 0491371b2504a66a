/*
 * What the sync primitives share beyond sync.h: the misuse report.
 *
 * Go treats unlocking an unlocked mutex as a fatal error (it cannot be
 * recovered). tether returns TT_EUNLOCKED and changes nothing, so a program
 * can survive a bug; TT_STRICT=1 restores Go's verdict, with enough context
 * (task, spawn site, stack) to find the culprit.
 */
#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sync/sync.h"

int tt__sync_misuse(const char *what, const void *obj, int code) {
  if (!tt__strict())
    return code;
  fprintf(stderr, "fatal error: sync: %s (object %p)\n", what, obj);
  tt_task *t = tt__current();
  if (t)
    fprintf(stderr, "in task %lld%s%s%s (entry %s, spawned at %s:%d in %s)\n", (long long)t->id,
            t->name[0] ? " \"" : "", t->name, t->name[0] ? "\"" : "", t->entry, t->file, t->line,
            t->func);
  else
    fputs("on a plain thread (not a task)\n", stderr);
  fputs("\nstack of the offending call:\n", stderr);
  void *pcs[48];
  int n = backtrace(pcs, 48);
  backtrace_symbols_fd(pcs, n, STDERR_FILENO);
  abort();
}
