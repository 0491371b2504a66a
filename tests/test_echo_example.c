/*
 * test_echo_example: runs examples/echo (TT_PROCS=2) on a port the kernel
 * picks and drives it with 1,000 concurrent clients, each sending 3 KiB of
 * its own pattern in pieces and reading every byte back exactly once (the
 * echo, then EOF once the client shuts its side). Then, with a few idle
 * connections still open, SIGINT: the server must close them, exit 0
 * promptly and say it left no task behind.
 */
#include "harness.h"
#include "net_util.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/wait.h>

#ifndef TT_ECHO_BIN
#error "TT_ECHO_BIN: the path of the echo example"
#endif

#define MSG 3072
#define IDLE 8

static long g_clients;
static char g_port[16];
static atomic_long g_ok, g_bad;
static tt_fd g_idle[IDLE];

static void fill(unsigned char *b, long id) {
  for (int i = 0; i < MSG; i++)
    b[i] = (unsigned char)(id * 31 + i * 7 + (i >> 8));
}

static void client(void *arg) {
  long id = (long)(intptr_t)arg;
  unsigned char out[MSG], in[MSG + 1];
  fill(out, id);
  tt_fd c;
  int64_t deadline = tt_now() + (TT_TEST_SANITIZED ? TT_MS(120000) : TT_MS(30000));
  if (tt_tcp_connect_until("127.0.0.1", g_port, &c, deadline) != 0) {
    atomic_fetch_add(&g_bad, 1);
    return;
  }
  bool ok = true;
  for (int off = 0; off < MSG && ok; off += 1024) /* three writes, 1 KiB each */
    ok = tt_fd_write_all_until(c, out + off, 1024, deadline) == 1024;
  ok = ok && tt_fd_read_full_until(c, in, MSG, deadline) == MSG && memcmp(in, out, MSG) == 0;
  /* Nothing more than once: after our EOF the server's is next. */
  ok = ok && tt_fd_shutdown(c, TT_SHUT_WR) == 0 &&
       tt_fd_read_until(c, in, sizeof in, deadline) == TT_EOF;
  tt_fd_close(c);
  atomic_fetch_add(ok ? &g_ok : &g_bad, 1);
}

static void clients_main(void *arg) {
  (void)arg;
  tt_wg *wg = tt_wg_make();
  for (long i = 0; i < g_clients; i++)
    tt_wg_go(wg, client, (void *)(intptr_t)i);
  tt_wg_wait(wg);
  tt_wg_free(wg);
}

static atomic_long g_eofs;
static pid_t g_pid;
static pthread_t g_killer;
static void *kill_later(void *arg);

static void idle_reader(void *arg) {
  tt_fd c = g_idle[(intptr_t)arg];
  char b;
  int64_t n = tt_fd_read_until(c, &b, 1, tt_now() + TT_MS(20000));
  if (n == TT_EOF || n == TT_ECONNRESET)
    atomic_fetch_add(&g_eofs, 1);
  tt_fd_close(c);
}

static void idle_main(void *arg) {
  (void)arg;
  for (int i = 0; i < IDLE; i++) { /* open while the server stops */
    CHECK_EQ(tt_tcp_connect("127.0.0.1", g_port, &g_idle[i]), 0);
    char b;
    CHECK_EQ(tt_fd_write_all(g_idle[i], "x", 1), 1);
    CHECK_EQ(tt_fd_read_full(g_idle[i], &b, 1), 1); /* its task is serving it */
  }
  pthread_create(&g_killer, NULL, kill_later, NULL);
  tt_wg *wg = tt_wg_make();
  for (int i = 0; i < IDLE; i++)
    tt_wg_go(wg, idle_reader, (void *)(intptr_t)i);
  tt_wg_wait(wg);
  tt_wg_free(wg);
}

static void *kill_later(void *arg) {
  (void)arg;
  usleep(100000); /* the idle readers are parked by now */
  kill(g_pid, SIGINT);
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(300);
  if (!TT_ECHO_BIN[0]) {
    printf("skipped: the examples are not built\n");
    return 77;
  }
  g_clients = 1000;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t need = (rlim_t)(g_clients + 200);
  if (rl.rlim_cur < need) {
    rl.rlim_cur = need;
    if (rl.rlim_max < need)
      rl.rlim_max = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      printf("skipped: RLIMIT_NOFILE cannot reach %llu\n", (unsigned long long)need);
      return 77;
    }
  }
  int out[2], err[2];
  CHECK_EQ(pipe(out), 0);
  CHECK_EQ(pipe(err), 0);
  g_pid = fork();
  if (g_pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    setenv("TT_PROCS", "2", 1);
    execl(TT_ECHO_BIN, "echo", "0", (char *)NULL);
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  FILE *o = fdopen(out[0], "r");
  int port = 0;
  CHECK_EQ(fscanf(o, "echo %d", &port), 1);
  CHECK(port > 0);
  snprintf(g_port, sizeof g_port, "%d", port);
  NOTE("echo on port %d: %ld clients, %d bytes each", port, g_clients, MSG);

  int64_t t0 = tt_now();
  RUN_MAIN(2, clients_main, NULL);
  CHECK_EQ(atomic_load(&g_ok), g_clients);
  CHECK_EQ(atomic_load(&g_bad), 0);
  NOTE("%ld clients echoed in %.2f s", g_clients, (double)(tt_now() - t0) / 1e9);

  /* The stop: SIGINT while IDLE connections wait; each must see EOF. */
  tt_config cfg = {1, 0};
  CHECK_EQ(tt_init(&cfg), 0);
  int64_t t1 = tt_now();
  CHECK_EQ(tt_main(idle_main, NULL), 0);
  pthread_join(g_killer, NULL);
  CHECK_EQ(tt_shutdown(), 0);
  CHECK_EQ(atomic_load(&g_eofs), IDLE);
  int status = 0;
  pid_t r;
  int64_t limit = tt_now() + (TT_TEST_SANITIZED ? TT_MS(20000) : TT_MS(5000));
  while ((r = waitpid(g_pid, &status, WNOHANG)) == 0 && tt_now() < limit)
    usleep(10000);
  CHECK_MSG(r == g_pid, "echo did not exit after SIGINT");
  if (r != g_pid) {
    kill(g_pid, SIGKILL);
    waitpid(g_pid, &status, 0);
  }
  NOTE("stopped %.0f ms after SIGINT", (double)(tt_now() - t1) / 1e6 - 100);
  CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
  FILE *e = fdopen(err[0], "r");
  char *text = tt_test_read_stream(e);
  fclose(e);
  fclose(o);
  CHECK_MSG(text && strstr(text, "echo: stopped, tasks left besides main: 0"), "stderr: %s",
            text ? text : "");
  free(text);
  return TEST_REPORT();
}
