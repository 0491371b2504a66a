/*
 * tcp_echo: echo throughput over loopback. 100 connections, each with a
 * server task (read 1 KiB whole, write it back) and a client task that
 * sends its 1 KiB messages one after the other and checks each echo
 * byte for byte. Prints ns per message over all connections (1e9 / value
 * is messages per second); every message must come back. Go twin:
 * bench/go/tcp_echo.go.
 *
 * usage: bench_tcp_echo [messages_per_connection] [connections]
 */
#include <string.h>

#include "bench_util.h"

#define NAME "tcp_echo"
#define MSG 1024

static int64_t g_msgs, g_conns;
static char g_port[16];
static _Atomic int64_t g_echoed;
static double g_ns;

static void server(void *arg) {
  tt_fd c = {(int64_t)(intptr_t)arg};
  char buf[MSG];
  int64_t n;
  while ((n = tt_fd_read_full(c, buf, MSG)) == MSG)
    if (tt_fd_write_all(c, buf, MSG) != MSG)
      bench_fail(NAME, "server write failed");
  if (n != TT_EOF)
    bench_fail(NAME, "server read: %s", tt_strerror((int)n));
  tt_fd_close(c);
}

static void acceptor(void *arg) {
  tt_fd l = {(int64_t)(intptr_t)arg}, c;
  tt_wg *wg = tt_wg_make();
  for (int64_t i = 0; i < g_conns; i++) {
    int rc = tt_tcp_accept(l, &c);
    if (rc != 0)
      bench_fail(NAME, "accept: %s", tt_strerror(rc));
    tt_tcp_nodelay(c, 1);
    tt_wg_go(wg, server, (void *)(intptr_t)c.h);
  }
  tt_wg_wait(wg);
  tt_wg_free(wg);
}

static void client(void *arg) {
  tt_fd c = {(int64_t)(intptr_t)arg};
  char out[MSG], in[MSG];
  for (int64_t i = 0; i < g_msgs; i++) {
    memset(out, (int)((i + (intptr_t)arg) & 0xff), MSG);
    out[0] = (char)i;
    if (tt_fd_write_all(c, out, MSG) != MSG)
      bench_fail(NAME, "client write failed");
    int64_t n = tt_fd_read_full(c, in, MSG);
    if (n != MSG)
      bench_fail(NAME, "client read: %s", tt_strerror((int)n));
    if (memcmp(in, out, MSG) != 0)
      bench_fail(NAME, "message %lld came back different", (long long)i);
    g_echoed++;
  }
  tt_fd_shutdown(c, TT_SHUT_WR);
  char b;
  if (tt_fd_read(c, &b, 1) != TT_EOF) /* nothing extra came back */
    bench_fail(NAME, "bytes after the last echo");
  tt_fd_close(c);
}

static void bench_main(void *arg) {
  (void)arg;
  tt_fd l;
  int rc = tt_tcp_listen("127.0.0.1", "0", 0, &l);
  if (rc != 0)
    bench_fail(NAME, "listen: %s", tt_strerror(rc));
  snprintf(g_port, sizeof g_port, "%d", tt_sock_port(l));
  tt_wg *servers = tt_wg_make(), *clients = tt_wg_make();
  tt_wg_go(servers, acceptor, (void *)(intptr_t)l.h);
  tt_fd *cs = calloc((size_t)g_conns, sizeof *cs);
  for (int64_t i = 0; i < g_conns; i++) {
    if ((rc = tt_tcp_connect("127.0.0.1", g_port, &cs[i])) != 0)
      bench_fail(NAME, "connect: %s", tt_strerror(rc));
    tt_tcp_nodelay(cs[i], 1);
  }
  int64_t t0 = tt_now();
  for (int64_t i = 0; i < g_conns; i++)
    tt_wg_go(clients, client, (void *)(intptr_t)cs[i].h);
  tt_wg_wait(clients);
  int64_t t1 = tt_now();
  tt_wg_wait(servers);
  tt_wg_free(servers);
  tt_wg_free(clients);
  tt_fd_close(l);
  free(cs);
  int64_t total = g_conns * g_msgs;
  if (g_echoed != total)
    bench_fail(NAME, "%lld messages echoed, expected %lld", (long long)g_echoed, (long long)total);
  g_ns = (double)(t1 - t0) / (double)total;
  fprintf(stderr,
          "tcp_echo: %lld connections x %lld messages of %d bytes, all echoed: %.0f msg/s\n",
          (long long)g_conns, (long long)g_msgs, MSG, 1e9 / g_ns);
  bench_result(NAME, g_ns, "ns/msg");
}

int main(int argc, char **argv) {
  g_msgs = bench_arg(argc, argv, 1, 2000);
  g_conns = bench_arg(argc, argv, 2, 100);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ns <= 0)
    bench_fail(NAME, "the main task did not finish");
  return 0;
}
