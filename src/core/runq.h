/*
 * A worker's local run queue: a fixed ring of TT_RUNQ_SIZE task pointers.
 * Only the owning worker pushes (it alone writes `tail`); the owner and
 * thieves take from the head with a compare-and-swap, so stealing needs no
 * lock. When the ring is full, half of it moves to the global queue.
 */
#ifndef TT_CORE_RUNQ_H
#define TT_CORE_RUNQ_H

#include "core/base.h"

struct tt_task;

#define TT_RUNQ_SIZE 256
typedef struct tt_runq {
  _Atomic uint32_t head; /* consumers (owner and thieves) CAS this */
  _Atomic uint32_t tail; /* only the owner writes this */
  _Atomic(struct tt_task *) slots[TT_RUNQ_SIZE];
} tt_runq;

static inline uint32_t tt_runq_len(tt_runq *q) {
  uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
  uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
  return t - h;
}

/* Owner only. Returns false when the ring is full. */
static inline bool tt_runq_push(tt_runq *q, struct tt_task *task) {
  uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
  uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
  if (t - h >= TT_RUNQ_SIZE)
    return false;
  atomic_store_explicit(&q->slots[t % TT_RUNQ_SIZE], task, memory_order_relaxed);
  atomic_store_explicit(&q->tail, t + 1, memory_order_release);
  return true;
}

/* Owner only. */
static inline struct tt_task *tt_runq_pop(tt_runq *q) {
  for (;;) {
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    if (t == h)
      return NULL;
    struct tt_task *task = atomic_load_explicit(&q->slots[h % TT_RUNQ_SIZE], memory_order_relaxed);
    if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + 1, memory_order_release,
                                              memory_order_relaxed))
      return task;
  }
}

/* Any thread: take about half of q into out[]; returns how many. */
static inline uint32_t tt_runq_grab(tt_runq *q, struct tt_task **out) {
  for (;;) {
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
    uint32_t n = t - h;
    n -= n / 2;
    if (n == 0)
      return 0;
    if (n > TT_RUNQ_SIZE / 2)
      continue; /* read head and tail at different moments: retry */
    for (uint32_t i = 0; i < n; i++)
      out[i] = atomic_load_explicit(&q->slots[(h + i) % TT_RUNQ_SIZE], memory_order_relaxed);
    if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + n, memory_order_release,
                                              memory_order_relaxed))
      return n;
  }
}

#endif
