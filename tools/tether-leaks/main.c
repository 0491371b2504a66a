/*
 * tether-leaks: the command (usage below, docs/ANALYZER.md).
 *
 * It runs on tether's own runtime. Each input is read by a reader task
 * (the read(2) calls go through tt_blocking, and gzip is undone there too)
 * that hands 1 MiB chunks to the parsing task over a channel, with a
 * second channel bringing the empty chunks back: reading and inflating
 * overlap parsing, and memory stays at a few chunks however big the dump.
 * `diff` parses its two inputs in two such pipelines at once. A URL is
 * fetched with tether's HTTP client into memory (up to 1 GiB, with a
 * timeout) and fed through the same pipeline; `watch` does that every
 * --every and keeps the last --keep snapshots (watch.c).
 */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <tether.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1u << 20)
#define NCHUNKS 4
#define MAX_FETCH (1LL << 30)

static const char usage_text[] =
    "usage: tether-leaks [OPTIONS] [FILE|URL|-]    analyse one goroutine dump\n"
    "       tether-leaks diff [OPTIONS] OLD NEW    compare two snapshots\n"
    "       tether-leaks watch [OPTIONS] URL|FILE  snapshot every --every, report\n"
    "                                              the sites that keep growing\n"
    "\n"
    "Reads Go's debug=2 dumps (and panic/SIGQUIT tracebacks), debug=1 profiles,\n"
    "pprof goroutine profiles (gzipped or not) and tether's JSON dumps; the format\n"
    "is detected. FILE may be gzipped; without FILE (or with -) stdin is read; an\n"
    "http:// or https:// URL is fetched (e.g. .../debug/pprof/goroutine?debug=2).\n"
    "\n"
    "  -f, --format text|json|html  report format (default text)\n"
    "  -o, --output FILE            write the report to FILE\n"
    "      --color auto|always|never  colour in text (default auto: on a terminal)\n"
    "      --exact-args             frames differing only in arguments stay apart\n"
    "      --fold N                 group by the top N frames only\n"
    "      --top N                  show the first N groups/sites only\n"
    "      --depth N                show N frames per stack\n"
    "      --pool-min N             receivers from one site read as a pool (default 5)\n"
    "      --io-min DURATION        shorter I/O waits are no suspect (default 1m)\n"
    "      --leaked                 the pprof input is a goroutineleak profile\n"
    "      --max-growth N           diff: exit 1 when a site grew by more than N\n"
    "      --timeout DURATION       a URL must answer within this (default 1m)\n"
    "      --every DURATION         watch: time between snapshots (default 30s)\n"
    "      --keep K                 watch: snapshots kept and judged (default 5, 2..32)\n"
    "      --min-growth N           watch: a growing site rose by at least N (default 1)\n"
    "      --count N                watch: stop after N snapshots (default: never)\n"
    "  -h, --help\n"
    "\n"
    "Durations: 500ms, 90s (or 90), 5m, 2h. watch prints a report per snapshot\n"
    "(text; json: one line each; html: rewrites --output, which it needs).\n"
    "\n"
    "Exit status: 0 done, 1 a site grew beyond --max-growth (diff) or kept growing\n"
    "at the last snapshot (watch --count), 2 bad usage or input.\n";

typedef struct opts {
  const char *format;
  const char *output;
  int color; /* -1 auto */
  lk_gopts gopts;
  lk_sopts sopts;
  lk_view view;
  bool leaked_profile;
  int64_t max_growth;
  int64_t timeout_ns, every_ns, keep, min_growth, count;
  bool diff, watch;
  const char *inputs[2];
  int ninputs;
} opts;

/* ---- the reading pipeline ---------------------------------------------------- */

typedef struct msg {
  char *buf;
  ssize_t n; /* bytes, 0 at the end, -1 on error */
} msg;

typedef struct pipeline {
  int fd;
  tt_chan *full, *empty;
  tt_wg *done;
  lk_err err; /* the reader's error */
  /* consumer side */
  msg cur;
  size_t off;
  bool ended;
  /* reader side: the first bytes, read to look for gzip's magic */
  char head[2];
  size_t nhead, headoff;
  /* a fetched URL's body instead of fd */
  const char *mem;
  size_t memlen, memoff;
} pipeline;

typedef struct rd_call {
  int fd;
  void *buf;
  size_t n;
  ssize_t got;
  int err;
} rd_call;

static void do_read(void *arg) {
  rd_call *c = arg;
  do
    c->got = read(c->fd, c->buf, c->n);
  while (c->got < 0 && errno == EINTR);
  c->err = errno;
}

/* read(2) off the worker thread: a pipe or a slow disk parks only this task. */
static ssize_t raw_read(void *ctx, void *buf, size_t n, lk_err *e) {
  pipeline *p = ctx;
  if (p->headoff < p->nhead) {
    size_t k = p->nhead - p->headoff;
    k = k < n ? k : n;
    memcpy(buf, p->head + p->headoff, k);
    p->headoff += k;
    return (ssize_t)k;
  }
  if (p->mem) {
    size_t k = p->memlen - p->memoff;
    k = k < n ? k : n;
    memcpy(buf, p->mem + p->memoff, k);
    p->memoff += k;
    return (ssize_t)k;
  }
  rd_call c = {p->fd, buf, n, 0, 0};
  tt_blocking(do_read, &c);
  if (c.got < 0)
    return lk_fail(e, "read: %s", strerror(c.err));
  return c.got;
}

static void reader_task(void *arg) {
  pipeline *p = arg;
  lk_src raw = {raw_read, p};
  /* Gzip's magic decides whether the chunks are inflated on the way. */
  while (p->nhead < 2) {
    ssize_t n = raw_read(p, p->head + p->nhead, 2 - p->nhead, &p->err);
    if (n <= 0)
      break;
    p->nhead += (size_t)n;
  }
  lk_gunzip *gz = NULL;
  lk_src src = raw;
  if (p->nhead == 2 && (unsigned char)p->head[0] == 0x1f && (unsigned char)p->head[1] == 0x8b) {
    gz = lk_gunzip_new(raw);
    if (gz)
      src = lk_gunzip_src(gz);
  }
  msg m;
  while (tt_chan_recv(p->empty, &m) == 0) {
    m.n = p->err.msg[0] ? -1 : src.read(src.ctx, m.buf, CHUNK, &p->err);
    tt_chan_send(p->full, &m); /* never blocks: `full` holds every chunk */
    if (m.n <= 0)
      break;
  }
  lk_gunzip_free(gz);
}

static ssize_t chan_read(void *ctx, void *buf, size_t n, lk_err *e) {
  pipeline *p = ctx;
  while (!p->ended && (!p->cur.buf || p->off == (size_t)p->cur.n)) {
    if (p->cur.buf)
      tt_chan_send(p->empty, &p->cur);
    p->cur.buf = NULL;
    p->off = 0;
    if (tt_chan_recv(p->full, &p->cur) != 0 || p->cur.n <= 0) {
      p->ended = true;
      if (p->cur.n < 0) {
        snprintf(e->msg, sizeof e->msg, "%s", p->err.msg);
        return -1;
      }
    }
  }
  if (p->ended)
    return 0;
  size_t k = (size_t)p->cur.n - p->off;
  k = k < n ? k : n;
  memcpy(buf, p->cur.buf + p->off, k);
  p->off += k;
  return (ssize_t)k;
}

/* ---- one input, parsed and grouped ------------------------------------------------- */

typedef struct job {
  const char *path;
  const opts *o;
  tt_http_client *client; /* for URLs */
  lk_groups *g;
  lk_format fmt;
  lk_err err;
  int rc;
} job;

typedef struct open_call {
  const char *path;
  int fd, err;
} open_call;

static void do_open(void *arg) {
  open_call *c = arg;
  c->fd = open(c->path, O_RDONLY | O_CLOEXEC);
  c->err = errno;
}

static bool is_url(const char *path) {
  return strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0;
}

/* The body of a 200 answer to GET url, in resp; 0 or -1 with the reason. */
static int fetch(job *j, tt_http_response *resp) {
  tt_http_request req = {.url = j->path, .timeout = j->o->timeout_ns, .max_body = MAX_FETCH};
  int rc = tt_http_do(j->client, NULL, &req, resp);
  if (rc == TT_ETIMEDOUT)
    return lk_fail(&j->err, "%s: no complete answer within %g s (--timeout)", j->path,
                   (double)j->o->timeout_ns / 1e9);
  if (rc == TT_ETOOBIG)
    return lk_fail(&j->err, "%s: the answer is over %lld bytes", j->path, MAX_FETCH);
  if (rc < 0)
    return lk_fail(&j->err, "%s: %s%s%s", j->path, tt_strerror(rc), resp->error[0] ? ": " : "",
                   resp->error);
  if (resp->status != 200) {
    /* The first line of the body often says why (Go: "Unknown profile"). */
    size_t n = resp->body ? strcspn(resp->body, "\r\n") : 0;
    return lk_fail(&j->err, "%s: HTTP %d%s%.*s", j->path, resp->status, n ? ": " : "",
                   (int)(n > 200 ? 200 : n), resp->body ? resp->body : "");
  }
  return 0;
}

static int run_job(job *j) {
  int fd = 0;
  tt_http_response resp = {0};
  pipeline p = {.fd = 0};
  if (is_url(j->path)) {
    if (fetch(j, &resp) < 0) {
      tt_http_response_free(&resp);
      return -1;
    }
    p.mem = resp.body ? resp.body : "";
    p.memlen = resp.body_len;
    fd = -1;
  } else if (strcmp(j->path, "-") != 0) {
    size_t k = strspn(j->path, "abcdefghijklmnopqrstuvwxyz");
    if (k && strncmp(j->path + k, "://", 3) == 0 && access(j->path, F_OK) != 0)
      return lk_fail(&j->err, "%s: unsupported URL scheme (http:// and https:// are read)",
                     j->path);
    open_call c = {j->path, -1, 0};
    tt_blocking(do_open, &c);
    if (c.fd < 0)
      return lk_fail(&j->err, "%s: %s", j->path, strerror(c.err));
    fd = c.fd;
  }
  p.fd = fd;
  j->g = lk_groups_new(j->o->gopts);
  p.full = tt_chan_make(sizeof(msg), NCHUNKS);
  p.empty = tt_chan_make(sizeof(msg), NCHUNKS);
  p.done = tt_wg_make();
  char *bufs[NCHUNKS] = {0};
  int rc = -1;
  if (!j->g || !p.full || !p.empty || !p.done) {
    lk_fail(&j->err, "out of memory");
    goto out;
  }
  for (int i = 0; i < NCHUNKS; i++) {
    bufs[i] = malloc(CHUNK);
    if (!bufs[i]) {
      lk_fail(&j->err, "out of memory");
      goto out;
    }
    tt_chan_send(p.empty, &(msg){bufs[i], 0});
  }
  if (tt_wg_go(p.done, reader_task, &p) < 0) {
    lk_fail(&j->err, "cannot start the reader task");
    goto out;
  }
  lk_lines lr;
  if (lk_lines_init(&lr, (lk_src){chan_read, &p}) < 0) {
    lk_fail(&j->err, "out of memory");
  } else {
    lk_sink sink = lk_groups_sink(j->g);
    rc = lk_parse_any(&lr, j->o->leaked_profile, &j->fmt, &sink, &j->err);
    lk_lines_free(&lr);
  }
  /* Stop the reader wherever it is (it may still be ahead of the parser). */
  tt_chan_close(p.empty);
  tt_wg_wait(p.done);
  if (rc == 0) {
    lk_groups_finish(j->g);
    if (lk_suspects_rank(j->g, j->o->sopts) < 0)
      rc = lk_fail(&j->err, "out of memory");
  }
  if (rc < 0 && strcmp(j->path, "-") != 0) {
    /* Name the file; the message may lose its end. */
    char m[sizeof j->err.msg];
    memcpy(m, j->err.msg, sizeof m);
    size_t pl = strnlen(j->path, 96);
    int k = snprintf(j->err.msg, sizeof j->err.msg, "%.*s: ", (int)pl, j->path);
    if (k > 0 && (size_t)k < sizeof j->err.msg) {
      size_t ml = strnlen(m, sizeof j->err.msg - (size_t)k - 1);
      memcpy(j->err.msg + k, m, ml);
      j->err.msg[(size_t)k + ml] = '\0';
    }
  }
out:
  if (p.full)
    tt_chan_unref(p.full);
  if (p.empty)
    tt_chan_unref(p.empty);
  if (p.done)
    tt_wg_free(p.done);
  for (int i = 0; i < NCHUNKS; i++)
    free(bufs[i]);
  if (fd > 0)
    close(fd);
  tt_http_response_free(&resp);
  return rc;
}

static void job_task(void *arg) {
  job *j = arg;
  j->rc = run_job(j);
}

/* ---- arguments ------------------------------------------------------------------------ */

static bool parse_i64(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < 0)
    return false;
  *out = v;
  return true;
}

/* "500ms", "90", "90s", "5m", "2h" in nanoseconds. */
static bool parse_dur_ns(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || v < 0)
    return false;
  int64_t mul;
  if (strcmp(end, "ms") == 0)
    mul = 1000000;
  else if (strcmp(end, "s") == 0 || *end == '\0')
    mul = 1000000000;
  else if (strcmp(end, "m") == 0)
    mul = 60 * 1000000000LL;
  else if (strcmp(end, "h") == 0)
    mul = 3600 * 1000000000LL;
  else
    return false;
  if (v > INT64_MAX / mul)
    return false;
  *out = v * mul;
  return true;
}

static bool parse_dur(const char *s, int64_t *out_s) {
  int64_t ns;
  if (!parse_dur_ns(s, &ns))
    return false;
  *out_s = ns / 1000000000;
  return true;
}

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "tether-leaks: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n(tether-leaks --help for usage)\n");
  return 2;
}

static int parse_args(int argc, char **argv, opts *o) {
  int i = 1;
  if (i < argc && strcmp(argv[i], "diff") == 0) {
    o->diff = true;
    i++;
  } else if (i < argc && strcmp(argv[i], "watch") == 0) {
    o->watch = true;
    i++;
  }
  for (; i < argc; i++) {
    const char *a = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    int64_t n;
#define NEEDVAL() \
  do { \
    if (!val) \
      return usage_error("%s needs a value", a); \
    i++; \
  } while (0)
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(usage_text, stdout);
      return 0;
    } else if (strcmp(a, "-f") == 0 || strcmp(a, "--format") == 0) {
      NEEDVAL();
      if (strcmp(val, "text") != 0 && strcmp(val, "json") != 0 && strcmp(val, "html") != 0)
        return usage_error("unknown format '%s' (text, json, html)", val);
      o->format = val;
    } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
      NEEDVAL();
      o->output = val;
    } else if (strcmp(a, "--color") == 0) {
      NEEDVAL();
      if (strcmp(val, "always") == 0)
        o->color = 1;
      else if (strcmp(val, "never") == 0)
        o->color = 0;
      else if (strcmp(val, "auto") == 0)
        o->color = -1;
      else
        return usage_error("--color takes auto, always or never, not '%s'", val);
    } else if (strcmp(a, "--exact-args") == 0) {
      o->gopts.exact_args = true;
    } else if (strcmp(a, "--leaked") == 0) {
      o->leaked_profile = true;
    } else if (strcmp(a, "--fold") == 0 || strcmp(a, "--top") == 0 || strcmp(a, "--depth") == 0 ||
               strcmp(a, "--pool-min") == 0 || strcmp(a, "--max-growth") == 0 ||
               strcmp(a, "--keep") == 0 || strcmp(a, "--min-growth") == 0 ||
               strcmp(a, "--count") == 0) {
      NEEDVAL();
      if (!parse_i64(val, &n) || n > INT32_MAX)
        return usage_error("'%s' is not a count", val);
      if (strcmp(a, "--fold") == 0)
        o->gopts.fold = (int)n;
      else if (strcmp(a, "--top") == 0)
        o->view.top = (int)n;
      else if (strcmp(a, "--depth") == 0)
        o->view.depth = (int)n;
      else if (strcmp(a, "--pool-min") == 0)
        o->sopts.pool_min = n;
      else if (strcmp(a, "--keep") == 0) {
        if (n < 2 || n > LK_WATCH_MAX)
          return usage_error("--keep takes 2 to 32, not '%s'", val);
        o->keep = n;
      } else if (strcmp(a, "--min-growth") == 0) {
        if (n < 1)
          return usage_error("--min-growth takes 1 or more, not '%s'", val);
        o->min_growth = n;
      } else if (strcmp(a, "--count") == 0)
        o->count = n;
      else
        o->max_growth = n;
    } else if (strcmp(a, "--io-min") == 0) {
      NEEDVAL();
      if (!parse_dur(val, &o->sopts.io_min_s))
        return usage_error("'%s' is not a duration (500ms, 90s, 5m, 2h)", val);
    } else if (strcmp(a, "--timeout") == 0 || strcmp(a, "--every") == 0) {
      NEEDVAL();
      int64_t ns;
      if (!parse_dur_ns(val, &ns) || ns < 1000000)
        return usage_error("'%s' is not a duration of 1ms or more (500ms, 90s, 5m, 2h)", val);
      if (strcmp(a, "--timeout") == 0)
        o->timeout_ns = ns;
      else
        o->every_ns = ns;
    } else if (a[0] == '-' && a[1]) {
      return usage_error("unknown option '%s'", a);
    } else {
      if (o->ninputs == 2)
        return usage_error("too many inputs ('%s')", a);
      o->inputs[o->ninputs++] = a;
    }
#undef NEEDVAL
  }
  if (o->diff && o->ninputs != 2)
    return usage_error("%s", "diff needs two inputs: OLD NEW");
  if (o->watch && o->ninputs != 1)
    return usage_error("%s", "watch needs one input: a URL (or a file rewritten in place)");
  if (o->watch && strcmp(o->inputs[0], "-") == 0)
    return usage_error("%s", "watch cannot read stdin: it reads its input again and again");
  if (o->watch && strcmp(o->format, "html") == 0 && !o->output)
    return usage_error("%s", "watch -f html needs --output FILE (it rewrites the file)");
  if (!o->diff && !o->watch && o->ninputs > 1)
    return usage_error("one input only (did you mean 'diff %s ...'?)", o->inputs[0]);
  if (!o->diff && o->max_growth >= 0)
    return usage_error("%s", "--max-growth is for diff");
  if (!o->watch && (o->every_ns || o->keep || o->min_growth || o->count))
    return usage_error("%s", "--every, --keep, --min-growth and --count are for watch");
  if (!o->diff && o->ninputs == 0)
    o->inputs[o->ninputs++] = "-";
  return -1;
}

/* ---- main ----------------------------------------------------------------------------------- */

typedef struct run {
  int argc;
  char **argv;
  int status;
} run;

/* One report: a snapshot, or the diff of two. The exit status. */
static int run_once(opts *o, tt_http_client *client) {
  FILE *out = stdout;
  if (o->output && !(out = fopen(o->output, "w"))) {
    fprintf(stderr, "tether-leaks: %s: %s\n", o->output, strerror(errno));
    return 2;
  }
  job jobs[2] = {{.path = o->inputs[0], .o = o, .client = client},
                 {.path = o->inputs[1], .o = o, .client = client}};
  tt_wg *wg = tt_wg_make();
  for (int i = 0; i < o->ninputs; i++)
    if (!wg || tt_wg_go(wg, job_task, &jobs[i]) < 0)
      job_task(&jobs[i]); /* no task to spare: parse here */
  if (wg) {
    tt_wg_wait(wg);
    tt_wg_free(wg);
  }
  int status = 0;
  for (int i = 0; i < o->ninputs; i++)
    if (jobs[i].rc < 0) {
      fprintf(stderr, "tether-leaks: %s\n", jobs[i].err.msg);
      status = 2;
    }
  if (status == 0 && !o->diff) {
    lk_snap s = {jobs[0].g, jobs[0].fmt, jobs[0].path};
    if (strcmp(o->format, "json") == 0)
      lk_json_snap(out, &s, &o->view);
    else if (strcmp(o->format, "html") == 0)
      lk_html_snap(out, &s, &o->view);
    else
      lk_text_snap(out, &s, &o->view);
  } else if (status == 0) {
    lk_diff d = {.old = {jobs[0].g, jobs[0].fmt, jobs[0].path},
                 .new = {jobs[1].g, jobs[1].fmt, jobs[1].path},
                 .max_growth = o->max_growth};
    if (lk_diff_build(&d) < 0) {
      fprintf(stderr, "tether-leaks: out of memory\n");
      status = 2;
    } else {
      if (strcmp(o->format, "json") == 0)
        lk_json_diff(out, &d, &o->view);
      else if (strcmp(o->format, "html") == 0)
        lk_html_diff(out, &d, &o->view);
      else
        lk_text_diff(out, &d, &o->view);
      if (d.over)
        status = 1;
    }
    lk_diff_free(&d);
  }
  if (fflush(out) != 0 || ferror(out)) {
    fprintf(stderr, "tether-leaks: writing the report failed\n");
    status = 2;
  }
  if (out != stdout)
    fclose(out);
  lk_groups_free(jobs[0].g);
  lk_groups_free(jobs[1].g);
  return status;
}

/* The HTML page of a watch, replaced whole (a reader never sees half). */
static int write_html(const opts *o, const lk_watch *w) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", o->output) >= (int)sizeof tmp)
    return -1;
  FILE *f = fopen(tmp, "w");
  if (!f)
    return -1;
  lk_html_watch(f, w, &o->view, (o->every_ns + 999999999) / 1000000000);
  bool ok = fflush(f) == 0 && !ferror(f);
  ok &= fclose(f) == 0;
  if (!ok || rename(tmp, o->output) != 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* Snapshot the input every --every; after each, report the sites that
 * kept growing over the kept snapshots. A snapshot that fails is reported
 * and skipped. */
static int run_watch(opts *o, tt_http_client *client) {
  bool html = strcmp(o->format, "html") == 0, json = strcmp(o->format, "json") == 0;
  FILE *out = stdout;
  if (o->output && !html && !(out = fopen(o->output, "w"))) {
    fprintf(stderr, "tether-leaks: %s: %s\n", o->output, strerror(errno));
    return 2;
  }
  lk_watch w;
  lk_watch_init(&w, (size_t)o->keep, o->min_growth);
  int status = 0;
  int64_t good = 0, next = tt_now();
  for (int64_t i = 0; o->count == 0 || i < o->count; i++) {
    if (i) {
      next += o->every_ns;
      int64_t now = tt_now();
      if (next > now)
        tt_sleep(next - now);
      else
        next = now; /* a slow fetch: start again from here */
    }
    job j = {.path = o->inputs[0], .o = o, .client = client};
    if (run_job(&j) < 0) {
      fprintf(stderr, "tether-leaks: snapshot %lld: %s\n", (long long)i + 1, j.err.msg);
      lk_groups_free(j.g);
      continue;
    }
    if (lk_watch_add(&w, j.g, j.fmt, o->inputs[0], (int64_t)time(NULL)) < 0) {
      fprintf(stderr, "tether-leaks: out of memory\n");
      status = 2;
      break;
    }
    good++;
    if (html) {
      if (write_html(o, &w) < 0) {
        fprintf(stderr, "tether-leaks: %s: %s\n", o->output, strerror(errno));
        status = 2;
        break;
      }
    } else {
      if (json)
        lk_json_watch(out, &w, &o->view);
      else
        lk_text_watch(out, &w, &o->view);
      if (fflush(out) != 0 || ferror(out)) {
        fprintf(stderr, "tether-leaks: writing the report failed\n");
        status = 2;
        break;
      }
    }
  }
  if (status == 0)
    status = good == 0 ? 2 : w.ngrowing ? 1 : 0;
  if (out != stdout)
    fclose(out);
  lk_watch_free(&w);
  return status;
}

static bool any_url(const opts *o) {
  for (int i = 0; i < o->ninputs; i++)
    if (is_url(o->inputs[i]))
      return true;
  return false;
}

static void main_task(void *arg) {
  run *r = arg;
  opts o = {
      .format = "text", .color = -1, .sopts = {.pool_min = 5, .io_min_s = 60}, .max_growth = -1};
  int rc = parse_args(r->argc, r->argv, &o);
  if (rc >= 0) {
    r->status = rc;
    return;
  }
  if (o.diff && strcmp(o.inputs[0], "-") == 0 && strcmp(o.inputs[1], "-") == 0) {
    r->status = usage_error("%s", "diff cannot read both inputs from stdin");
    return;
  }
  o.timeout_ns = o.timeout_ns ? o.timeout_ns : 60 * 1000000000LL;
  o.every_ns = o.every_ns ? o.every_ns : 30 * 1000000000LL;
  o.keep = o.keep ? o.keep : 5;
  o.min_growth = o.min_growth ? o.min_growth : 1;
  o.view.color = o.color == 1 || (o.color == -1 && !o.output && isatty(STDOUT_FILENO) &&
                                  !getenv("NO_COLOR") && strcmp(o.format, "text") == 0);
  tt_http_client *client = NULL;
  if (any_url(&o)) {
    tt_http_client_opts co = {.timeout = o.timeout_ns, .max_body = MAX_FETCH};
    rc = tt_http_client_new(&co, &client);
    if (rc < 0) {
      fprintf(stderr, "tether-leaks: cannot make an HTTP client: %s\n", tt_strerror(rc));
      r->status = 2;
      return;
    }
  }
  r->status = o.watch ? run_watch(&o, client) : run_once(&o, client);
  if (client) {
    (void)tt_http_client_shutdown(client, 0);
    (void)tt_http_client_free(client);
  }
}

int main(int argc, char **argv) {
  run r = {argc, argv, 2};
  if (tt_main(main_task, &r) < 0) {
    fprintf(stderr, "tether-leaks: the runtime did not start\n");
    return 2;
  }
  return r.status;
}
