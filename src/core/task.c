/*
 * Task lifecycle: spawn, the entry trampoline, exit and freeing, ids, and the
 * per-worker task lists that make every live task walkable.
 *
 * Bookkeeping is always on: the spawn site, entry name, parent and creation
 * stamp are a handful of stores into the task record, which lives in the
 * same cache lines as the top of the new stack.
 */
#include <stdlib.h>
#include <string.h>

#include "core/sanitizer.h"
#include "core/sched.h"
#include "core/stack.h"
#include "leak/hooks.h"

#define MIN_STACK (16u << 10)
#define MAX_STACK (1u << 30)

/* ---- Wait reasons --------------------------------------------------------- */

static const char *const wait_reason_names[TT_WAIT__COUNT] = {
    [TT_WAIT_NONE] = "",
    [TT_WAIT_SLEEP] = "sleep",
    [TT_WAIT_CHAN_SEND] = "chan send",
    [TT_WAIT_CHAN_RECV] = "chan receive",
    [TT_WAIT_CHAN_SEND_NIL] = "chan send (nil chan)",
    [TT_WAIT_CHAN_RECV_NIL] = "chan receive (nil chan)",
    [TT_WAIT_SELECT] = "select",
    [TT_WAIT_SELECT_NO_CASES] = "select (no cases)",
    [TT_WAIT_IO] = "IO wait",
    [TT_WAIT_SYSCALL] = "syscall",
    [TT_WAIT_WAITGROUP] = "sync.WaitGroup.Wait",
    [TT_WAIT_MUTEX] = "sync.Mutex.Lock",
    [TT_WAIT_RWMUTEX_R] = "sync.RWMutex.RLock",
    [TT_WAIT_RWMUTEX_W] = "sync.RWMutex.Lock",
    [TT_WAIT_COND] = "sync.Cond.Wait",
    [TT_WAIT_SEMACQUIRE] = "semacquire",
};

const char *tt__wait_reason_string(tt_wait_reason r) {
  return (unsigned)r < TT_WAIT__COUNT ? wait_reason_names[r] : "unknown";
}

/* ---- Task lists ----------------------------------------------------------- */

void tt__tasklist_init(tt_tasklist *l) {
  atomic_store(&l->lock.locked, 0);
  l->head.prev = l->head.next = &l->head;
  l->head.is_cursor = true;
  atomic_store(&l->count, 0);
}

static void list_insert_tail(tt_tasklist *l, tt_listnode *n) {
  n->next = &l->head;
  n->prev = l->head.prev;
  l->head.prev->next = n;
  l->head.prev = n;
}

static void list_unlink(tt_listnode *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = n;
}

static void task_entry(void *arg) {
  tt__task_landed();
  tt_task *t = arg;
  if (TT_BOOKKEEPING)
    __atomic_store_n(&t->base_fp, __builtin_frame_address(0), __ATOMIC_RELAXED);
  t->fn(t->arg);
  if (t->holds.n || t->holds.items != t->holds.local)
    tt__holds_exit(t);
  if (t->exit_fn)
    t->exit_fn(t->exit_arg);
  tt__task_exit();
}

static int64_t spawn(tt_worker *w, uintptr_t pc, tt_fn fn, void *arg, const tt_spawn_opts *opts,
                     const char *entry, const char *file, int line, const char *func,
                     void (*exit_fn)(void *), void *exit_arg, void (*drop_arg)(void *));

__thread int64_t tt__thread_scope;

int64_t tt__spawn_internal(uintptr_t pc, tt_fn fn, void *arg, const tt_spawn_opts *opts,
                           const char *entry, const char *file, int line, const char *func,
                           void (*exit_fn)(void *), void *exit_arg, void (*drop_arg)(void *)) {
  if (!fn)
    return TT_EINVAL;
  tt_worker *w = tt__worker();
  /* A plain thread may spawn while another calls tt_shutdown: announce
   * ourselves before looking at the state, and shutdown waits for us
   * (runtime.c). Workers need no such gate: they are joined first. */
  if (!w)
    atomic_fetch_add(&tt__rt.foreign_spawners, 1);
  int64_t rc = spawn(w, pc, fn, arg, opts, entry, file, line, func, exit_fn, exit_arg, drop_arg);
  if (!w)
    atomic_fetch_sub(&tt__rt.foreign_spawners, 1);
  return rc;
}

static int64_t spawn(tt_worker *w, uintptr_t pc, tt_fn fn, void *arg, const tt_spawn_opts *opts,
                     const char *entry, const char *file, int line, const char *func,
                     void (*exit_fn)(void *), void *exit_arg, void (*drop_arg)(void *)) {
  int st = atomic_load(&tt__rt.state);
  if (st != TT_RT_RUNNING) {
    bool never_started = st == TT_RT_OFF && atomic_load(&tt__rt.generation) == 0;
    return never_started ? TT_ENOTINIT : TT_ESHUTDOWN;
  }
  size_t size = tt__rt.stack_size;
  if (opts && opts->stack_size) {
    size_t page = tt__page_size();
    if (opts->stack_size < MIN_STACK || opts->stack_size > MAX_STACK)
      return TT_EINVAL;
    size = (opts->stack_size + page - 1) & ~(page - 1);
  }
  tt_task *t = tt__stack_alloc(w, size);
  if (!t)
    return TT_ENOMEM;
  tt_task *parent = w ? w->current : NULL;
  /* One shared counter, so ids grow in spawn order across workers. */
  t->id = atomic_fetch_add_explicit(&tt__rt.next_id, 1, memory_order_relaxed);
  t->parent_id = parent ? parent->id : 0;
  t->fn = fn;
  t->arg = arg;
  if (TT_BOOKKEEPING) {
    t->entry = entry;
    t->file = file;
    t->line = line;
    t->func = func;
    t->created = w ? tt__stamp(w) : tt__coarse_now();
    t->spawn_pc = pc;
    t->scope = parent ? parent->scope : tt__thread_scope;
  } else {
    (void)entry, (void)file, (void)line, (void)func, (void)pc;
  }
  t->exit_fn = exit_fn;
  t->exit_arg = exit_arg;
  t->drop_arg = drop_arg;
  atomic_store_explicit(&t->worker, -1, memory_order_relaxed);
  atomic_store_explicit(&t->state, TT_ST_RUNNABLE, memory_order_relaxed);
  if (opts && opts->name) {
    strncpy(t->name, opts->name, sizeof t->name - 1);
    t->name[sizeof t->name - 1] = '\0';
  }
  if ((parent && parent->holds.n) || tt__holds_gives(opts))
    tt__holds_spawn(t, parent, opts);
  tt__ctx_make(&t->ctx, (char *)t->canary + 32, (char *)t, task_entry, t);
#ifdef TT_TSAN
  t->tsan_fiber = __tsan_create_fiber(0);
#endif
  tt_tasklist *l = w ? &w->tasks : &tt__rt.foreign_tasks;
  t->list = l;
  if (TT_BOOKKEEPING) {
    tt_spin_lock(&l->lock);
    list_insert_tail(l, &t->node);
    /* The count changes only under the lock; readers load it lock-free. */
    atomic_store_explicit(&l->count, atomic_load_explicit(&l->count, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    tt_spin_unlock(&l->lock);
  } else {
    atomic_fetch_add_explicit(&l->count, 1, memory_order_relaxed);
  }
  int64_t id = t->id; /* t may run and exit before we look at it again */
  if (parent)
    tt__run_child_first(t);
  else
    tt__ready(t);
  return id;
}

int64_t tt__spawn(tt_fn fn, void *arg, const tt_spawn_opts *opts, const char *entry,
                  const char *file, int line, const char *func) {
  return tt__spawn_internal((uintptr_t)__builtin_return_address(0), fn, arg, opts, entry, file,
                            line, func, NULL, NULL, NULL);
}

/* On the scheduler stack of the worker that ran the exiting task. */
void tt__task_free(tt_worker *w, tt_task *t) {
  tt_tasklist *l = t->list;
  if (TT_BOOKKEEPING) {
    tt_spin_lock(&l->lock);
    list_unlink(&t->node);
    atomic_store_explicit(&l->count, atomic_load_explicit(&l->count, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    tt_spin_unlock(&l->lock);
  } else {
    atomic_fetch_sub_explicit(&l->count, 1, memory_order_relaxed);
  }
#ifdef TT_TSAN
  __tsan_destroy_fiber(t->tsan_fiber);
#endif
  tt__stack_free(w, t);
}

/* Shutdown: tasks that never finished are dropped without being resumed. */
static void free_list(tt_tasklist *l) {
  tt_listnode *n = l->head.next;
  while (n != &l->head) {
    tt_listnode *next = n->next;
    if (!n->is_cursor) {
      tt_task *t = (tt_task *)((char *)n - offsetof(tt_task, node));
#ifdef TT_TSAN
      __tsan_destroy_fiber(t->tsan_fiber);
#endif
      if (t->drop_arg && !t->pinned) /* a pinned task's call may still use it */
        t->drop_arg(t->arg);
      tt__holds_drop(t);
      if (t->stack_kind == TT_STACK_DEDICATED && !t->pinned)
        tt__stack_free(NULL, t);
    }
    n = next;
  }
  tt__tasklist_init(l);
}

void tt__task_free_all(void) {
  for (int i = 0; i < tt__rt.nworkers; i++)
    free_list(&tt__rt.workers[i]->tasks);
  free_list(&tt__rt.foreign_tasks);
}

int64_t tt_num_tasks(void) {
  /* The counts live in the workers, which tt_shutdown frees: count as a
   * walker does (tt__tasks_walk), announced before looking at the state,
   * so that shutdown waits for us or we see it begun and count nothing. */
  atomic_fetch_add(&tt__rt.walkers, 1);
  int64_t n = 0;
  if (atomic_load(&tt__rt.state) == TT_RT_RUNNING) {
    n = atomic_load_explicit(&tt__rt.foreign_tasks.count, memory_order_relaxed);
    for (int i = 0; i < tt__rt.nworkers; i++)
      n += atomic_load_explicit(&tt__rt.workers[i]->tasks.count, memory_order_relaxed);
  }
  atomic_fetch_sub(&tt__rt.walkers, 1);
  return n;
}

int tt_set_name(const char *name) {
  tt_task *t = tt__current();
  if (!t)
    return TT_ENOTASK;
  tt_spin_lock(&t->list->lock);
  memset(t->name, 0, sizeof t->name);
  if (name)
    strncpy(t->name, name, sizeof t->name - 1);
  tt_spin_unlock(&t->list->lock);
  return 0;
}
