/*
 * bench_http_client: tt_http_client against bench_http_hello (a running
 * tether server at BASE), for scripts/bench-http.sh; bench/go/http_client.go
 * is its Go twin and does the same against the same server.
 *
 *   TT_PROCS=2 bench_http_client http://127.0.0.1:PORT [conns] [secs] [held]
 *
 * 1. Throughput: `conns` (64) tasks each send keep-alive GETs of / one
 *    after the other for `secs` (5) seconds through one client (max in
 *    flight and idle connections both >= conns, so every request reuses a
 *    connection after the first round). Every response must be 200 with
 *    "Hello, World!\n"; each latency is kept for the percentiles.
 * 2. Memory per in-flight request: `held` (1000) tasks each GET
 *    /hold?ms=3000, which the server answers 3 s later; once the server's
 *    /held says all of them are held (every request is in flight: sent,
 *    connection open, task parked) the resident size is read again.
 *    (RSS then - RSS before the tasks were spawned) / held is the figure.
 *    Every held request must then come back 200 "held\n".
 *
 * Prints one line: CLIENT requests=N rps=R p50_us=A p99_us=B inflight_bytes=M
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_util.h"

#define NAME "http_client"
#define HELLO "Hello, World!\n"
#define HOLD_MS 3000

typedef struct worker {
  int64_t *lat; /* ns per request */
  size_t n, cap;
} worker;

static struct {
  const char *base;
  int64_t conns, secs, held;
  tt_http_client *client;
  char hello_url[256], hold_url[256], held_url[256];
  int64_t until; /* end of the throughput phase (tt_now) */
  worker *workers;
  atomic_int held_ok;
} g;

static void check_hello(int rc, const tt_http_response *r) {
  if (rc != 0)
    bench_fail(NAME, "GET /: %s (%s)", tt_strerror(rc), r->error);
  if (r->status != 200 || r->body_len != strlen(HELLO) || memcmp(r->body, HELLO, r->body_len) != 0)
    bench_fail(NAME, "GET /: status %d, %zu body bytes", r->status, r->body_len);
}

static void loop_task(void *arg) {
  worker *w = arg;
  while (tt_now() < g.until) {
    tt_http_response r;
    int64_t t0 = tt_now();
    int rc = tt_http_get(g.client, NULL, g.hello_url, &r);
    int64_t t1 = tt_now();
    check_hello(rc, &r);
    tt_http_response_free(&r);
    if (w->n == w->cap) {
      w->cap = w->cap ? 2 * w->cap : 4096;
      w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
      if (!w->lat)
        bench_fail(NAME, "out of memory");
    }
    w->lat[w->n++] = t1 - t0;
  }
}

static void warm_task(void *arg) {
  (void)arg;
  for (int i = 0; i < 20; i++) {
    tt_http_response r;
    check_hello(tt_http_get(g.client, NULL, g.hello_url, &r), &r);
    tt_http_response_free(&r);
  }
}

static void hold_task(void *arg) {
  (void)arg;
  tt_http_response r;
  int rc = tt_http_get(g.client, NULL, g.hold_url, &r);
  if (rc != 0 || r.status != 200 || r.body_len != 5 || memcmp(r.body, "held\n", 5) != 0)
    bench_fail(NAME, "GET /hold: %s, status %d (%s)", tt_strerror(rc), r.status, r.error);
  tt_http_response_free(&r);
  atomic_fetch_add(&g.held_ok, 1);
}

/* The server's count of requests it is holding. */
static int64_t server_held(void) {
  tt_http_response r;
  int rc = tt_http_get(g.client, NULL, g.held_url, &r);
  if (rc != 0 || r.status != 200 || !r.body)
    bench_fail(NAME, "GET /held: %s, status %d", tt_strerror(rc), r.status);
  int64_t n = atoll(r.body);
  tt_http_response_free(&r);
  return n;
}

static void run_all(void (*fn)(void *), worker *ws, int64_t n) {
  tt_wg *wg = tt_wg_make();
  if (!wg)
    bench_fail(NAME, "out of memory");
  for (int64_t i = 0; i < n; i++)
    if (tt_wg_go(wg, fn, ws ? &ws[i] : NULL) < 0)
      bench_fail(NAME, "cannot spawn");
  tt_wg_wait(wg);
  tt_wg_free(wg);
}

static void bench(void *arg) {
  (void)arg;
  tt_http_client_opts o = {.max_in_flight = (int)(g.held + g.conns + 8),
                           .max_idle_conns = (int)g.conns};
  int rc = tt_http_client_new(&o, &g.client);
  if (rc < 0)
    bench_fail(NAME, "tt_http_client_new: %s", tt_strerror(rc));
  run_all(warm_task, NULL, g.conns);

  /* 1. Throughput. */
  g.workers = calloc((size_t)g.conns, sizeof *g.workers);
  if (!g.workers)
    bench_fail(NAME, "out of memory");
  int64_t t0 = tt_now();
  g.until = t0 + g.secs * 1000000000;
  run_all(loop_task, g.workers, g.conns);
  int64_t elapsed = tt_now() - t0;
  size_t total = 0;
  for (int64_t i = 0; i < g.conns; i++)
    total += g.workers[i].n;
  int64_t *all = malloc(total * sizeof *all);
  if (!all || total == 0)
    bench_fail(NAME, "no requests measured");
  size_t k = 0;
  for (int64_t i = 0; i < g.conns; i++) {
    memcpy(all + k, g.workers[i].lat, g.workers[i].n * sizeof *all);
    k += g.workers[i].n;
    free(g.workers[i].lat);
  }
  free(g.workers);
  qsort(all, total, sizeof *all, bench_cmp_i64);
  double rps = (double)total * 1e9 / (double)elapsed;
  double p50 = (double)all[total / 2] / 1e3, p99 = (double)all[total * 99 / 100] / 1e3;
  free(all);

  /* 2. Memory per in-flight request. */
  int64_t before = bench_rss_bytes();
  tt_wg *wg = tt_wg_make();
  if (!wg)
    bench_fail(NAME, "out of memory");
  for (int64_t i = 0; i < g.held; i++)
    if (tt_wg_go(wg, hold_task, NULL) < 0)
      bench_fail(NAME, "cannot spawn");
  int64_t deadline = tt_now() + (int64_t)(HOLD_MS - 500) * 1000000;
  int64_t n;
  while ((n = server_held()) < g.held) {
    if (tt_now() > deadline)
      bench_fail(NAME, "only %lld of %lld requests reached the server in time", (long long)n,
                 (long long)g.held);
    tt_sleep(5000000);
  }
  int64_t during = bench_rss_bytes();
  tt_wg_wait(wg);
  tt_wg_free(wg);
  if (atomic_load(&g.held_ok) != g.held)
    bench_fail(NAME, "%d of %lld held requests came back", atomic_load(&g.held_ok),
               (long long)g.held);
  tt_http_client_shutdown(g.client, 0);
  tt_http_client_free(g.client);
  if (before < 0 || during < 0)
    bench_fail(NAME, "cannot read /proc/self/statm");
  printf("CLIENT requests=%zu rps=%.0f p50_us=%.1f p99_us=%.1f inflight_bytes=%.0f\n", total, rps,
         p50, p99, (double)(during - before) / (double)g.held);
}

int main(int argc, char **argv) {
  if (argc < 2 || strncmp(argv[1], "http://", 7) != 0)
    bench_fail(NAME, "usage: bench_http_client http://HOST:PORT [conns] [secs] [held]");
  g.base = argv[1];
  g.conns = bench_arg(argc, argv, 2, 64);
  g.secs = bench_arg(argc, argv, 3, 5);
  g.held = bench_arg(argc, argv, 4, 1000);
  snprintf(g.hello_url, sizeof g.hello_url, "%s/", g.base);
  snprintf(g.hold_url, sizeof g.hold_url, "%s/hold?ms=%d", g.base, HOLD_MS);
  snprintf(g.held_url, sizeof g.held_url, "%s/held", g.base);
  struct rlimit rl; /* two descriptors per connection: the socket and the poller's duplicate */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if ((int64_t)rl.rlim_cur < 2 * g.held + 100)
    bench_fail(NAME, "RLIMIT_NOFILE %llu is too low for %lld requests",
               (unsigned long long)rl.rlim_cur, (long long)g.held);
  return tt_main(bench, NULL) < 0;
}
