/*
 * tether-leaks: reads goroutine dumps (Go's and tether's), groups identical
 * stacks, ranks leak suspects and diffs snapshots.
 *
 * The pieces, each in its own file:
 *   lines.c        buffered byte source with line and peek access
 *   parse_gotext.c Go's debug=2 (and panic/SIGQUIT tracebacks) and debug=1 text
 *   parse_pprof.c  pprof protobuf goroutine profiles (gzip is undone below it)
 *   parse_json.c   tether's JSON dump
 *   detect.c       which of those a stream is
 *   group.c        interning and grouping of the records the parsers emit
 *   suspects.c     the seed's leak patterns, matched against groups
 *   diff.c         two snapshots side by side
 *   out_*.c        text, JSON and HTML reports
 *   main.c         the command, on tether's runtime
 *
 * The parsers know nothing of the runtime, so the fuzz targets can drive
 * them over plain memory.
 */
#ifndef TETHER_LEAKS_H
#define TETHER_LEAKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- errors ------------------------------------------------------------- */

typedef struct lk_err {
  char msg[256];
} lk_err;

/* Fill e->msg (printf-style) and return -1, so a parser can `return lk_fail(...)`. */
int lk_fail(lk_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- byte sources and the line reader ----------------------------------- */

/* read(): bytes read into buf (at most n), 0 at the end, -1 on error with
 * err filled in. */
typedef struct lk_src {
  ssize_t (*read)(void *ctx, void *buf, size_t n, lk_err *err);
  void *ctx;
} lk_src;

/* A source over memory that stays valid while it is read. */
typedef struct lk_memsrc {
  const unsigned char *p;
  size_t n, off;
} lk_memsrc;
lk_src lk_memsrc_init(lk_memsrc *m, const void *p, size_t n);

/* Longest line the text parsers accept (Go's own lines are far shorter;
 * a longer one means the input is not a dump). */
#define LK_MAX_LINE (16u << 20)

typedef struct lk_lines {
  lk_src src;
  char *buf;
  size_t cap, start, end; /* unread bytes are buf[start, end) */
  bool eof;
  int64_t lineno;    /* of the line last returned */
  uint64_t consumed; /* bytes handed out so far */
} lk_lines;

int lk_lines_init(lk_lines *lr, lk_src src);
void lk_lines_free(lk_lines *lr);
/* Make at least n bytes available at buf+start, unless the input ends
 * first. Returns how many are available, or -1 on a read error. */
ssize_t lk_lines_fill(lk_lines *lr, size_t n, lk_err *e);
/* Next line without its '\n' (and '\r'). 1: got one; 0: end of input; -1: error. */
int lk_lines_next(lk_lines *lr, const char **line, size_t *len, lk_err *e);

/* ---- what a parser emits -------------------------------------------------- */

typedef struct lk_frame {
  const char *func; /* without arguments */
  const char *args; /* "(0xc0000, 0x1)" as printed, or "" */
  const char *file; /* "" when unknown */
  int line;         /* 0 when unknown */
} lk_frame;

/* One goroutine (or, for the counted formats, `count` of them with one
 * stack). Pointers stay valid only during the sink call. */
typedef struct lk_rec {
  int64_t id;             /* goroutine id, -1 unknown */
  int64_t count;          /* goroutines this record stands for */
  const char *state;      /* wait reason or state as printed; "" unknown */
  int64_t wait_s;         /* how long it has waited, seconds; -1 unknown */
  bool leaked;            /* proven: "(leaked)", goroutineleak, tether's verdict */
  bool locked;            /* locked to thread */
  bool elided;            /* "...additional frames elided..." */
  const lk_frame *frames; /* innermost first */
  int nframes;
  lk_frame created;   /* "created by" site; func NULL when unknown */
  int64_t parent;     /* "in goroutine N", -1 unknown */
  uint64_t wait_addr; /* object waited on (tether's JSON), 0 unknown */
} lk_rec;

typedef struct lk_sink {
  int (*emit)(void *ctx, const lk_rec *r, lk_err *e); /* 0, or -1 to stop */
  void *ctx;
} lk_sink;

/* ---- formats and parsers ---------------------------------------------------- */

typedef enum lk_format {
  LK_FMT_UNKNOWN = 0,
  LK_FMT_GO_DEBUG2,
  LK_FMT_GO_DEBUG1,
  LK_FMT_PPROF,
  LK_FMT_TETHER_JSON,
} lk_format;

const char *lk_format_name(lk_format f);

/* Look at the first bytes (lk_lines_fill) and say what the stream is.
 * Gzip must already be undone (lk_gunzip_src). */
lk_format lk_detect(lk_lines *lr, lk_err *e);

/* Each parser reads the whole stream and emits every goroutine. 0, or -1
 * with e filled (the records emitted before the error stay emitted). */
int lk_parse_gotext(lk_lines *lr, lk_format f, lk_sink *sink, lk_err *e);
/* leaked_profile: every sample is a proven leak (a goroutineleak profile
 * whose sample type does not say so). */
int lk_parse_pprof(lk_lines *lr, bool leaked_profile, lk_sink *sink, lk_err *e);
int lk_parse_json(lk_lines *lr, lk_sink *sink, lk_err *e);

/* Detect and parse. */
int lk_parse_any(lk_lines *lr, bool leaked_profile, lk_format *fmt, lk_sink *sink, lk_err *e);

/* A source that inflates a gzip stream (all its members) read from `in`. */
typedef struct lk_gunzip lk_gunzip;
lk_gunzip *lk_gunzip_new(lk_src in);
void lk_gunzip_free(lk_gunzip *g);
lk_src lk_gunzip_src(lk_gunzip *g);

/* Largest decompressed protobuf profile read whole (it is the one format
 * that cannot be streamed: its string table comes last). */
#define LK_MAX_PPROF ((size_t)1 << 30)

#endif
