/*
 * Definite leaks, found the moment they become certain (see leak.h for the
 * events), recorded with two stacks: the blocked task's, and the code that
 * made the leak certain (the last tt_chan_unref). TT_LEAKCHECK (or
 * tt_leak_mode) picks what happens then:
 *   record   keep it for tt_leak_report / tt_leak_count, and the
 *            "(leaked)" mark in dumps (the default);
 *   report   also print it to stderr at once;
 *   abort    print it and abort, like a sanitizer;
 *   recover  print it, and make the leaked task's blocking call fail with
 *            TT_ELEAKED so it can unwind, clean up and exit.
 *
 * Finding a leak happens under the channel's lock, so it only collects:
 * return addresses and static strings. Symbolizing and printing wait for
 * tt__leak_flush, after the lock is let go.
 */
#include <execinfo.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "leak/leak.h"
#include "observe/snapshot.h"
#include "observe/stackwalk.h"
#include "sync/chan.h"

#define LEAK_FRAMES 32

typedef struct leak_record {
  struct leak_record *next;
  int cls;
  bool recovered;
  bool printed;
  int64_t task_id, parent_id;
  char name[32];
  const char *entry, *spawn_file, *spawn_func;
  int spawn_line;
  tt_wait_reason why;
  uintptr_t obj;
  const char *obj_file;
  int obj_line;
  int64_t by_task; /* who made it certain: a task id, 0 for a plain thread */
  int nwait, nby;
  uintptr_t wait_pcs[LEAK_FRAMES], by_pcs[LEAK_FRAMES];
  char detail[384]; /* the wait-for graph's proof; "" for the other events */
} leak_record;

static pthread_mutex_t leak_lock = PTHREAD_MUTEX_INITIALIZER;
static leak_record *records, **records_tail = &records;
static int records_readers; /* under leak_lock: lists taken and not given back */
static _Atomic int64_t leak_total;
static _Atomic int leak_mode = -1; /* -1: not read from the environment yet */
_Atomic bool tt__leak_instant;

static const char *const class_names[TT_LEAK__COUNT] = {
    [TT_LEAK_NONE] = "",
    [TT_LEAK_ABANDONED_SENDER] = "abandoned sender (seed pattern 1): nobody can ever receive",
    [TT_LEAK_ABANDONED_RECEIVER] =
        "abandoned receiver (seed pattern 2): the channel is never closed or sent on",
    [TT_LEAK_WORKER_POOL] =
        "worker pool without shutdown (seed pattern 5): the jobs channel is never closed",
    [TT_LEAK_NIL_CHANNEL] = "wait on a nil channel with no deadline",
    [TT_LEAK_EMPTY_SELECT] = "select with no case that can ever be ready, and no deadline",
    [TT_LEAK_SELECT_ABANDONED] =
        "select whose every channel was abandoned: no case can ever be ready, and no deadline",
    [TT_LEAK_SELF_WAIT] = "waiting on itself (seed pattern 3): no other task can reach the channel",
    [TT_LEAK_ERROR_PATH] =
        "error-path leak (seed pattern 6): the other end returned without using the channel",
    [TT_LEAK_CHAN_CHAIN] =
        "every task that can reach the channel is blocked for good: a wait-for chain or cycle",
    [TT_LEAK_SELECT_CHAIN] =
        "select whose every channel is reachable only from tasks blocked for good",
    [TT_LEAK_WG_NEVER_DONE] = "WaitGroup never done: no task that can call Done can run again",
    [TT_LEAK_MUTEX_ORPHANED] = "mutex held by a task that exited without unlocking it",
    [TT_LEAK_LOCK_CYCLE] = "lock cycle: each task holds a mutex the next one waits for",
    [TT_LEAK_MUTEX_HELD_LEAKED] = "mutex held by a task that is itself leaked",
};

const char *tt__leak_class_name(int cls) {
  return cls > 0 && cls < TT_LEAK__COUNT ? class_names[cls] : "";
}

static int mode_now(void) {
  int m = atomic_load_explicit(&leak_mode, memory_order_relaxed);
  if (m >= 0)
    return m;
  const char *env = getenv("TT_LEAKCHECK");
  m = TT_LEAK_RECORD;
  if (env && strcmp(env, "report") == 0)
    m = TT_LEAK_REPORT;
  else if (env && strcmp(env, "abort") == 0)
    m = TT_LEAK_ABORT;
  else if (env && strcmp(env, "recover") == 0)
    m = TT_LEAK_RECOVER;
  else if (env && *env && strcmp(env, "record") != 0)
    fprintf(stderr,
            "tether: TT_LEAKCHECK=%s is not record, report, abort or recover; "
            "recording leaks only\n",
            env);
  int expect = -1;
  atomic_compare_exchange_strong(&leak_mode, &expect, m);
  m = atomic_load(&leak_mode);
  atomic_store(&tt__leak_instant, m != TT_LEAK_RECORD);
  return m;
}

int tt__leak_mode_now(void) { return mode_now(); }

int tt_leak_set_mode(tt_leak_mode mode) {
  if ((unsigned)mode > TT_LEAK_RECOVER)
    return TT_EINVAL;
  int old = mode_now();
  atomic_store(&leak_mode, (int)mode);
  atomic_store(&tt__leak_instant, mode != TT_LEAK_RECORD);
  return old;
}

bool tt__leak_recovering(void) { return mode_now() == TT_LEAK_RECOVER; }

/* The stack of whoever is making the leak certain (the caller's caller). */
static int own_stack(uintptr_t *pcs, int max) {
  tt_task *self = tt__current();
  if (self)
    return tt__stack_walk_self(self, pcs, max);
  void *raw[LEAK_FRAMES];
  int n = backtrace(raw, max < LEAK_FRAMES ? max : LEAK_FRAMES);
  for (int i = 0; i < n; i++)
    pcs[i] = (uintptr_t)raw[i];
  return n;
}

static leak_record *new_record(int cls, const tt_task *t, tt_wait_reason why, const void *obj,
                               const char *obj_file, int obj_line) {
  leak_record *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  r->cls = cls;
  r->task_id = t->id;
  r->parent_id = t->parent_id;
  memcpy(r->name, t->name, sizeof r->name);
  r->entry = t->entry;
  r->spawn_file = t->file;
  r->spawn_func = t->func;
  r->spawn_line = t->line;
  r->why = why;
  r->obj = (uintptr_t)obj;
  r->obj_file = obj_file;
  r->obj_line = obj_line;
  r->by_task = tt_self();
  r->nby = own_stack(r->by_pcs, LEAK_FRAMES);
  return r;
}

static void publish(leak_record *r) {
  pthread_mutex_lock(&leak_lock);
  *records_tail = r;
  records_tail = &r->next;
  pthread_mutex_unlock(&leak_lock);
  atomic_fetch_add(&leak_total, 1);
}

/* Under c's lock. A waiter counts when it is the whole of its task's
 * operation (the task parked on c itself, not in a select) and has no
 * deadline: then only c can ever complete it. */
static bool endless_on(const tt_chan *c, const tt_waiter *w) {
  if (atomic_load_explicit(&w->op->done, memory_order_acquire) != 0 ||
      w->op->deadline != TT_NO_DEADLINE)
    return false;
  const tt_task *t = w->op->task;
  return atomic_load_explicit(&t->state, memory_order_acquire) == TT_ST_WAITING &&
         __atomic_load_n(&t->wait_obj, __ATOMIC_RELAXED) == (const void *)c;
}

/* Under c's lock: a waiter that belongs to a select (the only other kind of
 * operation with a waiter in a channel's queue whose wait reason is one of
 * these; a context-bounded lock's waiter on a done channel has the lock's
 * reason) that no channel can ever complete. */
static bool select_stuck(const tt_chan *c, const tt_waiter *w) {
  if (atomic_load_explicit(&w->op->done, memory_order_acquire) != 0)
    return false;
  const tt_task *t = w->op->task;
  if (atomic_load_explicit(&t->state, memory_order_acquire) != TT_ST_WAITING ||
      atomic_load_explicit(&t->leaked, memory_order_relaxed) != 0)
    return false;
  int why = atomic_load_explicit(&t->wait_reason, memory_order_relaxed);
  const void *obj = __atomic_load_n(&t->wait_obj, __ATOMIC_RELAXED);
  if (obj == (const void *)c || (why != TT_WAIT_SELECT && why != TT_WAIT_CHAN_SEND &&
                                 why != TT_WAIT_CHAN_RECV && why != TT_WAIT_SLEEP))
    return false;
  return tt__select_abandoned(obj, c);
}

bool tt__leak_chan_orphaned(tt_chan *c, tt_task **wake) {
  /* A closed channel's waiters are being released (tt__chan_close wakes
   * them a batch at a time, with the lock let go in between). */
  if (!TT_BOOKKEEPING || c->closed)
    return false;
  int receivers = 0;
  for (tt_waiter *w = c->recvq.first; w; w = w->next)
    receivers += endless_on(c, w);
  bool recover = tt__leak_recovering(), any = false;
  for (int q = 0; q < 2; q++) {
    tt_waitq *queue = q == 0 ? &c->sendq : &c->recvq;
    tt_waiter *next;
    for (tt_waiter *w = queue->first; w; w = next) {
      next = w->next;
      bool in_select = false;
      if (!endless_on(c, w) && !(in_select = select_stuck(c, w)))
        continue;
      tt_task *t = w->op->task;
      int cls = in_select       ? TT_LEAK_SELECT_ABANDONED
                : q == 0        ? TT_LEAK_ABANDONED_SENDER
                : receivers > 1 ? TT_LEAK_WORKER_POOL
                                : TT_LEAK_ABANDONED_RECEIVER;
      atomic_store_explicit(&t->leaked, (uint8_t)cls, memory_order_relaxed);
      tt_wait_reason why = in_select ? TT_WAIT_SELECT
                           : q == 0  ? TT_WAIT_CHAN_SEND
                                     : TT_WAIT_CHAN_RECV;
      leak_record *r = new_record(cls, t, why, c, c->file, c->line);
      if (r) {
        bool ran = false; /* cannot run: nobody but us can reach it now */
        r->nwait = tt__stack_walk_parked(t, r->wait_pcs, LEAK_FRAMES, &ran);
      }
      if (recover) {
        int expect = 0;
        if (atomic_compare_exchange_strong(&w->op->done, &expect, 1)) {
          if (!in_select) /* a select unlinks its own waiters when it wakes */
            tt__waitq_unlink(queue, w);
          w->success = false;
          w->op->fired = TT_FIRED_LEAKED;
          t->next = *wake;
          *wake = t;
          if (r)
            r->recovered = true;
        }
      }
      if (r)
        publish(r);
      any = true;
    }
  }
  return any;
}

void tt__leak_record_graph(int cls, const tt_task *t, tt_wait_reason why, const void *obj,
                           const char *detail, int64_t by_task, const uintptr_t *by_pcs, int nby) {
  leak_record *r = new_record(cls, t, why, obj, __atomic_load_n(&t->wait_file, __ATOMIC_RELAXED),
                              __atomic_load_n(&t->wait_line, __ATOMIC_RELAXED));
  if (!r)
    return;
  bool ran = false;
  r->nwait = tt__stack_walk_parked(t, r->wait_pcs, LEAK_FRAMES, &ran);
  snprintf(r->detail, sizeof r->detail, "%s", detail);
  r->by_task = by_task;
  r->nby = nby < LEAK_FRAMES ? nby : LEAK_FRAMES;
  if (r->nby > 0)
    memcpy(r->by_pcs, by_pcs, (size_t)r->nby * sizeof *by_pcs);
  publish(r);
}

int tt__leak_self(int cls, tt_wait_reason why) {
  tt_task *t = tt__current();
  if (!TT_BOOKKEEPING || !t)
    return 0;
  leak_record *r = new_record(cls, t, why, NULL, NULL, 0);
  if (r) {
    /* Its own stack is both: the wait is the code that made it certain. */
    memcpy(r->wait_pcs, r->by_pcs, sizeof r->wait_pcs);
    r->nwait = r->nby;
    r->nby = 0;
    r->recovered = tt__leak_recovering();
    publish(r);
  }
  atomic_store_explicit(&t->leaked, (uint8_t)cls, memory_order_relaxed);
  tt__leak_flush();
  if (tt__leak_recovering()) {
    atomic_store_explicit(&t->leaked, 0, memory_order_relaxed);
    return TT_ELEAKED;
  }
  return 0;
}

/* ---- Reports ---------------------------------------------------------------- */

static void print_frames(FILE *out, const uintptr_t *pcs, int n) {
  tt_frame frames[LEAK_FRAMES];
  int m = 0;
  for (int i = 0; i < n && m < LEAK_FRAMES; i++)
    m += tt__symbolize_inlined(pcs[i], &frames[m], LEAK_FRAMES - m);
  /* From the user's code that blocked (or dropped the handle) outward. */
  for (int i = tt__first_user_frame(frames, m); i < m; i++)
    fprintf(out, "      %s(...)\n\t%s:%d\n", frames[i].func, tt__file_or_unknown(frames[i].file),
            frames[i].line);
}

static void print_record(FILE *out, const leak_record *r) {
  fprintf(out, "tether: leak: task %lld", (long long)r->task_id);
  if (r->name[0])
    fprintf(out, " \"%s\"", r->name);
  fprintf(out, " (%s, spawned at %s:%d in %s) can never run again\n", r->entry ? r->entry : "?",
          r->spawn_file ? r->spawn_file : "?", r->spawn_line, r->spawn_func ? r->spawn_func : "?");
  fprintf(out, "  why: %s\n", tt__leak_class_name(r->cls));
  if (r->detail[0]) {
    fprintf(out, "  it waits [%s] on %#llx", tt__wait_reason_string(r->why),
            (unsigned long long)r->obj);
    if (r->obj_file)
      fprintf(out, " made at %s:%d", r->obj_file, r->obj_line);
    fprintf(out, "\n  proof: %s\n", r->detail);
    if (r->nby > 0)
      fprintf(out, "  the last event that made it certain was in %s %lld\n",
              r->by_task > 0 ? "task" : "thread", (long long)r->by_task);
  } else if (r->obj) {
    fprintf(out, "  it waits [%s] on chan %#llx made at %s:%d\n", tt__wait_reason_string(r->why),
            (unsigned long long)r->obj, r->obj_file ? r->obj_file : "?", r->obj_line);
    fprintf(out, "  the last reference to that channel was dropped by ");
    if (r->by_task > 0)
      fprintf(out, "task %lld", (long long)r->by_task);
    else
      fprintf(out, "a plain thread");
    fprintf(out, "%s\n", r->by_task == r->task_id ? " (itself)" : "");
  } else {
    fprintf(out, "  it waits [%s] with no deadline\n", tt__wait_reason_string(r->why));
  }
  fprintf(out, "  blocked task's stack:\n");
  print_frames(out, r->wait_pcs, r->nwait);
  if (r->nby > 0) {
    fprintf(out, "  where the leak became certain:\n");
    print_frames(out, r->by_pcs, r->nby);
  }
  if (r->recovered)
    fprintf(out, "  recovered: its blocking call returns TT_ELEAKED\n");
}

/* Records are not changed once published (but for `printed`, under the
 * lock), and not freed while a list taken here is out (records_readers), so
 * they can be printed after the lock is let go: a symbol lookup from a
 * task may park it, which must not happen under a thread mutex. Give the
 * list back with give_back_records. */
static leak_record **take_records(bool unprinted_only, size_t *n) {
  pthread_mutex_lock(&leak_lock);
  records_readers++;
  size_t count = 0;
  for (leak_record *r = records; r; r = r->next)
    count += !unprinted_only || !r->printed;
  leak_record **list = malloc((count ? count : 1) * sizeof(leak_record *));
  size_t k = 0;
  for (leak_record *r = records; r && list; r = r->next)
    if (!unprinted_only || !r->printed) {
      r->printed = true;
      list[k++] = r;
    }
  pthread_mutex_unlock(&leak_lock);
  *n = k;
  return list;
}

static void give_back_records(leak_record **list) {
  free(list);
  pthread_mutex_lock(&leak_lock);
  records_readers--;
  pthread_mutex_unlock(&leak_lock);
}

void tt__leak_records_clear(void) {
  pthread_mutex_lock(&leak_lock);
  while (records_readers > 0) { /* a report is printing them: it ends */
    pthread_mutex_unlock(&leak_lock);
    sched_yield();
    pthread_mutex_lock(&leak_lock);
  }
  leak_record *r = records;
  records = NULL;
  records_tail = &records;
  atomic_store(&leak_total, 0);
  pthread_mutex_unlock(&leak_lock);
  while (r) {
    leak_record *next = r->next;
    free(r);
    r = next;
  }
}

void tt__leak_flush(void) {
  int mode = mode_now();
  if (mode == TT_LEAK_RECORD)
    return;
  size_t n;
  leak_record **list = take_records(true, &n);
  for (size_t i = 0; i < n; i++)
    print_record(stderr, list[i]);
  give_back_records(list);
  fflush(stderr);
  if (mode == TT_LEAK_ABORT) {
    fprintf(stderr, "tether: aborting (TT_LEAKCHECK=abort)\n");
    abort();
  }
}

int64_t tt_leak_count(void) { return atomic_load(&leak_total); }

/* ---- Channels kept by their waiters --------------------------------------- */

/* A leaked task keeps its channel for as long as it waits, which is until
 * the runtime shuts down and drops it: then the channel has nobody left. */
static tt_spinlock kept_lock;
static tt_chan *kept_first;

void tt__chan_kept(tt_chan *c, bool kept) {
  tt_spin_lock(&kept_lock);
  if (kept) {
    c->kept_prev = NULL;
    c->kept_next = kept_first;
    if (kept_first)
      kept_first->kept_prev = c;
    kept_first = c;
  } else {
    if (c->kept_prev)
      c->kept_prev->kept_next = c->kept_next;
    else
      kept_first = c->kept_next;
    if (c->kept_next)
      c->kept_next->kept_prev = c->kept_prev;
    c->kept = false;
  }
  tt_spin_unlock(&kept_lock);
}

void tt__chan_kept_free_all(void) {
  tt_spin_lock(&kept_lock);
  tt_chan *c = kept_first;
  kept_first = NULL;
  tt_spin_unlock(&kept_lock);
  while (c) {
    tt_chan *next = c->kept_next;
    c->kept = false;
    tt__chan_free(c);
    c = next;
  }
}

int tt_leak_report(FILE *out) {
  if (!out)
    return TT_EINVAL;
  size_t n;
  leak_record **list = take_records(false, &n);
  if (!list) {
    give_back_records(NULL);
    return TT_ENOMEM;
  }
  for (size_t i = 0; i < n; i++)
    print_record(out, list[i]);
  give_back_records(list);
  if (n == 0)
    fprintf(out, "tether: no definite leaks found\n");
  fflush(out);
  return 0;
}
