/*
 * Feeding one request to the parser (src/http/parser.h) in two ways, and
 * writing down everything it found, so that the ways can be compared:
 *
 *   one-shot      the whole input at once;
 *   byte-at-a-time  the head grows by one byte per call, each time in a
 *                 freshly allocated buffer (the parser keeps offsets, so a
 *                 moved buffer must not matter, and ASan sees any stale
 *                 pointer), then the body one byte per call.
 *
 * The record (struct feed_result) is a text summary plus the decoded body,
 * compared with feed_same(). Used by test_http_parser, test_http_oracle
 * and the fuzz target.
 */
#ifndef TT_TEST_HTTP_FEED_H
#define TT_TEST_HTTP_FEED_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

typedef struct feed_result {
  int rc;             /* TT_HTTP_DONE (complete request), MORE or ERROR */
  int status;         /* on ERROR */
  const char *error;  /* on ERROR */
  size_t used;        /* bytes of the input the request used */
  char summary[4096]; /* method, target, version, fields, framing flags */
  char *body;         /* decoded body (malloc'd; NUL-terminated for printing) */
  size_t body_len;
  bool body_in_input; /* every piece of body data pointed into the input */
} feed_result;

static void feed_body_add(feed_result *r, const char *d, size_t n) {
  if (n == 0)
    return;
  char *nb = realloc(r->body, r->body_len + n + 1);
  if (!nb)
    abort();
  r->body = nb;
  memcpy(r->body + r->body_len, d, n);
  r->body_len += n;
  r->body[r->body_len] = 0;
}

static void feed_summarize(feed_result *r, const tt_http_parser *p, const char *buf) {
  int w =
      snprintf(r->summary, sizeof r->summary, "%.*s %.*s 1.%d cl=%lld chunked=%d ka=%d exp=%d\n",
               (int)p->method.len, tt__http_str(buf, p->method), (int)p->target.len,
               tt__http_str(buf, p->target), p->version_minor, (long long)p->content_length,
               p->chunked, p->keep_alive, p->expect_continue);
  for (int i = 0; i < p->nfields && w > 0 && (size_t)w < sizeof r->summary; i++) {
    const tt_http_field *f = &p->fields[i];
    w += snprintf(r->summary + w, sizeof r->summary - (size_t)w, "%.*s: %.*s\n", (int)f->name.len,
                  tt__http_str(buf, f->name), (int)f->value.len, tt__http_str(buf, f->value));
  }
}

/* Parse one request from in[0..n). bytewise: one byte per call. */
static void feed(const char *in, size_t n, const tt_http_limits *lim, bool bytewise,
                 feed_result *r) {
  tt_http_parser p;
  tt__http_parser_init(&p, lim);
  memset(r, 0, sizeof *r);
  r->body_in_input = true;
  int rc = TT_HTTP_MORE;
  if (!bytewise) {
    rc = tt__http_parse_head(&p, in, n);
  } else {
    for (size_t k = 1; k <= n && rc == TT_HTTP_MORE; k++) {
      char *copy = malloc(k);
      if (!copy)
        abort();
      memcpy(copy, in, k);
      rc = tt__http_parse_head(&p, copy, k);
      free(copy);
    }
  }
  if (rc == TT_HTTP_DONE) {
    feed_summarize(r, &p, in);
    size_t at = p.head_len;
    while (rc != TT_HTTP_ERROR) {
      size_t chunk = bytewise ? (at < n ? 1 : 0) : n - at;
      const char *d;
      size_t dn, used;
      rc = tt__http_parse_body(&p, in + at, chunk, &used, &d, &dn);
      if (dn && (d < in + at || d + dn > in + at + chunk))
        r->body_in_input = false;
      feed_body_add(r, d, dn);
      at += used;
      if (rc == TT_HTTP_DONE || (rc == TT_HTTP_MORE && at >= n))
        break;
    }
    r->used = p.head_len + p.body_used;
  }
  r->rc = rc;
  if (rc == TT_HTTP_ERROR) {
    r->used = 0; /* where a bad request stops does not matter: the connection closes */
    r->status = p.status;
    r->error = p.error;
  }
}

static void feed_free(feed_result *r) {
  free(r->body);
  r->body = NULL;
}

/* Whether two feeds found the same thing; a difference is printed. */
static bool feed_same(const feed_result *a, const feed_result *b) {
  bool same = a->rc == b->rc && a->status == b->status && a->used == b->used &&
              strcmp(a->summary, b->summary) == 0 && a->body_len == b->body_len &&
              (a->body_len == 0 || memcmp(a->body, b->body, a->body_len) == 0);
  if (!same)
    fprintf(stderr,
            "feeds differ: rc %d/%d status %d/%d (%s / %s) used %zu/%zu body %zu/%zu\n"
            "--- a:\n%s--- b:\n%s",
            a->rc, b->rc, a->status, b->status, a->error ? a->error : "-",
            b->error ? b->error : "-", a->used, b->used, a->body_len, b->body_len, a->summary,
            b->summary);
  return same;
}

#endif
