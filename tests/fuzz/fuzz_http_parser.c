/*
 * libFuzzer target for the HTTP/1.1 request parser (src/http/parser.c).
 *
 * Input: one byte that picks the limits (the defaults, or small ones so
 * that every limit is reachable), then bytes holding one or more pipelined
 * requests. For each request the parser is fed one-shot and a byte at a
 * time (tests/http_feed.h); the two must find the same thing. Beyond the
 * sanitizers, it checks what a server will rely on: a finished request
 * used at most the bytes given and at least its head, its spans lie inside
 * its head, its body stays within the limit, and an error carries one of
 * the documented status codes.
 *
 * Built and run by scripts/fuzz-http.sh (clang -fsanitize=fuzzer,...).
 */
#include <stdint.h>
#include <stdlib.h>

#include "http_feed.h"

static void require(bool ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "invariant broken: %s\n", what);
    abort();
  }
}

static void check_one(const char *in, size_t n, const tt_http_limits *lim, size_t *used) {
  feed_result a, b;
  feed(in, n, lim, false, &a);
  feed(in, n, lim, true, &b);
  require(feed_same(&a, &b), "one-shot and byte-at-a-time agree");
  require(a.body_in_input, "body data points into the input");
  require(a.body_len <= (size_t)lim->max_body, "body within max_body");
  if (a.rc == TT_HTTP_ERROR) {
    int s = a.status;
    require(s == 400 || s == 413 || s == 414 || s == 417 || s == 431 || s == 501 || s == 505,
            "documented status code");
    require(a.error != NULL, "an error says why");
  }
  if (a.rc == TT_HTTP_DONE)
    require(a.used > 0 && a.used <= n, "used within the input");
  /* Spans inside the head: checked on the parser itself. */
  tt_http_parser p;
  tt__http_parser_init(&p, lim);
  if (tt__http_parse_head(&p, in, n) == TT_HTTP_DONE) {
    require(p.head_len <= n, "head within the input");
    require(p.method.off + p.method.len <= p.head_len, "method inside the head");
    require(p.target.off + p.target.len <= p.head_len, "target inside the head");
    for (int i = 0; i < p.nfields; i++)
      require(p.fields[i].name.off + p.fields[i].name.len <= p.head_len &&
                  p.fields[i].value.off + p.fields[i].value.len <= p.head_len,
              "field inside the head");
    require(p.nfields <= lim->max_fields, "field count within max_fields");
    require(!(p.chunked && p.content_length >= 0), "never both framings");
  }
  *used = a.rc == TT_HTTP_DONE ? a.used : 0;
  feed_free(&a);
  feed_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  tt_http_limits lim = tt__http_default_limits;
  if (data[0] & 1)
    lim = (tt_http_limits){.max_line = 64, .max_head = 256, .max_fields = 4, .max_body = 64};
  const char *in = (const char *)data + 1;
  size_t n = size - 1, off = 0;
  /* Pipelined requests, one after another, while they parse. */
  for (int i = 0; i < 8 && off < n; i++) {
    size_t used;
    check_one(in + off, n - off, &lim, &used);
    if (used == 0)
      break;
    off += used;
  }
  return 0;
}
