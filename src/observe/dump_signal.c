/*
 * Dumps on a signal, Go's SIGQUIT habit without the exit: an operator sends
 * the signal and gets every task's stack, and the process keeps serving.
 *
 * A signal handler may do almost nothing, so it only writes a byte to a
 * pipe; a helper thread (with a thread's full stack: symbolization needs
 * it) reads the byte and writes the dump. The thread is started on first
 * use and lives for the rest of the process; the pipe also carries the
 * settings' generation so a re-armed signal takes the new format and path.
 *
 * To a file, each dump must stay readable on its own: a second pprof
 * profile or JSON document appended to the first makes neither readable
 * (pprof: "concatenated profiles detected"). So the formats that are one
 * document (pprof, goroutineleak, JSON, and debug=1, which `go tool pprof`
 * reads) go to numbered files, path.1, path.2, ..., each written under a
 * temporary name and renamed when complete, so a reader never sees half a
 * dump. The text dumps meant for eyes and stack parsers (debug=2, summary)
 * are appended to path, each after a line that says which dump it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/runtime.h"
#include "core/netpoll.h"
#include "core/threads.h"
#include "observe/hooks.h"

static pthread_mutex_t dump_lock = PTHREAD_MUTEX_INITIALIZER;
static int wake_pipe[2] = {-1, -1};
static int armed_signo;
static tt_dump_format armed_format;
static char *armed_path;       /* NULL: stderr */
static unsigned dumps_written; /* since armed: numbers the files */
static struct sigaction previous;

/* Formats written one whole document per file. */
static bool one_per_file(tt_dump_format f) {
  return f == TT_DUMP_PPROF || f == TT_DUMP_PPROF_LEAKED || f == TT_DUMP_JSON ||
         f == TT_DUMP_GO_DEBUG1;
}

static void on_signal(int signo) {
  (void)signo;
  int saved = errno;
  char b = 1;
  if (write(wake_pipe[1], &b, 1) < 0) {
    /* the pipe is full: a dump is already pending, which is enough */
  }
  errno = saved;
}

/* The line before each text dump appended to a file: which dump, when. */
static void put_separator(FILE *out, unsigned number, tt_dump_format format) {
  static const char *const names[] = {"summary", "debug=2", "debug=1",
                                      "pprof",   "json",    "goroutineleak"};
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  fprintf(out, "%s=== tether task dump %u (%s), pid %ld, %s ===\n\n", number > 1 ? "\n" : "",
          number, (unsigned)format < sizeof names / sizeof names[0] ? names[format] : "?",
          (long)getpid(), when);
}

static void write_dump(void) {
  pthread_mutex_lock(&dump_lock);
  tt_dump_format format = armed_format;
  char *path = armed_path ? strdup(armed_path) : NULL;
  unsigned number = ++dumps_written;
  pthread_mutex_unlock(&dump_lock);
  if (!path) {
    int rc = tt_dump_as(stderr, format);
    if (rc < 0)
      fprintf(stderr, "tether: task dump failed: %s\n", tt_strerror(rc));
    return;
  }
  bool numbered = one_per_file(format);
  size_t len = strlen(path) + 32;
  char *final = malloc(len), *tmp = malloc(len);
  if (!final || !tmp) {
    fprintf(stderr, "tether: task dump failed: %s\n", tt_strerror(TT_ENOMEM));
    goto done;
  }
  snprintf(final, len, numbered ? "%s.%u" : "%s", path, number);
  snprintf(tmp, len, "%s.%u.tmp", path, number);
  const char *open_as = numbered ? tmp : final;
  FILE *out = fopen(open_as, numbered ? "w" : "a");
  if (!out) {
    fprintf(stderr, "tether: cannot open %s for a task dump: %s\n", open_as, strerror(errno));
    goto done;
  }
  if (!numbered)
    put_separator(out, number, format);
  int rc = tt_dump_as(out, format);
  if (rc < 0 && !numbered)
    fprintf(out, "tether: task dump failed: %s\n", tt_strerror(rc));
  if (fclose(out) != 0 && rc == 0)
    rc = TT_EINVAL;
  if (numbered) {
    if (rc < 0) {
      fprintf(stderr, "tether: task dump to %s failed: %s\n", final, tt_strerror(rc));
      unlink(tmp);
    } else if (rename(tmp, final) != 0) {
      fprintf(stderr, "tether: cannot rename %s to %s: %s\n", tmp, final, strerror(errno));
      unlink(tmp);
    }
  }
done:
  free(final);
  free(tmp);
  free(path);
}

static void *dump_thread(void *arg) {
  (void)arg;
  tt__thread_known(true); /* it only reads */
  char buf[64];
  for (;;) {
    ssize_t n = read(wake_pipe[0], buf, sizeof buf);
    if (n > 0)
      write_dump();
    else if (n == 0 || (errno != EINTR && errno != EAGAIN))
      return NULL;
  }
}

/* Under dump_lock. */
static int start_thread(void) {
  if (wake_pipe[0] >= 0)
    return 0;
  if (pipe2(wake_pipe, O_CLOEXEC) != 0)
    return TT_ENOMEM;
  fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK); /* the handler must never block */
  pthread_t th;
  /* The thread takes no signals itself, so the handler never interrupts
   * the dump it asks for. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&th, NULL, dump_thread, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    wake_pipe[0] = wake_pipe[1] = -1;
    return TT_ENOMEM;
  }
  pthread_detach(th);
  return 0;
}

int tt_dump_on_signal(int signo, tt_dump_format format, const char *path) {
  if (signo < 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP || signo == SIGSEGV ||
      signo == SIGBUS || signo == SIGILL || signo == SIGFPE)
    return TT_EINVAL; /* the last four are faults, and tether owns SIGSEGV's report */
  if ((unsigned)format > TT_DUMP_PPROF_LEAKED)
    return TT_EINVAL;
  /* A signal delivered to channels (tt_signal_notify) is blocked in the
   * runtime's threads and read from the poller's signalfd: no handler
   * would ever run. */
  if (signo > 0 && signo <= 64 &&
      (atomic_load(&tt__netpoll_signals) & (UINT64_C(1) << (signo - 1))))
    return TT_EBUSY;
  pthread_mutex_lock(&dump_lock);
  int rc = 0;
  /* Re-arming the signal already armed (every tt_init does, from the
   * environment) keeps the handler in place and changes only the format
   * and path: putting the previous handler back first would leave the
   * signal's default action, which ends the process, in place meanwhile. */
  if (armed_signo && armed_signo != signo) {
    sigaction(armed_signo, &previous, NULL);
    armed_signo = 0;
  }
  if (signo) {
    char *copy = NULL;
    if ((path && !(copy = strdup(path))) || (rc = start_thread()) < 0) {
      free(copy);
      pthread_mutex_unlock(&dump_lock);
      return rc < 0 ? rc : TT_ENOMEM;
    }
    free(armed_path);
    armed_path = copy;
    armed_format = format;
    dumps_written = 0;
    if (armed_signo == signo) {
      pthread_mutex_unlock(&dump_lock);
      return 0;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(signo, &sa, &previous) != 0)
      rc = TT_EINVAL;
    else
      armed_signo = signo;
  }
  pthread_mutex_unlock(&dump_lock);
  return rc;
}

int tt__dump_signal_armed(void) {
  pthread_mutex_lock(&dump_lock);
  int s = armed_signo;
  pthread_mutex_unlock(&dump_lock);
  return s;
}

/* TT_DUMP_SIGNAL=QUIT|USR1|USR2|<number>, TT_DUMP_FORMAT, TT_DUMP_FILE. */
void tt__dump_signal_from_env(void) {
  const char *sig = getenv("TT_DUMP_SIGNAL");
  if (!sig || !*sig)
    return;
  static const struct {
    const char *name;
    int signo;
  } names[] = {{"QUIT", SIGQUIT},    {"SIGQUIT", SIGQUIT}, {"USR1", SIGUSR1},
               {"SIGUSR1", SIGUSR1}, {"USR2", SIGUSR2},    {"SIGUSR2", SIGUSR2}};
  int signo = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(sig, names[i].name) == 0)
      signo = names[i].signo;
  if (!signo) {
    char *end;
    long n = strtol(sig, &end, 10);
    if (*end == '\0' && n > 0 && n < NSIG)
      signo = (int)n;
  }
  const char *fmt = getenv("TT_DUMP_FORMAT");
  int format = fmt && *fmt ? tt_dump_format_parse(fmt) : TT_DUMP_GO_DEBUG2;
  if (!signo || format < 0 ||
      tt_dump_on_signal(signo, (tt_dump_format)format, getenv("TT_DUMP_FILE")) < 0)
    fprintf(stderr, "tether: ignoring TT_DUMP_SIGNAL=%s TT_DUMP_FORMAT=%s: not a usable setting\n",
            sig, fmt ? fmt : "");
}
