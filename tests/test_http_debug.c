/*
 * test_http_debug: the debug endpoints over a socket. With tasks parked at
 * known entry functions (and one leaked on a nil channel), every endpoint
 * of tt_debug_serve is fetched from a plain-thread client: status, content
 * type, the goroutine text naming those entry functions, the protobuf
 * gzipped (1f 8b) and non-empty, goroutineleak naming the leaked task
 * only, /metrics read line by line, bad query values answered 400. Then
 * the endpoints mounted on a user's server under another prefix, beside
 * the user's own routes.
 */
#include "harness.h"
#include "http_client.h"

static tt_chan *g_block;
static atomic_int g_woken;

static void parked_worker(void *arg) {
  (void)arg;
  tt_chan_recv(g_block, NULL);
  atomic_fetch_add(&g_woken, 1); /* also keeps the call from being a tail call */
}

static void leaky_sender(void *arg) {
  (void)arg;
  int v = 1;
  tt_chan_send(NULL, &v); /* a nil channel: leaked the moment it blocks */
}

static void fetch(int port, const char *path, cli_resp *r) {
  char req[512];
  snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
  bool ok = cli_roundtrip(port, req, r);
  CHECK_MSG(ok, "GET %s: no response", path);
}

static void expect_type(const cli_resp *r, const char *type) {
  char v[128] = "";
  cli_field(r, "Content-Type", v, sizeof v);
  CHECK_STREQ(v, type);
}

/* Every line of the exposition: a comment (# HELP / # TYPE name ...) or
 * `name{labels} value` with a number for value. */
static void check_metrics(const char *text) {
  int samples = 0, bad = 0;
  bool saw_tasks = false;
  const char *p = text;
  while (*p) {
    const char *eol = strchr(p, '\n');
    if (!eol) {
      bad++;
      break;
    }
    char line[1024];
    size_t n = (size_t)(eol - p) < sizeof line - 1 ? (size_t)(eol - p) : sizeof line - 1;
    memcpy(line, p, n);
    line[n] = 0;
    p = eol + 1;
    if (line[0] == '#') {
      if (strncmp(line, "# HELP ", 7) != 0 && strncmp(line, "# TYPE ", 7) != 0)
        bad++;
      continue;
    }
    char *sp = strrchr(line, ' ');
    char *end = NULL;
    if (!sp || (strtod(sp + 1, &end), end == sp + 1 || *end)) {
      bad++;
      continue;
    }
    samples++;
    if (strncmp(line, "tether_tasks{state=\"waiting\"}", 29) == 0 && atof(sp + 1) >= 8)
      saw_tasks = true;
  }
  CHECK_EQ(bad, 0);
  CHECK(samples > 10);
  CHECK(saw_tasks);
}

static void check_endpoints(int port, const char *prefix) {
  char path[256];
  cli_resp r;

  snprintf(path, sizeof path, "%spprof/", prefix);
  fetch(port, path, &r);
  CHECK_EQ(r.status, 200);
  expect_type(&r, "text/html; charset=utf-8");
  CHECK(strstr(r.body, "goroutine?debug=1") && strstr(r.body, "goroutineleak"));
  cli_free(&r);

  snprintf(path, sizeof path, "%spprof/goroutine?debug=2", prefix);
  fetch(port, path, &r);
  CHECK_EQ(r.status, 200);
  expect_type(&r, "text/plain; charset=utf-8");
  CHECK(strstr(r.body, "goroutine ") != NULL);
  CHECK(strstr(r.body, "parked_worker") != NULL);
  CHECK(strstr(r.body, "leaky_sender") != NULL);
  CHECK(strstr(r.body, "(leaked)") != NULL);
  cli_free(&r);

  snprintf(path, sizeof path, "%spprof/goroutine?debug=1", prefix);
  fetch(port, path, &r);
  CHECK_EQ(r.status, 200);
  expect_type(&r, "text/plain; charset=utf-8");
  CHECK(strncmp(r.body, "goroutine profile: total ", 25) == 0);
  CHECK(strstr(r.body, "\n7 @ ") != NULL); /* the seven parked workers, counted */
  CHECK(strstr(r.body, "parked_worker") != NULL);
  cli_free(&r);

  for (int leak = 0; leak < 2; leak++) {
    snprintf(path, sizeof path, "%spprof/%s%s", prefix, leak ? "goroutineleak" : "goroutine",
             leak ? "?debug=0" : "");
    fetch(port, path, &r);
    CHECK_EQ(r.status, 200);
    expect_type(&r, "application/octet-stream");
    char v[128] = "";
    cli_field(&r, "Content-Disposition", v, sizeof v);
    CHECK_STREQ(v, leak ? "attachment; filename=\"goroutineleak\""
                        : "attachment; filename=\"goroutine\"");
    CHECK(r.body_len > 20);
    CHECK(r.body_len >= 2 && (unsigned char)r.body[0] == 0x1f && (unsigned char)r.body[1] == 0x8b);
    cli_free(&r);
  }

  snprintf(path, sizeof path, "%spprof/goroutineleak?debug=1", prefix);
  fetch(port, path, &r);
  CHECK_EQ(r.status, 200);
  CHECK(strstr(r.body, "leaky_sender") != NULL);
  CHECK(strstr(r.body, "parked_worker") == NULL);
  cli_free(&r);

  snprintf(path, sizeof path, "%spprof/goroutineleak?debug=2", prefix);
  fetch(port, path, &r);
  CHECK_EQ(r.status, 200);
  CHECK(strstr(r.body, "(leaked)") != NULL);
  cli_free(&r);

  static const char *const bad[] = {"goroutine?debug=7", "goroutine?debug=x",
                                    "goroutineleak?debug=", "goroutine?debug=10",
                                    "goroutine?seconds=5"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(path, sizeof path, "%spprof/%s", prefix, bad[i]);
    fetch(port, path, &r);
    CHECK_MSG(r.status == 400, "%s: %d", path, r.status);
    CHECK(r.body_len > 0);
    cli_free(&r);
  }
  snprintf(path, sizeof path, "%spprof/heap", prefix);
  fetch(port, path, &r);
  CHECK_EQ(r.status, 404);
  cli_free(&r);

  snprintf(path, sizeof path, "%stasks", prefix);
  fetch(port, path, &r);
  CHECK_EQ(r.status, 200);
  expect_type(&r, "text/html; charset=utf-8");
  /* The page fetches tasks.json relative to its own URL: prefix + tasks.json. */
  CHECK(strstr(r.body, "fetch(\"tasks.json\"") != NULL);
  cli_free(&r);

  snprintf(path, sizeof path, "%stasks.json", prefix);
  fetch(port, path, &r);
  CHECK_EQ(r.status, 200);
  expect_type(&r, "application/json");
  CHECK(r.body[0] == '{' && strstr(r.body, "\"groups\"") && strstr(r.body, "parked_worker"));
  cli_free(&r);

  snprintf(path, sizeof path, "%sdump.json", prefix);
  fetch(port, path, &r);
  CHECK_EQ(r.status, 200);
  expect_type(&r, "application/json");
  CHECK(r.body[0] == '{' && strstr(r.body, "leaky_sender"));
  cli_free(&r);

  fetch(port, "/metrics", &r);
  CHECK_EQ(r.status, 200);
  expect_type(&r, "text/plain; version=0.0.4; charset=utf-8");
  check_metrics(r.body);
  cli_free(&r);

  /* HEAD of a profile: its framing, no body. */
  snprintf(path, sizeof path, "HEAD %spprof/goroutine?debug=1 HTTP/1.1\r\nHost: x\r\n\r\n", prefix);
  CHECK(cli_roundtrip(port, path, &r));
  CHECK_EQ(r.status, 200);
  CHECK_EQ(r.body_len, 0);
  cli_free(&r);
}

/* `go tool pprof` (Go 1.19 from Debian) reads both profiles over HTTP, as
 * it reads a Go program's. Skipped (with a note) when Go is not installed. */
static void check_go_pprof(int port) {
  const char *go = "/usr/lib/go-1.19/bin/go";
  if (access(go, X_OK) != 0) {
    NOTE("no %s: go tool pprof not checked", go);
    return;
  }
  char dir[] = "/tmp/tt-pprof-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  for (int leak = 0; leak < 2; leak++) {
    char cmd[512], out[16384];
    snprintf(cmd, sizeof cmd,
             "PPROF_TMPDIR=%s HOME=%s GOFLAGS= %s tool pprof -top "
             "http://127.0.0.1:%d/debug/pprof/%s 2>&1",
             dir, dir, go, port, leak ? "goroutineleak" : "goroutine");
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = 0;
    int st = p ? pclose(p) : -1;
    CHECK_MSG(st == 0, "%s: exit %d\n%s", cmd, st, out);
    CHECK_MSG(strstr(out, leak ? "Type: goroutineleak" : "Type: goroutine") != NULL, "%s", out);
    CHECK_MSG(strstr(out, leak ? "leaky_sender" : "parked_worker") != NULL, "%s", out);
    if (leak)
      CHECK_MSG(strstr(out, "parked_worker") == NULL, "%s", out);
  }
  char rm[128];
  snprintf(rm, sizeof rm, "rm -rf %s", dir);
  CHECK_EQ(system(rm), 0);
}

static void h_user(tt_http_exchange *ex, void *arg) {
  (void)arg;
  tt_http_respond(ex, 200, "text/plain", "user route", 10);
}

int main(void) {
  tt_test_watchdog(240);
  CHECK_EQ(tt_init(NULL), 0);
  g_block = tt_chan_make(0, 0);
  for (int i = 0; i < 7; i++)
    CHECK(tt_go(parked_worker, NULL) > 0);
  CHECK(tt_go(leaky_sender, NULL) > 0);
  int64_t end = tt_test_mono_ns() + TT_MS(5000);
  while (tt_leak_count() < 1 && tt_test_mono_ns() < end)
    tt_test_sleep_ns(TT_MS(1));
  CHECK_EQ(tt_leak_count(), 1);

  /* Misuse. */
  tt_http_server *s = NULL;
  CHECK_EQ(tt_debug_serve("127.0.0.1:0", NULL), TT_EINVAL);
  CHECK_EQ(tt_debug_serve("no-port", &s), TT_EINVAL);
  CHECK_EQ(tt_debug_mount(NULL, NULL), TT_EINVAL);

  /* The one-call server, on loopback at an ephemeral port. */
  CHECK_EQ(tt_debug_serve("127.0.0.1:0", &s), 0);
  int port = tt_http_server_port(s);
  CHECK(port > 0);
  check_endpoints(port, "/debug/");
  check_go_pprof(port);
  CHECK_EQ(tt_http_server_shutdown(s, TT_MS(1000)), 0);
  tt_http_server_free(s);

  /* Mounted on a user's server, under another prefix, beside its routes. */
  CHECK_EQ(tt_http_server_new(NULL, &s), 0);
  CHECK_EQ(tt_http_handle(s, "GET", "/", h_user, NULL), 0);
  CHECK_EQ(tt_debug_mount(s, "no-slash"), TT_EINVAL);
  CHECK_EQ(tt_debug_mount(s, "/ops/debug"), TT_EINVAL);
  CHECK_EQ(tt_debug_mount(s, "/ops/"), 0);
  CHECK_EQ(tt_debug_mount(s, "/ops/"), TT_EINVAL); /* the same routes twice */
  CHECK_EQ(tt_http_server_listen(s, "127.0.0.1", "0"), 0);
  CHECK_EQ(tt_debug_mount(s, "/late/"), TT_EBUSY);
  port = tt_http_server_port(s);
  check_endpoints(port, "/ops/");
  cli_resp r;
  fetch(port, "/anything", &r);
  CHECK_EQ(r.status, 200);
  CHECK_STREQ(r.body, "user route");
  cli_free(&r);
  fetch(port, "/debug/pprof/", &r); /* not mounted there: the user's "/" answers */
  CHECK_STREQ(r.body, "user route");
  cli_free(&r);
  CHECK_EQ(tt_http_server_shutdown(s, TT_MS(1000)), 0);
  tt_http_server_free(s);

  tt_chan_close(g_block);
  tt_chan_unref(g_block);
  CHECK_EQ(tt_shutdown(), 0);
  return TEST_REPORT();
}
