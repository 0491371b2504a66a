/*
 * The HTTP client's public calls (tether.h, "HTTP client"; the design is in
 * client.h). A request is prepared and waited for by the calling task; the
 * driver task (client_driver.c) runs it. What the client starts is in its
 * task group, so shutdown can wait for all of it.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/runtime.h"
#include "http/client.h"

#define DEFAULT_TIMEOUT (30 * 1000000000LL)
#define DEFAULT_CONNECT_TIMEOUT (10 * 1000000000LL)
#define DEFAULT_MAX_IN_FLIGHT 64
#define DEFAULT_MAX_BODY (10LL << 20)
#define DEFAULT_MAX_IDLE 16
#define EVENTS_CAP 256

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- Responses, as curl's callbacks gather them --------------------------- */

static bool append(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
  if (*len + n + 1 > *cap) {
    size_t c = *cap ? *cap : 256;
    while (c < *len + n + 1)
      c *= 2;
    char *b = realloc(*buf, c);
    if (!b)
      return false;
    *buf = b;
    *cap = c;
  }
  memcpy(*buf + *len, data, n);
  *len += n;
  (*buf)[*len] = 0;
  return true;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg) {
  client_req *r = arg;
  size_t n = size * nmemb;
  tt_http_response *resp = r->resp;
  if (r->fail)
    return 0;
  if ((int64_t)(resp->body_len + n) > r->max_body) {
    r->fail = TT_ETOOBIG; /* stop here, not after the rest has come */
    return 0;
  }
  if (r->on_body) {
    resp->body_len += n;
    if (r->on_body(data, n, r->on_body_arg) != 0) {
      r->fail = TT_ECANCELED;
      return 0;
    }
    return n;
  }
  if (!append(&resp->body, &resp->body_len, &r->body_cap, data, n)) {
    r->fail = TT_ENOMEM;
    return 0;
  }
  return n;
}

/* Each line of each head curl reads: the last head's fields are kept (an
 * interim 100 Continue's are dropped), and a Content-Length beyond the
 * limit stops the transfer before any of the body comes. */
static size_t on_header(char *line, size_t size, size_t nmemb, void *arg) {
  client_req *r = arg;
  size_t n = size * nmemb;
  tt_http_response *resp = r->resp;
  static const char cl[] = "content-length:";
  if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    resp->headers_len = 0; /* a new head */
    if (resp->headers)
      resp->headers[0] = 0;
    return n;
  }
  if (n <= 2 && (line[0] == '\r' || line[0] == '\n'))
    return n;
  if (n > sizeof cl - 1 && strncasecmp(line, cl, sizeof cl - 1) == 0) {
    long long len = strtoll(line + sizeof cl - 1, NULL, 10);
    if (len > r->max_body) {
      r->fail = TT_ETOOBIG;
      return 0;
    }
  }
  if (!append(&resp->headers, &resp->headers_len, &r->headers_cap, line, n)) {
    r->fail = TT_ENOMEM;
    return 0;
  }
  return n;
}

/* ---- Preparing a request ------------------------------------------------- */

static long ms_of(int64_t ns) {
  int64_t ms = (ns + 999999) / 1000000;
  return ms > 0x7fffffff ? 0x7fffffff : (long)(ms < 1 ? 1 : ms);
}

/* An easy handle curl has let go of goes back to the spares (reset: no
 * option of this request survives), so the next request skips curl's
 * set-up and its allocations. */
static void put_easy(tt_http_client *c, CURL *e) {
  curl_easy_reset(e);
  tt_mutex_lock(&c->lock);
  bool kept = c->nspare < c->o.max_idle_conns;
  if (kept)
    c->spare[c->nspare++] = e;
  tt_mutex_unlock(&c->lock);
  if (!kept)
    curl_easy_cleanup(e);
}

int tt__http_client_prepare(client_req *r, const tt_http_request *req) {
  tt_http_client *c = r->c;
  CURL *e = NULL;
  tt_mutex_lock(&c->lock);
  if (c->nspare)
    e = c->spare[--c->nspare];
  tt_mutex_unlock(&c->lock);
  if (!e && !(e = curl_easy_init()))
    return TT_ENOMEM;
  r->easy = e;
  int64_t timeout = req->timeout ? req->timeout : c->o.timeout;
  bool ok = curl_easy_setopt(e, CURLOPT_URL, req->url) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->resp->error) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_WRITEDATA, r) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_HEADERDATA, r) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms_of(timeout)) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms_of(c->o.connect_timeout)) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_body) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
  /* Do not leave a removed transfer's resolver thread to be joined. */
  ok &= curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L) == CURLE_OK;
  if (!ok)
    return TT_EINVAL;
  const char *method = req->method;
  if (req->body) {
    ok &= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body) == CURLE_OK;
  }
  if (method && strcmp(method, "HEAD") == 0)
    ok &= curl_easy_setopt(e, CURLOPT_NOBODY, 1L) == CURLE_OK;
  else if (method && !(strcmp(method, "GET") == 0 && !req->body) &&
           !(strcmp(method, "POST") == 0 && req->body))
    ok &= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
  for (const char *const *h = req->headers; h && *h; h++) {
    struct curl_slist *l = curl_slist_append(r->fields, *h);
    if (!l)
      return TT_ENOMEM;
    r->fields = l;
  }
  if (r->fields)
    ok &= curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->fields) == CURLE_OK;
  return ok ? 0 : TT_EINVAL;
}

/* ---- The client ------------------------------------------------------------ */

static int send_event(tt_http_client *c, int kind, void *p) {
  client_msg m = {kind, p};
  return tt_chan_send(c->events, &m);
}

int tt_http_client_new(const tt_http_client_opts *opts, tt_http_client **out) {
  if (!out)
    return TT_EINVAL;
  *out = NULL;
  tt_http_client_opts o = opts ? *opts : (tt_http_client_opts){0};
  if (o.timeout < 0 || o.connect_timeout < 0 || o.max_in_flight < 0 || o.max_body < 0 ||
      o.max_idle_conns < 0)
    return TT_EINVAL;
  int st = atomic_load(&tt__rt.state);
  if (st != TT_RT_RUNNING)
    return st == TT_RT_STOPPING ? TT_ESHUTDOWN : TT_ENOTINIT;
  pthread_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK)
    return TT_ENOMEM;
  tt_http_client *c = calloc(1, sizeof *c);
  if (!c)
    return TT_ENOMEM;
  c->o = o;
  if (!c->o.timeout)
    c->o.timeout = DEFAULT_TIMEOUT;
  if (!c->o.connect_timeout)
    c->o.connect_timeout = DEFAULT_CONNECT_TIMEOUT;
  if (!c->o.max_in_flight)
    c->o.max_in_flight = DEFAULT_MAX_IN_FLIGHT;
  if (!c->o.max_body)
    c->o.max_body = DEFAULT_MAX_BODY;
  if (!c->o.max_idle_conns)
    c->o.max_idle_conns = DEFAULT_MAX_IDLE;
  snprintf(c->user_agent, sizeof c->user_agent, "%s",
           o.user_agent ? o.user_agent : "tether/" TT_VERSION);
  c->o.user_agent = c->user_agent;
  c->timer_at = TT_NO_DEADLINE;
  c->spare = calloc((size_t)c->o.max_idle_conns, sizeof *c->spare);
  c->epfd = c->spare ? epoll_create1(EPOLL_CLOEXEC) : -1;
  if (c->epfd < 0 || tt_fd_attach(c->epfd, &c->epf) != 0) {
    if (c->epfd >= 0)
      close(c->epfd);
    free(c->spare);
    free(c);
    return TT_ENOMEM;
  }
  c->multi = tt__http_client_multi(c);
  c->events = tt_chan_make(sizeof(client_msg), EVENTS_CAP);
  c->group = c->events ? tt_group_make(NULL, 0) : NULL;
  if (!c->multi || !c->group || tt_group_go(c->group, tt__http_client_driver, c) < 0) {
    if (c->group) /* nothing runs in it yet */
      tt_group_destroy(c->group, 0);
    if (c->multi)
      curl_multi_cleanup(c->multi);
    if (c->events)
      tt_chan_unref(c->events);
    (void)tt_fd_close(c->epf);
    free(c->spare);
    free(c);
    return TT_ENOMEM;
  }
  /* The driver is running: from here its teardown closes the set, and a
   * client without a watcher would never hear from its sockets. */
  if (tt_group_go(c->group, tt__http_client_watch, c) < 0) {
    c->closing = true;
    (void)send_event(c, MSG_STOP, NULL);
    (void)tt_group_wait(c->group);
    tt_group_destroy(c->group, 0);
    tt_chan_unref(c->events);
    free(c->spare);
    free(c);
    return TT_ENOMEM;
  }
  *out = c;
  return 0;
}

/* Count a request in (false once shutdown has started), and out. */
static bool enter(tt_http_client *c) {
  tt_mutex_lock(&c->lock);
  bool ok = !c->closing;
  if (ok)
    c->in_flight++;
  tt_mutex_unlock(&c->lock);
  return ok;
}

static void leave(tt_http_client *c) {
  tt_mutex_lock(&c->lock);
  if (--c->in_flight == 0)
    tt_cond_broadcast(&c->idle);
  tt_mutex_unlock(&c->lock);
}

int tt_http_do(tt_http_client *c, tt_context *ctx, const tt_http_request *req,
               tt_http_response *resp) {
  if (resp)
    memset(resp, 0, sizeof *resp);
  if (!c || !req || !resp || !req->url || req->timeout < 0 || req->max_body < 0)
    return TT_EINVAL;
  if (!tt_self())
    return TT_ENOTASK;
  if (!enter(c)) {
    snprintf(resp->error, sizeof resp->error, "the client is shut down");
    return TT_ESHUTDOWN;
  }
  client_req r = {.c = c, .resp = resp, .on_body = req->on_body, .on_body_arg = req->on_body_arg};
  r.max_body = req->max_body ? req->max_body : c->o.max_body;
  int rc = tt__http_client_prepare(&r, req);
  if (rc == 0 && !(r.done = tt_chan_make(sizeof(int), 1)))
    rc = TT_ENOMEM;
  if (rc == 0)
    rc = send_event(c, MSG_SUBMIT, &r);
  if (rc == 0) {
    int result = 0;
    rc = ctx ? tt_chan_recv_ctx(r.done, &result, ctx) : tt_chan_recv(r.done, &result);
    if (rc != 0) {
      /* Our caller stops waiting: take the transfer back from curl. */
      r.cancel_code = rc;
      (void)send_event(c, MSG_CANCEL, &r);
      (void)tt_chan_recv(r.done, &result);
    }
    rc = result;
  } else if (rc == TT_EINVAL) {
    snprintf(resp->error, sizeof resp->error, "curl rejected the request's options");
  }
  if (r.done)
    tt_chan_unref(r.done);
  curl_slist_free_all(r.fields);
  if (r.easy)
    put_easy(c, r.easy);
  if (rc == 0)
    resp->error[0] = 0;
  leave(c);
  return rc;
}

int tt_http_get(tt_http_client *c, tt_context *ctx, const char *url, tt_http_response *resp) {
  return tt_http_do(c, ctx, &(tt_http_request){.url = url}, resp);
}

int tt_http_response_header(const tt_http_response *resp, const char *name, char *buf, size_t cap) {
  if (!resp || !name || !buf || !cap)
    return TT_EINVAL;
  size_t nl = strlen(name);
  const char *p = resp->headers;
  while (p && *p) {
    const char *eol = strchr(p, '\n');
    const char *end = eol ? eol : p + strlen(p);
    if ((size_t)(end - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (v < end && (*v == ' ' || *v == '\t'))
        v++;
      const char *ve = end;
      while (ve > v && isspace((unsigned char)ve[-1]))
        ve--;
      size_t len = (size_t)(ve - v);
      if (len + 1 > cap)
        return TT_ENOMEM;
      memcpy(buf, v, len);
      buf[len] = 0;
      return (int)len;
    }
    p = eol ? eol + 1 : end;
  }
  return TT_ENOENT;
}

void tt_http_response_free(tt_http_response *resp) {
  if (!resp)
    return;
  free(resp->headers);
  free(resp->body);
  resp->headers = resp->body = NULL;
  resp->headers_len = resp->body_len = 0;
}

int tt_http_client_in_flight(const tt_http_client *c) {
  return c ? __atomic_load_n(&c->in_flight, __ATOMIC_RELAXED) : 0;
}

int tt_http_client_shutdown(tt_http_client *c, int64_t grace_ns) {
  if (!c || grace_ns < 0)
    return TT_EINVAL;
  if (!tt_self())
    return TT_ENOTASK;
  tt_mutex_lock(&c->lock);
  if (c->closing) {
    /* A second call: wait for the first to be done with everything. */
    while (!c->shut)
      tt_cond_wait(&c->idle, &c->lock);
    tt_mutex_unlock(&c->lock);
    return 0;
  }
  c->closing = true;
  int64_t deadline = tt__timeout_deadline(grace_ns);
  while (c->in_flight > 0 && tt_cond_wait_until(&c->idle, &c->lock, deadline) == 0) {
  }
  int cut = 0;
  if (c->in_flight > 0) {
    tt_mutex_unlock(&c->lock);
    tt_chan *reply = tt_chan_make(sizeof(int), 1);
    if (reply && send_event(c, MSG_CUT, reply) == 0)
      (void)tt_chan_recv(reply, &cut);
    if (reply)
      tt_chan_unref(reply);
    tt_mutex_lock(&c->lock);
    while (c->in_flight > 0)
      tt_cond_wait(&c->idle, &c->lock);
  }
  tt_mutex_unlock(&c->lock);
  (void)send_event(c, MSG_STOP, NULL);
  (void)tt_group_wait(c->group);
  tt_mutex_lock(&c->lock);
  c->shut = true;
  tt_cond_broadcast(&c->idle);
  tt_mutex_unlock(&c->lock);
  return cut;
}

int tt_http_client_free(tt_http_client *c) {
  if (!c)
    return TT_EINVAL;
  if (!__atomic_load_n(&c->shut, __ATOMIC_ACQUIRE))
    return TT_EBUSY;
  (void)tt_group_destroy(c->group, 0);
  tt_chan_unref(c->events);
  while (c->nspare)
    curl_easy_cleanup(c->spare[--c->nspare]);
  free(c->spare);
  free(c);
  return 0;
}
