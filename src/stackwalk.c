/*
 * Walking the saved stack of a task that is not running, by its frame
 * pointers.
 *
 * Why frame pointers and not DWARF unwinding: a dump of 100k tasks must take
 * well under a second and must not hold a task list's lock for long, and a
 * frame-pointer step is two loads. tether is built with
 * -fno-omit-frame-pointer; code built without it still walks correctly,
 * it only loses the frames of its callers.
 *
 * Why it is safe: the walker runs under the lock of the task's list, and a
 * task is unlinked from its list (under that lock) before its stack is
 * freed, so the memory stays mapped. The task may be resumed meanwhile by
 * another worker and scribble on its stack; every address is bounds-checked
 * against the task's own stack before it is read, so the worst a race gives
 * is a garbage frame, and the walker detects that case through the task's
 * resume count (seqlock style) and reports the task as running instead.
 */
#include "snapshot.h"
#include "stackwalk.h"

#ifndef TT_CONTEXT_UCONTEXT
void tt__ctx_start(void);
#endif

/* Read a word of another task's stack. The sanitizers would flag these reads
 * (a stack they do not consider ours; a race we detect ourselves), so they
 * are hidden from both. */
__attribute__((no_sanitize("address", "thread"))) static uintptr_t peek(uintptr_t addr) {
  return *(volatile const uintptr_t *)addr;
}

/* Follow the frame-pointer chain from (pc, fp), pc being a return address
 * in the function whose frame fp is. Stops at the task's entry frame
 * (stop_fp), at a chain that leaves [lo, hi) or fails to climb, or at max.
 */
__attribute__((no_sanitize("address", "thread"))) static int walk_chain(uintptr_t pc, uintptr_t fp,
                                                                        uintptr_t lo, uintptr_t hi,
                                                                        uintptr_t stop_fp,
                                                                        uintptr_t *out, int max) {
  int n = 0;
  while (n < max && pc) {
    if (fp == stop_fp && stop_fp)
      break; /* pc is in task_entry: the frames below are the runtime's */
    out[n++] = pc;
    if (fp < lo || fp > hi - 2 * sizeof(uintptr_t) || (fp & (sizeof(uintptr_t) - 1)))
      break;
    uintptr_t next_fp = peek(fp);
    pc = peek(fp + sizeof(uintptr_t));
    if (next_fp <= fp)
      break; /* a stack grows down, so callers' frames are higher */
    fp = next_fp;
  }
  return n;
}

/* The return address and frame pointer saved by the last switch away from
 * the task. */
__attribute__((no_sanitize("address", "thread"))) static bool
saved_regs(const tt_task *t, uintptr_t *pc, uintptr_t *fp) {
#if defined(TT_CONTEXT_UCONTEXT)
#if defined(__x86_64__)
  *pc = (uintptr_t)t->ctx.uc.uc_mcontext.gregs[REG_RIP];
  *fp = (uintptr_t)t->ctx.uc.uc_mcontext.gregs[REG_RBP];
  return true;
#elif defined(__aarch64__)
  *pc = (uintptr_t)t->ctx.uc.uc_mcontext.pc;
  *fp = (uintptr_t)t->ctx.uc.uc_mcontext.regs[29];
  return true;
#else
  (void)t, (void)pc, (void)fp;
  return false;
#endif
#else
  const uintptr_t *sp = (const uintptr_t *)t->ctx.sp;
  if ((uintptr_t)sp < (uintptr_t)t->canary || (uintptr_t)sp >= (uintptr_t)t)
    return false;
#if defined(__x86_64__)
  *fp = peek((uintptr_t)&sp[5]); /* see arch/switch_x86_64.S for the layout */
  *pc = peek((uintptr_t)&sp[6]);
#else
  *fp = peek((uintptr_t)&sp[10]); /* x29, x30: arch/switch_aarch64.S */
  *pc = peek((uintptr_t)&sp[11]);
#endif
  return true;
#endif
}

int tt__stack_walk_parked(const tt_task *t, uintptr_t *out, int max, bool *ran) {
  *ran = false;
  uint32_t before = atomic_load_explicit(&t->resumes, memory_order_acquire);
  if (atomic_load_explicit(&t->state, memory_order_acquire) == TT_ST_RUNNING) {
    *ran = true;
    return 0;
  }
  int n = 0;
  void *base = __atomic_load_n((void *const *)&t->base_fp, __ATOMIC_RELAXED);
  if (!base) {
    /* Never ran: its stack is the entry function not yet entered. The +1
     * makes the address read like a return address into the function's
     * first instruction, which is what symbolization subtracts. */
    out[n++] = (uintptr_t)t->fn + 1;
  } else {
    uintptr_t pc, fp;
    uintptr_t park = (uintptr_t)__atomic_load_n((void *const *)&t->park_fp, __ATOMIC_RELAXED);
    if (atomic_load_explicit(&t->state, memory_order_relaxed) == TT_ST_WAITING &&
        park >= (uintptr_t)t->canary && park < (uintptr_t)t - 2 * sizeof(uintptr_t)) {
      /* Parked: start in the caller of tt__park_on (see there). */
      pc = peek(park + sizeof(uintptr_t));
      fp = peek(park);
      n = walk_chain(pc, fp, (uintptr_t)t->canary, (uintptr_t)t, (uintptr_t)base, out, max);
    } else if (saved_regs(t, &pc, &fp))
      n = walk_chain(pc, fp, (uintptr_t)t->canary, (uintptr_t)t, (uintptr_t)base, out, max);
  }
  atomic_thread_fence(memory_order_acquire);
  if (atomic_load_explicit(&t->resumes, memory_order_relaxed) != before ||
      atomic_load_explicit(&t->state, memory_order_relaxed) == TT_ST_RUNNING) {
    *ran = true; /* it ran while we looked: the frames may be torn */
    return 0;
  }
  return n;
}

__attribute__((noinline)) int tt__stack_walk_self(const tt_task *t, uintptr_t *out, int max) {
  uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
  uintptr_t pc = (uintptr_t)__builtin_return_address(0);
  /* Start in our caller: this frame is the walker's own. */
  uintptr_t caller_fp = peek(fp);
  return walk_chain(pc, caller_fp, (uintptr_t)t->canary, (uintptr_t)t, (uintptr_t)t->base_fp, out,
                    max);
}
