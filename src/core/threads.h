/*
 * The threads the runtime knows cannot wake a task by themselves (threads.c):
 * workers, idle blocking-pool helpers, the dump thread, a monitor without a
 * user callback, and the thread waiting in tt_main while its main task
 * lives. The global deadlock check (leak/deadlock.c) takes a census of the
 * process's threads against this list: any other thread might hold a handle
 * and send, cancel or unlock.
 */
#ifndef TT_CORE_THREADS_H
#define TT_CORE_THREADS_H

#include <pthread.h>
#include <sys/types.h>

#include "core/base.h"

/* The calling thread starts (add) or stops being one of those threads. */
void tt__thread_known(bool add);

/* Set on threads that tt_shutdown itself waits for (blocking-pool helpers,
 * the monitor): a tt_shutdown called there would wait for itself, so it
 * returns TT_EBUSY instead. */
extern __thread bool tt__shutdown_waits_for_me;
/* The calling thread waits in tt_main for task main_id: it counts as known
 * only while that task lives, since it runs the user's code again as soon
 * as the task is gone. */
void tt__main_waiting(int64_t main_id, bool waiting);

/* For the census: is every thread of the process (from /proc/self/task)
 * known? main_alive: the main task was seen waiting, so the thread in
 * tt_main counts too. */
bool tt__threads_all_known(bool main_alive);
/* The task the thread in tt_main waits for, 0 when none. */
int64_t tt__main_task_id(void);

/* pthread_create for the runtime's own threads: the signals delivered to
 * channels (tt__netpoll_signals) are blocked in the new thread, which
 * signalfd needs of every thread. */
int tt__thread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);

#endif
