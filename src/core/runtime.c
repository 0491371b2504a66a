/*
 * Runtime lifecycle: configuration, starting and stopping the workers,
 * tt_main, error strings.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/sanitizer.h"
#include "core/netpoll.h"
#include "core/sched.h"
#include "core/stack.h"
#include "core/threads.h"
#include "leak/hooks.h"
#include "net/hooks.h"
#include "observe/hooks.h"

#define DEFAULT_STACK (64u << 10)
#define MAX_PROCS 1024
#define DEFAULT_BLOCKING 64
#define DEFAULT_SHUTDOWN_WAIT_MS 5000
#define MAX_BLOCKING 4096

static pthread_mutex_t lifecycle = PTHREAD_MUTEX_INITIALIZER;

void tt__fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("tether: fatal: ", stderr);
  vfprintf(stderr, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized): va_start above
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

const char *tt_strerror(int code) {
  switch (code) {
  case TT_OK: return "success";
  case TT_EINVAL: return "invalid argument";
  case TT_ENOMEM: return "out of memory";
  case TT_ENOTASK: return "not called from a task";
  case TT_ESHUTDOWN: return "the runtime is shutting down";
  case TT_ENOTINIT: return "the runtime is not running";
  case TT_ETIMEDOUT: return "deadline exceeded";
  case TT_ECANCELED: return "context canceled";
  case TT_ECLOSED: return "channel closed";
  case TT_ELEAKED: return "the task is leaked: this call can never complete";
  case TT_EBUSY: return "busy: already running or still in use";
  case TT_EAGAIN: return "operation would block";
  case TT_ENEGATIVE: return "counter would become negative";
  case TT_EUNLOCKED: return "unlock of an unlocked mutex";
  case TT_ENOENT: return "not found: nothing of that kind is running";
  case TT_EOF: return "end of stream";
  case TT_ECONNRESET: return "connection reset by peer";
  case TT_ECONNREFUSED: return "connection refused";
  case TT_EBADF: return "bad or closed descriptor";
  case TT_ERESOLVE: return "name resolution failed";
  case TT_ETOOBIG: return "response body too large";
  case TT_EPROTO: return "protocol error: not a valid response";
  default: break;
  }
  /* System errors keep their errno (TT_ESYS); glibc's description table is
   * read-only and thread-safe, unlike strerror's buffer. */
  if (tt_errno(code) > 0) {
    const char *d = strerrordesc_np(tt_errno(code));
    return d ? d : "unknown system error";
  }
  return "unknown error";
}

/* Parse a size like "65536", "64k", "1M". Returns 0 on a malformed value. */
static size_t parse_size(const char *s) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s)
    return 0;
  switch (tolower((unsigned char)*end)) {
  case 'k':
    v <<= 10;
    end++;
    break;
  case 'm':
    v <<= 20;
    end++;
    break;
  case 'g':
    v <<= 30;
    end++;
    break;
  default: break;
  }
  if (*end == 'i' || *end == 'I')
    end++;
  if (*end == 'b' || *end == 'B')
    end++;
  return *end ? 0 : (size_t)v;
}

/* The blocking pool's size: TT_BLOCKING_MAX, else 64. (Not a tt_config
 * field: code that fills tt_config positionally would stop compiling
 * under -Wextra -Werror.) */
static int resolve_blocking_max(int *max) {
  *max = 0;
  const char *env = getenv("TT_BLOCKING_MAX");
  if (env && *env) {
    char *end;
    long v = strtol(env, &end, 10);
    if (*end || v < 1 || v > MAX_BLOCKING) {
      fprintf(stderr, "tether: TT_BLOCKING_MAX=%s is not a number between 1 and %d\n", env,
              MAX_BLOCKING);
      return TT_EINVAL;
    }
    *max = (int)v;
  }
  if (*max == 0)
    *max = DEFAULT_BLOCKING;
  return 0;
}

/* How long tt_shutdown waits for calls under way in tt_blocking before it
 * leaves them running: TT_SHUTDOWN_WAIT in milliseconds (0 to a day),
 * else 5 s. */
static int resolve_shutdown_wait(int64_t *ns) {
  *ns = DEFAULT_SHUTDOWN_WAIT_MS * 1000000LL;
  const char *env = getenv("TT_SHUTDOWN_WAIT");
  if (env && *env) {
    char *end;
    long long v = strtoll(env, &end, 10);
    if (*end || v < 0 || v > 86400000LL) {
      fprintf(stderr,
              "tether: TT_SHUTDOWN_WAIT=%s is not a number of milliseconds between 0 and "
              "86400000\n",
              env);
      return TT_EINVAL;
    }
    *ns = v * 1000000LL;
  }
  return 0;
}

static int resolve_config(const tt_config *cfg, int *procs, size_t *stack) {
  *procs = cfg ? cfg->procs : 0;
  *stack = cfg ? cfg->stack_size : 0;
  if (*procs < 0 || *procs > MAX_PROCS)
    return TT_EINVAL;
  const char *env;
  if (*procs == 0 && (env = getenv("TT_PROCS")) && *env) {
    char *end;
    long v = strtol(env, &end, 10);
    if (*end || v < 1 || v > MAX_PROCS) {
      fprintf(stderr, "tether: TT_PROCS=%s is not a number between 1 and %d\n", env, MAX_PROCS);
      return TT_EINVAL;
    }
    *procs = (int)v;
  }
  if (*procs == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    *procs = n > 0 ? (int)(n > MAX_PROCS ? MAX_PROCS : n) : 1;
  }
  if (*stack == 0 && (env = getenv("TT_STACK_SIZE")) && *env) {
    *stack = parse_size(env);
    if (*stack == 0) {
      fprintf(stderr, "tether: TT_STACK_SIZE=%s is not a size (e.g. 65536, 64k, 1M)\n", env);
      return TT_EINVAL;
    }
  }
  if (*stack == 0)
    *stack = DEFAULT_STACK;
  size_t page = tt__page_size();
  if (*stack < (16u << 10) || *stack > (1u << 30))
    return TT_EINVAL;
  *stack = (*stack + page - 1) & ~(page - 1);
  return 0;
}

static void *worker_thread(void *arg) {
  tt_worker *w = arg;
  tt__set_worker(w);
  tt__thread_known(true);
  tt__overflow_handler_thread_init(w);
#ifdef TT_ASAN
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstack(&attr, &w->g0_stack_lo, &w->g0_stack_size);
    pthread_attr_destroy(&attr);
  }
#endif
#ifdef TT_TSAN
  w->tsan_g0 = __tsan_get_current_fiber();
#endif
  tt__worker_loop(w);
  tt__thread_known(false);
  tt__overflow_handler_thread_fini(w);
  tt__set_worker(NULL);
  return NULL;
}

static void free_workers(int n) {
  for (int i = 0; i < n; i++) {
    tt__timer_heap_destroy(&tt__rt.workers[i]->timers);
    free(tt__rt.workers[i]);
  }
  free(tt__rt.workers);
  tt__rt.workers = NULL;
  tt__rt.nworkers = 0;
}

/* A worker thread could not be started (out of memory or address space,
 * e.g. under RLIMIT_AS): stop the ones that were, as tt_shutdown would, and
 * leave the runtime off. Under the lifecycle lock. */
static void abandon_start(int started) {
  atomic_store(&tt__rt.state, TT_RT_STOPPING);
  tt__monitor_shutdown();
  while (atomic_load(&tt__rt.foreign_spawners) > 0 || atomic_load(&tt__rt.walkers) > 0)
    sched_yield();
  tt__wake_all_idle();
  for (int i = 0; i < started; i++)
    pthread_join(tt__rt.workers[i]->thread, NULL);
  tt__blocking_shutdown();
  tt__leakgraph_shutdown();
  atomic_fetch_add(&tt__rt.generation, 1);
  tt__task_free_all();
  tt__stacks_destroy();
  free_workers(tt__rt.nworkers);
  tt__rt.gq_head = tt__rt.gq_tail = NULL;
  atomic_store(&tt__rt.gq_size, 0);
  atomic_store(&tt__rt.state, TT_RT_OFF);
}

int tt_init(const tt_config *cfg) {
  int procs, blocking_max;
  size_t stack;
  int rc = resolve_config(cfg, &procs, &stack);
  if (rc == 0)
    rc = resolve_blocking_max(&blocking_max);
  int64_t shutdown_wait = 0;
  if (rc == 0)
    rc = resolve_shutdown_wait(&shutdown_wait);
  if (rc < 0)
    return rc;
  pthread_mutex_lock(&lifecycle);
  if (atomic_load(&tt__rt.state) != TT_RT_OFF) {
    pthread_mutex_unlock(&lifecycle);
    return TT_EBUSY;
  }
  tt__leak_records_clear(); /* a new run starts with no leak records */
  tt__overflow_handler_install();
  tt__stacks_init(stack);
  tt__rt.stack_size = stack;
  tt__rt.blocking_max = blocking_max;
  tt__rt.shutdown_wait = shutdown_wait;
  tt__rt.gq_head = tt__rt.gq_tail = NULL;
  atomic_store(&tt__rt.gq_size, 0);
  tt__rt.idle_list = tt__rt.poller = NULL;
  atomic_store(&tt__rt.nidle, 0);
  atomic_store(&tt__rt.nspinning, 0);
  atomic_store(&tt__rt.poll_until, INT64_MAX);
  if (atomic_load(&tt__rt.next_id) == 0)
    atomic_store(&tt__rt.next_id, 1); /* ids stay unique across restarts */
  atomic_fetch_add(&tt__rt.generation, 1);
  tt__tasklist_init(&tt__rt.foreign_tasks);
  tt__rt.workers = calloc((size_t)procs, sizeof(tt_worker *));
  if (!tt__rt.workers)
    goto nomem;
  for (int i = 0; i < procs; i++) {
    tt_worker *w = aligned_alloc(TT_CACHELINE, (sizeof(tt_worker) + TT_CACHELINE - 1) &
                                                   ~(size_t)(TT_CACHELINE - 1));
    if (!w) {
      free_workers(i);
      goto nomem;
    }
    memset(w, 0, sizeof *w);
    w->id = i;
    w->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
    tt__timer_heap_init(&w->timers);
    tt__tasklist_init(&w->tasks);
    tt__rt.workers[i] = w;
    tt__rt.nworkers = i + 1;
  }
  if ((rc = tt__netpoll_init()) < 0) {
    free_workers(procs);
    tt__stacks_destroy();
    pthread_mutex_unlock(&lifecycle);
    return rc;
  }
  atomic_store(&tt__rt.state, TT_RT_RUNNING);
  for (int i = 0; i < procs; i++) {
    if (pthread_create(&tt__rt.workers[i]->thread, NULL, worker_thread, tt__rt.workers[i]) != 0) {
      abandon_start(i);
      pthread_mutex_unlock(&lifecycle);
      return TT_ENOMEM;
    }
  }
  pthread_mutex_unlock(&lifecycle);
  tt__dump_signal_from_env();
  tt__leak_mode_now(); /* read TT_LEAKCHECK now: the instant modes need it at once */
  return 0;
nomem:
  tt__stacks_destroy();
  pthread_mutex_unlock(&lifecycle);
  return TT_ENOMEM;
}

int tt_shutdown(void) {
  if (tt__worker() || tt__shutdown_waits_for_me)
    return TT_EBUSY; /* a worker, helper or monitor cannot wait for itself */
  pthread_mutex_lock(&lifecycle);
  if (atomic_load(&tt__rt.state) != TT_RT_RUNNING) {
    pthread_mutex_unlock(&lifecycle);
    return TT_ENOTINIT;
  }
  atomic_store(&tt__rt.state, TT_RT_STOPPING);
  tt__monitor_shutdown(); /* it reads the workers we are about to free */
  /* Plain threads may be spawning or walking the task lists (a dump, the
   * monitor): both look at what we are about to free. */
  while (atomic_load(&tt__rt.foreign_spawners) > 0 || atomic_load(&tt__rt.walkers) > 0)
    sched_yield();
  tt__wake_all_idle();
  for (int i = 0; i < tt__rt.nworkers; i++)
    pthread_join(tt__rt.workers[i]->thread, NULL);
  tt__blocking_shutdown();
  tt__netpoll_shutdown();   /* closes the descriptors of tasks about to be dropped */
  tt__leakgraph_shutdown(); /* no task is left to send it an event */
  /* Waiters that channels and WaitGroups still list belong to tasks about
   * to be dropped: a new generation tells them so (before the drop, which
   * releases the references handed to those tasks). */
  atomic_fetch_add(&tt__rt.generation, 1);
  tt__task_free_all();
  tt__signal_shutdown(); /* after the tasks: it drops its channel references */
  /* Channels that lost their last reference while tasks waited on them
   * lived on for those tasks, which are gone now (leak/hooks.h). */
  tt__chan_kept_free_all();
  tt__stacks_destroy();
  free_workers(tt__rt.nworkers);
  tt__rt.gq_head = tt__rt.gq_tail = NULL;
  atomic_store(&tt__rt.gq_size, 0);
  atomic_store(&tt__rt.state, TT_RT_OFF);
  pthread_mutex_unlock(&lifecycle);
  return 0;
}

int tt_procs(void) { return atomic_load(&tt__rt.state) == TT_RT_RUNNING ? tt__rt.nworkers : 0; }
