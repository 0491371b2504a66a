/*
 * echo: a TCP echo server, one task per connection, stopped gracefully by
 * SIGINT or SIGTERM: it stops accepting, every connection's read is
 * cancelled and its socket closed, it waits for the connection tasks and
 * exits 0. Go's is the same shape (net.Listen, go handle(conn),
 * signal.NotifyContext).
 *
 *   echo [port]     listens on port (default: one the kernel picks) and
 *                   prints "echo PORT" on stdout once it accepts
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <tether.h>

static int handle(tt_context *ctx, void *arg) {
  tt_fd c = {(int64_t)(intptr_t)arg};
  char buf[4096];
  int64_t n;
  while ((n = tt_fd_read_ctx(c, buf, sizeof buf, ctx)) > 0)
    if (tt_fd_write_all_ctx(c, buf, (size_t)n, ctx) < 0)
      break;
  tt_fd_close(c);
  return 0;
}

static int status;

static void serve(void *port) {
  tt_context *ctx;
  tt_fd l, c;
  if (tt_signal_notify_ctx(NULL, (int[]){SIGINT, SIGTERM}, 2, &ctx) != 0 ||
      tt_tcp_listen(NULL, port, TT_TCP_REUSEADDR, &l) != 0) {
    fprintf(stderr, "echo: cannot listen on port %s\n", (char *)port);
    status = 1;
    return;
  }
  printf("echo %d\n", tt_sock_port(l));
  fflush(stdout);
  tt_group *g = tt_group_make(ctx, 0);
  while (tt_tcp_accept_ctx(l, &c, ctx) == 0)
    if (tt_group_go(g, handle, (void *)(intptr_t)c.h) < 0)
      tt_fd_close(c);
  tt_fd_close(l);
  tt_group_wait(g); /* every connection saw ctx cancelled */
  tt_group_destroy(g, 0);
  tt_context_release(ctx);
  for (int i = 0; i < 1000 && tt_num_tasks() > 1; i++)
    tt_sleep(1000000); /* the last connection tasks are on their way out */
  fprintf(stderr, "echo: stopped, tasks left besides main: %lld\n", (long long)tt_num_tasks() - 1);
}

int main(int argc, char **argv) {
  /* Before any thread starts, as signalfd needs: the runtime reads them. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int rc = tt_main(serve, argc > 1 ? argv[1] : "0");
  return rc != 0 ? 1 : status;
}
