/*
 * Verify-none: goleak for C. At the end of a test, look for tasks that
 * should not exist any more, giving tasks on their way out time to leave:
 * the check is retried with exponential backoff (1 us, doubling, at most
 * 100 ms per sleep, as goleak does) until nothing unexpected is left or
 * max_wait has passed. Then every leftover task is reported with what a
 * reader needs to find its bug: state, wait reason and for how long, the
 * spawn site and parent, the primitive it waits on and its symbolized stack.
 *
 * Scopes attribute tasks to tests. A scope is an id stored in every task
 * record (task.c inherits it at spawn from the spawning task, or from the
 * spawning thread's tt__thread_scope), so a task keeps its test's scope even
 * after the task that spawned it has exited.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leak/hooks.h" /* tt__leak_class_name */
#include "observe/snapshot.h"

#define DEFAULT_MAX_WAIT (500 * 1000000LL)
#define FIRST_SLEEP 1000LL          /* 1 us */
#define MAX_SLEEP (100 * 1000000LL) /* 100 ms */
#define REPORT_FRAMES TT_SNAP_MAX_FRAMES

/* ---- Scopes ----------------------------------------------------------- */

static _Atomic int64_t last_scope;

int64_t tt_scope_begin(void) {
  int64_t id = atomic_fetch_add(&last_scope, 1) + 1;
  tt_task *t = tt__current();
  if (t) {
    /* Snapshots read the scope under the task list's lock; write it under
     * the same lock. (The list of a live task never changes.) */
    tt_spin_lock(&t->list->lock);
    t->scope = id;
    tt_spin_unlock(&t->list->lock);
  } else {
    tt__thread_scope = id;
  }
  return id;
}

int64_t tt_scope_current(void) {
  tt_task *t = tt__current();
  return t ? t->scope : tt__thread_scope;
}

/* ---- Snapshots of ids (opts.ignore_current) ---------------------------- */

struct tt_verify_snapshot {
  size_t n;
  int64_t ids[]; /* ascending */
};

tt_verify_snapshot *tt_verify_snapshot_take(void) {
  tt_snapshot s;
  memset(&s, 0, sizeof s);
  int rc = tt__snapshot_take(&s, 0);
  if (rc == TT_ENOTINIT || rc == TT_ESHUTDOWN)
    return calloc(1, sizeof(tt_verify_snapshot)); /* no runtime (soon), no tasks */
  if (rc < 0)
    return NULL;
  tt_verify_snapshot *v = malloc(sizeof *v + s.ntasks * sizeof v->ids[0]);
  if (v) {
    v->n = s.ntasks;
    for (size_t i = 0; i < s.ntasks; i++)
      v->ids[i] = s.tasks[i].info.id; /* the snapshot is sorted by id */
  }
  tt__snapshot_free(&s);
  return v;
}

void tt_verify_snapshot_free(tt_verify_snapshot *s) { free(s); }

static bool snapshot_has(const tt_verify_snapshot *v, int64_t id) {
  size_t lo = 0, hi = v->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (v->ids[mid] == id)
      return true;
    if (v->ids[mid] < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return false;
}

/* ---- Deciding what is unexpected --------------------------------------- */

static bool in_list(const char *const *list, const char *s) {
  if (!list || !s)
    return false;
  for (; *list; list++)
    if (strcmp(*list, s) == 0)
      return true;
  return false;
}

/* The frames of one record, symbolized once and only when needed. */
typedef struct frames {
  tt_frame f[REPORT_FRAMES];
  int n;   /* -1: not yet symbolized */
  int top; /* first frame outside the runtime */
} frames;

static void frames_get(const tt_snapshot *s, const tt_taskrec *r, frames *fr) {
  if (fr->n >= 0)
    return;
  fr->n = 0;
  fr->top = 0;
  if (r->stack == TT_SNAP_STACK_OK) {
    fr->n = tt__snapshot_frames(s, r, fr->f, REPORT_FRAMES);
    fr->top = tt__first_user_frame(fr->f, fr->n);
  }
}

/* Is record r one the caller did not expect? */
static bool unexpected(const tt_verify_opts *o, int64_t self, const tt_snapshot *s,
                       const tt_taskrec *r, frames *fr) {
  const tt_task_info *in = &r->info;
  if (r->self || in->id == self)
    return false;
  /* The main task of tt_main waits for the test code it runs. */
  if (in->parent_id == 0 && strcmp(in->name, "main") == 0)
    return false;
  if (o->scope && r->scope != o->scope)
    return false;
  if (o->ignore_current && snapshot_has(o->ignore_current, in->id))
    return false;
  if (in->name[0] && in_list(o->ignore_names, in->name))
    return false;
  if (in_list(o->ignore_created_by, in->spawn_func))
    return false;
  if (!o->ignore_top && !o->ignore_any)
    return true;
  frames_get(s, r, fr);
  if (fr->n == 0) {
    /* No stack to look at (running elsewhere, or no walker): the entry
     * function stands in for it. */
    return !in_list(o->ignore_top, in->entry) && !in_list(o->ignore_any, in->entry);
  }
  if (in_list(o->ignore_top, fr->f[fr->top].func))
    return false;
  if (o->ignore_any) {
    for (int i = 0; i < fr->n; i++)
      if (in_list(o->ignore_any, fr->f[i].func))
        return false;
    if (in_list(o->ignore_any, in->entry))
      return false;
  }
  return true;
}

/* ---- The report -------------------------------------------------------- */

typedef struct vr_frame {
  char *func, *file;
  int line;
  uintptr_t offset;
} vr_frame;

typedef struct vr_task {
  int64_t id, parent_id;
  bool parent_alive;
  tt_task_state state;
  char name[32];
  const char *state_name, *wait_reason; /* static strings */
  int64_t waited;                       /* ns; -1 unless waiting */
  char *entry, *spawn_file, *spawn_func, *wait_file;
  int spawn_line, wait_line;
  uint8_t stack;  /* TT_SNAP_STACK_* */
  uint8_t leaked; /* TT_LEAK_*: proven leaked by the detector, and why */
  vr_frame *frames;
  int nframes;
} vr_task;

struct tt_verify_report {
  int64_t n;
  int64_t scope;
  int64_t max_wait;
  vr_task *tasks;
};

static char *dup_str(const char *s) { return strdup(s ? s : ""); }

void tt_verify_report_free(tt_verify_report *r) {
  if (!r)
    return;
  for (int64_t i = 0; i < r->n; i++) {
    vr_task *t = &r->tasks[i];
    free(t->entry);
    free(t->spawn_file);
    free(t->spawn_func);
    free(t->wait_file);
    for (int j = 0; j < t->nframes; j++) {
      free(t->frames[j].func);
      free(t->frames[j].file);
    }
    free(t->frames);
  }
  free(r->tasks);
  free(r);
}

int64_t tt_verify_report_count(const tt_verify_report *r) { return r ? r->n : 0; }

static bool snapshot_alive(const tt_snapshot *s, int64_t id) {
  size_t lo = 0, hi = s->ntasks;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int64_t x = s->tasks[mid].info.id;
    if (x == id)
      return true;
    if (x < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return false;
}

static bool report_add(tt_verify_report *rep, const tt_snapshot *s, const tt_taskrec *r,
                       frames *fr) {
  const tt_task_info *in = &r->info;
  vr_task *t = &rep->tasks[rep->n];
  memset(t, 0, sizeof *t);
  t->id = in->id;
  t->parent_id = in->parent_id;
  t->parent_alive = in->parent_id > 0 && snapshot_alive(s, in->parent_id);
  t->state = in->state;
  memcpy(t->name, in->name, sizeof t->name);
  t->name[sizeof t->name - 1] = '\0';
  t->state_name = in->state_name ? in->state_name : "";
  t->wait_reason = in->wait_reason ? in->wait_reason : "";
  t->waited = -1;
  if (in->state == TT_TASK_WAITING && in->wait_since > 0)
    t->waited = s->now > in->wait_since ? s->now - in->wait_since : 0;
  t->spawn_line = in->spawn_line;
  t->wait_line = r->wait_line;
  t->stack = r->stack;
  t->leaked = r->leaked;
  t->entry = dup_str(in->entry);
  t->spawn_file = dup_str(in->spawn_file);
  t->spawn_func = dup_str(in->spawn_func);
  t->wait_file = r->wait_file ? dup_str(r->wait_file) : NULL;
  rep->n++; /* from here on, free() releases what was copied */
  if (!t->entry || !t->spawn_file || !t->spawn_func || (r->wait_file && !t->wait_file))
    return false;
  frames_get(s, r, fr);
  if (fr->n == 0)
    return true;
  /* Show the frames as a debug=2 dump does: the user's only, the first
   * being the call that blocked (the wait reason says what it waits in),
   * unless TT_TRACEBACK=system. fr stays whole for the ignore filters. */
  tt_frame shown[REPORT_FRAMES];
  memcpy(shown, fr->f, (size_t)fr->n * sizeof shown[0]);
  int n = tt__frames_for_traceback(shown, fr->n, tt__traceback_system());
  t->frames = calloc((size_t)n, sizeof *t->frames);
  if (!t->frames)
    return false;
  for (int i = 0; i < n; i++) {
    vr_frame *f = &t->frames[t->nframes++];
    f->func = dup_str(shown[i].func);
    f->file = dup_str(shown[i].file);
    f->line = shown[i].line;
    f->offset = shown[i].offset;
    if (!f->func || !f->file)
      return false;
  }
  return true;
}

static const char *base_name(const char *path) {
  const char *b = strrchr(path, '/');
  return b ? b + 1 : path;
}

static void print_duration(FILE *out, int64_t ns) {
  if (ns < 1000000)
    fputs("<1ms", out);
  else if (ns < 1000000000LL)
    fprintf(out, "%lldms", (long long)(ns / 1000000));
  else if (ns < 60000000000LL)
    fprintf(out, "%.1fs", (double)ns / 1e9);
  else
    fprintf(out, "%lldm%02llds", (long long)(ns / 60000000000LL),
            (long long)(ns / 1000000000LL % 60));
}

/* What kind of primitive a wait reason waits on, for "waits on the ...". */
static const char *primitive_kind(const char *reason) {
  if (strncmp(reason, "chan", 4) == 0)
    return "channel";
  if (strncmp(reason, "sync.WaitGroup", 14) == 0)
    return "WaitGroup";
  if (strncmp(reason, "sync.RWMutex", 12) == 0)
    return "rwmutex";
  if (strncmp(reason, "sync.Mutex", 10) == 0)
    return "mutex";
  if (strncmp(reason, "sync.Cond", 9) == 0)
    return "condition variable";
  if (strcmp(reason, "semacquire") == 0)
    return "semaphore";
  return "object";
}

static void print_task(FILE *out, const vr_task *t) {
  fprintf(out, "  task %lld", (long long)t->id);
  if (t->name[0])
    fprintf(out, " \"%s\"", t->name);
  if (t->state == TT_TASK_WAITING) {
    fprintf(out, " [%s", t->wait_reason[0] ? t->wait_reason : "waiting");
    if (t->waited >= 0) {
      fputs(", waiting ", out);
      print_duration(out, t->waited);
    }
    fputc(']', out);
  } else {
    fprintf(out, " [%s]", t->state_name);
  }
  fprintf(out, " spawned at %s:%d by %s", base_name(t->spawn_file), t->spawn_line,
          t->spawn_func[0] ? t->spawn_func : "?");
  if (t->parent_id > 0)
    fprintf(out, " (parent task %lld%s)\n", (long long)t->parent_id,
            t->parent_alive ? "" : ", exited");
  else
    fputs(" (from a plain thread)\n", out);
  if (t->wait_file)
    fprintf(out, "    waits on the %s made at %s:%d\n", primitive_kind(t->wait_reason),
            base_name(t->wait_file), t->wait_line);
  if (t->leaked) /* not a suspect: the detector proved it can never run again */
    fprintf(out, "    proven leaked: %s\n", tt__leak_class_name(t->leaked));
  if (t->nframes == 0) {
    const char *why = t->stack == TT_SNAP_STACK_RUNNING ? "running on another worker"
                                                        : "no stack walker on this build";
    fprintf(out, "    %s(...)\n        (entry function; stack unavailable: %s)\n", t->entry, why);
    return;
  }
  for (int i = 0; i < t->nframes; i++) {
    const vr_frame *f = &t->frames[i];
    fprintf(out, "    %s(...)\n", f->func[0] ? f->func : "?");
    fprintf(out, "        %s:%d +0x%lx\n", tt__file_or_unknown(f->file), f->line,
            (unsigned long)f->offset);
  }
}

int tt_verify_report_print(const tt_verify_report *r, FILE *out) {
  if (!r)
    return TT_EINVAL;
  if (!out)
    out = stderr;
  fprintf(out, "found %lld unexpected task%s", (long long)r->n, r->n == 1 ? "" : "s");
  if (r->scope)
    fprintf(out, " in scope %lld", (long long)r->scope);
  fputs(" (still there after ", out);
  print_duration(out, r->max_wait);
  fputs("):\n", out);
  for (int64_t i = 0; i < r->n; i++) {
    if (i > 0)
      fputc('\n', out);
    print_task(out, &r->tasks[i]);
  }
  fflush(out);
  return ferror(out) ? TT_EINVAL : 0;
}

/* ---- The check ---------------------------------------------------------- */

static void pause_for(int64_t ns) {
  if (tt__current()) {
    tt_sleep(ns);
    return;
  }
  struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static int64_t count_unexpected(const tt_verify_opts *o, int64_t self, const tt_snapshot *s) {
  int64_t n = 0;
  frames *fr = malloc(sizeof *fr);
  if (!fr)
    return TT_ENOMEM;
  for (size_t i = 0; i < s->ntasks; i++) {
    fr->n = -1;
    if (unexpected(o, self, s, &s->tasks[i], fr))
      n++;
  }
  free(fr);
  return n;
}

static int64_t make_report(const tt_verify_opts *o, int64_t self, const tt_snapshot *s,
                           int64_t max_wait, tt_verify_report **report) {
  tt_verify_report *rep = calloc(1, sizeof *rep);
  frames *fr = malloc(sizeof *fr);
  if (rep)
    rep->tasks = calloc(s->ntasks ? s->ntasks : 1, sizeof *rep->tasks);
  if (!rep || !rep->tasks || !fr) {
    free(fr);
    tt_verify_report_free(rep);
    return TT_ENOMEM;
  }
  rep->scope = o->scope;
  rep->max_wait = max_wait;
  for (size_t i = 0; i < s->ntasks; i++) {
    fr->n = -1;
    if (unexpected(o, self, s, &s->tasks[i], fr) && !report_add(rep, s, &s->tasks[i], fr)) {
      free(fr);
      tt_verify_report_free(rep);
      return TT_ENOMEM;
    }
  }
  free(fr);
  int64_t n = rep->n;
  if (n > 0 && report)
    *report = rep;
  else
    tt_verify_report_free(rep);
  return n;
}

int64_t tt_verify_none(const tt_verify_opts *opts, tt_verify_report **report) {
  if (report)
    *report = NULL;
  tt_verify_opts o = {0};
  if (opts)
    o = *opts;
  if (o.max_wait < 0 || o.scope < 0)
    return TT_EINVAL;
  int64_t max_wait = o.max_wait ? o.max_wait : DEFAULT_MAX_WAIT;
  int64_t self = tt_self();
  /* Stacks are walked for the report, and for every try only when an
   * option looks at them. */
  unsigned try_flags = (o.ignore_top || o.ignore_any) ? TT_SNAP_STACKS : 0;
  int64_t deadline = tt_now() + max_wait;
  int64_t delay = FIRST_SLEEP;
  tt_snapshot s;
  for (;;) {
    memset(&s, 0, sizeof s);
    int rc = tt__snapshot_take(&s, try_flags);
    if (rc == TT_ENOTINIT)
      return 0; /* no runtime: no tasks */
    if (rc < 0)
      return rc;
    int64_t n = count_unexpected(&o, self, &s);
    tt__snapshot_free(&s);
    if (n <= 0)
      return n; /* clean, or out of memory */
    int64_t now = tt_now();
    if (now >= deadline)
      break;
    pause_for(delay < deadline - now ? delay : deadline - now);
    delay = delay * 2 < MAX_SLEEP ? delay * 2 : MAX_SLEEP;
  }
  /* Still unclean at the deadline: one last look, with stacks, to report. */
  memset(&s, 0, sizeof s);
  int rc = tt__snapshot_take(&s, TT_SNAP_STACKS);
  if (rc == TT_ENOTINIT)
    return 0;
  if (rc < 0)
    return rc;
  int64_t n = make_report(&o, self, &s, max_wait, report);
  tt__snapshot_free(&s);
  return n;
}

/* ---- tt_verify_main ----------------------------------------------------- */

typedef struct verify_main_arg {
  int (*tests)(void *arg);
  void *arg;
  const tt_verify_opts *opts;
  int rc;
  int64_t leftovers;
} verify_main_arg;

static void verify_main_task(void *p) {
  verify_main_arg *m = p;
  m->rc = m->tests(m->arg);
  tt_verify_report *rep = NULL;
  m->leftovers = tt_verify_none(m->opts, &rep);
  /* Print from here, before tt_main shuts the runtime down: a leftover task
   * stuck in a blocking call would hold the shutdown up. */
  if (m->leftovers > 0) {
    fputs("tt_verify_main: ", stderr);
    tt_verify_report_print(rep, stderr);
  } else if (m->leftovers < 0) {
    fprintf(stderr, "tt_verify_main: verify-none failed: %s\n", tt_strerror((int)m->leftovers));
  }
  tt_verify_report_free(rep);
}

int tt_verify_main(int (*tests)(void *arg), void *arg, const tt_verify_opts *opts) {
  if (!tests || (opts && (opts->max_wait < 0 || opts->scope < 0)))
    return TT_EINVAL;
  verify_main_arg m = {.tests = tests, .arg = arg, .opts = opts, .rc = 0, .leftovers = 0};
  int rc = tt__main(verify_main_task, &m, "tests", __FILE__, __LINE__, __func__);
  if (rc < 0)
    return rc;
  return m.leftovers != 0 ? 1 : m.rc;
}
