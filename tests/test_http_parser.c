/*
 * test_http_parser: the HTTP/1.1 request parser (src/http/parser.c) against
 * the rules in docs/HTTP.md.
 *
 *  - valid requests: what was parsed (method, target, version, fields,
 *    framing, keep-alive, Expect), the decoded body, the bytes used;
 *  - malformed and smuggling-shaped requests, each with its status code;
 *  - every case, valid or not, fed one-shot and a byte at a time (in a
 *    buffer that moves on every call) must give the same record;
 *  - limits (request line, head, field count, body; chunk sizes that would
 *    overflow), pipelined requests, and the body handed out as pointers
 *    into the caller's bytes.
 */
#include "harness.h"

#include "http_feed.h"

#define L(s) s, sizeof(s) - 1

/* Parse `in` both ways; they must agree. Returns the one-shot record. */
static feed_result run(const char *in, size_t n, const tt_http_limits *lim) {
  feed_result a, b;
  feed(in, n, lim, false, &a);
  feed(in, n, lim, true, &b);
  CHECK_MSG(feed_same(&a, &b), "one-shot and byte-at-a-time differ on: %.*s",
            (int)(n < 200 ? n : 200), in);
  feed_free(&b);
  return a;
}

static void expect_ok(const char *in, size_t n, const char *summary, const char *body) {
  feed_result r = run(in, n, NULL);
  CHECK_MSG(r.rc == TT_HTTP_DONE, "rc %d status %d (%s) on: %.*s", r.rc, r.status,
            r.error ? r.error : "-", (int)(n < 200 ? n : 200), in);
  CHECK_STREQ(r.summary, summary);
  CHECK_EQ(r.used, n);
  CHECK_EQ(r.body_len, strlen(body));
  CHECK_STREQ(r.body ? r.body : "", body);
  CHECK(r.body_in_input);
  feed_free(&r);
}

static void expect_status_lim(const char *in, size_t n, int status, const tt_http_limits *lim) {
  feed_result r = run(in, n, lim);
  CHECK_MSG(r.rc == TT_HTTP_ERROR && r.status == status,
            "want %d, got rc %d status %d (%s) on: %.*s", status, r.rc, r.status,
            r.error ? r.error : "-", (int)(n < 200 ? n : 200), in);
  CHECK(r.error != NULL);
  feed_free(&r);
}

static void expect_status(const char *in, size_t n, int status) {
  expect_status_lim(in, n, status, NULL);
}

static void test_valid(void) {
  expect_ok(L("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            "GET / 1.1 cl=-1 chunked=0 ka=1 exp=0\nHost: a\n", "");
  /* HTTP/1.0: no Host needed, closes unless asked to keep alive. */
  expect_ok(L("GET /x?y=1 HTTP/1.0\r\n\r\n"), "GET /x?y=1 1.0 cl=-1 chunked=0 ka=0 exp=0\n", "");
  expect_ok(L("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
            "GET / 1.0 cl=-1 chunked=0 ka=1 exp=0\nConnection: Keep-Alive\n", "");
  expect_ok(L("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"),
            "GET / 1.0 cl=-1 chunked=0 ka=0 exp=0\nConnection: keep-alive, close\n", "");
  expect_ok(L("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade,  CLOSE \r\n\r\n"),
            "GET / 1.1 cl=-1 chunked=0 ka=0 exp=0\nHost: a\nConnection: upgrade,  CLOSE\n", "");
  /* Field values: OWS trimmed on both sides, obs-text and inner spaces kept. */
  expect_ok(L("GET / HTTP/1.1\r\nHost:a\r\nX-A: \t v a\xe9l \t\r\nX-Empty:\r\n\r\n"),
            "GET / 1.1 cl=-1 chunked=0 ka=1 exp=0\nHost: a\nX-A: v a\xe9l\nX-Empty: \n", "");
  /* Empty lines before the request line are skipped. */
  expect_ok(L("\r\n\r\nGET / HTTP/1.1\r\nhost: a\r\n\r\n"),
            "GET / 1.1 cl=-1 chunked=0 ka=1 exp=0\nhost: a\n", "");
  /* The other three forms of request-target. */
  expect_ok(L("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
            "OPTIONS * 1.1 cl=-1 chunked=0 ka=1 exp=0\nHost: a\n", "");
  expect_ok(L("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
            "CONNECT example.com:443 1.1 cl=-1 chunked=0 ka=1 exp=0\nHost: example.com:443\n", "");
  expect_ok(L("GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\n\r\n"),
            "GET http://example.com/a 1.1 cl=-1 chunked=0 ka=1 exp=0\nHost: example.com\n", "");
  /* Any token is a method; a higher 1.x minor is answered as 1.1. */
  expect_ok(L("M-SEARCH /~x HTTP/1.9\r\nHost: a\r\n\r\n"),
            "M-SEARCH /~x 1.1 cl=-1 chunked=0 ka=1 exp=0\nHost: a\n", "");
  /* Content-Length, in any case. */
  expect_ok(L("POST /p HTTP/1.1\r\nHost: a\r\ncontent-LENGTH: 5\r\n\r\nhello"),
            "POST /p 1.1 cl=5 chunked=0 ka=1 exp=0\nHost: a\ncontent-LENGTH: 5\n", "hello");
  expect_ok(L("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"),
            "POST /p 1.1 cl=0 chunked=0 ka=1 exp=0\nHost: a\nContent-Length: 0\n", "");
  expect_ok(L("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n1234567"),
            "POST /p 1.1 cl=7 chunked=0 ka=1 exp=0\nHost: a\nContent-Length: 007\n", "1234567");
  /* Chunked, with extensions (token and quoted values, BWS) and trailers. */
  expect_ok(L("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\nhello\r\n"
              "6 ; name = \"q\\\"u;o\" ;flag;x=tok\r\n world\r\n"
              "A\r\n0123456789\r\n"
              "0000\r\nX-Trailer: t\r\nX-Other:\r\n\r\n"),
            "POST /c 1.1 cl=-1 chunked=1 ka=1 exp=0\nHost: a\nTransfer-Encoding: chunked\n",
            "hello world0123456789");
  expect_ok(L("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,Chunked\r\n\r\n0\r\n\r\n"),
            "POST /c 1.1 cl=-1 chunked=1 ka=1 exp=0\nHost: a\nTransfer-Encoding: ,Chunked\n", "");
  expect_ok(L("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
              "1f\r\n0123456789abcdef0123456789abcde\r\n0\r\n\r\n"),
            "POST /c 1.1 cl=-1 chunked=1 ka=1 exp=0\nHost: a\nTransfer-Encoding: chunked\n",
            "0123456789abcdef0123456789abcde");
  /* Expect: 100-continue, only meant for HTTP/1.1. */
  expect_ok(L("PUT /u HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nok"),
            "PUT /u 1.1 cl=2 chunked=0 ka=1 exp=1\nHost: a\nExpect: 100-Continue\n"
            "Content-Length: 2\n",
            "ok");
  expect_ok(L("PUT /u HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"),
            "PUT /u 1.0 cl=2 chunked=0 ka=0 exp=0\nExpect: 100-continue\nContent-Length: 2\n",
            "ok");
}

static void test_request_line(void) {
  expect_status(L("GET / HTTP/1.1\nHost: a\r\n\r\n"), 400);         /* bare LF */
  expect_status(L("GET / HTTP/1.1\r\nHost: a\n\r\n"), 400);         /* bare LF */
  expect_status(L("GET / HTTP/1.1\r\nHost: a\r\n\n"), 400);         /* bare LF ends head */
  expect_status(L("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);     /* bare LF before */
  expect_status(L("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n"), 400);     /* bare CR */
  expect_status(L("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);      /* two spaces */
  expect_status(L("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);      /* trailing space */
  expect_status(L("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);      /* tab */
  expect_status(L("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);       /* not a token */
  expect_status(L(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);      /* leading space */
  expect_status(L("GET /a\x01z HTTP/1.1\r\nHost: a\r\n\r\n"), 400); /* control byte */
  expect_status(L("GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);   /* non-ASCII */
  expect_status(L("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"), 400);    /* space in target */
  expect_status(L("GET HTTP/1.1\r\nHost: a\r\n\r\n"), 400);         /* no target */
  expect_status(L("GET /\r\nHost: a\r\n\r\n"), 400);                /* HTTP/0.9 form */
  expect_status(L("GET / http/1.1\r\nHost: a\r\n\r\n"), 400);
  expect_status(L("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), 400);
  expect_status(L("GET / HTTP/1\r\nHost: a\r\n\r\n"), 400);
  expect_status(L("GET / HTTP/x.1\r\nHost: a\r\n\r\n"), 400);
  expect_status(L("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
  expect_status(L("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), 505);
  expect_status(L("GET / HTTP/3.0\r\nHost: a\r\n\r\n"), 505);
  expect_status(L("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), 400);      /* '*' not for GET */
  expect_status(L("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n"), 400); /* not authority-form */
  expect_status(L("GET foo HTTP/1.1\r\nHost: a\r\n\r\n"), 400);    /* relative */
  expect_status(L("GET 1http://x/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  expect_status(L("\x00GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

static void test_fields(void) {
  expect_status(L("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  folded\r\n\r\n"), 400); /* obs-fold */
  expect_status(L("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\tfolded\r\n\r\n"), 400);
  expect_status(L("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), 400); /* space after start line */
  expect_status(L("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400); /* space before colon */
  expect_status(L("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), 400);
  expect_status(L("GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n"), 400); /* empty name */
  expect_status(L("GET / HTTP/1.1\r\nHost a\r\n\r\n"), 400);         /* no colon */
  expect_status(L("GET / HTTP/1.1\r\nX(y): a\r\nHost: a\r\n\r\n"), 400);
  expect_status(L("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), 400); /* bare CR in value */
  expect_status(L("GET / HTTP/1.1\r\nHost: a\x00"
                  "b\r\n\r\n"),
                400);                                             /* NUL */
  expect_status(L("GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n"), 400); /* DEL */
  expect_status(L("GET / HTTP/1.1\r\nX: \x1b[31m\r\nHost: a\r\n\r\n"), 400);
  /* Host: exactly one for HTTP/1.1. */
  expect_status(L("GET / HTTP/1.1\r\n\r\n"), 400);
  expect_status(L("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), 400);
  /* Connection elements are tokens. */
  expect_status(L("GET / HTTP/1.1\r\nHost: a\r\nConnection: clo se\r\n\r\n"), 400);
  /* An expectation other than 100-continue. */
  expect_status(L("GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n"), 417);
  expect_status(L("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\n\r\n"), 417);
}

static void test_framing(void) {
  /* Content-Length: one field, one value, digits only. */
  expect_status(
      L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"), 400);
  expect_status(
      L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"), 400);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello"), 400);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,6\r\n\r\nhello"), 400);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello"), 400);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello"), 400);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\nhello"), 400);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"), 400);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1e3\r\n\r\n"), 400);
  /* Sizes past the limit, and past any integer: 413, never a wrap. */
  expect_status(
      L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999999\r\n\r\n"),
      413);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551621\r\n\r\n"),
                413);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 8388609\r\n\r\n"), 413);
  /* Transfer-Encoding with Content-Length is how requests are smuggled. */
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: "
                  "chunked\r\n\r\n0\r\n\r\n"),
                400);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: "
                  "3\r\n\r\n0\r\n\r\n"),
                400);
  expect_status(
      L("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc"),
      400);
  expect_status(L("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400);
  /* Codings: only chunked is known; it comes once and last. */
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), 501);
  expect_status(
      L("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"), 501);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), 400);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
                  "chunked\r\n\r\n"),
                400);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
                400);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n"), 400);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n"), 400);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n"), 400);
  expect_status(L("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n"), 501);
}

#define CHUNKED_HEAD "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

static void test_chunks(void) {
  expect_status(L(CHUNKED_HEAD "zz\r\nhi\r\n0\r\n\r\n"), 400);
  expect_status(L(CHUNKED_HEAD "\r\nhi\r\n0\r\n\r\n"), 400); /* no size */
  expect_status(L(CHUNKED_HEAD "-2\r\nhi\r\n0\r\n\r\n"), 400);
  expect_status(L(CHUNKED_HEAD "0x2\r\nhi\r\n0\r\n\r\n"), 400);
  expect_status(L(CHUNKED_HEAD "+2\r\nhi\r\n0\r\n\r\n"), 400);
  expect_status(L(CHUNKED_HEAD "2\nhi\r\n0\r\n\r\n"), 400); /* bare LF */
  expect_status(L(CHUNKED_HEAD "2\r\nhi\n0\r\n\r\n"), 400);
  expect_status(L(CHUNKED_HEAD "2\r\nhiX\r\n0\r\n\r\n"), 400); /* data longer than size */
  expect_status(L(CHUNKED_HEAD "2\r\nhi\r\n0\r\n\n"), 400);
  expect_status(L(CHUNKED_HEAD "2\r\nhi\r\n0\r\n\rX"), 400);
  /* Sizes that would overflow any integer, or just pass the limit. */
  expect_status(L(CHUNKED_HEAD "fffffffffffffffffffffff\r\n"), 413);
  expect_status(L(CHUNKED_HEAD "10000000000000001\r\nx\r\n"), 413);
  expect_status(L(CHUNKED_HEAD "800001\r\n"), 413);
  /* Extensions. */
  expect_status(L(CHUNKED_HEAD "2;\r\nhi\r\n0\r\n\r\n"), 400);      /* no name */
  expect_status(L(CHUNKED_HEAD "2;a=\r\nhi\r\n0\r\n\r\n"), 400);    /* no value */
  expect_status(L(CHUNKED_HEAD "2;a=\"x\r\nhi\r\n0\r\n\r\n"), 400); /* open quote */
  expect_status(L(CHUNKED_HEAD "2;a b\r\nhi\r\n0\r\n\r\n"), 400);
  expect_ok(L(CHUNKED_HEAD "2 \t\r\nhi\r\n0\r\n\r\n"), /* BWS alone is allowed */
            "POST / 1.1 cl=-1 chunked=1 ka=1 exp=0\nHost: a\nTransfer-Encoding: chunked\n", "hi");
  expect_status(L(CHUNKED_HEAD "2;a=\"\x01\"\r\nhi\r\n0\r\n\r\n"), 400);
  /* Trailers. */
  expect_status(L(CHUNKED_HEAD "0\r\nX: 1\r\n folded\r\n\r\n"), 400);
  expect_status(L(CHUNKED_HEAD "0\r\nX : 1\r\n\r\n"), 400);
  expect_status(L(CHUNKED_HEAD "0\r\nX\r\n\r\n"), 400);
  expect_status(L(CHUNKED_HEAD "0\r\nX: a\x00\r\n\r\n"), 400);
  expect_status(L(CHUNKED_HEAD "0\r\nX: a\n\r\n"), 400);
}

static void test_limits(void) {
  const tt_http_limits small = {.max_line = 32, .max_head = 128, .max_fields = 3, .max_body = 10};
  /* Request line: 32 bytes with its CRLF is the most. */
  feed_result r = run(L("GET /2345678901234567 HTTP/1.1\r\nHost: a\r\n\r\n"), &small);
  CHECK_EQ(r.rc, TT_HTTP_DONE);
  feed_free(&r);
  expect_status_lim(L("GET /23456789012345678 HTTP/1.1\r\nHost: a\r\n\r\n"), 414, &small);
  /* ...also while the line is still arriving. */
  expect_status_lim(L("GET /23456789012345678901234567890123"), 414, &small);
  /* Head bytes and field count. */
  expect_status_lim(
      L("GET / HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789012345678901234567890123456789"
        "0123456789012345678901234567890123456789012345678901234567890\r\n\r\n"),
      431, &small);
  expect_status_lim(
      L("GET / HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789012345678901234567890123456789"
        "01234567890123456789012345678901234567890123456789012345678901234567"),
      431, &small);
  r = run(L("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n"), &small);
  CHECK_EQ(r.rc, TT_HTTP_DONE);
  feed_free(&r);
  expect_status_lim(L("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), 431, &small);
  /* Body: Content-Length and chunked. */
  r = run(L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789"), &small);
  CHECK_EQ(r.rc, TT_HTTP_DONE);
  CHECK_EQ(r.body_len, 10);
  feed_free(&r);
  expect_status_lim(L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n0123456789a"), 413,
                    &small);
  r = run(L(CHUNKED_HEAD "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n"), &small);
  CHECK_EQ(r.rc, TT_HTTP_DONE);
  CHECK_STREQ(r.body, "0123456789");
  feed_free(&r);
  expect_status_lim(L(CHUNKED_HEAD "5\r\n01234\r\n6\r\n567890\r\n0\r\n\r\n"), 413, &small);
  /* Trailer section: bytes (max_head) and fields (max_fields). */
  expect_status_lim(L("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
                      "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"),
                    431, &small);
  char big[512];
  int n = snprintf(big, sizeof big, "%s0\r\nX: %0130d\r\n\r\n", CHUNKED_HEAD, 0);
  expect_status_lim(big, (size_t)n, 431, &small);
  /* A chunk-size line longer than 4 KiB, by its extensions. */
  char *ext = malloc(8192);
  n = snprintf(ext, 8192, "%s1;a=", CHUNKED_HEAD);
  memset(ext + n, 'x', 5000);
  n += 5000;
  n += snprintf(ext + n, 8192 - (size_t)n, "\r\nz\r\n0\r\n\r\n");
  expect_status(ext, (size_t)n, 400);
  free(ext);

  /* The defaults: 8 KiB request line, 64 KiB head, 100 fields. */
  char *huge = malloc(80 * 1024);
  n = snprintf(huge, 80 * 1024, "GET /");
  memset(huge + n, 'a', 9000);
  n += 9000;
  n += snprintf(huge + n, 1024, " HTTP/1.1\r\nHost: a\r\n\r\n");
  expect_status(huge, (size_t)n, 414);
  n = snprintf(huge, 80 * 1024, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
  memset(huge + n, 'v', 70 * 1024);
  n += 70 * 1024;
  n += snprintf(huge + n, 1024, "\r\n\r\n");
  expect_status(huge, (size_t)n, 431);
  n = snprintf(huge, 80 * 1024, "GET / HTTP/1.1\r\nHost: a\r\n");
  for (int i = 0; i < 100; i++)
    n += snprintf(huge + n, 80 * 1024 - (size_t)n, "X-%d: %d\r\n", i, i);
  n += snprintf(huge + n, 80 * 1024 - (size_t)n, "\r\n");
  expect_status(huge, (size_t)n, 431);
  free(huge);
}

/* A head fed a byte at a time is scanned once: every call resumes at the
 * byte the last one stopped at (no quadratic re-scan). */
static void test_incremental_scan(void) {
  size_t cap = 60 * 1024;
  char *buf = malloc(cap);
  int n = snprintf(buf, cap, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
  memset(buf + n, 'v', cap - (size_t)n - 4);
  memcpy(buf + cap - 4, "\r\n\r\n", 4);
  tt_http_parser p;
  tt__http_parser_init(&p, NULL);
  bool resumed = true;
  int rc = TT_HTTP_MORE;
  size_t k;
  for (k = 1; k <= cap && rc == TT_HTTP_MORE; k++) {
    size_t before = p.scan;
    rc = tt__http_parse_head(&p, buf, k);
    if (before != k - 1 || (rc == TT_HTTP_MORE && p.scan != k))
      resumed = false;
  }
  CHECK(resumed);
  CHECK_EQ(rc, TT_HTTP_DONE);
  CHECK_EQ(p.head_len, cap);
  CHECK_EQ(p.fields[1].value.len, cap - (size_t)n - 4);
  free(buf);
}

static void test_incomplete(void) {
  feed_result r = run(L("GET / HTTP/1.1\r\nHost: a\r\n"), NULL);
  CHECK_EQ(r.rc, TT_HTTP_MORE);
  feed_free(&r);
  r = run(L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel"), NULL);
  CHECK_EQ(r.rc, TT_HTTP_MORE);
  CHECK_STREQ(r.body, "hel");
  feed_free(&r);
  r = run(L(CHUNKED_HEAD "5;a=\"b"), NULL);
  CHECK_EQ(r.rc, TT_HTTP_MORE);
  feed_free(&r);
  r = run(L(CHUNKED_HEAD "400000\r\n"), NULL); /* 4 MiB chunk: within the limit */
  CHECK_EQ(r.rc, TT_HTTP_MORE);
  feed_free(&r);
  r = run(L(CHUNKED_HEAD "0\r\nX: 1\r\n"), NULL);
  CHECK_EQ(r.rc, TT_HTTP_MORE);
  feed_free(&r);
}

/* Pipelined requests: each reports the bytes it used, and the next starts
 * right there. */
static void test_pipelining(void) {
  static const char in[] = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
                           "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                           "POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "3\r\ndef\r\n0\r\n\r\n"
                           "GET /4 HTTP/1.0\r\n\r\n";
  static const char *const want[] = {"GET /1 1.1", "POST /2 1.1", "POST /3 1.1", "GET /4 1.0"};
  static const char *const body[] = {"", "abc", "def", ""};
  size_t off = 0, n = sizeof in - 1;
  int i = 0;
  while (off < n && i < 4) {
    feed_result r = run(in + off, n - off, NULL);
    CHECK_EQ(r.rc, TT_HTTP_DONE);
    CHECK_MSG(strncmp(r.summary, want[i], strlen(want[i])) == 0, "request %d: %s", i, r.summary);
    CHECK_STREQ(r.body ? r.body : "", body[i]);
    CHECK(r.used > 0);
    off += r.used;
    feed_free(&r);
    i++;
  }
  CHECK_EQ(i, 4);
  CHECK_EQ(off, n);
}

/* Body data comes out as pointers into the caller's bytes, and the head's
 * spans are offsets into its buffer. */
static void test_zero_copy(void) {
  static const char in[] = CHUNKED_HEAD "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  tt_http_parser p;
  tt__http_parser_init(&p, NULL);
  CHECK_EQ(tt__http_parse_head(&p, in, sizeof in - 1), TT_HTTP_DONE);
  CHECK(tt__http_str(in, p.method) == in);
  CHECK(tt__http_str(in, p.target) == in + 5);
  const tt_http_field *te = tt__http_field_get(&p, in, "TRANSFER-encoding");
  CHECK(te != NULL && te->value.len == 7 && memcmp(in + te->value.off, "chunked", 7) == 0);
  CHECK(tt__http_field_get(&p, in, "content-length") == NULL);
  CHECK(tt__http_has_body(&p));
  const char *body = in + p.head_len;
  size_t len = sizeof in - 1 - p.head_len, used;
  const char *d;
  size_t dn;
  CHECK_EQ(tt__http_parse_body(&p, body, len, &used, &d, &dn), TT_HTTP_MORE);
  CHECK(d == body + 3 && dn == 3);
  CHECK_EQ(tt__http_parse_body(&p, body + used, len - used, &used, &d, &dn), TT_HTTP_MORE);
  CHECK(d == body + 11 && dn == 2);
  CHECK_EQ(tt__http_parse_body(&p, body + 13, len - 13, &used, &d, &dn), TT_HTTP_DONE);
  CHECK_EQ(dn, 0);
  CHECK_EQ(13 + used, len);
  /* After an error every call keeps saying so. */
  tt__http_parser_init(&p, NULL);
  CHECK_EQ(tt__http_parse_head(&p, L("GET / HTTP/1.1\nHost: a\n\n")), TT_HTTP_ERROR);
  CHECK_EQ(p.status, 400);
  CHECK(!p.keep_alive);
  CHECK_EQ(tt__http_parse_head(&p, L("GET / HTTP/1.1\nHost: a\n\n")), TT_HTTP_ERROR);
  CHECK_EQ(tt__http_parse_body(&p, "x", 1, &used, &d, &dn), TT_HTTP_ERROR);
}

int main(void) {
  tt_test_watchdog(300);
  test_valid();
  test_request_line();
  test_fields();
  test_framing();
  test_chunks();
  test_limits();
  test_incremental_scan();
  test_incomplete();
  test_pipelining();
  test_zero_copy();
  return TEST_REPORT();
}
