/*
 * Go's two goroutine text formats, and tt_dump_as, which takes a snapshot
 * and hands it to the writer of the chosen format.
 *
 * debug=2 is what a Go program prints on SIGQUIT or from
 * /debug/pprof/goroutine?debug=2: one block per goroutine,
 *
 *   goroutine 18 [chan receive, 2 minutes]:
 *   worker(...)
 *   	/src/app.c:20 +0x2b
 *   created by serve in goroutine 1
 *   	/src/app.c:15 +0x45
 *
 * with a blank line between blocks. We keep to that grammar byte for byte
 * (a task is a goroutine, its id the goroutine number) so panicparse,
 * goleak's parser and our own analyzer read our dumps like Go's.
 *
 * debug=1 is the counted form that `go tool pprof` also reads: identical
 * stacks merged, most common first, each as "count @ pc pc ..." followed by
 * one "#\tpc\tfunc+off\tfile:line" line per frame. pprof reads only the
 * addresses, and for a position-independent executable an address means
 * nothing without the load address; Go's own profiles get away without it
 * (Go binaries are not PIE by default), ours cannot. So the memory map
 * follows the records, after the "--- Memory map: ---" line pprof's legacy
 * parser looks for: the executable file mappings of /proc/self/maps.
 */
#include <stdlib.h>
#include <string.h>

#include "observe/exports.h"

static void put_frame(FILE *out, const tt_frame *f) {
  fprintf(out, "%s(...)\n\t%s:%d +0x%llx\n", f->func, tt__file_or_unknown(f->file), f->line,
          (unsigned long long)f->offset);
}

static void put_created_by(FILE *out, const tt_taskrec *r) {
  const tt_task_info *i = &r->info;
  fprintf(out, "created by %s", i->spawn_func ? i->spawn_func : "?");
  if (i->parent_id > 0)
    fprintf(out, " in goroutine %lld", (long long)i->parent_id);
  /* The spawn call's address gives Go's absolute path and offset, when it
   * resolves to the function the macro named; otherwise the site as the
   * macro saw it. */
  tt_frame f = {.func = "", .file = ""};
  if (r->spawn_pc && i->spawn_func)
    tt__symbolize(r->spawn_pc, &f);
  if (f.file[0] && f.line > 0 && strcmp(f.func, i->spawn_func) == 0)
    fprintf(out, "\n\t%s:%d +0x%llx\n", f.file, f.line, (unsigned long long)f.offset);
  else
    fprintf(out, "\n\t%s:%d\n", tt__file_or_unknown(i->spawn_file), i->spawn_line);
}

static void put_header(FILE *out, const tt_snapshot *s, const tt_taskrec *r) {
  const tt_task_info *i = &r->info;
  fprintf(out, "goroutine %lld [", (long long)i->id);
  if (i->state == TT_TASK_WAITING) {
    fputs(i->wait_reason[0] ? i->wait_reason : "waiting", out);
    /* Go 1.26's mark for a goroutine its leak detector proved stuck. */
    if (r->leaked)
      fputs(" (leaked)", out);
    int64_t minutes = tt__wait_minutes(s, r);
    if (minutes > 0)
      fprintf(out, ", %lld minutes", (long long)minutes);
    /* An extra item after the duration, as Go's ", locked to thread". */
    if (r->io_fd >= 0)
      fprintf(out, ", fd %d%s%s", r->io_fd, r->io_peer[0] ? " " : "", r->io_peer);
  } else {
    fputs(i->state == TT_TASK_RUNNING ? "running" : "runnable", out);
  }
  fputs("]:\n", out);
}

int tt__export_go_debug2(FILE *out, const tt_snapshot *s) {
  tt_frame frames[TT_SNAP_MAX_FRAMES];
  bool system = tt__traceback_system();
  for (size_t k = 0; k < s->ntasks; k++) {
    const tt_taskrec *r = &s->tasks[k];
    if (k > 0)
      fputc('\n', out);
    put_header(out, s, r);
    if (r->stack == TT_SNAP_STACK_RUNNING) {
      /* Running, and its thread did not answer the sample (it blocks
       * SIGURG, or was not scheduled in time): the entry function, which
       * is on its stack for sure, stands in. Go's own "stack unavailable"
       * note is not written: goleak's parser fails on it. */
      tt_frame f;
      tt__symbolize(r->entry_pc, &f);
      put_frame(out, &f);
    } else {
      int n = tt__snapshot_frames(s, r, frames, TT_SNAP_MAX_FRAMES);
      n = tt__frames_for_traceback(frames, n, system);
      for (int j = 0; j < n; j++)
        put_frame(out, &frames[j]);
    }
    put_created_by(out, r);
  }
  return ferror(out) ? TT_EINVAL : 0;
}

/* ---- debug=1 -------------------------------------------------------------- */

typedef struct stack_ref {
  const uintptr_t *pcs;
  uint32_t n;
  int64_t count;
  const char *name; /* the task's name, its label; "" for none */
} stack_ref;

/* The stack a counted format shows for a record: its frames, or its entry
 * function alone when the stack is unavailable. */
static stack_ref stack_of(const tt_snapshot *s, const tt_taskrec *r) {
  if (r->npcs > 0)
    return (stack_ref){s->pcs + r->pc0, r->npcs, 1, r->info.name};
  return (stack_ref){&r->entry_pc, 1, 1, r->info.name};
}

/* Records are the same when their stacks and labels are, as in Go. */
static int cmp_pcs(const void *a, const void *b) {
  const stack_ref *x = a, *y = b;
  uint32_t n = x->n < y->n ? x->n : y->n;
  for (uint32_t i = 0; i < n; i++)
    if (x->pcs[i] != y->pcs[i])
      return x->pcs[i] < y->pcs[i] ? -1 : 1;
  if (x->n != y->n)
    return (x->n > y->n) - (x->n < y->n);
  return strcmp(x->name, y->name);
}

/* Go's "# labels: {"name":"..."}" line: the value quoted as Go's %q does
 * for the bytes a name can hold. */
static void put_labels(FILE *out, const char *name) {
  fputs("# labels: {\"name\":\"", out);
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(out, "\\%c", *p);
    else if (*p == '\n')
      fputs("\\n", out);
    else if (*p == '\t')
      fputs("\\t", out);
    else if (*p < 0x20 || *p == 0x7f)
      fprintf(out, "\\x%02x", *p);
    else
      fputc(*p, out);
  }
  fputs("\"}\n", out);
}

static int cmp_count(const void *a, const void *b) {
  const stack_ref *x = a, *y = b;
  if (x->count != y->count)
    return x->count > y->count ? -1 : 1;
  return cmp_pcs(a, b);
}

/* The executable mappings of files, in /proc/self/maps's own format (the
 * task stacks, anonymous, are left out: there may be 100k of them). */
static void put_memory_map(FILE *out) {
  FILE *maps = fopen("/proc/self/maps", "r");
  if (!maps)
    return;
  fputs("--- Memory map: ---\n", out);
  char line[4096 + 128];
  while (fgets(line, sizeof line, maps)) {
    char perms[8] = "";
    int path_at = 0;
    /* start-end perms offset dev inode path */
    if (sscanf(line, "%*x-%*x %7s %*x %*x:%*x %*u %n", perms, &path_at) == 1 && perms[2] == 'x' &&
        path_at > 0 && line[path_at] == '/')
      fputs(line, out);
  }
  fclose(maps);
}

int tt__export_go_debug1(FILE *out, const tt_snapshot *s) {
  stack_ref *refs = malloc((s->ntasks ? s->ntasks : 1) * sizeof *refs);
  if (!refs)
    return TT_ENOMEM;
  for (size_t k = 0; k < s->ntasks; k++)
    refs[k] = stack_of(s, &s->tasks[k]);
  qsort(refs, s->ntasks, sizeof *refs, cmp_pcs);
  size_t groups = 0;
  for (size_t k = 0; k < s->ntasks; k++) {
    if (groups > 0 && cmp_pcs(&refs[groups - 1], &refs[k]) == 0)
      refs[groups - 1].count++;
    else
      refs[groups++] = refs[k];
  }
  qsort(refs, groups, sizeof *refs, cmp_count);

  fprintf(out, "goroutine profile: total %zu\n", s->ntasks);
  for (size_t g = 0; g < groups; g++) {
    fprintf(out, "%lld @", (long long)refs[g].count);
    for (uint32_t i = 0; i < refs[g].n; i++)
      fprintf(out, " 0x%llx", (unsigned long long)refs[g].pcs[i]);
    fputc('\n', out);
    if (refs[g].name[0])
      put_labels(out, refs[g].name);
    for (uint32_t i = 0; i < refs[g].n; i++) {
      /* An inlined call is a line of its own at the same address, as in
       * Go's debug=1. */
      tt_frame fr[TT_PC_MAX_FRAMES];
      int nf = tt__symbolize_inlined(refs[g].pcs[i], fr, TT_PC_MAX_FRAMES);
      for (int k = 0; k < nf; k++) {
        const tt_frame *f = &fr[k];
        /* Like Go, the frame lines show the call (pc - 1), not the return
         * address. */
        fprintf(out, "#\t0x%llx\t%s+0x%llx\t%s:%d\n", (unsigned long long)(f->pc - 1), f->func,
                (unsigned long long)(f->offset ? f->offset - 1 : 0), tt__file_or_unknown(f->file),
                f->line);
      }
    }
    fputc('\n', out);
  }
  free(refs);
  put_memory_map(out);
  return ferror(out) ? TT_EINVAL : 0;
}

/* ---- tt_dump_as ------------------------------------------------------------ */

int tt_dump_format_parse(const char *name) {
  static const struct {
    const char *name;
    tt_dump_format format;
  } names[] = {
      {"summary", TT_DUMP_SUMMARY},
      {"debug=2", TT_DUMP_GO_DEBUG2},
      {"2", TT_DUMP_GO_DEBUG2},
      {"go", TT_DUMP_GO_DEBUG2},
      {"debug=1", TT_DUMP_GO_DEBUG1},
      {"1", TT_DUMP_GO_DEBUG1},
      {"pprof", TT_DUMP_PPROF},
      {"json", TT_DUMP_JSON},
      {"goroutineleak", TT_DUMP_PPROF_LEAKED},
  };
  if (!name)
    return TT_EINVAL;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i].name) == 0)
      return (int)names[i].format;
  return TT_EINVAL;
}

int tt_dump_as(FILE *out, tt_dump_format format) {
  if (!out)
    return TT_EINVAL;
  int (*writer)(FILE *, const tt_snapshot *);
  switch (format) {
  case TT_DUMP_SUMMARY: return tt_dump(out);
  case TT_DUMP_GO_DEBUG2: writer = tt__export_go_debug2; break;
  case TT_DUMP_GO_DEBUG1: writer = tt__export_go_debug1; break;
  case TT_DUMP_PPROF: writer = tt__export_pprof; break;
  case TT_DUMP_JSON: writer = tt__export_json; break;
  case TT_DUMP_PPROF_LEAKED: writer = tt__export_pprof_leaked; break;
  default: return TT_EINVAL;
  }
  tt_snapshot s;
  int rc = tt__snapshot_take(&s, TT_SNAP_STACKS);
  if (rc < 0)
    return rc;
  if (format == TT_DUMP_PPROF_LEAKED) { /* keep the leaked tasks only */
    size_t kept = 0;
    for (size_t k = 0; k < s.ntasks; k++)
      if (s.tasks[k].leaked)
        s.tasks[kept++] = s.tasks[k];
    s.ntasks = kept;
  }
  rc = writer(out, &s);
  tt__snapshot_free(&s);
  fflush(out);
  return rc;
}
