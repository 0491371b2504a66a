/*
 * The HTTP client's driver task and socket watchers (client.h has the
 * design). The driver owns the curl multi handle: it starts requests (at
 * most max_in_flight at a time, the rest wait in its queue), feeds curl the
 * readiness of its sockets and its timer, and sends each request's result
 * on the request's own channel once curl has let go of its easy handle.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "http/client.h"

/* ---- Sockets ----------------------------------------------------------- */

/* The watcher: one task per client, parked on the runtime's poller on the
 * client's own epoll set. Each edge there (a socket of curl's got ready)
 * becomes one READY for the driver, at most one on its way at a time. Ends
 * when the driver closes the set. */
int tt__http_client_watch(tt_context *ctx, void *arg) {
  (void)ctx;
  tt_http_client *c = arg;
  while (tt_fd_wait(c->epf, TT_READABLE) == 0) {
    if (atomic_exchange(&c->ready_queued, true))
      continue;
    client_msg m = {MSG_READY, NULL};
    if (tt_chan_send(c->events, &m) != 0)
      break; /* the driver has stopped */
  }
  return 0;
}

/* ---- curl's callbacks (they only record: curl may not be called back) -- */

/* curl says what it wants on a socket: the set is changed to match (level-
 * triggered, as curl expects), and the driver looks at the set again,
 * since a socket may be ready already. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp) {
  tt_http_client *c = arg;
  c->look = true;
  if (what == CURL_POLL_REMOVE) {
    /* Gone from the set with it (curl forgets sockp); ENOENT when curl
     * closed it first is fine. */
    (void)epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
    return 0;
  }
  struct epoll_event ev = {.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) |
                                     ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u),
                           .data.fd = fd};
  if (sockp ? epoll_ctl(c->epfd, EPOLL_CTL_MOD, fd, &ev) == 0
            : epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 &&
                  curl_multi_assign(c->multi, fd, c) == CURLM_OK)
    return 0;
  /* Unwatchable (the kernel's watch limit, or memory): fail the request
   * that asked rather than let it wait for an event that cannot come. */
  client_req *r = NULL;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
  if (r && !r->fail) {
    r->fail = TT_ENOMEM;
    c->unwatched = true;
  }
  return 0;
}

static int on_timer(CURLM *multi, long ms, void *arg) {
  (void)multi;
  tt_http_client *c = arg;
  c->timer_at = ms < 0 ? TT_NO_DEADLINE : tt_now() + (int64_t)ms * 1000000;
  return 0;
}

CURLM *tt__http_client_multi(tt_http_client *c) {
  CURLM *m = curl_multi_init();
  if (!m)
    return NULL;
  curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(m, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(m, CURLMOPT_TIMERDATA, c);
  curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)c->o.max_idle_conns);
  return m;
}

/* ---- Requests ----------------------------------------------------------- */

static void list_push(req_list *l, client_req *r) {
  r->next = NULL;
  r->prev = l->last;
  if (l->last)
    l->last->next = r;
  else
    l->first = r;
  l->last = r;
  l->n++;
}

static void list_remove(req_list *l, client_req *r) {
  if (r->prev)
    r->prev->next = r->next;
  else
    l->first = r->next;
  if (r->next)
    r->next->prev = r->prev;
  else
    l->last = r->prev;
  r->prev = r->next = NULL;
  l->n--;
}

/* Hand the result over. The requester may return (and its stack frame,
 * where r lives, go) the moment the value is on the channel. */
static void finish(tt_http_client *c, client_req *r, int code, const char *why) {
  long status = 0;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
  r->resp->status = (int)status;
  if (r->active) {
    curl_multi_remove_handle(c->multi, r->easy);
    list_remove(&c->active, r);
    r->active = false;
  } else if (r->queued) {
    list_remove(&c->waiting, r);
    r->queued = false;
  }
  r->finished = true;
  if (code != 0 && why && !r->resp->error[0])
    snprintf(r->resp->error, sizeof r->resp->error, "%s", why);
  tt_chan *done = r->done;
  (void)tt_chan_send(done, &code); /* capacity 1, sent once: never waits */
}

static int curl_code(client_req *r, CURLcode rc) {
  if (r->fail)
    return r->fail;
  switch (rc) {
  case CURLE_OK: return 0;
  case CURLE_OPERATION_TIMEDOUT: return TT_ETIMEDOUT;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY: return TT_ERESOLVE;
  case CURLE_COULDNT_CONNECT: {
    long e = 0;
    curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &e);
    return e == 0 || e == ECONNREFUSED ? TT_ECONNREFUSED : TT_ESYS((int)e);
  }
  case CURLE_FILESIZE_EXCEEDED: return TT_ETOOBIG;
  case CURLE_OUT_OF_MEMORY: return TT_ENOMEM;
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL: return TT_EINVAL;
  case CURLE_GOT_NOTHING:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_PARTIAL_FILE: return TT_ECONNRESET;
  default: return TT_EPROTO;
  }
}

static void start_waiting(tt_http_client *c) {
  while (c->waiting.first && c->active.n < c->o.max_in_flight) {
    client_req *r = c->waiting.first;
    list_remove(&c->waiting, r);
    r->queued = false;
    if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
      finish(c, r, TT_ENOMEM, "curl refused the transfer");
      continue;
    }
    r->active = true;
    list_push(&c->active, r);
  }
}

static void collect(tt_http_client *c) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(c->multi, &left))) {
    if (m->msg != CURLMSG_DONE)
      continue;
    client_req *r = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    CURLcode rc = m->data.result;
    int code = curl_code(r, rc);
    char why[128];
    if (r->fail == TT_ETOOBIG)
      snprintf(why, sizeof why, "the response body passed the limit of %lld bytes",
               (long long)r->max_body);
    else if (r->fail == TT_ECANCELED)
      snprintf(why, sizeof why, "the body callback stopped the transfer");
    else
      snprintf(why, sizeof why, "%s", curl_easy_strerror(rc));
    if (r->fail)
      r->resp->error[0] = 0; /* curl's words would name its own symptom */
    finish(c, r, code, why);
  }
  /* A transfer failed by a callback of ours that curl has not ended yet
   * (an unwatchable socket): end it now. */
  if (c->unwatched) {
    c->unwatched = false;
    for (client_req *r = c->active.first, *next; r; r = next) {
      next = r->next;
      if (r->fail == TT_ENOMEM)
        finish(c, r, TT_ENOMEM, "cannot watch the connection's socket");
    }
  }
  start_waiting(c);
}

static void action(tt_http_client *c, curl_socket_t fd, int flags) {
  int running;
  curl_multi_socket_action(c->multi, fd, flags, &running);
  collect(c);
}

/* Tell curl about every socket of the set that is ready now. Since the set
 * is level-triggered, a socket curl did not drain is reported again on the
 * next look. */
static void look(tt_http_client *c) {
  c->look = false;
  struct epoll_event ev[64];
  int n = epoll_wait(c->epfd, ev, 64, 0);
  for (int i = 0; i < n; i++) {
    int flags = 0;
    if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
      flags |= CURL_CSELECT_IN;
    if (ev[i].events & EPOLLOUT)
      flags |= CURL_CSELECT_OUT;
    if (ev[i].events & EPOLLERR)
      flags |= CURL_CSELECT_ERR;
    action(c, ev[i].data.fd, flags);
  }
  if (n > 0)
    c->look = true; /* more may be waiting: look again next round */
}

static void cut_all(tt_http_client *c, tt_chan *reply) {
  c->cut = true;
  int n = c->active.n + c->waiting.n;
  while (c->active.first)
    finish(c, c->active.first, TT_ECANCELED, "cut off by tt_http_client_shutdown");
  while (c->waiting.first)
    finish(c, c->waiting.first, TT_ECANCELED, "cut off by tt_http_client_shutdown");
  (void)tt_chan_send(reply, &n);
}

static void handle(tt_http_client *c, const client_msg *m) {
  switch (m->kind) {
  case MSG_SUBMIT: {
    client_req *r = m->p;
    if (c->cut) { /* started just before shutdown's cut: cut it too */
      finish(c, r, TT_ECANCELED, "cut off by tt_http_client_shutdown");
      break;
    }
    r->queued = true;
    list_push(&c->waiting, r);
    start_waiting(c);
    break;
  }
  case MSG_CANCEL: {
    client_req *r = m->p;
    if (!r->finished)
      finish(c, r, r->cancel_code,
             r->cancel_code == TT_ETIMEDOUT ? "the request's context deadline passed"
                                            : "the request's context was cancelled");
    break;
  }
  case MSG_READY:
    atomic_store(&c->ready_queued, false); /* before the look: a later edge sends again */
    c->look = true;
    break;
  case MSG_CUT: cut_all(c, m->p); break;
  case MSG_STOP: c->stopped = true; break;
  default: break;
  }
}

static void teardown(tt_http_client *c) {
  curl_multi_cleanup(c->multi); /* its last socket calls use the set */
  c->multi = NULL;
  (void)tt_fd_close(c->epf); /* the watcher wakes with TT_ECLOSED and ends */
  /* A watcher still sending gets TT_ECLOSED. */
  tt_chan_close(c->events);
  client_msg m;
  while (tt_chan_recv(c->events, &m) == 0) {
  }
}

int tt__http_client_driver(tt_context *ctx, void *arg) {
  (void)ctx;
  tt_http_client *c = arg;
  while (!c->stopped) {
    if (c->timer_at != TT_NO_DEADLINE && c->timer_at <= tt_now()) {
      c->timer_at = TT_NO_DEADLINE;
      action(c, CURL_SOCKET_TIMEOUT, 0);
    }
    if (c->look)
      look(c);
    client_msg m;
    int rc;
    if (c->look) {
      rc = tt_chan_try_recv(c->events, &m);
      if (rc == TT_EAGAIN) {
        tt_yield(); /* sockets still ready: let others run, then look again */
        continue;
      }
    } else if (c->timer_at == TT_NO_DEADLINE) {
      rc = tt_chan_recv(c->events, &m);
    } else {
      rc = tt_chan_recv_until(c->events, &m, c->timer_at);
    }
    if (rc == TT_ETIMEDOUT)
      continue; /* curl's timer: the top of the loop runs it */
    if (rc != 0)
      break;
    handle(c, &m);
  }
  teardown(c);
  return 0;
}
