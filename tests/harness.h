/*
 * Shared helpers for the tether test programs.
 *
 * Every tests/test_<area>.c is its own executable and includes this header
 * exactly once, so the counters below are per-executable.
 *
 *   CHECK(expr)            count a pass, or print file:line and the failed
 *                          expression and count a failure (never aborts);
 *   CHECK_EQ(a, b)         same, printing both values as int64;
 *   CHECK_STREQ(a, b)      string equality (NULL-safe), printing both;
 *   TEST_REPORT()          print "N passed, M failed" and yield main's exit
 *                          code (non-zero on any failure);
 *   tt_test_scale(n)       scale a workload down under sanitizers and by
 *                          $TT_TEST_SCALE (a positive float multiplier);
 *   tt_test_watchdog(s)    abort the program with a message and every
 *                          thread's stack after s seconds, so a hang is
 *                          reported instead of timing out CTest.
 *
 * CHECK may be used from tasks on any worker and from plain threads.
 */
#ifndef TT_TEST_HARNESS_H
#define TT_TEST_HARNESS_H

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dirent.h>
#include <execinfo.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tether.h"

/* ---- sanitizer detection ---------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define TT_TEST_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define TT_TEST_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(TT_TEST_ASAN)
#define TT_TEST_ASAN 1
#endif
#if __has_feature(thread_sanitizer) && !defined(TT_TEST_TSAN)
#define TT_TEST_TSAN 1
#endif
#endif
#ifndef TT_TEST_ASAN
#define TT_TEST_ASAN 0
#endif
#ifndef TT_TEST_TSAN
#define TT_TEST_TSAN 0
#endif
#define TT_TEST_SANITIZED (TT_TEST_ASAN || TT_TEST_TSAN)

/* ---- assertion counters ----------------------------------------------- */

static atomic_long tt_test_passed_;
static atomic_long tt_test_failed_;

static inline __attribute__((unused)) void tt_test_pass_(void) {
  atomic_fetch_add_explicit(&tt_test_passed_, 1, memory_order_relaxed);
}

static inline __attribute__((unused)) void tt_test_fail_(const char *file, int line,
                                                         const char *what) {
  atomic_fetch_add_explicit(&tt_test_failed_, 1, memory_order_relaxed);
  fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, what);
  fflush(stderr);
}

#define CHECK(expr) \
  do { \
    if (expr) \
      tt_test_pass_(); \
    else \
      tt_test_fail_(__FILE__, __LINE__, #expr); \
  } while (0)

/* Like CHECK(expr) but with a printf-style explanation on failure. */
#define CHECK_MSG(expr, ...) \
  do { \
    if (expr) { \
      tt_test_pass_(); \
    } else { \
      tt_test_fail_(__FILE__, __LINE__, #expr); \
      fprintf(stderr, "    "); \
      fprintf(stderr, __VA_ARGS__); \
      fprintf(stderr, "\n"); \
      fflush(stderr); \
    } \
  } while (0)

#define CHECK_EQ(a, b) \
  do { \
    int64_t tt_a_ = (int64_t)(a), tt_b_ = (int64_t)(b); \
    if (tt_a_ == tt_b_) { \
      tt_test_pass_(); \
    } else { \
      tt_test_fail_(__FILE__, __LINE__, #a " == " #b); \
      fprintf(stderr, "    left:  %" PRId64 "\n    right: %" PRId64 "\n", tt_a_, tt_b_); \
      fflush(stderr); \
    } \
  } while (0)

#define CHECK_STREQ(a, b) \
  do { \
    const char *tt_sa_ = (a), *tt_sb_ = (b); \
    if (tt_sa_ && tt_sb_ && strcmp(tt_sa_, tt_sb_) == 0) { \
      tt_test_pass_(); \
    } else { \
      tt_test_fail_(__FILE__, __LINE__, #a " equals " #b); \
      fprintf(stderr, "    left:  %s%s%s\n    right: %s%s%s\n", tt_sa_ ? "\"" : "", \
              tt_sa_ ? tt_sa_ : "(null)", tt_sa_ ? "\"" : "", tt_sb_ ? "\"" : "", \
              tt_sb_ ? tt_sb_ : "(null)", tt_sb_ ? "\"" : ""); \
      fflush(stderr); \
    } \
  } while (0)

static inline __attribute__((unused)) long tt_test_failures(void) {
  return atomic_load(&tt_test_failed_);
}

/* Print the summary line and evaluate to main's exit status. */
#define TEST_REPORT() \
  (printf("%ld passed, %ld failed\n", atomic_load(&tt_test_passed_), \
          atomic_load(&tt_test_failed_)), \
   fflush(stdout), atomic_load(&tt_test_failed_) != 0 ? 1 : 0)

/* Progress note on stdout (shown by ctest --output-on-failure / -V). */
#define NOTE(...) \
  do { \
    printf("# " __VA_ARGS__); \
    printf("\n"); \
    fflush(stdout); \
  } while (0)

/* ---- workload scaling ------------------------------------------------- */

/* Scale a workload size: /200 under TSan (1M -> 5k: TSan counts every task
 * as a fiber, i.e. a thread, and dies past 8128 of them), /10 under ASan
 * (1M -> 100k), then times $TT_TEST_SCALE if set. Never below `min`. */
/* $TT_TEST_SCALE, or 1 when unset or not a positive number (`make stress`
 * sets it to run the stress tests longer). */
static inline __attribute__((unused)) double tt_test_scale_env(void) {
  const char *env = getenv("TT_TEST_SCALE");
  double e = env && *env ? strtod(env, NULL) : 1.0;
  return e > 0 ? e : 1.0;
}

static inline __attribute__((unused)) long tt_test_scale_min(long n, long min) {
  double s = tt_test_scale_env();
  if (TT_TEST_TSAN)
    s /= 200.0;
  else if (TT_TEST_ASAN)
    s /= 10.0;
  long r = (long)((double)n * s);
  if (r < min)
    r = min;
  return r;
}

static inline __attribute__((unused)) long tt_test_scale(long n) { return tt_test_scale_min(n, 1); }

/* ---- time ------------------------------------------------------------- */

#define TT_MS(x) ((int64_t)(x)*1000000LL)
#define TT_US(x) ((int64_t)(x)*1000LL)

/* CLOCK_MONOTONIC in ns, independent of the runtime's tt_now(). */
static inline __attribute__((unused)) int64_t tt_test_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline __attribute__((unused)) void tt_test_sleep_ns(int64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* Spin for about `ns` of CPU time without touching the scheduler. */
static inline __attribute__((unused)) uint64_t tt_test_spin_ns(int64_t ns) {
  int64_t end = tt_test_mono_ns() + ns;
  uint64_t x = 88172645463325252ULL;
  do {
    for (int i = 0; i < 64; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
    }
  } while (tt_test_mono_ns() < end);
  return x;
}

/* ---- watchdog --------------------------------------------------------- */

/* A hang is only worth reporting with where every thread is: the watchdog
 * asks each thread in turn (a real-time signal) to print its own stack,
 * one at a time so the stacks do not interleave. The addresses resolve
 * with addr2line -e <test binary> (static functions have no name here). */
#define TT_TEST_BT_SIGNAL (SIGRTMIN + 3)
static atomic_int tt_test_bt_done_;

static __attribute__((unused)) void tt_test_print_stack_(const char *who) {
  void *pcs[64];
  int n = backtrace(pcs, 64);
  char head[96];
  int len = snprintf(head, sizeof head, "-- %s %ld:\n", who, (long)syscall(SYS_gettid));
  ssize_t w = write(2, head, (size_t)len);
  (void)w;
  backtrace_symbols_fd(pcs, n, 2);
}

static __attribute__((unused)) void tt_test_on_bt_signal_(int sig) {
  (void)sig;
  tt_test_print_stack_("thread");
  atomic_fetch_add(&tt_test_bt_done_, 1);
}

static __attribute__((unused)) void tt_test_on_alarm_(int sig) {
  (void)sig;
  static const char msg[] = "\nWATCHDOG: test did not finish in time (hang?); the threads:\n";
  ssize_t w = write(2, msg, sizeof msg - 1);
  (void)w;
  tt_test_print_stack_("watchdog in thread");
  long self = (long)syscall(SYS_gettid);
  DIR *d = opendir("/proc/self/task");
  for (struct dirent *e; d && (e = readdir(d));) {
    long tid = atol(e->d_name);
    if (tid <= 0 || tid == self)
      continue;
    int before = atomic_load(&tt_test_bt_done_);
    if (syscall(SYS_tgkill, (long)getpid(), tid, TT_TEST_BT_SIGNAL) != 0)
      continue;
    /* a thread that cannot take the signal is skipped after a second */
    for (int i = 0; i < 1000 && atomic_load(&tt_test_bt_done_) == before; i++)
      usleep(1000);
  }
  _exit(3);
}

/* After `seconds`, print a message and every thread's stack, and exit(3). Scaled up x4 under
 * sanitizers. Not inherited by fork()ed children. */
static inline __attribute__((unused)) void tt_test_watchdog(unsigned seconds) {
  if (TT_TEST_SANITIZED)
    seconds *= 4;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = tt_test_on_bt_signal_;
  sigaction(TT_TEST_BT_SIGNAL, &sa, NULL);
  sa.sa_handler = tt_test_on_alarm_;
  sigaction(SIGALRM, &sa, NULL);
  void *warm[1];
  backtrace(warm, 1); /* loads the unwinder now, not in the signal handler */
  alarm(seconds);
}

/* ---- runtime helpers -------------------------------------------------- */

/* Every test doubles as a false-positive check of the leak detector: when
 * a test's tasks are done (RUN_MAIN, or a test's own call), tt_leak_check
 * must find nothing. Tests that leak on purpose set this. */
static int tt_test_leaks_expected __attribute__((unused));

static __attribute__((unused, noinline)) void tt_test_no_definite_leaks(const char *file,
                                                                        int line) {
  if (tt_test_leaks_expected)
    return;
  int64_t n = tt_leak_check();
  if (n == 0) {
    tt_test_pass_();
    return;
  }
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  tt_leak_report(f);
  fclose(f);
  tt_test_fail_(file, line, "tt_leak_check() == 0");
  fprintf(stderr, "    the leak detector found %lld leaked task(s) after the test:\n%s",
          (long long)n, buf);
  free(buf);
}

/* Shut the runtime down after checking that the test left no definite leak. */
#define TEST_SHUTDOWN() \
  do { \
    tt_test_no_definite_leaks(__FILE__, __LINE__); \
    CHECK_EQ(tt_shutdown(), TT_OK); \
  } while (0)

/* tt_init with `procs` workers (0 = default), tt_main(fn, arg) on that
 * runtime, then tt_shutdown, checking each step. (tt_main only shuts down a
 * runtime it started itself.) */
#define RUN_MAIN(procs, fn, arg) \
  do { \
    tt_config tt_cfg_ = {(procs), 0}; \
    int tt_rc_ = tt_init(&tt_cfg_); \
    CHECK_EQ(tt_rc_, TT_OK); \
    if (tt_rc_ == TT_OK) { \
      tt_rc_ = tt_main(fn, arg); \
      CHECK_EQ(tt_rc_, TT_OK); \
      TEST_SHUTDOWN(); \
    } \
    CHECK_EQ(tt_procs(), 0); \
  } while (0)

/* Info about one task found by tt_test_find_task (strings copied). */
typedef struct tt_test_task {
  int found;
  tt_task_info info; /* string pointers below point into this struct */
  char state_name[32];
  char wait_reason[64];
  char entry[128];
  char spawn_file[256];
  char spawn_func[128];
} tt_test_task;

typedef struct {
  int64_t id;
  tt_test_task *out;
} tt_test_find_arg_;

static inline void tt_test_copy_str_(char *dst, size_t n, const char *src) {
  if (!src) {
    dst[0] = '\0';
    return;
  }
  snprintf(dst, n, "%s", src);
}

static __attribute__((unused)) int tt_test_find_visit_(const tt_task_info *info, void *arg) {
  tt_test_find_arg_ *a = arg;
  if (info->id != a->id)
    return 0;
  tt_test_task *t = a->out;
  t->found = 1;
  t->info = *info;
  tt_test_copy_str_(t->state_name, sizeof t->state_name, info->state_name);
  tt_test_copy_str_(t->wait_reason, sizeof t->wait_reason, info->wait_reason);
  tt_test_copy_str_(t->entry, sizeof t->entry, info->entry);
  tt_test_copy_str_(t->spawn_file, sizeof t->spawn_file, info->spawn_file);
  tt_test_copy_str_(t->spawn_func, sizeof t->spawn_func, info->spawn_func);
  t->info.state_name = info->state_name ? t->state_name : NULL;
  t->info.wait_reason = info->wait_reason ? t->wait_reason : NULL;
  t->info.entry = info->entry ? t->entry : NULL;
  t->info.spawn_file = info->spawn_file ? t->spawn_file : NULL;
  t->info.spawn_func = info->spawn_func ? t->spawn_func : NULL;
  return 1; /* stop */
}

/* Look one task up by id through tt_tasks_foreach. Returns found (0/1). */
static inline __attribute__((unused)) int tt_test_find_task(int64_t id, tt_test_task *out) {
  memset(out, 0, sizeof *out);
  tt_test_find_arg_ a = {id, out};
  tt_tasks_foreach(tt_test_find_visit_, &a);
  return out->found;
}

/* From a task: poll (tt_sleep 1 ms between tries) until task `id` is
 * waiting with wait reason `reason`, for at most `timeout_ns`. Returns 1 on
 * success and leaves the last observation in *out. */
static inline __attribute__((unused)) int
tt_test_await_wait_reason(int64_t id, const char *reason, int64_t timeout_ns, tt_test_task *out) {
  int64_t end = tt_test_mono_ns() + timeout_ns;
  for (;;) {
    if (tt_test_find_task(id, out) && out->info.state == TT_TASK_WAITING &&
        strcmp(out->wait_reason, reason) == 0)
      return 1;
    if (tt_test_mono_ns() > end)
      return 0;
    tt_sleep(TT_MS(1));
  }
}

static inline __attribute__((unused)) int tt_test_ends_with(const char *s, const char *suffix) {
  if (!s || !suffix)
    return 0;
  size_t ls = strlen(s), lx = strlen(suffix);
  return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* ---- child processes ------------------------------------------------------- */

/* Fork; the child runs child(arg) with its stderr going into a pipe (and
 * exits 127 should child return). The parent reads that stderr to the end
 * into *err_out (malloc'd, NUL-terminated) and stores the wait status.
 * Returns 0, or -1 when the pipe or the fork failed. */
static inline __attribute__((unused)) int tt_test_capture_child(void (*child)(void *), void *arg,
                                                                char **err_out, int *status) {
  int fds[2];
  if (pipe(fds) != 0)
    return -1;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 2);
    close(fds[1]);
    child(arg);
    _exit(127);
  }
  close(fds[1]);
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len + 1024 > cap)
      buf = realloc(buf, cap *= 2);
    ssize_t r = read(fds[0], buf + len, cap - len - 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    len += (size_t)r;
  }
  buf[len] = '\0';
  close(fds[0]);
  while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
  }
  *err_out = buf;
  return 0;
}

typedef struct tt_test_self_exec {
  const char *argv0, *mode, *env_kv;
} tt_test_self_exec;

static inline __attribute__((unused)) void tt_test_exec_self(void *arg) {
  extern char **environ;
  const tt_test_self_exec *x = arg;
  size_t klen = strcspn(x->env_kv, "=") + 1; /* "KEY=" */
  char *envp[512];
  int n = 0;
  for (char **e = environ; *e && n < 500; e++)
    if (strncmp(*e, x->env_kv, klen) != 0)
      envp[n++] = *e;
  envp[n++] = (char *)x->env_kv;
  envp[n] = NULL;
  execle("/proc/self/exe", x->argv0, x->mode, (char *)NULL, envp);
}

/* Re-execute this test binary with argv[1] = mode and env_kv ("KEY=VALUE")
 * replacing KEY in the environment; stderr and status as above. */
static inline __attribute__((unused)) int tt_test_run_self(const char *argv0, const char *mode,
                                                           const char *env_kv, char **err_out,
                                                           int *status) {
  tt_test_self_exec x = {argv0, mode, env_kv};
  return tt_test_capture_child(tt_test_exec_self, &x, err_out, status);
}

/* ---- capturing output as strings (free them) ------------------------ */

/* Everything a stream yields (a file, a pipe). */
static inline __attribute__((unused)) char *tt_test_read_stream(FILE *in) {
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  int c;
  while (in && (c = fgetc(in)) != EOF)
    fputc(c, m);
  fclose(m);
  return buf;
}

/* A dump of every task in `format`. */
static __attribute__((unused, noinline)) char *tt_test_dump(tt_dump_format format) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  CHECK_EQ(tt_dump_as(f, format), 0);
  fclose(f);
  return buf;
}

/* The report of every definite leak found so far. */
static __attribute__((unused, noinline)) char *tt_test_leak_report(void) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  CHECK_EQ(tt_leak_report(f), 0);
  fclose(f);
  return buf;
}

#endif /* TT_TEST_HARNESS_H */
