/*
 * The HTTP/1.1 request parser: see parser.h for the interface and
 * docs/HTTP.md for the rules, which follow RFC 9112 (message syntax) and
 * RFC 9110 (field semantics), choosing the strict side wherever the RFCs
 * let a server choose, because a lenient server behind or in front of a
 * differently lenient proxy is how requests get smuggled.
 */
#include "http/parser.h"

#include <stddef.h>
#include <string.h>

const tt_http_limits tt__http_default_limits = {
    .max_line = (size_t)8 * 1024,
    .max_head = (size_t)64 * 1024,
    .max_fields = 100,
    .max_body = (int64_t)8 * 1024 * 1024,
};

/* Longest chunk-size line (size and extensions): extensions carry nothing
 * this server uses, so a long one is only ever a way to make it read. */
#define MAX_CHUNK_LINE 4096

/* tchar (RFC 9110 5.6.2): the bytes of a token. */
static const uint8_t tchar[256] = {
    ['0' ... '9'] = 1, ['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['!'] = 1, ['#'] = 1, ['$'] = 1,
    ['%'] = 1,         ['&'] = 1,         ['\''] = 1,        ['*'] = 1, ['+'] = 1, ['-'] = 1,
    ['.'] = 1,         ['^'] = 1,         ['_'] = 1,         ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

/* A field value's bytes (RFC 9110 5.5): visible ASCII, SP, HTAB and
 * obs-text. Every other control byte, CR and NUL among them, is an error. */
static inline bool is_field_byte(uint8_t c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

static inline bool is_ows(uint8_t c) { return c == ' ' || c == '\t'; }

static int fail(tt_http_parser *p, int status, const char *why) {
  p->status = status;
  p->error = why;
  p->keep_alive = false;
  p->head_state = -1;
  return TT_HTTP_ERROR;
}

bool tt__http_caseeq(const char *a, size_t alen, const char *b, size_t blen) {
  if (alen != blen)
    return false;
  for (size_t i = 0; i < alen; i++) {
    uint8_t x = (uint8_t)a[i], y = (uint8_t)b[i];
    if (x >= 'A' && x <= 'Z')
      x += 'a' - 'A';
    if (y >= 'A' && y <= 'Z')
      y += 'a' - 'A';
    if (x != y)
      return false;
  }
  return true;
}

#define LIT_EQ(s, n, lit) tt__http_caseeq((s), (n), lit, sizeof(lit) - 1)

enum { HEAD_REQUEST_LINE, HEAD_FIELDS, HEAD_DONE };

void tt__http_parser_init(tt_http_parser *p, const tt_http_limits *limits) {
  memset(p, 0, offsetof(tt_http_parser, fields));
  p->limits = limits ? *limits : tt__http_default_limits;
  if (p->limits.max_fields > TT_HTTP_MAX_FIELDS || p->limits.max_fields < 0)
    p->limits.max_fields = TT_HTTP_MAX_FIELDS;
  /* Offsets are 32-bit: a head can never be 4 GiB. */
  if (p->limits.max_head > UINT32_MAX / 2)
    p->limits.max_head = UINT32_MAX / 2;
  if (p->limits.max_body < 0)
    p->limits.max_body = 0;
  p->content_length = -1;
}

static tt_http_span span(size_t off, size_t len) {
  return (tt_http_span){(uint32_t)off, (uint32_t)len};
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112 3),
 * s[0..n) without its CRLF, at offset `at` in the buffer. */
static int parse_request_line(tt_http_parser *p, const char *buf, size_t at, size_t n) {
  const uint8_t *s = (const uint8_t *)buf + at;
  size_t i = 0;
  while (i < n && tchar[s[i]])
    i++;
  if (i == 0 || i == n || s[i] != ' ')
    return fail(p, 400, "bad method");
  p->method = span(at, i);
  size_t t = ++i;
  while (i < n && s[i] > 0x20 && s[i] < 0x7f)
    i++;
  if (i == t || i == n || s[i] != ' ')
    return fail(p, 400, "bad request target");
  p->target = span(at + t, i - t);
  i++;
  /* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive. */
  if (n - i != 8 || memcmp(s + i, "HTTP/", 5) != 0 || s[i + 6] != '.' ||
      (unsigned)(s[i + 5] - '0') > 9 || (unsigned)(s[i + 7] - '0') > 9)
    return fail(p, 400, "bad HTTP version");
  if (s[i + 5] != '1')
    return fail(p, 505, "HTTP version not supported");
  /* A higher 1.x is answered as 1.1 (RFC 9110 2.5). */
  p->version_minor = s[i + 7] == '0' ? 0 : 1;

  /* The four forms of request-target (RFC 9112 3.2). */
  const char *m = buf + p->method.off;
  const uint8_t *tg = s + t;
  size_t tn = p->target.len;
  bool connect = p->method.len == 7 && memcmp(m, "CONNECT", 7) == 0;
  if (connect) {
    if (tg[0] == '/' || memchr(tg, ':', tn) == NULL)
      return fail(p, 400, "CONNECT needs host:port");
  } else if (tn == 1 && tg[0] == '*') {
    if (!(p->method.len == 7 && memcmp(m, "OPTIONS", 7) == 0))
      return fail(p, 400, "'*' is only for OPTIONS");
  } else if (tg[0] != '/') {
    /* absolute-form: scheme ":" ..., scheme = ALPHA *(ALPHA/DIGIT/+/-/.) */
    size_t k = 0;
    while (k < tn && (((tg[k] | 0x20) >= 'a' && (tg[k] | 0x20) <= 'z') ||
                      (k > 0 && (((unsigned)(tg[k] - '0') <= 9) || tg[k] == '+' || tg[k] == '-' ||
                                 tg[k] == '.'))))
      k++;
    if (k == 0 || k == tn || tg[k] != ':')
      return fail(p, 400, "bad request target");
  }
  p->head_state = HEAD_FIELDS;
  return TT_HTTP_MORE;
}

/* Calls fn(p, element, length) for each non-empty element of a
 * comma-separated list (RFC 9110 5.6.1), whitespace trimmed; stops at the
 * first non-MORE answer. */
static int each_list_element(tt_http_parser *p, const char *v, size_t n,
                             int (*fn)(tt_http_parser *, const char *, size_t)) {
  size_t i = 0;
  while (i <= n) {
    size_t j = i;
    while (j < n && v[j] != ',')
      j++;
    size_t a = i, b = j;
    while (a < b && is_ows((uint8_t)v[a]))
      a++;
    while (b > a && is_ows((uint8_t)v[b - 1]))
      b--;
    if (b > a) {
      int rc = fn(p, v + a, b - a);
      if (rc != TT_HTTP_MORE)
        return rc;
    }
    i = j + 1;
  }
  return TT_HTTP_MORE;
}

static bool is_token(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!tchar[(uint8_t)s[i]])
      return false;
  return n > 0;
}

/* Codings in order; only "chunked" is known, and it must come last and once
 * (RFC 9112 6.1). An unknown coding is remembered, not failed at once, so
 * that a smuggling-shaped request (TE with CL) gets its 400 either way. */
static int te_element(tt_http_parser *p, const char *e, size_t n) {
  if (!is_token(e, n))
    return fail(p, 400, "bad Transfer-Encoding");
  if (LIT_EQ(e, n, "chunked")) {
    if (p->chunked)
      return fail(p, 400, "chunked applied twice");
    p->chunked = true;
  } else {
    if (p->chunked)
      return fail(p, 400, "chunked is not the final coding");
    p->te_unknown = true;
  }
  return TT_HTTP_MORE;
}

static int connection_element(tt_http_parser *p, const char *e, size_t n) {
  if (!is_token(e, n))
    return fail(p, 400, "bad Connection");
  if (LIT_EQ(e, n, "close"))
    p->connection_close = true;
  else if (LIT_EQ(e, n, "keep-alive"))
    p->connection_keep = true;
  return TT_HTTP_MORE;
}

static int expect_element(tt_http_parser *p, const char *e, size_t n) {
  if (!LIT_EQ(e, n, "100-continue"))
    return fail(p, 417, "unknown expectation");
  /* An HTTP/1.0 client cannot be waiting for a 100 (RFC 9110 10.1.1). */
  if (p->version_minor == 1)
    p->expect_continue = true;
  return TT_HTTP_MORE;
}

/* Content-Length = 1*DIGIT, once (RFC 9112 6.3): a list, even of equal
 * values, or a second field is refused rather than reconciled. */
static int content_length(tt_http_parser *p, const char *v, size_t n) {
  if (p->seen_cl)
    return fail(p, 400, "more than one Content-Length");
  p->seen_cl = true;
  if (n == 0)
    return fail(p, 400, "empty Content-Length");
  int64_t len = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned d = (unsigned)((uint8_t)v[i] - '0');
    if (d > 9)
      return fail(p, 400, "bad Content-Length");
    /* Past the limit the exact value no longer matters, and stopping
     * there keeps it far from overflowing. */
    if (len <= p->limits.max_body)
      len = len * 10 + d;
  }
  p->content_length = len;
  return TT_HTTP_MORE;
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 5). */
static int parse_field(tt_http_parser *p, const char *buf, size_t at, size_t n) {
  const uint8_t *s = (const uint8_t *)buf + at;
  if (is_ows(s[0]))
    return fail(p, 400, "obs-fold or whitespace before a field name");
  size_t i = 0;
  while (i < n && tchar[s[i]])
    i++;
  if (i == n || s[i] != ':') {
    if (i < n && is_ows(s[i]))
      return fail(p, 400, "whitespace before ':'");
    return fail(p, 400, "bad field name");
  }
  if (i == 0)
    return fail(p, 400, "empty field name");
  size_t name_len = i++;
  while (i < n && is_ows(s[i]))
    i++;
  size_t v = i, end = n;
  while (end > v && is_ows(s[end - 1]))
    end--;
  for (size_t k = v; k < end; k++)
    if (!is_field_byte(s[k]))
      return fail(p, 400, "bad byte in field value");
  if (p->nfields >= p->limits.max_fields)
    return fail(p, 431, "too many header fields");
  tt_http_field *f = &p->fields[p->nfields++];
  f->name = span(at, name_len);
  f->value = span(at + v, end - v);

  const char *name = (const char *)s, *val = (const char *)s + v;
  size_t vn = end - v;
  switch (name_len) {
  case 4:
    if (LIT_EQ(name, 4, "host")) {
      if (p->seen_host)
        return fail(p, 400, "more than one Host");
      p->seen_host = true;
    }
    break;
  case 6:
    if (LIT_EQ(name, 6, "expect"))
      return each_list_element(p, val, vn, expect_element);
    break;
  case 10:
    if (LIT_EQ(name, 10, "connection"))
      return each_list_element(p, val, vn, connection_element);
    break;
  case 14:
    if (LIT_EQ(name, 14, "content-length"))
      return content_length(p, val, vn);
    break;
  case 17:
    if (LIT_EQ(name, 17, "transfer-encoding")) {
      p->seen_te = true;
      return each_list_element(p, val, vn, te_element);
    }
    break;
  default: break;
  }
  return TT_HTTP_MORE;
}

enum {
  B_FIXED,
  B_SIZE,
  B_EXT,
  B_SIZE_LF,
  B_DATA,
  B_DATA_CR,
  B_DATA_LF,
  B_TRAILER_START,
  B_TRAILER_LINE,
  B_TRAILER_LF,
  B_FINAL_LF,
  B_DONE,
  B_ERROR,
};

/* The head is in: decide the framing (RFC 9112 6.3) and keep-alive. */
static int finish_head(tt_http_parser *p) {
  if (p->version_minor == 1 && !p->seen_host)
    return fail(p, 400, "HTTP/1.1 request without Host");
  if (p->seen_te) {
    if (p->seen_cl)
      return fail(p, 400, "both Transfer-Encoding and Content-Length");
    if (p->version_minor == 0)
      return fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
    if (p->te_unknown)
      return fail(p, 501, "unsupported transfer coding");
    if (!p->chunked)
      return fail(p, 400, "Transfer-Encoding without a coding");
  }
  if (p->content_length > p->limits.max_body)
    return fail(p, 413, "body larger than the limit");
  if (p->version_minor == 1)
    p->keep_alive = !p->connection_close;
  else
    p->keep_alive = p->connection_keep && !p->connection_close;
  p->head_state = HEAD_DONE;
  if (p->chunked)
    p->body.state = B_SIZE;
  else if (p->content_length > 0) {
    p->body.state = B_FIXED;
    p->body.chunk = (uint64_t)p->content_length;
  } else
    p->body.state = B_DONE;
  return TT_HTTP_DONE;
}

int tt__http_parse_head(tt_http_parser *p, const char *buf, size_t len) {
  if (p->head_state < 0)
    return TT_HTTP_ERROR;
  if (p->head_state == HEAD_DONE)
    return TT_HTTP_DONE;
  for (;;) {
    const char *nl = p->scan < len ? memchr(buf + p->scan, '\n', len - p->scan) : NULL;
    size_t line_end = nl ? (size_t)(nl - buf) + 1 : len; /* CRLF included */
    if (p->head_state == HEAD_REQUEST_LINE && line_end - p->line_start > p->limits.max_line)
      return fail(p, 414, "request line too long");
    if (line_end > p->limits.max_head)
      return fail(p, 431, "header section too large");
    if (!nl) {
      p->scan = len;
      return TT_HTTP_MORE;
    }
    p->scan = line_end;
    size_t lf = line_end - 1;
    if (lf == p->line_start || buf[lf - 1] != '\r')
      return fail(p, 400, "bare LF");
    size_t at = p->line_start, n = lf - 1 - at;
    p->line_start = line_end;
    int rc;
    if (p->head_state == HEAD_REQUEST_LINE) {
      /* Empty lines before a request are skipped (RFC 9112 2.2). */
      if (n == 0)
        continue;
      rc = parse_request_line(p, buf, at, n);
    } else if (n == 0) {
      p->head_len = line_end;
      return finish_head(p);
    } else {
      rc = parse_field(p, buf, at, n);
    }
    if (rc != TT_HTTP_MORE)
      return rc;
  }
}

bool tt__http_has_body(const tt_http_parser *p) {
  return p->head_state == HEAD_DONE && (p->chunked || p->content_length > 0);
}

const tt_http_field *tt__http_field_get(const tt_http_parser *p, const char *buf,
                                        const char *name) {
  size_t n = strlen(name);
  for (int i = 0; i < p->nfields; i++) {
    const tt_http_field *f = &p->fields[i];
    if (tt__http_caseeq(buf + f->name.off, f->name.len, name, n))
      return f;
  }
  return NULL;
}

/* chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-val =
 * token / quoted-string (RFC 9112 7.1.1): checked, then dropped. */
enum {
  E_BEFORE_SEMI,
  E_BEFORE_NAME,
  E_NAME,
  E_AFTER_NAME,
  E_BEFORE_VALUE,
  E_TOKEN_VALUE,
  E_QUOTED,
  E_QUOTED_ESCAPE,
};

static inline int hexval(uint8_t c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c |= 0x20;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

static int body_fail(tt_http_parser *p, int status, const char *why) {
  p->body.state = B_ERROR;
  return fail(p, status, why);
}

/* One byte of a chunk extension; false when it is not allowed there. A CR
 * that ends the line is handled by the caller. */
static bool ext_byte(tt_http_body_state *b, uint8_t c) {
  switch (b->ext_state) {
  case E_BEFORE_SEMI:
    if (c == ';')
      b->ext_state = E_BEFORE_NAME;
    return c == ';' || is_ows(c);
  case E_BEFORE_NAME:
    if (tchar[c])
      b->ext_state = E_NAME;
    return tchar[c] || is_ows(c);
  case E_NAME:
  case E_AFTER_NAME:
    if (c == '=')
      b->ext_state = E_BEFORE_VALUE;
    else if (c == ';')
      b->ext_state = E_BEFORE_NAME;
    else if (is_ows(c))
      b->ext_state = E_AFTER_NAME;
    else
      return b->ext_state == E_NAME && tchar[c];
    return true;
  case E_BEFORE_VALUE:
    if (c == '"')
      b->ext_state = E_QUOTED;
    else if (tchar[c])
      b->ext_state = E_TOKEN_VALUE;
    else
      return is_ows(c);
    return true;
  case E_TOKEN_VALUE:
    if (c == ';')
      b->ext_state = E_BEFORE_NAME;
    else if (is_ows(c))
      b->ext_state = E_BEFORE_SEMI;
    else
      return tchar[c];
    return true;
  case E_QUOTED:
    if (c == '"')
      b->ext_state = E_BEFORE_SEMI;
    else if (c == '\\')
      b->ext_state = E_QUOTED_ESCAPE;
    else
      return is_field_byte(c);
    return true;
  default: /* E_QUOTED_ESCAPE */ b->ext_state = E_QUOTED; return is_field_byte(c);
  }
}

/* Whether a CR may end the chunk-size line in this extension state. */
static bool ext_may_end(int st) {
  return st == E_BEFORE_SEMI || st == E_NAME || st == E_AFTER_NAME || st == E_TOKEN_VALUE;
}

int tt__http_parse_body(tt_http_parser *p, const char *buf, size_t len, size_t *used,
                        const char **data, size_t *data_len) {
  tt_http_body_state *b = &p->body;
  const uint8_t *s = (const uint8_t *)buf;
  size_t i = 0;
  *data = NULL;
  *data_len = 0;
  *used = 0;
  if (p->head_state != HEAD_DONE || b->state == B_ERROR)
    return p->head_state < 0 || b->state == B_ERROR ? TT_HTTP_ERROR : TT_HTTP_MORE;
  while (b->state != B_DONE && i < len) {
    uint8_t c = s[i];
    switch (b->state) {
    case B_FIXED:
    case B_DATA: {
      size_t n = len - i;
      if ((uint64_t)n > b->chunk)
        n = (size_t)b->chunk;
      *data = buf + i;
      *data_len = n;
      i += n;
      b->chunk -= n;
      p->body_bytes += (int64_t)n;
      if (b->chunk == 0)
        b->state = b->state == B_FIXED ? B_DONE : B_DATA_CR;
      goto out;
    }
    case B_SIZE: {
      int h = hexval(c);
      if (++b->line_bytes > MAX_CHUNK_LINE)
        return body_fail(p, 400, "chunk-size line too long");
      if (h >= 0) {
        /* Against the body limit before it grows: no overflow, ever. */
        if (b->size > (uint64_t)(p->limits.max_body - p->body_bytes) / 16)
          return body_fail(p, 413, "body larger than the limit");
        b->size = b->size * 16 + (uint64_t)h;
        b->size_digits++;
      } else if (b->size_digits > 0 && c == '\r') {
        b->state = B_SIZE_LF;
      } else if (b->size_digits > 0 && (c == ';' || is_ows(c))) {
        b->state = B_EXT;
        b->ext_state = c == ';' ? E_BEFORE_NAME : E_BEFORE_SEMI;
      } else {
        return body_fail(p, 400, "bad chunk size");
      }
      if (b->size > (uint64_t)(p->limits.max_body - p->body_bytes))
        return body_fail(p, 413, "body larger than the limit");
      break;
    }
    case B_EXT:
      if (++b->line_bytes > MAX_CHUNK_LINE)
        return body_fail(p, 400, "chunk-size line too long");
      if (c == '\r' && ext_may_end(b->ext_state))
        b->state = B_SIZE_LF;
      else if (!ext_byte(b, c))
        return body_fail(p, 400, "bad chunk extension");
      break;
    case B_SIZE_LF:
      if (c != '\n')
        return body_fail(p, 400, "chunk-size line without CRLF");
      b->line_bytes = 0;
      b->size_digits = 0;
      if (b->size == 0) {
        b->state = B_TRAILER_START;
      } else {
        b->chunk = b->size;
        b->size = 0;
        b->state = B_DATA;
      }
      break;
    case B_DATA_CR:
      if (c != '\r')
        return body_fail(p, 400, "chunk data without CRLF");
      b->state = B_DATA_LF;
      break;
    case B_DATA_LF:
      if (c != '\n')
        return body_fail(p, 400, "chunk data without CRLF");
      b->state = B_SIZE;
      break;
    case B_TRAILER_START:
      if (++b->trailer_bytes > p->limits.max_head)
        return body_fail(p, 431, "trailer section too large");
      if (c == '\r') {
        b->state = B_FINAL_LF;
      } else if (tchar[c]) {
        if (++b->trailer_fields > p->limits.max_fields)
          return body_fail(p, 431, "too many trailer fields");
        b->trailer_name = true;
        b->state = B_TRAILER_LINE;
      } else {
        return body_fail(p, 400, is_ows(c) ? "obs-fold in trailer" : "bad trailer field");
      }
      break;
    case B_TRAILER_LINE:
      if (++b->trailer_bytes > p->limits.max_head)
        return body_fail(p, 431, "trailer section too large");
      if (b->trailer_name) {
        if (c == ':')
          b->trailer_name = false;
        else if (!tchar[c])
          return body_fail(p, 400, "bad trailer field name");
      } else if (c == '\r') {
        b->state = B_TRAILER_LF;
      } else if (!is_field_byte(c)) {
        return body_fail(p, 400, "bad byte in trailer value");
      }
      break;
    case B_TRAILER_LF:
      if (++b->trailer_bytes > p->limits.max_head)
        return body_fail(p, 431, "trailer section too large");
      if (c != '\n')
        return body_fail(p, 400, "bare CR in trailer");
      b->state = B_TRAILER_START;
      break;
    case B_FINAL_LF:
      if (c != '\n')
        return body_fail(p, 400, "bare CR at the end of the body");
      b->state = B_DONE;
      break;
    default: return body_fail(p, 400, "parser state");
    }
    i++;
  }
out:
  *used = i;
  p->body_used += i;
  return b->state == B_DONE ? TT_HTTP_DONE : TT_HTTP_MORE;
}
