/*
 * Descriptors on the poller as tasks use them: attach, wait, read, write,
 * close. Every call tries the system call first and waits only on EAGAIN
 * (the poller is edge-triggered, core/netpoll.c), holding a reference to
 * the pollfd throughout, so a concurrent close defers close(2) until the
 * call is out.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net.h"
#include "sync/wait_on.h"

int tt__net_error(int e) {
  switch (e) {
  case ECONNRESET:
  case EPIPE: return TT_ECONNRESET;
  case ECONNREFUSED: return TT_ECONNREFUSED;
  case EBADF: return TT_EBADF;
  case ENOMEM:
  case ENOBUFS: return TT_ENOMEM;
  default: return TT_ESYS(e);
  }
}

int tt__fd_wait(tt_pollfd *pd, int mode, tt_context *ctx, int64_t deadline) {
  tt_worker *wk = tt__worker();
  if (!wk || !wk->current)
    return TT_ENOTASK;
  /* Out of time before waiting: say so even when an edge is pending (a
   * call that completes without waiting still completes). */
  int err = ctx ? tt_context_err(ctx) : 0;
  if (err)
    return err;
  if (deadline != TT_NO_DEADLINE && deadline <= tt_now())
    return TT_ETIMEDOUT;
  tt_spin_lock(&pd->lock);
  if (pd->closing) {
    tt_spin_unlock(&pd->lock);
    return TT_ECLOSED;
  }
  bool *ready = mode == TT_READABLE ? &pd->rready : &pd->wready;
  if (*ready) {
    /* An edge came since our call said EAGAIN (or just before): try again. */
    *ready = false;
    tt_spin_unlock(&pd->lock);
    return 0;
  }
  atomic_store_explicit(&wk->current->wait_fd, pd->fd, memory_order_relaxed);
  tt_waiter w = {0};
  atomic_fetch_add(&tt__netpoll_waiters, 1);
  int rc = tt__wait_on(&pd->lock, mode == TT_READABLE ? &pd->rq : &pd->wq, &w, TT_WAIT_IO, pd, ctx,
                       deadline);
  atomic_fetch_sub(&tt__netpoll_waiters, 1);
  if (rc == 0 && __atomic_load_n(&pd->closing, __ATOMIC_ACQUIRE))
    return TT_ECLOSED;
  return rc;
}

int tt__fd_adopt(int fd, tt_fd *out, tt_pollfd **pd_out) {
  int64_t h = tt__pollfd_open(fd, true, pd_out);
  if (h < 0) {
    close(fd);
    return (int)h;
  }
  out->h = h;
  return 0;
}

int tt_fd_attach(int fd, tt_fd *out) {
  if (!out)
    return TT_EINVAL;
  int64_t h = tt__pollfd_open(fd, true, NULL);
  if (h < 0)
    return (int)h;
  out->h = h;
  return 0;
}

static int close_handle(tt_fd f, bool keep) {
  tt_pollfd *pd;
  int rc = tt__pollfd_get(f.h, &pd);
  if (rc < 0)
    return rc;
  int fd = pd->fd;
  rc = tt__pollfd_close(pd, keep);
  tt__pollfd_put(pd);
  return rc < 0 ? rc : keep ? fd : 0;
}

int tt_fd_close(tt_fd f) { return close_handle(f, false); }
int tt_fd_detach(tt_fd f) { return close_handle(f, true); }

int tt_fd_num(tt_fd f) {
  tt_pollfd *pd;
  int rc = tt__pollfd_get(f.h, &pd);
  if (rc < 0)
    return rc;
  int fd = pd->fd;
  tt__pollfd_put(pd);
  return fd;
}

/* ---- Waiting for readiness ---------------------------------------------- */

static int fd_wait(tt_fd f, int events, tt_context *ctx, int64_t deadline) {
  if (events != TT_READABLE && events != TT_WRITABLE)
    return TT_EINVAL;
  if (!tt__current())
    return TT_ENOTASK;
  tt_pollfd *pd;
  int rc = tt__pollfd_get(f.h, &pd);
  if (rc < 0)
    return rc;
  rc = tt__fd_wait(pd, events, ctx, deadline);
  tt__pollfd_put(pd);
  return rc;
}

int tt_fd_wait(tt_fd f, int events) { return fd_wait(f, events, NULL, TT_NO_DEADLINE); }
int tt_fd_wait_until(tt_fd f, int events, int64_t deadline) {
  return fd_wait(f, events, NULL, deadline);
}
int tt_fd_wait_ctx(tt_fd f, int events, tt_context *ctx) {
  return ctx ? fd_wait(f, events, ctx, TT_NO_DEADLINE) : TT_EINVAL;
}

/* ---- Reading and writing ------------------------------------------------ */

/* One read: bytes (> 0), TT_EOF, or an error; waits while there is none. */
static int64_t read_some(tt_pollfd *pd, void *buf, size_t n, tt_context *ctx, int64_t deadline) {
  for (;;) {
    ssize_t r = read(pd->fd, buf, n);
    if (r > 0)
      return r;
    if (r == 0)
      return TT_EOF;
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN)
      return tt__net_error(errno);
    int rc = tt__fd_wait(pd, TT_READABLE, ctx, deadline);
    if (rc < 0)
      return rc;
  }
}

static int64_t fd_read(tt_fd f, void *buf, size_t n, bool full, tt_context *ctx, int64_t deadline) {
  if (!buf && n)
    return TT_EINVAL;
  if (!tt__current())
    return TT_ENOTASK;
  tt_pollfd *pd;
  int rc = tt__pollfd_get(f.h, &pd);
  if (rc < 0)
    return rc;
  int64_t got = 0, r = 0;
  while ((size_t)got < n) {
    r = read_some(pd, (char *)buf + got, n - (size_t)got, ctx, deadline);
    if (r < 0)
      break;
    got += r;
    if (!full)
      break;
  }
  tt__pollfd_put(pd);
  return r < 0 ? r : got;
}

int64_t tt_fd_read(tt_fd f, void *buf, size_t n) {
  return fd_read(f, buf, n, false, NULL, TT_NO_DEADLINE);
}
int64_t tt_fd_read_until(tt_fd f, void *buf, size_t n, int64_t deadline) {
  return fd_read(f, buf, n, false, NULL, deadline);
}
int64_t tt_fd_read_ctx(tt_fd f, void *buf, size_t n, tt_context *ctx) {
  return ctx ? fd_read(f, buf, n, false, ctx, TT_NO_DEADLINE) : TT_EINVAL;
}
int64_t tt_fd_read_full(tt_fd f, void *buf, size_t n) {
  return fd_read(f, buf, n, true, NULL, TT_NO_DEADLINE);
}
int64_t tt_fd_read_full_until(tt_fd f, void *buf, size_t n, int64_t deadline) {
  return fd_read(f, buf, n, true, NULL, deadline);
}
int64_t tt_fd_read_full_ctx(tt_fd f, void *buf, size_t n, tt_context *ctx) {
  return ctx ? fd_read(f, buf, n, true, ctx, TT_NO_DEADLINE) : TT_EINVAL;
}

static int64_t fd_write_all(tt_fd f, const void *buf, size_t n, tt_context *ctx, int64_t deadline) {
  if (!buf && n)
    return TT_EINVAL;
  if (!tt__current())
    return TT_ENOTASK;
  tt_pollfd *pd;
  int rc = tt__pollfd_get(f.h, &pd);
  if (rc < 0)
    return rc;
  size_t done = 0;
  int64_t err = 0;
  while (done < n) {
    const char *p = (const char *)buf + done;
    ssize_t w =
        pd->is_socket ? send(pd->fd, p, n - done, MSG_NOSIGNAL) : write(pd->fd, p, n - done);
    if (w >= 0) {
      done += (size_t)w;
      continue;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN) {
      err = tt__net_error(errno);
      break;
    }
    if ((err = tt__fd_wait(pd, TT_WRITABLE, ctx, deadline)) < 0)
      break;
  }
  tt__pollfd_put(pd);
  return err < 0 ? err : (int64_t)done;
}

int64_t tt_fd_write_all(tt_fd f, const void *buf, size_t n) {
  return fd_write_all(f, buf, n, NULL, TT_NO_DEADLINE);
}
int64_t tt_fd_write_all_until(tt_fd f, const void *buf, size_t n, int64_t deadline) {
  return fd_write_all(f, buf, n, NULL, deadline);
}
int64_t tt_fd_write_all_ctx(tt_fd f, const void *buf, size_t n, tt_context *ctx) {
  return ctx ? fd_write_all(f, buf, n, ctx, TT_NO_DEADLINE) : TT_EINVAL;
}

int tt_fd_shutdown(tt_fd f, int how) {
  if (how < TT_SHUT_RD || how > TT_SHUT_RDWR)
    return TT_EINVAL;
  tt_pollfd *pd;
  int rc = tt__pollfd_get(f.h, &pd);
  if (rc < 0)
    return rc;
  int sh = how == TT_SHUT_RD ? SHUT_RD : how == TT_SHUT_WR ? SHUT_WR : SHUT_RDWR;
  rc = shutdown(pd->fd, sh) < 0 ? tt__net_error(errno) : 0;
  tt__pollfd_put(pd);
  return rc;
}
