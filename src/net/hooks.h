/*
 * What the lower layers tell the network layer: the runtime is shutting
 * down (runtime.c), after its tasks are gone.
 */
#ifndef TT_NET_HOOKS_H
#define TT_NET_HOOKS_H

/* Forget every signal watch (tt_signal_notify), close the signalfd, put
 * back the dispositions it replaced and unblock its signals in the calling
 * thread. */
void tt__signal_shutdown(void);

#endif
