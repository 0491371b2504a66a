/*
 * tcp_pingpong: one TCP connection over loopback, a 64-byte message bounced
 * between two tasks (TCP_NODELAY, as Go's default): the client writes it,
 * the server reads it whole and writes it back, the client reads it whole
 * and checks it. Prints ns per round trip. Go twin: bench/go/tcp_pingpong.go.
 *
 * usage: bench_tcp_pingpong [round_trips]
 */
#include <string.h>

#include "bench_util.h"

#define NAME "tcp_pingpong"
#define MSG 64

static int64_t g_iters;
static double g_ns;

static void server(void *arg) {
  tt_fd l = {(int64_t)(intptr_t)arg}, c;
  if (tt_tcp_accept(l, &c) != 0)
    bench_fail(NAME, "accept failed");
  tt_tcp_nodelay(c, 1);
  char buf[MSG];
  for (int64_t i = 0; i < g_iters; i++) {
    int64_t rc = tt_fd_read_full(c, buf, MSG);
    if (rc != MSG)
      bench_fail(NAME, "server read: %s", tt_strerror((int)rc));
    if ((rc = tt_fd_write_all(c, buf, MSG)) != MSG)
      bench_fail(NAME, "server write: %s", tt_strerror((int)rc));
  }
  tt_fd_close(c);
}

static void bench_main(void *arg) {
  (void)arg;
  tt_fd l, c;
  int rc = tt_tcp_listen("127.0.0.1", "0", 0, &l);
  if (rc != 0)
    bench_fail(NAME, "listen: %s", tt_strerror(rc));
  char port[16];
  snprintf(port, sizeof port, "%d", tt_sock_port(l));
  tt_wg *wg = tt_wg_make();
  tt_wg_go(wg, server, (void *)(intptr_t)l.h);
  if ((rc = tt_tcp_connect("127.0.0.1", port, &c)) != 0)
    bench_fail(NAME, "connect: %s", tt_strerror(rc));
  tt_tcp_nodelay(c, 1);
  char out[MSG], in[MSG];
  int64_t t0 = tt_now();
  for (int64_t i = 0; i < g_iters; i++) {
    memset(out, (int)(i & 0xff), MSG);
    int64_t n = tt_fd_write_all(c, out, MSG);
    if (n != MSG)
      bench_fail(NAME, "client write: %s", tt_strerror((int)n));
    if ((n = tt_fd_read_full(c, in, MSG)) != MSG)
      bench_fail(NAME, "client read: %s", tt_strerror((int)n));
    if (memcmp(in, out, MSG) != 0)
      bench_fail(NAME, "round trip %lld came back different", (long long)i);
  }
  int64_t t1 = tt_now();
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_fd_close(c);
  tt_fd_close(l);
  g_ns = (double)(t1 - t0) / (double)g_iters;
  fprintf(stderr, "tcp_pingpong: %lld round trips of %d bytes checked\n", (long long)g_iters, MSG);
  bench_result(NAME, g_ns, "ns/op");
}

int main(int argc, char **argv) {
  g_iters = bench_arg(argc, argv, 1, 100000);
  int rc = tt_main(bench_main, NULL);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (g_ns <= 0)
    bench_fail(NAME, "the main task did not finish");
  return 0;
}
