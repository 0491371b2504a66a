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

#include "internal.h"
#include "leak.h"
#include "sanitizer.h"

#define DEFAULT_STACK (64u << 10)
#define MAX_PROCS 1024

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
  default: return "unknown error";
  }
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

int tt_init(const tt_config *cfg) {
  int procs;
  size_t stack;
  int rc = resolve_config(cfg, &procs, &stack);
  if (rc < 0)
    return rc;
  pthread_mutex_lock(&lifecycle);
  if (atomic_load(&tt__rt.state) != TT_RT_OFF) {
    pthread_mutex_unlock(&lifecycle);
    return TT_EBUSY;
  }
  tt__overflow_handler_install();
  tt__stacks_init(stack);
  tt__rt.stack_size = stack;
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
  atomic_store(&tt__rt.state, TT_RT_RUNNING);
  for (int i = 0; i < procs; i++) {
    if (pthread_create(&tt__rt.workers[i]->thread, NULL, worker_thread, tt__rt.workers[i]) != 0)
      tt__fatal("cannot start worker thread %d of %d", i, procs);
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
  if (tt__worker())
    return TT_EBUSY; /* a worker cannot join itself */
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
  tt__leakgraph_shutdown(); /* no task is left to send it an event */
  /* Waiters that channels and WaitGroups still list belong to tasks about
   * to be dropped: a new generation tells them so (before the drop, which
   * releases the references handed to those tasks). */
  atomic_fetch_add(&tt__rt.generation, 1);
  tt__task_free_all();
  tt__stacks_destroy();
  free_workers(tt__rt.nworkers);
  tt__rt.gq_head = tt__rt.gq_tail = NULL;
  atomic_store(&tt__rt.gq_size, 0);
  atomic_store(&tt__rt.state, TT_RT_OFF);
  pthread_mutex_unlock(&lifecycle);
  return 0;
}

int tt_procs(void) { return atomic_load(&tt__rt.state) == TT_RT_RUNNING ? tt__rt.nworkers : 0; }

int tt__main(tt_fn fn, void *arg, const char *entry, const char *file, int line, const char *func) {
  if (!fn)
    return TT_EINVAL;
  if (tt__worker())
    return TT_EBUSY;
  bool started = false;
  if (atomic_load(&tt__rt.state) == TT_RT_OFF) {
    int rc = tt_init(NULL);
    if (rc < 0)
      return rc;
    started = true;
  }
  tt_wg *wg = tt_wg_make();
  if (!wg)
    return TT_ENOMEM;
  int64_t id = tt__wg_spawn(wg, fn, arg, &(tt_spawn_opts){.name = "main", .stack_size = 0}, entry,
                            file, line, func);
  if (id >= 0) {
    tt__main_waiting(id, true); /* while main runs, this thread wakes nobody */
    /* Everything may have stopped before we said so: then no worker will
     * go idle again to notice. */
    if (atomic_load(&tt__rt.nidle) == tt__rt.nworkers)
      tt__checkdead();
    tt_wg_wait(wg);
    tt__main_waiting(id, false);
  }
  tt_wg_free(wg);
  if (started)
    tt_shutdown();
  return id < 0 ? (int)id : 0;
}
