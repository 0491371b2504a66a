/*
 * The request router: see mux.h.
 */
#include "http/mux.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tether.h"

static bool is_token(const char *s) {
  static const char extra[] = "!#$%&'*+-.^_`|~";
  if (!*s)
    return false;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (!((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || strchr(extra, c)))
      return false;
  }
  return true;
}

static bool same_method(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int tt__http_mux_add(tt_http_mux *m, const char *method, const char *prefix,
                     tt_http_handler handler, void *arg) {
  if (!m || !handler || !prefix || prefix[0] != '/' || (method && !is_token(method)))
    return TT_EINVAL;
  for (int i = 0; i < m->n; i++)
    if (same_method(m->routes[i].method, method) && strcmp(m->routes[i].prefix, prefix) == 0)
      return TT_EINVAL;
  if (m->n == m->cap) {
    int cap = m->cap ? m->cap * 2 : 8;
    tt_http_route *r = realloc(m->routes, (size_t)cap * sizeof *r);
    if (!r)
      return TT_ENOMEM;
    m->routes = r;
    m->cap = cap;
  }
  tt_http_route *r = &m->routes[m->n];
  r->prefix = strdup(prefix);
  r->method = method ? strdup(method) : NULL;
  if (!r->prefix || (method && !r->method)) {
    free(r->prefix);
    free(r->method);
    return TT_ENOMEM;
  }
  r->prefix_len = strlen(prefix);
  r->handler = handler;
  r->arg = arg;
  m->n++;
  return 0;
}

static bool path_matches(const tt_http_route *r, const char *path, size_t n) {
  if (r->prefix[r->prefix_len - 1] == '/')
    return n >= r->prefix_len && memcmp(path, r->prefix, r->prefix_len) == 0;
  return n == r->prefix_len && memcmp(path, r->prefix, n) == 0;
}

static bool method_matches(const tt_http_route *r, const char *method, size_t n) {
  if (!r->method)
    return true;
  size_t rn = strlen(r->method);
  if (rn == n && memcmp(r->method, method, n) == 0)
    return true;
  return n == 4 && memcmp(method, "HEAD", 4) == 0 && strcmp(r->method, "GET") == 0;
}

/* The length of the longest prefix matching path, or 0. */
static size_t longest(const tt_http_mux *m, const char *path, size_t n) {
  size_t best = 0;
  for (int i = 0; i < m->n; i++)
    if (m->routes[i].prefix_len > best && path_matches(&m->routes[i], path, n))
      best = m->routes[i].prefix_len;
  return best;
}

int tt__http_mux_find(const tt_http_mux *m, const char *method, size_t method_len, const char *path,
                      size_t path_len, const tt_http_route **route) {
  *route = NULL;
  size_t best = longest(m, path, path_len);
  if (best == 0)
    return 404;
  const tt_http_route *any = NULL;
  for (int i = 0; i < m->n; i++) {
    const tt_http_route *r = &m->routes[i];
    if (r->prefix_len != best || !path_matches(r, path, path_len) ||
        !method_matches(r, method, method_len))
      continue;
    /* An exact method beats GET-for-HEAD and any-method routes. */
    if (r->method && strlen(r->method) == method_len &&
        memcmp(r->method, method, method_len) == 0) {
      *route = r;
      return 200;
    }
    if (!any || (any->method == NULL && r->method))
      any = r;
  }
  *route = any;
  return any ? 200 : 405;
}

size_t tt__http_mux_allow(const tt_http_mux *m, const char *path, size_t path_len, char *out,
                          size_t cap) {
  size_t len = 0, best = longest(m, path, path_len);
  if (cap)
    out[0] = 0;
  for (int i = 0; best && i < m->n; i++) {
    const tt_http_route *r = &m->routes[i];
    if (r->prefix_len != best || !path_matches(r, path, path_len))
      continue;
    const char *names[2] = {r->method ? r->method : "*", NULL};
    if (r->method && strcmp(r->method, "GET") == 0)
      names[1] = "HEAD";
    for (int k = 0; k < 2 && names[k]; k++) {
      size_t n = strlen(names[k]);
      if (len + n + (len ? 2 : 0) + 1 > cap)
        return len;
      if (len) {
        memcpy(out + len, ", ", 2);
        len += 2;
      }
      memcpy(out + len, names[k], n);
      len += n;
      out[len] = 0;
    }
  }
  return len;
}

void tt__http_mux_free(tt_http_mux *m) {
  for (int i = 0; i < m->n; i++) {
    free(m->routes[i].method);
    free(m->routes[i].prefix);
  }
  free(m->routes);
  memset(m, 0, sizeof *m);
}
