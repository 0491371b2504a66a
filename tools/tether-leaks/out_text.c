/*
 * The text report: proven leaks first, then suspects with their evidence
 * and fix, then every group as an aligned table row with its stack.
 * Colour only when asked for (main.c asks when stdout is a terminal).
 */
#include "report.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#define RED(v) ((v)->color ? "\033[1;31m" : "")
#define YEL(v) ((v)->color ? "\033[1;33m" : "")
#define DIM(v) ((v)->color ? "\033[2m" : "")
#define BOLD(v) ((v)->color ? "\033[1m" : "")
#define OFF(v) ((v)->color ? "\033[0m" : "")

static const char *state_of(const lk_groups *g, const lk_group *gr) {
  const char *s = lk_str(g, gr->state);
  return s[0] ? s : "(no state in this format)";
}

static void waits(const lk_group *gr, char *buf, size_t n) {
  char a[16], b[16], c[16];
  if (gr->wmax < 0)
    snprintf(buf, n, "-");
  else
    snprintf(buf, n, "%s/%s/%s", lk_dur_fmt(gr->wmin, a, sizeof a),
             lk_dur_fmt(gr->wmed, b, sizeof b), lk_dur_fmt(gr->wmax, c, sizeof c));
}

static void site_of(const lk_groups *g, const lk_group *gr, char *buf, size_t n) {
  char f[512];
  snprintf(buf, n, "%s %s", gr->site_created ? "created by" : "entry",
           lk_frame_fmt(g, lk_frame_at(g, gr->site), f, sizeof f));
}

static void stack(FILE *out, const lk_groups *g, const lk_group *gr, const lk_view *v,
                  const char *indent) {
  int n = gr->nframes;
  if (v->depth > 0 && n > v->depth)
    n = v->depth;
  for (int i = 0; i < n; i++) {
    const lk_iframe *f = lk_frame_at(g, gr->frames[i]);
    const char *file = lk_str(g, f->file);
    fprintf(out, "%s%s%s", indent, lk_str(g, f->func), lk_str(g, f->args));
    if (file[0])
      fprintf(out, "  %s%s:%d%s", DIM(v), file, f->line, OFF(v));
    fputc('\n', out);
  }
  if (n < gr->nframes || gr->elided)
    fprintf(out, "%s%s...more frames%s\n", indent, DIM(v), OFF(v));
}

static size_t shown(const lk_groups *g, const lk_view *v) {
  size_t n = lk_groups_count(g);
  return v->top > 0 && (size_t)v->top < n ? (size_t)v->top : n;
}

void lk_text_snap(FILE *out, const lk_snap *s, const lk_view *v) {
  const lk_groups *g = s->g;
  size_t ng = lk_groups_count(g), nshow = shown(g, v);
  fprintf(out, "%s%" PRId64 " goroutines in %zu groups%s (%s, %s)\n", BOLD(v), lk_groups_total(g),
          ng, OFF(v), lk_format_name(s->fmt), s->source);

  size_t nleaked = 0, nsusp = 0;
  for (size_t i = 0; i < ng; i++) {
    const lk_group *gr = lk_groups_at(g, i);
    nleaked += gr->leaked;
    nsusp += !gr->leaked && gr->verdict.pattern != LK_PAT_NONE;
  }
  if (nleaked) {
    fprintf(out, "\n%sPROVEN LEAKS%s (marked leaked by the dump itself)\n", RED(v), OFF(v));
    for (size_t i = 0; i < ng; i++) {
      const lk_group *gr = lk_groups_at(g, i);
      if (!gr->leaked)
        continue;
      char site[600], top[512];
      site_of(g, gr, site, sizeof site);
      fprintf(out, "  #%zu  %s%" PRId64 " leaked%s in %s; %s\n", i + 1, RED(v), gr->count, OFF(v),
              state_of(g, gr), site);
      fprintf(out, "       top user frame: %s\n",
              lk_frame_fmt(g, lk_group_user_frame(g, gr), top, sizeof top));
      if (gr->verdict.pattern != LK_PAT_NONE)
        fprintf(out, "       fix: %s\n", lk_patterns[gr->verdict.pattern].fix);
    }
  }
  if (nsusp) {
    fprintf(out,
            "\n%sSUSPECTS%s (a dump shows where goroutines wait, not that nothing can wake them)\n",
            YEL(v), OFF(v));
    int rank = 0;
    for (size_t i = 0; i < ng; i++) {
      const lk_group *gr = lk_groups_at(g, i);
      if (gr->leaked || gr->verdict.pattern == LK_PAT_NONE)
        continue;
      const lk_pattern *p = &lk_patterns[gr->verdict.pattern];
      fprintf(out, "  %d. %s%s%s  [group #%zu]\n", ++rank, YEL(v), p->title, OFF(v), i + 1);
      fprintf(out, "     evidence: %s\n", gr->verdict.evidence ? gr->verdict.evidence : "");
      fprintf(out, "     fix: %s\n", p->fix);
    }
  }

  /* Column widths over the rows shown. */
  int wc = 5, ws = 5, ww = 16;
  for (size_t i = 0; i < nshow; i++) {
    const lk_group *gr = lk_groups_at(g, i);
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%" PRId64, gr->count);
    wc = n > wc ? n : wc;
    n = (int)strlen(state_of(g, gr)) + (gr->leaked ? 9 : 0);
    ws = n > ws ? n : ws;
    waits(gr, buf, sizeof buf);
    n = (int)strlen(buf);
    ww = n > ww ? n : ww;
  }
  if (ws > 40)
    ws = 40;
  fprintf(out, "\n%sGROUPS%s (sorted by count x (1 + median wait in minutes))\n", BOLD(v), OFF(v));
  fprintf(out, "  %4s  %*s  %-*s  %-*s  %s\n", "#", wc, "COUNT", ws, "STATE", ww,
          "WAIT min/med/max", "SITE");
  for (size_t i = 0; i < nshow; i++) {
    const lk_group *gr = lk_groups_at(g, i);
    char st[256], w[64], site[600];
    snprintf(st, sizeof st, "%s%s", state_of(g, gr), gr->leaked ? " (leaked)" : "");
    waits(gr, w, sizeof w);
    site_of(g, gr, site, sizeof site);
    const char *col = gr->leaked ? RED(v) : gr->verdict.pattern != LK_PAT_NONE ? YEL(v) : "";
    fprintf(out, "  %4zu  %s%*" PRId64 "%s  %-*s  %-*s  %s%s\n", i + 1, col, wc, gr->count, OFF(v),
            ws, st, ww, w, site, gr->locked ? "  [locked to thread]" : "");
    stack(out, g, gr, v, "          ");
  }
  if (nshow < ng)
    fprintf(out, "  ... %zu more groups (--top 0 shows all)\n", ng - nshow);
}

static void site_of_row(const lk_drow *r, const lk_diff *d, char *buf, size_t n) {
  const lk_group *gr = r->new ? r->new : r->old;
  const lk_groups *g = r->new ? d->new.g : d->old.g;
  site_of(g, gr, buf, n);
}

void lk_text_diff(FILE *out, const lk_diff *d, const lk_view *v) {
  fprintf(out, "%s%" PRId64 " -> %" PRId64 " goroutines%s (%s: %s, %s: %s)\n", BOLD(v),
          lk_groups_total(d->old.g), lk_groups_total(d->new.g), OFF(v), d->old.source,
          lk_format_name(d->old.fmt), d->new.source, lk_format_name(d->new.fmt));
  fprintf(out, "\n%sSITES%s (by growth)\n  %8s %8s %8s  %s\n", BOLD(v), OFF(v), "BEFORE", "AFTER",
          "DELTA", "SITE");
  size_t lim = v->top > 0 && (size_t)v->top < d->nsites ? (size_t)v->top : d->nsites;
  for (size_t i = 0; i < lim; i++) {
    const lk_drow *r = &d->sites[i];
    char site[600];
    site_of_row(r, d, site, sizeof site);
    int64_t delta = r->after - r->before;
    bool over = d->max_growth >= 0 && delta > d->max_growth;
    fprintf(out, "  %8" PRId64 " %8" PRId64 " %s%+8" PRId64 "%s  %s%s\n", r->before, r->after,
            over        ? RED(v)
            : delta > 0 ? YEL(v)
                        : "",
            delta, OFF(v), site, over ? "  <- grew beyond the threshold" : "");
  }
  fprintf(out, "\n%sGROUPS%s (by growth)\n", BOLD(v), OFF(v));
  lim = v->top > 0 && (size_t)v->top < d->ngroups ? (size_t)v->top : d->ngroups;
  for (size_t i = 0; i < lim; i++) {
    const lk_drow *r = &d->groups[i];
    const lk_group *gr = r->new ? r->new : r->old;
    const lk_groups *g = r->new ? d->new.g : d->old.g;
    char site[600], a[16], b[16];
    site_of(g, gr, site, sizeof site);
    const char *tag = !r->old ? "  NEW" : !r->new ? "  GONE" : "";
    fprintf(out, "  %8" PRId64 " %8" PRId64 " %+8" PRId64 "  %s%s%s; %s%s", r->before, r->after,
            r->after - r->before, state_of(g, gr), gr->leaked ? " (leaked)" : "", tag, site, "");
    if (r->old && r->new && r->oldest_after > r->oldest_before && r->oldest_before >= 0)
      fprintf(out, "  oldest %s -> %s", lk_dur_fmt(r->oldest_before, a, sizeof a),
              lk_dur_fmt(r->oldest_after, b, sizeof b));
    fputc('\n', out);
    stack(out, g, gr, v, "            ");
  }
  if (d->max_growth >= 0)
    fprintf(out, "\n%zu site%s grew by more than %" PRId64 "%s\n", d->over, d->over == 1 ? "" : "s",
            d->max_growth, d->over ? ": failing" : "");
}

void lk_text_watch(FILE *out, const lk_watch *w, const lk_view *v) {
  const lk_snap *s = &w->snaps[w->n - 1];
  char when[32];
  time_t t = (time_t)w->times[w->n - 1];
  struct tm tm;
  strftime(when, sizeof when, "%H:%M:%S", localtime_r(&t, &tm));
  fprintf(out, "%s[%s] snapshot %" PRId64 "%s: %" PRId64 " goroutines in %zu groups (%s, %s)\n",
          BOLD(v), when, w->seqs[w->n - 1], OFF(v), lk_groups_total(s->g), lk_groups_count(s->g),
          lk_format_name(s->fmt), s->source);
  size_t need = w->keep == 2 ? 2 : 3;
  if (w->n < need) {
    fprintf(out, "  (growth is judged over at least %zu snapshots; %zu so far)\n", need, w->n);
    return;
  }
  if (!w->ngrowing) {
    fprintf(out, "  no site kept growing over the last %zu snapshots\n", w->n);
    return;
  }
  fprintf(
      out,
      "  %s%zu site%s kept growing%s over the last %zu snapshots (never fell, rose by %s%" PRId64
      "):\n",
      RED(v), w->ngrowing, w->ngrowing == 1 ? "" : "s", OFF(v), w->n,
      w->min_growth > 1 ? "at least " : "", w->min_growth);
  size_t lim = v->top > 0 && (size_t)v->top < w->ngrowing ? (size_t)v->top : w->ngrowing;
  for (size_t i = 0; i < lim; i++) {
    const lk_wsite *st = &w->sites[i];
    char site[600];
    site_of(st->repg, st->rep, site, sizeof site);
    fprintf(out, "  %s%+" PRId64 "%s  ", RED(v), st->delta, OFF(v));
    for (size_t k = 0; k < w->n; k++)
      fprintf(out, "%s%" PRId64, k ? " -> " : "", st->counts[k]);
    fprintf(out, "  %s\n", site);
    fprintf(out, "        biggest group: %" PRId64 " in %s\n", st->rep->count,
            state_of(st->repg, st->rep));
    stack(out, st->repg, st->rep, v, "          ");
  }
  if (lim < w->ngrowing)
    fprintf(out, "  ... %zu more growing sites (--top 0 shows all)\n", w->ngrowing - lim);
}
