/* Building new contexts for the switch in arch/ (or ucontext). */
#include "core/switch.h"

#include <stdint.h>
#include <string.h>

#ifndef TT_CONTEXT_UCONTEXT

void tt__ctx_switch(void **save_sp, void *load_sp);
void tt__ctx_start(void);

void tt__ctx_make(tt_ctx *c, char *lo, char *hi, void (*entry)(void *), void *arg) {
  (void)lo;
  uintptr_t top = (uintptr_t)hi & ~(uintptr_t)15;
#if defined(__x86_64__)
  /* Popped by tt__ctx_switch, lowest address first: r15, r14, r13 (entry),
   * r12 (arg), rbx, rbp, then the return address. After `ret` the stack
   * pointer is `top`, 16-byte aligned, as tt__ctx_start's call needs. */
  uint64_t *sp = (uint64_t *)top - 7;
  memset(sp, 0, 7 * sizeof(uint64_t));
  sp[2] = (uint64_t)(uintptr_t)entry;
  sp[3] = (uint64_t)(uintptr_t)arg;
  sp[6] = (uint64_t)(uintptr_t)tt__ctx_start;
  c->sp = sp;
#elif defined(__aarch64__)
  uint64_t *sp = (uint64_t *)(top - 160);
  memset(sp, 0, 160);
  sp[0] = (uint64_t)(uintptr_t)arg;            /* x19 */
  sp[1] = (uint64_t)(uintptr_t)entry;          /* x20 */
  sp[11] = (uint64_t)(uintptr_t)tt__ctx_start; /* x30 */
  c->sp = sp;
#endif
}

void tt__ctx_jump(tt_ctx *from, tt_ctx *to) { tt__ctx_switch(&from->sp, to->sp); }

#else /* ucontext fallback */

#include <stdlib.h>

/* makecontext passes int arguments only, so the pointer travels in two
 * halves. */
static void ctx_trampoline(unsigned hi, unsigned lo, unsigned ehi, unsigned elo) {
  void *arg = (void *)(((uintptr_t)hi << 32) | lo);
  void (*entry)(void *) = (void (*)(void *))(((uintptr_t)ehi << 32) | elo);
  entry(arg);
  abort();
}

void tt__ctx_make(tt_ctx *c, char *lo, char *hi, void (*entry)(void *), void *arg) {
  getcontext(&c->uc);
  c->uc.uc_stack.ss_sp = lo;
  c->uc.uc_stack.ss_size = (size_t)(hi - lo);
  c->uc.uc_link = NULL;
  uintptr_t a = (uintptr_t)arg, e = (uintptr_t)entry;
  makecontext(&c->uc, (void (*)(void))ctx_trampoline, 4, (unsigned)(a >> 32), (unsigned)a,
              (unsigned)(e >> 32), (unsigned)e);
}

void tt__ctx_jump(tt_ctx *from, tt_ctx *to) { swapcontext(&from->uc, &to->uc); }

#endif
