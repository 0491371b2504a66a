/*
 * The JSON report (schema in docs/ANALYZER.md). Wait times in seconds,
 * absent values null. Strings escape <, > and & as well, so the HTML report
 * can embed this document as it is.
 */
#include "report.h"

#include <inttypes.h>
#include <string.h>

void lk_json_str(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    unsigned c = *p;
    if (c == '"' || c == '\\')
      fprintf(out, "\\%c", c);
    else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f)
      fprintf(out, "\\u%04x", c);
    else
      fputc((int)c, out);
  }
  fputc('"', out);
}

static void num_or_null(FILE *out, int64_t v) {
  if (v < 0)
    fputs("null", out);
  else
    fprintf(out, "%" PRId64, v);
}

static void frame(FILE *out, const lk_groups *g, const lk_iframe *f) {
  if (!f) {
    fputs("null", out);
    return;
  }
  fputs("{\"func\":", out);
  lk_json_str(out, lk_str(g, f->func));
  fputs(",\"args\":", out);
  lk_json_str(out, lk_str(g, f->args));
  fputs(",\"file\":", out);
  lk_json_str(out, lk_str(g, f->file));
  fprintf(out, ",\"line\":%d}", f->line);
}

static void site(FILE *out, const lk_groups *g, const lk_group *gr) {
  fprintf(out, "{\"kind\":\"%s\",\"frame\":", gr->site_created ? "created_by" : "entry");
  frame(out, g, lk_frame_at(g, gr->site));
  fputc('}', out);
}

static void group(FILE *out, const lk_groups *g, const lk_group *gr, const lk_view *v) {
  fprintf(out, "{\"count\":%" PRId64 ",\"state\":", gr->count);
  lk_json_str(out, lk_str(g, gr->state));
  fprintf(out,
          ",\"leaked\":%s,\"locked\":%s,\"elided\":%s,\"first_id\":", gr->leaked ? "true" : "false",
          gr->locked ? "true" : "false", gr->elided ? "true" : "false");
  num_or_null(out, gr->first_id);
  fputs(",\"wait_s\":", out);
  if (gr->wmax < 0)
    fputs("null", out);
  else
    fprintf(out, "{\"min\":%" PRId64 ",\"median\":%" PRId64 ",\"max\":%" PRId64 "}", gr->wmin,
            gr->wmed, gr->wmax);
  fprintf(out, ",\"score\":%.1f,\"site\":", gr->score);
  site(out, g, gr);
  fputs(",\"top_user_frame\":", out);
  frame(out, g, lk_group_user_frame(g, gr));
  fputs(",\"frames\":[", out);
  int n = gr->nframes;
  if (v->depth > 0 && n > v->depth)
    n = v->depth;
  for (int i = 0; i < n; i++) {
    if (i)
      fputc(',', out);
    frame(out, g, lk_frame_at(g, gr->frames[i]));
  }
  fputs("],\"suspect\":", out);
  if (gr->verdict.pattern == LK_PAT_NONE && !gr->leaked) {
    fputs("null", out);
  } else {
    const lk_pattern *p = &lk_patterns[gr->verdict.pattern];
    fputs("{\"pattern\":", out);
    lk_json_str(out, gr->verdict.pattern ? p->id : "leaked");
    fputs(",\"title\":", out);
    lk_json_str(out, gr->verdict.pattern ? p->title : "proven leaked by the dump");
    fputs(",\"evidence\":", out);
    lk_json_str(out, gr->verdict.evidence ? gr->verdict.evidence : "");
    fputs(",\"fix\":", out);
    lk_json_str(out, p->fix);
    fprintf(out, ",\"proven\":%s}", gr->leaked ? "true" : "false");
  }
  fputc('}', out);
}

static size_t shown(size_t n, const lk_view *v) {
  return v->top > 0 && (size_t)v->top < n ? (size_t)v->top : n;
}

void lk_json_snap(FILE *out, const lk_snap *s, const lk_view *v) {
  const lk_groups *g = s->g;
  fputs("{\"kind\":\"snapshot\",\"format\":", out);
  lk_json_str(out, lk_format_name(s->fmt));
  fputs(",\"source\":", out);
  lk_json_str(out, s->source);
  fprintf(out, ",\"total\":%" PRId64 ",\"ngroups\":%zu,\"groups\":[", lk_groups_total(g),
          lk_groups_count(g));
  size_t n = shown(lk_groups_count(g), v);
  for (size_t i = 0; i < n; i++) {
    fputs(i ? ",\n" : "\n", out);
    group(out, g, lk_groups_at(g, i), v);
  }
  fputs("\n]}\n", out);
}

static void drow(FILE *out, const lk_diff *d, const lk_drow *r, bool with_group, const lk_view *v) {
  const lk_group *gr = r->new ? r->new : r->old;
  const lk_groups *g = r->new ? d->new.g : d->old.g;
  if (!gr) /* every row has a side */
    return;
  int64_t delta = r->after - r->before;
  fprintf(out,
          "{\"before\":%" PRId64 ",\"after\":%" PRId64 ",\"delta\":%" PRId64
          ",\"new\":%s,\"gone\":%s,\"oldest_before_s\":",
          r->before, r->after, delta, r->old ? "false" : "true", r->new ? "false" : "true");
  num_or_null(out, r->oldest_before);
  fputs(",\"oldest_after_s\":", out);
  num_or_null(out, r->oldest_after);
  fprintf(out, ",\"older\":%s",
          r->old && r->new && r->oldest_before >= 0 && r->oldest_after > r->oldest_before
              ? "true"
              : "false");
  if (with_group) {
    fputs(",\"group\":", out);
    group(out, g, gr, v);
  } else {
    fprintf(out, ",\"over_threshold\":%s,\"site\":",
            d->max_growth >= 0 && delta > d->max_growth ? "true" : "false");
    site(out, g, gr);
  }
  fputc('}', out);
}

void lk_json_diff(FILE *out, const lk_diff *d, const lk_view *v) {
  fputs("{\"kind\":\"diff\",\"old\":{\"source\":", out);
  lk_json_str(out, d->old.source);
  fputs(",\"format\":", out);
  lk_json_str(out, lk_format_name(d->old.fmt));
  fprintf(out, ",\"total\":%" PRId64 "},\"new\":{\"source\":", lk_groups_total(d->old.g));
  lk_json_str(out, d->new.source);
  fputs(",\"format\":", out);
  lk_json_str(out, lk_format_name(d->new.fmt));
  fprintf(out, ",\"total\":%" PRId64 "},\"max_growth\":", lk_groups_total(d->new.g));
  num_or_null(out, d->max_growth);
  fprintf(out, ",\"sites_over\":%zu,\"sites\":[", d->over);
  size_t n = shown(d->nsites, v);
  for (size_t i = 0; i < n; i++) {
    fputs(i ? ",\n" : "\n", out);
    drow(out, d, &d->sites[i], false, v);
  }
  fputs("],\"groups\":[", out);
  n = shown(d->ngroups, v);
  for (size_t i = 0; i < n; i++) {
    fputs(i ? ",\n" : "\n", out);
    drow(out, d, &d->groups[i], true, v);
  }
  fputs("\n]}\n", out);
}

void lk_json_watch(FILE *out, const lk_watch *w, const lk_view *v) {
  fputs("{\"kind\":\"watch\",\"source\":", out);
  lk_json_str(out, w->snaps[w->n - 1].source);
  fprintf(out, ",\"keep\":%zu,\"min_growth\":%" PRId64 ",\"snapshots\":[", w->keep, w->min_growth);
  for (size_t i = 0; i < w->n; i++) {
    fprintf(out, "%s{\"seq\":%" PRId64 ",\"time\":%" PRId64 ",\"total\":%" PRId64 ",\"format\":",
            i ? "," : "", w->seqs[i], w->times[i], lk_groups_total(w->snaps[i].g));
    lk_json_str(out, lk_format_name(w->snaps[i].fmt));
    fputc('}', out);
  }
  fprintf(out, "],\"ngrowing\":%zu,\"sites\":[", w->ngrowing);
  size_t n = shown(w->nsites, v);
  for (size_t i = 0; i < n; i++) {
    const lk_wsite *st = &w->sites[i];
    fputs(i ? ",{\"counts\":[" : "{\"counts\":[", out);
    for (size_t k = 0; k < w->n; k++)
      fprintf(out, "%s%" PRId64, k ? "," : "", st->counts[k]);
    fprintf(out, "],\"delta\":%" PRId64 ",\"growing\":%s,\"site\":", st->delta,
            st->growing ? "true" : "false");
    site(out, st->repg, st->rep);
    fputs(",\"group\":", out);
    group(out, st->repg, st->rep, v);
    fputc('}', out);
  }
  fputs("]}\n", out);
}
