/*
 * test_export: the JSON and pprof dumps (tt_dump_as with TT_DUMP_JSON and
 * TT_DUMP_PPROF) of tasks put in known states at known source lines.
 *
 *  - the encoders' edge cases: varints, nested and packed fields, CRC-32, a
 *    multi-block stored gzip stream (decompressed by gzip(1));
 *  - JSON: parsed back with a strict parser (below) and checked field by
 *    field: ids, parents, wait reasons, what is waited on and where it was
 *    made, spawn sites, and the blocking call's line among the frames;
 *  - pprof: gunzipped and walked as protobuf here, then read by the real
 *    `go tool pprof` (-traces, -top, -tags), whose output must name our
 *    functions at the right lines and count ten identical tasks as one
 *    trace of 10. Go is /usr/lib/go-1.19/bin/go (or $TT_GO); without it the
 *    test fails unless TT_SKIP_GO=1, which makes it a skip (exit 77).
 */
#include "harness.h"

#include <limits.h>
#include <pthread.h>

#include "observe/protobuf.h" /* the runtime's own encoder, to check the decoder */

/* Run an expression and remember the line it is on: __LINE__ and any
 * __LINE__ inside the expression's macros expand to the same line. The
 * variables are atomic: ten tasks run the same AT at once. */
#define AT(line_var, expr) (atomic_store(&(line_var), __LINE__), (expr))

#define HOUR TT_MS(3600LL * 1000)
#define NPARKED 10

static tt_chan *g_chan;
static atomic_int g_chan_line, g_recv_line, g_sleep_line, g_mutex_line, g_parked_line, g_named_line;
static tt_mutex g_mutex;
static tt_wg *g_block; /* Add(1) while we look; the parked tasks wait on it */
static atomic_int g_spin_stop, g_spinning;
static atomic_int g_after; /* touched after each blocking call: no tail calls */

/* Names with every kind of byte the JSON writer must escape. The runtime
 * keeps 31 bytes, so CUT ends in half of a two-byte character. */
static const char WEIRD_NAME[] = "q\"b\\s\nt\tc\x01\x7f \xff\xc3\xa9";
static const char CUT_NAME[] = "abcdefghijklmnopqrstuvwxyz1234\xc3\xa9";

static void recv_task(void *arg) {
  (void)arg;
  int v = 0;
  int rc = AT(g_recv_line, tt_chan_recv(g_chan, &v));
  atomic_fetch_add(&g_after, rc == 0 ? v : 1);
}

static void sleep_task(void *arg) {
  (void)arg;
  AT(g_sleep_line, tt_sleep(HOUR));
  atomic_fetch_add(&g_after, 1);
}

static void mutex_task(void *arg) {
  (void)arg;
  if (AT(g_mutex_line, tt_mutex_lock(&g_mutex)) == 0)
    tt_mutex_unlock(&g_mutex);
  atomic_fetch_add(&g_after, 1);
}

static void parked_task(void *arg) {
  (void)arg;
  AT(g_parked_line, tt_wg_wait(g_block));
  atomic_fetch_add(&g_after, 1);
}

static void named_task(void *arg) {
  tt_set_name(arg);
  AT(g_named_line, tt_wg_wait(g_block));
  atomic_fetch_add(&g_after, 1);
}

/* Never parks, so its worker is busy and the snapshot sees it running.
 * It spins in its own code (no clock reads in libc, whose frames have no
 * frame pointers to walk through), so its sampled stack names it. */
static void spin_task(void *arg) {
  (void)arg;
  atomic_store(&g_spinning, 1);
  while (!atomic_load(&g_spin_stop))
    for (volatile int i = 0; i < 1000; i++) {
    }
}

/* Spawned from a plain thread, so that it starts on an idle worker: spawned
 * from main it would run first on main's worker and, never yielding, keep
 * main (in that worker's runnext) from running again. */
static void *spawn_spinner(void *arg) {
  *(int64_t *)arg = tt_go(spin_task, NULL);
  return NULL;
}

/* ---- a strict JSON parser ----------------------------------------------------------- */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv {
  int type;
  int boolean;
  int is_int;
  int64_t i;
  double d;
  char *s; /* J_STR: decoded, NUL-terminated (embedded NULs kept in slen) */
  size_t slen;
  struct jv *kids; /* J_ARR / J_OBJ */
  char **keys;     /* J_OBJ */
  size_t n;
} jv;

typedef struct jparser {
  const char *p, *end;
  const char *err;
  size_t err_at;
  const char *start;
} jparser;

static int jfail(jparser *ps, const char *why) {
  if (!ps->err) {
    ps->err = why;
    ps->err_at = (size_t)(ps->p - ps->start);
  }
  return -1;
}

static void jskip_ws(jparser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    ps->p++;
}

static int jhex4(jparser *ps, unsigned *out) {
  if (ps->end - ps->p < 4)
    return jfail(ps, "short \\u escape");
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = *ps->p++;
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return jfail(ps, "bad hex digit");
  }
  *out = v;
  return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | cp >> 18);
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Raw (unescaped) bytes of a JSON string must be valid UTF-8. */
static int jutf8_len(const unsigned char *s, size_t left) {
  unsigned c = s[0];
  if (c < 0x80)
    return 1;
  int n = c >= 0xC2 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xF0 && c < 0xF5 ? 4 : 0;
  if (n == 0 || (size_t)n > left)
    return 0;
  for (int i = 1; i < n; i++)
    if ((s[i] & 0xC0) != 0x80)
      return 0;
  if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xF0 && s[1] < 0x90) || (c == 0xED && s[1] >= 0xA0) ||
      (c == 0xF4 && s[1] >= 0x90))
    return 0;
  return n;
}

static int jstring(jparser *ps, char **out, size_t *outlen) {
  ps->p++; /* opening quote */
  size_t cap = 64, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (ps->p >= ps->end) {
      free(buf);
      return jfail(ps, "unterminated string");
    }
    if (len + 8 > cap)
      buf = realloc(buf, cap *= 2);
    unsigned char c = (unsigned char)*ps->p;
    if (c == '"') {
      ps->p++;
      break;
    }
    if (c < 0x20) {
      free(buf);
      return jfail(ps, "raw control character in string");
    }
    if (c != '\\') {
      int n = jutf8_len((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));
      if (n == 0) {
        free(buf);
        return jfail(ps, "invalid UTF-8 in string");
      }
      memcpy(buf + len, ps->p, (size_t)n);
      len += (size_t)n;
      ps->p += n;
      continue;
    }
    ps->p++;
    if (ps->p >= ps->end) {
      free(buf);
      return jfail(ps, "dangling backslash");
    }
    char e = *ps->p++;
    unsigned cp;
    switch (e) {
    case '"': buf[len++] = '"'; break;
    case '\\': buf[len++] = '\\'; break;
    case '/': buf[len++] = '/'; break;
    case 'b': buf[len++] = '\b'; break;
    case 'f': buf[len++] = '\f'; break;
    case 'n': buf[len++] = '\n'; break;
    case 'r': buf[len++] = '\r'; break;
    case 't': buf[len++] = '\t'; break;
    case 'u':
      if (jhex4(ps, &cp) < 0) {
        free(buf);
        return -1;
      }
      if (cp >= 0xD800 && cp < 0xDC00) {
        unsigned lo;
        if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') {
          free(buf);
          return jfail(ps, "lone high surrogate");
        }
        ps->p += 2;
        if (jhex4(ps, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF) {
          free(buf);
          return jfail(ps, "bad low surrogate");
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      } else if (cp >= 0xDC00 && cp < 0xE000) {
        free(buf);
        return jfail(ps, "lone low surrogate");
      }
      len += put_utf8(buf + len, cp);
      break;
    default: free(buf); return jfail(ps, "unknown escape");
    }
  }
  buf[len] = '\0';
  *out = buf;
  *outlen = len;
  return 0;
}

static int jnumber(jparser *ps, jv *v) {
  const char *s = ps->p;
  if (ps->p < ps->end && *ps->p == '-')
    ps->p++;
  if (ps->p >= ps->end)
    return jfail(ps, "bad number");
  if (*ps->p == '0') {
    ps->p++;
  } else if (*ps->p >= '1' && *ps->p <= '9') {
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
      ps->p++;
  } else {
    return jfail(ps, "bad number");
  }
  int is_int = 1;
  if (ps->p < ps->end && *ps->p == '.') {
    is_int = 0;
    ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
      return jfail(ps, "bad fraction");
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
      ps->p++;
  }
  if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
    is_int = 0;
    ps->p++;
    if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
      ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
      return jfail(ps, "bad exponent");
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
      ps->p++;
  }
  char tmp[64];
  size_t n = (size_t)(ps->p - s);
  if (n >= sizeof tmp)
    return jfail(ps, "number too long");
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  v->type = J_NUM;
  v->is_int = is_int;
  v->d = strtod(tmp, NULL);
  if (is_int) {
    errno = 0;
    v->i = strtoll(tmp, NULL, 10);
    if (errno)
      return jfail(ps, "integer out of range");
  }
  return 0;
}

static int jvalue(jparser *ps, jv *v, int depth);

static int jcontainer(jparser *ps, jv *v, int depth, int obj) {
  char close = obj ? '}' : ']';
  v->type = obj ? J_OBJ : J_ARR;
  ps->p++;
  jskip_ws(ps);
  if (ps->p < ps->end && *ps->p == close) {
    ps->p++;
    return 0;
  }
  size_t cap = 0;
  for (;;) {
    if (v->n == cap) {
      cap = cap ? cap * 2 : 8;
      v->kids = realloc(v->kids, cap * sizeof *v->kids);
      if (obj)
        v->keys = realloc(v->keys, cap * sizeof *v->keys);
    }
    jv *kid = &v->kids[v->n];
    memset(kid, 0, sizeof *kid);
    jskip_ws(ps);
    if (obj) {
      char *key;
      size_t klen;
      if (ps->p >= ps->end || *ps->p != '"' || jstring(ps, &key, &klen) < 0)
        return jfail(ps, "expected a key");
      for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], key) == 0) {
          free(key);
          return jfail(ps, "duplicate key");
        }
      v->keys[v->n] = key;
      jskip_ws(ps);
      if (ps->p >= ps->end || *ps->p != ':') {
        v->n++; /* so the key is freed */
        return jfail(ps, "expected ':'");
      }
      ps->p++;
    }
    v->n++;
    if (jvalue(ps, kid, depth + 1) < 0)
      return -1;
    jskip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == close) {
      ps->p++;
      return 0;
    }
    return jfail(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
  }
}

static int jvalue(jparser *ps, jv *v, int depth) {
  if (depth > 64)
    return jfail(ps, "nested too deeply");
  jskip_ws(ps);
  if (ps->p >= ps->end)
    return jfail(ps, "unexpected end");
  size_t left = (size_t)(ps->end - ps->p);
  switch (*ps->p) {
  case '{': return jcontainer(ps, v, depth, 1);
  case '[': return jcontainer(ps, v, depth, 0);
  case '"': v->type = J_STR; return jstring(ps, &v->s, &v->slen);
  case 't':
    if (left >= 4 && memcmp(ps->p, "true", 4) == 0) {
      ps->p += 4;
      v->type = J_BOOL;
      v->boolean = 1;
      return 0;
    }
    break;
  case 'f':
    if (left >= 5 && memcmp(ps->p, "false", 5) == 0) {
      ps->p += 5;
      v->type = J_BOOL;
      return 0;
    }
    break;
  case 'n':
    if (left >= 4 && memcmp(ps->p, "null", 4) == 0) {
      ps->p += 4;
      v->type = J_NULL;
      return 0;
    }
    break;
  default:
    if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
      return jnumber(ps, v);
  }
  return jfail(ps, "unexpected character");
}

static void jfree(jv *v) {
  for (size_t i = 0; i < v->n; i++) {
    jfree(&v->kids[i]);
    if (v->keys)
      free(v->keys[i]);
  }
  free(v->kids);
  free(v->keys);
  free(v->s);
  memset(v, 0, sizeof *v);
}

/* Parse a whole document: one value, then only whitespace. */
static int jparse(const char *text, size_t len, jv *out, const char **err, size_t *err_at) {
  jparser ps = {text, text + len, NULL, 0, text};
  memset(out, 0, sizeof *out);
  int rc = jvalue(&ps, out, 0);
  if (rc == 0) {
    jskip_ws(&ps);
    if (ps.p != ps.end)
      rc = jfail(&ps, "trailing characters");
  }
  *err = ps.err;
  *err_at = ps.err_at;
  return rc;
}

static const jv *jget(const jv *o, const char *key) {
  if (!o || o->type != J_OBJ)
    return NULL;
  for (size_t i = 0; i < o->n; i++)
    if (strcmp(o->keys[i], key) == 0)
      return &o->kids[i];
  return NULL;
}

static const char *jstr(const jv *v) { return v && v->type == J_STR ? v->s : NULL; }
static int jis(const jv *v, int type) { return v && v->type == type; }
static int64_t jint(const jv *v) { return v && v->type == J_NUM && v->is_int ? v->i : INT64_MIN; }

/* ---- files and commands --------------------------------------------------------------- */

static char g_tmpdir[256];

static char *read_all(FILE *f, size_t *len) {
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap + 1);
  size_t r;
  while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap)
      buf = realloc(buf, (cap *= 2) + 1);
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *s = read_all(f, len);
  fclose(f);
  return s;
}

/* Run a shell command; its stdout (stderr too) and exit status. */
static char *run_cmd(const char *cmd, int *status) {
  char full[4096];
  snprintf(full, sizeof full, "%s 2>&1", cmd);
  fflush(stdout);
  FILE *p = popen(full, "r");
  if (!p) {
    *status = -1;
    return strdup("");
  }
  size_t len;
  char *out = read_all(p, &len);
  int st = pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

/* Decompress a gzip file with gzip(1): a reader that is not ours. */
static char *gunzip(const char *path, size_t *len, int *status) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "gzip -dc < '%s'", path);
  fflush(stdout);
  FILE *p = popen(cmd, "r");
  if (!p) {
    *status = -1;
    return NULL;
  }
  char *out = read_all(p, len);
  int st = pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

/* ---- protobuf reading (enough to walk a profile) ------------------------------------- */

typedef struct pbr {
  const uint8_t *p, *end;
  int bad;
} pbr;

static uint64_t pbr_varint(pbr *r) {
  uint64_t v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (r->p >= r->end) {
      r->bad = 1;
      return 0;
    }
    uint8_t b = *r->p++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      return v;
  }
  r->bad = 1;
  return 0;
}

/* Next field: returns its number (0 at the end or on error); a varint's
 * value in *v, a length-delimited field's bytes in *sub. */
static int pbr_field(pbr *r, uint64_t *v, pbr *sub) {
  if (r->p >= r->end || r->bad)
    return 0;
  uint64_t key = pbr_varint(r);
  int field = (int)(key >> 3);
  switch (key & 7) {
  case 0: *v = pbr_varint(r); break;
  case 2: {
    uint64_t n = pbr_varint(r);
    if (n > (uint64_t)(r->end - r->p)) {
      r->bad = 1;
      return 0;
    }
    *sub = (pbr){r->p, r->p + n, 0};
    r->p += n;
    break;
  }
  default: r->bad = 1; return 0;
  }
  return r->bad || field == 0 ? 0 : field;
}

typedef struct profile_stats {
  int ok;
  int nsamples, nlocations, nfunctions, nmappings;
  int64_t total; /* sum of sample values */
  int64_t max_value;
  int64_t period, time_nanos;
  int nstrings;
  char **strings;
  int labeled; /* samples carrying a label (one or more) */
  struct {
    uint64_t lo, hi, offset, file, build_id;
    int has_functions;
  } maps[256];
} profile_stats;

static void profile_stats_free(profile_stats *ps) {
  for (int i = 0; i < ps->nstrings; i++)
    free(ps->strings[i]);
  free(ps->strings);
}

static int has_string(const profile_stats *ps, const char *s) {
  for (int i = 0; i < ps->nstrings; i++)
    if (strcmp(ps->strings[i], s) == 0)
      return 1;
  return 0;
}

static void walk_profile(const uint8_t *data, size_t len, profile_stats *ps) {
  memset(ps, 0, sizeof *ps);
  pbr r = {data, data + len, 0};
  uint64_t v;
  pbr sub;
  int f;
  while ((f = pbr_field(&r, &v, &sub)) != 0) {
    switch (f) {
    case 2: { /* Sample */
      ps->nsamples++;
      int ff, labels = 0;
      uint64_t sv;
      pbr ss;
      while ((ff = pbr_field(&sub, &sv, &ss)) != 0) {
        if (ff == 2) {
          ps->total += (int64_t)sv;
          if ((int64_t)sv > ps->max_value)
            ps->max_value = (int64_t)sv;
        } else if (ff == 3) {
          if (labels++ == 0)
            ps->labeled++;
        } else if (ff == 1 && ss.p) { /* packed location ids */
          while (ss.p < ss.end && !ss.bad)
            pbr_varint(&ss);
          if (ss.bad)
            r.bad = 1;
        }
        ss = (pbr){0};
      }
      if (sub.bad)
        r.bad = 1;
      break;
    }
    case 3: { /* Mapping */
      int ff;
      uint64_t mv;
      pbr ms;
      if (ps->nmappings >= 256)
        break;
      while ((ff = pbr_field(&sub, &mv, &ms)) != 0) {
        switch (ff) {
        case 2: ps->maps[ps->nmappings].lo = mv; break;
        case 3: ps->maps[ps->nmappings].hi = mv; break;
        case 4: ps->maps[ps->nmappings].offset = mv; break;
        case 5: ps->maps[ps->nmappings].file = mv; break;
        case 6: ps->maps[ps->nmappings].build_id = mv; break;
        case 7: ps->maps[ps->nmappings].has_functions = (int)mv; break;
        default: break;
        }
      }
      if (sub.bad)
        r.bad = 1;
      ps->nmappings++;
      break;
    }
    case 4: ps->nlocations++; break;
    case 5: ps->nfunctions++; break;
    case 6:
      ps->strings = realloc(ps->strings, (size_t)(ps->nstrings + 1) * sizeof *ps->strings);
      ps->strings[ps->nstrings] = strndup((const char *)sub.p, (size_t)(sub.end - sub.p));
      ps->nstrings++;
      break;
    case 9: ps->time_nanos = (int64_t)v; break;
    case 12: ps->period = (int64_t)v; break;
    default: break;
    }
    sub = (pbr){0};
  }
  ps->ok = !r.bad && r.p == r.end;
}

/* ---- encoder unit checks -------------------------------------------------------------- */

static int bytes_eq(const uint8_t *a, size_t na, const uint8_t *b, size_t nb) {
  return na == nb && memcmp(a, b, na) == 0;
}

static void check_varint(uint64_t v, const uint8_t *want, size_t nwant) {
  uint8_t buf[TT_PB_VARINT_MAX + 6];
  memset(buf, 0xAA, sizeof buf);
  size_t n = tt__pb_varint_encode(buf, v);
  CHECK_MSG(bytes_eq(buf, n, want, nwant), "varint %" PRIu64 ": %zu bytes, want %zu", v, n, nwant);
  CHECK_EQ(buf[n], 0xAA); /* nothing written past the end */
  pbr r = {buf, buf + n, 0};
  CHECK(pbr_varint(&r) == v && !r.bad && r.p == r.end);
}

static void test_encoders(void) {
  check_varint(0, (const uint8_t[]){0x00}, 1);
  check_varint(1, (const uint8_t[]){0x01}, 1);
  check_varint(127, (const uint8_t[]){0x7f}, 1);
  check_varint(128, (const uint8_t[]){0x80, 0x01}, 2);
  check_varint(300, (const uint8_t[]){0xac, 0x02}, 2);
  check_varint(16383, (const uint8_t[]){0xff, 0x7f}, 2);
  check_varint(16384, (const uint8_t[]){0x80, 0x80, 0x01}, 3);
  check_varint((uint64_t)1 << 63,
               (const uint8_t[]){0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 10);
  check_varint(UINT64_MAX,
               (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10);
  /* a negative int64 goes out as its two's complement: ten bytes */
  check_varint((uint64_t)(int64_t)-1,
               (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10);

  /* Fields, optional zeros, a nested message, packed values. */
  tt_pb pb = {0};
  tt__pb_uint64_opt(&pb, 1, 0); /* left out */
  tt__pb_int64_opt(&pb, 2, 0);  /* left out */
  tt__pb_bool_opt(&pb, 3, false);
  CHECK_EQ(pb.len, 0);
  size_t m = tt__pb_begin(&pb);
  tt__pb_int64_opt(&pb, 1, 1);
  tt__pb_int64_opt(&pb, 2, 2);
  tt__pb_end(&pb, 11, m); /* ValueType{1, 2} as field 11 */
  tt__pb_packed(&pb, 1, (const uint64_t[]){1, 300}, 2);
  tt__pb_bytes(&pb, 6, "", 0); /* empty strings are written */
  tt__pb_uint64(&pb, 2, 0);    /* as are explicit zeros */
  static const uint8_t want[] = {0x5a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x0a, 0x03,
                                 0x01, 0xac, 0x02, 0x32, 0x00, 0x10, 0x00};
  CHECK_MSG(bytes_eq(pb.data, pb.len, want, sizeof want), "encoded %zu bytes", pb.len);
  tt__pb_free(&pb);

  /* A body of 200 bytes needs a two-byte length, inside another message. */
  char body[200];
  memset(body, 'x', sizeof body);
  size_t outer = tt__pb_begin(&pb);
  size_t inner = tt__pb_begin(&pb);
  tt__pb_bytes(&pb, 2, body, sizeof body);
  tt__pb_end(&pb, 4, inner);
  tt__pb_end(&pb, 5, outer);
  /* inner: key 0x12, len 200 (0xc8 0x01), body = 203; field 4: 0x22 0xcb 0x01 + 203 = 206;
   * field 5: 0x2a 0xce 0x01 + 206 = 209 */
  static const uint8_t head[] = {0x2a, 0xce, 0x01, 0x22, 0xcb, 0x01, 0x12, 0xc8, 0x01};
  CHECK_EQ(pb.len, 209);
  CHECK(pb.len >= sizeof head && memcmp(pb.data, head, sizeof head) == 0);
  CHECK(pb.len == 209 && memcmp(pb.data + sizeof head, body, sizeof body) == 0);
  tt__pb_free(&pb);

  /* CRC-32 check values */
  CHECK_EQ(tt__crc32(0, "123456789", 9), 0xCBF43926u);
  CHECK_EQ(tt__crc32(0, "", 0), 0);
  CHECK_EQ(tt__crc32(tt__crc32(0, "1234", 4), "56789", 5), 0xCBF43926u); /* continues */

  /* Stored gzip: empty, small, and three blocks (> 2 * 65535 bytes). */
  size_t sizes[] = {0, 5, 65535, 65536, 150000};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    size_t n = sizes[k];
    uint8_t *data = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
      data[i] = (uint8_t)(i * 7 + i / 251);
    char path[320];
    snprintf(path, sizeof path, "%s/stored.gz", g_tmpdir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) {
      free(data);
      continue;
    }
    CHECK_EQ(tt__gzip_stored(f, data, n), 0);
    fclose(f);
    size_t len = 0;
    int st;
    char *plain = gunzip(path, &len, &st);
    CHECK_MSG(st == 0 && plain && len == n && memcmp(plain, data, n) == 0,
              "gzip -dc of a %zu-byte stored stream: status %d, %zu bytes", n, st, len);
    free(plain);
    free(data);
  }
}

/* ---- the scenario ---------------------------------------------------------------------- */

typedef struct scenario {
  int64_t self_id, recv_id, sleep_id, mutex_id, spin_id, named_id, cut_id;
  int64_t parked_ids[NPARKED];
  atomic_int recv_spawn_line, sleep_spawn_line;
  int64_t ntasks;
  int have_names; /* the symbolizer names static functions on this build */
  int have_lines; /* and gives their file:line */
  char json_path[300], pprof_path[300];
} scenario;

static scenario g_sc;

static const jv *find_task(const jv *doc, int64_t id) {
  const jv *tasks = jget(doc, "tasks");
  if (!jis(tasks, J_ARR))
    return NULL;
  for (size_t i = 0; i < tasks->n; i++)
    if (jint(jget(&tasks->kids[i], "id")) == id)
      return &tasks->kids[i];
  return NULL;
}

/* Does some frame of task t name func, at line (if > 0) of this file? */
static int has_frame(const jv *t, const char *func, int line) {
  const jv *frames = jget(t, "frames");
  if (!jis(frames, J_ARR))
    return 0;
  for (size_t i = 0; i < frames->n; i++) {
    const jv *f = &frames->kids[i];
    const char *fn = jstr(jget(f, "func"));
    if (!fn || strcmp(fn, func) != 0)
      continue;
    if (line <= 0)
      return 1;
    const char *file = jstr(jget(f, "file"));
    if (file && tt_test_ends_with(file, "test_export.c") && jint(jget(f, "line")) == line)
      return 1;
  }
  return 0;
}

/* Has task t a frame of func (at line, if > 0 and this build has lines)?
 * Without names (dladdr on an executable names nothing it does not
 * export) only the frames' presence and shape are checked. */
static int frame_ok(const jv *t, const char *func, int line) {
  if (g_sc.have_names)
    return has_frame(t, func, g_sc.have_lines ? line : 0);
  const jv *frames = jget(t, "frames");
  if (!jis(frames, J_ARR) || frames->n == 0)
    return 0;
  for (size_t i = 0; i < frames->n; i++) {
    const char *pc = jstr(jget(&frames->kids[i], "pc"));
    if (!pc || strncmp(pc, "0x", 2) != 0)
      return 0;
  }
  return 1;
}

static void check_spawn(const jv *t, const char *func, int line) {
  const jv *sp = jget(t, "spawn");
  CHECK_STREQ(jstr(jget(sp, "func")), func);
  CHECK_STREQ(jstr(jget(sp, "file")), __FILE__);
  CHECK_EQ(jint(jget(sp, "line")), line);
}

/* The common shape of one task record. */
static void check_task_shape(const jv *t) {
  static const char *const keys[] = {"id",          "parent",       "name",           "state",
                                     "wait_reason", "wait_ns",      "created_ns_ago", "entry",
                                     "spawn",       "worker",       "stack_bytes",    "self",
                                     "waiting_on",  "stack_status", "frames"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    CHECK_MSG(jget(t, keys[i]) != NULL, "task %" PRId64 " lacks \"%s\"", jint(jget(t, "id")),
              keys[i]);
  CHECK(jint(jget(t, "id")) > 0);
  CHECK(jint(jget(t, "created_ns_ago")) >= 0);
  CHECK(jint(jget(t, "stack_bytes")) > 0);
  CHECK(jis(jget(t, "frames"), J_ARR));
  CHECK(jis(jget(t, "self"), J_BOOL));
  const jv *w = jget(t, "worker");
  CHECK(jis(w, J_NULL) || jint(w) >= 0);
  const char *state = jstr(jget(t, "state"));
  CHECK(state != NULL);
  if (state && strcmp(state, "waiting") == 0) {
    CHECK(jstr(jget(t, "wait_reason")) != NULL);
    CHECK(jint(jget(t, "wait_ns")) >= 0);
    const jv *on = jget(t, "waiting_on");
    CHECK(jis(on, J_OBJ));
    CHECK(jstr(jget(on, "kind")) != NULL);
    CHECK(jget(on, "addr") && jget(on, "made_at"));
  } else {
    CHECK(jis(jget(t, "wait_reason"), J_NULL));
    CHECK(jis(jget(t, "wait_ns"), J_NULL));
    CHECK(jis(jget(t, "waiting_on"), J_NULL));
  }
}

static void check_json(const char *path) {
  size_t len = 0;
  char *text = read_file(path, &len);
  CHECK(text != NULL);
  if (!text)
    return;
  jv doc;
  const char *err = NULL;
  size_t at = 0;
  int rc = jparse(text, len, &doc, &err, &at);
  CHECK_MSG(rc == 0, "JSON does not parse: %s at byte %zu: %.60s", err ? err : "?", at,
            text + (at < len ? at : len));
  if (rc != 0) {
    jfree(&doc);
    free(text);
    return;
  }
  const jv *tasks = jget(&doc, "tasks");
  CHECK(jis(tasks, J_ARR));
  CHECK_EQ(jint(jget(&doc, "total")), tasks ? (int64_t)tasks->n : -1);
  CHECK_EQ(jint(jget(&doc, "total")), g_sc.ntasks);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t wall = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
  int64_t taken = jint(jget(&doc, "taken_at_ns"));
  CHECK_MSG(taken > wall - TT_MS(600000) && taken <= wall, "taken_at_ns %" PRId64, taken);
  for (size_t i = 0; tasks && i < tasks->n; i++) {
    check_task_shape(&tasks->kids[i]);
    if (i > 0) /* sorted by id */
      CHECK(jint(jget(&tasks->kids[i], "id")) > jint(jget(&tasks->kids[i - 1], "id")));
  }

  /* the receiver, blocked in tt_chan_recv at g_recv_line */
  const jv *t = find_task(&doc, g_sc.recv_id);
  CHECK(t != NULL);
  CHECK_EQ(jint(jget(t, "parent")), g_sc.self_id);
  CHECK(jis(jget(t, "name"), J_NULL));
  CHECK_STREQ(jstr(jget(t, "state")), "waiting");
  CHECK_STREQ(jstr(jget(t, "wait_reason")), "chan receive");
  CHECK_STREQ(jstr(jget(t, "entry")), "recv_task");
  CHECK_STREQ(jstr(jget(t, "stack_status")), "ok");
  check_spawn(t, "run_scenario", g_sc.recv_spawn_line);
  const jv *on = jget(t, "waiting_on");
  CHECK_STREQ(jstr(jget(on, "kind")), "chan");
  char want[512];
  snprintf(want, sizeof want, "0x%" PRIxPTR, (uintptr_t)g_chan);
  CHECK_STREQ(jstr(jget(on, "addr")), want);
  snprintf(want, sizeof want, "%s:%d", __FILE__, g_chan_line);
  CHECK_STREQ(jstr(jget(on, "made_at")), want);
  CHECK(frame_ok(t, "tt_chan_recv", 0));
  CHECK_MSG(frame_ok(t, "recv_task", g_recv_line), "no frame recv_task at test_export.c:%d",
            g_recv_line);

  /* the sleeper */
  t = find_task(&doc, g_sc.sleep_id);
  CHECK_STREQ(jstr(jget(t, "wait_reason")), "sleep");
  CHECK_STREQ(jstr(jget(jget(t, "waiting_on"), "kind")), "sleep");
  CHECK(jis(jget(jget(t, "waiting_on"), "made_at"), J_NULL));
  CHECK(jint(jget(t, "wait_ns")) >= 0 && jint(jget(t, "wait_ns")) < TT_MS(600000));
  check_spawn(t, "run_scenario", g_sc.sleep_spawn_line);
  CHECK_MSG(frame_ok(t, "sleep_task", g_sleep_line), "no frame sleep_task at test_export.c:%d",
            g_sleep_line);

  /* blocked on the mutex main holds */
  t = find_task(&doc, g_sc.mutex_id);
  CHECK_STREQ(jstr(jget(t, "wait_reason")), "sync.Mutex.Lock");
  on = jget(t, "waiting_on");
  CHECK_STREQ(jstr(jget(on, "kind")), "mutex");
  CHECK(jstr(jget(on, "addr")) && strncmp(jstr(jget(on, "addr")), "0x", 2) == 0);
  CHECK_MSG(frame_ok(t, "mutex_task", g_mutex_line), "no frame mutex_task at test_export.c:%d",
            g_mutex_line);

  /* the ten parked on the WaitGroup */
  for (int i = 0; i < NPARKED; i++) {
    t = find_task(&doc, g_sc.parked_ids[i]);
    CHECK_STREQ(jstr(jget(t, "wait_reason")), "sync.WaitGroup.Wait");
    CHECK_STREQ(jstr(jget(jget(t, "waiting_on"), "kind")), "waitgroup");
    CHECK(frame_ok(t, "parked_task", g_parked_line));
  }

  /* running on another worker: its stack sampled by its own thread */
  t = find_task(&doc, g_sc.spin_id);
  CHECK_STREQ(jstr(jget(t, "state")), "running");
  CHECK_STREQ(jstr(jget(t, "stack_status")), TT_TEST_TSAN ? "running" : "ok");
  CHECK(jis(jget(t, "frames"), J_ARR) && (jget(t, "frames")->n > 0) == !TT_TEST_TSAN);
  if (jget(t, "frames")->n > 0)
    CHECK_STREQ(jstr(jget(&jget(t, "frames")->kids[0], "func")), "spin_task");
  CHECK(jint(jget(t, "worker")) >= 0);

  /* the task that took the dump */
  t = find_task(&doc, g_sc.self_id);
  CHECK(jis(jget(t, "self"), J_BOOL) && jget(t, "self")->boolean);
  CHECK_STREQ(jstr(jget(t, "stack_status")), "ok");
  CHECK_STREQ(jstr(jget(t, "name")), "main");
  CHECK(jis(jget(t, "parent"), J_NULL));
  CHECK(frame_ok(t, "run_scenario", 0));

  /* names: escapes come back as the bytes; invalid UTF-8 as U+FFFD */
  t = find_task(&doc, g_sc.named_id);
  const jv *name = jget(t, "name");
  static const char weird_back[] = "q\"b\\s\nt\tc\x01\x7f \xef\xbf\xbd\xc3\xa9";
  CHECK_MSG(jis(name, J_STR) && name->slen == sizeof weird_back - 1 &&
                memcmp(name->s, weird_back, sizeof weird_back - 1) == 0,
            "name came back as \"%s\"", jstr(name) ? jstr(name) : "(not a string)");
  t = find_task(&doc, g_sc.cut_id);
  static const char cut_back[] = "abcdefghijklmnopqrstuvwxyz1234\xef\xbf\xbd";
  CHECK_STREQ(jstr(jget(t, "name")), cut_back);
  /* and the raw text holds the escapes themselves */
  CHECK(strstr(text, "\"q\\\"b\\\\s\\nt\\tc\\u0001\x7f \\ufffd\xc3\xa9\"") != NULL);

  jfree(&doc);
  free(text);
}

/* Every mapping of the profile must be an executable mapping of this
 * process as the kernel lists it (same range, offset and file): the
 * profile takes them from the loader instead. */
static void check_mappings(const profile_stats *ps) {
  FILE *f = fopen("/proc/self/maps", "r");
  CHECK(f != NULL);
  if (!f)
    return;
  size_t len;
  char *maps = read_all(f, &len);
  fclose(f);
  CHECK(ps->nmappings > 0);
  for (int i = 0; i < ps->nmappings; i++) {
    const char *file =
        ps->maps[i].file < (uint64_t)ps->nstrings ? ps->strings[ps->maps[i].file] : "";
    int vdso = strcmp(file, "[vdso]") == 0;
    char want[600];
    snprintf(want, sizeof want, "%" PRIx64 "-%" PRIx64 " r-xp %08" PRIx64 " ", ps->maps[i].lo,
             ps->maps[i].hi, ps->maps[i].offset);
    const char *line = strstr(maps, want);
    int ok = line != NULL;
    if (ok) {
      const char *eol = strchr(line, '\n');
      size_t fl = strlen(file);
      ok = fl > 0 && eol && (size_t)(eol - line) > fl && memcmp(eol - fl, file, fl) == 0;
    }
    CHECK_MSG(ok, "mapping %d (%s) is not in /proc/self/maps as \"%s... %s\"", i + 1, file, want,
              file);
    CHECK(vdso || ps->maps[i].build_id > 0); /* our binaries all have a build id */
  }
  /* the executable comes first, with every function resolved */
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = '\0';
  CHECK_STREQ(ps->maps[0].file < (uint64_t)ps->nstrings ? ps->strings[ps->maps[0].file] : "", exe);
  if (g_sc.have_names)
    CHECK(ps->maps[0].has_functions);
  free(maps);
}

/* Checks on the pprof file that need no Go: gzip, protobuf wire format,
 * string table, counts. */
static void check_pprof_bytes(const char *path) {
  size_t len = 0, zlen = 0;
  int st;
  char *raw = read_file(path, &zlen);
  CHECK(raw && zlen > 18 && (uint8_t)raw[0] == 0x1f && (uint8_t)raw[1] == 0x8b);
  free(raw);
  char *pb = gunzip(path, &len, &st);
  CHECK_MSG(st == 0 && pb && len > 0, "gzip -dc failed: status %d", st);
  if (!pb)
    return;
  profile_stats ps;
  walk_profile((const uint8_t *)pb, len, &ps);
  CHECK_MSG(ps.ok, "the profile is not well-formed protobuf");
  CHECK(ps.nstrings > 0 && ps.strings[0][0] == '\0');
  CHECK(has_string(&ps, "goroutine") && has_string(&ps, "count") && has_string(&ps, "state"));
  CHECK(has_string(&ps, "chan receive") && has_string(&ps, "sleep"));
  if (g_sc.have_names)
    CHECK(has_string(&ps, "recv_task") && has_string(&ps, "parked_task"));
  /* the running task's stack is sampled by its own thread (not under TSan:
   * stackwalk.c) */
  CHECK(has_string(&ps, "[running: stack unavailable]") == TT_TEST_TSAN &&
        has_string(&ps, "spin_task"));
  CHECK_EQ(ps.total, g_sc.ntasks); /* every task counted once */
  CHECK_EQ(ps.max_value, NPARKED); /* the ten parked tasks share a sample */
  CHECK_EQ(ps.labeled, ps.nsamples);
  CHECK_EQ(ps.period, 1);
  CHECK(ps.time_nanos > 0);
  CHECK(ps.nmappings > 0 && ps.nlocations > 0 && ps.nfunctions > 0);
  check_mappings(&ps);
  if (g_sc.have_lines)
    CHECK(has_string(&ps, __FILE__));
  profile_stats_free(&ps);
  free(pb);
}

static void signal_dumps(void);

static void run_scenario(void *arg) {
  (void)arg;
  g_sc.self_id = tt_self();
  g_block = tt_wg_make();
  tt_wg_add(g_block, 1);
  AT(g_chan_line, g_chan = tt_chan_make(sizeof(int), 0));
  CHECK_EQ(tt_mutex_lock(&g_mutex), 0);

  g_sc.recv_id = AT(g_sc.recv_spawn_line, tt_go(recv_task, NULL));
  g_sc.sleep_id = AT(g_sc.sleep_spawn_line, tt_go(sleep_task, NULL));
  g_sc.mutex_id = tt_go(mutex_task, NULL);
  for (int i = 0; i < NPARKED; i++)
    g_sc.parked_ids[i] = tt_go(parked_task, NULL);
  g_sc.named_id = tt_go(named_task, (void *)WEIRD_NAME);
  g_sc.cut_id = tt_go(named_task, (void *)CUT_NAME);
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, spawn_spinner, &g_sc.spin_id), 0);
  pthread_join(th, NULL);
  CHECK(g_sc.spin_id > 0);

  tt_test_task info;
  CHECK(tt_test_await_wait_reason(g_sc.recv_id, "chan receive", TT_MS(10000), &info));
  CHECK(tt_test_await_wait_reason(g_sc.sleep_id, "sleep", TT_MS(10000), &info));
  CHECK(tt_test_await_wait_reason(g_sc.mutex_id, "sync.Mutex.Lock", TT_MS(10000), &info));
  for (int i = 0; i < NPARKED; i++)
    CHECK(
        tt_test_await_wait_reason(g_sc.parked_ids[i], "sync.WaitGroup.Wait", TT_MS(10000), &info));
  CHECK(tt_test_await_wait_reason(g_sc.named_id, "sync.WaitGroup.Wait", TT_MS(10000), &info));
  CHECK(tt_test_await_wait_reason(g_sc.cut_id, "sync.WaitGroup.Wait", TT_MS(10000), &info));
  while (!atomic_load(&g_spinning))
    tt_sleep(TT_MS(1));
  tt_set_name("main");

  /* What does this build's symbolizer resolve? libdw: names and
   * file:line; the cross build's dladdr fallback: exported names only.
   * The x86-64 build must have both. */
  tt_frame fr[64];
  int n = tt_task_stack(g_sc.recv_id, fr, 64);
  CHECK(n > 0);
  for (int i = 0; i < n; i++)
    if (strcmp(fr[i].func, "recv_task") == 0) {
      g_sc.have_names = 1;
      g_sc.have_lines = fr[i].file[0] != '\0';
    }
#if defined(__x86_64__)
  CHECK_MSG(g_sc.have_names && g_sc.have_lines,
            "no name or file:line for recv_task's frame: is libdw missing?");
#endif
  g_sc.ntasks = tt_num_tasks();

  /* bad arguments */
  CHECK_EQ(tt_dump_as(NULL, TT_DUMP_JSON), TT_EINVAL);
  CHECK_EQ(tt_dump_as(NULL, TT_DUMP_PPROF), TT_EINVAL);
  FILE *devnull = fopen("/dev/null", "w");
  CHECK_EQ(tt_dump_as(devnull, (tt_dump_format)99), TT_EINVAL);
  CHECK_EQ(tt_dump_as(devnull, (tt_dump_format)-1), TT_EINVAL);
  fclose(devnull);
  CHECK_EQ(tt_dump_format_parse("json"), TT_DUMP_JSON);
  CHECK_EQ(tt_dump_format_parse("pprof"), TT_DUMP_PPROF);

  FILE *f = fopen(g_sc.json_path, "w");
  CHECK(f != NULL);
  if (f) {
    CHECK_EQ(tt_dump_as(f, TT_DUMP_JSON), 0);
    fclose(f);
  }
  f = fopen(g_sc.pprof_path, "wb");
  CHECK(f != NULL);
  if (f) {
    CHECK_EQ(tt_dump_as(f, TT_DUMP_PPROF), 0);
    fclose(f);
  }
  char debug1[300];
  snprintf(debug1, sizeof debug1, "%s/debug1.txt", g_tmpdir);
  f = fopen(debug1, "w");
  CHECK(f != NULL);
  if (f) {
    CHECK_EQ(tt_dump_as(f, TT_DUMP_GO_DEBUG1), 0);
    fclose(f);
  }
  CHECK_EQ(tt_num_tasks(), g_sc.ntasks); /* nothing moved while we dumped */
  signal_dumps();

  /* Let everyone go (the sleeper is dropped at shutdown). */
  atomic_store(&g_spin_stop, 1);
  int one = 1;
  CHECK_EQ(tt_chan_send(g_chan, &one), 0);
  CHECK_EQ(tt_mutex_unlock(&g_mutex), 0);
  tt_wg_done(g_block);
  while (tt_num_tasks() > 2) /* main and the sleeper */
    tt_sleep(TT_MS(1));
}

/* ---- dumps on a signal, to files ----------------------------------------------------------- */

#define SIGNAL_DUMPS 3
static int g_signal_dumps_taken; /* 0 under TSan: the signals are not sent */

/* Until `path` exists (each numbered dump appears whole, by a rename). */
static int await_file(const char *path) {
  int64_t end = tt_test_mono_ns() + TT_MS(20000);
  while (access(path, F_OK) != 0) {
    if (tt_test_mono_ns() > end)
      return 0;
    tt_sleep(TT_MS(5));
  }
  return 1;
}

/* SIGUSR1 three times with pprof, then twice with JSON, twice with debug=2:
 * the first two make numbered files, the text is appended with a line
 * before each dump. */
static void signal_dumps(void) {
  if (TT_TEST_TSAN) {
    /* TSan holds an asynchronous signal until the thread it landed on
     * passes through one of its interceptors (see test_gotext). */
    NOTE("signal dumps skipped under TSan");
    return;
  }
  char base[320], p[340];
  snprintf(base, sizeof base, "%s/sig.pb.gz", g_tmpdir);
  CHECK_EQ(tt_dump_on_signal(SIGUSR1, TT_DUMP_PPROF, base), 0);
  for (int i = 1; i <= SIGNAL_DUMPS; i++) {
    kill(getpid(), SIGUSR1);
    snprintf(p, sizeof p, "%s.%d", base, i);
    CHECK_MSG(await_file(p), "no %s after SIGUSR1", p);
  }
  CHECK(access(base, F_OK) != 0); /* nothing appended to the bare path */
  snprintf(base, sizeof base, "%s/sig.json", g_tmpdir);
  CHECK_EQ(tt_dump_on_signal(SIGUSR1, TT_DUMP_JSON, base), 0);
  for (int i = 1; i <= 2; i++) {
    kill(getpid(), SIGUSR1);
    snprintf(p, sizeof p, "%s.%d", base, i);
    CHECK_MSG(await_file(p), "no %s after SIGUSR1", p);
  }
  snprintf(base, sizeof base, "%s/sig.txt", g_tmpdir);
  CHECK_EQ(tt_dump_on_signal(SIGUSR1, TT_DUMP_GO_DEBUG2, base), 0);
  for (int i = 1; i <= 2; i++) {
    kill(getpid(), SIGUSR1);
    char *text = NULL;
    char want[64];
    snprintf(want, sizeof want, "=== tether task dump %d (debug=2), pid ", i);
    int64_t end = tt_test_mono_ns() + TT_MS(20000);
    /* written in place: wait for the last block's created-by pair too */
    while (tt_test_mono_ns() < end) {
      size_t len;
      free(text);
      text = read_file(base, &len);
      const char *at = text ? strstr(text, want) : NULL;
      if (at && strstr(at, "created by main\n"))
        break;
      tt_sleep(TT_MS(5));
    }
    CHECK_MSG(text && strstr(text, want), "no dump %d in %s:\n%s", i, base, text ? text : "");
    free(text);
  }
  CHECK_EQ(tt_dump_on_signal(0, TT_DUMP_GO_DEBUG2, NULL), 0);
  g_signal_dumps_taken = 1;
}

/* Each numbered file a whole document: JSON parsed, pprof read by pprof. */
static void check_signal_files(const char *go) {
  if (!g_signal_dumps_taken)
    return;
  char p[340];
  for (int i = 1; i <= 2; i++) {
    snprintf(p, sizeof p, "%s/sig.json.%d", g_tmpdir, i);
    size_t len = 0;
    char *text = read_file(p, &len);
    jv doc;
    const char *err = NULL;
    size_t at = 0;
    int rc = text ? jparse(text, len, &doc, &err, &at) : -1;
    CHECK_MSG(rc == 0, "%s does not parse: %s", p, err ? err : "unreadable");
    if (text)
      jfree(&doc);
    free(text);
  }
  snprintf(p, sizeof p, "%s/sig.txt", g_tmpdir);
  size_t len = 0;
  char *text = read_file(p, &len);
  CHECK(text && strncmp(text, "=== tether task dump 1 (debug=2), pid ", 38) == 0);
  CHECK(text && strstr(text, "\n\n=== tether task dump 2 (debug=2), pid ") != NULL);
  free(text);
  for (int i = 1; go && i <= SIGNAL_DUMPS; i++) {
    char cmd[1024];
    int st;
    snprintf(p, sizeof p, "%s/sig.pb.gz.%d", g_tmpdir, i);
    snprintf(cmd, sizeof cmd, "'%s' tool pprof -raw '%s'", go, p);
    char *out = run_cmd(cmd, &st);
    CHECK_MSG(st == 0 && strstr(out, "PeriodType: goroutine count") != NULL &&
                  strstr(out, "concatenated") == NULL,
              "%s exited %d:\n%s", cmd, st, out);
    if (g_sc.have_names)
      CHECK_MSG(strstr(out, "parked_task") != NULL, "%s:\n%s", cmd, out);
    free(out);
  }
}

/* ---- go tool pprof ---------------------------------------------------------------------- */

/* The block of `-traces` output that holds needle, or NULL; blocks are
 * separated by lines of dashes. Returns a malloc'd copy. */
static char *trace_with(const char *out, const char *needle) {
  const char *sep = "-----------+";
  const char *p = strstr(out, sep);
  while (p) {
    const char *next = strstr(p + 1, sep);
    size_t len = next ? (size_t)(next - p) : strlen(p);
    char *block = strndup(p, len);
    if (strstr(block, needle))
      return block;
    free(block);
    p = next;
  }
  return NULL;
}

/* The count of a -traces block: the first line that starts with a number
 * (label lines such as "     state:  sleep" come before it). */
static long trace_count(const char *block) {
  for (const char *l = strchr(block, '\n'); l; l = strchr(l, '\n')) {
    l++;
    while (*l == ' ')
      l++;
    if (*l >= '0' && *l <= '9')
      return strtol(l, NULL, 10);
  }
  return -1;
}

/* The first -traces block whose count is n, or NULL (malloc'd copy). */
static char *trace_counted(const char *out, long n) {
  const char *sep = "-----------+";
  for (const char *p = strstr(out, sep); p;) {
    const char *next = strstr(p + 1, sep);
    char *block = strndup(p, next ? (size_t)(next - p) : strlen(p));
    if (trace_count(block) == n)
      return block;
    free(block);
    p = next;
  }
  return NULL;
}

static int check_go_pprof(const char *go) {
  char cmd[1024];
  int st;

  snprintf(cmd, sizeof cmd, "'%s' tool pprof -traces '%s'", go, g_sc.pprof_path);
  char *traces = run_cmd(cmd, &st);
  CHECK_MSG(st == 0, "%s exited %d:\n%s", cmd, st, traces);
  NOTE("go tool pprof -traces (excerpt):");
  char *blk = NULL;
  if (g_sc.have_names) {
    blk = trace_with(traces, "parked_task");
    CHECK_MSG(blk != NULL, "no trace with parked_task in:\n%s", traces);
    if (blk) {
      printf("%s", blk);
      CHECK_EQ(trace_count(blk), NPARKED);
      CHECK(strstr(blk, "tt_wg_wait") != NULL);
      CHECK(strstr(blk, "state:  sync.WaitGroup.Wait\n") != NULL);
      free(blk);
    }
    blk = trace_with(traces, "recv_task");
    CHECK(blk != NULL);
    if (blk) {
      CHECK_EQ(trace_count(blk), 1);
      CHECK(strstr(blk, "tt_chan_recv") != NULL);
      CHECK(strstr(blk, "state:  chan receive\n") != NULL);
      free(blk);
    }
  } else { /* the names are pprof's own guesses, if any: count only */
    blk = trace_counted(traces, NPARKED);
    CHECK_MSG(blk != NULL, "no trace of %d tasks in:\n%s", NPARKED, traces);
    if (blk)
      printf("%s", blk);
    free(blk);
  }
  blk = trace_with(traces, "spin_task");
  CHECK(blk != NULL);
  if (blk) {
    CHECK(strstr(blk, "spin_task") != NULL);
    CHECK(strstr(blk, "state:  running\n") != NULL);
    free(blk);
  }
  free(traces);

  /* with -lines every frame shows its file:line: the blocking calls' */
  snprintf(cmd, sizeof cmd, "'%s' tool pprof -traces -lines '%s'", go, g_sc.pprof_path);
  traces = run_cmd(cmd, &st);
  CHECK_MSG(st == 0, "%s exited %d:\n%s", cmd, st, traces);
  if (g_sc.have_lines) {
    const int lines[] = {g_recv_line, g_sleep_line, g_mutex_line, g_parked_line};
    const char *fns[] = {"recv_task", "sleep_task", "mutex_task", "parked_task"};
    for (int i = 0; i < 4; i++) {
      char want[512];
      snprintf(want, sizeof want, "%s %s:%d\n", fns[i], __FILE__, lines[i]);
      blk = trace_with(traces, want);
      CHECK_MSG(blk != NULL, "-traces -lines has no \"%s\":\n%s", want, traces);
      if (blk && i == 3)
        CHECK_EQ(trace_count(blk), NPARKED);
      free(blk);
    }
  }
  free(traces);

  /* -top: the parked tasks' function holds 10 of them, cumulatively */
  snprintf(cmd, sizeof cmd, "'%s' tool pprof -top '%s'", go, g_sc.pprof_path);
  char *top = run_cmd(cmd, &st);
  CHECK_MSG(st == 0, "%s exited %d:\n%s", cmd, st, top);
  NOTE("go tool pprof -top:");
  printf("%s", top);
  char want[128];
  snprintf(want, sizeof want,
           "Showing nodes accounting for %" PRId64 ", 100%% of %" PRId64 " total", g_sc.ntasks,
           g_sc.ntasks);
  CHECK_MSG(strstr(top, want) != NULL, "-top lacks \"%s\"", want);
  CHECK(strstr(top, "Type: goroutine") != NULL);
  const char *line = strstr(top, "parked_task\n");
  CHECK(line != NULL || !g_sc.have_names);
  if (line) { /* "     0     0%   100%         10 45.45%  parked_task" */
    const char *bol = line;
    while (bol > top && bol[-1] != '\n')
      bol--;
    long flat, cum;
    double flatp, sump, cump;
    CHECK(sscanf(bol, "%ld %lf%% %lf%% %ld %lf%%", &flat, &flatp, &sump, &cum, &cump) == 5 &&
          cum == NPARKED);
  }
  free(top);

  /* -tags: the state label, counted */
  snprintf(cmd, sizeof cmd, "'%s' tool pprof -tags '%s'", go, g_sc.pprof_path);
  char *tags = run_cmd(cmd, &st);
  CHECK_MSG(st == 0, "%s exited %d:\n%s", cmd, st, tags);
  NOTE("go tool pprof -tags:");
  printf("%s", tags);
  char total[40];
  snprintf(total, sizeof total, "Total %lld", (long long)g_sc.ntasks);
  CHECK(strstr(tags, "state:") != NULL && strstr(strstr(tags, "state:"), total) != NULL);
  /* "        12 (54.55%): sync.WaitGroup.Wait" (10 parked + the two named) */
  const char *wg = strstr(tags, "sync.WaitGroup.Wait");
  CHECK(wg != NULL);
  if (wg) {
    const char *bol = wg;
    while (bol > tags && bol[-1] != '\n')
      bol--;
    CHECK_EQ(strtol(bol, NULL, 10), NPARKED + 2);
  }
  /* task names are labels, as Go's pprof.Do labels are */
  CHECK_MSG(strstr(tags, " name: Total 3") && strstr(tags, ": main\n") &&
                strstr(tags, ": abcdefghijklmnopqrstuvwxyz1234"),
            "no name labels in:\n%s", tags);
  free(tags);

  /* debug=1: a "# labels:" line under each named task's record, as Go
   * writes; go tool pprof reads the file */
  char path[300];
  snprintf(path, sizeof path, "%s/debug1.txt", g_tmpdir);
  size_t len;
  char *text = read_file(path, &len);
  CHECK(text != NULL);
  if (text) {
    CHECK_MSG(strstr(text, "\n# labels: {\"name\":\"main\"}\n#\t0x"), "%s", text);
    CHECK_MSG(strstr(text, "\n# labels: {\"name\":\"q\\\"b\\\\s\\nt\\tc\\x01\\x7f "), "%s", text);
    CHECK_MSG(strstr(text, "\n# labels: {\"name\":\"abcdefghijklmnopqrstuvwxyz1234"), "%s", text);
    free(text);
  }
  snprintf(cmd, sizeof cmd, "'%s' tool pprof -traces '%s'", go, path);
  char *traces1 = run_cmd(cmd, &st);
  CHECK_MSG(st == 0 && (!g_sc.have_names || strstr(traces1, "parked_task")), "%s exited %d:\n%s",
            cmd, st, traces1);
  free(traces1);
  if (!getenv("TT_KEEP_DUMPS"))
    unlink(path);
  return 0;
}

int main(void) {
  tt_test_watchdog(120);
  snprintf(g_tmpdir, sizeof g_tmpdir, "%s/tt-export-XXXXXX",
           getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  CHECK(mkdtemp(g_tmpdir) != NULL);
  snprintf(g_sc.json_path, sizeof g_sc.json_path, "%s/tasks.json", g_tmpdir);
  snprintf(g_sc.pprof_path, sizeof g_sc.pprof_path, "%s/goroutine.pb.gz", g_tmpdir);

  test_encoders();

  /* Outside a running runtime there is nothing to dump. */
  CHECK_EQ(tt_dump_as(stdout, TT_DUMP_JSON), TT_ENOTINIT);

  RUN_MAIN(4, run_scenario, NULL);
  tt_chan_unref(g_chan);
  tt_wg_free(g_block);

  check_json(g_sc.json_path);
  check_pprof_bytes(g_sc.pprof_path);

  const char *go = getenv("TT_GO");
  if (!go || !*go)
    go = "/usr/lib/go-1.19/bin/go";
  int skipped = 0;
  int have_go = access(go, X_OK) == 0;
  check_signal_files(have_go ? go : NULL);
  if (have_go) {
    check_go_pprof(go);
  } else if (getenv("TT_SKIP_GO") && strcmp(getenv("TT_SKIP_GO"), "1") == 0) {
    printf("SKIP: %s not found; the go tool pprof checks did not run (TT_SKIP_GO=1)\n", go);
    skipped = 1;
  } else {
    CHECK_MSG(have_go,
              "%s not found: the pprof output must be checked with go tool pprof. "
              "Install Go with `scripts/deps.sh go` (as root), point TT_GO at a go binary, "
              "or set TT_SKIP_GO=1 to skip these checks",
              go);
  }

  if (!getenv("TT_KEEP_DUMPS")) {
    unlink(g_sc.json_path);
    unlink(g_sc.pprof_path);
    char p[320];
    static const char *const signal_files[] = {"sig.pb.gz.1", "sig.pb.gz.2", "sig.pb.gz.3",
                                               "sig.json.1",  "sig.json.2",  "sig.txt"};
    for (size_t i = 0; i < sizeof signal_files / sizeof signal_files[0]; i++) {
      snprintf(p, sizeof p, "%s/%s", g_tmpdir, signal_files[i]);
      unlink(p);
    }
    snprintf(p, sizeof p, "%s/stored.gz", g_tmpdir);
    unlink(p);
    rmdir(g_tmpdir);
  } else {
    NOTE("dumps kept in %s", g_tmpdir);
  }
  int rc = TEST_REPORT();
  return rc == 0 && skipped ? 77 : rc;
}
