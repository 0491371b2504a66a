/*
 * test_http_oracle: our request parser against Debian's libhttp-parser
 * (node's former parser) on a corpus of valid requests: a hand-written set
 * plus 3,000 generated ones (fixed seed) with random methods, targets,
 * versions, fields, Connection values, and bodies by Content-Length or in
 * random chunks with extensions and trailers. Both parsers must agree on
 * the method, target, version, every field name and value, keep-alive, the
 * decoded body and the bytes each request used, also when the whole corpus
 * arrives as one pipelined stream. libhttp-parser is linked into this test
 * only, never into the library.
 */
#include "harness.h"

#ifdef TT_NO_HTTP_PARSER
/* Built without libhttp-parser: fail, saying what is missing. */
int main(void) {
  fprintf(stderr, "test_http_oracle: libhttp-parser is not installed: run scripts/deps.sh test "
                  "(Debian package libhttp-parser-dev)\n");
  return 1;
}
#else

#include <http_parser.h>
#include <stdarg.h>

#include "http_feed.h"

/* What both parsers can say about one request, as one comparable record. */
typedef struct record {
  char text[8192];
  size_t len;
  size_t used;
  bool ok;
} record;

static void rec_add(record *r, const char *s, size_t n) {
  if (n == 0)
    return; /* s may be NULL then (an empty body piece) */
  if (r->len + n >= sizeof r->text)
    n = sizeof r->text - 1 - r->len;
  memcpy(r->text + r->len, s, n);
  r->len += n;
  r->text[r->len] = 0;
}

static void rec_printf(record *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rec_printf(record *r, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  rec_add(r, tmp, (size_t)(n < (int)sizeof tmp ? n : (int)sizeof tmp - 1));
}

/* ---- ours ---------------------------------------------------------------- */

static void ours(const char *in, size_t n, record *r) {
  memset(r, 0, sizeof *r);
  tt_http_parser p;
  tt__http_parser_init(&p, NULL);
  if (tt__http_parse_head(&p, in, n) != TT_HTTP_DONE)
    return;
  rec_printf(r, "%.*s %.*s HTTP/1.%d ka=%d\n", (int)p.method.len, in + p.method.off,
             (int)p.target.len, in + p.target.off, p.version_minor, p.keep_alive);
  for (int i = 0; i < p.nfields; i++) {
    rec_add(r, in + p.fields[i].name.off, p.fields[i].name.len);
    rec_add(r, ": ", 2);
    rec_add(r, in + p.fields[i].value.off, p.fields[i].value.len);
    rec_add(r, "\n", 1);
  }
  rec_add(r, "body=", 5);
  size_t at = p.head_len;
  for (;;) {
    const char *d;
    size_t dn, used;
    int rc = tt__http_parse_body(&p, in + at, n - at, &used, &d, &dn);
    rec_add(r, d, dn);
    at += used;
    if (rc == TT_HTTP_DONE)
      break;
    if (rc == TT_HTTP_ERROR || at >= n)
      return;
  }
  r->used = at;
  r->ok = true;
}

/* ---- libhttp-parser --------------------------------------------------- */

typedef struct oracle_state {
  record *r;     /* the request line, then the fields, then the body */
  record url;    /* the target, which may come in pieces */
  record fields; /* name: value lines, built from pieces */
  int last;      /* 1: a field name came last, 2: a value */
  bool done;
} oracle_state;

static int o_url(http_parser *hp, const char *at, size_t n) {
  oracle_state *st = hp->data;
  rec_add(&st->url, at, n);
  return 0;
}

static int o_field(http_parser *hp, const char *at, size_t n) {
  oracle_state *st = hp->data;
  if (st->last == 2)
    rec_add(&st->fields, "\n", 1);
  st->last = 1;
  rec_add(&st->fields, at, n);
  return 0;
}

static int o_value(http_parser *hp, const char *at, size_t n) {
  oracle_state *st = hp->data;
  if (st->last == 1)
    rec_add(&st->fields, ": ", 2);
  st->last = 2;
  rec_add(&st->fields, at, n);
  return 0;
}

static int o_headers_complete(http_parser *hp) {
  oracle_state *st = hp->data;
  if (st->last == 1) /* a field with an empty value: no value callback */
    rec_add(&st->fields, ": ", 2);
  if (st->last != 0)
    rec_add(&st->fields, "\n", 1);
  rec_printf(st->r, "%s %s HTTP/%d.%d ka=%d\n", http_method_str(hp->method), st->url.text,
             hp->http_major, hp->http_minor, http_should_keep_alive(hp));
  rec_add(st->r, st->fields.text, st->fields.len);
  rec_add(st->r, "body=", 5);
  return 0;
}

static int o_body(http_parser *hp, const char *at, size_t n) {
  oracle_state *st = hp->data;
  rec_add(st->r, at, n);
  return 0;
}

static int o_complete(http_parser *hp) {
  oracle_state *st = hp->data;
  st->done = true;
  http_parser_pause(hp, 1); /* one request per call: nparsed ends it */
  return 0;
}

static void oracle(const char *in, size_t n, record *r) {
  memset(r, 0, sizeof *r);
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_url = o_url;
  s.on_header_field = o_field;
  s.on_header_value = o_value;
  s.on_headers_complete = o_headers_complete;
  s.on_body = o_body;
  s.on_message_complete = o_complete;
  http_parser hp;
  http_parser_init(&hp, HTTP_REQUEST);
  static oracle_state st;
  memset(&st, 0, sizeof st);
  st.r = r;
  hp.data = &st;
  size_t got = http_parser_execute(&hp, &s, in, n);
  if (!st.done || (HTTP_PARSER_ERRNO(&hp) != HPE_OK && HTTP_PARSER_ERRNO(&hp) != HPE_PAUSED))
    return;
  r->used = got;
  r->ok = true;
}

/* ---- the corpus ----------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

static const char TCHARS[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";
static const char PCHARS[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@%/";

typedef struct gen {
  char *buf;
  size_t len, cap;
} gen;

static void put(gen *g, const char *s, size_t n) {
  if (g->len + n > g->cap) {
    g->cap = (g->len + n) * 2;
    g->buf = realloc(g->buf, g->cap);
    if (!g->buf)
      abort();
  }
  memcpy(g->buf + g->len, s, n);
  g->len += n;
}
static void PUTS(gen *g, const char *s) { put(g, s, strlen(s)); }

static void put_from(gen *g, const char *set, int min, int max) {
  int n = min + (int)rnd((uint32_t)(max - min + 1));
  for (int i = 0; i < n; i++)
    put(g, &set[rnd((uint32_t)strlen(set))], 1);
}

/* A field name that is none of those with meaning for framing. */
static void put_name(gen *g) {
  static const char *const common[] = {"User-Agent",   "Accept",        "Accept-Language", "Cookie",
                                       "X-Request-Id", "Cache-Control", "Referer",         "x-a"};
  if (rnd(2)) {
    PUTS(g, common[rnd(8)]);
  } else {
    PUTS(g, "X-");
    put_from(g, TCHARS, 1, 20);
  }
}

static void put_value(gen *g) {
  int n = (int)rnd(40);
  for (int i = 0; i < n; i++) {
    char c = (char)(0x21 + rnd(0x7e - 0x21 + 1));
    if (i > 0 && i < n - 1 && rnd(8) == 0)
      c = ' ';
    put(g, &c, 1);
  }
}

static void generate(gen *g) {
  static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"};
  bool v11 = rnd(4) != 0;
  const char *m = methods[rnd(7)];
  PUTS(g, m);
  PUTS(g, " /");
  put_from(g, PCHARS, 0, 60);
  if (rnd(2)) {
    PUTS(g, "?");
    put_from(g, PCHARS, 0, 40);
  }
  PUTS(g, v11 ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
  int body = rnd(3); /* 0 none, 1 Content-Length, 2 chunked (1.1 only) */
  if (body == 2 && !v11)
    body = 1;
  int nf = (int)rnd(10), host_at = v11 || rnd(2) ? (int)rnd((uint32_t)nf + 1) : -1;
  /* Connection: 0 none, 1 close, 2 keep-alive, 3 both. Both on HTTP/1.0
   * is left out: libhttp-parser keeps such a connection alive, where
   * RFC 9112 9.3 (and this parser) let "close" win. */
  int conn = (int)rnd(v11 ? 4 : 3);
  char blen[32];
  size_t body_len = rnd(4) == 0 ? 0 : rnd(3000);
  for (int i = 0; i <= nf; i++) {
    if (i == host_at) {
      PUTS(g, rnd(2) ? "Host: " : "host:");
      put_from(g, "abcdefghijklmnopqrstuvwxyz.", 1, 20);
      PUTS(g, "\r\n");
    }
    if (i == nf)
      break;
    put_name(g);
    PUTS(g, rnd(2) ? ": " : ":");
    put_value(g);
    PUTS(g, "\r\n");
  }
  if (conn == 1)
    PUTS(g, "Connection: close\r\n");
  else if (conn == 2)
    PUTS(g, "Connection: keep-alive\r\n");
  else if (conn == 3)
    PUTS(g, "Connection: keep-alive, close\r\n");
  if (body == 1) {
    snprintf(blen, sizeof blen, "Content-Length: %zu\r\n", body_len);
    PUTS(g, blen);
  } else if (body == 2) {
    PUTS(g, "Transfer-Encoding: chunked\r\n");
  }
  PUTS(g, "\r\n");
  if (body == 1) {
    for (size_t i = 0; i < body_len; i++) {
      char c = (char)rnd(256);
      put(g, &c, 1);
    }
  } else if (body == 2) {
    size_t left = body_len;
    while (left > 0) {
      size_t c = 1 + rnd((uint32_t)(left < 700 ? left : 700));
      snprintf(blen, sizeof blen, rnd(2) ? "%zx" : "%zX", c);
      PUTS(g, blen);
      if (rnd(3) == 0) {
        PUTS(g, ";");
        put_from(g, TCHARS, 1, 8);
        if (rnd(2)) {
          PUTS(g, "=");
          put_from(g, TCHARS, 1, 8);
        }
      }
      PUTS(g, "\r\n");
      for (size_t i = 0; i < c; i++) {
        char b = (char)rnd(256);
        put(g, &b, 1);
      }
      PUTS(g, "\r\n");
      left -= c;
    }
    PUTS(g, "0\r\n");
    if (rnd(3) == 0) {
      put_name(g);
      PUTS(g, ": ");
      put_value(g);
      PUTS(g, "\r\n");
    }
    PUTS(g, "\r\n");
  }
}

static const char *const HAND[] = {
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /index.html?q=%20x&y=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n\r\n",
    "GET / HTTP/1.0\r\n\r\n",
    "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    "Content-Length: 11\r\n\r\na=1&b=2&c=3",
    "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n",
    "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    "4;a=b\r\nWiki\r\n0\r\nExpires: never\r\n\r\n",
    "PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    "DELETE /r/1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer abc.def\r\n\r\n",
    "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET http://example.com:8080/p?q HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
    "HEAD /h HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n",
};

static void compare(const char *in, size_t n, const char *what) {
  record a, b;
  ours(in, n, &a);
  oracle(in, n, &b);
  CHECK_MSG(a.ok && b.ok, "%s: ours %d, libhttp-parser %d on: %.*s", what, a.ok, b.ok,
            (int)(n < 300 ? n : 300), in);
  CHECK_MSG(a.len == b.len && memcmp(a.text, b.text, a.len) == 0,
            "%s: records differ\n--- ours:\n%.*s\n--- libhttp-parser:\n%.*s", what,
            (int)(a.len < 600 ? a.len : 600), a.text, (int)(b.len < 600 ? b.len : 600), b.text);
  CHECK_MSG(a.used == b.used && a.used == n, "%s: used %zu / %zu of %zu", what, a.used, b.used, n);
  /* Ours also a byte at a time (small requests: the feed is quadratic). */
  if (n < 2048) {
    feed_result x, y;
    feed(in, n, NULL, false, &x);
    feed(in, n, NULL, true, &y);
    CHECK(feed_same(&x, &y));
    feed_free(&x);
    feed_free(&y);
  }
}

int main(void) {
  tt_test_watchdog(300);
  for (size_t i = 0; i < sizeof HAND / sizeof HAND[0]; i++)
    compare(HAND[i], strlen(HAND[i]), "hand-written");

  /* Generated requests, one by one and then all in one pipelined stream. */
  gen all = {0};
  size_t *ends = malloc(3000 * sizeof *ends);
  for (int i = 0; i < 3000; i++) {
    gen g = {0};
    generate(&g);
    compare(g.buf, g.len, "generated");
    put(&all, g.buf, g.len);
    ends[i] = all.len;
    free(g.buf);
  }
  size_t off = 0;
  int same = 0;
  for (int i = 0; i < 3000; i++) {
    record a, b;
    ours(all.buf + off, all.len - off, &a);
    oracle(all.buf + off, all.len - off, &b);
    if (a.ok && b.ok && a.used == b.used && off + a.used == ends[i] && a.len == b.len &&
        memcmp(a.text, b.text, a.len) == 0)
      same++;
    else
      break;
    off += a.used;
  }
  CHECK_EQ(same, 3000);
  CHECK_EQ(off, all.len);
  free(all.buf);
  free(ends);
  return TEST_REPORT();
}

#endif /* TT_NO_HTTP_PARSER */
