/*
 * tcp_idle: 10,000 idle TCP connections, each held by a task parked in a
 * read. The client ends live in a child process (forked before the runtime
 * starts: plain blocking sockets), so the resident memory measured here is
 * the server side only: resident bytes per connection = (RSS once every
 * reader is parked - RSS before the first accept) / N (task + socket
 * registration). Then the child closes its ends and every reader must see
 * EOF. RLIMIT_NOFILE is raised for the descriptors. Go twin:
 * bench/go/tcp_idle.go.
 *
 * usage: bench_tcp_idle [connections]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bench_util.h"

#define NAME "tcp_idle"

static int64_t g_conns;
static int g_lfd, g_connected[2], g_go[2];
static _Atomic int64_t g_parked, g_eofs;
static double g_bytes;

static void child(int port) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int64_t i = 0; i < g_conns; i++) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0)
      _exit(2);
  }
  char b = 1;
  if (write(g_connected[1], &b, 1) != 1 || read(g_go[0], &b, 1) < 0)
    _exit(3);
  _exit(0); /* every end closes: the readers see EOF */
}

static void reader(void *arg) {
  tt_fd c = {(int64_t)(intptr_t)arg};
  char b;
  g_parked++;
  int64_t n = tt_fd_read(c, &b, 1);
  if (n == TT_EOF)
    g_eofs++;
  tt_fd_close(c);
}

static void bench_main(void *arg) {
  (void)arg;
  tt_fd l;
  int rc = tt_fd_attach(g_lfd, &l);
  if (rc != 0)
    bench_fail(NAME, "attach: %s", tt_strerror(rc));
  tt_wg *wg = tt_wg_make();
  int64_t before = bench_rss_bytes();
  for (int64_t i = 0; i < g_conns; i++) {
    tt_fd c;
    if ((rc = tt_tcp_accept(l, &c)) != 0)
      bench_fail(NAME, "accept %lld: %s", (long long)i, tt_strerror(rc));
    tt_wg_go(wg, reader, (void *)(intptr_t)c.h);
  }
  char b;
  tt_fd conn;
  if ((rc = tt_fd_attach(g_connected[0], &conn)) != 0 || tt_fd_read_full(conn, &b, 1) != 1)
    bench_fail(NAME, "the client process did not connect");
  while (g_parked < g_conns)
    tt_sleep(1000000);
  tt_sleep(100 * 1000 * 1000); /* the last ones reach their read */
  int64_t after = bench_rss_bytes();
  int64_t live = tt_num_tasks() - 1;
  if (write(g_go[1], &b, 1) != 1)
    bench_fail(NAME, "cannot release the client process");
  tt_wg_wait(wg);
  tt_wg_free(wg);
  tt_fd_close(conn);
  tt_fd_close(l);
  if (live < g_conns)
    bench_fail(NAME, "%lld tasks alive, expected %lld", (long long)live, (long long)g_conns);
  if (g_eofs != g_conns)
    bench_fail(NAME, "%lld readers saw EOF, expected %lld", (long long)g_eofs, (long long)g_conns);
  g_bytes = (double)(after - before) / (double)g_conns;
  fprintf(stderr,
          "tcp_idle: %lld connections held by %lld parked tasks, rss_before=%lld rss_after=%lld\n",
          (long long)g_conns, (long long)live, (long long)before, (long long)after);
  bench_result(NAME, g_bytes, "bytes/conn");
}

int main(int argc, char **argv) {
  g_conns = bench_arg(argc, argv, 1, 10000);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if ((int64_t)rl.rlim_cur < g_conns + 100)
    bench_fail(NAME, "RLIMIT_NOFILE %llu is too low for %lld connections",
               (unsigned long long)rl.rlim_cur, (long long)g_conns);
  g_lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (g_lfd < 0 || bind(g_lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(g_lfd, 4096) < 0 ||
      getsockname(g_lfd, (struct sockaddr *)&sa, &len) < 0 || pipe(g_connected) < 0 ||
      pipe(g_go) < 0)
    bench_fail(NAME, "cannot listen");
  pid_t pid = fork();
  if (pid == 0)
    child(ntohs(sa.sin_port));
  int rc = tt_main(bench_main, NULL);
  int status = 0;
  waitpid(pid, &status, 0);
  if (rc < 0)
    bench_fail(NAME, "tt_main: %s", tt_strerror(rc));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    bench_fail(NAME, "the client process failed (status 0x%x)", status);
  if (g_bytes <= 0)
    bench_fail(NAME, "the main task did not finish (or RSS did not grow)");
  return 0;
}
