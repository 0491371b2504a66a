/*
 * The response writer: see response.h.
 */
#include "http/response.h"

#include <stdio.h>
#include <string.h>

#include "http/parser.h"
#include "tether.h"

enum { R_IDLE, R_FIELDS, R_CHUNKED, R_DONE };

const char *tt__http_status_text(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 411: return "Length Required";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 417: return "Expectation Failed";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "";
  }
}

static void two_digits(char *p, unsigned v) {
  p[0] = (char)('0' + v / 10 % 10);
  p[1] = (char)('0' + v % 10);
}

void tt__http_date(char out[30], time_t t) {
  static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm;
  gmtime_r(&t, &tm);
  /* By hand, not strftime (whose %a and %b follow the locale), and every
   * field at its fixed width. */
  unsigned year = (unsigned)(tm.tm_year + 1900) % 10000;
  memcpy(out, days[tm.tm_wday % 7], 3);
  out[3] = ',';
  out[4] = ' ';
  two_digits(out + 5, (unsigned)tm.tm_mday);
  out[7] = ' ';
  memcpy(out + 8, months[tm.tm_mon % 12], 3);
  out[11] = ' ';
  two_digits(out + 12, year / 100);
  two_digits(out + 14, year % 100);
  out[16] = ' ';
  two_digits(out + 17, (unsigned)tm.tm_hour);
  out[19] = ':';
  two_digits(out + 20, (unsigned)tm.tm_min);
  out[22] = ':';
  two_digits(out + 23, (unsigned)tm.tm_sec);
  memcpy(out + 25, " GMT", 5);
}

static void put_str(tt_bytebuf *b, const char *s) { tt__bytebuf_put(b, s, strlen(s)); }

void tt__http_write_continue(tt_bytebuf *out) { put_str(out, "HTTP/1.1 100 Continue\r\n\r\n"); }

static bool body_forbidden(int status) { return status < 200 || status == 204 || status == 304; }

int tt__http_resp_start(tt_http_resp_buf *r, int status, bool head_only, time_t now) {
  if (status < 100 || status > 599)
    return TT_EINVAL;
  r->out.len = 0;
  r->out.failed = false;
  r->status = status;
  r->head_only = head_only;
  r->state = R_FIELDS;
  char line[64], date[30];
  const char *reason = tt__http_status_text(status);
  snprintf(line, sizeof line, "HTTP/1.1 %03d %s\r\n", status, reason);
  put_str(&r->out, line);
  tt__http_date(date, now);
  put_str(&r->out, "Date: ");
  put_str(&r->out, date);
  put_str(&r->out, "\r\n");
  return 0;
}

static bool valid_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(c > 0x20 && c < 0x7f) || strchr("\"(),/:;<=>?@[\\]{}", c))
      return false;
  }
  return true;
}

static bool valid_value(const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c != '\t' && (c < 0x20 || c == 0x7f))
      return false;
  }
  return true;
}

bool tt__http_field_ok(const char *name, const char *value) {
  if (!name || !value || !valid_name(name) || !valid_value(value))
    return false;
  size_t n = strlen(name);
  return !tt__http_caseeq(name, n, "content-length", 14) &&
         !tt__http_caseeq(name, n, "transfer-encoding", 17);
}

int tt__http_resp_field(tt_http_resp_buf *r, const char *name, const char *value) {
  if (r->state != R_FIELDS || !tt__http_field_ok(name, value))
    return TT_EINVAL;
  put_str(&r->out, name);
  put_str(&r->out, ": ");
  put_str(&r->out, value);
  put_str(&r->out, "\r\n");
  return 0;
}

int tt__http_resp_body(tt_http_resp_buf *r, const void *data, size_t len) {
  if (r->state != R_FIELDS || (len && !data))
    return TT_EINVAL;
  if (body_forbidden(r->status)) {
    if (len)
      return TT_EINVAL;
    put_str(&r->out, "\r\n");
  } else {
    char cl[48];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n\r\n", len);
    put_str(&r->out, cl);
    if (!r->head_only)
      tt__bytebuf_put(&r->out, data, len);
  }
  r->state = R_DONE;
  return 0;
}

int tt__http_resp_chunked_begin(tt_http_resp_buf *r) {
  if (r->state != R_FIELDS || body_forbidden(r->status))
    return TT_EINVAL;
  put_str(&r->out, "Transfer-Encoding: chunked\r\n\r\n");
  r->state = r->head_only ? R_DONE : R_CHUNKED;
  return 0;
}

int tt__http_resp_chunk(tt_http_resp_buf *r, const void *data, size_t len) {
  if (r->head_only && r->state == R_DONE)
    return 0; /* HEAD: the body is not sent, whatever the handler writes */
  if (r->state != R_CHUNKED || (len && !data))
    return TT_EINVAL;
  if (len == 0)
    return 0; /* a zero-size chunk would end the body */
  char size[24];
  snprintf(size, sizeof size, "%zx\r\n", len);
  put_str(&r->out, size);
  tt__bytebuf_put(&r->out, data, len);
  put_str(&r->out, "\r\n");
  return 0;
}

int tt__http_resp_chunked_end(tt_http_resp_buf *r) {
  if (r->head_only && r->state == R_DONE)
    return 0;
  if (r->state != R_CHUNKED)
    return TT_EINVAL;
  put_str(&r->out, "0\r\n\r\n");
  r->state = R_DONE;
  return 0;
}

bool tt__http_resp_done(const tt_http_resp_buf *r) { return r->state == R_DONE; }

void tt__http_resp_free(tt_http_resp_buf *r) {
  free(r->out.data);
  memset(r, 0, sizeof *r);
}
