/*
 * tether's JSON dump (src/observe/export_json.c):
 *
 *   {"taken_at_ns":..., "total":N, "tasks":[ {task}, {task}, ... ]}
 *
 * read as a stream: the top-level object is walked key by key, and each
 * task is parsed into a small tree in an arena that is emptied after the
 * task is emitted, so memory stays at one task however long the dump is.
 * A task bigger than MAX_VALUE bytes is refused (real ones are a few KiB).
 *
 * The task fields used: id, parent, state, wait_reason, wait_ns, spawn
 * {func,file,line}, waiting_on.addr, leaked, frames [{func,file,line}].
 */
#include "record.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_VALUE ((size_t)64 << 20)

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv {
  int type;
  bool b;
  int64_t num; /* integral part */
  char *s;     /* string (NUL-terminated; may hold NULs from \u0000) */
  size_t slen;
  const char *key; /* when a member of an object */
  struct jv *child, *next;
} jv;

typedef struct chunk {
  struct chunk *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
} chunk;

typedef struct jp {
  lk_lines *lr;
  chunk *arena;
  size_t value_bytes; /* consumed by the current value */
  lk_err *e;
  bool failed;
} jp;

static void *arena_alloc(jp *p, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (!p->arena || p->arena->cap - p->arena->used < n) {
    size_t cap = n > 65536 ? n : 65536;
    chunk *c = malloc(sizeof *c + cap);
    if (!c)
      return NULL;
    c->next = p->arena;
    c->used = 0;
    c->cap = cap;
    p->arena = c;
  }
  void *r = p->arena->data + p->arena->used;
  p->arena->used += n;
  return r;
}

static void arena_reset(jp *p, bool release) {
  while (p->arena && (release || p->arena->next)) {
    chunk *n = p->arena->next;
    free(p->arena);
    p->arena = n;
  }
  if (p->arena)
    p->arena->used = 0;
}

static int fail(jp *p, const char *what) {
  if (!p->failed)
    lk_fail(p->e, "json: %s (near byte %llu)", what, (unsigned long long)p->lr->consumed);
  p->failed = true;
  return -1;
}

/* Next byte, or -1 at the end (or on a read error, with failed set). */
static int peekc(jp *p) {
  if (p->lr->start == p->lr->end) {
    ssize_t n = lk_lines_fill(p->lr, 1, p->e);
    if (n < 0) {
      p->failed = true;
      return -1;
    }
    if (n == 0)
      return -1;
  }
  return (unsigned char)p->lr->buf[p->lr->start];
}

static int getc_(jp *p) {
  int c = peekc(p);
  if (c >= 0) {
    p->lr->start++;
    p->lr->consumed++;
    p->value_bytes++;
  }
  return c;
}

static int skip_ws(jp *p) {
  int c;
  while ((c = peekc(p)) == ' ' || c == '\n' || c == '\r' || c == '\t')
    getc_(p);
  return c;
}

static bool expect_word(jp *p, const char *w) {
  for (; *w; w++)
    if (getc_(p) != *w)
      return false;
  return true;
}

/* Strings grow in a malloc'd buffer, then move to the arena. */
typedef struct {
  char *d;
  size_t n, cap;
} sbuf;

static bool sb_put(sbuf *s, const char *p, size_t n) {
  if (s->n + n + 1 > s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 256;
    while (nc < s->n + n + 1)
      nc *= 2;
    char *nd = realloc(s->d, nc);
    if (!nd)
      return false;
    s->d = nd;
    s->cap = nc;
  }
  memcpy(s->d + s->n, p, n);
  s->n += n;
  s->d[s->n] = '\0';
  return true;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static long read_hex4(jp *p) {
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(getc_(p));
    if (h < 0)
      return -1;
    v = v * 16 + h;
  }
  return v;
}

static int put_utf8(sbuf *s, unsigned long cp) {
  char u[4];
  size_t n;
  if (cp < 0x80) {
    u[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    u[0] = (char)(0xC0 | (cp >> 6));
    u[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    u[0] = (char)(0xE0 | (cp >> 12));
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    u[0] = (char)(0xF0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  return sb_put(s, u, n) ? 0 : -1;
}

/* After the opening quote. */
static int parse_string(jp *p, sbuf *s) {
  s->n = 0;
  if (!sb_put(s, "", 0))
    return fail(p, "out of memory");
  for (;;) {
    if (p->value_bytes > MAX_VALUE)
      return fail(p, "a value is larger than 64 MiB");
    /* Plain bytes in one copy. */
    const char *b = p->lr->buf + p->lr->start;
    size_t avail = p->lr->end - p->lr->start, k = 0;
    while (k < avail && b[k] != '"' && b[k] != '\\' && (unsigned char)b[k] >= 0x20)
      k++;
    if (k) {
      if (!sb_put(s, b, k))
        return fail(p, "out of memory");
      p->lr->start += k;
      p->lr->consumed += k;
      p->value_bytes += k;
      continue;
    }
    int c = getc_(p);
    if (c < 0)
      return fail(p, "the input ends inside a string: truncated dump?");
    if (c == '"')
      return 0;
    if (c < 0x20)
      return fail(p, "a control character inside a string");
    /* c == '\\' */
    c = getc_(p);
    char out;
    switch (c) {
    case '"': out = '"'; break;
    case '\\': out = '\\'; break;
    case '/': out = '/'; break;
    case 'b': out = '\b'; break;
    case 'f': out = '\f'; break;
    case 'n': out = '\n'; break;
    case 'r': out = '\r'; break;
    case 't': out = '\t'; break;
    case 'u': {
      long cp = read_hex4(p);
      if (cp < 0)
        return fail(p, "bad \\u escape");
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        int c1 = getc_(p);
        int c2 = getc_(p);
        if (c1 != '\\' || c2 != 'u')
          return fail(p, "a lone surrogate in \\u escapes");
        long lo = read_hex4(p);
        if (lo < 0xDC00 || lo > 0xDFFF)
          return fail(p, "a lone surrogate in \\u escapes");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return fail(p, "a lone surrogate in \\u escapes");
      }
      if (put_utf8(s, (unsigned long)cp) < 0)
        return fail(p, "out of memory");
      continue;
    }
    default: return fail(p, "bad escape in a string");
    }
    if (!sb_put(s, &out, 1))
      return fail(p, "out of memory");
  }
}

static char *arena_str(jp *p, const sbuf *s) {
  char *d = arena_alloc(p, s->n + 1);
  if (d)
    memcpy(d, s->d, s->n + 1);
  return d;
}

static int parse_number(jp *p, jv *v) {
  int c = peekc(p);
  bool neg = false, digits = false;
  int64_t x = 0;
  if (c == '-') {
    neg = true;
    getc_(p);
  }
  while ((c = peekc(p)) >= '0' && c <= '9') {
    getc_(p);
    digits = true;
    if (x < INT64_MAX / 10 - 9)
      x = x * 10 + (c - '0');
  }
  if (!digits)
    return fail(p, "bad number");
  if (c == '.') {
    getc_(p);
    digits = false;
    while ((c = peekc(p)) >= '0' && c <= '9') {
      getc_(p);
      digits = true;
    }
    if (!digits)
      return fail(p, "bad number");
  }
  if (c == 'e' || c == 'E') {
    getc_(p);
    c = peekc(p);
    if (c == '+' || c == '-')
      getc_(p);
    digits = false;
    while ((c = peekc(p)) >= '0' && c <= '9') {
      getc_(p);
      digits = true;
    }
    if (!digits)
      return fail(p, "bad number");
  }
  v->type = J_NUM;
  v->num = neg ? -x : x;
  return 0;
}

static int parse_value(jp *p, jv *v, sbuf *s, int depth) {
  if (depth > MAX_DEPTH)
    return fail(p, "nested deeper than 64 levels");
  if (p->value_bytes > MAX_VALUE)
    return fail(p, "a value is larger than 64 MiB");
  memset(v, 0, sizeof *v);
  int c = skip_ws(p);
  if (c < 0)
    return p->failed ? -1 : fail(p, "the input ends inside the document: truncated dump?");
  switch (c) {
  case 'n': v->type = J_NULL; return expect_word(p, "null") ? 0 : fail(p, "bad literal");
  case 't':
    v->type = J_BOOL;
    v->b = true;
    return expect_word(p, "true") ? 0 : fail(p, "bad literal");
  case 'f': v->type = J_BOOL; return expect_word(p, "false") ? 0 : fail(p, "bad literal");
  case '"':
    getc_(p);
    if (parse_string(p, s) < 0)
      return -1;
    v->type = J_STR;
    v->slen = s->n;
    v->s = arena_str(p, s);
    return v->s ? 0 : fail(p, "out of memory");
  case '[':
  case '{': {
    bool obj = c == '{';
    getc_(p);
    v->type = obj ? J_OBJ : J_ARR;
    jv **tail = &v->child;
    if (skip_ws(p) == (obj ? '}' : ']')) {
      getc_(p);
      return 0;
    }
    for (;;) {
      char *key = NULL;
      if (obj) {
        if (skip_ws(p) != '"')
          return p->failed ? -1 : fail(p, "expected a key string");
        getc_(p);
        if (parse_string(p, s) < 0)
          return -1;
        key = arena_str(p, s);
        if (!key)
          return fail(p, "out of memory");
        if (skip_ws(p) != ':')
          return p->failed ? -1 : fail(p, "expected ':'");
        getc_(p);
      }
      jv *item = arena_alloc(p, sizeof *item);
      if (!item)
        return fail(p, "out of memory");
      if (parse_value(p, item, s, depth + 1) < 0)
        return -1;
      item->key = key;
      *tail = item;
      tail = &item->next;
      c = skip_ws(p);
      getc_(p);
      if (c == ',')
        continue;
      if (c == (obj ? '}' : ']'))
        return 0;
      return p->failed ? -1
                       : fail(p, c < 0 ? "the input ends inside the document: truncated dump?"
                                       : "expected ',' or a closing bracket");
    }
  }
  default:
    if (c == '-' || (c >= '0' && c <= '9'))
      return parse_number(p, v);
    return fail(p, "unexpected character (not JSON, or mixed input?)");
  }
}

static const jv *member(const jv *o, const char *key) {
  if (!o || o->type != J_OBJ)
    return NULL;
  for (const jv *m = o->child; m; m = m->next)
    if (strcmp(m->key, key) == 0)
      return m;
  return NULL;
}

static const char *str_of(const jv *v) { return v && v->type == J_STR ? v->s : NULL; }

static int emit_task(jp *p, const jv *t, lk_recbuf *b, lk_sink *sink) {
  if (t->type != J_OBJ)
    return fail(p, "a task is not an object");
  const jv *id = member(t, "id");
  if (!id || id->type != J_NUM)
    return fail(p, "a task without a numeric \"id\"");
  lk_recbuf_reset(b);
  lk_rec r = {.id = id->num, .count = 1, .wait_s = -1, .parent = -1};
  const jv *v = member(t, "parent");
  if (v && v->type == J_NUM)
    r.parent = v->num;
  const char *reason = str_of(member(t, "wait_reason"));
  const char *state = reason ? reason : str_of(member(t, "state"));
  if (state)
    b->state = lk_recbuf_str(b, state, strlen(state));
  v = member(t, "wait_ns");
  if (v && v->type == J_NUM && v->num >= 0)
    r.wait_s = v->num / 1000000000;
  v = member(t, "leaked");
  r.leaked = v && v->type == J_STR;
  const char *addr = str_of(member(member(t, "waiting_on"), "addr"));
  if (addr)
    r.wait_addr = strtoull(addr, NULL, 16);
  const jv *sp = member(t, "spawn");
  const char *sf = str_of(member(sp, "func"));
  if (sf) {
    b->has_created = true;
    b->created = (lk_rframe){0};
    b->created.func = lk_recbuf_str(b, sf, strlen(sf));
    const char *file = str_of(member(sp, "file"));
    if (file)
      b->created.file = lk_recbuf_str(b, file, strlen(file));
    v = member(sp, "line");
    if (v && v->type == J_NUM && v->num > 0 && v->num <= INT32_MAX)
      b->created.line = (int)v->num;
  }
  const jv *frames = member(t, "frames");
  if (frames && frames->type != J_ARR)
    return fail(p, "a task's \"frames\" is not an array");
  for (const jv *f = frames ? frames->child : NULL; f; f = f->next) {
    lk_rframe *rf = lk_recbuf_frame(b);
    if (!rf)
      return fail(p, "out of memory");
    const char *fn = str_of(member(f, "func"));
    const char *file = str_of(member(f, "file"));
    if (!fn) { /* unsymbolized: the pc stands for it */
      fn = str_of(member(f, "pc"));
      fn = fn ? fn : "?";
    }
    rf->func = lk_recbuf_str(b, fn, strlen(fn));
    if (file)
      rf->file = lk_recbuf_str(b, file, strlen(file));
    v = member(f, "line");
    if (v && v->type == J_NUM && v->num > 0 && v->num <= INT32_MAX)
      rf->line = (int)v->num;
  }
  if (b->nfr == 0) { /* no stack walked: the entry function stands for it */
    const char *entry = str_of(member(t, "entry"));
    if (entry) {
      lk_rframe *rf = lk_recbuf_frame(b);
      if (!rf)
        return fail(p, "out of memory");
      rf->func = lk_recbuf_str(b, entry, strlen(entry));
    }
  }
  if (lk_recbuf_finish(b, &r) < 0)
    return fail(p, "out of memory");
  if (sink->emit(sink->ctx, &r, p->e) < 0) {
    p->failed = true;
    return -1;
  }
  return 0;
}

static int parse_document(jp *p, lk_recbuf *b, sbuf *s, lk_sink *sink) {
  if (skip_ws(p) != '{')
    return fail(p, "expected '{' at the start of a tether JSON dump");
  getc_(p);
  int64_t total = -1, seen = 0;
  bool have_tasks = false;
  for (bool first = true;; first = false) {
    int c = skip_ws(p);
    if (c == '}' && first) {
      getc_(p);
      break;
    }
    if (c != '"')
      return p->failed ? -1
                       : fail(p, c < 0 ? "the input ends inside the document: truncated dump?"
                                       : "expected a key string");
    getc_(p);
    if (parse_string(p, s) < 0)
      return -1;
    bool tasks = strcmp(s->d, "tasks") == 0, is_total = strcmp(s->d, "total") == 0;
    if (skip_ws(p) != ':')
      return p->failed ? -1 : fail(p, "expected ':'");
    getc_(p);
    if (tasks) {
      have_tasks = true;
      if (skip_ws(p) != '[')
        return p->failed ? -1 : fail(p, "\"tasks\" is not an array");
      getc_(p);
      if (skip_ws(p) == ']') {
        getc_(p);
      } else {
        for (;;) {
          jv t;
          p->value_bytes = 0;
          if (parse_value(p, &t, s, 1) < 0 || emit_task(p, &t, b, sink) < 0)
            return -1;
          seen++;
          arena_reset(p, false);
          c = skip_ws(p);
          getc_(p);
          if (c == ',')
            continue;
          if (c == ']')
            break;
          return p->failed ? -1
                           : fail(p, c < 0 ? "the input ends inside the task list: truncated dump?"
                                           : "expected ',' or ']' in the task list");
        }
      }
    } else {
      jv v;
      p->value_bytes = 0;
      if (parse_value(p, &v, s, 1) < 0)
        return -1;
      if (is_total && v.type == J_NUM)
        total = v.num;
      arena_reset(p, false);
    }
    c = skip_ws(p);
    getc_(p);
    if (c == ',')
      continue;
    if (c == '}')
      break;
    return p->failed ? -1
                     : fail(p, c < 0 ? "the input ends inside the document: truncated dump?"
                                     : "expected ',' or '}'");
  }
  if (skip_ws(p) >= 0)
    return fail(p, "data after the end of the JSON document (mixed input?)");
  if (p->failed)
    return -1;
  if (!have_tasks)
    return fail(p, "no \"tasks\" array: not a tether dump");
  if (total >= 0 && total != seen)
    return lk_fail(p->e, "json: \"total\" says %lld tasks but the list holds %lld",
                   (long long)total, (long long)seen);
  return 0;
}

int lk_parse_json(lk_lines *lr, lk_sink *sink, lk_err *e) {
  jp p = {.lr = lr, .e = e};
  lk_recbuf b = {0};
  sbuf s = {0};
  int rc = parse_document(&p, &b, &s, sink);
  arena_reset(&p, true);
  lk_recbuf_free(&b);
  free(s.d);
  return rc;
}
