/*
 * make demo: the seed's story, against a server this program starts on
 * 127.0.0.1 (/delay/MS, /bytes/N, /stream/N, /hang, /status/CODE).
 *
 *   1. A naive client (no timeout, no limit, a task per request) fired at
 *      /hang and /delay: tasks pile up in "IO wait". A baseline check names
 *      the spawn site that grows, with its newest task's stack, and the
 *      suspect tier names the pattern (I/O without a timeout). Only killing
 *      the server frees them.
 *   2. The same work through tt_http_client, the seed's SafeHTTPClient:
 *      timeouts fire, the in-flight limit holds, a 50 MB body is refused
 *      at 10 MiB, shutdown waits for what is in flight and cuts off the
 *      rest, and the final checks find no task left and no leak.
 *   3. The seed's six leak patterns (examples/pattern*_leak.c), each caught.
 */
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tether.h"

#define MS 1000000LL

/* ---- the server ------------------------------------------------------------ */

static atomic_int in_handler, most_in_handler;

static int64_t path_number(tt_http_exchange *ex) {
  const char *p = strrchr(tt_http_req_path(ex), '/');
  return p ? strtoll(p + 1, NULL, 10) : 0;
}

static void h_delay(tt_http_exchange *ex, void *arg) {
  (void)arg;
  int now = atomic_fetch_add(&in_handler, 1) + 1;
  int most = atomic_load(&most_in_handler);
  while (now > most && !atomic_compare_exchange_weak(&most_in_handler, &most, now)) {
  }
  tt_sleep_ctx(path_number(ex) * MS, tt_http_req_ctx(ex));
  atomic_fetch_sub(&in_handler, 1);
  tt_http_respond(ex, 200, "text/plain", "done\n", 5);
}

static void h_hang(tt_http_exchange *ex, void *arg) { /* answers never */
  (void)arg;
  tt_sleep_ctx(TT_NO_DEADLINE, tt_http_req_ctx(ex));
}

static void h_bytes(tt_http_exchange *ex, void *arg) { /* with a Content-Length */
  (void)arg;
  size_t n = (size_t)path_number(ex);
  char *body = calloc(1, n + 1);
  tt_http_respond(ex, 200, "application/octet-stream", body, n);
  free(body);
}

static void h_stream(tt_http_exchange *ex, void *arg) { /* chunked: no length announced */
  (void)arg;
  static char chunk[1 << 16];
  for (int64_t left = path_number(ex); left > 0; left -= (int64_t)sizeof chunk)
    if (tt_http_resp_write(ex, chunk, sizeof chunk) != 0)
      break;
}

static void h_status(tt_http_exchange *ex, void *arg) {
  (void)arg;
  tt_http_respond(ex, (int)path_number(ex), "text/plain", "status\n", 7);
}

static tt_http_server *serve(int *port) {
  tt_http_server *s;
  if (tt_http_server_new(NULL, &s) != 0)
    return NULL;
  tt_http_handle(s, "GET", "/delay/", h_delay, NULL);
  tt_http_handle(s, "GET", "/hang", h_hang, NULL);
  tt_http_handle(s, "GET", "/bytes/", h_bytes, NULL);
  tt_http_handle(s, "GET", "/stream/", h_stream, NULL);
  tt_http_handle(s, "GET", "/status/", h_status, NULL);
  if (tt_http_server_listen(s, "127.0.0.1", "0") != 0) {
    tt_http_server_free(s);
    return NULL;
  }
  *port = tt_http_server_port(s);
  return s;
}

/* ---- 1. the naive client ---------------------------------------------------- */

typedef struct naive_req {
  int port;
  const char *path;
} naive_req;

/* http.Get with Go's default client: no timeout, reads until the server
 * closes. A server that never answers keeps this task for ever. */
static void naive_fetch(void *arg) {
  naive_req *r = arg;
  tt_fd c;
  char port[16], req[128], buf[4096];
  snprintf(port, sizeof port, "%d", r->port);
  if (tt_tcp_connect("127.0.0.1", port, &c) != 0)
    return;
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n",
                   r->path);
  tt_fd_write_all(c, req, (size_t)n);
  while (tt_fd_read(c, buf, sizeof buf) > 0) {
  }
  tt_fd_close(c);
}

static void naive(void) {
  int port;
  tt_http_server *s = serve(&port);
  if (!s)
    return;
  printf("== 1. a naive client: no timeout, no limit, one task per request ==\n"
         "server on 127.0.0.1:%d; 50 requests to /hang and 50 to /delay/100\n",
         port);
  tt_baseline *base = tt_baseline_take();
  static naive_req hang = {0, "/hang"}, slow = {0, "/delay/100"};
  hang.port = slow.port = port;
  for (int i = 0; i < 50; i++) {
    tt_go(naive_fetch, &hang);
    tt_go(naive_fetch, &slow);
  }
  tt_sleep(1000 * MS);
  printf("\nafter 1 s, %lld tasks are alive; the baseline check says where they come from:\n",
         (long long)tt_num_tasks());
  tt_baseline_check(base, 10, stdout);
  printf("\nand the suspect tier says what they are (first of them):\n");
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  int64_t n = tt_leak_suspects(f, 500 * MS);
  fclose(f);
  char *cut = text ? strstr(text + 1, "tether: suspect") : NULL; /* the first is enough */
  if (cut)
    *cut = 0;
  printf("%s(%lld suspects in all)\n", text ? text : "", (long long)n);
  free(text);
  printf("\nnothing in the program can free them: only shutting the server down does.\n");
  tt_http_server_shutdown(s, 0);
  tt_http_server_free(s);
  tt_sleep(50 * MS);
  printf("after the server went: %d spawn sites above the baseline\n",
         tt_baseline_check(base, 10, NULL));
  tt_baseline_free(base);
}

/* ---- 2. the safe client ------------------------------------------------------ */

typedef struct job {
  tt_http_client *c;
  char url[96];
  int rc, status;
  int64_t took;
  tt_wg *wg;
} job;

static void fetch(void *arg) {
  job *j = arg;
  tt_http_response r;
  int64_t t0 = tt_now();
  j->rc = tt_http_get(j->c, NULL, j->url, &r);
  j->took = tt_now() - t0;
  j->status = r.status;
  tt_http_response_free(&r);
  tt_wg_done(j->wg);
}

/* n requests to path at once; returns how many ended with `want`. */
static int fire(tt_http_client *c, int port, const char *path, int n, int want, job *jobs,
                bool wait) {
  tt_wg *wg = tt_wg_make();
  tt_wg_add(wg, n);
  for (int i = 0; i < n; i++) {
    jobs[i] = (job){.c = c, .wg = wg};
    snprintf(jobs[i].url, sizeof jobs[i].url, "http://127.0.0.1:%d%s", port, path);
    tt_go(fetch, &jobs[i]);
  }
  if (!wait)
    return 0;
  tt_wg_wait(wg);
  tt_wg_free(wg);
  int got = 0;
  for (int i = 0; i < n; i++)
    got += jobs[i].rc == want;
  return got;
}

static void safe(void) {
  int port;
  tt_http_server *s = serve(&port);
  if (!s)
    return;
  printf("\n== 2. the safe client: tt_http_client, the seed's SafeHTTPClient ==\n"
         "timeout 1 s, at most 10 requests in flight, bodies up to 10 MiB\n");
  tt_baseline *base = tt_baseline_take();
  tt_http_client *c;
  tt_http_client_new(&(tt_http_client_opts){.timeout = 1000 * MS, .max_in_flight = 10}, &c);
  static job jobs[64];

  int64_t t0 = tt_now();
  int n = fire(c, port, "/hang", 20, TT_ETIMEDOUT, jobs, true);
  printf("20 requests to /hang:       %d timed out (TT_ETIMEDOUT), all done in %.1f s "
         "(two rounds of 10)\n",
         n, (double)(tt_now() - t0) / 1e9);

  atomic_store(&most_in_handler, 0);
  t0 = tt_now();
  n = fire(c, port, "/delay/100", 50, 0, jobs, true);
  printf("50 requests to /delay/100:  %d answered in %.1f s; the server saw at most %d at once\n",
         n, (double)(tt_now() - t0) / 1e9, atomic_load(&most_in_handler));

  tt_http_response r;
  char url[96];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/bytes/52428800", port);
  /* Its own timeout: a slow machine may take a while to make 50 MB. */
  int rc = tt_http_do(c, NULL, &(tt_http_request){.url = url, .timeout = 20000 * MS}, &r);
  printf("a 50 MB body (announced):   %s after %zu bytes: %s\n", tt_strerror(rc), r.body_len,
         r.error);
  tt_http_response_free(&r);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/stream/52428800", port);
  rc = tt_http_get(c, NULL, url, &r);
  printf("a 50 MB body (chunked):     %s after %zu bytes: %s\n", tt_strerror(rc), r.body_len,
         r.error);
  tt_http_response_free(&r);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/status/503", port);
  rc = tt_http_get(c, NULL, url, &r);
  printf("/status/503:                rc %d, status %d (a status is an answer, not an error)\n", rc,
         r.status);
  tt_http_response_free(&r);

  printf("\nshutdown with 5 requests to /delay/300 and 3 to /hang in flight, grace 0.5 s:\n");
  fire(c, port, "/delay/300", 5, 0, jobs, false);
  fire(c, port, "/hang", 3, 0, jobs + 5, false);
  tt_sleep(50 * MS);
  t0 = tt_now();
  int cut = tt_http_client_shutdown(c, 500 * MS);
  int done = 0, cancelled = 0;
  for (int i = 0; i < 8; i++) {
    done += jobs[i].rc == 0;
    cancelled += jobs[i].rc == TT_ECANCELED;
  }
  printf("  returned after %.1f s: %d finished, %d cut off (TT_ECANCELED); it said %d\n",
         (double)(tt_now() - t0) / 1e9, done, cancelled, cut);
  rc = tt_http_get(c, NULL, url, &r);
  printf("  a request after shutdown: %s (%s)\n", rc == TT_ESHUTDOWN ? "TT_ESHUTDOWN" : "?",
         r.error);
  tt_http_response_free(&r);
  tt_http_client_free(c);
  tt_http_server_shutdown(s, 1000 * MS);
  tt_http_server_free(s);
  tt_sleep(20 * MS);

  printf("\nthe checks at the end:\n  baseline: ");
  tt_baseline_check(base, 0, stdout);
  tt_baseline_free(base);
  tt_verify_report *left = NULL;
  int64_t v = tt_verify_none(NULL, &left);
  printf("  tt_verify_none: %s\n", v == 0 ? "no task left" : "tasks left (below)");
  if (v)
    tt_verify_report_print(left, stdout);
  tt_verify_report_free(left);
  printf("  tt_leak_check: %lld leaked\n", (long long)tt_leak_check());
}

static void main_task(void *arg) {
  (void)arg;
  naive();
  safe();
}

/* ---- 3. the seed's six patterns --------------------------------------------------- */

static int run(const char *dir, const char *name) {
  extern char **environ;
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  fflush(stdout);
  pid_t pid;
  char *argv[] = {path, NULL};
  int status = 0;
  if (posix_spawn(&pid, path, NULL, NULL, argv, environ) != 0 || waitpid(pid, &status, 0) != pid ||
      !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    printf("%s: FAILED\n", name);
    return 1;
  }
  return 0;
}

/* Each leaky pattern program prints its verify-none report and exits 0
 * when its leak was caught. Returns how many failed. */
static int leak_patterns(void) {
  static const char *const what[] = {
      "an abandoned sender",           "a receiver whose channel is never closed",
      "a task waiting on itself",      "network I/O without a timeout",
      "a worker pool never shut down", "a leak on the error path only",
  };
  char dir[4096];
  ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
  if (n <= 0)
    return 1;
  dir[n] = '\0';
  *strrchr(dir, '/') = '\0';
  printf("\n== 3. the seed's six leak patterns, each caught by tt_verify_none ==\n");
  int failed = 0;
  for (int i = 1; i <= 6; i++) {
    char name[32];
    snprintf(name, sizeof name, "pattern%d_leak", i);
    printf("\n-- pattern %d: %s (examples/%s.c) --\n", i, what[i - 1], name);
    failed += run(dir, name);
  }
  printf("\n== patterns 1, 2 and 5 caught the moment they become certain "
         "(examples/leakcheck.c) ==\n");
  return failed + run(dir, "leakcheck");
}

int main(void) {
  int rc = tt_main(main_task, NULL);
  if (rc < 0) {
    fprintf(stderr, "demo: %s\n", tt_strerror(rc));
    return 1;
  }
  return leak_patterns() != 0;
}
