/*
 * Reports: one analysed snapshot, or the diff of two, as aligned text, JSON
 * or a single-file HTML page (which embeds the JSON and renders it with
 * inline script: no network).
 */
#ifndef TETHER_LEAKS_REPORT_H
#define TETHER_LEAKS_REPORT_H

#include "suspects.h"

typedef struct lk_snap {
  lk_groups *g;
  lk_format fmt;
  const char *source; /* file name, or "-" */
} lk_snap;

typedef struct lk_view {
  int top;    /* groups shown; 0: all */
  int depth;  /* frames shown per group; 0: all */
  bool color; /* ANSI colour in text */
} lk_view;

/* One row of a diff: a group (or a site) before and after. */
typedef struct lk_drow {
  char *key;
  const lk_group *old, *new; /* NULL when absent on that side */
  int64_t before, after;
  int64_t oldest_before, oldest_after; /* seconds, -1 unknown */
} lk_drow;

typedef struct lk_diff {
  lk_snap old, new;
  lk_drow *groups, *sites;
  size_t ngroups, nsites;
  int64_t max_growth; /* -1: no threshold */
  size_t over;        /* sites that grew by more than max_growth */
} lk_diff;

int lk_diff_build(lk_diff *d);
void lk_diff_free(lk_diff *d);

/* `watch` (watch.c): the last `keep` snapshots and each creation site's
 * count in each of them. */
#define LK_WATCH_MAX 32

typedef struct lk_wsite {
  char *key;
  int64_t counts[LK_WATCH_MAX]; /* one per kept snapshot, oldest first */
  int64_t delta;                /* newest - oldest */
  bool growing;                 /* never fell, and rose by >= min_growth */
  const lk_group *rep;          /* its biggest group in the newest snapshot that has it */
  const lk_groups *repg;
  size_t rep_snap;
} lk_wsite;

typedef struct lk_watch {
  size_t keep;        /* 2..LK_WATCH_MAX */
  int64_t min_growth; /* >= 1 */
  lk_snap snaps[LK_WATCH_MAX];
  int64_t times[LK_WATCH_MAX]; /* unix seconds */
  int64_t seqs[LK_WATCH_MAX];  /* 1 for the first snapshot taken */
  size_t n;
  int64_t taken;
  lk_wsite *sites; /* growing first, then by delta */
  size_t nsites, ngrowing;
} lk_watch;

void lk_watch_init(lk_watch *w, size_t keep, int64_t min_growth);
/* Keep g (the watch owns it from now on, also on failure), dropping the
 * oldest snapshot beyond `keep`, and recount the sites. 0 or -1 (memory). */
int lk_watch_add(lk_watch *w, lk_groups *g, lk_format fmt, const char *source, int64_t when);
void lk_watch_free(lk_watch *w);

void lk_text_snap(FILE *out, const lk_snap *s, const lk_view *v);
void lk_json_snap(FILE *out, const lk_snap *s, const lk_view *v);
void lk_html_snap(FILE *out, const lk_snap *s, const lk_view *v);
void lk_text_diff(FILE *out, const lk_diff *d, const lk_view *v);
void lk_json_diff(FILE *out, const lk_diff *d, const lk_view *v);
void lk_html_diff(FILE *out, const lk_diff *d, const lk_view *v);
/* The state of a watch after its newest snapshot. JSON: one line (a
 * stream of them is JSON Lines); HTML: a page that reloads itself every
 * `refresh_s` seconds (0: never). */
void lk_text_watch(FILE *out, const lk_watch *w, const lk_view *v);
void lk_json_watch(FILE *out, const lk_watch *w, const lk_view *v);
void lk_html_watch(FILE *out, const lk_watch *w, const lk_view *v, int64_t refresh_s);

/* JSON string with <, > and & escaped too, so it can sit inside <script>. */
void lk_json_str(FILE *out, const char *s);

#endif
