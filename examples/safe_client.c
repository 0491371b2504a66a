/*
 * The seed's SafeHTTPClient and LeakDetector, in C.
 *
 *   safe_client [URL...]
 *
 * Fetches each URL concurrently (without arguments: a few paths of a
 * server it starts on 127.0.0.1 itself) through a client with the seed's
 * settings: a 30 s timeout, at most 100 requests in flight, bodies up to
 * 10 MiB. Then it shuts the client down with a 5 s grace and checks, as the
 * seed's LeakDetector does, that no task is left beyond the baseline.
 */
#include <stdio.h>
#include <string.h>

#include "tether.h"

#define SECOND 1000000000LL

typedef struct fetch_job {
  tt_http_client *client;
  const char *url;
} fetch_job;

static void fetch(void *arg) {
  fetch_job *job = arg;
  tt_context *ctx = tt_with_timeout(NULL, 10 * SECOND); /* the caller's own bound */
  tt_http_response resp;
  int rc = tt_http_get(job->client, ctx, job->url, &resp);
  if (rc == 0)
    printf("%s: %d, %zu bytes\n", job->url, resp.status, resp.body_len);
  else
    printf("%s: %s (%s)\n", job->url, tt_strerror(rc), resp.error);
  tt_http_response_free(&resp);
  tt_context_release(ctx);
}

static void hello(tt_http_exchange *ex, void *arg) {
  (void)arg;
  tt_http_respond(ex, 200, "text/plain", "hello\n", 6);
}

typedef struct args {
  int argc;
  char **argv;
} args;

static void run(void *arg) {
  args *a = arg;
  char local[3][64];
  const char *urls[64];
  int n = 0;
  tt_http_server *srv = NULL;
  if (a->argc > 1) {
    for (int i = 1; i < a->argc && n < 64; i++)
      urls[n++] = a->argv[i];
  } else if (tt_http_server_new(NULL, &srv) == 0 &&
             tt_http_handle(srv, "GET", "/", hello, NULL) == 0 &&
             tt_http_server_listen(srv, "127.0.0.1", "0") == 0) {
    const char *paths[] = {"/", "/a", "/b"};
    for (; n < 3; n++) {
      snprintf(local[n], sizeof local[n], "http://127.0.0.1:%d%s", tt_http_server_port(srv),
               paths[n]);
      urls[n] = local[n];
    }
  }
  tt_baseline *baseline = tt_baseline_take(); /* LeakDetector: NewLeakDetector() */

  tt_http_client *client;
  tt_http_client_opts opts = {.timeout = 30 * SECOND, .max_in_flight = 100, .max_body = 10 << 20};
  if (tt_http_client_new(&opts, &client) != 0)
    return;
  fetch_job jobs[64];
  tt_wg *wg = tt_wg_make();
  for (int i = 0; i < n; i++) {
    jobs[i] = (fetch_job){client, urls[i]};
    tt_wg_go(wg, fetch, &jobs[i]);
  }
  tt_wg_wait(wg);
  tt_wg_free(wg);
  int cut = tt_http_client_shutdown(client, 5 * SECOND); /* Shutdown(ctx) */
  tt_http_client_free(client);
  printf("shutdown: %d request(s) cut off\n", cut);

  if (srv) {
    tt_http_server_shutdown(srv, SECOND);
    tt_http_server_free(srv);
  }
  int grown = tt_baseline_check(baseline, 0, stdout); /* LeakDetector.Check() */
  tt_baseline_free(baseline);
  printf("leak check: %s\n", grown == 0 ? "no task left beyond the baseline" : "tasks left over");
}

int main(int argc, char **argv) {
  args a = {argc, argv};
  int rc = tt_main(run, &a);
  return rc < 0 ? 1 : 0;
}
