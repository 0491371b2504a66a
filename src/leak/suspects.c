/*
 * Suspects: tasks that have waited a long time but that the leak detector
 * cannot prove leaked. The seed's pattern 4 (I/O without a deadline) is the
 * typical one: the peer may still answer, so it is never definite, yet a
 * task stuck in a read for minutes deserves a look. Each is listed with
 * how long it has waited, why it is not proven, and its stack, always
 * labelled a suspect, never a leak.
 */
#include <stdio.h>
#include <string.h>

#include "leak/leak.h"
#include "observe/snapshot.h"

#define SUSPECT_FRAMES 32

static const char *why_not_proven(const char *reason) {
  if (strcmp(reason, "IO wait") == 0)
    return "I/O without timeout (seed pattern 4): a read or accept with no deadline and no "
           "context; the other side may still answer";
  if (strcmp(reason, "syscall") == 0)
    return "it is in a call the runtime cannot see into (seed pattern 4, I/O without a "
           "deadline): the other side may still answer";
  if (strcmp(reason, "sync.Cond.Wait") == 0 || strcmp(reason, "semacquire") == 0)
    return "Cond and semaphore waits are not analysed: any task may signal them";
  return "a task that can still run can reach what it waits on, or its wait has a deadline "
         "or a context";
}

static void print_wait(FILE *out, int64_t ns) {
  if (ns < 60000000000LL)
    fprintf(out, "%.1f s", (double)ns / 1e9);
  else
    fprintf(out, "%lld minutes", (long long)(ns / 60000000000LL));
}

int64_t tt_leak_suspects(FILE *out, int64_t min_wait) {
  if (!out || min_wait < 0)
    return TT_EINVAL;
  tt_snapshot s = {0};
  int rc = tt__snapshot_take(&s, TT_SNAP_STACKS);
  if (rc < 0)
    return rc;
  int64_t n = 0;
  for (size_t i = 0; i < s.ntasks; i++) {
    const tt_taskrec *r = &s.tasks[i];
    const tt_task_info *t = &r->info;
    if (r->self || r->leaked || t->state != TT_TASK_WAITING || t->wait_since <= 0 ||
        s.now - t->wait_since < min_wait || strcmp(t->wait_reason, "sleep") == 0)
      continue;
    /* An I/O wait with a deadline or a context ends by itself. */
    if (r->io_fd >= 0 && r->io_bounded)
      continue;
    n++;
    fprintf(out, "tether: suspect (not proven leaked): task %lld", (long long)t->id);
    if (t->name[0])
      fprintf(out, " \"%s\"", t->name);
    fprintf(out, " (%s, spawned at %s:%d in %s)\n", t->entry ? t->entry : "?",
            t->spawn_file ? t->spawn_file : "?", t->spawn_line,
            t->spawn_func ? t->spawn_func : "?");
    fprintf(out, "  it has waited [%s] for ", t->wait_reason);
    print_wait(out, s.now - t->wait_since);
    if (r->io_fd >= 0)
      fprintf(out, " on fd %d%s%s", r->io_fd, r->io_peer[0] ? " to " : "", r->io_peer);
    if (r->wait_file)
      fprintf(out, " on the primitive made at %s:%d", r->wait_file, r->wait_line);
    fprintf(out, "\n  not proven: %s\n", why_not_proven(t->wait_reason));
    tt_frame frames[SUSPECT_FRAMES];
    int m = tt__snapshot_frames(&s, r, frames, SUSPECT_FRAMES);
    for (int k = tt__first_user_frame(frames, m); k < m; k++)
      fprintf(out, "      %s(...)\n\t%s:%d\n", frames[k].func, tt__file_or_unknown(frames[k].file),
              frames[k].line);
  }
  if (n == 0)
    fprintf(out, "tether: no suspects waiting that long\n");
  fflush(out);
  tt__snapshot_free(&s);
  return n;
}
