/*
 * Two snapshots side by side. Groups are matched by their key (state,
 * frames, site, leaked), sites by their own key, each with its count before
 * and after; a site that grew by more than the threshold makes the command
 * fail, for CI.
 */
#include "report.h"

#include <stdlib.h>
#include <string.h>

static int cmp_row(const void *a, const void *b) {
  return strcmp(((const lk_drow *)a)->key, ((const lk_drow *)b)->key);
}

typedef struct {
  lk_drow *v;
  size_t n, cap;
} rows;

static lk_drow *push(rows *r) {
  if (r->n == r->cap) {
    size_t nc = r->cap ? r->cap * 2 : 64;
    lk_drow *nv = realloc(r->v, nc * sizeof *nv);
    if (!nv)
      return NULL;
    r->v = nv;
    r->cap = nc;
  }
  lk_drow *d = &r->v[r->n++];
  memset(d, 0, sizeof *d);
  d->oldest_before = d->oldest_after = -1;
  return d;
}

/* Add every group of one side, keyed by `keyfn`. */
static int add_side(rows *r, const lk_groups *g, bool is_new,
                    char *(*keyfn)(const lk_groups *, const lk_group *)) {
  for (size_t i = 0; i < lk_groups_count(g); i++) {
    const lk_group *gr = lk_groups_at(g, i);
    lk_drow *d = push(r);
    if (!d)
      return -1;
    d->key = keyfn(g, gr);
    if (!d->key)
      return -1;
    if (is_new) {
      d->new = gr;
      d->after = gr->count;
      d->oldest_after = gr->wmax;
    } else {
      d->old = gr;
      d->before = gr->count;
      d->oldest_before = gr->wmax;
    }
  }
  return 0;
}

/* Merge rows with equal keys (sorted first). */
static void merge(rows *r) {
  if (r->n == 0)
    return;
  qsort(r->v, r->n, sizeof *r->v, cmp_row);
  size_t out = 0;
  for (size_t i = 1; i < r->n; i++) {
    lk_drow *a = &r->v[out], *b = &r->v[i];
    if (strcmp(a->key, b->key) == 0) {
      a->before += b->before;
      a->after += b->after;
      if (!a->old)
        a->old = b->old;
      if (!a->new)
        a->new = b->new;
      if (b->oldest_before > a->oldest_before)
        a->oldest_before = b->oldest_before;
      if (b->oldest_after > a->oldest_after)
        a->oldest_after = b->oldest_after;
      free(b->key);
    } else {
      r->v[++out] = *b;
    }
  }
  r->n = out + 1;
}

static int cmp_delta(const void *a, const void *b) {
  const lk_drow *x = a, *y = b;
  int64_t dx = x->after - x->before, dy = y->after - y->before;
  if (dx != dy)
    return dx > dy ? -1 : 1;
  if (x->after != y->after)
    return x->after > y->after ? -1 : 1;
  return strcmp(x->key, y->key);
}

int lk_diff_build(lk_diff *d) {
  rows g = {0}, s = {0};
  if (add_side(&g, d->old.g, false, lk_group_key) < 0 ||
      add_side(&g, d->new.g, true, lk_group_key) < 0 ||
      add_side(&s, d->old.g, false, lk_site_key) < 0 ||
      add_side(&s, d->new.g, true, lk_site_key) < 0) {
    d->groups = g.v;
    d->ngroups = g.n;
    d->sites = s.v;
    d->nsites = s.n;
    return -1;
  }
  merge(&g);
  merge(&s);
  if (g.n)
    qsort(g.v, g.n, sizeof *g.v, cmp_delta);
  if (s.n)
    qsort(s.v, s.n, sizeof *s.v, cmp_delta);
  d->groups = g.v;
  d->ngroups = g.n;
  d->sites = s.v;
  d->nsites = s.n;
  d->over = 0;
  if (d->max_growth >= 0)
    for (size_t i = 0; i < s.n; i++)
      if (s.v[i].after - s.v[i].before > d->max_growth)
        d->over++;
  return 0;
}

void lk_diff_free(lk_diff *d) {
  for (size_t i = 0; i < d->ngroups; i++)
    free(d->groups[i].key);
  for (size_t i = 0; i < d->nsites; i++)
    free(d->sites[i].key);
  free(d->groups);
  free(d->sites);
  d->groups = d->sites = NULL;
  d->ngroups = d->nsites = 0;
}
