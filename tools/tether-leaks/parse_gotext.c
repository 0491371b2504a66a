/*
 * Go's goroutine text formats, read a line at a time.
 *
 * debug=2 (also what a panic or SIGQUIT prints, which adds a preamble, the
 * signal goroutine's registers between blocks and an exit line):
 *
 *   goroutine 18 [chan receive, 2 minutes, locked to thread]:
 *   main.worker(0xc000010000, ...)
 *   	/src/app.go:20 +0x2b
 *   ...additional frames elided...
 *   created by main.serve in goroutine 1
 *   	/src/app.go:15 +0x45
 *   [originating from goroutine 1]:      (GODEBUG=tracebackancestors=N)
 *   main.main()
 *   	/src/app.go:9 +0x1d
 *
 * Lines outside a block (preamble, registers) are skipped; inside a block
 * every line must fit the grammar, and a stack cut off by the end of the
 * input is an error, not a smaller goroutine.
 *
 * debug=1:
 *
 *   goroutine profile: total 12
 *   10 @ 0x4364d6 0x405d3e 0x45d9e1
 *   # labels: {"k":"v"}
 *   #	0x45d9e0	main.leak+0x20	/src/app.go:15
 */
#include "record.h"

#include <stdlib.h>
#include <string.h>

static bool starts(const char *p, size_t n, const char *pre) {
  size_t k = strlen(pre);
  return n >= k && memcmp(p, pre, k) == 0;
}

/* Parse decimal digits at p[*i]; false when there are none or too many. */
static bool parse_int(const char *p, size_t n, size_t *i, int64_t *out) {
  size_t j = *i;
  int64_t v = 0;
  while (j < n && p[j] >= '0' && p[j] <= '9') {
    if (v > (INT64_MAX - 9) / 10)
      return false;
    v = v * 10 + (p[j] - '0');
    j++;
  }
  if (j == *i)
    return false;
  *i = j;
  *out = v;
  return true;
}

/* "\t/path/file.go:123 +0x1d" (anything after the line number ignored).
 * The file may itself hold ':' (Windows drives), so the last one before
 * the digits counts. */
static bool parse_fileline(const char *p, size_t n, lk_recbuf *b, size_t *file, int *line) {
  size_t i = 0;
  while (i < n && (p[i] == '\t' || p[i] == ' '))
    i++;
  size_t end = i;
  while (end < n && p[end] != ' ')
    end++;
  /* p[i, end) = "file:line" */
  size_t colon = end;
  while (colon > i && p[colon - 1] != ':')
    colon--;
  if (colon <= i + 1)
    return false;
  size_t k = colon;
  int64_t ln;
  if (!parse_int(p, end, &k, &ln) || k != end || ln > INT32_MAX)
    return false;
  *file = lk_recbuf_str(b, p + i, colon - 1 - i);
  *line = (int)ln;
  return true;
}

/* "pkg.Func(args)": the arguments are the last balanced parenthesised group
 * ending the line (the name itself may hold parentheses: "(*T).M"). */
static bool parse_funcline(const char *p, size_t n, lk_recbuf *b, lk_rframe *f) {
  if (n < 3 || p[n - 1] != ')')
    return false;
  int depth = 0;
  size_t i = n;
  while (i > 0) {
    i--;
    if (p[i] == ')')
      depth++;
    else if (p[i] == '(' && --depth == 0)
      break;
  }
  if (depth != 0 || i == 0)
    return false;
  f->func = lk_recbuf_str(b, p, i);
  f->args = lk_recbuf_str(b, p + i, n - i);
  return true;
}

/* The bracket of a header: "chan send (leaked), 5 minutes, locked to thread". */
static void parse_bracket(const char *p, size_t n, lk_recbuf *b, lk_rec *r) {
  size_t i = 0;
  bool first = true;
  while (i <= n) {
    size_t j = i;
    while (j < n && p[j] != ',')
      j++;
    const char *part = p + i;
    size_t len = j - i;
    while (len && part[0] == ' ')
      part++, len--;
    if (first) {
      static const char leaked[] = " (leaked)";
      size_t ll = sizeof leaked - 1;
      if (len >= ll && memcmp(part + len - ll, leaked, ll) == 0) {
        r->leaked = true;
        len -= ll;
      }
      b->state = lk_recbuf_str(b, part, len);
      first = false;
    } else if (starts(part, len, "locked to thread")) {
      r->locked = true;
    } else {
      size_t k = 0;
      int64_t v;
      if (parse_int(part, len, &k, &v) && starts(part + k, len - k, " minute") &&
          v < INT64_MAX / 60)
        r->wait_s = v * 60;
    }
    i = j + 1;
  }
}

/* "goroutine 18 [chan receive]:" or with " gp=0x.. m=0 mp=0x.." before the bracket. */
static int parse_header(const char *p, size_t n, lk_recbuf *b, lk_rec *r, int64_t lineno,
                        lk_err *e) {
  size_t i = 10;
  if (!parse_int(p, n, &i, &r->id))
    return lk_fail(e, "line %lld: bad goroutine header: no id", (long long)lineno);
  const char *lb = memchr(p + i, '[', n - i);
  if (!lb || n < 2 || p[n - 1] != ':' || p[n - 2] != ']' || lb > p + n - 2)
    return lk_fail(e, "line %lld: bad goroutine header (expected \"goroutine N [state]:\")",
                   (long long)lineno);
  parse_bracket(lb + 1, (size_t)(p + n - 2 - (lb + 1)), b, r);
  /* Go prints ", N minutes" only from the first minute on. */
  if (r->wait_s < 0)
    r->wait_s = 0;
  return 0;
}

typedef enum { OUTSIDE, IN_STACK, WANT_FILE, WANT_CREATED_FILE, ANCESTORS } block_state;

typedef struct parser {
  lk_lines *lr;
  lk_sink *sink;
  lk_recbuf b;
  lk_rec r;
  block_state st;
  int64_t block_line;
  int64_t emitted;
} parser;

static void new_block(parser *ps) {
  lk_recbuf_reset(&ps->b);
  ps->r = (lk_rec){.id = -1, .count = 1, .wait_s = -1, .parent = -1};
}

static int end_block(parser *ps, lk_err *e) {
  if (ps->st == OUTSIDE)
    return 0;
  if (ps->st == WANT_FILE || ps->st == WANT_CREATED_FILE)
    return lk_fail(e,
                   "line %lld: goroutine %lld's stack is cut off (a function with no file:line "
                   "after it): truncated dump?",
                   (long long)ps->lr->lineno, (long long)ps->r.id);
  if (ps->b.nfr == 0 && !ps->r.elided)
    return lk_fail(e, "line %lld: goroutine %lld has no stack: truncated dump?",
                   (long long)ps->block_line, (long long)ps->r.id);
  ps->st = OUTSIDE;
  if (lk_recbuf_finish(&ps->b, &ps->r) < 0)
    return lk_fail(e, "out of memory");
  ps->emitted++;
  return ps->sink->emit(ps->sink->ctx, &ps->r, e);
}

/* Lines that belong to another format: a sign of concatenated or mixed input. */
static bool foreign_line(const char *p, size_t n) {
  return starts(p, n, "goroutine profile: total") || starts(p, n, "#\t0x") ||
         starts(p, n, "{\"taken_at_ns\"") || starts(p, n, "{\"id\":");
}

static int debug2_line(parser *ps, const char *p, size_t n, lk_err *e) {
  int64_t ln = ps->lr->lineno;
  if (memchr(p, '\0', n))
    return lk_fail(e, "line %lld: binary data in a text dump", (long long)ln);
  if (starts(p, n, "goroutine ") && n > 10 && p[10] >= '0' && p[10] <= '9') {
    if (end_block(ps, e) < 0)
      return -1;
    new_block(ps);
    ps->block_line = ln;
    if (parse_header(p, n, &ps->b, &ps->r, ln, e) < 0)
      return -1;
    ps->st = IN_STACK;
    return 0;
  }
  if (n == 0)
    return end_block(ps, e);
  switch (ps->st) {
  case OUTSIDE:
    if (foreign_line(p, n))
      return lk_fail(e, "line %lld: another format's line in a debug=2 dump (mixed input?)",
                     (long long)ln);
    return 0; /* preamble, registers, "exit status 2" */
  case WANT_FILE:
  case WANT_CREATED_FILE: {
    if (p[0] != '\t')
      return lk_fail(e, "line %lld: expected \"\\tfile:line\" after a function in goroutine %lld",
                     (long long)ln, (long long)ps->r.id);
    size_t file;
    int line;
    if (!parse_fileline(p, n, &ps->b, &file, &line))
      return lk_fail(e, "line %lld: bad \"file:line\" in goroutine %lld", (long long)ln,
                     (long long)ps->r.id);
    lk_rframe *f = ps->st == WANT_FILE ? &ps->b.fr[ps->b.nfr - 1] : &ps->b.created;
    f->file = file;
    f->line = line;
    ps->st = ps->st == WANT_FILE ? IN_STACK : ANCESTORS;
    return 0;
  }
  case ANCESTORS:
    /* After "created by": only ancestors' stacks ("[originating from
     * goroutine N]:" and their frames) may follow; they describe other
     * goroutines, so they do not join this one's stack. */
    if (starts(p, n, "[originating from goroutine") || p[0] == '\t' ||
        starts(p, n, "...additional frames elided...") || starts(p, n, "created by ") ||
        (p[n - 1] == ')' && memchr(p, '(', n)))
      return 0;
    return lk_fail(e, "line %lld: unexpected line after goroutine %lld's \"created by\"",
                   (long long)ln, (long long)ps->r.id);
  case IN_STACK: break;
  }
  if (starts(p, n, "...additional frames elided...")) {
    ps->r.elided = true;
    return 0;
  }
  if (starts(p, n, "created by ")) {
    const char *s = p + 11;
    size_t len = n - 11;
    const char *in = NULL;
    for (size_t k = 0; k + 14 <= len; k++)
      if (memcmp(s + k, " in goroutine ", 14) == 0)
        in = s + k;
    if (in) {
      size_t k = (size_t)(in - p) + 14;
      int64_t parent;
      if (parse_int(p, n, &k, &parent))
        ps->r.parent = parent;
      len = (size_t)(in - s);
    }
    ps->b.created = (lk_rframe){0};
    ps->b.created.func = lk_recbuf_str(&ps->b, s, len);
    ps->b.created.args = 0;
    ps->b.has_created = true;
    ps->st = WANT_CREATED_FILE;
    return 0;
  }
  if (starts(p, n, "[originating from goroutine")) {
    ps->st = ANCESTORS;
    return 0;
  }
  if (p[0] == '\t')
    return lk_fail(e, "line %lld: a file:line with no function above it", (long long)ln);
  lk_rframe *f = lk_recbuf_frame(&ps->b);
  if (!f)
    return lk_fail(e, "out of memory");
  if (!parse_funcline(p, n, &ps->b, f)) {
    ps->b.nfr--;
    if (foreign_line(p, n))
      return lk_fail(e, "line %lld: another format's line in a debug=2 dump (mixed input?)",
                     (long long)ln);
    /* After a whole frame, a line of another kind ends the block: "exit
     * status 2" or the signal's register dump follow the last frame
     * directly. Before any frame it cannot be a goroutine. */
    if (ps->b.nfr == 0)
      return lk_fail(e, "line %lld: expected a function call \"pkg.Func(...)\" in goroutine %lld",
                     (long long)ln, (long long)ps->r.id);
    return end_block(ps, e);
  }
  ps->st = WANT_FILE;
  return 0;
}

static int parse_debug2(parser *ps, lk_err *e) {
  const char *p;
  size_t n;
  int rc;
  while ((rc = lk_lines_next(ps->lr, &p, &n, e)) > 0)
    if (debug2_line(ps, p, n, e) < 0)
      return -1;
  if (rc < 0)
    return -1;
  if (end_block(ps, e) < 0)
    return -1;
  if (ps->emitted == 0)
    return lk_fail(e, "no goroutines in the dump");
  return 0;
}

/* "#\t0x45d9e0\tmain.leak+0x20\t/src/app.go:15" */
static int debug1_frame(parser *ps, const char *p, size_t n, lk_err *e) {
  int64_t ln = ps->lr->lineno;
  const char *t1 = memchr(p + 2, '\t', n - 2);
  if (!t1)
    return lk_fail(e, "line %lld: bad frame line (expected \"#\\tpc\\tfunc+off\\tfile:line\")",
                   (long long)ln);
  const char *fn = t1 + 1;
  const char *t2 = memchr(fn, '\t', (size_t)(p + n - fn));
  const char *fend = t2 ? t2 : p + n;
  const char *plus = fend;
  while (plus > fn && plus[-1] != '+')
    plus--;
  if (plus > fn && starts(plus, (size_t)(fend - plus), "0x"))
    fend = plus - 1;
  lk_rframe *f = lk_recbuf_frame(&ps->b);
  if (!f)
    return lk_fail(e, "out of memory");
  f->func = lk_recbuf_str(&ps->b, fn, (size_t)(fend - fn));
  if (t2 && !parse_fileline(t2, (size_t)(p + n - t2), &ps->b, &f->file, &f->line))
    return lk_fail(e, "line %lld: bad \"file:line\" in a frame line", (long long)ln);
  return 0;
}

static int parse_debug1(parser *ps, lk_err *e) {
  const char *p;
  size_t n;
  int rc;
  int64_t total = -1, sum = 0;
  bool in_rec = false;
  while ((rc = lk_lines_next(ps->lr, &p, &n, e)) > 0) {
    int64_t ln = ps->lr->lineno;
    if (memchr(p, '\0', n))
      return lk_fail(e, "line %lld: binary data in a text dump", (long long)ln);
    if (total < 0) {
      size_t k = 25;
      if (n == 0)
        continue;
      if (!starts(p, n, "goroutine profile: total ") || !parse_int(p, n, &k, &total))
        return lk_fail(e, "line %lld: expected \"goroutine profile: total N\"", (long long)ln);
      continue;
    }
    if (starts(p, n, "--- Memory map:")) {
      /* pprof's legacy text ends with the process's mappings (tether
       * writes them so that go tool pprof names the frames of a PIE
       * binary): no record follows. */
      while ((rc = lk_lines_next(ps->lr, &p, &n, e)) > 0)
        ;
      break;
    }
    if (n == 0 || (p[0] >= '0' && p[0] <= '9')) {
      if (in_rec) {
        if (lk_recbuf_finish(&ps->b, &ps->r) < 0)
          return lk_fail(e, "out of memory");
        if (ps->sink->emit(ps->sink->ctx, &ps->r, e) < 0)
          return -1;
        in_rec = false;
      }
      if (n == 0)
        continue;
      new_block(ps);
      size_t k = 0;
      if (!parse_int(p, n, &k, &ps->r.count) || !starts(p + k, n - k, " @"))
        return lk_fail(e, "line %lld: expected \"count @ pc...\"", (long long)ln);
      if (ps->r.count > INT64_MAX - sum)
        return lk_fail(e, "line %lld: count overflows", (long long)ln);
      sum += ps->r.count;
      in_rec = true;
      continue;
    }
    if (!in_rec) {
      if (starts(p, n, "goroutine ") && n > 10 && p[10] >= '0' && p[10] <= '9')
        return lk_fail(e, "line %lld: a debug=2 block in a debug=1 profile (mixed input?)",
                       (long long)ln);
      return lk_fail(e, "line %lld: expected \"count @ pc...\"", (long long)ln);
    }
    if (starts(p, n, "# labels:"))
      continue;
    if (starts(p, n, "#\t")) {
      if (debug1_frame(ps, p, n, e) < 0)
        return -1;
      continue;
    }
    return lk_fail(e, "line %lld: unexpected line in a debug=1 profile", (long long)ln);
  }
  if (rc < 0)
    return -1;
  if (total < 0)
    return lk_fail(e, "no \"goroutine profile: total N\" header");
  if (in_rec) {
    if (lk_recbuf_finish(&ps->b, &ps->r) < 0)
      return lk_fail(e, "out of memory");
    if (ps->sink->emit(ps->sink->ctx, &ps->r, e) < 0)
      return -1;
  }
  if (sum < total)
    return lk_fail(e,
                   "the header says %lld goroutines but the records hold %lld: truncated "
                   "profile?",
                   (long long)total, (long long)sum);
  return 0;
}

int lk_parse_gotext(lk_lines *lr, lk_format f, lk_sink *sink, lk_err *e) {
  parser ps = {.lr = lr, .sink = sink, .st = OUTSIDE};
  new_block(&ps);
  int rc = f == LK_FMT_GO_DEBUG1 ? parse_debug1(&ps, e) : parse_debug2(&ps, e);
  lk_recbuf_free(&ps.b);
  return rc;
}
