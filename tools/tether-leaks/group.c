/* Interning and grouping (group.h). */
#include "group.h"

#include <stdlib.h>
#include <string.h>

/* ---- hashing ----------------------------------------------------------------- */

static inline uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

/* Eight bytes at a time: frame strings are hashed once per goroutine. */
static uint64_t hash_bytes(const char *p, size_t n, uint64_t seed) {
  uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ w) * 0x100000001b3ULL;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, p, n);
  h = (h ^ w) * 0x100000001b3ULL;
  return mix(h);
}

/* ---- the string arena ------------------------------------------------------------ */

typedef struct sblock {
  struct sblock *next;
  size_t used, cap;
  char data[];
} sblock;

typedef struct {
  const char *s;
  size_t n;
  uint64_t h;
} istr;

typedef struct {
  lk_iframe f;
  uint64_t h;
} ifr;

typedef struct {
  uint32_t *slots; /* index + 1, 0 = empty */
  size_t mask;
  size_t used;
} table;

struct lk_groups {
  lk_gopts opts;
  sblock *blocks;
  istr *strs;
  size_t nstrs, cstrs;
  table strtab;
  ifr *frames;
  size_t nframes, cframes;
  table frtab;
  lk_group *groups;
  size_t ngroups, cgroups;
  table grtab;
  uint32_t *scratch; /* frame ids of the record being grouped */
  size_t cscratch;
  int64_t total;
  bool oom;
};

static bool table_init(table *t, size_t n) {
  t->slots = calloc(n, sizeof *t->slots);
  t->mask = n - 1;
  t->used = 0;
  return t->slots != NULL;
}

static char *arena_put(lk_groups *g, const char *s, size_t n) {
  if (!g->blocks || g->blocks->cap - g->blocks->used < n + 1) {
    /* Blocks double from 16 KiB to 1 MiB: small dumps stay small. */
    size_t cap = g->blocks && g->blocks->cap < (1u << 20) ? g->blocks->cap * 2
                 : g->blocks                              ? (1u << 20)
                                                          : (16u << 10);
    if (cap < n + 1)
      cap = n + 1;
    sblock *b = malloc(sizeof *b + cap);
    if (!b)
      return NULL;
    b->next = g->blocks;
    b->used = 0;
    b->cap = cap;
    g->blocks = b;
  }
  char *d = g->blocks->data + g->blocks->used;
  memcpy(d, s, n);
  d[n] = '\0';
  g->blocks->used += n + 1;
  return d;
}

#define GROW(arr, n, cap) ((n) < (cap) || grow_arr((void **)&(arr), &(cap), sizeof *(arr)))

static bool grow_arr(void **arr, size_t *cap, size_t elem) {
  size_t nc = *cap ? *cap * 2 : 256;
  void *na = realloc(*arr, nc * elem);
  if (!na)
    return false;
  *arr = na;
  *cap = nc;
  return true;
}

/* Double a table when it is more than half full; rehash with each entry's
 * stored hash. */
static bool table_grow(table *t, size_t count, uint64_t (*hash_of)(lk_groups *, uint32_t),
                       lk_groups *g) {
  if ((count + 1) * 2 <= t->mask + 1)
    return true;
  table nt;
  if (!table_init(&nt, (t->mask + 1) * 2))
    return false;
  for (size_t i = 0; i <= t->mask; i++) {
    if (!t->slots[i])
      continue;
    uint32_t idx = t->slots[i] - 1;
    size_t j = hash_of(g, idx) & nt.mask;
    while (nt.slots[j])
      j = (j + 1) & nt.mask;
    nt.slots[j] = idx + 1;
  }
  free(t->slots);
  *t = nt;
  return true;
}

static uint64_t str_hash_of(lk_groups *g, uint32_t i) { return g->strs[i].h; }
static uint64_t fr_hash_of(lk_groups *g, uint32_t i) { return g->frames[i].h; }
static uint64_t gr_hash_of(lk_groups *g, uint32_t i) { return g->groups[i].hash; }

uint32_t lk_intern(lk_groups *g, const char *s, size_t n) {
  uint64_t h = hash_bytes(s, n, 1);
  size_t j = h & g->strtab.mask;
  for (uint32_t v; (v = g->strtab.slots[j]); j = (j + 1) & g->strtab.mask) {
    const istr *e = &g->strs[v - 1];
    if (e->h == h && e->n == n && memcmp(e->s, s, n) == 0)
      return v - 1;
  }
  if (!GROW(g->strs, g->nstrs, g->cstrs) || !table_grow(&g->strtab, g->nstrs, str_hash_of, g))
    return LK_NONE;
  const char *d = arena_put(g, s, n);
  if (!d)
    return LK_NONE;
  uint32_t id = (uint32_t)g->nstrs++;
  g->strs[id] = (istr){d, n, h};
  j = h & g->strtab.mask;
  while (g->strtab.slots[j])
    j = (j + 1) & g->strtab.mask;
  g->strtab.slots[j] = id + 1;
  return id;
}

static bool str_eq(const lk_groups *g, uint32_t id, const char *s, size_t n) {
  return g->strs[id].n == n && memcmp(g->strs[id].s, s, n) == 0;
}

/* The id of frame (func, args, file, line), interning it when new. */
static uint32_t intern_frame(lk_groups *g, const lk_frame *f, bool with_args) {
  const char *args = with_args && f->args ? f->args : "";
  const char *file = f->file ? f->file : "";
  size_t fl = strlen(f->func), al = strlen(args), il = strlen(file);
  uint64_t h = hash_bytes(f->func, fl, 2);
  h = hash_bytes(file, il, h);
  if (al)
    h = hash_bytes(args, al, h);
  h = mix(h ^ (uint64_t)(uint32_t)f->line);
  size_t j = h & g->frtab.mask;
  for (uint32_t v; (v = g->frtab.slots[j]); j = (j + 1) & g->frtab.mask) {
    const ifr *e = &g->frames[v - 1];
    if (e->h == h && e->f.line == f->line && str_eq(g, e->f.func, f->func, fl) &&
        str_eq(g, e->f.file, file, il) && str_eq(g, e->f.args, args, al))
      return v - 1;
  }
  ifr nf = {{lk_intern(g, f->func, fl), lk_intern(g, args, al), lk_intern(g, file, il), f->line},
            h};
  if (nf.f.func == LK_NONE || nf.f.args == LK_NONE || nf.f.file == LK_NONE)
    return LK_NONE;
  if (!GROW(g->frames, g->nframes, g->cframes) || !table_grow(&g->frtab, g->nframes, fr_hash_of, g))
    return LK_NONE;
  uint32_t id = (uint32_t)g->nframes++;
  g->frames[id] = nf;
  j = h & g->frtab.mask;
  while (g->frtab.slots[j])
    j = (j + 1) & g->frtab.mask;
  g->frtab.slots[j] = id + 1;
  return id;
}

lk_groups *lk_groups_new(lk_gopts opts) {
  lk_groups *g = calloc(1, sizeof *g);
  if (!g)
    return NULL;
  g->opts = opts;
  if (!table_init(&g->strtab, 1024) || !table_init(&g->frtab, 1024) ||
      !table_init(&g->grtab, 256) || lk_intern(g, "", 0) != 0) {
    lk_groups_free(g);
    return NULL;
  }
  return g;
}

void lk_groups_free(lk_groups *g) {
  if (!g)
    return;
  while (g->blocks) {
    sblock *n = g->blocks->next;
    free(g->blocks);
    g->blocks = n;
  }
  for (size_t i = 0; i < g->ngroups; i++) {
    free(g->groups[i].frames);
    free(g->groups[i].waits);
  }
  free(g->groups);
  free(g->strs);
  free(g->frames);
  free(g->scratch);
  free(g->strtab.slots);
  free(g->frtab.slots);
  free(g->grtab.slots);
  free(g);
}

static int group_emit(void *ctx, const lk_rec *r, lk_err *e) {
  lk_groups *g = ctx;
  int n = r->nframes;
  if (g->opts.fold > 0 && n > g->opts.fold)
    n = g->opts.fold;
  if ((size_t)n > g->cscratch) {
    uint32_t *ns = realloc(g->scratch, (size_t)n * sizeof *ns);
    if (!ns)
      return lk_fail(e, "out of memory grouping");
    g->scratch = ns;
    g->cscratch = (size_t)n;
  }
  uint64_t h = mix((uint64_t)n + 7);
  for (int i = 0; i < n; i++) {
    uint32_t id = intern_frame(g, &r->frames[i], g->opts.exact_args);
    if (id == LK_NONE)
      return lk_fail(e, "out of memory grouping");
    g->scratch[i] = id;
    h = mix(h ^ id) + (uint64_t)i;
  }
  uint32_t site = LK_NONE;
  bool site_created = r->created.func != NULL;
  if (site_created)
    site = intern_frame(g, &r->created, false);
  else if (r->nframes > 0)
    site = intern_frame(g, &r->frames[r->nframes - 1], false);
  const char *st = r->state ? r->state : "";
  uint32_t state = lk_intern(g, st, strlen(st));
  if (state == LK_NONE || (site == LK_NONE && (site_created || r->nframes > 0)))
    return lk_fail(e, "out of memory grouping");
  h = mix(h ^ ((uint64_t)state << 32 | site) ^ (r->leaked ? 0x5bd1e995u : 0));

  lk_group *gr = NULL;
  size_t j = h & g->grtab.mask;
  for (uint32_t v; (v = g->grtab.slots[j]); j = (j + 1) & g->grtab.mask) {
    lk_group *c = &g->groups[v - 1];
    if (c->hash == h && c->nframes == n && c->state == state && c->site == site &&
        c->leaked == r->leaked &&
        (n == 0 || memcmp(c->frames, g->scratch, (size_t)n * sizeof *c->frames) == 0)) {
      gr = c;
      break;
    }
  }
  if (!gr) {
    if (!GROW(g->groups, g->ngroups, g->cgroups) ||
        !table_grow(&g->grtab, g->ngroups, gr_hash_of, g))
      return lk_fail(e, "out of memory grouping");
    gr = &g->groups[g->ngroups];
    memset(gr, 0, sizeof *gr);
    gr->frames = malloc((size_t)(n ? n : 1) * sizeof *gr->frames);
    if (!gr->frames)
      return lk_fail(e, "out of memory grouping");
    if (n)
      memcpy(gr->frames, g->scratch, (size_t)n * sizeof *gr->frames);
    gr->nframes = n;
    gr->state = state;
    gr->site = site;
    gr->site_created = site_created;
    gr->leaked = r->leaked;
    gr->hash = h;
    gr->first_id = -1;
    gr->wmin = gr->wmed = gr->wmax = -1;
    uint32_t idx = (uint32_t)g->ngroups++;
    j = h & g->grtab.mask;
    while (g->grtab.slots[j])
      j = (j + 1) & g->grtab.mask;
    g->grtab.slots[j] = idx + 1;
  }
  gr->count += r->count;
  g->total += r->count;
  gr->elided |= r->elided || r->nframes > n;
  gr->locked |= r->locked;
  if (r->id >= 0 && (gr->first_id < 0 || r->id < gr->first_id))
    gr->first_id = r->id;
  if (r->wait_addr) {
    if (gr->count == r->count)
      gr->addr = r->wait_addr;
    else if (gr->addr != r->wait_addr)
      gr->addr_mixed = true;
  } else if (gr->count != r->count || gr->addr) {
    gr->addr_mixed = true;
  }
  if (r->wait_s >= 0) {
    if (!GROW(gr->waits, gr->nwaits, gr->cwaits))
      return lk_fail(e, "out of memory grouping");
    gr->waits[gr->nwaits++] = r->wait_s;
  }
  return 0;
}

lk_sink lk_groups_sink(lk_groups *g) { return (lk_sink){group_emit, g}; }

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int cmp_group(const void *a, const void *b) {
  const lk_group *x = a, *y = b;
  if (x->leaked != y->leaked)
    return x->leaked ? -1 : 1;
  if (x->score != y->score)
    return x->score > y->score ? -1 : 1;
  if (x->count != y->count)
    return x->count > y->count ? -1 : 1;
  return (x->first_id > y->first_id) - (x->first_id < y->first_id);
}

void lk_groups_finish(lk_groups *g) {
  for (size_t i = 0; i < g->ngroups; i++) {
    lk_group *gr = &g->groups[i];
    if (gr->addr_mixed)
      gr->addr = 0;
    if (gr->nwaits) {
      qsort(gr->waits, gr->nwaits, sizeof *gr->waits, cmp_i64);
      gr->wmin = gr->waits[0];
      gr->wmax = gr->waits[gr->nwaits - 1];
      gr->wmed = gr->waits[gr->nwaits / 2];
    }
    gr->score = (double)gr->count * (1.0 + (gr->wmed > 0 ? (double)gr->wmed / 60.0 : 0.0));
  }
  /* Sorting moves groups: the hash table's indexes go stale, so drop it. */
  if (g->ngroups)
    qsort(g->groups, g->ngroups, sizeof *g->groups, cmp_group);
  free(g->grtab.slots);
  g->grtab.slots = NULL;
  table_init(&g->grtab, 16);
}

size_t lk_groups_count(const lk_groups *g) { return g->ngroups; }
lk_group *lk_groups_at(const lk_groups *g, size_t i) { return &g->groups[i]; }
int64_t lk_groups_total(const lk_groups *g) { return g->total; }
const char *lk_str(const lk_groups *g, uint32_t id) { return id < g->nstrs ? g->strs[id].s : ""; }

const lk_iframe *lk_frame_at(const lk_groups *g, uint32_t id) {
  return id < g->nframes ? &g->frames[id].f : NULL;
}

static bool is_runtime_func(const char *f) {
  static const char *const pre[] = {"runtime.", "runtime/", "sync.", "internal/", "net.",
                                    "net/",     "os.",      "io.",   "bufio.",    "syscall.",
                                    "time.",    "context.", "tt_",   "tt__"};
  for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
    if (strncmp(f, pre[i], strlen(pre[i])) == 0)
      return true;
  return false;
}

/* The caller of the runtime: from the bottom of the stack, past the
 * runtime's own frames there (runtime.main, goexit), up through the user's
 * frames to the last one before a runtime or API frame. Going up from the
 * bottom rather than down from the top also steps over the static helpers
 * of tether's runtime (lock_slow, wait_task), which carry no prefix. */
static bool rt_at(const lk_groups *g, const lk_group *gr, int i) {
  return is_runtime_func(lk_str(g, lk_frame_at(g, gr->frames[i])->func));
}

const lk_iframe *lk_group_user_frame(const lk_groups *g, const lk_group *gr) {
  int k = gr->nframes - 1;
  while (k >= 0 && rt_at(g, gr, k))
    k--;
  if (k < 0)
    return gr->nframes ? lk_frame_at(g, gr->frames[0]) : NULL;
  while (k > 0 && !rt_at(g, gr, k - 1))
    k--;
  return lk_frame_at(g, gr->frames[k]);
}

const char *lk_frame_fmt(const lk_groups *g, const lk_iframe *f, char *buf, size_t n) {
  if (!f) {
    snprintf(buf, n, "?");
    return buf;
  }
  const char *file = lk_str(g, f->file);
  if (file[0])
    snprintf(buf, n, "%s %s:%d", lk_str(g, f->func), file, f->line);
  else
    snprintf(buf, n, "%s", lk_str(g, f->func));
  return buf;
}

typedef struct {
  char *d;
  size_t n, cap;
  bool oom;
} kbuf;

static void kput(kbuf *k, const char *s) {
  size_t l = strlen(s);
  if (k->oom)
    return;
  if (k->n + l + 1 > k->cap) {
    size_t nc = k->cap ? k->cap * 2 : 256;
    while (nc < k->n + l + 1)
      nc *= 2;
    char *nd = realloc(k->d, nc);
    if (!nd) {
      k->oom = true;
      return;
    }
    k->d = nd;
    k->cap = nc;
  }
  memcpy(k->d + k->n, s, l + 1);
  k->n += l;
}

static void kframe(kbuf *k, const lk_groups *g, uint32_t id) {
  const lk_iframe *f = lk_frame_at(g, id);
  char line[16];
  if (!f) {
    kput(k, "?");
    return;
  }
  kput(k, lk_str(g, f->func));
  kput(k, lk_str(g, f->args));
  kput(k, " ");
  kput(k, lk_str(g, f->file));
  snprintf(line, sizeof line, ":%d", f->line);
  kput(k, line);
}

char *lk_site_key(const lk_groups *g, const lk_group *gr) {
  kbuf k = {0};
  kput(&k, gr->site_created ? "created " : "entry ");
  kframe(&k, g, gr->site);
  if (k.oom) {
    free(k.d);
    return NULL;
  }
  return k.d;
}

char *lk_group_key(const lk_groups *g, const lk_group *gr) {
  kbuf k = {0};
  kput(&k, gr->leaked ? "leaked|" : "|");
  kput(&k, lk_str(g, gr->state));
  kput(&k, "|");
  for (int i = 0; i < gr->nframes; i++) {
    kframe(&k, g, gr->frames[i]);
    kput(&k, "|");
  }
  kput(&k, gr->site_created ? "created " : "entry ");
  kframe(&k, g, gr->site);
  if (k.oom) {
    free(k.d);
    return NULL;
  }
  return k.d;
}
