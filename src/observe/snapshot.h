/*
 * The observe layer (src/observe/): looking at tasks without stopping them.
 * The cursor walker (walk.h) visits every task list a batch at a time; a
 * snapshot (this header) copies each task's record and walks its stack by
 * frame pointers; symbolize.c names the frames; the exporters write Go's
 * debug=2 and debug=1 text, pprof and JSON from one snapshot. Counts, the
 * growth monitor, signal dumps and verify-none are built on the same two
 * walks. It reads the core and sync layers; the leak layer uses it for
 * the stacks in its reports.
 *
 * This header: a snapshot of every live task: the records the exporters (Go text dumps,
 * pprof, JSON), the verify-none check and the monitor read. Taking one walks
 * the task lists one worker at a time, holding a list's lock only while a
 * small batch of records is copied (introspect.c), so workers are never
 * stopped; each task's stack is walked under that same lock, which is what
 * keeps the stack's memory from being freed under the walker. A task
 * running on another worker is sampled by that worker's thread, which
 * stops for the length of one walk (stackwalk.c).
 */
#ifndef TT_OBSERVE_SNAPSHOT_H
#define TT_OBSERVE_SNAPSHOT_H

#include "core/runtime.h"

/* What we know of a task's stack. */
enum {
  TT_SNAP_STACK_OK = 0,      /* frames were walked */
  TT_SNAP_STACK_RUNNING = 1, /* running elsewhere, and its thread did not answer */
  TT_SNAP_STACK_NONE = 2,    /* not asked for, or no walker on this build */
};

typedef struct tt_taskrec {
  tt_task_info info; /* strings point at static storage or into info itself */
  int64_t scope;
  uintptr_t spawn_pc; /* return address of the spawn call; 0 if unknown */
  /* The entry function's address + 1, so it symbolizes like a return
   * address into its first instruction: the one-frame stand-in stack that
   * counted formats (debug=1, pprof) use for a task whose stack is
   * unavailable (running on another worker). */
  uintptr_t entry_pc;
  void *wait_obj;        /* primitive waited on (address only: never dereference) */
  const char *wait_file; /* its creation site, when the primitive records one */
  int wait_line;
  uint32_t pc0, npcs; /* frames: snap->pcs[pc0 .. pc0 + npcs), innermost first */
  uint8_t stack;      /* TT_SNAP_STACK_* */
  bool self;          /* the task that took the snapshot */
  uint8_t leaked;     /* TT_LEAK_* (leak.h) when it can never run again */
  /* An "IO wait": the descriptor, its peer ("" when unknown) and whether a
   * deadline or a context bounds the wait. io_fd is -1 otherwise. */
  int32_t io_fd;
  bool io_bounded;
  char io_peer[56];
} tt_taskrec;

typedef struct tt_snapshot {
  tt_taskrec *tasks;
  size_t ntasks, cap;
  uintptr_t *pcs;
  size_t npcs, pcs_cap;
  int64_t now;      /* tt_now() when taken: the base for wait durations */
  int64_t wall_now; /* CLOCK_REALTIME ns when taken (pprof's time_nanos) */
} tt_snapshot;

#define TT_SNAP_MAX_FRAMES 64

enum { TT_SNAP_STACKS = 1 };

/* Fill `s` (zero it first) with every live task, sorted by id. flags:
 * TT_SNAP_STACKS walks stacks too. Returns 0, TT_ENOTINIT or TT_ENOMEM. */
int tt__snapshot_take(tt_snapshot *s, unsigned flags);
void tt__snapshot_free(tt_snapshot *s);

/* Symbolized frames of one record, innermost first, a frame for each
 * inlined call too (tt__symbolize_inlined); returns how many were written
 * (at most max). */
int tt__snapshot_frames(const tt_snapshot *s, const tt_taskrec *r, tt_frame *out, int max);

/* Is this frame inside the tether runtime? Its source file is under the
 * runtime's src/ (the library is always built with -g), or, for a stripped
 * library, its name starts with "tt_". */
bool tt__frame_is_runtime(const tt_frame *f);
/* The first frame that is not the runtime's: the user code that made the
 * blocking call. Returns its index in frames[0..n), or 0 when every frame
 * is the runtime's. */
int tt__first_user_frame(const tt_frame *frames, int n);

/* TT_TRACEBACK=system (or crash), Go's GOTRACEBACK levels that show the
 * runtime's frames. Read at each call (once per dump: getenv is a scan),
 * so a test can flip it. */
bool tt__traceback_system(void);
/* The frames a reader sees, as Go's traceback shows them: the runtime's
 * frames are dropped (in place) so the first frame is the user's call,
 * unless `system` (tt__traceback_system()) or every frame is the
 * runtime's (a stack is never shown empty). Returns the new count. debug=1
 * and pprof keep every frame, as Go's do. */
int tt__frames_for_traceback(tt_frame *frames, int n, bool system);

/* Symbolize one return address (the call is at pc - 1). Cached; safe from
 * any thread. Always fills `out` (func "?" when unknown). */
void tt__symbolize(uintptr_t pc, tt_frame *out);
/* Every frame of one return address, innermost first: more than one when
 * the call sits in code the compiler inlined (the inlined functions, then
 * the function whose code it is, each at the line of its call). All carry
 * pc. Returns how many were written to out[0..max) (at least 1 when max
 * > 0). */
int tt__symbolize_inlined(uintptr_t pc, tt_frame *out, int max);
/* The most frames one return address becomes (deeper inlining shows its
 * outermost calls). */
#define TT_PC_MAX_FRAMES 9

/* A frame's file as the dumps print it: "??" when unknown (code built
 * without -g), the spelling addr2line and Go's cgo tracebacks use and Go's
 * stack parsers (panicparse) accept; "?" is rejected by them. */
static inline const char *tt__file_or_unknown(const char *file) {
  return file && file[0] ? file : "??";
}

/* Wait durations as Go prints them in a goroutine header: whole minutes,
 * and only from one minute on. */
static inline int64_t tt__wait_minutes(const tt_snapshot *s, const tt_taskrec *r) {
  if (r->info.state != TT_TASK_WAITING || r->info.wait_since <= 0)
    return 0;
  return (s->now - r->info.wait_since) / 60000000000LL;
}

#endif
