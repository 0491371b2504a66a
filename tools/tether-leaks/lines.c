/*
 * The input side every parser shares: a buffered reader over a byte source
 * that hands out whole lines (or, for the binary format, raw bytes) without
 * ever holding more than the longest line plus one read's worth, so a dump
 * of any size streams through in constant memory. Also: the memory source
 * (tests, fuzzing), the gzip source, and the error helper.
 */
#include "leaks.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* The buffer's first size; it doubles when a line (or the pprof message)
 * does not fit. */
#define INITIAL_SIZE (64u << 10)

int lk_fail(lk_err *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (e) /* va_start is just above: the analyzer loses track of it */
    vsnprintf(e->msg, sizeof e->msg, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
  va_end(ap);
  return -1;
}

static ssize_t mem_read(void *ctx, void *buf, size_t n, lk_err *err) {
  (void)err;
  lk_memsrc *m = ctx;
  size_t left = m->n - m->off;
  if (n > left)
    n = left;
  if (n)
    memcpy(buf, m->p + m->off, n);
  m->off += n;
  return (ssize_t)n;
}

lk_src lk_memsrc_init(lk_memsrc *m, const void *p, size_t n) {
  m->p = p;
  m->n = n;
  m->off = 0;
  return (lk_src){mem_read, m};
}

int lk_lines_init(lk_lines *lr, lk_src src) {
  memset(lr, 0, sizeof *lr);
  lr->src = src;
  lr->cap = INITIAL_SIZE;
  lr->buf = malloc(lr->cap);
  return lr->buf ? 0 : -1;
}

void lk_lines_free(lk_lines *lr) {
  free(lr->buf);
  lr->buf = NULL;
}

/* Read once more into the buffer, moving the unread bytes to the front and
 * growing it when a line does not fit. Returns bytes added, 0 at the end. */
static ssize_t refill(lk_lines *lr, lk_err *e) {
  if (lr->eof)
    return 0;
  if (lr->start > 0) {
    memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
    lr->end -= lr->start;
    lr->start = 0;
  }
  if (lr->end == lr->cap) {
    size_t ncap = lr->cap * 2;
    char *nb = realloc(lr->buf, ncap);
    if (!nb)
      return lk_fail(e, "out of memory reading the input");
    lr->buf = nb;
    lr->cap = ncap;
  }
  ssize_t n = lr->src.read(lr->src.ctx, lr->buf + lr->end, lr->cap - lr->end, e);
  if (n < 0)
    return -1;
  if (n == 0)
    lr->eof = true;
  lr->end += (size_t)n;
  return n;
}

ssize_t lk_lines_fill(lk_lines *lr, size_t n, lk_err *e) {
  while (lr->end - lr->start < n) {
    ssize_t got = refill(lr, e);
    if (got < 0)
      return -1;
    if (got == 0)
      break;
  }
  return (ssize_t)(lr->end - lr->start);
}

int lk_lines_next(lk_lines *lr, const char **line, size_t *len, lk_err *e) {
  size_t scanned = 0; /* bytes already known to hold no newline */
  for (;;) {
    char *p = lr->buf + lr->start;
    size_t avail = lr->end - lr->start;
    char *nl = memchr(p + scanned, '\n', avail - scanned);
    if (nl || (lr->eof && avail > 0)) {
      size_t n = nl ? (size_t)(nl - p) : avail;
      lr->start += nl ? n + 1 : n;
      lr->consumed += nl ? n + 1 : n;
      if (n > 0 && p[n - 1] == '\r')
        n--;
      *line = p;
      *len = n;
      lr->lineno++;
      return 1;
    }
    if (lr->eof)
      return 0;
    if (avail >= LK_MAX_LINE)
      return lk_fail(e, "line %lld is longer than %u MiB: not a goroutine dump",
                     (long long)lr->lineno + 1, LK_MAX_LINE >> 20);
    scanned = avail;
    if (refill(lr, e) < 0)
      return -1;
  }
}

/* ---- gzip ----------------------------------------------------------------- */

struct lk_gunzip {
  lk_src in;
  z_stream z;
  unsigned char inbuf[1 << 16];
  bool ended;   /* the input is exhausted */
  bool started; /* inflateInit2 done */
  bool member_done;
};

lk_gunzip *lk_gunzip_new(lk_src in) {
  lk_gunzip *g = calloc(1, sizeof *g);
  if (!g)
    return NULL;
  g->in = in;
  if (inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK) {
    free(g);
    return NULL;
  }
  g->started = true;
  return g;
}

void lk_gunzip_free(lk_gunzip *g) {
  if (!g)
    return;
  if (g->started)
    inflateEnd(&g->z);
  free(g);
}

static ssize_t gunzip_read(void *ctx, void *buf, size_t n, lk_err *e) {
  lk_gunzip *g = ctx;
  if (n > UINT32_MAX)
    n = UINT32_MAX;
  g->z.next_out = buf;
  g->z.avail_out = (uInt)n;
  while (g->z.avail_out == n) {
    if (g->z.avail_in == 0 && !g->ended) {
      ssize_t got = g->in.read(g->in.ctx, g->inbuf, sizeof g->inbuf, e);
      if (got < 0)
        return -1;
      if (got == 0)
        g->ended = true;
      g->z.next_in = g->inbuf;
      g->z.avail_in = (uInt)got;
    }
    if (g->member_done) {
      if (g->z.avail_in == 0 && g->ended)
        return 0;
      if (g->z.avail_in == 0)
        continue;
      /* Another member follows (gzip allows concatenation). */
      if (inflateReset(&g->z) != Z_OK)
        return lk_fail(e, "gzip: cannot start the next member");
      g->member_done = false;
    }
    if (g->z.avail_in == 0 && g->ended)
      return lk_fail(e, "gzip: the compressed input is truncated");
    int rc = inflate(&g->z, Z_NO_FLUSH);
    if (rc == Z_STREAM_END)
      g->member_done = true;
    else if (rc != Z_OK && rc != Z_BUF_ERROR)
      return lk_fail(e, "gzip: %s", g->z.msg ? g->z.msg : "corrupt data");
  }
  return (ssize_t)(n - g->z.avail_out);
}

lk_src lk_gunzip_src(lk_gunzip *g) { return (lk_src){gunzip_read, g}; }

/* ---- format detection ---------------------------------------------------------- */

const char *lk_format_name(lk_format f) {
  switch (f) {
  case LK_FMT_GO_DEBUG2: return "go debug=2";
  case LK_FMT_GO_DEBUG1: return "go debug=1";
  case LK_FMT_PPROF: return "pprof";
  case LK_FMT_TETHER_JSON: return "tether json";
  default: return "unknown";
  }
}

static bool has_prefix(const char *p, size_t n, const char *pre) {
  size_t k = strlen(pre);
  return n >= k && memcmp(p, pre, k) == 0;
}

/* "goroutine <digits> " at p: the header of a debug=2 block. */
static bool is_goroutine_header(const char *p, size_t n) {
  if (!has_prefix(p, n, "goroutine "))
    return false;
  size_t i = 10, d = i;
  while (i < n && p[i] >= '0' && p[i] <= '9')
    i++;
  return i > d && i < n && p[i] == ' ';
}

/* Every top-level field in the window parses as protobuf with a field
 * number profile.proto uses (1-14); the last may run past the window. */
static bool looks_like_protobuf(const unsigned char *p, size_t n) {
  size_t i = 0;
  int fields = 0;
  while (i < n) {
    uint64_t key = 0, len = 0;
    int shift = 0;
    while (i < n && shift < 64) {
      key |= (uint64_t)(p[i] & 0x7f) << shift;
      shift += 7;
      if (!(p[i++] & 0x80))
        break;
    }
    uint64_t field = key >> 3, wire = key & 7;
    if (field < 1 || field > 14)
      return false;
    if (wire == 0) {
      while (i < n && (p[i] & 0x80))
        i++;
      i++;
    } else if (wire == 2) {
      shift = 0;
      while (i < n && shift < 64) {
        len |= (uint64_t)(p[i] & 0x7f) << shift;
        shift += 7;
        if (!(p[i++] & 0x80))
          break;
      }
      if (len > n - (i < n ? i : n))
        return fields > 0 || len < (uint64_t)1 << 32;
      i += len;
    } else {
      return false;
    }
    fields++;
  }
  return fields > 0;
}

lk_format lk_detect(lk_lines *lr, lk_err *e) {
  /* Enough to get past a panic message and a SIGQUIT register dump. */
  ssize_t n = lk_lines_fill(lr, 1u << 20, e);
  if (n < 0)
    return LK_FMT_UNKNOWN;
  const char *p = lr->buf + lr->start;
  if (n == 0) {
    lk_fail(e, "the input is empty");
    return LK_FMT_UNKNOWN;
  }
  if (n >= 2 && (unsigned char)p[0] == 0x1f && (unsigned char)p[1] == 0x8b) {
    lk_fail(e, "the input is still gzip-compressed");
    return LK_FMT_UNKNOWN;
  }
  size_t i = 0;
  while (i < (size_t)n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
    i++;
  if (i < (size_t)n && p[i] == '{')
    return LK_FMT_TETHER_JSON;
  /* Text: look at line starts. */
  for (size_t at = 0; at < (size_t)n;) {
    const char *ln = p + at;
    const char *nl = memchr(ln, '\n', (size_t)n - at);
    size_t len = nl ? (size_t)(nl - ln) : (size_t)n - at;
    if (has_prefix(ln, len, "goroutine profile: total "))
      return LK_FMT_GO_DEBUG1;
    if (is_goroutine_header(ln, len))
      return LK_FMT_GO_DEBUG2;
    if (!nl)
      break;
    at += len + 1;
  }
  if (looks_like_protobuf((const unsigned char *)p, (size_t)n))
    return LK_FMT_PPROF;
  lk_fail(e,
          "not a goroutine dump: no \"goroutine N [...]:\" block, no \"goroutine profile:\" "
          "header, no pprof profile or tether JSON in the first %zd bytes",
          n);
  return LK_FMT_UNKNOWN;
}

int lk_parse_any(lk_lines *lr, bool leaked_profile, lk_format *fmt, lk_sink *sink, lk_err *e) {
  lk_format f = lk_detect(lr, e);
  if (fmt)
    *fmt = f;
  switch (f) {
  case LK_FMT_GO_DEBUG2:
  case LK_FMT_GO_DEBUG1: return lk_parse_gotext(lr, f, sink, e);
  case LK_FMT_PPROF: return lk_parse_pprof(lr, leaked_profile, sink, e);
  case LK_FMT_TETHER_JSON: return lk_parse_json(lr, sink, e);
  default: return -1;
  }
}
