/*
 * The network layer (src/net/): descriptors on the runtime's poller
 * (core/netpoll.h) as tasks see them. fd.c waits and moves bytes, tcp.c
 * makes sockets (TCP and Unix) and resolves names.
 */
#ifndef TT_NET_NET_H
#define TT_NET_NET_H

#include "core/netpoll.h"

/* Wait for one direction (TT_READABLE or TT_WRITABLE) of pd, which the
 * caller holds a reference to: 0 (try the call again), TT_ECLOSED,
 * TT_ETIMEDOUT, the context's error. Task only. */
int tt__fd_wait(tt_pollfd *pd, int mode, tt_context *ctx, int64_t deadline);
/* errno from a socket call as a tether code (TT_ECONNRESET, ...). */
int tt__net_error(int e);
/* Register a fresh socket we own; closes it on failure. */
int tt__fd_adopt(int fd, tt_fd *out, tt_pollfd **pd_out);

#endif
