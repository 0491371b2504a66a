/*
 * pprof goroutine profiles (profile.proto, gzip already undone by the
 * caller): one sample per distinct stack, its first value the number of
 * goroutines. The message is read whole, because samples name locations and
 * functions by id and the string table comes last; a goroutine profile is
 * small next to the text dump of the same program (stacks are merged), and
 * one larger than LK_MAX_PPROF is refused.
 *
 * Fields read (all others skipped): Profile.sample_type(1), sample(2),
 * location(4), function(5), string_table(6); Sample.location_id(1),
 * value(2), label(3: key 1, str 2); Location.id(1), address(3), line(4:
 * function_id 1, line 2); Function.id(1), name(2), filename(4). A sample
 * type named "goroutineleak" (Go's leak profile) marks every goroutine as
 * proven leaked; a "state" label (tether's) gives the wait reason.
 */
#include "record.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const uint8_t *p, *end;
} pb;

static bool pb_varint(pb *b, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (b->p >= b->end)
      return false;
    uint8_t c = *b->p++;
    r |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *v = r;
      return true;
    }
  }
  return false;
}

/* Next field: its number, wire type, and for wire type 2 its bytes, for 0
 * its value. Skips fixed-width fields' contents. */
static bool pb_field(pb *b, int *field, int *wire, uint64_t *val, pb *sub) {
  uint64_t key;
  if (!pb_varint(b, &key) || key >> 3 == 0 || key >> 3 > INT32_MAX)
    return false;
  *field = (int)(key >> 3);
  *wire = (int)(key & 7);
  switch (*wire) {
  case 0: return pb_varint(b, val);
  case 1:
    if (b->end - b->p < 8)
      return false;
    b->p += 8;
    return true;
  case 5:
    if (b->end - b->p < 4)
      return false;
    b->p += 4;
    return true;
  case 2: {
    uint64_t len;
    if (!pb_varint(b, &len) || len > (uint64_t)(b->end - b->p))
      return false;
    sub->p = b->p;
    sub->end = b->p + len;
    b->p += len;
    return true;
  }
  default: return false;
  }
}

/* Repeated varints, packed (wire 2) or one per field (wire 0). */
typedef struct {
  uint64_t *v;
  size_t n, cap;
} u64vec;

static bool vec_push(u64vec *v, uint64_t x) {
  if (v->n == v->cap) {
    size_t nc = v->cap ? v->cap * 2 : 16;
    uint64_t *nv = realloc(v->v, nc * sizeof *nv);
    if (!nv)
      return false;
    v->v = nv;
    v->cap = nc;
  }
  v->v[v->n++] = x;
  return true;
}

static bool repeated(u64vec *v, int wire, uint64_t val, pb *sub) {
  if (wire == 0)
    return vec_push(v, val);
  if (wire != 2)
    return false;
  while (sub->p < sub->end) {
    uint64_t x;
    if (!pb_varint(sub, &x) || !vec_push(v, x))
      return false;
  }
  return true;
}

typedef struct {
  uint64_t id, name, file;
} func_t;
typedef struct {
  uint64_t id, addr;
  size_t line0, nlines; /* into lines[] */
} loc_t;
typedef struct {
  uint64_t func_id;
  int64_t line;
} line_t;

typedef struct {
  pb *strs;
  size_t nstrs, cstrs;
  func_t *funcs;
  size_t nfuncs, cfuncs;
  loc_t *locs;
  size_t nlocs, clocs;
  line_t *lines;
  size_t nlines, clines;
  pb *samples;
  size_t nsamples, csamples;
  uint64_t sample_type0; /* string index of the first sample type's name */
  bool have_type;
} prof;

#define GROW(arr, n, cap) ((n) < (cap) || grow((void **)&(arr), &(cap), sizeof *(arr)))

static bool grow(void **arr, size_t *cap, size_t elem) {
  size_t nc = *cap ? *cap * 2 : 64;
  void *na = realloc(*arr, nc * elem);
  if (!na)
    return false;
  *arr = na;
  *cap = nc;
  return true;
}

static int cmp_func(const void *a, const void *b) {
  uint64_t x = ((const func_t *)a)->id, y = ((const func_t *)b)->id;
  return x < y ? -1 : x > y;
}
static int cmp_loc(const void *a, const void *b) {
  uint64_t x = ((const loc_t *)a)->id, y = ((const loc_t *)b)->id;
  return x < y ? -1 : x > y;
}

static const func_t *find_func(const prof *pf, uint64_t id) {
  func_t key = {.id = id};
  return pf->nfuncs ? bsearch(&key, pf->funcs, pf->nfuncs, sizeof key, cmp_func) : NULL;
}
static const loc_t *find_loc(const prof *pf, uint64_t id) {
  loc_t key = {.id = id};
  return pf->nlocs ? bsearch(&key, pf->locs, pf->nlocs, sizeof key, cmp_loc) : NULL;
}

static bool get_str(const prof *pf, uint64_t idx, const char **p, size_t *n) {
  if (idx >= pf->nstrs)
    return false;
  *p = (const char *)pf->strs[idx].p;
  *n = (size_t)(pf->strs[idx].end - pf->strs[idx].p);
  return true;
}

static bool str_is(const prof *pf, uint64_t idx, const char *s) {
  const char *p;
  size_t n;
  return get_str(pf, idx, &p, &n) && n == strlen(s) && memcmp(p, s, n) == 0;
}

static int read_top(prof *pf, pb top, lk_err *e) {
  int field, wire;
  uint64_t val;
  pb sub;
  while (top.p < top.end) {
    if (!pb_field(&top, &field, &wire, &val, &sub))
      return lk_fail(e, "pprof: malformed protobuf (truncated or not a profile)");
    if (wire != 2)
      continue;
    switch (field) {
    case 1: /* sample_type: ValueType{type=1, unit=2} */
      if (!pf->have_type) {
        pb vt = sub;
        while (vt.p < vt.end) {
          pb s2;
          if (!pb_field(&vt, &field, &wire, &val, &s2))
            return lk_fail(e, "pprof: malformed sample_type");
          if (field == 1 && wire == 0)
            pf->sample_type0 = val;
        }
        pf->have_type = true;
      }
      break;
    case 2:
      if (!GROW(pf->samples, pf->nsamples, pf->csamples))
        return lk_fail(e, "out of memory");
      pf->samples[pf->nsamples++] = sub;
      break;
    case 4: {
      if (!GROW(pf->locs, pf->nlocs, pf->clocs))
        return lk_fail(e, "out of memory");
      loc_t *l = &pf->locs[pf->nlocs++];
      *l = (loc_t){.line0 = pf->nlines};
      while (sub.p < sub.end) {
        pb s2;
        if (!pb_field(&sub, &field, &wire, &val, &s2))
          return lk_fail(e, "pprof: malformed location");
        if (field == 1 && wire == 0)
          l->id = val;
        else if (field == 3 && wire == 0)
          l->addr = val;
        else if (field == 4 && wire == 2) {
          if (!GROW(pf->lines, pf->nlines, pf->clines))
            return lk_fail(e, "out of memory");
          line_t *ln = &pf->lines[pf->nlines++];
          *ln = (line_t){0};
          l->nlines++;
          while (s2.p < s2.end) {
            pb s3;
            if (!pb_field(&s2, &field, &wire, &val, &s3))
              return lk_fail(e, "pprof: malformed line");
            if (field == 1 && wire == 0)
              ln->func_id = val;
            else if (field == 2 && wire == 0)
              ln->line = (int64_t)val;
          }
        }
      }
      break;
    }
    case 5: {
      if (!GROW(pf->funcs, pf->nfuncs, pf->cfuncs))
        return lk_fail(e, "out of memory");
      func_t *f = &pf->funcs[pf->nfuncs++];
      *f = (func_t){0};
      while (sub.p < sub.end) {
        pb s2;
        if (!pb_field(&sub, &field, &wire, &val, &s2))
          return lk_fail(e, "pprof: malformed function");
        if (field == 1 && wire == 0)
          f->id = val;
        else if (field == 2 && wire == 0)
          f->name = val;
        else if (field == 4 && wire == 0)
          f->file = val;
      }
      break;
    }
    case 6:
      if (!GROW(pf->strs, pf->nstrs, pf->cstrs))
        return lk_fail(e, "out of memory");
      pf->strs[pf->nstrs++] = sub;
      break;
    default: break;
    }
  }
  return 0;
}

static int emit_sample(const prof *pf, pb s, bool leaked, lk_recbuf *b, u64vec *locs, lk_sink *sink,
                       lk_err *e) {
  int field, wire;
  uint64_t val;
  pb sub;
  u64vec values = {0};
  locs->n = 0;
  lk_recbuf_reset(b);
  lk_rec r = {.id = -1, .count = 1, .wait_s = -1, .parent = -1, .leaked = leaked};
  int rc = 0;
  while (s.p < s.end && rc == 0) {
    if (!pb_field(&s, &field, &wire, &val, &sub)) {
      rc = lk_fail(e, "pprof: malformed sample");
      break;
    }
    if (field == 1) {
      if (!repeated(locs, wire, val, &sub))
        rc = lk_fail(e, "pprof: malformed sample locations");
    } else if (field == 2) {
      if (!repeated(&values, wire, val, &sub))
        rc = lk_fail(e, "pprof: malformed sample values");
    } else if (field == 3 && wire == 2) {
      uint64_t key = 0, str = 0;
      while (sub.p < sub.end) {
        pb s2;
        if (!pb_field(&sub, &field, &wire, &val, &s2)) {
          rc = lk_fail(e, "pprof: malformed label");
          break;
        }
        if (field == 1 && wire == 0)
          key = val;
        else if (field == 2 && wire == 0)
          str = val;
      }
      const char *p;
      size_t n;
      if (rc == 0 && str_is(pf, key, "state") && get_str(pf, str, &p, &n))
        b->state = lk_recbuf_str(b, p, n);
    }
  }
  if (rc == 0 && (values.n == 0 || !values.v))
    rc = lk_fail(e, "pprof: a sample has no value");
  else if (rc == 0 && (int64_t)values.v[0] <= 0)
    rc = lk_fail(e, "pprof: a sample counts %" PRId64 " goroutines", (int64_t)values.v[0]);
  else if (rc == 0)
    r.count = (int64_t)values.v[0];
  for (size_t i = 0; i < locs->n && rc == 0; i++) {
    const loc_t *l = find_loc(pf, locs->v[i]);
    if (!l) {
      rc = lk_fail(e, "pprof: a sample names location %" PRIu64 ", which is not in the profile",
                   locs->v[i]);
      break;
    }
    if (l->nlines == 0) { /* not symbolized: the address stands for the function */
      char hex[32];
      int hn = snprintf(hex, sizeof hex, "0x%" PRIx64, l->addr);
      lk_rframe *f = lk_recbuf_frame(b);
      if (!f) {
        rc = lk_fail(e, "out of memory");
        break;
      }
      f->func = lk_recbuf_str(b, hex, (size_t)hn);
      continue;
    }
    for (size_t k = 0; k < l->nlines && rc == 0; k++) {
      const line_t *ln = &pf->lines[l->line0 + k];
      const func_t *fn = find_func(pf, ln->func_id);
      const char *name, *file;
      size_t nn, fl;
      if (!fn || !get_str(pf, fn->name, &name, &nn) || !get_str(pf, fn->file, &file, &fl)) {
        rc = lk_fail(e, "pprof: a location names a missing function or string");
        break;
      }
      lk_rframe *f = lk_recbuf_frame(b);
      if (!f) {
        rc = lk_fail(e, "out of memory");
        break;
      }
      f->func = lk_recbuf_str(b, name, nn);
      f->file = lk_recbuf_str(b, file, fl);
      f->line = ln->line > 0 && ln->line <= INT32_MAX ? (int)ln->line : 0;
    }
  }
  free(values.v);
  if (rc == 0 && lk_recbuf_finish(b, &r) < 0)
    rc = lk_fail(e, "out of memory");
  if (rc == 0)
    rc = sink->emit(sink->ctx, &r, e);
  return rc;
}

int lk_parse_pprof(lk_lines *lr, bool leaked_profile, lk_sink *sink, lk_err *e) {
  /* Read the rest of the stream: grow the window until the input ends. */
  for (;;) {
    size_t have = lr->end - lr->start;
    if (have > LK_MAX_PPROF)
      return lk_fail(e, "pprof: the profile is larger than %zu MiB", LK_MAX_PPROF >> 20);
    ssize_t n = lk_lines_fill(lr, have + 1, e);
    if (n < 0)
      return -1;
    if ((size_t)n == have)
      break;
  }
  pb top = {(const uint8_t *)lr->buf + lr->start, (const uint8_t *)lr->buf + lr->end};
  prof pf = {0};
  lk_recbuf b = {0};
  u64vec locs = {0};
  int rc = read_top(&pf, top, e);
  if (rc == 0 && (pf.nstrs == 0 || pf.strs[0].end != pf.strs[0].p))
    rc = lk_fail(e, "pprof: no string table (or it does not start with \"\"): not a profile");
  if (rc == 0) {
    if (pf.nfuncs)
      qsort(pf.funcs, pf.nfuncs, sizeof *pf.funcs, cmp_func);
    if (pf.nlocs)
      qsort(pf.locs, pf.nlocs, sizeof *pf.locs, cmp_loc);
    bool leaked = leaked_profile || (pf.have_type && str_is(&pf, pf.sample_type0, "goroutineleak"));
    for (size_t i = 0; i < pf.nsamples && rc == 0; i++)
      rc = emit_sample(&pf, pf.samples[i], leaked, &b, &locs, sink, e);
  }
  lr->consumed += lr->end - lr->start;
  lr->start = lr->end;
  free(pf.strs);
  free(pf.funcs);
  free(pf.locs);
  free(pf.lines);
  free(pf.samples);
  free(locs.v);
  lk_recbuf_free(&b);
  return rc;
}
