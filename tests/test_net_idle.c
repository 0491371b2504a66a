/*
 * test_net_idle: 10,000 idle connections held by 10,000 parked tasks cost
 * no threads (the thread count in /proc/self/task does not move), every one
 * of them still wakes when its peer writes, and every descriptor is closed
 * afterwards. The client ends live in a child process, so this process
 * needs one descriptor per connection; RLIMIT_NOFILE is raised for them, and
 * the test skips (exit 77) when the hard limit does not allow it.
 */
#include "harness.h"
#include "net_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

static long g_n;
static tt_fd g_listener;
static int g_go[2], g_result[2];
static atomic_long g_parked, g_echoed;

/* The child: n blocking connections, then on "go" a byte to each and its
 * echo back. Plain system calls only (it is a fork of a threaded process). */
static void client_process(int port) {
  int *s = calloc((size_t)g_n, sizeof *s);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  long ok = 0;
  for (long i = 0; i < g_n; i++) {
    s[i] = socket(AF_INET, SOCK_STREAM, 0);
    if (s[i] < 0 || connect(s[i], (struct sockaddr *)&sa, sizeof sa) < 0)
      _exit(2);
  }
  char go;
  if (read(g_go[0], &go, 1) != 1)
    _exit(3);
  for (long i = 0; i < g_n; i++)
    if (write(s[i], "k", 1) != 1)
      _exit(4);
  for (long i = 0; i < g_n; i++) {
    char b = 0;
    if (read(s[i], &b, 1) == 1 && b == 'k')
      ok++;
  }
  if (write(g_result[1], &ok, sizeof ok) != sizeof ok)
    _exit(5);
  _exit(0);
}

static void holder(void *arg) {
  tt_fd c = {(int64_t)(intptr_t)arg};
  char b;
  atomic_fetch_add(&g_parked, 1);
  int64_t n = tt_fd_read(c, &b, 1); /* idle until the peer speaks */
  if (n == 1 && tt_fd_write_all(c, &b, 1) == 1)
    atomic_fetch_add(&g_echoed, 1);
  CHECK_EQ(tt_fd_close(c), 0);
}

static void idle_main(void *arg) {
  (void)arg;
  int fds0 = tt_test_open_fds();
  tt_wg *wg = tt_wg_make();
  int threads0 = tt_test_threads();
  int64_t t0 = tt_test_mono_ns();
  for (long i = 0; i < g_n; i++) {
    tt_fd s;
    int rc = tt_tcp_accept_until(g_listener, &s, tt_now() + TT_MS(60000));
    if (rc < 0) {
      CHECK_MSG(0, "connection %ld: %s", i, tt_strerror(rc));
      g_n = i;
      break;
    }
    tt_wg_go(wg, holder, (void *)(intptr_t)s.h);
  }
  while (atomic_load(&g_parked) < g_n)
    tt_sleep(TT_MS(1));
  tt_sleep(TT_MS(50));
  NOTE("%ld idle connections, each held by a parked task, set up in %.2f s", g_n,
       (tt_test_mono_ns() - t0) / 1e9);
  CHECK_EQ(tt_test_threads(), threads0);
  CHECK_EQ(tt_test_open_fds(), fds0 + g_n);
  /* Every one of them is still alive: the child pokes each and reads its
   * echo. The result comes back through a pipe on the poller too. */
  tt_fd res;
  CHECK_EQ(tt_fd_attach(g_result[0], &res), 0);
  CHECK_EQ(write(g_go[1], "g", 1), 1);
  long back = -1;
  CHECK_EQ(tt_fd_read_full_until(res, &back, sizeof back, tt_now() + TT_MS(120000)), sizeof back);
  CHECK_EQ(tt_wg_wait(wg), 0);
  CHECK_EQ(back, g_n);
  CHECK_EQ(atomic_load(&g_echoed), g_n);
  CHECK_EQ(tt_test_threads(), threads0);
  CHECK_EQ(tt_fd_close(res), 0);
  CHECK_EQ(tt_test_open_fds(), fds0 - 1);
  tt_wg_free(wg);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(300);
  g_n = tt_test_scale_min(10000, 500);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t need = (rlim_t)(g_n + 200);
  if (rl.rlim_cur < need) {
    rlim_t hard = rl.rlim_max;
    rl.rlim_cur = need;
    if (rl.rlim_max < need)
      rl.rlim_max = need; /* allowed with CAP_SYS_RESOURCE */
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      printf("skipped: RLIMIT_NOFILE hard limit %llu < %llu and cannot be raised\n",
             (unsigned long long)hard, (unsigned long long)need);
      return 77;
    }
  }
  int fds = tt_test_open_fds();
  if (pipe(g_go) != 0 || pipe(g_result) != 0)
    return 1;
  tt_config cfg = {2, 0};
  CHECK_EQ(tt_init(&cfg), 0);
  CHECK_EQ(tt_tcp_listen("127.0.0.1", "0", 0, &g_listener), 0);
  int port = tt_sock_port(g_listener);
  pid_t child = fork();
  if (child == 0)
    client_process(port);
  CHECK(child > 0);
  close(g_go[0]);
  close(g_result[1]);
  CHECK_EQ(tt_main(idle_main, NULL), 0);
  CHECK_EQ(tt_fd_close(g_listener), 0);
  TEST_SHUTDOWN();
  int status = -1;
  waitpid(child, &status, 0);
  CHECK_EQ(status, 0);
  close(g_go[1]);
  CHECK_EQ(tt_test_open_fds(), fds);
  return TEST_REPORT();
}
