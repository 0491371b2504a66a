/*
 * The HTTP/1.1 request parser (RFC 9112): zero-copy, incremental, strict.
 *
 * Head. The caller keeps the bytes of one request head in one buffer and
 * appends to it as they arrive; each tt__http_parse_head call gets the
 * whole buffer so far (it may have moved: realloc) and resumes where the
 * last call stopped, so feeding a head a byte at a time costs linear time.
 * The parsed pieces (method, target, header names and values) are spans:
 * offsets into that buffer, not copies and not pointers, which is why they
 * survive the buffer moving. tt__http_str turns one into a pointer.
 *
 * Body. Once the head is done, tt__http_parse_body takes the bytes after
 * it, in pieces of any size, and returns the body's data as pointers into
 * those same bytes (chunked framing removed, nothing copied), one piece per
 * call. It keeps its own state, so a chunk-size line may also arrive a byte
 * at a time.
 *
 * A request used exactly head_len + the bytes the body calls consumed; the
 * rest of the caller's bytes is the next pipelined request.
 *
 * Every rule and limit, with the status code of its error, is listed in
 * docs/HTTP.md.
 */
#ifndef TT_HTTP_PARSER_H
#define TT_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most header fields a request may carry, whatever the limits say: the
 * field table lives inside the parser so that parsing allocates nothing. */
#define TT_HTTP_MAX_FIELDS 128

typedef struct tt_http_limits {
  size_t max_line;  /* request line bytes, CRLF included: past it, 414 */
  size_t max_head;  /* whole head (and trailer section) bytes: past it, 431 */
  int max_fields;   /* header fields (<= TT_HTTP_MAX_FIELDS): past it, 431 */
  int64_t max_body; /* decoded body bytes: past it, 413 */
} tt_http_limits;

/* 8 KiB request line, 64 KiB head, 100 fields, 8 MiB body. */
extern const tt_http_limits tt__http_default_limits;

typedef struct tt_http_span {
  uint32_t off, len; /* into the head buffer */
} tt_http_span;

typedef struct tt_http_field {
  tt_http_span name;  /* a token, as sent (compare case-insensitively) */
  tt_http_span value; /* leading and trailing whitespace removed */
} tt_http_field;

enum {
  TT_HTTP_ERROR = -1, /* bad request: see status and error; close the connection */
  TT_HTTP_MORE = 0,   /* need more bytes */
  TT_HTTP_DONE = 1,   /* the head (or the body) is complete */
};

/* The state of a body's framing, private to parser.c. */
typedef struct tt_http_body_state {
  int state;
  int ext_state;     /* inside a chunk extension */
  uint64_t chunk;    /* bytes left in the current chunk (or the whole body) */
  uint64_t size;     /* the chunk-size being read */
  int size_digits;   /* its hex digits so far */
  size_t line_bytes; /* bytes of the current chunk-size or trailer line */
  size_t trailer_bytes;
  int trailer_fields;
  bool trailer_name; /* still inside a trailer field's name */
} tt_http_body_state;

typedef struct tt_http_parser {
  tt_http_limits limits;

  /* Results of the head, valid once tt__http_parse_head returned DONE. */
  tt_http_span method, target;
  int version_minor;      /* HTTP/1.<minor>: 0 or 1 */
  int nfields;            /* fields[0..nfields) */
  size_t head_len;        /* bytes of the head, final CRLF included */
  int64_t content_length; /* -1 when absent */
  bool chunked;           /* Transfer-Encoding: chunked */
  bool keep_alive;        /* the connection may carry another request */
  bool expect_continue;   /* Expect: 100-continue (HTTP/1.1 only) */

  /* Results of the body. */
  int64_t body_bytes; /* decoded body bytes so far */
  size_t body_used;   /* raw bytes the body calls consumed so far */

  /* On TT_HTTP_ERROR: the status to answer (400, 413, 414, 417, 431, 501,
   * 505) and why, in words. */
  int status;
  const char *error;

  /* Where the head parse stands. */
  size_t scan;       /* bytes already looked at */
  size_t line_start; /* where the current line starts */
  int head_state;
  bool seen_host, seen_cl, seen_te, te_unknown, connection_close, connection_keep;
  tt_http_body_state body;

  /* Last, so that starting a request clears only the members above: the
   * table is 2 KiB and only its first nfields entries are ever read. */
  tt_http_field fields[TT_HTTP_MAX_FIELDS];
} tt_http_parser;

/* limits: NULL for the defaults. A parser is reset for the next request by
 * initializing it again. */
void tt__http_parser_init(tt_http_parser *p, const tt_http_limits *limits);

/* buf/len: the head's bytes so far (the same prefix as before, perhaps more
 * of it, perhaps moved). TT_HTTP_DONE once the empty line that ends the
 * head is in; head_len says where the head ends. */
int tt__http_parse_head(tt_http_parser *p, const char *buf, size_t len);

/* After DONE from parse_head: the body's bytes from where the last call
 * stopped. Consumes at most up to the end of one piece of body data, which
 * it returns in *data and *data_len (possibly empty), and sets *used to the
 * bytes consumed; call again with the rest. TT_HTTP_DONE when the body
 * (with its trailer section) is complete, *used then ending the request;
 * TT_HTTP_MORE when every byte given was consumed and the body goes on. */
int tt__http_parse_body(tt_http_parser *p, const char *buf, size_t len, size_t *used,
                        const char **data, size_t *data_len);

/* Whether the request has a body to read (Content-Length > 0 or chunked). */
bool tt__http_has_body(const tt_http_parser *p);

static inline const char *tt__http_str(const char *buf, tt_http_span s) { return buf + s.off; }

/* The value of the first field named `name` (case-insensitive), or NULL. */
const tt_http_field *tt__http_field_get(const tt_http_parser *p, const char *buf, const char *name);

/* Whether a and b (lengths given) are equal ignoring ASCII case. */
bool tt__http_caseeq(const char *a, size_t alen, const char *b, size_t blen);

#endif
