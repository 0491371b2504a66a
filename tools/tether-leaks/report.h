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

void lk_text_snap(FILE *out, const lk_snap *s, const lk_view *v);
void lk_json_snap(FILE *out, const lk_snap *s, const lk_view *v);
void lk_html_snap(FILE *out, const lk_snap *s, const lk_view *v);
void lk_text_diff(FILE *out, const lk_diff *d, const lk_view *v);
void lk_json_diff(FILE *out, const lk_diff *d, const lk_view *v);
void lk_html_diff(FILE *out, const lk_diff *d, const lk_view *v);

/* JSON string with <, > and & escaped too, so it can sit inside <script>. */
void lk_json_str(FILE *out, const char *s);

#endif
