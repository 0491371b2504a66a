/*
 * Dumps on a signal, Go's SIGQUIT habit without the exit: an operator sends
 * the signal and gets every task's stack, and the process keeps serving.
 *
 * A signal handler may do almost nothing, so it only writes a byte to a
 * pipe; a helper thread (with a thread's full stack: symbolization needs
 * it) reads the byte and writes the dump. The thread is started on first
 * use and lives for the rest of the process; the pipe also carries the
 * settings' generation so a re-armed signal takes the new format and path.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static pthread_mutex_t dump_lock = PTHREAD_MUTEX_INITIALIZER;
static int wake_pipe[2] = {-1, -1};
static int armed_signo;
static tt_dump_format armed_format;
static char *armed_path; /* NULL: stderr */
static struct sigaction previous;

static void on_signal(int signo) {
  (void)signo;
  int saved = errno;
  char b = 1;
  if (write(wake_pipe[1], &b, 1) < 0) {
    /* the pipe is full: a dump is already pending, which is enough */
  }
  errno = saved;
}

static void write_dump(void) {
  pthread_mutex_lock(&dump_lock);
  tt_dump_format format = armed_format;
  char *path = armed_path ? strdup(armed_path) : NULL;
  pthread_mutex_unlock(&dump_lock);
  FILE *out = stderr;
  if (path && !(out = fopen(path, "a"))) {
    fprintf(stderr, "tether: cannot open %s for a task dump: %s\n", path, strerror(errno));
    free(path);
    return;
  }
  int rc = tt_dump_as(out, format);
  if (rc < 0)
    fprintf(out, "tether: task dump failed: %s\n", tt_strerror(rc));
  fflush(out);
  if (out != stderr)
    fclose(out);
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
  pthread_mutex_lock(&dump_lock);
  int rc = 0;
  if (armed_signo) {
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
