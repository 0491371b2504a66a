/*
 * test_http_tasks: the live task page and the JSON it reads.
 *
 *  - the page embedded in the library (src/http/assets.h) is byte for byte
 *    src/http/tasks_page.html, and is well-formed: a doctype, every
 *    element closed in order, one inline script, nothing loaded from
 *    anywhere (no src/href, no URLs: it must work with no network), the
 *    features it promises present (the JSON it reads, the filter, the
 *    search, the chart, the refresh); node --check accepts its script;
 *  - tasks.json (src/http/tasks_json.c) for known tasks: seven parked in
 *    one stack and three in another are two groups of 7 and 3 with their
 *    wait reasons, entry functions and frames; a task proven leaked (nil
 *    channel) is its own group marked with the detector's verdict; with a
 *    1 ns threshold the long waits are marked suspect. node parses the
 *    document and reports what it holds, so the check is on real JSON.
 */
#include "harness.h"

#include <ctype.h>

#include "http/assets.h"
#include "http/tasks_json.h"

#ifndef TT_TASKS_PAGE_PATH
#error "TT_TASKS_PAGE_PATH: the page's source file (set by tests/CMakeLists.txt)"
#endif

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf) {
    buf[n] = 0;
    *len = (size_t)n;
  }
  return buf;
}

static bool is_void_element(const char *name) {
  static const char *const v[] = {"meta", "input", "br",     "img", "link",
                                  "hr",   "col",   "source", NULL};
  for (int i = 0; v[i]; i++)
    if (strcmp(name, v[i]) == 0)
      return true;
  return false;
}

/* Tags outside <script> and <style> must nest properly. Returns NULL or
 * what is wrong. */
static const char *check_nesting(const char *html, int *nscripts) {
  char stack[64][32];
  int depth = 0;
  *nscripts = 0;
  const char *p = html;
  if (strncmp(p, "<!DOCTYPE html>", 15) != 0)
    return "no <!DOCTYPE html> first";
  p += 15;
  while ((p = strchr(p, '<')) != NULL) {
    bool closing = p[1] == '/';
    const char *n = p + 1 + closing;
    char name[32];
    size_t k = 0;
    while (isalnum((unsigned char)n[k]) && k < sizeof name - 1) {
      name[k] = (char)tolower((unsigned char)n[k]);
      k++;
    }
    name[k] = 0;
    if (k == 0)
      return "a '<' that starts no tag";
    const char *end = strchr(n, '>');
    if (!end)
      return "an open tag";
    bool self_closed = end[-1] == '/';
    if (closing) {
      if (depth == 0 || strcmp(stack[depth - 1], name) != 0)
        return "a closing tag that closes nothing open";
      depth--;
      p = end + 1;
      continue;
    }
    if (strcmp(name, "script") == 0 || strcmp(name, "style") == 0) {
      char close[40];
      snprintf(close, sizeof close, "</%s>", name);
      const char *c = strstr(end, close);
      if (!c)
        return "script or style never closed";
      if (name[1] == 'c')
        ++*nscripts;
      p = c + strlen(close);
      continue;
    }
    if (!is_void_element(name) && !self_closed) {
      if (depth == 64)
        return "too deep";
      snprintf(stack[depth++], sizeof stack[0], "%s", name);
    }
    p = end + 1;
  }
  return depth == 0 ? NULL : "elements left open at the end";
}

static void test_page(void) {
  size_t n = 0;
  char *src = read_file(TT_TASKS_PAGE_PATH, &n);
  CHECK(src != NULL);
  if (!src)
    return;
  CHECK_EQ(tt__http_tasks_page_len, n);
  CHECK(memcmp(tt__http_tasks_page, src, n) == 0);
  CHECK_EQ(tt__http_tasks_page[n], 0);
  free(src);

  const char *page = tt__http_tasks_page;
  int nscripts;
  const char *bad = check_nesting(page, &nscripts);
  CHECK_MSG(bad == NULL, "page not well-formed: %s", bad);
  CHECK_EQ(nscripts, 1);
  /* Self-contained: nothing fetched but its own JSON. */
  CHECK(strstr(page, "http://") == NULL && strstr(page, "https://") == NULL);
  CHECK(strstr(page, " src=") == NULL && strstr(page, " href=") == NULL);
  CHECK(strstr(page, "@import") == NULL && strstr(page, "url(") == NULL);
  CHECK(strstr(page, "fetch(\"tasks.json\"") != NULL);
  CHECK(strstr(page, "id=\"minwait\"") != NULL); /* filter by wait time */
  CHECK(strstr(page, "id=\"search\"") != NULL);  /* search by function */
  CHECK(strstr(page, "id=\"chart\"") != NULL);   /* growth chart */
  CHECK(strstr(page, "setTimeout(refresh") != NULL);
  CHECK(strlen(page) < 32 * 1024); /* small */

  /* The script is valid JavaScript. */
  const char *s = strstr(page, "<script>"), *e = strstr(page, "</script>");
  CHECK(s && e && e > s);
  char path[] = "/tmp/tt_page_jsXXXXXX";
  int fd = mkstemp(path);
  FILE *f = fdopen(fd, "w");
  fwrite(s + 8, 1, (size_t)(e - s - 8), f);
  fclose(f);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "node --check %s 2>&1", path);
  int rc = system(cmd);
  CHECK_MSG(rc == 0, "node --check failed (%d): is nodejs installed? scripts/deps.sh test", rc);
  unlink(path);
}

/* ---- tasks.json ---------------------------------------------------------- */

static tt_chan *g_park;
static tt_mutex g_mu;
static tt_wg *g_wg;

static __attribute__((noinline)) void parked_on_channel(void *arg) {
  (void)arg;
  tt_chan_recv(g_park, NULL);
  tt_wg_done(g_wg);
}

static __attribute__((noinline)) void parked_on_mutex(void *arg) {
  (void)arg;
  tt_mutex_lock(&g_mu);
  tt_mutex_unlock(&g_mu);
  tt_wg_done(g_wg);
}

static __attribute__((noinline)) void leaked_on_nil(void *arg) {
  (void)arg;
  tt_chan_recv(NULL, NULL);
}

/* Run node over the JSON in `json`: one line per group,
 * "count|state|reason|entry|leaked?|suspect?|frames joined by ;". */
static char *summarize_with_node(const char *json, size_t len) {
  char jpath[] = "/tmp/tt_tasks_jsonXXXXXX";
  int fd = mkstemp(jpath);
  FILE *f = fdopen(fd, "w");
  fwrite(json, 1, len, f);
  fclose(f);
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "node -e 'const d = JSON.parse(require(\"fs\").readFileSync(\"%s\", \"utf8\"));"
           "console.log(\"total \" + d.total + \" groups \" + d.ngroups + \" listed \" + "
           "d.groups.length);"
           "for (const g of d.groups) console.log([g.count, g.state, g.reason, g.entry, "
           "g.leaked ? \"leaked\" : \"-\", g.suspect ? \"suspect\" : \"-\", "
           "g.frames.map(f => f.func).join(\";\")].join(\"|\"));' 2>&1",
           jpath);
  FILE *p = popen(cmd, "r");
  char *out = NULL;
  size_t olen = 0;
  FILE *m = open_memstream(&out, &olen);
  char buf[4096];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, p)) > 0)
    fwrite(buf, 1, got, m);
  int rc = pclose(p);
  fclose(m);
  CHECK_MSG(rc == 0, "node could not read the JSON:\n%s", out);
  unlink(jpath);
  return out;
}

/* The line of the group whose entry is `entry`, or NULL. */
static const char *group_line(const char *summary, const char *entry, char *line, size_t cap) {
  char needle[128];
  snprintf(needle, sizeof needle, "|%s|", entry);
  const char *p = strstr(summary, needle);
  if (!p)
    return NULL;
  while (p > summary && p[-1] != '\n')
    p--;
  const char *e = strchr(p, '\n');
  snprintf(line, cap, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
  return line;
}

static void main_task(void *arg) {
  (void)arg;
  tt_test_leaks_expected = 1; /* the nil-channel receiver, on purpose */
  g_park = tt_chan_make(sizeof(int), 0);
  g_wg = tt_wg_make();
  tt_mutex_lock(&g_mu);
  tt_wg_add(g_wg, 10);
  int64_t last = 0;
  tt_test_task seen;
  for (int i = 0; i < 7; i++)
    last = tt_go(parked_on_channel, NULL);
  CHECK(tt_test_await_wait_reason(last, "chan receive", TT_MS(10000), &seen));
  for (int i = 0; i < 3; i++)
    last = tt_go(parked_on_mutex, NULL);
  CHECK(tt_test_await_wait_reason(last, "sync.Mutex.Lock", TT_MS(10000), &seen));
  last = tt_go(leaked_on_nil, NULL);
  CHECK(tt_test_await_wait_reason(last, "chan receive (nil chan)", TT_MS(10000), &seen));

  tt_bytebuf b = {0};
  CHECK_EQ(tt__http_tasks_json(&b, NULL), 0);
  char *sum = summarize_with_node((const char *)b.data, b.len);
  char line[2048];
  CHECK_MSG(strstr(sum, "total 12 ") != NULL, "%s", sum);
  CHECK_MSG(group_line(sum, "parked_on_channel", line, sizeof line) &&
                strncmp(line, "7|waiting|chan receive|parked_on_channel|-|-|", 45) == 0,
            "%s", sum);
  /* Its frames: the blocking call inside the function the tasks run. */
  CHECK_MSG(strstr(line + 45, "tt_chan_recv") && strstr(line + 45, "parked_on_channel"),
            "frames: %s", line);
  CHECK_MSG(group_line(sum, "parked_on_mutex", line, sizeof line) &&
                strncmp(line, "3|waiting|sync.Mutex.Lock|parked_on_mutex|-|-|", 46) == 0,
            "%s", sum);
  CHECK_MSG(group_line(sum, "leaked_on_nil", line, sizeof line) &&
                strncmp(line, "1|waiting|chan receive (nil chan)|leaked_on_nil|leaked|", 55) == 0,
            "%s", sum);
  CHECK_MSG(group_line(sum, "main_task", line, sizeof line) &&
                strncmp(line, "1|running||main_task|-|-|", 25) == 0,
            "%s", sum);
  /* The most populous group comes first. */
  CHECK_MSG(strstr(sum, "\n7|") != NULL && strstr(sum, "\n7|") < strstr(sum, "\n3|"), "%s", sum);
  free(sum);
  free(b.data);

  /* A 1 ns threshold: every long wait but the leaked one is a suspect; a
   * one-group limit lists one group and still counts them all. */
  tt_bytebuf b2 = {0};
  CHECK_EQ(tt__http_tasks_json(&b2, &(tt_http_tasks_opts){.suspect_min_wait = 1, .max_groups = 1}),
           0);
  sum = summarize_with_node((const char *)b2.data, b2.len);
  CHECK_MSG(strstr(sum, "groups 4 listed 1") != NULL, "%s", sum);
  CHECK_MSG(strstr(sum, "7|waiting|chan receive|parked_on_channel|-|suspect|") != NULL, "%s", sum);
  free(sum);
  free(b2.data);

  tt_chan_close(g_park);
  tt_mutex_unlock(&g_mu);
  tt_wg_wait(g_wg);
  tt_chan_unref(g_park);
  tt_wg_free(g_wg);
}

int main(void) {
  tt_test_watchdog(120);
  test_page();
  tt_bytebuf b = {0};
  CHECK_EQ(tt__http_tasks_json(&b, NULL), TT_ENOTINIT);
  free(b.data);
  CHECK_EQ(tt_main(main_task, NULL), 0);
  return TEST_REPORT();
}
