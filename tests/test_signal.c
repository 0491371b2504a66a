/*
 * test_signal: signals as channel values and context cancels
 * (tt_signal_notify, tt_signal_stop, tt_signal_notify_ctx), read from the
 * poller's signalfd or relayed from a thread that had not blocked them.
 * Signals go to the process (kill(getpid(), ...)), as the API asks.
 */
#include "harness.h"
#include "net_util.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>

#define WAIT_NS (TT_TEST_SANITIZED ? TT_MS(20000) : TT_MS(5000))

static int recv_int(tt_chan *c, int64_t ns) {
  int v = 0;
  int rc = tt_chan_recv_until(c, &v, tt_now() + ns);
  return rc < 0 ? rc : v;
}

static bool handler_is(int s, void (*h)(int)) {
  struct sigaction sa;
  sigaction(s, NULL, &sa);
  return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == h;
}

static bool blocked_here(int s) {
  sigset_t cur;
  pthread_sigmask(SIG_BLOCK, NULL, &cur);
  return sigismember(&cur, s);
}

/* ---- delivery ---------------------------------------------------------- */

static void read_mask(void *arg) { *(bool *)arg = blocked_here(SIGUSR1); }

static void helper_main(void *arg) {
  /* The first blocking call of this process starts a helper thread, from
   * a worker that has not blocked SIGUSR1: the runtime starts its threads
   * with the watched signals blocked all the same. */
  bool *blocks = arg;
  /* With the ucontext switch a task carries the signal mask of the thread
   * that made its context (here the test's, which blocked SIGUSR1), so the
   * check is only telling with the assembly switch. */
  if (blocked_here(SIGUSR1))
    NOTE("SIGUSR1 already blocked in the task (a ucontext build)");
  CHECK_EQ(tt_blocking(read_mask, blocks), 0);
}

static void test_helper_mask(void) {
  CHECK_EQ(tt_init(NULL), 0);
  tt_chan *c = tt_chan_make(sizeof(int), 1);
  CHECK_EQ(tt_signal_notify(c, (int[]){SIGUSR1}, 1), 0); /* from this thread */
  bool blocks = false;
  CHECK_EQ(tt_main(helper_main, &blocks), 0);
  CHECK(blocks);
  CHECK_EQ(tt_signal_stop(c), 0);
  tt_chan_unref(c);
  TEST_SHUTDOWN();
}

static void basic_main(void *arg) {
  (void)arg;
  tt_chan *c = tt_chan_make(sizeof(int), 1);
  CHECK_EQ(tt_signal_notify(c, (int[]){SIGUSR1}, 1), 0);
  for (int i = 0; i < 5; i++) {
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    CHECK_EQ(recv_int(c, WAIT_NS), SIGUSR1);
  }
  CHECK_EQ(tt_signal_stop(c), 0);
  CHECK_EQ(tt_signal_stop(c), TT_ENOENT);
  CHECK(handler_is(SIGUSR1, SIG_DFL));
  tt_chan_unref(c);
}

static void two_main(void *arg) {
  (void)arg;
  tt_chan *a = tt_chan_make(sizeof(int), 4), *b = tt_chan_make(sizeof(int), 4);
  CHECK_EQ(tt_signal_notify(a, (int[]){SIGUSR1}, 1), 0);
  CHECK_EQ(tt_signal_notify(b, (int[]){SIGUSR2, SIGHUP}, 2), 0);
  CHECK_EQ(kill(getpid(), SIGUSR2), 0);
  CHECK_EQ(recv_int(b, WAIT_NS), SIGUSR2);
  CHECK_EQ(kill(getpid(), SIGUSR1), 0);
  CHECK_EQ(recv_int(a, WAIT_NS), SIGUSR1);
  CHECK_EQ(kill(getpid(), SIGHUP), 0);
  CHECK_EQ(recv_int(b, WAIT_NS), SIGHUP);
  tt_sleep(TT_MS(20));
  int v;
  CHECK_EQ(tt_chan_try_recv(a, &v), TT_EAGAIN); /* each only what it watches */
  CHECK_EQ(tt_chan_try_recv(b, &v), TT_EAGAIN);
  /* Notifying again adds signals; one signal reaches every watcher. */
  CHECK_EQ(tt_signal_notify(a, (int[]){SIGUSR2}, 1), 0);
  CHECK_EQ(kill(getpid(), SIGUSR2), 0);
  CHECK_EQ(recv_int(a, WAIT_NS), SIGUSR2);
  CHECK_EQ(recv_int(b, WAIT_NS), SIGUSR2);
  /* Stop: no more deliveries on a, b still gets them. */
  CHECK_EQ(tt_signal_stop(a), 0);
  CHECK(handler_is(SIGUSR1, SIG_DFL)); /* nobody watches it any more */
  CHECK_EQ(kill(getpid(), SIGUSR2), 0);
  CHECK_EQ(recv_int(b, WAIT_NS), SIGUSR2);
  tt_sleep(TT_MS(20));
  CHECK_EQ(tt_chan_try_recv(a, &v), TT_EAGAIN);
  CHECK_EQ(tt_signal_stop(b), 0);
  tt_chan_unref(a);
  tt_chan_unref(b);
}

/* A full channel drops the signal: the poller never blocks on it, and a
 * watcher with room still gets every one. */
static void full_main(void *arg) {
  (void)arg;
  tt_chan *full = tt_chan_make(sizeof(int), 1), *roomy = tt_chan_make(sizeof(int), 16);
  CHECK_EQ(tt_signal_notify(full, (int[]){SIGUSR1}, 1), 0);
  CHECK_EQ(tt_signal_notify(roomy, (int[]){SIGUSR1}, 1), 0);
  for (int i = 0; i < 4; i++) {
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    CHECK_EQ(recv_int(roomy, WAIT_NS), SIGUSR1); /* one at a time: none coalesce */
  }
  CHECK_EQ(tt_chan_len(full), 1u);
  CHECK_EQ(recv_int(full, 0), SIGUSR1);
  int v;
  CHECK_EQ(tt_chan_try_recv(full, &v), TT_EAGAIN);
  CHECK_EQ(kill(getpid(), SIGUSR1), 0); /* room again: delivered again */
  CHECK_EQ(recv_int(full, WAIT_NS), SIGUSR1);
  CHECK_EQ(recv_int(roomy, WAIT_NS), SIGUSR1);
  CHECK_EQ(tt_signal_stop(full), 0);
  CHECK_EQ(tt_signal_stop(roomy), 0);
  tt_chan_unref(full);
  tt_chan_unref(roomy);
}

static void ctx_main(void *arg) {
  (void)arg;
  tt_context *ctx = NULL;
  CHECK_EQ(tt_signal_notify_ctx(NULL, (int[]){SIGTERM, SIGINT}, 2, &ctx), 0);
  CHECK(ctx != NULL);
  CHECK_EQ(tt_context_err(ctx), 0);
  CHECK(!handler_is(SIGTERM, SIG_DFL));
  CHECK_EQ(kill(getpid(), SIGTERM), 0);
  char z;
  CHECK_EQ(tt_chan_recv_until(tt_context_done(ctx), &z, tt_now() + WAIT_NS), TT_ECLOSED);
  CHECK_EQ(tt_context_err(ctx), TT_ECANCELED);
  const char *msg = NULL;
  CHECK_EQ(tt_context_cause(ctx, &msg), TT_ECANCELED);
  CHECK(msg && strcmp(msg, "signal received") == 0);
  /* Cancelled: the watch is over, the old dispositions are back. */
  CHECK(handler_is(SIGTERM, SIG_DFL));
  CHECK(handler_is(SIGINT, SIG_DFL));
  CHECK_EQ(tt_context_release(ctx), 0);

  /* The stop is its release: no signal needed. */
  CHECK_EQ(tt_signal_notify_ctx(NULL, (int[]){SIGTERM}, 1, &ctx), 0);
  CHECK(!handler_is(SIGTERM, SIG_DFL));
  CHECK_EQ(tt_context_release(ctx), 0);
  CHECK(handler_is(SIGTERM, SIG_DFL));

  /* A parent's cancel ends it too; a parent already done gives a done child. */
  tt_context *parent = tt_with_cancel(NULL);
  CHECK_EQ(tt_signal_notify_ctx(parent, (int[]){SIGTERM}, 1, &ctx), 0);
  CHECK_EQ(tt_cancel(parent), 0);
  CHECK_EQ(tt_context_err(ctx), TT_ECANCELED);
  CHECK(handler_is(SIGTERM, SIG_DFL));
  CHECK_EQ(tt_context_release(ctx), 0);
  tt_context *child = NULL;
  CHECK_EQ(tt_signal_notify_ctx(parent, (int[]){SIGTERM}, 1, &child), 0);
  CHECK_EQ(tt_context_err(child), TT_ECANCELED);
  CHECK(handler_is(SIGTERM, SIG_DFL));
  CHECK_EQ(tt_context_release(child), 0);
  CHECK_EQ(tt_context_release(parent), 0);
}

/* ---- the leak detector ------------------------------------------------- */

static tt_chan *g_leak_chan;
static atomic_int g_leak_got;

static void signal_waiter(void *arg) {
  (void)arg;
  int v = 0;
  if (tt_chan_recv(g_leak_chan, &v) == 0)
    atomic_store(&g_leak_got, v);
}

/* A task waiting on a watched channel that no other task holds is not
 * leaked: the runtime holds it and sends on it. */
static void leak_main(void *arg) {
  (void)arg;
  g_leak_chan = tt_chan_make(sizeof(int), 1);
  CHECK_EQ(tt_signal_notify(g_leak_chan, (int[]){SIGUSR1}, 1), 0);
  int64_t id = tt_go(signal_waiter, NULL);
  CHECK(id > 0);
  tt_test_task info;
  CHECK(tt_test_await_wait_reason(id, "chan receive", WAIT_NS, &info));
  CHECK_EQ(tt_chan_unref(g_leak_chan), 0); /* our handle goes; the runtime's stays */
  CHECK_EQ(tt_leak_check(), 0);
  CHECK_EQ(tt_leak_count(), 0);
  CHECK_EQ(kill(getpid(), SIGUSR1), 0);
  for (int i = 0; i < 5000 && !atomic_load(&g_leak_got); i++)
    tt_sleep(TT_MS(1));
  CHECK_EQ(atomic_load(&g_leak_got), SIGUSR1);
  CHECK_EQ(tt_signal_stop(g_leak_chan), 0); /* the runtime's reference: the last */
}

/* ---- bad input ---------------------------------------------------------- */

static void bad_main(void *arg) {
  (void)arg;
  tt_chan *c = tt_chan_make(sizeof(int), 1);
  tt_chan *wide = tt_chan_make(sizeof(int64_t), 1);
  static const int bad[] = {0, -1, 65, 1000, SIGKILL, SIGSTOP, SIGURG, SIGSEGV, SIGBUS, 32, 33};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    CHECK_EQ(tt_signal_notify(c, &bad[i], 1), TT_EINVAL);
    tt_context *ctx = (tt_context *)1;
    CHECK_EQ(tt_signal_notify_ctx(NULL, &bad[i], 1, &ctx), TT_EINVAL);
    CHECK(ctx == (tt_context *)1);
  }
  CHECK_EQ(tt_signal_notify(c, (int[]){SIGUSR1, SIGKILL}, 2), TT_EINVAL); /* all or nothing */
  CHECK(handler_is(SIGUSR1, SIG_DFL));
  CHECK_EQ(tt_signal_notify(NULL, (int[]){SIGUSR1}, 1), TT_EINVAL);
  CHECK_EQ(tt_signal_notify(c, NULL, 1), TT_EINVAL);
  CHECK_EQ(tt_signal_notify(c, (int[]){SIGUSR1}, 0), TT_EINVAL);
  CHECK_EQ(tt_signal_notify(wide, (int[]){SIGUSR1}, 1), TT_EINVAL);
  CHECK_EQ(tt_signal_notify_ctx(NULL, (int[]){SIGUSR1}, 1, NULL), TT_EINVAL);
  CHECK_EQ(tt_signal_stop(NULL), TT_EINVAL);
  CHECK_EQ(tt_signal_stop(c), TT_ENOENT);
  /* The dump signal keeps its handler; a watched signal cannot become one. */
  CHECK_EQ(tt_dump_on_signal(SIGUSR2, TT_DUMP_GO_DEBUG2, "/dev/null"), 0);
  CHECK_EQ(tt_signal_notify(c, (int[]){SIGUSR2}, 1), TT_EBUSY);
  CHECK_EQ(tt_dump_on_signal(0, TT_DUMP_GO_DEBUG2, NULL), 0);
  CHECK_EQ(tt_signal_notify(c, (int[]){SIGUSR2}, 1), 0);
  CHECK_EQ(tt_dump_on_signal(SIGUSR2, TT_DUMP_GO_DEBUG2, "/dev/null"), TT_EBUSY);
  CHECK_EQ(tt_signal_stop(c), 0);
  tt_chan_unref(c);
  tt_chan_unref(wide);
}

/* ---- lifecycle ---------------------------------------------------------- */

static tt_chan *g_round_chan;

static void round_main(void *arg) {
  (void)arg;
  CHECK_EQ(kill(getpid(), SIGUSR1), 0);
  CHECK_EQ(recv_int(g_round_chan, WAIT_NS), SIGUSR1);
}

/* Watches from the main thread, left for tt_shutdown to clean up: the
 * mask and the disposition are back after it, and a later tt_init works. */
static void test_rounds(void) {
  int fds = tt_test_open_fds();
  for (int round = 0; round < 4; round++) {
    tt_config cfg = {round % 2 + 1, 0};
    CHECK_EQ(tt_init(&cfg), 0);
    g_round_chan = tt_chan_make(sizeof(int), 1);
    CHECK_EQ(tt_signal_notify(g_round_chan, (int[]){SIGUSR1}, 1), 0);
    CHECK(blocked_here(SIGUSR1));
    CHECK_EQ(tt_main(round_main, NULL), 0);
    tt_chan_unref(g_round_chan); /* the runtime still holds its reference */
    if (round % 2) {
      /* left watching: shutdown ends it */
    } else {
      CHECK_EQ(tt_signal_stop(g_round_chan), 0);
    }
    TEST_SHUTDOWN();
    CHECK(!blocked_here(SIGUSR1));
    CHECK(handler_is(SIGUSR1, SIG_DFL));
    CHECK_EQ(tt_test_open_fds(), fds);
  }
  tt_chan *c = tt_chan_make(sizeof(int), 1);
  CHECK_EQ(tt_signal_notify(c, (int[]){SIGUSR1}, 1), TT_ENOTINIT);
  tt_context *ctx = NULL;
  CHECK_EQ(tt_signal_notify_ctx(NULL, (int[]){SIGUSR1}, 1, &ctx), TT_ENOTINIT);
  tt_chan_unref(c);
}

/* The calling thread blocked the signal before the runtime started its
 * threads: they inherit the mask, and the signalfd reads it. */
static void test_blocked_before_init(void) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  CHECK_EQ(tt_init(NULL), 0);
  g_round_chan = tt_chan_make(sizeof(int), 1);
  CHECK_EQ(tt_signal_notify(g_round_chan, (int[]){SIGUSR1}, 1), 0);
  CHECK_EQ(tt_main(round_main, NULL), 0);
  CHECK_EQ(tt_signal_stop(g_round_chan), 0);
  CHECK(blocked_here(SIGUSR1)); /* it was blocked before: it stays so */
  tt_chan_unref(g_round_chan);
  TEST_SHUTDOWN();
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---- the deadlock detector ---------------------------------------------- */

static void waiter_main(void *arg) {
  bool watch = arg != NULL;
  tt_chan *c = tt_chan_make(sizeof(int), 1);
  if (watch && tt_signal_notify(c, (int[]){SIGINT}, 1) != 0)
    return;
  int v = 0;
  tt_chan_recv(c, &v); /* the program's only task waits for SIGINT */
  fprintf(stderr, "GOT %d\n", v);
  tt_signal_stop(c);
  tt_chan_unref(c);
}

/* The child: a process that sends SIGINT after a while (a thread of ours
 * would keep the deadlock check quiet by itself), then the waiting program. */
static int child(const char *mode) {
  pid_t me = getpid();
  pid_t k = fork();
  if (k == 0) {
    usleep(TT_TEST_SANITIZED ? 1500000 : 500000);
    kill(me, SIGINT);
    _exit(0);
  }
  return tt_main(waiter_main, strcmp(mode, "--watch") == 0 ? (void *)1 : NULL) == 0 ? 0 : 1;
}

static void test_not_deadlocked(void) {
  char *err = NULL;
  int status = 0;
  CHECK_EQ(tt_test_run_self("test_signal", "--watch", "TT_DEADLOCK=exit", &err, &status), 0);
  CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x\n%s", status, err);
  CHECK_MSG(err && strstr(err, "GOT 2") && !strstr(err, "deadlock"), "%s", err);
  free(err);
  if (!TT_TEST_TSAN) { /* TSan's own thread keeps the check quiet anyway */
    /* The control: the same wait with nothing watched is a deadlock. */
    CHECK_EQ(tt_test_run_self("test_signal", "--nowatch", "TT_DEADLOCK=exit", &err, &status), 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 2, "status 0x%x\n%s", status, err);
    CHECK(err && strstr(err, "all tasks are asleep - deadlock!"));
    free(err);
  }
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1)
    return child(argv[1]);
  tt_test_watchdog(120);
  NOTE("threads the runtime starts block the watched signals");
  test_helper_mask();
  NOTE("one channel, SIGUSR1");
  RUN_MAIN(2, basic_main, NULL);
  NOTE("two channels, adding, stopping");
  RUN_MAIN(2, two_main, NULL);
  NOTE("a full channel drops");
  RUN_MAIN(1, full_main, NULL);
  NOTE("notify_ctx");
  RUN_MAIN(2, ctx_main, NULL);
  NOTE("a task waiting on a watched channel is not leaked");
  RUN_MAIN(2, leak_main, NULL);
  NOTE("bad input");
  RUN_MAIN(1, bad_main, NULL);
  NOTE("rounds of init / notify / shutdown");
  test_rounds();
  NOTE("blocked before tt_init: the signalfd path");
  test_blocked_before_init();
  NOTE("a task waiting for SIGINT is not deadlocked");
  test_not_deadlocked();
  return TEST_REPORT();
}
