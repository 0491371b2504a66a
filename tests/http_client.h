/*
 * A small blocking HTTP/1.1 client for the server tests, run from plain
 * threads (never from tasks): connect to 127.0.0.1, write raw bytes, read
 * one response (Content-Length, chunked, or to the end of the stream),
 * and see whether the server closed the connection. Every read has a
 * timeout, so a server that never answers fails the test instead of
 * hanging it.
 */
#ifndef TT_TEST_HTTP_CLIENT_H
#define TT_TEST_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct cli_resp {
  int status;      /* 0 when no response could be read */
  char head[8192]; /* the status line and fields, NUL-terminated */
  char *body;      /* malloc'd, NUL-terminated */
  size_t body_len;
  bool chunked;
} cli_resp;

/* A connected socket whose reads time out after timeout_ms. -1 on error. */
static inline __attribute__((unused)) int cli_connect_t(int port, int timeout_ms) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0)
    return -1;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
    close(s);
    return -1;
  }
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return s;
}
static inline __attribute__((unused)) int cli_connect(int port) {
  return cli_connect_t(port, 10000);
}

static inline __attribute__((unused)) bool cli_send(int s, const char *data, size_t n) {
  while (n > 0) {
    ssize_t w = send(s, data, n, MSG_NOSIGNAL);
    if (w <= 0)
      return false;
    data += w;
    n -= (size_t)w;
  }
  return true;
}
static inline __attribute__((unused)) bool cli_sends(int s, const char *str) {
  return cli_send(s, str, strlen(str));
}

/* One byte; -1 at end of stream, on error or timeout. Buffered per socket
 * would be faster; byte reads keep pipelined responses apart for free. */
static inline int cli_byte(int s) {
  unsigned char c;
  ssize_t r = recv(s, &c, 1, 0);
  return r == 1 ? c : -1;
}

static inline bool cli_line(int s, char *out, size_t cap) {
  size_t n = 0;
  for (;;) {
    int c = cli_byte(s);
    if (c < 0)
      return false;
    if (c == '\n')
      break;
    if (n + 1 < cap)
      out[n++] = (char)c;
  }
  if (n && out[n - 1] == '\r')
    n--;
  out[n] = 0;
  return true;
}

/* The value of field `name` in r->head (first match) into out, or false. */
static inline __attribute__((unused)) bool cli_field(const cli_resp *r, const char *name, char *out,
                                                     size_t cap) {
  size_t nl = strlen(name);
  for (const char *l = strchr(r->head, '\n'); l; l = strchr(l, '\n')) {
    l++;
    if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
      const char *v = l + nl + 1;
      while (*v == ' ')
        v++;
      size_t n = strcspn(v, "\r\n");
      if (n >= cap)
        n = cap - 1;
      memcpy(out, v, n);
      out[n] = 0;
      return true;
    }
  }
  return false;
}

static inline void cli_body_put(cli_resp *r, const char *p, size_t n) {
  r->body = realloc(r->body, r->body_len + n + 1);
  memcpy(r->body + r->body_len, p, n);
  r->body_len += n;
  r->body[r->body_len] = 0;
}

/* Reads one response (interim 1xx responses included: call again).
 * head_req: the request was HEAD (no body follows whatever the fields). */
static inline __attribute__((unused)) bool cli_read(int s, cli_resp *r, bool head_req) {
  memset(r, 0, sizeof *r);
  r->body = calloc(1, 1);
  char line[8192];
  size_t hl = 0;
  if (!cli_line(s, line, sizeof line))
    return false;
  if (sscanf(line, "HTTP/1.%*d %d", &r->status) != 1)
    return false;
  hl += (size_t)snprintf(r->head, sizeof r->head, "%s\n", line);
  for (;;) {
    if (!cli_line(s, line, sizeof line))
      return false;
    if (!line[0])
      break;
    if (hl < sizeof r->head)
      hl += (size_t)snprintf(r->head + hl, sizeof r->head - hl, "%s\n", line);
  }
  if (head_req || r->status < 200 || r->status == 204 || r->status == 304)
    return true;
  char v[64];
  if (cli_field(r, "Transfer-Encoding", v, sizeof v)) {
    r->chunked = true;
    for (;;) {
      if (!cli_line(s, line, sizeof line))
        return false;
      size_t size = strtoul(line, NULL, 16);
      if (size == 0) {
        while (cli_line(s, line, sizeof line) && line[0]) {
        }
        return true;
      }
      char *chunk = malloc(size + 2);
      for (size_t i = 0; i < size + 2; i++) {
        int c = cli_byte(s);
        if (c < 0) {
          free(chunk);
          return false;
        }
        chunk[i] = (char)c;
      }
      cli_body_put(r, chunk, size);
      free(chunk);
    }
  }
  if (cli_field(r, "Content-Length", v, sizeof v)) {
    size_t n = strtoul(v, NULL, 10);
    char *b = malloc(n + 1);
    size_t got = 0;
    while (got < n) {
      ssize_t k = recv(s, b + got, n - got, 0);
      if (k <= 0)
        break;
      got += (size_t)k;
    }
    cli_body_put(r, b, got);
    free(b);
    return got == n;
  }
  char b[4096];
  ssize_t k;
  while ((k = recv(s, b, sizeof b, 0)) > 0)
    cli_body_put(r, b, (size_t)k);
  return true;
}

static inline __attribute__((unused)) void cli_free(cli_resp *r) {
  free(r->body);
  r->body = NULL;
}

/* Whether the server has closed: end of stream (or a reset) before the
 * timeout, no byte. */
static inline __attribute__((unused)) bool cli_closed(int s) {
  char c;
  ssize_t r = recv(s, &c, 1, 0);
  return r == 0 || (r < 0 && errno == ECONNRESET);
}

/* One request on a fresh connection; the response in *r. */
static inline __attribute__((unused)) bool cli_roundtrip(int port, const char *req, cli_resp *r) {
  int s = cli_connect(port);
  if (s < 0)
    return false;
  bool ok = cli_sends(s, req) && cli_read(s, r, strncmp(req, "HEAD ", 5) == 0);
  close(s);
  return ok;
}

#endif
