/*
 * Task stacks (stack.c): slots carved from large chunks, per-worker caches,
 * guard zones, the canary, and the overflow report.
 */
#ifndef TT_CORE_STACK_H
#define TT_CORE_STACK_H

#include "core/runtime.h"

int tt__stacks_init(size_t default_size);
void tt__stacks_destroy(void);
/* A slot for a task with the given stack size, with its task record at the
 * top; NULL when out of memory. */
tt_task *tt__stack_alloc(tt_worker *w, size_t size);
void tt__stack_free(tt_worker *w, tt_task *t);
/* Shutdown: a call tt_blocking runs for t may still use t's stack (and
 * record) after the runtime stops, so t's memory is never unmapped: the
 * task is marked and tt__stacks_destroy leaves its chunk mapped. */
void tt__stack_pin(tt_task *t);
/* Return the pages of one batch of surplus pooled stacks to the kernel;
 * true when more remain. Called by idle workers. */
bool tt__stacks_trim(void);
/* Canary and stack pointer (sp: any address in the caller's frame) check;
 * aborts with a report naming the task. */
void tt__stack_check(tt_task *t, void *sp);
void tt__overflow_handler_install(void);
void tt__overflow_handler_thread_init(tt_worker *w);
void tt__overflow_handler_thread_fini(tt_worker *w);

#endif
