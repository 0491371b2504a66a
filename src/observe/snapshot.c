/*
 * Taking a snapshot of every live task (see snapshot.h), and the public
 * calls built directly on one: tt_task_stack.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/netpoll.h"
#include "observe/hooks.h"
#include "observe/snapshot.h"
#include "observe/stackwalk.h"
#include "observe/walk.h"

typedef struct snap_walker {
  tt__walker wk;
  tt_snapshot *s;
  const tt_task *self;
  bool stacks;
  bool oom;
  int64_t only_id; /* > 0: take just this task */
} snap_walker;

/* The descriptor of an I/O wait and the peer its pollfd names. Pollfds
 * live in a slab that is never freed, so reading one is safe even if the
 * task has moved on; the descriptor number tells whether it is still the
 * same one. */
static void snap_io(tt_taskrec *r, const tt_task *t) {
  r->io_fd = atomic_load_explicit(&t->wait_fd, memory_order_relaxed);
  r->io_bounded = atomic_load_explicit(&t->wait_bounded, memory_order_relaxed);
  tt_pollfd *pd = r->wait_obj;
  if (!pd)
    return;
  tt_spin_lock(&pd->lock);
  if (pd->fd == r->io_fd)
    memcpy(r->io_peer, pd->peer, sizeof r->io_peer);
  tt_spin_unlock(&pd->lock);
  r->io_peer[sizeof r->io_peer - 1] = 0;
}

static bool snap_take(tt__walker *wk, const tt_task *t) {
  snap_walker *sw = (snap_walker *)wk;
  tt_snapshot *s = sw->s;
  if (sw->only_id > 0 && t->id != sw->only_id)
    return true;
  if (s->ntasks == s->cap || (sw->stacks && s->npcs + TT_SNAP_MAX_FRAMES > s->pcs_cap))
    return false;
  tt_taskrec *r = &s->tasks[s->ntasks++];
  memset(r, 0, sizeof *r);
  tt__task_info_fill(t, &r->info);
  r->scope = t->scope;
  r->spawn_pc = t->spawn_pc;
  r->entry_pc = (uintptr_t)t->fn + 1;
  r->self = t == sw->self;
  r->leaked = atomic_load_explicit(&t->leaked, memory_order_relaxed);
  if (r->info.state == TT_TASK_WAITING) {
    r->wait_obj = __atomic_load_n(&t->wait_obj, __ATOMIC_RELAXED);
    r->wait_file = __atomic_load_n(&t->wait_file, __ATOMIC_RELAXED);
    r->wait_line = r->wait_file ? __atomic_load_n(&t->wait_line, __ATOMIC_RELAXED) : 0;
  }
  r->io_fd = -1;
  if (r->info.state == TT_TASK_WAITING &&
      atomic_load_explicit(&t->wait_reason, memory_order_relaxed) == TT_WAIT_IO)
    snap_io(r, t);
  r->stack = TT_SNAP_STACK_NONE;
  if (!sw->stacks)
    return true;
  uintptr_t *pcs = s->pcs + s->npcs;
  int n;
  bool ran = false;
  if (r->self) {
    n = tt__stack_walk_self(t, pcs, TT_SNAP_MAX_FRAMES);
  } else {
    n = tt__stack_walk_parked(t, pcs, TT_SNAP_MAX_FRAMES, &ran);
    /* Running on another worker: that worker's thread samples its stack
     * (stackwalk.c). When the task stopped running there meanwhile, it
     * is looked at again: parked now, or running elsewhere. */
    bool whole = false;
    /* A sample is a signal round trip of microseconds; one that lands at a
     * bad moment (libc, the vDSO, a ucontext switch) is taken again, and
     * on a loaded machine five tries were seen to miss a spinning task. */
    enum { SAMPLE_TRIES = 20 };
    for (int tries = 0; ran && tries < SAMPLE_TRIES; tries++) {
      int m = tt__stack_sample_running(t, pcs, TT_SNAP_MAX_FRAMES, &whole);
      if (m > 0 && !whole && tries < SAMPLE_TRIES - 1)
        continue; /* stopped short in code without frame pointers: again */
      if (m > 0) {
        ran = false;
        n = m;
        r->info.state = TT_TASK_RUNNING;
        r->info.state_name = "running";
        r->info.wait_reason = "";
        r->info.wait_since = 0;
        r->wait_obj = NULL;
        r->wait_file = NULL;
      } else if (m < 0) {
        break; /* it cannot be asked, or did not answer */
      } else {
        n = tt__stack_walk_parked(t, pcs, TT_SNAP_MAX_FRAMES, &ran);
      }
    }
  }
  if (ran) {
    r->stack = TT_SNAP_STACK_RUNNING;
    /* It is running now, whatever the record said a moment ago. */
    r->info.state = TT_TASK_RUNNING;
    r->info.state_name = "running";
    r->info.wait_reason = "";
    r->info.wait_since = 0;
    r->wait_obj = NULL;
    r->wait_file = NULL;
    r->io_fd = -1;
    return true;
  }
  r->stack = TT_SNAP_STACK_OK;
  r->pc0 = (uint32_t)s->npcs;
  r->npcs = (uint32_t)n;
  s->npcs += (size_t)n;
  return true;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (*cap >= need)
    return true;
  size_t ncap = *cap ? *cap : 256;
  while (ncap < need)
    ncap *= 2;
  void *np = realloc(*p, ncap * elem);
  if (!np)
    return false;
  *p = np;
  *cap = ncap;
  return true;
}

static bool snap_flush(tt__walker *wk) {
  snap_walker *sw = (snap_walker *)wk;
  tt_snapshot *s = sw->s;
  if (!grow((void **)&s->tasks, &s->cap, s->ntasks + 64, sizeof *s->tasks) ||
      (sw->stacks && !grow((void **)&s->pcs, &s->pcs_cap, s->npcs + (size_t)64 * TT_SNAP_MAX_FRAMES,
                           sizeof *s->pcs))) {
    sw->oom = true;
    return false;
  }
  return true;
}

static int by_id(const void *a, const void *b) {
  int64_t x = ((const tt_taskrec *)a)->info.id, y = ((const tt_taskrec *)b)->info.id;
  return (x > y) - (x < y);
}

static int take(tt_snapshot *s, unsigned flags, int64_t only_id) {
  if (atomic_load(&tt__rt.state) == TT_RT_OFF)
    return TT_ENOTINIT;
  memset(s, 0, sizeof *s);
  snap_walker sw = {.wk = {.take = snap_take, .flush = snap_flush},
                    .s = s,
                    .self = tt__current(),
                    .stacks = (flags & TT_SNAP_STACKS) != 0,
                    .only_id = only_id};
  /* Room for the tasks there are now, plus some that may be spawned while
   * we walk; more is grown between batches. */
  size_t expect = only_id > 0 ? 1 : (size_t)tt_num_tasks() + 64;
  if (!grow((void **)&s->tasks, &s->cap, expect, sizeof *s->tasks) ||
      (sw.stacks &&
       !grow((void **)&s->pcs, &s->pcs_cap, expect * 8 + TT_SNAP_MAX_FRAMES, sizeof *s->pcs))) {
    tt__snapshot_free(s);
    return TT_ENOMEM;
  }
  s->now = tt__coarse_now();
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  s->wall_now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
  bool whole = tt__tasks_walk(&sw.wk);
  if (sw.oom || !whole) {
    /* Only running out of memory or a shutdown cut the walk short: a
     * snapshot of part of the tasks would look like some of them exited. */
    tt__snapshot_free(s);
    return sw.oom ? TT_ENOMEM : TT_ESHUTDOWN;
  }
  qsort(s->tasks, s->ntasks, sizeof *s->tasks, by_id);
  return 0;
}

int tt__snapshot_take(tt_snapshot *s, unsigned flags) { return take(s, flags, 0); }

void tt__snapshot_free(tt_snapshot *s) {
  free(s->tasks);
  free(s->pcs);
  memset(s, 0, sizeof *s);
}

int tt__snapshot_frames(const tt_snapshot *s, const tt_taskrec *r, tt_frame *out, int max) {
  int n = 0;
  for (uint32_t i = 0; i < r->npcs && n < max; i++)
    n += tt__symbolize_inlined(s->pcs[r->pc0 + i], out + n, max - n);
  return n;
}

bool tt__frame_is_runtime(const tt_frame *f) {
#ifdef TT_SRC_DIR
  if (strncmp(f->file, TT_SRC_DIR, sizeof TT_SRC_DIR - 1) == 0)
    return true;
#endif
  return strncmp(f->func, "tt_", 3) == 0;
}

int tt__first_user_frame(const tt_frame *frames, int n) {
  for (int i = 0; i < n; i++)
    if (!tt__frame_is_runtime(&frames[i]))
      return i;
  return 0;
}

bool tt__traceback_system(void) {
  const char *v = getenv("TT_TRACEBACK");
  return v && (strcmp(v, "system") == 0 || strcmp(v, "crash") == 0);
}

int tt__frames_for_traceback(tt_frame *frames, int n, bool system) {
  if (system)
    return n;
  int kept = 0;
  for (int i = 0; i < n; i++)
    if (!tt__frame_is_runtime(&frames[i]))
      frames[kept++] = frames[i];
  if (kept == 0)
    return n; /* untouched: the loop moved nothing */
  return kept;
}

int tt_task_stack(int64_t id, tt_frame *frames, int max) {
  if (id <= 0 || max < 0 || (max > 0 && !frames))
    return TT_EINVAL;
  tt_snapshot s;
  int rc = take(&s, TT_SNAP_STACKS, id);
  if (rc < 0)
    return rc;
  if (s.ntasks == 0)
    rc = TT_EINVAL;
  else if (s.tasks[0].stack == TT_SNAP_STACK_RUNNING)
    rc = TT_EBUSY;
  else
    rc = tt__snapshot_frames(&s, &s.tasks[0], frames, max);
  tt__snapshot_free(&s);
  return rc;
}

/* ---- Reports of chosen tasks (observe/hooks.h) ---------------------------- */

void tt__print_tasks(FILE *out, bool (*pick)(int64_t id, void *arg), void *arg) {
  tt_snapshot s;
  if (tt__snapshot_take(&s, TT_SNAP_STACKS) < 0)
    return;
  tt_frame frames[TT_SNAP_MAX_FRAMES];
  for (size_t k = 0; k < s.ntasks; k++) {
    const tt_taskrec *r = &s.tasks[k];
    const tt_task_info *i = &r->info;
    if (!pick(i->id, arg))
      continue;
    fprintf(out, "  task %lld [%s%s%s", (long long)i->id, i->state_name,
            i->wait_reason[0] ? ": " : "", i->wait_reason);
    if (i->wait_since)
      fprintf(out, ", %lld ms", (long long)((s.now - i->wait_since) / 1000000));
    fprintf(out, "] %s, spawned at %s:%d in %s\n", i->entry, i->spawn_file, i->spawn_line,
            i->spawn_func);
    if (r->stack == TT_SNAP_STACK_RUNNING)
      fputs("    (running on another worker; stack unavailable)\n", out);
    int n = tt__snapshot_frames(&s, r, frames, TT_SNAP_MAX_FRAMES);
    /* The user's frames only: from the blocking call down to the task's
     * entry frame. */
    for (int j = tt__first_user_frame(frames, n); j < n && !tt__frame_is_runtime(&frames[j]); j++)
      fprintf(out, "    %s\n\t%s:%d\n", frames[j].func, tt__file_or_unknown(frames[j].file),
              frames[j].line);
  }
  tt__snapshot_free(&s);
}
