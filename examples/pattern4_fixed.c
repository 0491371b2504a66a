/*
 * Seed pattern 4, fixed: network I/O with a deadline.
 *
 *     client := &http.Client{Timeout: 10 * time.Second}
 *
 * Same server as pattern4_leak.c, a TCP listener that never answers, but
 * the client reads under a context with a 50 ms timeout: the read returns
 * TT_ETIMEDOUT and the task gives up. tt_verify_none then finds nothing
 * left, and an I/O wait bounded like this is never a suspect.
 */
#include <stdio.h>

#include "expect_leaks.h"
#include "tether.h"

static void fetch(void *arg) {
  const char *port = arg;
  tt_context *ctx = tt_with_timeout(NULL, 50 * 1000000); /* the deadline */
  tt_fd c;
  int64_t n = tt_tcp_connect_ctx("127.0.0.1", port, &c, ctx);
  if (n == 0) {
    char buf[256];
    n = tt_fd_write_all_ctx(c, "GET / HTTP/1.0\r\n\r\n", 18, ctx);
    if (n > 0)
      n = tt_fd_read_ctx(c, buf, sizeof buf, ctx);
    tt_fd_close(c);
  }
  if (n == TT_ETIMEDOUT)
    printf("fetch: no reply within 50 ms, giving up\n");
  else
    printf("fetch: %s\n", n > 0 ? "got a reply" : tt_strerror((int)n));
  tt_context_release(ctx);
}

static int clean;
static int no_leaks;

static void main_task(void *arg) {
  (void)arg;
  tt_fd server;
  if (tt_tcp_listen("127.0.0.1", "0", 0, &server) < 0)
    return;
  static char port[16];
  snprintf(port, sizeof port, "%d", tt_sock_port(server));
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, fetch, port);
  tt_fd conn = {0};
  int accepted = tt_tcp_accept(server, &conn);
  tt_wg_wait(wg); /* returns: the read has a deadline */
  tt_wg_free(wg);
  tt_verify_report *rep = NULL;
  clean = tt_verify_none(NULL, &rep) == 0;
  if (clean)
    printf("verify-none: no unexpected tasks\n");
  else
    tt_verify_report_print(rep, stdout);
  tt_verify_report_free(rep);
  if (accepted == 0)
    tt_fd_close(conn);
  tt_fd_close(server);
  no_leaks = expect_no_definite_leak(); /* nor does the leak detector find one */
}

int main(void) { return tt_main(main_task, NULL) < 0 || !clean || !no_leaks; }
