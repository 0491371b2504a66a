/*
 * Seed pattern 4, leaky: network I/O without a timeout.
 *
 *     func leak4(url string) {
 *         go func() {
 *             resp, _ := http.Get(url) // no timeout!
 *             _ = resp
 *         }()
 *     }
 *
 * The server is a real TCP listener on loopback that accepts the request
 * and never answers. The client task reads the reply with tt_fd_read, no
 * deadline and no context: it parks in "IO wait" (no thread is held) and
 * would wait forever. Exit 0 when tt_verify_none catches it and
 * tt_leak_suspects names it "I/O without timeout", 1 otherwise. The fix is
 * in pattern4_fixed.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect_leaks.h"
#include "tether.h"

static void fetch(void *arg) {
  const char *port = arg;
  tt_fd c;
  if (tt_tcp_connect("127.0.0.1", port, &c) < 0)
    return;
  char buf[256];
  int64_t n = tt_fd_write_all(c, "GET / HTTP/1.0\r\n\r\n", 18);
  if (n > 0)
    n = tt_fd_read(c, buf, sizeof buf); /* no timeout! */
  printf("fetch: %s\n", n > 0 ? "got a reply" : tt_strerror((int)n));
  tt_fd_close(c);
}

static char port[16];

static void leak4(void) { tt_go(fetch, port); /* leak: spawned here */ }

static int caught;

static void main_task(void *arg) {
  (void)arg;
  tt_fd server, conn;
  if (tt_tcp_listen("127.0.0.1", "0", 0, &server) < 0)
    return;
  snprintf(port, sizeof port, "%d", tt_sock_port(server));
  leak4();
  char req[18];
  if (tt_tcp_accept(server, &conn) < 0 || tt_fd_read_full(conn, req, sizeof req) < 0)
    return; /* the request arrived; the server never answers it */
  caught = expect_leaks(1, "IO wait");
  /* Never a definite leak: the peer may still answer. It stays a suspect. */
  caught &= expect_no_definite_leak();
  char *report = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&report, &len);
  caught &= tt_leak_suspects(f, 50 * 1000000) == 1;
  fclose(f);
  fputs(report, stdout);
  caught &= strstr(report, "I/O without timeout (seed pattern 4)") != NULL;
  free(report);
  /* Hang up: the read sees end of stream and the task ends. */
  tt_fd_close(conn);
  tt_fd_close(server);
  tt_sleep(10 * 1000000);
}

int main(void) { return tt_main(main_task, NULL) < 0 || !caught; }
