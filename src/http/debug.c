/*
 * The debug endpoints (tether.h, "Debug endpoints"): Go's net/http/pprof
 * goroutine and goroutineleak profiles, the live task page and its JSON,
 * the JSON dump and /metrics, on a tt_http_server.
 *
 * Every document is made on a tt_blocking helper thread, not on the
 * connection's task: a snapshot symbolizes with libdw, which wants far more
 * stack than a task's 64 KiB, and a leak check walks every task; neither
 * should hold a worker. The helper writes into memory and the task sends it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/assets.h"
#include "http/metrics.h"
#include "http/server.h"
#include "http/tasks_json.h"
#include "observe/bytebuf.h"
#include "observe/exports.h"
#include "observe/snapshot.h"

enum doc_kind { DOC_DUMP, DOC_LEAKED_DEBUG1, DOC_METRICS, DOC_TASKS_JSON };

typedef struct doc_job {
  enum doc_kind kind;
  int format;      /* DOC_DUMP: a tt_dump_format */
  bool leak_check; /* run the wait-for-graph detector first */
  char *data;
  size_t len;
  int rc;
} doc_job;

/* debug=1 of the leaked tasks only: Go's goroutineleak?debug=1. */
static int leaked_debug1(FILE *out) {
  tt_snapshot s = {0};
  int rc = tt__snapshot_take(&s, TT_SNAP_STACKS);
  if (rc < 0)
    return rc;
  size_t kept = 0;
  for (size_t k = 0; k < s.ntasks; k++)
    if (s.tasks[k].leaked)
      s.tasks[kept++] = s.tasks[k];
  s.ntasks = kept;
  rc = tt__export_go_debug1(out, &s);
  tt__snapshot_free(&s);
  return rc;
}

static void bytebuf_doc(doc_job *j, int (*write)(tt_bytebuf *, const void *)) {
  tt_bytebuf b = {0};
  j->rc = write(&b, NULL);
  if (!j->rc && b.failed)
    j->rc = TT_ENOMEM;
  j->data = (char *)b.data;
  j->len = b.len;
}

static int metrics_doc(tt_bytebuf *b, const void *opts) {
  (void)opts;
  return tt__http_metrics_write(b, NULL);
}
static int tasks_doc(tt_bytebuf *b, const void *opts) {
  (void)opts;
  return tt__http_tasks_json(b, NULL);
}

/* Runs on the helper thread. */
static void make_doc(void *arg) {
  doc_job *j = arg;
  if (j->leak_check)
    tt_leak_check();
  if (j->kind == DOC_METRICS) {
    bytebuf_doc(j, metrics_doc);
    return;
  }
  if (j->kind == DOC_TASKS_JSON) {
    bytebuf_doc(j, tasks_doc);
    return;
  }
  FILE *f = open_memstream(&j->data, &j->len);
  if (!f) {
    j->rc = TT_ENOMEM;
    return;
  }
  j->rc = j->kind == DOC_LEAKED_DEBUG1 ? leaked_debug1(f) : tt_dump_as(f, j->format);
  if (fclose(f) != 0 && !j->rc)
    j->rc = TT_ENOMEM;
}

static void text_error(tt_http_exchange *ex, int status, const char *msg) {
  tt_http_resp_header(ex, "X-Content-Type-Options", "nosniff");
  tt_http_respond(ex, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

/* Makes the document and answers with it. */
static void serve_doc(tt_http_exchange *ex, doc_job *j, const char *content_type) {
  if (tt_blocking(make_doc, j) < 0 || j->rc < 0) {
    char msg[128];
    snprintf(msg, sizeof msg, "could not make the profile: %s\n",
             tt_strerror(j->rc < 0 ? j->rc : TT_ENOMEM));
    text_error(ex, 500, msg);
  } else {
    tt_http_resp_header(ex, "X-Content-Type-Options", "nosniff");
    tt_http_respond(ex, 200, content_type, j->data, j->len);
  }
  free(j->data);
}

/* ?debug=0|1|2 (absent: 0), as Go reads it, except that anything else is
 * refused instead of taken as 0. -1 when refused (answered already). */
static int debug_param(tt_http_exchange *ex) {
  char v[16];
  int n = tt_http_req_query(ex, "debug", v, sizeof v);
  if (n == TT_ENOENT)
    return 0;
  if (n == 1 && v[0] >= '0' && v[0] <= '2')
    return v[0] - '0';
  text_error(ex, 400, "debug must be 0, 1 or 2\n");
  return -1;
}

/* /debug/pprof/goroutine and .../goroutineleak. */
static void profile(tt_http_exchange *ex, bool leak) {
  int debug = debug_param(ex);
  if (debug < 0)
    return;
  char v[16];
  if (tt_http_req_query(ex, "seconds", v, sizeof v) != TT_ENOENT) {
    text_error(ex, 400, "delta profiles (seconds=) are not supported\n");
    return;
  }
  doc_job j = {.kind = DOC_DUMP, .leak_check = leak};
  if (debug == 0) {
    /* Go: the gzipped protobuf, as a download named after the profile. */
    j.format = leak ? TT_DUMP_PPROF_LEAKED : TT_DUMP_PPROF;
    tt_http_resp_header(ex, "Content-Disposition",
                        leak ? "attachment; filename=\"goroutineleak\""
                             : "attachment; filename=\"goroutine\"");
    serve_doc(ex, &j, "application/octet-stream");
    return;
  }
  if (debug == 1 && leak)
    j.kind = DOC_LEAKED_DEBUG1;
  else /* Go 1.26 answers goroutineleak?debug=2 with every stack, leaks marked */
    j.format = debug == 1 ? TT_DUMP_GO_DEBUG1 : TT_DUMP_GO_DEBUG2;
  serve_doc(ex, &j, "text/plain; charset=utf-8");
}

static void h_goroutine(tt_http_exchange *ex, void *arg) {
  (void)arg;
  profile(ex, false);
}
static void h_goroutineleak(tt_http_exchange *ex, void *arg) {
  (void)arg;
  profile(ex, true);
}

static int count_tasks(void) {
  tt_task_counts c;
  return tt_count_tasks(&c) == 0 ? (int)c.total : 0;
}

/* prefix/pprof/ and anything under it that is not a profile. */
static void h_index(tt_http_exchange *ex, void *arg) {
  /* arg: the length of the route's prefix (the mount's prefix + "pprof/"):
   * the index is that path itself, anything longer an unknown name. */
  const char *base = tt_http_req_path(ex);
  if (strlen(base) != (size_t)(uintptr_t)arg) {
    text_error(ex, 404, "Unknown profile\n");
    return;
  }
  int n = count_tasks();
  int64_t leaks = tt_leak_count();
  char *page = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&page, &len);
  if (!f) {
    text_error(ex, 500, "out of memory\n");
    return;
  }
  fprintf(f,
          "<html>\n<head>\n<title>%s</title>\n<style>\n"
          ".profile-name{display:inline-block;width:6rem;}\n</style>\n</head>\n<body>\n%s\n<br>\n"
          "<p>Set debug=1 as a query parameter to export in legacy text format</p>\n<br>\n"
          "Types of profiles available:\n<table>\n<thead><td>Count</td><td>Profile</td></thead>\n"
          "<tr><td>%d</td><td><a href='goroutine?debug=1'>goroutine</a></td></tr>\n"
          "<tr><td>%lld</td><td><a href='goroutineleak?debug=1'>goroutineleak</a></td></tr>\n"
          "</table>\n<a href=\"goroutine?debug=2\">full goroutine stack dump</a>\n<br>\n"
          "<p>\nProfile Descriptions:\n<ul>\n"
          "<li><div class=profile-name>goroutine: </div> Stack traces of all current tasks. "
          "Use debug=2 as a query parameter to export in the same format as an unrecovered "
          "panic.</li>\n"
          "<li><div class=profile-name>goroutineleak: </div> Stack traces of all leaked tasks "
          "(the leak detector runs first). Use debug=2 for every task's stack with the leaked "
          "ones marked.</li>\n"
          "</ul>\n</p>\n<p>Also: <a href=\"../tasks\">live task page</a>, "
          "<a href=\"../tasks.json\">tasks.json</a>, <a href=\"../dump.json\">dump.json</a>, "
          "<a href=\"/metrics\">/metrics</a></p>\n</body>\n</html>\n",
          base, base, n, (long long)leaks);
  if (fclose(f) != 0) {
    free(page);
    text_error(ex, 500, "out of memory\n");
    return;
  }
  tt_http_respond(ex, 200, "text/html; charset=utf-8", page, len);
  free(page);
}

static void h_tasks_page(tt_http_exchange *ex, void *arg) {
  (void)arg;
  tt_http_respond(ex, 200, TT_HTTP_TASKS_PAGE_CONTENT_TYPE, tt__http_tasks_page,
                  tt__http_tasks_page_len);
}

static void h_tasks_json(tt_http_exchange *ex, void *arg) {
  (void)arg;
  doc_job j = {.kind = DOC_TASKS_JSON};
  tt_http_resp_header(ex, "Cache-Control", "no-store");
  serve_doc(ex, &j, "application/json");
}

static void h_dump_json(tt_http_exchange *ex, void *arg) {
  (void)arg;
  doc_job j = {.kind = DOC_DUMP, .format = TT_DUMP_JSON};
  serve_doc(ex, &j, "application/json");
}

static void h_metrics(tt_http_exchange *ex, void *arg) {
  (void)arg;
  doc_job j = {.kind = DOC_METRICS};
  serve_doc(ex, &j, TT_HTTP_METRICS_CONTENT_TYPE);
}

static char *joined(const char *prefix, const char *name) {
  size_t a = strlen(prefix), b = strlen(name);
  char *s = malloc(a + b + 1);
  if (s)
    snprintf(s, a + b + 1, "%s%s", prefix, name);
  return s;
}

int tt_debug_mount(tt_http_server *s, const char *prefix) {
  if (!prefix)
    prefix = "/debug/";
  size_t n = strlen(prefix);
  if (!s || n == 0 || prefix[0] != '/' || prefix[n - 1] != '/')
    return TT_EINVAL;
  static const struct {
    const char *name;
    tt_http_handler_fn fn;
  } routes[] = {
      {"pprof/goroutine", h_goroutine}, {"pprof/goroutineleak", h_goroutineleak},
      {"tasks", h_tasks_page},          {"tasks.json", h_tasks_json},
      {"dump.json", h_dump_json},
  };
  char *index = joined(prefix, "pprof/");
  if (!index)
    return TT_ENOMEM;
  int rc = tt_http_handle(s, "GET", index, h_index, (void *)(uintptr_t)strlen(index));
  free(index); /* the mux copies its prefixes */
  for (size_t i = 0; i < sizeof routes / sizeof routes[0] && rc == 0; i++) {
    char *path = joined(prefix, routes[i].name);
    if (!path)
      return TT_ENOMEM;
    rc = tt_http_handle(s, "GET", path, routes[i].fn, NULL);
    free(path); /* the mux copies its prefixes */
  }
  if (rc == 0)
    rc = tt_http_handle(s, "GET", "/metrics", h_metrics, NULL);
  return rc;
}

int tt_debug_serve(const char *addr, tt_http_server **out) {
  if (!out)
    return TT_EINVAL;
  *out = NULL;
  if (!addr)
    addr = "127.0.0.1:6060";
  const char *colon = strrchr(addr, ':');
  if (!colon || !colon[1])
    return TT_EINVAL;
  char host[256];
  size_t hn = (size_t)(colon - addr);
  if (hn >= sizeof host)
    return TT_EINVAL;
  memcpy(host, addr, hn);
  host[hn] = 0;
  /* "[::1]:6060": the brackets are the address's, not the name's. */
  if (hn >= 2 && host[0] == '[' && host[hn - 1] == ']') {
    memmove(host, host + 1, hn - 2);
    host[hn - 2] = 0;
  }
  tt_http_server *s;
  int rc = tt_http_server_new(NULL, &s);
  if (rc < 0)
    return rc;
  if ((rc = tt_debug_mount(s, NULL)) < 0 || (rc = tt_http_server_listen(s, host, colon + 1)) < 0) {
    tt_http_server_free(s);
    return rc;
  }
  *out = s;
  return 0;
}
