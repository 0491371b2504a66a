/*
 * A small test-and-test-and-set lock for the runtime's short critical
 * sections (run queues, timer heaps, wait lists). Held for tens of
 * nanoseconds, so spinning beats a futex; after a while we yield the CPU in
 * case the holder's thread was descheduled. C11 atomics keep it visible to
 * ThreadSanitizer.
 */
#ifndef TT_CORE_SPINLOCK_H
#define TT_CORE_SPINLOCK_H

#include <sched.h>
#include <stdatomic.h>

typedef struct tt_spinlock {
  atomic_int locked;
} tt_spinlock;

#define TT_SPINLOCK_INIT \
  { 0 }

static inline void tt__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield" ::: "memory");
#endif
}

static inline void tt_spin_lock(tt_spinlock *l) {
  for (unsigned spins = 0;; spins++) {
    if (!atomic_load_explicit(&l->locked, memory_order_relaxed) &&
        !atomic_exchange_explicit(&l->locked, 1, memory_order_acquire))
      return;
    if (spins < 64)
      tt__cpu_relax();
    else
      sched_yield();
  }
}

static inline int tt_spin_trylock(tt_spinlock *l) {
  return !atomic_load_explicit(&l->locked, memory_order_relaxed) &&
         !atomic_exchange_explicit(&l->locked, 1, memory_order_acquire);
}

static inline void tt_spin_unlock(tt_spinlock *l) {
  atomic_store_explicit(&l->locked, 0, memory_order_release);
}

#endif
