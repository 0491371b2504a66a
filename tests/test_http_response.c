/*
 * test_http_response: the response writer (src/http/response.c) writes the
 * exact bytes of status line, Date, fields and either framing; refuses
 * fields that would break the framing or the message (CR/LF injection,
 * non-token names), bodies where the status allows none, and calls out of
 * order; answers HEAD with the framing but no body.
 */
#include "harness.h"

#include "http/response.h"

#define T0 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT: RFC 9110's example */

static void check_bytes(const tt_http_resp_buf *r, const char *want) {
  size_t n = strlen(want);
  CHECK_MSG(r->out.len == n && memcmp(r->out.data, want, n) == 0, "got:\n%.*s\nwant:\n%s",
            (int)r->out.len, (const char *)r->out.data, want);
}

int main(void) {
  char date[30];
  tt__http_date(date, T0);
  CHECK_STREQ(date, "Sun, 06 Nov 1994 08:49:37 GMT");
  tt__http_date(date, 0);
  CHECK_STREQ(date, "Thu, 01 Jan 1970 00:00:00 GMT");
  tt__http_date(date, 253402300799); /* the last second of year 9999 */
  CHECK_STREQ(date, "Fri, 31 Dec 9999 23:59:59 GMT");
  CHECK_STREQ(tt__http_status_text(431), "Request Header Fields Too Large");
  CHECK_STREQ(tt__http_status_text(299), "");

  tt_http_resp_buf r = {0};
  CHECK_EQ(tt__http_resp_start(&r, 200, false, T0), 0);
  CHECK_EQ(tt__http_resp_field(&r, "Content-Type", "text/plain; charset=utf-8"), 0);
  CHECK_EQ(tt__http_resp_body(&r, "hello", 5), 0);
  CHECK(tt__http_resp_done(&r));
  check_bytes(&r, "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello");
  /* Out of order: nothing more after the end. */
  CHECK_EQ(tt__http_resp_field(&r, "X", "y"), TT_EINVAL);
  CHECK_EQ(tt__http_resp_body(&r, "x", 1), TT_EINVAL);
  CHECK_EQ(tt__http_resp_chunk(&r, "x", 1), TT_EINVAL);

  /* Chunked; an empty chunk writes nothing (it would end the body). */
  CHECK_EQ(tt__http_resp_start(&r, 404, false, T0), 0);
  CHECK_EQ(tt__http_resp_chunk(&r, "x", 1), TT_EINVAL); /* before begin */
  CHECK_EQ(tt__http_resp_chunked_begin(&r), 0);
  CHECK_EQ(tt__http_resp_field(&r, "X", "late"), TT_EINVAL);
  CHECK_EQ(tt__http_resp_chunk(&r, "0123456789abcdefg", 17), 0);
  CHECK_EQ(tt__http_resp_chunk(&r, "", 0), 0);
  CHECK_EQ(tt__http_resp_chunk(&r, "!", 1), 0);
  CHECK(!tt__http_resp_done(&r));
  CHECK_EQ(tt__http_resp_chunked_end(&r), 0);
  CHECK(tt__http_resp_done(&r));
  check_bytes(&r,
              "HTTP/1.1 404 Not Found\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
              "Transfer-Encoding: chunked\r\n\r\n11\r\n0123456789abcdefg\r\n1\r\n!\r\n0\r\n\r\n");

  /* Fields the writer refuses. */
  CHECK_EQ(tt__http_resp_start(&r, 200, false, T0), 0);
  size_t before = r.out.len;
  CHECK_EQ(tt__http_resp_field(&r, "X-Evil", "a\r\nSet-Cookie: x=1"), TT_EINVAL);
  CHECK_EQ(tt__http_resp_field(&r, "X-Evil", "a\nb"), TT_EINVAL);
  CHECK_EQ(tt__http_resp_field(&r, "X Bad", "v"), TT_EINVAL);
  CHECK_EQ(tt__http_resp_field(&r, "X:Bad", "v"), TT_EINVAL);
  CHECK_EQ(tt__http_resp_field(&r, "", "v"), TT_EINVAL);
  CHECK_EQ(tt__http_resp_field(&r, "content-length", "3"), TT_EINVAL);
  CHECK_EQ(tt__http_resp_field(&r, "Transfer-Encoding", "chunked"), TT_EINVAL);
  CHECK_EQ(r.out.len, before);
  CHECK_EQ(tt__http_resp_field(&r, "X-Tab", "a\tb \xc3\xa9"), 0);
  CHECK_EQ(tt__http_resp_start(&r, 99, false, T0), TT_EINVAL);
  CHECK_EQ(tt__http_resp_start(&r, 600, false, T0), TT_EINVAL);

  /* 204 and 304 carry no body and no Content-Length. */
  CHECK_EQ(tt__http_resp_start(&r, 204, false, T0), 0);
  CHECK_EQ(tt__http_resp_chunked_begin(&r), TT_EINVAL);
  CHECK_EQ(tt__http_resp_body(&r, "x", 1), TT_EINVAL);
  CHECK_EQ(tt__http_resp_body(&r, NULL, 0), 0);
  check_bytes(&r, "HTTP/1.1 204 No Content\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n");

  /* HEAD: the framing a GET would get, no body bytes. */
  CHECK_EQ(tt__http_resp_start(&r, 200, true, T0), 0);
  CHECK_EQ(tt__http_resp_body(&r, "hello", 5), 0);
  check_bytes(&r, "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                  "Content-Length: 5\r\n\r\n");
  CHECK_EQ(tt__http_resp_start(&r, 200, true, T0), 0);
  CHECK_EQ(tt__http_resp_chunked_begin(&r), 0);
  CHECK_EQ(tt__http_resp_chunk(&r, "abc", 3), 0);
  CHECK_EQ(tt__http_resp_chunked_end(&r), 0);
  CHECK(tt__http_resp_done(&r));
  check_bytes(&r, "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n");

  /* The interim answer to Expect: 100-continue. */
  tt_bytebuf b = {0};
  tt__http_write_continue(&b);
  CHECK(b.len == 25 && memcmp(b.data, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
  free(b.data);

  /* A large body grows the buffer. */
  static char big[1 << 20];
  memset(big, 'z', sizeof big);
  CHECK_EQ(tt__http_resp_start(&r, 200, false, T0), 0);
  CHECK_EQ(tt__http_resp_body(&r, big, sizeof big), 0);
  CHECK(!r.out.failed);
  CHECK(r.out.len > sizeof big &&
        memcmp(r.out.data + r.out.len - sizeof big, big, sizeof big) == 0);
  tt__http_resp_free(&r);
  return TEST_REPORT();
}
