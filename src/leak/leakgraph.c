/*
 * The wait-for graph: definite leaks that no single event shows.
 *
 * A task is live when it runs or can run, sleeps, is in a blocking call,
 * or waits with a deadline or a context (its wait ends by itself). A
 * primitive is reachable when a live task holds it (holds.h), when it is a
 * root, or when a task may have passed it on. A task blocked on a
 * channel, a select, a WaitGroup, a Cond or a semaphore becomes live when
 * one primitive it waits on is reachable; a task blocked on a mutex becomes
 * live when the task holding the mutex does. The fixpoint is a worklist
 * over that graph, linear in tasks plus holdings. Whatever stays blocked
 * can never run again: it is leaked, and the graph has the proof (who can
 * reach what it waits on, and what those tasks wait on in turn).
 *
 * The tasks are read without stopping the world, one list batch at a time,
 * so a pass sees each task at a slightly different moment. A verdict is
 * therefore only given when a second, independent pass reaches it too and
 * the task has not run in between; leaks are stable, so a real one always
 * passes both.
 *
 * tt_leak_check runs it on demand. In the instant modes (TT_LEAKCHECK=
 * report|abort|recover) the events that can make a leak certain without
 * dropping a channel's last reference (a task exiting with handles, a
 * handle's last reference in a task dropped) wake a background thread that
 * runs it within a few milliseconds, debounced.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/threads.h"
#include "leak/holds.h"
#include "leak/leak.h"
#include "leak/owner.h"
#include "observe/stackwalk.h"
#include "observe/walk.h"
#include "sync/chan.h"
#include "sync/sync.h"
#include "sync/waitgroup.h"

#define SEL_MAX 64 /* selects over more distinct channels count as live */
#define PROOF_HOLDERS 4

enum { G_LIVE = 1, G_BLOCKED = 2, G_LEAKED = 3 };

typedef struct gtask {
  int64_t id;
  uint32_t resumes;
  uint8_t reason, status, holder_gone;
  uint32_t wait0, nwait; /* into g->waits */
  uint32_t hold0, nhold; /* into g->holds */
  int64_t mutex_holder;  /* for a mutex wait: the holder's id, 0 if unlocked */
  int32_t dependents;    /* first edge of the tasks waiting on a mutex it holds */
} gtask;

/* A primitive: its address and serial (holds.h; 0 matches any). */
typedef struct gobj {
  const void *obj;
  uint32_t serial;
} gobj;

typedef struct ghold {
  const void *obj;
  uint32_t serial;
  bool passed_on, is_owner;
} ghold;

typedef struct gnode {
  const void *obj;
  uint32_t serial;
  bool reachable;
  int32_t waiters; /* first edge */
  int32_t holders[PROOF_HOLDERS];
  int nholders;
} gnode;

typedef struct gedge {
  int32_t task, next;
} gedge;

typedef struct graph {
  tt__walker wk;
  gtask *tasks;
  size_t ntasks, cap_tasks;
  ghold *holds;
  size_t nholds, cap_holds, need_holds;
  gobj *waits;
  size_t nwaits, cap_waits;
  gobj *rooted; /* runtime channels waited on */
  size_t nrooted, cap_rooted;
  bool oom;
  /* Analysis. */
  gnode *nodes;
  uint32_t nodes_cap, nnodes; /* a power of two */
  int32_t *ids;               /* id -> task index + 1, open addressing; 0 = not built */
  uint32_t ids_cap;
  size_t ids_alloc, work_alloc;
  gedge *edges;
  size_t nedges, cap_edges;
  tt__owner_edge *owned; /* every owner's handles, sorted by owner */
  int64_t nowned;
  bool *owner_seen; /* per first edge of an owner: reached already */
  int32_t *work;
  size_t nwork;
} graph;

static bool grow(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap)
    return true;
  size_t n = *cap ? *cap : 1024;
  while (n < need)
    n *= 2;
  void *q = realloc(*p, n * size);
  if (!q)
    return false;
  *p = q;
  *cap = n;
  return true;
}

/* ---- Reading the tasks ------------------------------------------------------ */

/* Fields of a primitive some task is parked on. It cannot be freed while
 * the task waits, but the task may stop waiting at any moment; the caller
 * checks t->resumes afterwards and discards what it read if it moved. */
__attribute__((no_sanitize("address", "thread"))) static bool chan_peek(const tt_chan *c,
                                                                        uint32_t *serial) {
  *serial = c->serial;
  return c->magic == TT_CHAN_MAGIC && c->rooted;
}
__attribute__((no_sanitize("address", "thread"))) static uint64_t mutex_state(const void *m) {
  return atomic_load_explicit((_Atomic uint64_t *)&((const tt_mutex_s *)m)->state,
                              memory_order_relaxed);
}

static bool analysed(int why) {
  /* Not Cond or semaphore waits: those are plain values with no call that
   * makes them, so a task may be able to signal one it never touched. */
  return why == TT_WAIT_CHAN_SEND || why == TT_WAIT_CHAN_RECV || why == TT_WAIT_SELECT ||
         why == TT_WAIT_WAITGROUP || why == TT_WAIT_MUTEX;
}

static bool take(tt__walker *wk, const tt_task *ct) {
  graph *g = (graph *)wk;
  tt_task *t = (tt_task *)ct; /* its holds lock is taken, nothing else changes */
  uint32_t nh = __atomic_load_n(&t->holds.n, __ATOMIC_ACQUIRE);
  if (g->ntasks == g->cap_tasks || g->nholds + nh > g->cap_holds ||
      g->nwaits + SEL_MAX > g->cap_waits || g->nrooted + SEL_MAX > g->cap_rooted) {
    g->need_holds = nh;
    return false;
  }
  gtask *r = &g->tasks[g->ntasks];
  *r = (gtask){.id = t->id, .status = G_LIVE, .dependents = -1};
  r->resumes = atomic_load_explicit(&t->resumes, memory_order_acquire);
  int state = atomic_load_explicit(&t->state, memory_order_acquire);
  int why = atomic_load_explicit(&t->wait_reason, memory_order_relaxed);
  r->reason = (uint8_t)why;
  /* Holdings first: a live task needs them. The lock keeps the array in
   * place; wseq says whether an entry came or went while we copied. */
  r->hold0 = (uint32_t)g->nholds;
  tt_spin_lock(&t->holds.lock);
  for (;;) {
    uint32_t s1 = atomic_load_explicit(&t->holds.wseq, memory_order_acquire);
    if (s1 & 1) {
      tt__cpu_relax();
      continue;
    }
    nh = __atomic_load_n(&t->holds.n, __ATOMIC_RELAXED);
    uint32_t pub = __atomic_load_n(&t->holds.pubseq, __ATOMIC_RELAXED);
    g->nholds = r->hold0;
    for (uint32_t i = 0; i < nh && g->nholds < g->cap_holds; i++) {
      const tt_hold *e = &t->holds.items[i];
      /* Acquire loads, so that the second look at wseq comes after them
       * (no fence: TSan does not model them). */
      g->holds[g->nholds++] = (ghold){__atomic_load_n(&e->obj, __ATOMIC_ACQUIRE),
                                      __atomic_load_n(&e->serial, __ATOMIC_ACQUIRE),
                                      __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE) < pub,
                                      __atomic_load_n(&e->kind, __ATOMIC_ACQUIRE) == TT_OBJ_OWNER};
    }
    if (atomic_load_explicit(&t->holds.wseq, memory_order_relaxed) == s1)
      break;
  }
  tt_spin_unlock(&t->holds.lock);
  if (g->nholds - r->hold0 < nh) { /* it grew meanwhile: take it again after a flush */
    g->nholds = r->hold0;
    g->need_holds = nh;
    return false;
  }
  r->nhold = (uint32_t)g->nholds - r->hold0;
  g->ntasks++;

  if (atomic_load_explicit(&t->leaked, memory_order_relaxed)) {
    r->status = G_LEAKED; /* already reported; it can make nothing reachable */
    return true;
  }
  if (state != TT_ST_WAITING || !analysed(why) ||
      atomic_load_explicit(&t->wait_bounded, memory_order_relaxed))
    return true;
  const void *obj = __atomic_load_n(&t->wait_obj, __ATOMIC_RELAXED);
  if (!obj)
    return true;
  r->wait0 = (uint32_t)g->nwaits;
  size_t rooted0 = g->nrooted;
  const tt_chan *chans[SEL_MAX];
  bool bounded = true;
  int n = why == TT_WAIT_SELECT || why == TT_WAIT_CHAN_SEND || why == TT_WAIT_CHAN_RECV
              ? tt__select_wait_chans(obj, chans, SEL_MAX, &bounded)
              : -1;
  if (n >= 0) { /* a select, or a send or receive bounded by a context */
    if (bounded)
      return true;
    for (int i = 0; i < n; i++) {
      gobj w = {chans[i], 0};
      if (chan_peek(chans[i], &w.serial))
        g->rooted[g->nrooted++] = w;
      g->waits[g->nwaits++] = w;
    }
  } else if (why == TT_WAIT_SELECT) {
    return true; /* a select over more channels than SEL_MAX */
  } else {
    gobj w = {obj, 0};
    if ((why == TT_WAIT_CHAN_SEND || why == TT_WAIT_CHAN_RECV) && chan_peek(obj, &w.serial))
      g->rooted[g->nrooted++] = w;
    else if (why == TT_WAIT_WAITGROUP)
      w.serial = tt__wg_serial_peek(obj);
    g->waits[g->nwaits++] = w;
    if (why == TT_WAIT_MUTEX) {
      uint64_t s = mutex_state(obj);
      r->mutex_holder = (s & TT_MU_LOCKED) ? (int64_t)(s >> TT_MU_SHIFT) : 0;
    }
  }
  r->holder_gone = atomic_load_explicit(&t->holder_gone, memory_order_relaxed);
  /* Only what was read while the task stayed parked counts. */
  if (atomic_load_explicit(&t->resumes, memory_order_acquire) != r->resumes ||
      atomic_load_explicit(&t->state, memory_order_acquire) != TT_ST_WAITING ||
      (why == TT_WAIT_MUTEX && r->mutex_holder == 0)) {
    g->nwaits = r->wait0;
    g->nrooted = rooted0;
    return true;
  }
  r->nwait = (uint32_t)g->nwaits - r->wait0;
  r->status = G_BLOCKED;
  return true;
}

static bool flush(tt__walker *wk) {
  graph *g = (graph *)wk;
  bool ok =
      grow((void **)&g->tasks, &g->cap_tasks, g->ntasks + 1, sizeof *g->tasks) &&
      grow((void **)&g->holds, &g->cap_holds, g->nholds + g->need_holds + 1, sizeof *g->holds) &&
      grow((void **)&g->waits, &g->cap_waits, g->nwaits + SEL_MAX, sizeof *g->waits) &&
      grow((void **)&g->rooted, &g->cap_rooted, g->nrooted + SEL_MAX, sizeof *g->rooted);
  g->need_holds = 0;
  if (!ok)
    g->oom = true;
  return ok;
}

/* ---- The fixpoint --------------------------------------------------------------- */

static size_t pow2_above(size_t n) {
  size_t c = 16;
  while (c < n * 2)
    c *= 2;
  return c;
}

static gnode *slot_of(gnode *nodes, uint32_t cap, const void *obj) {
  uint32_t mask = cap - 1, i = tt__hash64((uintptr_t)obj) & mask;
  while (nodes[i].obj && nodes[i].obj != obj)
    i = (i + 1) & mask;
  return &nodes[i];
}

/* The node of obj; with add, made if missing (NULL when out of memory).
 * The table grows as it fills: a million waiters may share a handful of
 * primitives, and its size is what the pass touches. */
static gnode *node_find(graph *g, const void *obj, bool add, uint32_t serial) {
  gnode *n = slot_of(g->nodes, g->nodes_cap, obj);
  if (n->obj || !add)
    return n->obj ? n : NULL;
  if ((g->nnodes + 1) * 2 > g->nodes_cap) {
    uint32_t cap = g->nodes_cap * 2;
    gnode *nodes = calloc(cap, sizeof *nodes);
    if (!nodes)
      return NULL;
    for (uint32_t i = 0; i < g->nodes_cap; i++)
      if (g->nodes[i].obj)
        *slot_of(nodes, cap, g->nodes[i].obj) = g->nodes[i];
    free(g->nodes);
    g->nodes = nodes;
    g->nodes_cap = cap;
    n = slot_of(nodes, cap, obj);
  }
  g->nnodes++;
  *n = (gnode){.obj = obj, .serial = serial, .waiters = -1};
  return n;
}

/* id -> task index, built the first time a mutex wait needs it. */
static bool index_ids(graph *g) {
  size_t cap = pow2_above(g->ntasks + 1);
  if (!grow((void **)&g->ids, &g->ids_alloc, cap, sizeof *g->ids))
    return false;
  g->ids_cap = (uint32_t)cap;
  memset(g->ids, 0, cap * sizeof *g->ids);
  for (size_t i = 0; i < g->ntasks; i++) {
    uint32_t mask = g->ids_cap - 1, k = tt__hash64((uint64_t)g->tasks[i].id) & mask;
    while (g->ids[k])
      k = (k + 1) & mask;
    g->ids[k] = (int32_t)i + 1;
  }
  return true;
}

static int32_t task_by_id(graph *g, int64_t id) {
  if (!g->ids_cap && !index_ids(g))
    return -1;
  uint32_t mask = g->ids_cap - 1;
  for (uint32_t i = tt__hash64((uint64_t)id) & mask; g->ids[i]; i = (i + 1) & mask)
    if (g->tasks[g->ids[i] - 1].id == id)
      return g->ids[i] - 1;
  return -1;
}

static bool edge_add(graph *g, int32_t *head, int32_t task) {
  if (!grow((void **)&g->edges, &g->cap_edges, g->nedges + 1, sizeof *g->edges))
    return false;
  g->edges[g->nedges] = (gedge){task, *head};
  *head = (int32_t)g->nedges++;
  return true;
}

static void make_live(graph *g, int32_t i) {
  if (g->tasks[i].status != G_BLOCKED)
    return;
  g->tasks[i].status = G_LIVE;
  g->work[g->nwork++] = i;
}

/* The node of obj, if that is the primitive it stands for. */
static gnode *node_of(graph *g, const void *obj, uint32_t serial) {
  gnode *n = node_find(g, obj, false, 0);
  return n && (!serial || !n->serial || n->serial == serial) ? n : NULL;
}

static void reach(graph *g, const void *obj, uint32_t serial) {
  gnode *n = node_of(g, obj, serial);
  if (!n || n->reachable)
    return;
  n->reachable = true;
  for (int32_t e = n->waiters; e >= 0; e = g->edges[e].next)
    make_live(g, g->edges[e].task);
}

/* obj may be an owner: whatever it owns is reachable too (and what the
 * owners it owns own, and so on). */
static int64_t first_owned(const graph *g, const void *obj) {
  int64_t lo = 0, hi = g->nowned;
  while (lo < hi) {
    int64_t mid = (lo + hi) / 2;
    if ((uintptr_t)g->owned[mid].owner < (uintptr_t)obj)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static void reach_owned(graph *g, const void *obj, int depth) {
  int64_t lo = first_owned(g, obj);
  if (lo == g->nowned || g->owned[lo].owner != obj || g->owner_seen[lo])
    return;
  g->owner_seen[lo] = true;
  for (int64_t k = lo; k < g->nowned && g->owned[k].owner == obj; k++) {
    reach(g, g->owned[k].child, g->owned[k].child_serial);
    if (depth < 64)
      reach_owned(g, g->owned[k].child, depth + 1);
  }
}

static void reach_held(graph *g, const ghold *h) {
  reach(g, h->obj, h->serial);
  if (h->is_owner)
    reach_owned(g, h->obj, 0);
}

static int cmp_edge(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)((const tt__owner_edge *)a)->owner;
  uintptr_t y = (uintptr_t)((const tt__owner_edge *)b)->owner;
  return (x > y) - (x < y);
}

/* Build the graph of a pass and run the fixpoint. False when out of memory. */
static bool solve(graph *g) {
  free(g->nodes);
  g->nnodes = 0;
  g->nodes_cap = 64;
  g->nodes = calloc(g->nodes_cap, sizeof *g->nodes);
  g->ids_cap = 0; /* built on demand */
  if (!g->nodes || !grow((void **)&g->work, &g->work_alloc, g->ntasks + 1, sizeof *g->work))
    return false;
  /* Edges: waiters of each primitive; dependents of each mutex holder. */
  for (size_t i = 0; i < g->ntasks; i++) {
    gtask *t = &g->tasks[i];
    if (t->status != G_BLOCKED)
      continue;
    if (t->reason == TT_WAIT_MUTEX) {
      /* Live when its holder is; or when the mutex is a root (another task
       * than the locker unlocked it once): then anyone might. */
      int32_t h = task_by_id(g, t->mutex_holder);
      if (h >= 0 && !edge_add(g, &g->tasks[h].dependents, (int32_t)i))
        return false;
    }
    for (uint32_t k = 0; k < t->nwait; k++) {
      gnode *n = node_find(g, g->waits[t->wait0 + k].obj, true, g->waits[t->wait0 + k].serial);
      if (!n || !edge_add(g, &n->waiters, (int32_t)i))
        return false;
    }
  }
  for (size_t i = 0; i < g->ntasks; i++)
    if (g->tasks[i].status == G_LIVE)
      g->work[g->nwork++] = (int32_t)i;
  /* The owners, read after the tasks: an owner made or filled since only
   * adds reachability. */
  free(g->owned);
  free(g->owner_seen);
  g->owner_seen = NULL;
  g->nowned = tt__owners_copy(&g->owned);
  if (g->nowned < 0 || !(g->owner_seen = calloc((size_t)g->nowned + 1, sizeof(bool))))
    return false;
  qsort(g->owned, (size_t)g->nowned, sizeof *g->owned, cmp_edge);
  /* Roots, handles that may have been passed on, runtime channels. */
  int64_t nroots;
  const void **roots = tt__roots_copy(&nroots);
  if (nroots < 0) {
    /* The root set overflowed: anything may be reachable. */
    for (size_t i = 0; i < g->ntasks; i++)
      make_live(g, (int32_t)i);
  }
  for (int64_t i = 0; i < nroots; i++) {
    reach(g, roots[i], 0);
    reach_owned(g, roots[i], 0);
  }
  free(roots);
  for (size_t i = 0; i < g->nrooted; i++)
    reach(g, g->rooted[i].obj, g->rooted[i].serial);
  for (size_t i = 0; i < g->nholds; i++)
    if (g->holds[i].passed_on)
      reach_held(g, &g->holds[i]);
  /* Propagate. Each task enters the worklist at most once. */
  while (g->nwork) {
    gtask *t = &g->tasks[g->work[--g->nwork]];
    for (uint32_t k = 0; k < t->nhold; k++)
      reach_held(g, &g->holds[t->hold0 + k]);
    for (int32_t e = t->dependents; e >= 0; e = g->edges[e].next)
      make_live(g, g->edges[e].task);
  }
  return true;
}

static void graph_free(graph *g) {
  free(g->owned);
  free(g->owner_seen);
  free(g->tasks);
  free(g->holds);
  free(g->waits);
  free(g->rooted);
  free(g->nodes);
  free(g->ids);
  free(g->edges);
  free(g->work);
}

/* One pass: read every task, solve. The buffers of g are kept from pass to
 * pass (and check to check, under check_lock): over a million tasks they
 * are tens of megabytes, and fresh pages cost more than the pass. */
static bool pass(graph *g) {
  g->wk = (tt__walker){.take = take, .flush = flush};
  g->ntasks = g->nholds = g->nwaits = g->nrooted = g->nedges = g->nwork = 0;
  g->need_holds = 0;
  g->oom = false;
  /* Room for every task now, and some spawned during the walk. */
  int64_t n = tt_num_tasks() + 1024;
  if (!grow((void **)&g->tasks, &g->cap_tasks, (size_t)n, sizeof *g->tasks) ||
      !grow((void **)&g->holds, &g->cap_holds, (size_t)n * 2, sizeof *g->holds) || !flush(&g->wk))
    return false;
  if (!tt__tasks_walk(&g->wk) || g->oom)
    return false;
  return solve(g);
}

/* ---- Verdicts and their proof ---------------------------------------------------- */

typedef struct verdict {
  int64_t id;
  uint32_t resumes;
  int cls;
  uint8_t reason;
  const void *obj;
  char detail[384];
} verdict;

static void describe_task(graph *g, int32_t i, char *out, size_t n) {
  const gtask *t = &g->tasks[i];
  if (t->status == G_LEAKED)
    snprintf(out, n, "task %lld (leaked)", (long long)t->id);
  else if (t->nwait || t->reason == TT_WAIT_MUTEX)
    snprintf(out, n, "task %lld [%s on %p]", (long long)t->id,
             tt__wait_reason_string((tt_wait_reason)t->reason),
             t->nwait ? g->waits[t->wait0].obj : NULL);
  else
    snprintf(out, n, "task %lld", (long long)t->id);
}

static void add_holder(gnode *n, int32_t task) {
  for (int h = 0; n && h < n->nholders; h++)
    if (n->holders[h] == task)
      return;
  if (n && n->nholders < PROOF_HOLDERS)
    n->holders[n->nholders++] = task;
}

/* Who holds the primitives blocked tasks wait on, directly or through an
 * owner, for the proofs. */
static void collect_holders(graph *g) {
  for (size_t i = 0; i < g->ntasks; i++) {
    const gtask *t = &g->tasks[i];
    for (uint32_t k = 0; k < t->nhold; k++) {
      const ghold *h = &g->holds[t->hold0 + k];
      add_holder(node_of(g, h->obj, h->serial), (int32_t)i);
      for (int64_t e = h->is_owner ? first_owned(g, h->obj) : g->nowned;
           e < g->nowned && g->owned[e].owner == h->obj; e++)
        add_holder(node_of(g, g->owned[e].child, g->owned[e].child_serial), (int32_t)i);
    }
  }
}

static void prove(graph *g, int32_t i, verdict *v) {
  const gtask *t = &g->tasks[i];
  char *d = v->detail;
  size_t cap = sizeof v->detail, len = 0;
  v->obj = g->waits[t->wait0].obj;
#define ADD(...) \
  do { \
    if (len < cap) \
      len += (size_t)snprintf(d + len, cap - len, __VA_ARGS__); \
  } while (0)
  if (t->reason == TT_WAIT_MUTEX) {
    int32_t h = task_by_id(g, t->mutex_holder);
    if (h < 0) {
      v->cls = TT_LEAK_MUTEX_ORPHANED;
      ADD("the mutex is locked by task %lld, which has exited", (long long)t->mutex_holder);
      return;
    }
    v->cls = TT_LEAK_MUTEX_HELD_LEAKED;
    ADD("the mutex is locked by");
    for (int step = 0; step < 8 && h >= 0; step++) {
      if (h == i) {
        v->cls = TT_LEAK_LOCK_CYCLE;
        ADD(" this task: a cycle");
        return;
      }
      char who[96];
      describe_task(g, h, who, sizeof who);
      ADD(" %s", who);
      if (g->tasks[h].reason != TT_WAIT_MUTEX || g->tasks[h].status == G_LIVE)
        return;
      ADD(", locked by");
      h = task_by_id(g, g->tasks[h].mutex_holder);
    }
    if (h < 0)
      ADD(" a task that has exited");
    return;
  }
  /* Everything else waits on primitives only blocked tasks can reach. */
  int others = 0;
  for (uint32_t k = 0; k < t->nwait; k++) {
    const gnode *n = node_of(g, g->waits[t->wait0 + k].obj, g->waits[t->wait0 + k].serial);
    for (int h = 0; n && h < n->nholders; h++)
      others += n->holders[h] != i;
  }
  switch (t->reason) {
  case TT_WAIT_SELECT: v->cls = TT_LEAK_SELECT_CHAIN; break;
  case TT_WAIT_WAITGROUP: v->cls = TT_LEAK_WG_NEVER_DONE; break;
  default:
    v->cls = others ? TT_LEAK_CHAN_CHAIN : t->holder_gone ? TT_LEAK_ERROR_PATH : TT_LEAK_SELF_WAIT;
  }
  if (!others) {
    ADD("no other task can reach %s", t->nwait > 1 ? "any of them" : "it");
    if (t->holder_gone)
      ADD("; a task that held a reference to it has exited");
    return;
  }
  ADD("only tasks that can never run again can reach %s:", t->nwait > 1 ? "them" : "it");
  int32_t named[PROOF_HOLDERS * 2];
  int nnamed = 0;
  for (uint32_t k = 0; k < t->nwait; k++) {
    const gnode *n = node_of(g, g->waits[t->wait0 + k].obj, g->waits[t->wait0 + k].serial);
    for (int h = 0; n && h < n->nholders; h++) {
      int32_t who_i = n->holders[h];
      bool seen = who_i == i;
      for (int m = 0; m < nnamed && !seen; m++)
        seen = named[m] == who_i;
      if (seen || nnamed == (int)(sizeof named / sizeof named[0]))
        continue;
      named[nnamed++] = who_i;
      char who[96];
      describe_task(g, who_i, who, sizeof who);
      ADD(" %s;", who);
    }
  }
#undef ADD
}

static int cmp_id(const void *a, const void *b) {
  int64_t x = ((const verdict *)a)->id, y = ((const verdict *)b)->id;
  return (x > y) - (x < y);
}

/* The candidates of a pass: blocked tasks the fixpoint never reached. */
static verdict *candidates(graph *g, size_t *n) {
  size_t k = 0;
  for (size_t i = 0; i < g->ntasks; i++)
    k += g->tasks[i].status == G_BLOCKED;
  *n = 0;
  if (!k)
    return NULL;
  verdict *v = calloc(k, sizeof *v);
  if (!v)
    return NULL;
  collect_holders(g);
  for (size_t i = 0; i < g->ntasks; i++) {
    if (g->tasks[i].status != G_BLOCKED)
      continue;
    v[*n].id = g->tasks[i].id;
    v[*n].resumes = g->tasks[i].resumes;
    v[*n].reason = g->tasks[i].reason;
    prove(g, (int32_t)i, &v[*n]);
    (*n)++;
  }
  qsort(v, *n, sizeof *v, cmp_id);
  return v;
}

/* ---- Marking the leaked tasks ------------------------------------------------------ */

typedef struct marker {
  tt__walker wk;
  verdict *v;
  size_t n;
  int64_t found;
  int64_t by_task;
  const uintptr_t *by_pcs;
  int nby;
} marker;

static bool mark_take(tt__walker *wk, const tt_task *ct) {
  marker *m = (marker *)wk;
  verdict key = {.id = ct->id};
  verdict *v = bsearch(&key, m->v, m->n, sizeof *m->v, cmp_id);
  if (!v)
    return true;
  tt_task *t = (tt_task *)ct;
  if (atomic_load_explicit(&t->resumes, memory_order_acquire) != v->resumes ||
      atomic_load_explicit(&t->state, memory_order_acquire) != TT_ST_WAITING ||
      atomic_load_explicit(&t->leaked, memory_order_relaxed))
    return true;
  atomic_store_explicit(&t->leaked, (uint8_t)v->cls, memory_order_relaxed);
  tt__leak_record_graph(v->cls, t, (tt_wait_reason)v->reason, v->obj, v->detail, m->by_task,
                        m->by_pcs, m->nby);
  m->found++;
  return true;
}

static bool mark_flush(tt__walker *wk) {
  (void)wk;
  return true;
}

static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;
static graph cached; /* under check_lock */

/* by_*: the event that asked for this run (instant mode), for the report. */
static int64_t check(int64_t by_task, const uintptr_t *by_pcs, int nby) {
  if (!TT_BOOKKEEPING)
    return 0;
  if (atomic_load(&tt__rt.state) != TT_RT_RUNNING)
    return TT_ENOTINIT;
  pthread_mutex_lock(&check_lock); /* one run at a time: verdicts are marked once */
  graph *g = &cached;
  int64_t found = 0;
  size_t n1 = 0, n2 = 0;
  verdict *v1 = NULL, *v2 = NULL;
  bool ok = pass(g);
  if (ok)
    v1 = candidates(g, &n1);
  if (ok && n1) {
    ok = pass(g);
    if (ok)
      v2 = candidates(g, &n2);
    /* Keep what both passes found about a task that did not run between. */
    size_t k = 0;
    for (size_t i = 0; i < n2; i++) {
      verdict *a = bsearch(&v2[i], v1, n1, sizeof *v1, cmp_id);
      if (a && a->resumes == v2[i].resumes)
        v2[k++] = v2[i];
    }
    n2 = k;
    if (n2) {
      marker m = {.wk = {.take = mark_take, .flush = mark_flush},
                  .v = v2,
                  .n = n2,
                  .by_task = by_task,
                  .by_pcs = by_pcs,
                  .nby = nby};
      tt__tasks_walk(&m.wk);
      found = m.found;
    }
  }
  free(v1);
  free(v2);
  pthread_mutex_unlock(&check_lock);
  if (found)
    tt__leak_flush();
  if (!ok)
    return TT_ENOMEM;
  return found;
}

int64_t tt_leak_check(void) { return check(0, NULL, 0); }

/* ---- Instant mode: a background run after each event ---------------------------------- */

#define EVENT_FRAMES 32

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;
static _Atomic bool ev_pending;  /* a run is due: later events need not say so */
static _Atomic bool ev_checking; /* a run is under way */
static bool ev_running, ev_stop;
static pthread_t ev_thread;
static int64_t ev_task;
static uintptr_t ev_pcs[EVENT_FRAMES];
static int ev_npcs;

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *event_loop(void *arg) {
  (void)arg;
  tt__thread_known(true);            /* it never wakes a task: not a way out of a deadlock */
  const int64_t min_pause = 2000000; /* ns */
  int64_t pause = min_pause;
  pthread_mutex_lock(&ev_lock);
  while (!ev_stop) {
    if (!atomic_load(&ev_pending)) {
      pthread_cond_wait(&ev_cond, &ev_lock);
      continue;
    }
    /* Debounce, so that a burst of events (a pool shutting down) makes one
     * run, and keep to a tenth of a core: a run over many tasks is long. */
    pthread_mutex_unlock(&ev_lock);
    nanosleep(&(struct timespec){pause / 1000000000, pause % 1000000000}, NULL);
    pthread_mutex_lock(&ev_lock);
    atomic_store(&ev_checking, true);
    atomic_store(&ev_pending, false);
    int64_t by = ev_task;
    uintptr_t pcs[EVENT_FRAMES];
    int n = ev_npcs;
    memcpy(pcs, ev_pcs, sizeof pcs);
    pthread_mutex_unlock(&ev_lock);
    int64_t t0 = mono_ns();
    check(by, pcs, n);
    int64_t took = mono_ns() - t0;
    pause = took * 9 > min_pause ? took * 9 : min_pause;
    atomic_store(&ev_checking, false);
    /* A global deadlock check deferred to this run: ask again if every
     * worker went idle meanwhile (none will go idle again to ask). */
    if (!atomic_load(&ev_pending) && atomic_load(&tt__rt.nidle) == tt__rt.nworkers &&
        tt__timers_earliest() == INT64_MAX)
      tt__checkdead();
    pthread_mutex_lock(&ev_lock);
  }
  pthread_mutex_unlock(&ev_lock);
  tt__thread_known(false);
  return NULL;
}

void tt__leakgraph_event(void) {
  if (atomic_load_explicit(&ev_pending, memory_order_relaxed))
    return; /* the run that is due will see this event's effect too */
  int mode = tt__leak_mode_now();
  if (mode == TT_LEAK_RECORD || atomic_load(&tt__rt.state) != TT_RT_RUNNING)
    return;
  uintptr_t pcs[EVENT_FRAMES];
  tt_task *self = tt__current();
  int n = self ? tt__stack_walk_self(self, pcs, EVENT_FRAMES) : 0;
  pthread_mutex_lock(&ev_lock);
  if (!ev_running && !ev_stop) {
    ev_running = tt__thread_create(&ev_thread, NULL, event_loop, NULL) == 0;
  }
  atomic_store(&ev_pending, true);
  ev_task = self ? self->id : 0;
  ev_npcs = n;
  memcpy(ev_pcs, pcs, (size_t)n * sizeof *pcs);
  pthread_cond_signal(&ev_cond);
  pthread_mutex_unlock(&ev_lock);
}

bool tt__leakgraph_busy(void) { return atomic_load(&ev_pending) || atomic_load(&ev_checking); }

void tt__leakgraph_shutdown(void) {
  pthread_mutex_lock(&check_lock);
  graph_free(&cached);
  cached = (graph){0};
  pthread_mutex_unlock(&check_lock);
  pthread_mutex_lock(&ev_lock);
  bool running = ev_running;
  ev_stop = true;
  pthread_cond_signal(&ev_cond);
  pthread_mutex_unlock(&ev_lock);
  if (running)
    pthread_join(ev_thread, NULL);
  pthread_mutex_lock(&ev_lock);
  ev_running = ev_stop = false;
  atomic_store(&ev_pending, false);
  pthread_mutex_unlock(&ev_lock);
}
