/*
 * Blocking calls. tt_blocking(fn, arg) parks the calling task and hands
 * fn(arg) to a pool of helper threads, so a worker never stalls in
 * getaddrinfo, disk I/O or a slow library. The job is handed over by the
 * park callback, i.e. only once the task is off its stack, so the helper
 * can never make it runnable too early. Helpers are started on demand (up to
 * MAX_HELPERS) and exit after IDLE_SECONDS without work.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "internal.h"

#define MAX_HELPERS 64
#define IDLE_SECONDS 10

typedef struct job {
  tt_fn fn;
  void *arg;
  tt_task *task;
  struct job *next;
  int rc;
} job;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t work;  /* a job was queued, or helpers must stop */
  pthread_cond_t quiet; /* inflight or nhelpers dropped */
  job *head, *tail;
  int nhelpers, nidle;
  int64_t inflight;
  bool stop;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
          .work = PTHREAD_COND_INITIALIZER,
          .quiet = PTHREAD_COND_INITIALIZER};

static void *helper_main(void *unused) {
  (void)unused;
  tt__thread_known(true); /* the task it serves waits in "syscall" meanwhile */
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
    pthread_mutex_unlock(&pool.mu);
    j->fn(j->arg);
    tt_task *t = j->task; /* j lives on t's stack: read it before waking t */
    tt__ready(t);
    pthread_mutex_lock(&pool.mu);
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

/* Park callback: runs on the worker's scheduler stack. */
static void submit(void *p) {
  job *j = p;
  pthread_mutex_lock(&pool.mu);
  j->next = NULL;
  if (pool.tail)
    pool.tail->next = j;
  else
    pool.head = j;
  pool.tail = j;
  pool.inflight++;
  if (pool.nidle == 0 && pool.nhelpers < MAX_HELPERS) {
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, helper_main, NULL) == 0)
      pool.nhelpers++;
    pthread_attr_destroy(&attr);
    if (pool.nhelpers == 0) {
      /* No thread can run it: fail the call instead of hanging the task.
       * With no helper alive, j is the only job in the queue. */
      pool.head = pool.tail = NULL;
      pool.inflight--;
      pthread_mutex_unlock(&pool.mu);
      j->rc = TT_ENOMEM;
      tt__ready(j->task);
      return;
    }
  }
  pthread_cond_signal(&pool.work);
  pthread_mutex_unlock(&pool.mu);
}

int tt_blocking(tt_fn fn, void *arg) {
  tt_task *t = tt__current();
  if (!t)
    return TT_ENOTASK;
  if (!fn)
    return TT_EINVAL;
  job j = {.fn = fn, .arg = arg, .task = t, .next = NULL, .rc = 0};
  tt__park(TT_WAIT_SYSCALL, NULL, submit, &j);
  return j.rc;
}

/* Wait for calls in progress (their tasks are never resumed once the
 * runtime stops, but the helpers touch the runtime's queues when they
 * finish), then stop the helpers. */
void tt__blocking_shutdown(void) {
  pthread_mutex_lock(&pool.mu);
  while (pool.inflight > 0)
    pthread_cond_wait(&pool.quiet, &pool.mu);
  pool.stop = true;
  pthread_cond_broadcast(&pool.work);
  while (pool.nhelpers > 0)
    pthread_cond_wait(&pool.quiet, &pool.mu);
  pool.stop = false;
  pthread_mutex_unlock(&pool.mu);
}
