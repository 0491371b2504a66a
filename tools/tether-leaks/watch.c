/*
 * `watch`: the last K snapshots of a live endpoint, and per creation site
 * its count in each. A site keeps growing when its count never fell from
 * one kept snapshot to the next and rose over the window (at least two
 * intervals, unless only two snapshots are kept): a leak grows with
 * traffic, while a healthy pool or a request burst goes up and down.
 */
#include "report.h"

#include <stdlib.h>
#include <string.h>

void lk_watch_init(lk_watch *w, size_t keep, int64_t min_growth) {
  memset(w, 0, sizeof *w);
  w->keep = keep < 2 ? 2 : keep > LK_WATCH_MAX ? LK_WATCH_MAX : keep;
  w->min_growth = min_growth < 1 ? 1 : min_growth;
}

static void free_sites(lk_watch *w) {
  for (size_t i = 0; i < w->nsites; i++)
    free(w->sites[i].key);
  free(w->sites);
  w->sites = NULL;
  w->nsites = w->ngrowing = 0;
}

void lk_watch_free(lk_watch *w) {
  free_sites(w);
  for (size_t i = 0; i < w->n; i++)
    lk_groups_free(w->snaps[i].g);
  w->n = 0;
}

/* One (site, snapshot) count, to be sorted by key and merged. */
typedef struct entry {
  char *key;
  size_t snap;
  const lk_group *gr;
} entry;

static int cmp_entry(const void *a, const void *b) {
  const entry *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c ? c : (x->snap > y->snap) - (x->snap < y->snap);
}

static int cmp_site(const void *a, const void *b) {
  const lk_wsite *x = a, *y = b;
  if (x->growing != y->growing)
    return x->growing ? -1 : 1;
  if (x->delta != y->delta)
    return x->delta > y->delta ? -1 : 1;
  return strcmp(x->key, y->key);
}

static int rebuild(lk_watch *w) {
  free_sites(w);
  size_t total = 0;
  for (size_t s = 0; s < w->n; s++)
    total += lk_groups_count(w->snaps[s].g);
  entry *e = calloc(total ? total : 1, sizeof *e);
  if (!e)
    return -1;
  size_t k = 0;
  int rc = 0;
  for (size_t s = 0; s < w->n && rc == 0; s++)
    for (size_t i = 0; i < lk_groups_count(w->snaps[s].g); i++) {
      const lk_group *gr = lk_groups_at(w->snaps[s].g, i);
      e[k] = (entry){lk_site_key(w->snaps[s].g, gr), s, gr};
      if (!e[k++].key) {
        rc = -1;
        break;
      }
    }
  if (rc == 0 && k)
    qsort(e, k, sizeof *e, cmp_entry);
  lk_wsite *sites = rc == 0 ? calloc(k ? k : 1, sizeof *sites) : NULL;
  if (!sites)
    rc = -1;
  size_t ns = 0;
  size_t newest = w->n - 1;
  for (size_t i = 0; rc == 0 && i < k; i++) {
    lk_wsite *st = ns && strcmp(sites[ns - 1].key, e[i].key) == 0 ? &sites[ns - 1] : NULL;
    if (!st) {
      st = &sites[ns++];
      st->key = e[i].key;
      e[i].key = NULL;
    }
    st->counts[e[i].snap] += e[i].gr->count;
    /* The stack to show: the biggest group at the site, newest snapshot
     * first. */
    bool newer = !st->rep || e[i].snap > st->rep_snap;
    if (newer || (e[i].snap == st->rep_snap && e[i].gr->count > st->rep->count)) {
      st->rep = e[i].gr;
      st->rep_snap = e[i].snap;
    }
  }
  for (size_t i = 0; i < k; i++)
    free(e[i].key);
  free(e);
  if (rc < 0) {
    for (size_t i = 0; i < ns; i++)
      free(sites[i].key);
    free(sites);
    return -1;
  }
  bool enough = w->n >= 3 || (w->n == 2 && w->keep == 2);
  for (size_t i = 0; i < ns; i++) {
    lk_wsite *st = &sites[i];
    st->repg = w->snaps[st->rep_snap].g;
    st->delta = st->counts[newest] - st->counts[0];
    bool never_fell = true;
    for (size_t s = 1; s < w->n; s++)
      if (st->counts[s] < st->counts[s - 1])
        never_fell = false;
    st->growing = enough && never_fell && st->delta >= w->min_growth;
    w->ngrowing += st->growing;
  }
  if (ns)
    qsort(sites, ns, sizeof *sites, cmp_site);
  w->sites = sites;
  w->nsites = ns;
  return 0;
}

int lk_watch_add(lk_watch *w, lk_groups *g, lk_format fmt, const char *source, int64_t when) {
  if (w->n == w->keep) {
    lk_groups_free(w->snaps[0].g);
    memmove(&w->snaps[0], &w->snaps[1], (w->n - 1) * sizeof w->snaps[0]);
    memmove(&w->times[0], &w->times[1], (w->n - 1) * sizeof w->times[0]);
    memmove(&w->seqs[0], &w->seqs[1], (w->n - 1) * sizeof w->seqs[0]);
    w->n--;
  }
  w->snaps[w->n] = (lk_snap){g, fmt, source};
  w->times[w->n] = when;
  w->seqs[w->n] = ++w->taken;
  w->n++;
  return rebuild(w);
}
