/*
 * test_gotext: the Go-format dumps (debug=2 and debug=1), tt_task_stack and
 * the dump signal, on tasks parked in known states at known lines.
 *
 * The debug=2 output is read back by a strict parser of Go's grammar: any
 * line that is not a header, a frame, a frame location, a "created by" pair
 * or the "stack unavailable" note fails the test.
 */
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <sys/stat.h>

#define GO_AT(line_var, fn, arg) ((line_var) = __LINE__, tt_go(fn, arg))

#define NSLEEPERS 3

static tt_chan *g_never; /* nobody sends on it until the end */
static tt_mutex g_mu;
static atomic_int g_spin_stop;
static int g_recv_line, g_sleep_line, g_lock_line, g_dump_line;
static int g_recv_spawn_line, g_sleep_spawn_line, g_lock_spawn_line;

static void receiver_task(void *arg) {
  (void)arg;
  int v;
  g_recv_line = __LINE__ + 1;
  tt_chan_recv(g_never, &v);
}

static void sleeper_task(void *arg) {
  (void)arg;
  g_sleep_line = __LINE__ + 1;
  int rc = tt_sleep(TT_MS(60000));
  CHECK(rc == 0 || rc == TT_ESHUTDOWN); /* not a tail call: keeps this frame */
}

static void locker_task(void *arg) {
  (void)arg;
  g_lock_line = __LINE__ + 1;
  tt_mutex_lock(&g_mu);
  tt_mutex_unlock(&g_mu);
}

/* A call the compiler must inline: its frame shows only through the
 * DWARF inline scopes, at the line inside it, and the task's own frame at
 * the line of the inlined call. */
static int g_inlined_line, g_inlined_call_line;
static inline __attribute__((always_inline)) void inlined_wait(void) {
  int v;
  g_inlined_line = __LINE__ + 1;
  tt_chan_recv(g_never, &v);
}

static void inliner_task(void *arg) {
  (void)arg;
  g_inlined_call_line = __LINE__ + 1;
  inlined_wait();
  CHECK(arg == NULL); /* not a tail call: keeps this frame */
}

/* A call that is mostly prologue and return: a sample often lands where
 * its frame pointer is not set up yet, or no longer. */
static volatile int g_tiny_sink;
__attribute__((noinline)) static void tiny_call(void) { g_tiny_sink = 1; }

static void spinner_task(void *arg) {
  (void)arg;
  while (!atomic_load(&g_spin_stop))
    tiny_call();
}

/* ---- a parser of Go's debug=2 grammar ------------------------------------ */

typedef struct gframe {
  char func[128];
  char file[256];
  int line;
} gframe;

typedef struct gblock {
  long long id;
  char status[96];
  int nframes;
  gframe frames[64];
  int unavailable;
  char created_by[128];
  long long created_in; /* 0 when not "in goroutine N" */
  char created_file[256];
  int created_line;
} gblock;

typedef struct gdump {
  int n;
  gblock *blocks;
  char error[256];
} gdump;

static int parse_location(const char *s, char *file, size_t fn, int *line) {
  /* "\t<file>:<line>" with an optional " +0x<hex>" */
  if (s[0] != '\t')
    return 0;
  s++;
  const char *end = strstr(s, " +0x");
  size_t len = end ? (size_t)(end - s) : strlen(s);
  if (end) {
    const char *h = end + 4;
    if (!*h)
      return 0;
    for (; *h; h++)
      if (!((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f')))
        return 0;
  }
  const char *colon = NULL;
  for (const char *p = s; p < s + len; p++)
    if (*p == ':')
      colon = p;
  if (!colon || colon == s)
    return 0;
  snprintf(file, fn, "%.*s", (int)(colon - s), s);
  char *stop;
  long v = strtol(colon + 1, &stop, 10);
  if (stop != s + len)
    return 0;
  *line = (int)v;
  return 1;
}

static gdump parse_debug2(const char *text) {
  gdump d = {0, calloc(4096, sizeof(gblock)), ""};
  char *copy = strdup(text), *save = NULL;
  gblock *b = NULL;
  enum { HEADER, BODY, CREATED_LOC, FRAME_LOC, END } want = HEADER;
  int lineno = 0;
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    lineno++;
    /* strtok_r swallows blank lines; blocks are told apart by headers */
    if (strncmp(line, "goroutine ", 10) == 0 && (want == HEADER || want == BODY || want == END)) {
      if (d.n == 4096) {
        snprintf(d.error, sizeof d.error, "too many blocks");
        break;
      }
      b = &d.blocks[d.n++];
      char tail[8] = "";
      if (sscanf(line, "goroutine %lld [%95[^]]]%7s", &b->id, b->status, tail) != 3 ||
          strcmp(tail, ":") != 0) {
        snprintf(d.error, sizeof d.error, "line %d: bad header \"%s\"", lineno, line);
        break;
      }
      want = BODY;
    } else if (want == BODY && strcmp(line, "\tgoroutine running on other thread; stack "
                                            "unavailable") == 0) {
      b->unavailable = 1;
    } else if (want == BODY && strncmp(line, "created by ", 11) == 0) {
      const char *in = strstr(line, " in goroutine ");
      size_t len = in ? (size_t)(in - line - 11) : strlen(line + 11);
      snprintf(b->created_by, sizeof b->created_by, "%.*s", (int)len, line + 11);
      b->created_in = in ? atoll(in + 14) : 0;
      want = CREATED_LOC;
    } else if (want == CREATED_LOC) {
      if (!parse_location(line, b->created_file, sizeof b->created_file, &b->created_line)) {
        snprintf(d.error, sizeof d.error, "line %d: bad created-by location \"%s\"", lineno, line);
        break;
      }
      want = END;
    } else if (want == BODY) {
      size_t len = strlen(line);
      if (len < 6 || strcmp(line + len - 5, "(...)") != 0 || b->nframes == 64) {
        snprintf(d.error, sizeof d.error, "line %d: bad frame \"%s\"", lineno, line);
        break;
      }
      snprintf(b->frames[b->nframes].func, sizeof b->frames[0].func, "%.*s", (int)(len - 5), line);
      want = FRAME_LOC;
    } else if (want == FRAME_LOC) {
      gframe *f = &b->frames[b->nframes];
      if (!parse_location(line, f->file, sizeof f->file, &f->line)) {
        snprintf(d.error, sizeof d.error, "line %d: bad frame location \"%s\"", lineno, line);
        break;
      }
      b->nframes++;
      want = BODY;
    } else {
      snprintf(d.error, sizeof d.error, "line %d: unexpected \"%s\"", lineno, line);
      break;
    }
  }
  if (!d.error[0] && want != END && d.n > 0)
    snprintf(d.error, sizeof d.error, "the last block has no created-by pair");
  free(copy);
  return d;
}

static const gblock *block_of(const gdump *d, int64_t id) {
  for (int i = 0; i < d->n; i++)
    if (d->blocks[i].id == id)
      return &d->blocks[i];
  return NULL;
}

/* The frame of `func` in a block, or NULL. */
static const gframe *frame_of(const gblock *b, const char *func) {
  for (int i = 0; b && i < b->nframes; i++)
    if (strcmp(b->frames[i].func, func) == 0)
      return &b->frames[i];
  return NULL;
}

/* noinline: the dump's frame must be the caller's line, not this one's */
__attribute__((noinline)) static char *dump_string(tt_dump_format format) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  CHECK_EQ(tt_dump_as(f, format), 0);
  fclose(f);
  return buf;
}

/* ---- the scenario -------------------------------------------------------- */

static int64_t g_main_id, g_recv_id, g_lock_id, g_spin_id, g_inliner_id, g_sleep_ids[NSLEEPERS];

__attribute__((noinline)) static void check_debug2(void) {
  NOTE("debug=2 dump");
  g_dump_line = __LINE__ + 1;
  char *text = dump_string(TT_DUMP_GO_DEBUG2);
  gdump d = parse_debug2(text);
  CHECK_MSG(d.error[0] == 0, "debug=2 does not parse: %s\n%s", d.error, text);
  CHECK_EQ(d.n, tt_num_tasks());
  /* blocks come in id order, with a blank line between them */
  for (int i = 1; i < d.n; i++)
    CHECK(d.blocks[i - 1].id < d.blocks[i].id);
  CHECK(strstr(text, ":\n\n") == NULL && strstr(text, "\n\ngoroutine ") != NULL);

  const gblock *b = block_of(&d, g_recv_id);
  CHECK(b != NULL);
  if (b) {
    CHECK_STREQ(b->status, "chan receive");
    const gframe *f = frame_of(b, "receiver_task");
    CHECK_MSG(f != NULL, "no receiver_task frame:\n%s", text);
    if (f) {
      CHECK_STREQ(f->file, __FILE__);
      CHECK_EQ(f->line, g_recv_line);
    }
    /* the user's frame comes first, as in Go: the runtime's are hidden */
    CHECK_MSG(b->nframes > 0 && strcmp(b->frames[0].func, "receiver_task") == 0,
              "the first frame must be the user's:\n%s", text);
    CHECK_MSG(strstr(text, "/src/sync/") == NULL && strstr(text, "/src/core/") == NULL,
              "runtime frames shown:\n%s", text);
    /* the task's entry is its last frame: the runtime's trampoline is cut */
    CHECK(b->nframes > 0 && strcmp(b->frames[b->nframes - 1].func, "receiver_task") == 0);
    CHECK_STREQ(b->created_by, "scenario_main");
    CHECK_EQ(b->created_in, g_main_id);
    CHECK_STREQ(b->created_file, __FILE__);
    CHECK_EQ(b->created_line, g_recv_spawn_line);
  }
  for (int i = 0; i < NSLEEPERS; i++) {
    b = block_of(&d, g_sleep_ids[i]);
    CHECK(b != NULL);
    if (!b)
      continue;
    CHECK_STREQ(b->status, "sleep");
    const gframe *f = frame_of(b, "sleeper_task");
    CHECK(f != NULL && f->line == g_sleep_line);
    CHECK_EQ(b->created_line, g_sleep_spawn_line);
  }
  b = block_of(&d, g_inliner_id);
  CHECK(b != NULL);
  if (b) {
    /* Go's traceback shows an inlined call as a frame of its own: the
     * inlined function at its line, then its caller at the call's line. */
    CHECK_MSG(b->nframes >= 2 && strcmp(b->frames[0].func, "inlined_wait") == 0 &&
                  strcmp(b->frames[1].func, "inliner_task") == 0,
              "inlined frames:\n%s", text);
    if (b->nframes >= 2) {
      CHECK_STREQ(b->frames[0].file, __FILE__);
      CHECK_EQ(b->frames[0].line, g_inlined_line);
      CHECK_STREQ(b->frames[1].file, __FILE__);
      CHECK_EQ(b->frames[1].line, g_inlined_call_line);
    }
  }
  b = block_of(&d, g_lock_id);
  CHECK(b != NULL);
  if (b) {
    CHECK_STREQ(b->status, "sync.Mutex.Lock");
    const gframe *f = frame_of(b, "locker_task");
    CHECK(f != NULL && f->line == g_lock_line);
  }
  if (g_spin_id) {
    b = block_of(&d, g_spin_id);
    CHECK(b != NULL);
    if (b) {
      /* its own thread sampled its stack: the loop it spins in */
      CHECK_STREQ(b->status, "running");
      CHECK_EQ(b->unavailable, 0);
      CHECK_MSG(b->nframes > 0 && (strcmp(b->frames[0].func, "spinner_task") == 0 ||
                                   (b->nframes > 1 && strcmp(b->frames[0].func, "tiny_call") == 0 &&
                                    strcmp(b->frames[1].func, "spinner_task") == 0)),
                "no sampled stack for the running task:\n%s", text);
    }
  }
  /* the dumping task shows its own stack, running, down to this function */
  b = block_of(&d, g_main_id);
  CHECK(b != NULL);
  if (b) {
    CHECK_STREQ(b->status, "running");
    const gframe *f = frame_of(b, "check_debug2");
    CHECK(f != NULL && f->line == g_dump_line);
    CHECK(frame_of(b, "scenario_main") != NULL);
    CHECK_STREQ(b->created_by, "main"); /* spawned by tt_main from main() */
    CHECK_EQ(b->created_in, 0);
  }
  free(d.blocks);
  free(text);

  NOTE("debug=2 dump with TT_TRACEBACK=system: the runtime's frames shown");
  setenv("TT_TRACEBACK", "system", 1);
  text = dump_string(TT_DUMP_GO_DEBUG2);
  unsetenv("TT_TRACEBACK");
  d = parse_debug2(text);
  CHECK_MSG(d.error[0] == 0, "debug=2 does not parse: %s\n%s", d.error, text);
  b = block_of(&d, g_recv_id);
  CHECK(b != NULL);
  if (b) {
    CHECK_MSG(b->nframes > 1 && strstr(b->frames[0].file, "/src/sync/") != NULL,
              "the first frame must be the runtime's:\n%s", text);
    CHECK(frame_of(b, "receiver_task") != NULL);
  }
  free(d.blocks);
  free(text);
}

__attribute__((noinline)) static void check_debug1(void) {
  NOTE("debug=1 profile");
  char *text = dump_string(TT_DUMP_GO_DEBUG1);
  long long total = -1;
  CHECK_EQ(sscanf(text, "goroutine profile: total %lld\n", &total), 1);
  CHECK_EQ(total, tt_num_tasks());
  /* records: "N @ 0x.. 0x..", then one "#\t0x..\tfunc+0x..\tfile:line" per pc */
  regex_t head, frame;
  CHECK_EQ(regcomp(&head, "^([0-9]+) @( 0x[0-9a-f]+)+$", REG_EXTENDED), 0);
  CHECK_EQ(regcomp(&frame, "^#\t0x[0-9a-f]+\t[^\t]+\\+0x[0-9a-f]+\t[^\t]+:[0-9]+$", REG_EXTENDED),
           0);
  char *copy = strdup(text), *save = NULL;
  long long sum = 0, prev = -1, sleepers = -1;
  int pcs = 0, frames = 0, bad = 0, labels = 0, inlined = 0;
  char sleep_site[512];
  snprintf(sleep_site, sizeof sleep_site, "\tsleeper_task+0x");
  char sleep_loc[512];
  snprintf(sleep_loc, sizeof sleep_loc, "\t%s:%d", __FILE__, g_sleep_line);
  long long current = 0;
  strtok_r(copy, "\n", &save); /* the total line */
  for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (regexec(&head, line, 0, NULL, 0) == 0) {
      /* a line per frame: more than the pcs where calls were inlined */
      CHECK_MSG(frames >= pcs, "record with %d pcs has %d frame lines", pcs, frames);
      current = atoll(line);
      CHECK_MSG(prev < 0 || current <= prev, "records not sorted by count:\n%s", text);
      prev = current;
      sum += current;
      pcs = 0;
      for (const char *p = line; (p = strstr(p, " 0x")); p++)
        pcs++;
      frames = 0;
    } else if (regexec(&frame, line, 0, NULL, 0) == 0) {
      frames++;
      if (strstr(line, sleep_site) && strstr(line, sleep_loc))
        sleepers = (sleepers < 0 ? 0 : sleepers) + current;
      /* the inlined call, then its caller at the same address */
      if (strstr(line, "\tinlined_wait+0x"))
        inlined = 1;
      else if (inlined == 1)
        inlined = strstr(line, "\tinliner_task+0x") ? 2 : -1;
    } else if (strncmp(line, "# labels: {\"name\":\"", 19) == 0 && frames == 0) {
      labels++; /* a named task's record: right after its count line, as Go writes */
    } else if (strcmp(line, "--- Memory map: ---") == 0) {
      /* then /proc/self/maps lines for pprof (PIE): the executable's among them */
      const char *map = strstr(text, "--- Memory map: ---\n");
      CHECK(map && strstr(map, " r-xp ") && strstr(map, "/test_gotext\n"));
      break;
    } else {
      bad++;
      NOTE("unexpected debug=1 line: \"%s\"", line);
    }
  }
  CHECK(frames >= pcs);
  CHECK_EQ(bad, 0);
  CHECK_MSG(inlined == 2, "no inlined_wait line followed by inliner_task:\n%s", text);
  CHECK_EQ(sum, total);
  /* tt_main names its task "main": its record carries the label */
  CHECK_MSG(labels == 1 && strstr(text, "\n# labels: {\"name\":\"main\"}\n"), "%s", text);
  CHECK_MSG(sleepers == NSLEEPERS, "sleepers %lld:\n%s", sleepers,
            text); /* identical stacks are merged */
  regfree(&head);
  regfree(&frame);
  free(copy);
  free(text);
}

__attribute__((noinline)) static void check_task_stack(void) {
  NOTE("tt_task_stack");
  tt_frame frames[32];
  int n = tt_task_stack(g_recv_id, frames, 32);
  CHECK(n > 0);
  int found = 0;
  for (int i = 0; i < n; i++)
    if (strcmp(frames[i].func, "receiver_task") == 0) {
      found = 1;
      CHECK_STREQ(frames[i].file, __FILE__);
      CHECK_EQ(frames[i].line, g_recv_line);
      CHECK(frames[i].offset > 0);
    }
  CHECK(found);
  CHECK_EQ(tt_task_stack(g_recv_id, frames, 1), 1); /* truncated, innermost first */
  CHECK_EQ(tt_task_stack(g_recv_id, NULL, 0), 0);
  if (g_spin_id) {
    n = tt_task_stack(g_spin_id, frames, 32);
    if (TT_TEST_TSAN) /* no sampling under TSan (stackwalk.c) */
      CHECK_EQ(n, TT_EBUSY);
    else
      CHECK_MSG(n > 0 && (strcmp(frames[0].func, "spinner_task") == 0 ||
                          (n > 1 && strcmp(frames[0].func, "tiny_call") == 0 &&
                           strcmp(frames[1].func, "spinner_task") == 0)),
                "a running task's stack is sampled: %d", n);
    /* Wherever the sample lands in tiny_call (its first instruction, its
     * ret), the spinner is the frame below it. */
    int in_tiny = 0;
    for (int i = 0; i < 300 && !TT_TEST_TSAN; i++) {
      n = tt_task_stack(g_spin_id, frames, 32);
      if (n <= 0 || strcmp(frames[0].func, "tiny_call") != 0)
        continue;
      in_tiny++;
      CHECK_MSG(n > 1 && strcmp(frames[1].func, "spinner_task") == 0,
                "sample %d in tiny_call at +%#lx: below it %s", i, (unsigned long)frames[0].offset,
                n > 1 ? frames[1].func : "nothing");
    }
    printf("%d of 300 samples of the spinner landed in tiny_call\n", in_tiny);
  }
  CHECK_EQ(tt_task_stack(1 << 30, frames, 32), TT_EINVAL);
  CHECK_EQ(tt_task_stack(0, frames, 32), TT_EINVAL);
  CHECK_EQ(tt_task_stack(g_recv_id, NULL, 4), TT_EINVAL);
  CHECK_EQ(tt_task_stack(g_recv_id, frames, -1), TT_EINVAL);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return NULL;
  char *buf = tt_test_read_stream(f);
  fclose(f);
  return buf;
}

__attribute__((noinline)) static void check_signal_dump(void) {
  NOTE("dump on a signal");
  if (TT_TEST_TSAN) {
    /* TSan holds an asynchronous signal until the thread it landed on
     * passes through one of its interceptors, and a worker parked in a raw
     * futex wait never does: the delivery is tested in the other builds. */
    NOTE("skipped under TSan");
    return;
  }
  char path[] = "/tmp/tt_gotext_sigXXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  CHECK_EQ(tt_dump_on_signal(SIGUSR1, TT_DUMP_GO_DEBUG2, path), 0);
  kill(getpid(), SIGUSR1);
  char want[64];
  snprintf(want, sizeof want, "goroutine %lld [chan receive]:\n", (long long)g_recv_id);
  char *text = NULL;
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  while (tt_test_mono_ns() < end) {
    free(text);
    text = slurp(path);
    if (text && strstr(text, want) && strstr(text, "created by"))
      break;
    tt_sleep(TT_MS(5));
  }
  CHECK_MSG(text && strstr(text, want), "no dump in %s after SIGUSR1:\n%s", path,
            text ? text : "(nothing)");
  free(text);
  /* disarmed: the signal is back to what it was (ignored here, so that a
   * stray one cannot kill the test) */
  signal(SIGUSR2, SIG_IGN);
  CHECK_EQ(tt_dump_on_signal(SIGUSR2, TT_DUMP_JSON, NULL), 0);
  CHECK_EQ(tt_dump_on_signal(0, TT_DUMP_GO_DEBUG2, NULL), 0);
  struct sigaction sa;
  sigaction(SIGUSR2, NULL, &sa);
  CHECK(sa.sa_handler == SIG_IGN);
  CHECK_EQ(tt_dump_on_signal(SIGKILL, TT_DUMP_GO_DEBUG2, NULL), TT_EINVAL);
  CHECK_EQ(tt_dump_on_signal(SIGSEGV, TT_DUMP_GO_DEBUG2, NULL), TT_EINVAL);
  CHECK_EQ(tt_dump_on_signal(-1, TT_DUMP_GO_DEBUG2, NULL), TT_EINVAL);
  CHECK_EQ(tt_dump_on_signal(SIGUSR1, (tt_dump_format)99, NULL), TT_EINVAL);
  unlink(path);
}

static void *spawner_thread(void *fn) { return (void *)(intptr_t)tt_go((tt_fn)fn, NULL); }

/* Spawned from a plain thread, a task goes to the global queue and an idle
 * worker is woken for it; spawned from a task it would run at once on our
 * worker, and a task that never yields would hold us up behind it. */
static int64_t spawn_from_thread(tt_fn fn) {
  pthread_t th;
  void *id = NULL;
  pthread_create(&th, NULL, spawner_thread, (void *)fn);
  pthread_join(th, &id);
  return (int64_t)(intptr_t)id;
}

/* Until task `id` has exited (it no longer uses what we are about to free). */
static void wait_gone(int64_t id) {
  tt_test_task t;
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  while (tt_test_find_task(id, &t) && tt_test_mono_ns() < end)
    tt_sleep(TT_MS(1));
}

static void scenario_main(void *arg) {
  (void)arg;
  g_main_id = tt_self();
  atomic_store(&g_spin_stop, 0);
  g_never = tt_chan_make(sizeof(int), 0);
  memset(&g_mu, 0, sizeof g_mu);
  tt_mutex_lock(&g_mu);
  g_recv_id = GO_AT(g_recv_spawn_line, receiver_task, NULL);
  for (int i = 0; i < NSLEEPERS; i++)
    g_sleep_ids[i] = GO_AT(g_sleep_spawn_line, sleeper_task, NULL);
  g_lock_id = GO_AT(g_lock_spawn_line, locker_task, NULL);
  g_inliner_id = tt_go(inliner_task, NULL);
  g_spin_id = tt_procs() > 1 ? spawn_from_thread(spinner_task) : 0;
  tt_test_task t;
  CHECK(tt_test_await_wait_reason(g_recv_id, "chan receive", TT_MS(5000), &t));
  for (int i = 0; i < NSLEEPERS; i++) {
    int ok = tt_test_await_wait_reason(g_sleep_ids[i], "sleep", TT_MS(5000), &t);
    CHECK_MSG(ok, "sleeper %lld is not asleep", (long long)g_sleep_ids[i]);
  }
  CHECK(tt_test_await_wait_reason(g_lock_id, "sync.Mutex.Lock", TT_MS(5000), &t));
  CHECK(tt_test_await_wait_reason(g_inliner_id, "chan receive", TT_MS(5000), &t));
  if (g_spin_id) {
    int64_t end = tt_test_mono_ns() + TT_MS(5000);
    while ((!tt_test_find_task(g_spin_id, &t) || t.info.state != TT_TASK_RUNNING) &&
           tt_test_mono_ns() < end)
      tt_yield();
  }

  check_debug2();
  check_debug1();
  check_task_stack();
  check_signal_dump();

  atomic_store(&g_spin_stop, 1);
  tt_mutex_unlock(&g_mu);
  tt_chan_close(g_never);
  wait_gone(g_recv_id);
  wait_gone(g_inliner_id);
  tt_chan_unref(g_never);
  /* sleepers are left to shutdown: a parked task is freed with the runtime */
}

static void check_format_names(void) {
  CHECK_EQ(tt_dump_format_parse("debug=2"), TT_DUMP_GO_DEBUG2);
  CHECK_EQ(tt_dump_format_parse("2"), TT_DUMP_GO_DEBUG2);
  CHECK_EQ(tt_dump_format_parse("debug=1"), TT_DUMP_GO_DEBUG1);
  CHECK_EQ(tt_dump_format_parse("pprof"), TT_DUMP_PPROF);
  CHECK_EQ(tt_dump_format_parse("json"), TT_DUMP_JSON);
  CHECK_EQ(tt_dump_format_parse("goroutineleak"), TT_DUMP_PPROF_LEAKED);
  CHECK_EQ(tt_dump_format_parse("summary"), TT_DUMP_SUMMARY);
  CHECK_EQ(tt_dump_format_parse("debug=3"), TT_EINVAL);
  CHECK_EQ(tt_dump_format_parse(""), TT_EINVAL);
  CHECK_EQ(tt_dump_format_parse(NULL), TT_EINVAL);
  CHECK_EQ(tt_dump_as(NULL, TT_DUMP_GO_DEBUG2), TT_EINVAL);
  CHECK_EQ(tt_dump_as(stdout, (tt_dump_format)42), TT_EINVAL);
  CHECK_EQ(tt_dump_as(stdout, TT_DUMP_GO_DEBUG2), TT_ENOTINIT); /* no runtime */
}

/* Child mode: TT_DUMP_SIGNAL/TT_DUMP_FILE arm the dump at tt_init. */
static void env_child_main(void *arg) {
  (void)arg;
  g_never = tt_chan_make(sizeof(int), 0);
  g_recv_id = tt_go(receiver_task, NULL);
  tt_test_task t;
  tt_test_await_wait_reason(g_recv_id, "chan receive", TT_MS(5000), &t);
  kill(getpid(), SIGUSR2);
  const char *path = getenv("TT_DUMP_FILE");
  int64_t end = tt_test_mono_ns() + TT_MS(10000);
  char *text = NULL;
  while (tt_test_mono_ns() < end) {
    free(text);
    text = slurp(path);
    if (text && strstr(text, "receiver_task"))
      break;
    tt_sleep(TT_MS(5));
  }
  fprintf(stderr, "ENV-DUMP %s\n", text && strstr(text, "receiver_task") ? "ok" : "missing");
  free(text);
  tt_chan_close(g_never);
  wait_gone(g_recv_id);
  tt_chan_unref(g_never);
}

static void check_env_arming(void) {
  NOTE("TT_DUMP_SIGNAL in the environment");
  if (TT_TEST_TSAN)
    return; /* see check_signal_dump */
  char path[] = "/tmp/tt_gotext_envXXXXXX";
  int fd = mkstemp(path);
  close(fd);
  char kv[128];
  snprintf(kv, sizeof kv, "TT_DUMP_FILE=%s", path);
  setenv("TT_DUMP_SIGNAL", "USR2", 1);
  char *err = NULL;
  int status = 0;
  CHECK_EQ(tt_test_run_self("test_gotext", "--env-child", kv, &err, &status), 0);
  unsetenv("TT_DUMP_SIGNAL");
  CHECK_MSG(err && strstr(err, "ENV-DUMP ok"), "child said:\n%s", err ? err : "");
  free(err);
  unlink(path);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  tt_test_watchdog(120);
  if (argc > 1 && strcmp(argv[1], "--env-child") == 0)
    return tt_main(env_child_main, NULL) == 0 ? 0 : 1;
  check_format_names();
  RUN_MAIN(1, scenario_main, NULL);
  RUN_MAIN(2, scenario_main, NULL);
  check_env_arming();
  return TEST_REPORT();
}
