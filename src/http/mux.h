/*
 * A request router: (method, path prefix) -> handler.
 *
 * A prefix ending in '/' matches every path under it ("/debug/pprof/"
 * matches "/debug/pprof/goroutine"); any other prefix matches only that
 * exact path. The longest matching prefix wins. A route's method is
 * matched exactly (methods are case-sensitive, RFC 9110 9.1); a GET route
 * also answers HEAD, and a NULL method answers every method. When a path
 * matches but no route for it takes the method, the answer is 405 and
 * tt__http_mux_allow lists the methods for the Allow field.
 *
 * Paths are matched as sent (percent-escapes are not decoded): a request
 * cannot reach a route by spelling its path differently.
 */
#ifndef TT_HTTP_MUX_H
#define TT_HTTP_MUX_H

#include <stddef.h>

/* What a handler gets; defined by the server. */
struct tt_http_exchange;
typedef void (*tt_http_handler)(struct tt_http_exchange *ex, void *arg);

typedef struct tt_http_route {
  char *method; /* NULL: any */
  char *prefix;
  size_t prefix_len;
  tt_http_handler handler;
  void *arg;
} tt_http_route;

typedef struct tt_http_mux {
  tt_http_route *routes;
  int n, cap;
} tt_http_mux;

/* 0, TT_EINVAL (no handler, a prefix not starting with '/', a method that
 * is not a token, or the same method and prefix twice) or TT_ENOMEM. */
int tt__http_mux_add(tt_http_mux *m, const char *method, const char *prefix,
                     tt_http_handler handler, void *arg);

/* 200 with *route set, 404 (no prefix matches the path) or 405 (one does,
 * not for this method). */
int tt__http_mux_find(const tt_http_mux *m, const char *method, size_t method_len, const char *path,
                      size_t path_len, const tt_http_route **route);

/* The methods the longest matching prefix takes, for Allow: "GET, HEAD,
 * POST" into out (always NUL-terminated). Returns the length. */
size_t tt__http_mux_allow(const tt_http_mux *m, const char *path, size_t path_len, char *out,
                          size_t cap);

void tt__http_mux_free(tt_http_mux *m);

#endif
