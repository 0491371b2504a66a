/*
 * test_http_mux: the router (src/http/mux.c) and target/query handling
 * (src/http/query.c): longest prefix, exact paths versus subtrees, method
 * matching with GET answering HEAD, 404 versus 405 with the Allow list,
 * refused routes; splitting targets, percent-decoding (and refusing bad
 * escapes), query lookups.
 */
#include "harness.h"

#include "http/mux.h"
#include "http/query.h"

static int tag_of(const tt_http_route *r) { return r ? (int)(intptr_t)r->arg : -1; }

static void h(struct tt_http_exchange *ex, void *arg) {
  (void)ex;
  (void)arg;
}

static int find(const tt_http_mux *m, const char *method, const char *path, int *tag) {
  const tt_http_route *r;
  int st = tt__http_mux_find(m, method, strlen(method), path, strlen(path), &r);
  *tag = tag_of(r);
  return st;
}

static void test_mux(void) {
  tt_http_mux m = {0};
  CHECK_EQ(tt__http_mux_add(&m, "GET", "/", h, (void *)1), 0);
  CHECK_EQ(tt__http_mux_add(&m, "GET", "/debug/pprof/", h, (void *)2), 0);
  CHECK_EQ(tt__http_mux_add(&m, "GET", "/debug/pprof/goroutine", h, (void *)3), 0);
  CHECK_EQ(tt__http_mux_add(&m, "POST", "/debug/pprof/goroutine", h, (void *)4), 0);
  CHECK_EQ(tt__http_mux_add(&m, NULL, "/any", h, (void *)5), 0);
  CHECK_EQ(tt__http_mux_add(&m, "GET", "/metrics", h, (void *)6), 0);
  /* Refused routes. */
  CHECK_EQ(tt__http_mux_add(&m, "GET", "/metrics", h, (void *)7), TT_EINVAL);
  CHECK_EQ(tt__http_mux_add(&m, "GET", "metrics", h, NULL), TT_EINVAL);
  CHECK_EQ(tt__http_mux_add(&m, "GE T", "/x", h, NULL), TT_EINVAL);
  CHECK_EQ(tt__http_mux_add(&m, "", "/x", h, NULL), TT_EINVAL);
  CHECK_EQ(tt__http_mux_add(&m, "GET", "/x", NULL, NULL), TT_EINVAL);

  int tag;
  CHECK_EQ(find(&m, "GET", "/", &tag), 200);
  CHECK_EQ(tag, 1);
  CHECK_EQ(find(&m, "GET", "/nothing/here", &tag), 200); /* "/" is a subtree */
  CHECK_EQ(tag, 1);
  CHECK_EQ(find(&m, "GET", "/debug/pprof/", &tag), 200);
  CHECK_EQ(tag, 2);
  CHECK_EQ(find(&m, "GET", "/debug/pprof/heap", &tag), 200);
  CHECK_EQ(tag, 2);
  CHECK_EQ(find(&m, "GET", "/debug/pprof/goroutine", &tag), 200); /* longest wins */
  CHECK_EQ(tag, 3);
  CHECK_EQ(find(&m, "POST", "/debug/pprof/goroutine", &tag), 200);
  CHECK_EQ(tag, 4);
  CHECK_EQ(find(&m, "HEAD", "/debug/pprof/goroutine", &tag), 200); /* GET answers HEAD */
  CHECK_EQ(tag, 3);
  CHECK_EQ(find(&m, "get", "/metrics", &tag), 405);                 /* methods are case-sensitive */
  CHECK_EQ(find(&m, "GET", "/debug/pprof/goroutine/x", &tag), 200); /* not a subtree */
  CHECK_EQ(tag, 2);
  CHECK_EQ(find(&m, "DELETE", "/debug/pprof/goroutine", &tag), 405);
  CHECK_EQ(tag, -1);
  CHECK_EQ(find(&m, "DELETE", "/any", &tag), 200);
  CHECK_EQ(tag, 5);
  CHECK_EQ(find(&m, "GET", "/metricsx", &tag), 200); /* exact path only: falls to "/" */
  CHECK_EQ(tag, 1);
  CHECK_EQ(find(&m, "PUT", "/metrics", &tag), 405);
  char allow[64];
  CHECK_EQ(tt__http_mux_allow(&m, "/debug/pprof/goroutine", 22, allow, sizeof allow), 15);
  CHECK_STREQ(allow, "GET, HEAD, POST");
  tt__http_mux_allow(&m, "/metrics", 8, allow, sizeof allow);
  CHECK_STREQ(allow, "GET, HEAD");
  tt__http_mux_allow(&m, "/metrics", 8, allow, 5); /* too small: what fits */
  CHECK_STREQ(allow, "GET");
  tt__http_mux_free(&m);

  /* Without "/", unknown paths are 404. */
  CHECK_EQ(tt__http_mux_add(&m, "GET", "/a/", h, (void *)1), 0);
  CHECK_EQ(find(&m, "GET", "/b", &tag), 404);
  CHECK_EQ(find(&m, "GET", "/a", &tag), 404); /* the subtree "/a/" is not "/a" */
  CHECK_EQ(tt__http_mux_allow(&m, "/b", 2, allow, sizeof allow), 0);
  CHECK_STREQ(allow, "");
  tt__http_mux_free(&m);
}

static void split(const char *t, const char *want_path, const char *want_query) {
  const char *p, *q;
  size_t pn, qn;
  tt__http_target_split(t, strlen(t), &p, &pn, &q, &qn);
  CHECK_MSG(pn == strlen(want_path) && memcmp(p, want_path, pn) == 0, "%s: path %.*s", t, (int)pn,
            p);
  if (want_query)
    CHECK_MSG(q && qn == strlen(want_query) && memcmp(q, want_query, qn) == 0, "%s: query", t);
  else
    CHECK_MSG(q == NULL, "%s: no query expected", t);
}

static void test_query(void) {
  split("/", "/", NULL);
  split("/a/b?x=1&y", "/a/b", "x=1&y");
  split("/a?", "/a", "");
  split("/a?b?c", "/a", "b?c");
  split("http://example.com:8080/p/q?z", "/p/q", "z");
  split("http://example.com", "/", NULL);
  split("http://example.com?k=v", "/", "k=v");

  char out[64];
  CHECK_EQ(tt__http_pct_decode("a%20b%2Fc%7e", 12, out, false), 6);
  CHECK(memcmp(out, "a b/c~", 6) == 0);
  CHECK_EQ(tt__http_pct_decode("a+b", 3, out, false), 3);
  CHECK(memcmp(out, "a+b", 3) == 0);
  CHECK_EQ(tt__http_pct_decode("a+b", 3, out, true), 3);
  CHECK(memcmp(out, "a b", 3) == 0);
  CHECK_EQ(tt__http_pct_decode("%", 1, out, false), TT_EINVAL);
  CHECK_EQ(tt__http_pct_decode("%4", 2, out, false), TT_EINVAL);
  CHECK_EQ(tt__http_pct_decode("%zz", 3, out, false), TT_EINVAL);
  CHECK_EQ(tt__http_pct_decode("%00", 3, out, false), TT_EINVAL);
  CHECK_EQ(tt__http_pct_decode("%C3%A9", 6, out, false), 2);
  CHECK(memcmp(out, "\xc3\xa9", 2) == 0);
  char inplace[] = "x%41y";
  CHECK_EQ(tt__http_pct_decode(inplace, 5, inplace, false), 3);
  CHECK(memcmp(inplace, "xAy", 3) == 0);

  static const char q[] = "debug=2&seconds=&flag&name=a+b%26c&%64ebug=9&bad=%zz&long=0123456789";
  size_t n = sizeof q - 1, len;
  CHECK_EQ(tt__http_query_get(q, n, "debug", out, sizeof out, &len), 1);
  CHECK_STREQ(out, "2"); /* the first wins */
  CHECK_EQ(tt__http_query_get(q, n, "seconds", out, sizeof out, &len), 1);
  CHECK_EQ(len, 0);
  CHECK_EQ(tt__http_query_get(q, n, "flag", out, sizeof out, &len), 1);
  CHECK_EQ(len, 0);
  CHECK_EQ(tt__http_query_get(q, n, "name", out, sizeof out, &len), 1);
  CHECK_STREQ(out, "a b&c");
  CHECK_EQ(tt__http_query_get(q, n, "missing", out, sizeof out, &len), 0);
  CHECK_EQ(tt__http_query_get(q, n, "bad", out, sizeof out, &len), TT_EINVAL);
  CHECK_EQ(tt__http_query_get(q, n, "long", out, 5, &len), TT_ENOMEM);
  CHECK_EQ(tt__http_query_get(q, n, "long", out, sizeof out, &len), 1);
  CHECK_STREQ(out, "0123456789");
  /* An encoded key is found by its decoded name. */
  static const char q2[] = "x=1&%64ebug=9";
  CHECK_EQ(tt__http_query_get(q2, sizeof q2 - 1, "debug", out, sizeof out, &len), 1);
  CHECK_STREQ(out, "9");
  CHECK_EQ(tt__http_query_get("", 0, "a", out, sizeof out, &len), 0);
}

int main(void) {
  test_mux();
  test_query();
  return TEST_REPORT();
}
