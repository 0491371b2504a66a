/*
 * Request targets and URL queries: splitting a target into its path and
 * query, percent-decoding (RFC 3986 2.1), and looking a key up in an
 * application/x-www-form-urlencoded query ("a=1&b=x%20y"), where '+' also
 * stands for a space.
 */
#ifndef TT_HTTP_QUERY_H
#define TT_HTTP_QUERY_H

#include <stdbool.h>
#include <stddef.h>

/* The path and query of a request target (origin-form "/p?q" or
 * absolute-form "http://host/p?q"; an absolute-form target without a path
 * has the path "/"). *query is NULL when there is no '?'. */
void tt__http_target_split(const char *target, size_t n, const char **path, size_t *path_len,
                           const char **query, size_t *query_len);

/* Decodes s[0..n) into out (which may be s: decoding only shrinks) and
 * returns the decoded length, or TT_EINVAL for a '%' not followed by two
 * hex digits or an escape that decodes to NUL. plus_is_space: for
 * queries. */
long tt__http_pct_decode(const char *s, size_t n, char *out, bool plus_is_space);

/* Looks key up in the query q[0..qn) (keys and values compared and
 * returned decoded). 1 when found, with the value in out (NUL-terminated)
 * and its length in *len; 0 when absent; TT_EINVAL when the pair's
 * escapes are bad; TT_ENOMEM when the value, as encoded, does not fit in
 * cap with its NUL. A key present without '=' has the empty value. Keys
 * longer than 341 bytes encoded are never found. */
int tt__http_query_get(const char *q, size_t qn, const char *key, char *out, size_t cap,
                       size_t *len);

#endif
