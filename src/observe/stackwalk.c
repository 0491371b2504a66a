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
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include "observe/snapshot.h"
#include "observe/stackwalk.h"

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
__attribute__((no_sanitize("address", "thread"))) static int
walk_chain(uintptr_t pc, uintptr_t fp, uintptr_t lo, uintptr_t hi, uintptr_t stop_fp,
           uintptr_t *out, int max, bool *reached) {
  int n = 0;
  while (n < max && pc) {
    if (fp == stop_fp && stop_fp) {
      if (reached)
        *reached = true;
      break; /* pc is in task_entry: the frames below are the runtime's */
    }
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
      n = walk_chain(pc, fp, (uintptr_t)t->canary, (uintptr_t)t, (uintptr_t)base, out, max, NULL);
    } else if (saved_regs(t, &pc, &fp))
      n = walk_chain(pc, fp, (uintptr_t)t->canary, (uintptr_t)t, (uintptr_t)base, out, max, NULL);
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
                    max, NULL);
}

/* ---- Running tasks: a sample taken by the worker thread itself ------------
 *
 * A task running on another worker cannot be walked from outside: its
 * registers are live. Go stops the world for a debug=2 dump; we stop only
 * the one thread, and only for as long as a frame-pointer walk takes: the
 * sampler sends SIGURG (Go's own choice for preempting goroutines: programs
 * rarely use it) to the worker's thread with pthread_sigqueue, and the
 * handler, on that thread, checks that the task is still the one running
 * there and walks its stack from the interrupted registers.
 *
 * One sample is in flight at a time (sample_lock). The request is a word,
 * sequence << 2 | phase: the handler claims a pending request by CAS and
 * marks it done when its frames are written; a sampler that gives up
 * withdraws its request by CAS, so a late signal finds nothing to write
 * to. A SIGURG that is not ours (not queued with the current sequence) goes
 * to whatever handler was there before. */

enum { SAMPLE_IDLE = 0, SAMPLE_PENDING = 1, SAMPLE_CLAIMED = 2, SAMPLE_DONE = 3 };

static pthread_mutex_t sample_lock = PTHREAD_MUTEX_INITIALIZER;
static bool sample_installed;
static struct sigaction sample_previous;
static _Atomic uint64_t sample_word; /* seq << 2 | phase */
static int64_t sample_id;            /* the task asked for */
static uintptr_t sample_pcs[TT_SNAP_MAX_FRAMES];
static int sample_n; /* frames written; -1: the task was not running there */
/* The walk reached the task's entry frame. It may not: interrupted in code
 * built without frame pointers (libc, the vDSO), the chain skips or ends. */
static bool sample_whole;
/* What the walk needs to know about the interrupted function's own frame,
 * decided after the signal (frameless_return). */
typedef struct sample_regs {
  uintptr_t pc, lr;
  uintptr_t top[2];   /* the two words on top of the stack, or 0 */
  uintptr_t chain_ra; /* the first return address the chain gave, or 0 */
  bool at_base;       /* the frame pointer is the task's base: its entry function runs frameless */
} sample_regs;
static sample_regs sample_r;

/* The interrupted pc, frame pointer, stack pointer and (aarch64) link
 * register. */
static bool interrupted_regs(const void *ucv, uintptr_t *pc, uintptr_t *fp, uintptr_t *sp,
                             uintptr_t *lr) {
  const ucontext_t *uc = ucv;
#if defined(__x86_64__)
  *pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
  *fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
  *sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
  *lr = 0;
  return true;
#elif defined(__aarch64__)
  *pc = (uintptr_t)uc->uc_mcontext.pc;
  *fp = (uintptr_t)uc->uc_mcontext.regs[29];
  *sp = (uintptr_t)uc->uc_mcontext.sp;
  *lr = (uintptr_t)uc->uc_mcontext.regs[30];
  return true;
#else
  (void)uc, (void)pc, (void)fp, (void)sp, (void)lr;
  return false;
#endif
}

/* Read n bytes at addr, which may not be mapped: a word the stack held
 * may be anything. process_vm_readv on ourselves fails with EFAULT instead
 * of faulting. */
static bool read_safely(uintptr_t addr, void *out, size_t n) {
  struct iovec local = {.iov_base = out, .iov_len = n};
  struct iovec remote = {.iov_base = (void *)addr, .iov_len = n};
  return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n;
}

/* Where a return address says its call went: the target of the direct call
 * just before it, or 0 (an indirect call, or not a return address). */
static uintptr_t call_target(uintptr_t ra) {
#if defined(__x86_64__)
  unsigned char b[5];
  if (ra < 5 || !read_safely(ra - 5, b, 5) || b[0] != 0xe8)
    return 0; /* call rel32 */
  int32_t rel;
  memcpy(&rel, b + 1, 4);
  return ra + (uintptr_t)(intptr_t)rel;
#elif defined(__aarch64__)
  uint32_t insn;
  if (ra < 4 || !read_safely(ra - 4, &insn, 4) || (insn & 0xfc000000u) != 0x94000000u)
    return 0; /* bl imm26 */
  int32_t imm = (int32_t)(insn << 6) >> 6;
  return ra - 4 + (uintptr_t)((intptr_t)imm * 4);
#else
  (void)ra;
  return 0;
#endif
}

/* The return address into the caller of the interrupted function when that
 * function has not set its frame pointer up (or has already restored the
 * caller's), or 0 when the frame-pointer chain is right as it stands.
 *
 * Then the frame pointer is still the caller's, and a walk from it skips
 * the caller. Three cases: the first instructions of a function and its
 * return, recognised by their bytes, and a leaf function the compiler
 * built without a frame (gcc does so for leaves that need no stack even
 * under -fno-omit-frame-pointer), recognised by the return address on top
 * of the stack (x86-64) or in the link register (aarch64): it follows a
 * call to a function that starts at or before the interrupted pc, and
 * nearer to it than the call the frame-pointer chain's first return
 * address follows (which, if the frame is set up, is the call to the
 * interrupted function itself). */
static uintptr_t frameless_return(const sample_regs *r) {
#if defined(__x86_64__)
  unsigned char b[4];
  if (!read_safely(r->pc, b, sizeof b))
    return 0;
  if ((b[0] == 0xf3 && b[1] == 0x0f && b[2] == 0x1e && b[3] == 0xfa) || /* endbr64 */
      b[0] == 0x55 ||                                                   /* push %rbp */
      b[0] == 0xc3 || (b[0] == 0xf3 && b[1] == 0xc3))                   /* ret, rep ret */
    return r->top[0];
  if (b[0] == 0x48 && b[1] == 0x89 && b[2] == 0xe5) /* mov %rsp,%rbp: %rbp pushed */
    return r->top[1];
  uintptr_t leaf_ra = r->top[0];
#elif defined(__aarch64__)
  uint32_t insn;
  if (!read_safely(r->pc, &insn, sizeof insn))
    return 0;
  if ((insn & 0xffc07fffu) == 0xa9807bfdu ||      /* stp x29, x30, [sp, #-n]! */
      insn == 0x910003fdu ||                      /* mov x29, sp */
      insn == 0xd65f03c0u ||                      /* ret */
      insn == 0xd503233fu || insn == 0xd503245fu) /* paciasp, bti c */
    return r->lr;
  uintptr_t leaf_ra = r->lr;
#else
  (void)r;
  return 0;
#endif
#if defined(__x86_64__) || defined(__aarch64__)
  uintptr_t leaf_target = call_target(leaf_ra);
  if (!leaf_target || leaf_target > r->pc || r->pc - leaf_target > (1u << 20))
    return 0;
  uintptr_t chain_target = r->chain_ra ? call_target(r->chain_ra) : 0;
  if (chain_target && chain_target >= leaf_target && chain_target <= r->pc)
    return 0; /* the chain's first return address is the nearer call */
  return leaf_ra;
#endif
}

__attribute__((no_sanitize("address", "thread"))) static void on_sample(int signo, siginfo_t *si,
                                                                        void *ucv) {
  uint64_t w = atomic_load_explicit(&sample_word, memory_order_acquire);
  if (si->si_code != SI_QUEUE || (uintptr_t)si->si_value.sival_ptr != (uintptr_t)(w >> 2)) {
    /* Not our request (or one withdrawn): the previous owner's signal. */
    if (sample_previous.sa_flags & SA_SIGINFO) {
      if (sample_previous.sa_sigaction)
        sample_previous.sa_sigaction(signo, si, ucv);
    } else if (sample_previous.sa_handler != SIG_DFL && sample_previous.sa_handler != SIG_IGN) {
      sample_previous.sa_handler(signo);
    }
    return; /* SIGURG's default is to be ignored */
  }
  if ((w & 3) != SAMPLE_PENDING ||
      !atomic_compare_exchange_strong(&sample_word, &w, (w & ~(uint64_t)3) | SAMPLE_CLAIMED))
    return;
  int saved = errno;
  tt_worker *wk = tt__tls_worker;
  const tt_task *t = wk ? wk->current : NULL;
  uintptr_t pc, fp, sp, lr;
  int n = -1;
  if (t && t->id == sample_id &&
      atomic_load_explicit(&t->state, memory_order_relaxed) == TT_ST_RUNNING &&
      interrupted_regs(ucv, &pc, &fp, &sp, &lr)) {
    /* pc is the instruction itself, not a return address: + 1 so that it
     * symbolizes like one (symbolization looks at pc - 1). */
    sample_pcs[0] = pc + 1;
    n = 1;
    uintptr_t lo = (uintptr_t)t->canary, hi = (uintptr_t)t;
    sample_r = (sample_regs){.pc = pc, .lr = lr, .at_base = fp == (uintptr_t)t->base_fp};
    if (sp >= lo && sp <= hi - 2 * sizeof(uintptr_t) && !(sp & (sizeof(uintptr_t) - 1))) {
      sample_r.top[0] = peek(sp);
      sample_r.top[1] = peek(sp + sizeof(uintptr_t));
    }
    if (sample_r.at_base)
      sample_whole = true; /* nothing of the task's below this function */
    else if (fp >= lo && fp <= hi - 2 * sizeof(uintptr_t) && !(fp & (sizeof(uintptr_t) - 1)))
      n += walk_chain(peek(fp + sizeof(uintptr_t)), peek(fp), lo, hi, (uintptr_t)t->base_fp,
                      sample_pcs + 1, TT_SNAP_MAX_FRAMES - 1, &sample_whole);
    sample_r.chain_ra = n > 1 ? sample_pcs[1] : 0;
  }
  sample_n = n;
  atomic_store_explicit(&sample_word, (w & ~(uint64_t)3) | SAMPLE_DONE, memory_order_release);
  errno = saved;
}

/* Under sample_lock. */
static bool sample_install(void) {
  if (sample_installed)
    return true;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sample;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGURG, &sa, &sample_previous) != 0)
    return false;
  sample_installed = true;
  return true;
}

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int tt__stack_sample_running(const tt_task *t, uintptr_t *out, int max, bool *whole) {
#if (!defined(__x86_64__) && !defined(__aarch64__)) || defined(__SANITIZE_THREAD__)
  /* Under TSan a signal is held until its thread passes through one of
   * TSan's interceptors, which a spinning task never does, and the handler
   * then sees registers of another moment: no sampling there. */
  (void)t, (void)out, (void)max, (void)whole;
  return TT_EINVAL;
#endif
  int worker = atomic_load_explicit(&t->worker, memory_order_acquire);
  if (worker < 0 || worker >= tt__rt.nworkers)
    return TT_EINVAL;
  pthread_t thread = tt__rt.workers[worker]->thread;
  pthread_mutex_lock(&sample_lock);
  if (!sample_install()) {
    pthread_mutex_unlock(&sample_lock);
    return TT_EINVAL;
  }
  uint64_t seq = (atomic_load_explicit(&sample_word, memory_order_relaxed) >> 2) + 1;
  sample_id = t->id;
  sample_n = 0;
  sample_whole = false;
  atomic_store_explicit(&sample_word, seq << 2 | SAMPLE_PENDING, memory_order_release);
  int rc = TT_EBUSY;
  if (pthread_sigqueue(thread, SIGURG, (union sigval){.sival_ptr = (void *)(uintptr_t)seq}) == 0) {
    /* The round trip is a few microseconds when the thread is on a CPU; on
     * a loaded machine it waits for its turn. 50 ms is the most a dump
     * waits for one task. */
    int64_t deadline = mono_ns() + 50 * 1000000LL;
    for (int spins = 0;; spins++) {
      uint64_t w = atomic_load_explicit(&sample_word, memory_order_acquire);
      if ((w & 3) == SAMPLE_DONE) {
        rc = sample_n < 0 ? 0 : (sample_n < max ? sample_n : max);
        if (rc > 0)
          memcpy(out, sample_pcs, (size_t)rc * sizeof *out);
        uintptr_t ra = rc > 0 && !sample_r.at_base ? frameless_return(&sample_r) : 0;
        if (ra && max > 1) {
          /* the caller the chain skipped goes in below the interrupted pc */
          int keep = rc < max ? rc : max - 1;
          memmove(out + 2, out + 1, (size_t)(keep - 1) * sizeof *out);
          out[1] = ra;
          rc = keep + 1;
        }
        /* Interrupted in another object than the task's code (libc, the
         * vDSO: built without frame pointers), the walk may have skipped
         * the caller there; say so, so that the caller samples again. */
        Dl_info top, entry;
        *whole = sample_whole && rc > 0 && dladdr((void *)(out[0] - 1), &top) &&
                 dladdr((void *)t->fn, &entry) && top.dli_fbase == entry.dli_fbase;
        break;
      }
      if ((w & 3) == SAMPLE_PENDING && mono_ns() > deadline &&
          atomic_compare_exchange_strong(&sample_word, &w, seq << 2 | SAMPLE_IDLE))
        break; /* withdrawn: the signal, if it comes, finds nothing */
      if (spins > 64)
        sched_yield(); /* claimed: a walk of 64 frames at most is under way */
    }
  }
  atomic_store_explicit(&sample_word, seq << 2 | SAMPLE_IDLE, memory_order_relaxed);
  pthread_mutex_unlock(&sample_lock);
  return rc;
}
