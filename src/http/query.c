/*
 * Targets and queries: see query.h.
 */
#include "http/query.h"

#include <string.h>

#include "tether.h"

void tt__http_target_split(const char *target, size_t n, const char **path, size_t *path_len,
                           const char **query, size_t *query_len) {
  const char *end = target + n, *p = target;
  if (n && target[0] != '/') {
    /* absolute-form: skip "scheme://authority". */
    const char *s = memchr(target, ':', n);
    if (s && end - s >= 3 && s[1] == '/' && s[2] == '/') {
      p = s + 3;
      while (p < end && *p != '/' && *p != '?')
        p++;
    }
  }
  const char *q = memchr(p, '?', (size_t)(end - p));
  const char *pend = q ? q : end;
  if (pend == p && p != target) {
    *path = "/";
    *path_len = 1;
  } else {
    *path = p;
    *path_len = (size_t)(pend - p);
  }
  *query = q ? q + 1 : NULL;
  *query_len = q ? (size_t)(end - q - 1) : 0;
}

static int hex(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c |= 0x20;
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

long tt__http_pct_decode(const char *s, size_t n, char *out, bool plus_is_space) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= n)
        return TT_EINVAL;
      int hi = hex((unsigned char)s[i + 1]), lo = hex((unsigned char)s[i + 2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
        return TT_EINVAL;
      c = (char)(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    out[o++] = c;
  }
  return (long)o;
}

int tt__http_query_get(const char *q, size_t qn, const char *key, char *out, size_t cap,
                       size_t *len) {
  size_t klen = strlen(key);
  const char *end = q + qn;
  while (q && q < end) {
    const char *amp = memchr(q, '&', (size_t)(end - q));
    const char *pend = amp ? amp : end;
    const char *eq = memchr(q, '=', (size_t)(pend - q));
    const char *kend = eq ? eq : pend;
    /* An encoded key is between its decoded length and three times it
     * ("%41" for 'A'): others cannot match and are not decoded. */
    size_t kraw = (size_t)(kend - q);
    if (kraw >= klen && kraw <= 3 * klen) {
      char kbuf[1024];
      if (kraw <= sizeof kbuf) {
        long kd = tt__http_pct_decode(q, kraw, kbuf, true);
        if (kd < 0)
          return TT_EINVAL;
        if ((size_t)kd == klen && memcmp(kbuf, key, klen) == 0) {
          const char *v = eq ? eq + 1 : pend;
          size_t vraw = (size_t)(pend - v);
          if (vraw >= cap) /* decoded it may be shorter; out must hold it encoded */
            return TT_ENOMEM;
          long vd = tt__http_pct_decode(v, vraw, out, true);
          if (vd < 0)
            return TT_EINVAL;
          out[vd] = 0;
          *len = (size_t)vd;
          return 1;
        }
      }
    }
    q = amp ? amp + 1 : end;
  }
  return 0;
}
