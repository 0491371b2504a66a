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
 * The "server" is the other end of a local socket pair: it takes the
 * request and never answers. The client task reads the reply through
 * tt_blocking (a helper thread makes the read, so no worker stalls), with
 * no deadline: it waits in "syscall" forever. Exit 0 when tt_verify_none
 * catches it, 1 otherwise. The fix is in pattern4_fixed.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "expect_leaks.h"
#include "tether.h"

typedef struct read_call {
  int fd;
  char buf[256];
  ssize_t n;
} read_call;

static void read_reply(void *arg) {
  read_call *c = arg;
  c->n = read(c->fd, c->buf, sizeof c->buf); /* no timeout! */
}

static void fetch(void *arg) {
  read_call c = {.fd = (int)(intptr_t)arg};
  if (write(c.fd, "GET / HTTP/1.0\r\n\r\n", 18) != 18)
    return;
  tt_blocking(read_reply, &c);
  printf("fetch: %s\n", c.n > 0 ? "got a reply" : "the server hung up");
}

static int leak4(void) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
    return -1;
  tt_go(fetch, (void *)(intptr_t)fds[0]); /* leak: spawned here */
  return fds[1];                          /* the server end: it never answers */
}

static int caught;

static void main_task(void *arg) {
  (void)arg;
  int server = leak4();
  if (server < 0)
    return;
  caught = expect_leaks(1, "syscall");
  /* Never a definite leak: the peer may still answer. It stays a suspect. */
  caught &= expect_no_definite_leak();
  caught &= tt_leak_suspects(stdout, 50 * 1000000) == 1;
  /* Hang up: the read returns 0 and the task ends. Without this the
   * runtime's shutdown would wait for the blocking call forever. */
  close(server);
  tt_sleep(10 * 1000000);
}

int main(void) { return tt_main(main_task, NULL) < 0 || !caught; }
