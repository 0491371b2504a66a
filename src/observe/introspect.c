/*
 * Looking at live tasks without stopping the world. Each task list is walked
 * with a cursor node linked into the list itself: the walker holds a list's
 * lock only while it copies the next few records, then moves the cursor
 * past them and lets go, so spawns and exits on that worker wait at most a
 * few hundred nanoseconds, and tasks that exit meanwhile simply drop out.
 */
#include <string.h>

#include "observe/walk.h"

static const char *state_name(tt_task_state s) {
  switch (s) {
  case TT_TASK_RUNNABLE: return "runnable";
  case TT_TASK_RUNNING: return "running";
  case TT_TASK_WAITING: return "waiting";
  }
  return "unknown";
}

#define WALK_BATCH 64

/* Under the list lock: copy what a visitor may read. */
void tt__task_info_fill(const tt_task *t, tt_task_info *info) {
  memset(info, 0, sizeof *info);
  info->id = t->id;
  info->parent_id = t->parent_id;
  info->state = (tt_task_state)atomic_load_explicit(&t->state, memory_order_relaxed);
  info->state_name = state_name(info->state);
  info->wait_reason = "";
  if (info->state == TT_TASK_WAITING) {
    info->wait_reason = tt__wait_reason_string(
        (tt_wait_reason)atomic_load_explicit(&t->wait_reason, memory_order_relaxed));
    info->wait_since = atomic_load_explicit(&t->wait_since, memory_order_relaxed);
  }
  info->created = t->created;
  info->entry = t->entry;
  info->spawn_file = t->file;
  info->spawn_line = t->line;
  info->spawn_func = t->func;
  memcpy(info->name, t->name, sizeof info->name);
  info->worker = atomic_load_explicit(&t->worker, memory_order_relaxed);
  info->stack_size = t->stack_size;
}

/* Ask for the lines of a task record a walker reads while take() works on
 * the one before it (n may be the list head: prefetching never faults). */
static inline void prefetch_task(const tt_listnode *n) {
  const char *t = (const char *)n - offsetof(tt_task, node);
  __builtin_prefetch(t + offsetof(tt_task, id));
  __builtin_prefetch(t + offsetof(tt_task, resumes));
  __builtin_prefetch(t + offsetof(tt_task, wait_obj));
  __builtin_prefetch(t + offsetof(tt_task, holds) + offsetof(tt_holds, local));
}

static bool walk_list(tt_tasklist *l, tt__walker *wk) {
  tt_listnode cursor = {.prev = NULL, .next = NULL, .is_cursor = true};
  bool go_on = true;

  tt_spin_lock(&l->lock);
  cursor.prev = &l->head;
  cursor.next = l->head.next;
  l->head.next->prev = &cursor;
  l->head.next = &cursor;
  tt_spin_unlock(&l->lock);

  while (go_on) {
    int n = 0;
    tt_spin_lock(&l->lock);
    tt_listnode *node = cursor.next;
    while (node != &l->head && n < WALK_BATCH) {
      prefetch_task(node->next); /* each task is on a page of its own: a miss */
      if (!node->is_cursor) {
        const tt_task *t = (const tt_task *)((const char *)node - offsetof(tt_task, node));
        if (!wk->take(wk, t))
          break; /* no room: this task is taken after the flush */
        n++;
      }
      node = node->next;
    }
    /* Move the cursor to just before `node`. */
    cursor.prev->next = cursor.next;
    cursor.next->prev = cursor.prev;
    cursor.next = node;
    cursor.prev = node->prev;
    node->prev->next = &cursor;
    node->prev = &cursor;
    bool done = node == &l->head;
    tt_spin_unlock(&l->lock);

    go_on = wk->flush(wk);
    if (done)
      break;
  }

  tt_spin_lock(&l->lock);
  cursor.prev->next = cursor.next;
  cursor.next->prev = cursor.prev;
  tt_spin_unlock(&l->lock);
  return go_on;
}

bool tt__tasks_walk(tt__walker *wk) {
  /* Announce the walk before looking at the state, as spawners do:
   * tt_shutdown waits for walks in progress before freeing the lists, and
   * once it has begun no new walk starts. */
  atomic_fetch_add(&tt__rt.walkers, 1);
  bool go_on = atomic_load(&tt__rt.state) == TT_RT_RUNNING;
  for (int i = 0; go_on && i < tt__rt.nworkers; i++)
    go_on = walk_list(&tt__rt.workers[i]->tasks, wk);
  if (go_on)
    go_on = walk_list(&tt__rt.foreign_tasks, wk);
  atomic_fetch_sub(&tt__rt.walkers, 1);
  return go_on;
}

typedef struct foreach_walker {
  tt__walker wk;
  tt_task_visit_fn visit;
  void *arg;
  bool stopped; /* the visitor asked to stop */
  int n;
  int64_t visited;
  tt_task_info infos[WALK_BATCH];
} foreach_walker;

static bool foreach_take(tt__walker *wk, const tt_task *t) {
  foreach_walker *f = (foreach_walker *)wk;
  if (f->n == WALK_BATCH)
    return false;
  tt__task_info_fill(t, &f->infos[f->n++]);
  return true;
}

static bool foreach_flush(tt__walker *wk) {
  foreach_walker *f = (foreach_walker *)wk;
  int n = f->n;
  f->n = 0;
  for (int i = 0; i < n; i++) {
    f->visited++;
    if (f->visit(&f->infos[i], f->arg)) {
      f->stopped = true;
      return false;
    }
  }
  return true;
}

int64_t tt_tasks_foreach(tt_task_visit_fn visit, void *arg) {
  if (!visit)
    return TT_EINVAL;
  if (atomic_load(&tt__rt.state) == TT_RT_OFF)
    return TT_ENOTINIT;
  foreach_walker f = {
      .wk = {.take = foreach_take, .flush = foreach_flush}, .visit = visit, .arg = arg};
  if (!tt__tasks_walk(&f.wk) && !f.stopped)
    return TT_ESHUTDOWN; /* another thread's tt_shutdown cut the walk short */
  return f.visited;
}

/* ---- Short text dump ----------------------------------------------------- */

typedef struct dump_ctx {
  FILE *out;
  int64_t now;
} dump_ctx;

static void print_duration(FILE *out, int64_t ns) {
  if (ns < 1000000)
    fprintf(out, "%lld us", (long long)(ns / 1000));
  else if (ns < 10000000000LL)
    fprintf(out, "%lld ms", (long long)(ns / 1000000));
  else if (ns < 120000000000LL)
    fprintf(out, "%lld s", (long long)(ns / 1000000000));
  else
    fprintf(out, "%lld minutes", (long long)(ns / 60000000000LL));
}

static int dump_one(const tt_task_info *i, void *arg) {
  dump_ctx *d = arg;
  fprintf(d->out, "task %lld", (long long)i->id);
  if (i->name[0])
    fprintf(d->out, " \"%s\"", i->name);
  if (i->state == TT_TASK_WAITING) {
    fprintf(d->out, " [%s, ", i->wait_reason);
    print_duration(d->out, d->now - i->wait_since);
    fputc(']', d->out);
  } else if (i->state == TT_TASK_RUNNING) {
    fprintf(d->out, " [running on worker %d]", i->worker);
  } else {
    fprintf(d->out, " [runnable]");
  }
  fprintf(d->out, " %s, spawned at %s:%d in %s", i->entry, i->spawn_file, i->spawn_line,
          i->spawn_func);
  if (i->parent_id)
    fprintf(d->out, " by task %lld", (long long)i->parent_id);
  fputc('\n', d->out);
  return 0;
}

int tt_dump(FILE *out) {
  if (!out)
    return TT_EINVAL;
  if (atomic_load(&tt__rt.state) == TT_RT_OFF)
    return TT_ENOTINIT;
  dump_ctx d = {.out = out, .now = tt__coarse_now()};
  /* The worker count is read as a walker reads the workers: a shutdown on
   * another thread waits for us, or has begun and we say so. */
  atomic_fetch_add(&tt__rt.walkers, 1);
  bool running = atomic_load(&tt__rt.state) == TT_RT_RUNNING;
  int nworkers = running ? tt__rt.nworkers : 0;
  atomic_fetch_sub(&tt__rt.walkers, 1);
  if (!running)
    return TT_ESHUTDOWN;
  fprintf(out, "tether: %lld tasks on %d workers\n", (long long)tt_num_tasks(), nworkers);
  int64_t n = tt_tasks_foreach(dump_one, &d);
  fflush(out);
  return n < 0 ? (int)n : 0;
}
