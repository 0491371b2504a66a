/*
 * Sockets: TCP and Unix stream listeners and connections, socket options,
 * and name resolution that never blocks a worker (getaddrinfo runs on the
 * blocking pool, unless the host is a numeric address, which needs no
 * lookup).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/net.h"

/* ---- Name resolution ---------------------------------------------------- */

typedef struct gai_call {
  const char *host, *port;
  struct addrinfo hints;
  struct addrinfo *res;
  int rc;
} gai_call;

static void gai_run(void *arg) {
  gai_call *c = arg;
  c->rc = getaddrinfo(c->host, c->port, &c->hints, &c->res);
}

static int resolve(const char *host, const char *port, int socktype, int flags,
                   struct addrinfo **res) {
  gai_call c = {.host = host && *host ? host : NULL, .port = port, .res = NULL};
  c.hints.ai_socktype = socktype;
  c.hints.ai_flags = flags | AI_NUMERICHOST | AI_NUMERICSERV;
  c.hints.ai_family = AF_UNSPEC;
  /* Numbers resolve without a lookup: no trip to the pool. */
  gai_run(&c);
  if (c.rc != 0) {
    c.hints.ai_flags = flags;
    if (tt__current()) {
      int rc = tt_blocking(gai_run, &c);
      if (rc < 0)
        return rc;
    } else {
      gai_run(&c);
    }
  }
  if (c.rc == EAI_MEMORY)
    return TT_ENOMEM;
  if (c.rc == EAI_SYSTEM)
    return TT_ESYS(errno);
  if (c.rc != 0)
    return TT_ERESOLVE;
  *res = c.res;
  return 0;
}

int tt_getaddrinfo(const char *host, const char *port, int socktype, struct addrinfo **res) {
  if (!res || ((!host || !*host) && (!port || !*port)))
    return TT_EINVAL;
  return resolve(host, port, socktype, 0, res);
}

/* ---- Peer names for dumps ------------------------------------------------ */

static void name_peer(tt_pollfd *pd, const struct sockaddr *sa) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof host);
    port = ntohs(in->sin6_port);
  } else if (sa->sa_family == AF_UNIX) {
    tt_spin_lock(&pd->lock);
    snprintf(pd->peer, sizeof pd->peer, "unix:%.50s", ((const struct sockaddr_un *)sa)->sun_path);
    tt_spin_unlock(&pd->lock);
    return;
  } else {
    return;
  }
  tt_spin_lock(&pd->lock);
  snprintf(pd->peer, sizeof pd->peer, sa->sa_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
  tt_spin_unlock(&pd->lock);
}

/* ---- Listening ------------------------------------------------------------ */

static int listen_on(const struct sockaddr *sa, socklen_t len, int flags, tt_fd *out) {
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return tt__net_error(errno);
  int one = 1;
  if (((flags & TT_TCP_REUSEADDR) &&
       setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) ||
      ((flags & TT_TCP_REUSEPORT) &&
       setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
      bind(fd, sa, len) < 0 || listen(fd, SOMAXCONN) < 0) {
    int e = errno;
    close(fd);
    return tt__net_error(e);
  }
  return tt__fd_adopt(fd, out, NULL);
}

int tt_tcp_listen(const char *host, const char *port, int flags, tt_fd *out) {
  if (!out || !port || (flags & ~(TT_TCP_REUSEADDR | TT_TCP_REUSEPORT)))
    return TT_EINVAL;
  if (!tt__netpoll_active())
    return TT_ENOTINIT;
  struct addrinfo *res = NULL;
  int rc = resolve(host, port, SOCK_STREAM, AI_PASSIVE, &res);
  if (rc < 0)
    return rc;
  rc = TT_ERESOLVE;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
    if ((rc = listen_on(ai->ai_addr, ai->ai_addrlen, flags, out)) == 0)
      break;
  freeaddrinfo(res);
  return rc;
}

int tt_unix_listen(const char *path, tt_fd *out) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (!out || !path || !*path || strlen(path) >= sizeof sa.sun_path)
    return TT_EINVAL;
  if (!tt__netpoll_active())
    return TT_ENOTINIT;
  memcpy(sa.sun_path, path, strlen(path) + 1); /* length checked above */
  return listen_on((struct sockaddr *)&sa, sizeof sa, 0, out);
}

/* ---- Accepting ------------------------------------------------------------ */

static int accept_one(tt_fd l, tt_fd *out, tt_context *ctx, int64_t deadline) {
  if (!out)
    return TT_EINVAL;
  if (!tt__current())
    return TT_ENOTASK;
  tt_pollfd *pd;
  int rc = tt__pollfd_get(l.h, &pd);
  if (rc < 0)
    return rc;
  for (;;) {
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof ss;
    int fd = accept4(pd->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      tt_pollfd *cpd;
      if ((rc = tt__fd_adopt(fd, out, &cpd)) == 0)
        name_peer(cpd, (struct sockaddr *)&ss);
      break;
    }
    /* A connection that died in the backlog is not the listener's error. */
    if (errno == EINTR || errno == ECONNABORTED)
      continue;
    if (errno != EAGAIN) {
      rc = errno == EINVAL ? TT_EINVAL : tt__net_error(errno); /* EINVAL: not listening */
      break;
    }
    if ((rc = tt__fd_wait(pd, TT_READABLE, ctx, deadline)) < 0)
      break;
  }
  tt__pollfd_put(pd);
  return rc;
}

int tt_tcp_accept(tt_fd l, tt_fd *out) { return accept_one(l, out, NULL, TT_NO_DEADLINE); }
int tt_tcp_accept_until(tt_fd l, tt_fd *out, int64_t deadline) {
  return accept_one(l, out, NULL, deadline);
}
int tt_tcp_accept_ctx(tt_fd l, tt_fd *out, tt_context *ctx) {
  return ctx ? accept_one(l, out, ctx, TT_NO_DEADLINE) : TT_EINVAL;
}

/* ---- Connecting ----------------------------------------------------------- */

static int connect_to(const struct sockaddr *sa, socklen_t len, tt_fd *out, tt_context *ctx,
                      int64_t deadline) {
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return tt__net_error(errno);
  tt_pollfd *pd;
  tt_fd f;
  int rc = tt__fd_adopt(fd, &f, &pd);
  if (rc < 0)
    return rc;
  int r;
  while ((r = connect(fd, sa, len)) < 0 && errno == EINTR)
    ;
  if (r < 0 && errno != EINPROGRESS) {
    rc = tt__net_error(errno);
  } else if (r < 0) {
    /* Writable means the handshake ended; SO_ERROR says how. */
    rc = tt__pollfd_get(f.h, &pd);
    while (rc == 0) {
      rc = tt__fd_wait(pd, TT_WRITABLE, ctx, deadline);
      if (rc < 0)
        break;
      int err = 0;
      socklen_t el = sizeof err;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
        err = errno;
      if (err == 0) {
        /* Spurious edge (an old one): still in progress unless it has a peer. */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
          break;
        if (errno != ENOTCONN) {
          rc = tt__net_error(errno);
          break;
        }
        continue;
      }
      rc = tt__net_error(err);
      break;
    }
    tt__pollfd_put(pd);
  }
  if (rc < 0) {
    tt_fd_close(f);
    return rc;
  }
  name_peer(pd, sa);
  *out = f;
  return 0;
}

static int tcp_connect(const char *host, const char *port, tt_fd *out, tt_context *ctx,
                       int64_t deadline) {
  if (!out || !host || !*host || !port || !*port)
    return TT_EINVAL;
  if (!tt__current())
    return TT_ENOTASK;
  if (!tt__netpoll_active())
    return TT_ENOTINIT;
  struct addrinfo *res = NULL;
  int rc = resolve(host, port, SOCK_STREAM, 0, &res);
  if (rc < 0)
    return rc;
  rc = TT_ERESOLVE;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    rc = connect_to(ai->ai_addr, ai->ai_addrlen, out, ctx, deadline);
    /* Out of time is out of time for every address. */
    if (rc == 0 || rc == TT_ETIMEDOUT || rc == TT_ECANCELED)
      break;
  }
  freeaddrinfo(res);
  return rc;
}

int tt_tcp_connect(const char *host, const char *port, tt_fd *out) {
  return tcp_connect(host, port, out, NULL, TT_NO_DEADLINE);
}
int tt_tcp_connect_until(const char *host, const char *port, tt_fd *out, int64_t deadline) {
  return tcp_connect(host, port, out, NULL, deadline);
}
int tt_tcp_connect_ctx(const char *host, const char *port, tt_fd *out, tt_context *ctx) {
  return ctx ? tcp_connect(host, port, out, ctx, TT_NO_DEADLINE) : TT_EINVAL;
}

static int unix_connect(const char *path, tt_fd *out, tt_context *ctx, int64_t deadline) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (!out || !path || !*path || strlen(path) >= sizeof sa.sun_path)
    return TT_EINVAL;
  if (!tt__current())
    return TT_ENOTASK;
  if (!tt__netpoll_active())
    return TT_ENOTINIT;
  memcpy(sa.sun_path, path, strlen(path) + 1); /* length checked above */
  int rc = connect_to((struct sockaddr *)&sa, sizeof sa, out, ctx, deadline);
  /* No socket at that path: nobody listens there. */
  return rc == TT_ESYS(ENOENT) ? TT_ECONNREFUSED : rc;
}

int tt_unix_connect(const char *path, tt_fd *out) {
  return unix_connect(path, out, NULL, TT_NO_DEADLINE);
}
int tt_unix_connect_until(const char *path, tt_fd *out, int64_t deadline) {
  return unix_connect(path, out, NULL, deadline);
}
int tt_unix_connect_ctx(const char *path, tt_fd *out, tt_context *ctx) {
  return ctx ? unix_connect(path, out, ctx, TT_NO_DEADLINE) : TT_EINVAL;
}

/* ---- Options -------------------------------------------------------------- */

static int set_opt(tt_fd f, int level, int name, int value) {
  tt_pollfd *pd;
  int rc = tt__pollfd_get(f.h, &pd);
  if (rc < 0)
    return rc;
  rc = setsockopt(pd->fd, level, name, &value, sizeof value) < 0 ? tt__net_error(errno) : 0;
  tt__pollfd_put(pd);
  return rc == TT_ESYS(ENOTSOCK) || rc == TT_ESYS(EOPNOTSUPP) ? TT_EINVAL : rc;
}

int tt_tcp_nodelay(tt_fd f, int on) { return set_opt(f, IPPROTO_TCP, TCP_NODELAY, !!on); }

int tt_tcp_keepalive(tt_fd f, int on, int idle_seconds) {
  if (idle_seconds < 0)
    return TT_EINVAL;
  int rc = set_opt(f, SOL_SOCKET, SO_KEEPALIVE, !!on);
  if (rc == 0 && on && idle_seconds > 0) {
    rc = set_opt(f, IPPROTO_TCP, TCP_KEEPIDLE, idle_seconds);
    if (rc == 0)
      rc = set_opt(f, IPPROTO_TCP, TCP_KEEPINTVL, idle_seconds);
  }
  return rc;
}

int tt_sock_port(tt_fd f) {
  tt_pollfd *pd;
  int rc = tt__pollfd_get(f.h, &pd);
  if (rc < 0)
    return rc;
  struct sockaddr_storage ss = {0};
  socklen_t len = sizeof ss;
  if (getsockname(pd->fd, (struct sockaddr *)&ss, &len) < 0)
    rc = errno == ENOTSOCK ? TT_EINVAL : tt__net_error(errno);
  else if (ss.ss_family == AF_INET)
    rc = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  else if (ss.ss_family == AF_INET6)
    rc = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  else
    rc = TT_EINVAL;
  tt__pollfd_put(pd);
  return rc;
}
