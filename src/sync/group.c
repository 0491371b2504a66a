/*
 * Task groups: structured concurrency with an error-cancels-all policy and
 * an optional bound on concurrency (Go's errgroup with SetLimit).
 *
 * The group's context is a child of the parent's; every task gets it. The
 * first failure (a task returning non-zero, or tt_group_fail) records its
 * code and message and cancels the context with them as its cause.
 * The bound is a buffered channel of `limit` slots: tt_group_go sends (and
 * waits, bounded by the group's context), a finishing task receives.
 *
 * The group remembers the ids of its live tasks so that destroying it can
 * name the ones that did not exit. A group destroyed with tasks still alive
 * is "abandoned": its memory stays until the last of those tasks returns,
 * which frees it, or until a runtime shutdown drops the last of them
 * unfinished (drop_group_task), which frees it then.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/runtime.h"
#include "observe/hooks.h"
#include "sync/chan.h"

struct tt_group {
  tt_spinlock lock;
  tt_context *ctx;
  tt_chan *slots; /* NULL without a limit */
  tt_wg *wg;
  int err;       /* the first failure's code; 0 while none */
  char msg[256]; /* and its message, written once before err is set */
  int64_t nlive; /* spawned and not yet returned */
  int64_t *ids;  /* ids of those that have started */
  int64_t nids, cap_ids;
  bool abandoned;
  const char *file;
  int line;
};

typedef struct group_task {
  tt_group *g;
  tt_group_fn fn;
  void *arg;
  const char *entry; /* fn's name, for the failure message */
} group_task;

/* Record the group's first failure and cancel its context with it. Later
 * failures change nothing. */
static void fail(tt_group *g, int code, const char *msg) {
  tt_spin_lock(&g->lock);
  bool first = g->err == 0;
  if (first) {
    snprintf(g->msg, sizeof g->msg, "%s", msg);
    g->err = code;
  }
  tt_spin_unlock(&g->lock);
  if (first)
    tt_cancel_cause(g->ctx, code, g->msg);
}

int tt_group_fail(tt_group *g, int code, const char *fmt, ...) {
  if (!g || code == 0)
    return TT_EINVAL;
  char msg[sizeof g->msg];
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    /* va_start is just above: the analyzer loses track of it here */
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
  } else {
    snprintf(msg, sizeof msg, "the group failed: %s", tt_strerror(code));
  }
  fail(g, code, msg);
  return code;
}

const char *tt_group_error(tt_group *g) {
  if (!g)
    return NULL;
  tt_spin_lock(&g->lock);
  const char *msg = g->err ? g->msg : NULL;
  tt_spin_unlock(&g->lock);
  return msg;
}

tt_group *tt__group_make(tt_context *parent, int limit, const char *file, int line) {
  if (limit < 0)
    return NULL;
  tt_group *g = calloc(1, sizeof *g);
  if (!g)
    return NULL;
  g->file = file;
  g->line = line;
  g->ctx = tt__with(parent, TT_NO_DEADLINE, file, line);
  g->wg = tt_wg_make();
  g->slots = limit ? tt__chan_new(0, (size_t)limit, file, line) : NULL;
  if (g->slots)
    g->slots->rooted = true; /* the group's own tasks free the slots */
  if (!g->ctx || !g->wg || (limit && !g->slots)) {
    if (g->ctx)
      tt_context_release(g->ctx);
    if (g->wg)
      tt_wg_free(g->wg);
    if (g->slots)
      tt__chan_unref_raw(g->slots);
    free(g);
    return NULL;
  }
  return g;
}

tt_context *tt_group_context(tt_group *g) { return g ? g->ctx : NULL; }

static void free_group(tt_group *g) {
  tt_context_release(g->ctx);
  tt_wg_free(g->wg);
  if (g->slots)
    tt__chan_unref_raw(g->slots);
  free(g->ids);
  free(g);
}

static void forget_id(tt_group *g, int64_t id) {
  for (int64_t i = 0; i < g->nids; i++)
    if (g->ids[i] == id) {
      g->ids[i] = g->ids[--g->nids];
      return;
    }
}

/* Under g->lock. */
static bool remember_id(tt_group *g, int64_t id) {
  if (g->nids == g->cap_ids) {
    int64_t cap = g->cap_ids ? g->cap_ids * 2 : 16;
    int64_t *ids = realloc(g->ids, (size_t)cap * sizeof(int64_t));
    if (!ids)
      return false; /* only the report loses this task's line */
    g->ids = ids;
    g->cap_ids = cap;
  }
  g->ids[g->nids++] = id;
  return true;
}

static void group_entry(void *arg) {
  group_task *gt = arg;
  tt_group *g = gt->g;
  int64_t self = tt_self();
  tt_spin_lock(&g->lock);
  remember_id(g, self);
  tt_spin_unlock(&g->lock);

  int rc = gt->fn(g->ctx, gt->arg);
  tt__current()->drop_arg = NULL; /* freed here, not by a shutdown */
  /* A tether code (or TT_ESYS) says what it means; the caller's own codes
   * are theirs to explain. */
  bool ours = rc < 0 && (rc >= TT_EPROTO || rc < TT_ESYS_BASE);
  if (rc != 0) {
    char msg[sizeof g->msg];
    snprintf(msg, sizeof msg, "task %lld (%s) returned %d%s%s", (long long)self, gt->entry, rc,
             ours ? ": " : "", ours ? tt_strerror(rc) : "");
    fail(g, rc, msg);
  }
  free(gt);
  if (g->slots)
    tt_chan_try_recv(g->slots, NULL);
  tt_spin_lock(&g->lock);
  forget_id(g, self);
  bool last_of_abandoned = --g->nlive == 0 && g->abandoned;
  tt_spin_unlock(&g->lock);
  /* After our Done the group may be freed by whoever waits for it; an
   * abandoned group has nobody left but us. */
  if (last_of_abandoned)
    free_group(g);
  else
    tt_wg_done(g->wg);
}

/* A runtime shutdown drops a group task that never finished (task.c calls
 * this, on the shutting-down thread, once no task runs). The task's record
 * goes, and an abandoned group goes with its last task: nobody else will
 * ever free it. A group not abandoned still belongs to the code that made
 * it, which may destroy it after the shutdown. */
static void drop_group_task(void *arg) {
  group_task *gt = arg;
  tt_group *g = gt->g;
  free(gt);
  tt_spin_lock(&g->lock);
  bool last_of_abandoned = --g->nlive == 0 && g->abandoned;
  tt_spin_unlock(&g->lock);
  if (last_of_abandoned)
    free_group(g);
}

int64_t tt__group_go(tt_group *g, tt_group_fn fn, void *arg, const char *entry, const char *file,
                     int line, const char *func) {
  if (!g || !fn)
    return TT_EINVAL;
  if (tt_context_err(g->ctx))
    return TT_ECANCELED;
  if (g->slots) {
    int rc = tt_chan_send_ctx(g->slots, NULL, g->ctx);
    if (rc < 0)
      return rc == TT_ETIMEDOUT || rc == TT_ECANCELED ? TT_ECANCELED : rc;
  }
  group_task *gt = malloc(sizeof *gt);
  if (!gt) {
    if (g->slots)
      tt_chan_try_recv(g->slots, NULL);
    return TT_ENOMEM;
  }
  gt->g = g;
  gt->fn = fn;
  gt->arg = arg;
  gt->entry = entry;
  tt_spin_lock(&g->lock);
  g->nlive++;
  tt_spin_unlock(&g->lock);
  tt_wg_add(g->wg, 1);
  int64_t rc = tt__spawn_internal((uintptr_t)__builtin_return_address(0), group_entry, gt, NULL,
                                  entry, file, line, func, NULL, NULL, drop_group_task);
  if (rc < 0) {
    tt_spin_lock(&g->lock);
    g->nlive--;
    tt_spin_unlock(&g->lock);
    tt_wg_done(g->wg);
    free(gt);
    if (g->slots)
      tt_chan_try_recv(g->slots, NULL);
  }
  return rc;
}

int tt_group_wait(tt_group *g) {
  if (!g)
    return TT_EINVAL;
  int rc = tt_wg_wait(g->wg);
  if (rc < 0)
    return rc;
  tt_spin_lock(&g->lock);
  int err = g->err;
  tt_spin_unlock(&g->lock);
  return err;
}

static bool is_member(tt_group *g, int64_t id) {
  bool member = false;
  tt_spin_lock(&g->lock);
  for (int64_t k = 0; k < g->nids && !member; k++)
    member = g->ids[k] == id;
  tt_spin_unlock(&g->lock);
  return member;
}

static bool is_member_cb(int64_t id, void *g) { return is_member(g, id); }

int tt_group_destroy(tt_group *g, int64_t grace) {
  if (!g)
    return TT_EINVAL;
  tt_cancel(g->ctx);
  int64_t until = tt__after(grace > 0 ? grace : 0); /* INT64_MAX: wait for ever */
  for (;;) {
    tt_spin_lock(&g->lock);
    int64_t left = g->nlive;
    tt_spin_unlock(&g->lock);
    if (left == 0 || tt_now() >= until)
      break;
    if (tt_sleep(1000000) == TT_ENOTASK) {
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, NULL);
    }
  }
  tt_spin_lock(&g->lock);
  int64_t left = g->nlive, started = g->nids;
  tt_spin_unlock(&g->lock);
  if (left) {
    fprintf(stderr,
            "tether: task group made at %s:%d destroyed with %lld task(s) still running %lld ms "
            "after it was cancelled; leaked:\n",
            g->file, g->line, (long long)left, (long long)(grace / 1000000));
    tt__print_tasks(stderr, is_member_cb, g);
    if (left > started)
      fprintf(stderr, "  and %lld task(s) that have not started yet\n",
              (long long)(left - started));
    /* From here on the last of them frees the group (unless they all
     * finished while we were reporting). */
    tt_spin_lock(&g->lock);
    left = g->nlive;
    g->abandoned = left > 0;
    tt_spin_unlock(&g->lock);
  }
  if (!left) {
    tt_wg_wait(g->wg); /* the last tasks may still be returning */
    free_group(g);
    return 0;
  }
  return TT_ELEAKED;
}
