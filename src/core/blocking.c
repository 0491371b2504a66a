/*
 * Blocking calls. tt_blocking(fn, arg) parks the calling task and hands
 * fn(arg) to a pool of helper threads, so a worker never stalls in
 * getaddrinfo, disk I/O or a slow library. The job is handed over by the
 * park callback, i.e. only once the task is off its stack, so the helper
 * can never make it runnable too early. Helpers are started on demand (up to
 * MAX_HELPERS) and exit after IDLE_SECONDS without work.
 *
 * Wake-up accounting: a queued job needs a helper of its own. An idle helper
 * that was signalled still counts in nidle until it wakes and takes a job, so
 * "some helper is idle" is not enough: a second job queued before that
 * helper wakes would share it, and wait forever if the first job blocks. A
 * new helper is started whenever the queued jobs outnumber the idle helpers.
 *
 * Detached jobs (tt__blocking_detach, for the bounded forms in
 * sync/blocking_bounded.c) live on the heap and belong to the helper once
 * queued: the task that submitted one may stop waiting at any time, so the
 * helper never touches that task; it calls the job's done callback and
 * frees the record. A helper copies what it needs of any job before it
 * runs it, and after fn returns it reads nothing of a task's stack.
 *
 * The pool's size is TT_BLOCKING_MAX (1 to 4096, default 64), read at
 * tt_init (runtime.c).
 *
 * tt_shutdown waits for the calls in progress (a helper that finishes one
 * touches the runtime). A call that never returns would make that wait
 * silent, so each helper keeps a note of what it runs on the pool's
 * `running` list, and after SHUTDOWN_REPORT_NS the shutdown names every
 * call it still waits for on stderr. After TT_SHUTDOWN_WAIT (5 s) it stops
 * waiting: each call still running is *abandoned*. Its note's state goes
 * from RUNNING to ABANDONED (the helper's own RUNNING -> DONE when fn
 * returns decides the race), the task it serves is pinned (its stack and
 * record, where fn's argument often lives, are never unmapped; its spawn
 * argument is not dropped), and when fn finally returns the helper touches
 * nothing of the runtime, which may be stopped or started anew: it drops
 * the result and exits. Jobs still queued are dropped unrun.
 */
#include <errno.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/sched.h"
#include "core/stack.h"
#include "core/threads.h"
#include "observe/hooks.h"

#define IDLE_SECONDS 10
#define SHUTDOWN_REPORT_NS 1000000000LL

/* Who asked for a call: copied into the job at submission, since a
 * detached job's task may be gone by the time anyone reads this. */
typedef struct caller {
  int64_t id; /* 0: a plain thread */
  const char *entry, *file;
  int line;
} caller;

typedef struct job {
  tt_fn fn;
  void *arg;
  tt_task *task;                /* NULL for a detached job */
  void (*done)(void *done_arg); /* detached: called when fn returns */
  void (*drop)(void *done_arg); /* detached: called instead when it never runs */
  void *done_arg;
  struct job *next;
  int rc;
  caller who;
} job;

enum { CALL_RUNNING, CALL_DONE, CALL_ABANDONED };

/* A call a helper is running (on the helper's stack, on pool.running). */
typedef struct running {
  tt_fn fn;
  caller who;
  int64_t since;
  tt_task *task; /* NULL for a detached job */
  _Atomic int state;
  struct running *next;
} running;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t work;  /* a job was queued, or helpers must stop */
  pthread_cond_t quiet; /* inflight or nhelpers dropped */
  job *head, *tail;
  running *running; /* the calls under way */
  int nhelpers, nidle;
  int nabandoned; /* helpers still inside an abandoned call (in nhelpers) */
  int nqueued;    /* jobs in the queue, not yet taken by a helper */
  int64_t inflight;
  bool stop;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
          .work = PTHREAD_COND_INITIALIZER,
          .quiet = PTHREAD_COND_INITIALIZER};

static void *helper_main(void *unused) {
  (void)unused;
  tt__thread_known(true); /* the task it serves waits in "syscall" meanwhile */
  tt__shutdown_waits_for_me = true;
  pthread_mutex_lock(&pool.mu);
  for (;;) {
    while (!pool.head && !pool.stop) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += IDLE_SECONDS;
      pool.nidle++;
      int rc = pthread_cond_timedwait(&pool.work, &pool.mu, &ts);
      pool.nidle--;
      if (rc == ETIMEDOUT && !pool.head)
        goto out;
    }
    if (!pool.head)
      break; /* stop requested and nothing left */
    job *j = pool.head;
    pool.head = j->next;
    if (!pool.head)
      pool.tail = NULL;
    pool.nqueued--;
    /* A task's job lives on its stack: read it all before fn runs. */
    tt_fn fn = j->fn;
    void *arg = j->arg;
    tt_task *t = j->task;
    running me = {.fn = fn, .who = j->who, .since = tt_now(), .task = t, .next = pool.running};
    atomic_init(&me.state, CALL_RUNNING);
    pool.running = &me;
    pthread_mutex_unlock(&pool.mu);
    fn(arg);
    int expect = CALL_RUNNING;
    if (!atomic_compare_exchange_strong(&me.state, &expect, CALL_DONE)) {
      /* Abandoned by a shutdown: the runtime may be gone or new. The note
       * is off the list already; a detached record is still ours. */
      if (!t)
        free(j);
      pthread_mutex_lock(&pool.mu);
      pool.nabandoned--;
      break;
    }
    if (t) {
      tt__ready(t);
    } else {
      j->done(j->done_arg); /* the submitter may be gone: only the callback knows */
      free(j);
    }
    pthread_mutex_lock(&pool.mu);
    running **pp = &pool.running;
    while (*pp != &me)
      pp = &(*pp)->next;
    *pp = me.next;
    if (--pool.inflight == 0)
      pthread_cond_broadcast(&pool.quiet);
  }
out:
  pool.nhelpers--;
  pthread_cond_broadcast(&pool.quiet);
  pthread_mutex_unlock(&pool.mu);
  tt__thread_known(false);
  return NULL;
}

/* Queue j. TT_ENOMEM when no helper exists or can be started: then j was
 * not queued. Once queued, j may already be run (and, detached, freed). */
static int enqueue(job *j) {
  pthread_mutex_lock(&pool.mu);
  j->next = NULL;
  if (pool.tail)
    pool.tail->next = j;
  else
    pool.head = j;
  pool.tail = j;
  pool.inflight++;
  pool.nqueued++;
  if (pool.nqueued > pool.nidle && pool.nhelpers - pool.nabandoned < tt__rt.blocking_max) {
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (tt__thread_create(&th, &attr, helper_main, NULL) == 0)
      pool.nhelpers++;
    pthread_attr_destroy(&attr);
    if (pool.nhelpers == 0) {
      /* No thread can run it: fail the call instead of hanging the task.
       * With no helper alive, j is the only job in the queue. */
      pool.head = pool.tail = NULL;
      pool.inflight--;
      pool.nqueued--;
      pthread_mutex_unlock(&pool.mu);
      return TT_ENOMEM;
    }
  }
  pthread_cond_signal(&pool.work);
  pthread_mutex_unlock(&pool.mu);
  return 0;
}

/* Park callback: runs on the worker's scheduler stack. */
static void submit(void *p) {
  job *j = p;
  tt_task *t = j->task; /* before the helper can wake t */
  if (enqueue(j) < 0) {
    j->rc = TT_ENOMEM;
    tt__ready(t);
  }
}

static caller caller_of(const tt_task *t) {
  if (!t)
    return (caller){0};
  return (caller){.id = t->id, .entry = t->entry, .file = t->file, .line = t->line};
}

int tt_blocking(tt_fn fn, void *arg) {
  tt_task *t = tt__current();
  if (!t)
    return TT_ENOTASK;
  if (!fn)
    return TT_EINVAL;
  job j = {.fn = fn, .arg = arg, .task = t, .next = NULL, .rc = 0, .who = caller_of(t)};
  tt__park(TT_WAIT_SYSCALL, NULL, submit, &j);
  return j.rc;
}

int tt__blocking_detach(tt_fn fn, void *arg, void (*done)(void *), void (*drop)(void *),
                        void *done_arg) {
  job *j = malloc(sizeof *j);
  if (!j)
    return TT_ENOMEM;
  *j = (job){.fn = fn,
             .arg = arg,
             .task = NULL,
             .done = done,
             .drop = drop,
             .done_arg = done_arg,
             .who = caller_of(tt__current())};
  int rc = enqueue(j);
  if (rc < 0)
    free(j); /* not queued: still ours */
  return rc;
}

static void describe_call(FILE *out, tt_fn fn, const caller *who, const char *what) {
  fprintf(out, "  %s() at %p, %s", tt__function_name((uintptr_t)fn), (void *)(uintptr_t)fn, what);
  if (who->id)
    fprintf(out, ", called by task %" PRId64 " (%s, spawned at %s:%d)\n", who->id,
            who->entry ? who->entry : "?", who->file ? who->file : "?", who->line);
  else
    fprintf(out, "\n");
}

/* Under pool.mu: name every call tt_shutdown is waiting for. */
static void report_stuck(void) {
  int64_t now = tt_now();
  fprintf(stderr,
          "tether: tt_shutdown is waiting for %" PRId64
          " blocking call(s) to return (a function run by tt_blocking must return for the "
          "runtime to stop):\n",
          pool.inflight);
  char what[64];
  for (running *r = pool.running; r; r = r->next) {
    snprintf(what, sizeof what, "running for %.1f s", (double)(now - r->since) / 1e9);
    describe_call(stderr, r->fn, &r->who, what);
  }
  for (job *j = pool.head; j; j = j->next)
    describe_call(stderr, j->fn, &j->who, "queued");
  fflush(stderr);
}

/* Under pool.mu, after TT_SHUTDOWN_WAIT: stop waiting for the calls still
 * running (they keep their helpers; see the top of the file) and drop the
 * queued ones. */
static void abandon_all(void) {
  int64_t n = 0;
  for (running **pp = &pool.running; *pp;) {
    running *r = *pp;
    int expect = CALL_RUNNING;
    if (!atomic_compare_exchange_strong(&r->state, &expect, CALL_ABANDONED)) {
      pp = &r->next; /* it just returned: its helper finishes it as usual */
      continue;
    }
    *pp = r->next;
    if (r->task)
      tt__stack_pin(r->task);
    pool.inflight--;
    pool.nabandoned++;
    n++;
  }
  while (pool.head) {
    job *j = pool.head;
    pool.head = j->next;
    pool.nqueued--;
    pool.inflight--;
    if (!j->task) {
      if (j->drop)
        j->drop(j->done_arg);
      free(j);
    }
  }
  pool.tail = NULL;
  if (n)
    fprintf(stderr,
            "tether: tt_shutdown stopped waiting after %.1f s (TT_SHUTDOWN_WAIT): %" PRId64
            " blocking call(s) left running; their tasks' stacks stay mapped and their results "
            "are dropped\n",
            (double)tt__rt.shutdown_wait / 1e9, n);
}

/* Wait for calls in progress (their tasks are never resumed once the
 * runtime stops, but the helpers touch the runtime's queues when they
 * finish), up to TT_SHUTDOWN_WAIT; then stop the helpers that are free. */
void tt__blocking_shutdown(void) {
  pthread_mutex_lock(&pool.mu);
  int64_t start = tt_now();
  int64_t report_at = start + SHUTDOWN_REPORT_NS, give_up_at = start + tt__rt.shutdown_wait;
  bool reported = false;
  while (pool.inflight > 0) {
    int64_t now = tt_now();
    if (now >= give_up_at) {
      abandon_all();
      if (pool.inflight > 0) /* calls that just returned: a moment more */
        pthread_cond_wait(&pool.quiet, &pool.mu);
      continue;
    }
    if (!reported && now >= report_at) {
      report_stuck();
      reported = true;
    }
    int64_t until = reported || give_up_at < report_at ? give_up_at : report_at;
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    int64_t ns = at.tv_nsec + (until - now);
    at.tv_sec += (time_t)(ns / 1000000000LL);
    at.tv_nsec = (long)(ns % 1000000000LL);
    pthread_cond_timedwait(&pool.quiet, &pool.mu, &at);
  }
  pool.stop = true;
  pthread_cond_broadcast(&pool.work);
  while (pool.nhelpers > pool.nabandoned)
    pthread_cond_wait(&pool.quiet, &pool.mu);
  pool.stop = false;
  pthread_mutex_unlock(&pool.mu);
}
