/*
 * Seed pattern 4, fixed: network I/O with a deadline.
 *
 *     client := &http.Client{Timeout: 10 * time.Second}
 *
 * Same server as pattern4_leak.c, one that never answers, but the client's
 * read waits at most 50 ms (poll with a timeout) and the task gives up and
 * returns. tt_verify_none then finds nothing left.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "expect_leaks.h"
#include "tether.h"

typedef struct read_call {
  int fd, timeout_ms;
  char buf[256];
  ssize_t n;
} read_call;

static void read_reply(void *arg) {
  read_call *c = arg;
  struct pollfd p = {.fd = c->fd, .events = POLLIN};
  int ready = poll(&p, 1, c->timeout_ms); /* the deadline */
  c->n = ready > 0 ? read(c->fd, c->buf, sizeof c->buf) : ready == 0 ? -ETIMEDOUT : -errno;
}

static void fetch(void *arg) {
  read_call c = {.fd = (int)(intptr_t)arg, .timeout_ms = 50};
  if (write(c.fd, "GET / HTTP/1.0\r\n\r\n", 18) != 18)
    return;
  tt_blocking(read_reply, &c);
  if (c.n == -ETIMEDOUT)
    printf("fetch: no reply within %d ms, giving up\n", c.timeout_ms);
  else
    printf("fetch: read returned %zd\n", c.n);
}

static int clean;

static int no_leaks;

static void main_task(void *arg) {
  (void)arg;
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
    return;
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, fetch, (void *)(intptr_t)fds[0]);
  tt_wg_wait(wg); /* returns: the read has a deadline */
  tt_wg_free(wg);
  tt_verify_report *rep = NULL;
  clean = tt_verify_none(NULL, &rep) == 0;
  if (clean)
    printf("verify-none: no unexpected tasks\n");
  else
    tt_verify_report_print(rep, stdout);
  tt_verify_report_free(rep);
  close(fds[0]);
  close(fds[1]);
  no_leaks = expect_no_definite_leak(); /* nor does the leak detector find one */
}

int main(void) { return tt_main(main_task, NULL) < 0 || !clean || !no_leaks; }
