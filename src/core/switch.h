/*
 * Saving and resuming execution contexts (the stack switch under every task
 * switch). x86-64 and aarch64 use the hand-written switch in arch/switch_*.S: only
 * callee-saved registers are saved, because a switch is an ordinary call.
 * Other targets (or -DTT_CONTEXT_UCONTEXT=ON) use ucontext, which is slower
 * because swapcontext also saves the signal mask with a system call.
 */
#ifndef TT_CORE_SWITCH_H
#define TT_CORE_SWITCH_H

#include <stddef.h>

#if !defined(TT_CONTEXT_UCONTEXT) && !defined(__x86_64__) && !defined(__aarch64__)
#define TT_CONTEXT_UCONTEXT 1
#endif

#ifdef TT_CONTEXT_UCONTEXT
#include <ucontext.h>
typedef struct tt_ctx {
  ucontext_t uc;
} tt_ctx;
#else
typedef struct tt_ctx {
  void *sp; /* stack pointer with the callee-saved registers pushed below */
} tt_ctx;
#endif

/* Prepare `c` so that the first tt__ctx_jump into it runs entry(arg) on the
 * stack [lo, hi). entry must never return. */
void tt__ctx_make(tt_ctx *c, char *lo, char *hi, void (*entry)(void *), void *arg);

/* Save the current context into `from` and resume `to`. Returns when some
 * other context jumps back into `from`. */
void tt__ctx_jump(tt_ctx *from, tt_ctx *to);

#endif
