/*
 * Baselines: the seed's LeakDetector, by spawn site. A baseline is the
 * live task count of every spawn site at one moment; a check compares the
 * population now with it and names each site that grew by more than a
 * tolerance, with the stacks of its newest tasks (the ones a leak adds
 * last are the ones to look at). The growth monitor runs the same check at
 * every sample when it is given a baseline (monitor.c).
 *
 * Built on the public walks (tt_count_by_site, tt_tasks_foreach,
 * tt_task_stack): any thread, no stop-the-world; on a population that is
 * changing the figures are a moving picture, as every count is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe/baseline.h"
#include "observe/snapshot.h"

struct tt_baseline {
  int64_t total;
  tt_site_count *sites; /* strings are static (tt_count_by_site) */
  int n;
};

/* Every site now, into a malloc'd array: how many, or a TT_E* code. */
static int all_sites(tt_site_count **out) {
  int cap = 64;
  for (;;) {
    tt_site_count *s = malloc((size_t)cap * sizeof *s);
    if (!s)
      return TT_ENOMEM;
    int n = tt_count_by_site(s, cap);
    if (n >= 0 && n <= cap) {
      *out = s;
      return n;
    }
    free(s);
    if (n < 0)
      return n;
    cap = n + n / 2 + 16; /* it grew between the count and the fill */
  }
}

static bool same_site(const tt_site_count *a, const tt_site_count *b) {
  return a->line == b->line && strcmp(a->file, b->file) == 0 && strcmp(a->entry, b->entry) == 0;
}

tt_baseline *tt_baseline_take(void) {
  tt_baseline *b = calloc(1, sizeof *b);
  if (!b)
    return NULL;
  int n = all_sites(&b->sites);
  if (n < 0) {
    free(b);
    return NULL;
  }
  b->n = n;
  for (int i = 0; i < n; i++)
    b->total += b->sites[i].count;
  return b;
}

int64_t tt_baseline_total(const tt_baseline *b) { return b ? b->total : TT_EINVAL; }

void tt_baseline_free(tt_baseline *b) {
  if (!b)
    return;
  free(b->sites);
  free(b);
}

static int grower_cmp(const void *pa, const void *pb) {
  const tt__grower *a = pa, *b = pb;
  if (a->growth != b->growth)
    return a->growth > b->growth ? -1 : 1;
  return a->site.line - b->site.line;
}

/* The newest tasks of each grower: kept sorted, newest first. */
typedef struct newest_walk {
  tt__grower *g;
  int n;
} newest_walk;

static int find_newest(const tt_task_info *info, void *arg) {
  newest_walk *w = arg;
  for (int i = 0; i < w->n; i++) {
    tt__grower *g = &w->g[i];
    if (info->spawn_line != g->site.line || strcmp(info->spawn_file, g->site.file) != 0 ||
        strcmp(info->entry, g->site.entry) != 0)
      continue;
    int k = g->nnewest; /* ids grow with every spawn: the highest is the newest */
    while (k > 0 && g->newest[k - 1].id < info->id)
      k--;
    if (k >= TT__NEWEST)
      break;
    int last = g->nnewest < TT__NEWEST ? g->nnewest : TT__NEWEST - 1;
    memmove(&g->newest[k + 1], &g->newest[k], (size_t)(last - k) * sizeof g->newest[0]);
    g->newest[k] = (tt__newest){.id = info->id, .created = info->created};
    snprintf(g->newest[k].reason, sizeof g->newest[k].reason, "%s", info->wait_reason);
    if (g->nnewest < TT__NEWEST)
      g->nnewest++;
    break;
  }
  return 0;
}

int tt__baseline_compare(const tt_baseline *b, int64_t tolerance, tt__baseline_diff *d) {
  memset(d, 0, sizeof *d);
  if (!b || tolerance < 0)
    return TT_EINVAL;
  tt_site_count *now = NULL;
  int n = all_sites(&now);
  if (n < 0)
    return n;
  d->total_before = b->total;
  d->growers = calloc((size_t)(n ? n : 1), sizeof *d->growers);
  if (!d->growers) {
    free(now);
    return TT_ENOMEM;
  }
  for (int i = 0; i < n; i++) {
    d->total += now[i].count;
    int64_t before = 0;
    for (int j = 0; j < b->n; j++)
      if (same_site(&now[i], &b->sites[j])) {
        before = b->sites[j].count;
        break;
      }
    if (now[i].count - before > tolerance)
      d->growers[d->n++] =
          (tt__grower){.site = now[i], .before = before, .growth = now[i].count - before};
  }
  free(now);
  qsort(d->growers, (size_t)d->n, sizeof *d->growers, grower_cmp);
  if (d->n) {
    newest_walk w = {d->growers, d->n};
    tt_tasks_foreach(find_newest, &w);
  }
  return d->n;
}

void tt__baseline_diff_free(tt__baseline_diff *d) {
  free(d->growers);
  memset(d, 0, sizeof *d);
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

void tt__baseline_print(const tt__baseline_diff *d, int64_t tolerance, FILE *out) {
  fprintf(out, "tether baseline: %lld task%s now, %lld at the baseline; ", (long long)d->total,
          d->total == 1 ? "" : "s", (long long)d->total_before);
  if (!d->n) {
    fprintf(out, "no spawn site grew by more than %lld\n", (long long)tolerance);
    return;
  }
  fprintf(out, "%d spawn site%s grew by more than %lld:\n", d->n, d->n == 1 ? "" : "s",
          (long long)tolerance);
  int64_t now = tt_now();
  for (int i = 0; i < d->n; i++) {
    const tt__grower *g = &d->growers[i];
    fprintf(out, "  %s:%d %s (spawned in %s): %lld -> %lld (%+lld), %lld waiting", g->site.file,
            g->site.line, g->site.entry, g->site.func, (long long)g->before,
            (long long)g->site.count, (long long)g->growth, (long long)g->site.waiting);
    if (g->site.top_reason && *g->site.top_reason)
      fprintf(out, ", most in [%s]", g->site.top_reason);
    fputc('\n', out);
    for (int k = 0; k < g->nnewest; k++) {
      const tt__newest *t = &g->newest[k];
      fprintf(out, "    %s task %lld, spawned %.1fs ago", k ? "next newest" : "newest",
              (long long)t->id, now > t->created ? (double)(now - t->created) / 1e9 : 0.0);
      if (*t->reason)
        fprintf(out, ", [%s]", t->reason);
      fputs(":\n", out);
      tt_frame f[16];
      int nf = tt_task_stack(t->id, f, 16);
      if (nf > 0) /* the user's frames, as in Go's tracebacks (TT_TRACEBACK) */
        nf = tt__frames_for_traceback(f, nf, tt__traceback_system());
      if (nf == TT_EBUSY)
        fputs("      (running: no stack to show)\n", out);
      for (int j = 0; j < nf; j++)
        fprintf(out, "      %s\n          %s:%d\n", f[j].func,
                *f[j].file ? base_name(f[j].file) : "?", f[j].line);
    }
  }
}

int tt_baseline_check(const tt_baseline *b, int64_t tolerance, FILE *out) {
  tt__baseline_diff d;
  int n = tt__baseline_compare(b, tolerance, &d);
  if (n >= 0 && out) {
    tt__baseline_print(&d, tolerance, out);
    fflush(out);
  }
  tt__baseline_diff_free(&d);
  return n;
}
