/*
 * bench_http_parser: the HTTP/1.1 request parser (src/http/parser.c)
 * beside Debian's libhttp-parser on the same bytes, run by hand (it is not
 * one of scripts/bench.sh's workloads; numbers in docs/BENCHMARKS.md).
 *
 * Five kinds of request, each repeated into a pipelined stream of about
 * 8 MiB: a minimal GET, curl's GET, a browser's GET (13 fields, cookies), a
 * POST with a 256-byte Content-Length body, and a chunked POST (4 chunks
 * with an extension, a trailer). Each parser walks the stream request by
 * request, keeping what a server keeps: ours its spans (always), the
 * other's callbacks store pointer and length of the target, each field name
 * and value and each piece of body. Median of 7 runs; one RESULT line per
 * parser and kind, in ns per request.
 */
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "http/parser.h"
#ifdef TT_HAVE_HTTP_PARSER
#include <http_parser.h>
#endif

#define RUNS 7
#define STREAM_BYTES (8u << 20)

static const char *const KINDS[][2] = {
    {"get_min", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
    {"get_curl", "GET /index.html?q=tether HTTP/1.1\r\nHost: example.com:8080\r\n"
                 "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"},
    {"get_browser",
     "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n"
     "Host: www.kittyhell.com\r\n"
     "User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_6_3; ja-JP-mac; rv:1.9.2.3) "
     "Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n"
     "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
     "Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n"
     "Accept-Encoding: gzip,deflate\r\n"
     "Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n"
     "Keep-Alive: 115\r\n"
     "Connection: keep-alive\r\n"
     "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "
     "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; "
     "__utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|"
     "utmcct=/reader/|utmcmd=referral\r\n"
     "Cache-Control: max-age=0\r\n"
     "Referer: http://www.kittyhell.com/\r\n"
     "DNT: 1\r\n"
     "Upgrade-Insecure-Requests: 1\r\n\r\n"},
    {"post_cl", NULL}, /* built in main: 256-byte body */
    {"post_chunked",
     "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     "Content-Type: application/octet-stream\r\n\r\n"
     "40;part=1\r\n0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n"
     "40\r\n0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n"
     "40\r\n0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n"
     "40\r\n0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n"
     "0\r\nX-Checksum: 1234\r\n\r\n"},
};
#define NKINDS (sizeof KINDS / sizeof KINDS[0])

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static volatile size_t g_sink;

/* Ours: every request of the stream; returns how many. */
static size_t run_ours(const char *buf, size_t len) {
  size_t off = 0, n = 0, sink = 0;
  tt_http_parser p;
  while (off < len) {
    tt__http_parser_init(&p, NULL);
    if (tt__http_parse_head(&p, buf + off, len - off) != TT_HTTP_DONE)
      bench_fail("http_parser", "ours: request %zu did not parse: %s", n, p.error);
    sink += p.target.len + (size_t)p.nfields;
    size_t at = off + p.head_len;
    for (;;) {
      const char *d;
      size_t dn, used;
      int rc = tt__http_parse_body(&p, buf + at, len - at, &used, &d, &dn);
      sink += dn;
      at += used;
      if (rc == TT_HTTP_DONE)
        break;
      if (rc != TT_HTTP_MORE || at >= len)
        bench_fail("http_parser", "ours: body of request %zu", n);
    }
    off = at;
    n++;
  }
  g_sink = sink;
  return n;
}

#ifdef TT_HAVE_HTTP_PARSER
typedef struct piece {
  const char *p;
  size_t n;
} piece;
typedef struct kept {
  piece url, names[32], values[32], body;
  int nnames, nvalues;
  size_t messages, sink;
} kept;

static int k_url(http_parser *hp, const char *at, size_t n) {
  kept *k = hp->data;
  k->url = (piece){at, n};
  return 0;
}
static int k_field(http_parser *hp, const char *at, size_t n) {
  kept *k = hp->data;
  k->names[k->nnames++ & 31] = (piece){at, n};
  return 0;
}
static int k_value(http_parser *hp, const char *at, size_t n) {
  kept *k = hp->data;
  k->values[k->nvalues++ & 31] = (piece){at, n};
  return 0;
}
static int k_body(http_parser *hp, const char *at, size_t n) {
  kept *k = hp->data;
  k->body = (piece){at, n};
  k->sink += n;
  return 0;
}
static int k_complete(http_parser *hp) {
  kept *k = hp->data;
  k->messages++;
  k->sink += k->url.n + (size_t)k->nnames;
  k->nnames = k->nvalues = 0;
  return 0;
}

static size_t run_theirs(const char *buf, size_t len) {
  static http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_url = k_url;
  s.on_header_field = k_field;
  s.on_header_value = k_value;
  s.on_body = k_body;
  s.on_message_complete = k_complete;
  http_parser hp;
  http_parser_init(&hp, HTTP_REQUEST);
  kept k = {0};
  hp.data = &k;
  size_t got = http_parser_execute(&hp, &s, buf, len);
  if (got != len || HTTP_PARSER_ERRNO(&hp) != HPE_OK)
    bench_fail("http_parser", "libhttp-parser stopped at %zu: %s", got,
               http_errno_name(HTTP_PARSER_ERRNO(&hp)));
  g_sink = k.sink;
  return k.messages;
}
#endif

static int64_t median_ns_per_request(size_t (*run)(const char *, size_t), const char *buf,
                                     size_t len, size_t want) {
  int64_t t[RUNS];
  for (int r = 0; r < RUNS; r++) {
    int64_t t0 = now_ns();
    size_t n = run(buf, len);
    t[r] = now_ns() - t0;
    if (n != want)
      bench_fail("http_parser", "parsed %zu requests, expected %zu", n, want);
  }
  qsort(t, RUNS, sizeof t[0], bench_cmp_i64);
  return t[RUNS / 2];
}

int main(void) {
  char post[512];
  memset(post, 0, sizeof post);
  int hn = snprintf(post, sizeof post,
                    "POST /api/items HTTP/1.1\r\nHost: api.example.com\r\n"
                    "Content-Type: application/json\r\nContent-Length: 256\r\n\r\n");
  memset(post + hn, 'x', 256);
  post[hn + 256] = 0;
  for (size_t k = 0; k < NKINDS; k++) {
    const char *req = KINDS[k][1] ? KINDS[k][1] : post;
    size_t rlen = strlen(req), count = STREAM_BYTES / rlen, len = count * rlen;
    char *buf = malloc(len);
    if (!buf)
      bench_fail("http_parser", "out of memory");
    for (size_t i = 0; i < count; i++)
      memcpy(buf + i * rlen, req, rlen);
    int64_t ours = median_ns_per_request(run_ours, buf, len, count);
    printf("RESULT name=http_parse_%s parser=tether value=%.1f unit=ns/request "
           "mb_per_s=%.0f bytes=%zu\n",
           KINDS[k][0], (double)ours / (double)count, (double)len / 1e6 / ((double)ours / 1e9),
           rlen);
#ifdef TT_HAVE_HTTP_PARSER
    int64_t theirs = median_ns_per_request(run_theirs, buf, len, count);
    printf("RESULT name=http_parse_%s parser=libhttp-parser value=%.1f unit=ns/request "
           "mb_per_s=%.0f ratio=%.2f\n",
           KINDS[k][0], (double)theirs / (double)count, (double)len / 1e6 / ((double)theirs / 1e9),
           (double)theirs / (double)ours);
#endif
    free(buf);
  }
  return 0;
}
