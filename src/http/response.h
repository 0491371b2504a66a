/*
 * An HTTP/1.1 response, written into a growable buffer: status line, Date,
 * the caller's fields, then a body framed by Content-Length or by chunked
 * transfer coding. The writer owns the framing fields so that a response
 * can never carry two framings (the response side of request smuggling).
 *
 * Order of calls: start, any number of field, then either body (the whole
 * body at once) or chunked_begin, chunk..., chunked_end. Anything else is
 * TT_EINVAL and writes nothing.
 */
#ifndef TT_HTTP_RESPONSE_H
#define TT_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "observe/bytebuf.h"

typedef struct tt_http_resp_buf {
  tt_bytebuf out; /* the bytes to send; out.failed on allocation failure */
  int status;
  int state;      /* private: where in the order of calls the writer is */
  bool head_only; /* answering HEAD: framing fields, no body bytes */
} tt_http_resp_buf;

/* The reason phrase for a status code ("Not Found"), "" when unknown. */
const char *tt__http_status_text(int status);

/* IMF-fixdate (RFC 9110 5.6.7), "Sun, 06 Nov 1994 08:49:37 GMT": 29 bytes
 * and a NUL into out. */
void tt__http_date(char out[30], time_t t);

/* "HTTP/1.1 100 Continue" and the empty line: the interim answer to
 * Expect: 100-continue, sent before reading the body. */
void tt__http_write_continue(tt_bytebuf *out);

/* Starts a response (r is reset; its buffer is kept). status: 100..599.
 * head_only: for a HEAD request. now: for the Date field. */
int tt__http_resp_start(tt_http_resp_buf *r, int status, bool head_only, time_t now);

/* One field. name: a token; value: no CR, LF or NUL. Content-Length and
 * Transfer-Encoding are refused: the writer sets them. */
int tt__http_resp_field(tt_http_resp_buf *r, const char *name, const char *value);

/* Whether resp_field would take this field: a token name, a value without
 * control bytes other than tab, not one of the framing fields. */
bool tt__http_field_ok(const char *name, const char *value);

/* The whole body with its Content-Length (none for 1xx, 204 and 304, which
 * have no body: len must then be 0). Ends the response. */
int tt__http_resp_body(tt_http_resp_buf *r, const void *data, size_t len);

/* A body of unknown length: Transfer-Encoding: chunked, then chunks (an
 * empty one writes nothing), then the last chunk. */
int tt__http_resp_chunked_begin(tt_http_resp_buf *r);
int tt__http_resp_chunk(tt_http_resp_buf *r, const void *data, size_t len);
int tt__http_resp_chunked_end(tt_http_resp_buf *r);

/* Whether the response is complete. */
bool tt__http_resp_done(const tt_http_resp_buf *r);

void tt__http_resp_free(tt_http_resp_buf *r);

#endif
