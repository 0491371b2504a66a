/*
 * The seed's leak patterns, matched against groups. A match is a suspect:
 * a dump shows where goroutines wait, not whether anything could still
 * wake them. Groups the dump marks as leaked (Go's goroutineleak profile,
 * "(leaked)" headers, tether's leak detector) are proven, and say so.
 */
#ifndef TETHER_LEAKS_SUSPECTS_H
#define TETHER_LEAKS_SUSPECTS_H

#include "group.h"

typedef enum lk_pattern_id {
  LK_PAT_NONE = 0,
  LK_PAT_SENDER,
  LK_PAT_RECEIVER,
  LK_PAT_SELECT,
  LK_PAT_SELECT_EMPTY,
  LK_PAT_NIL_CHAN,
  LK_PAT_IO,
  LK_PAT_POOL,
  LK_PAT_MUTEX,
  LK_PAT_WAITGROUP,
  LK_PAT_COND,
  LK_PAT_COUNT
} lk_pattern_id;

typedef struct lk_pattern {
  const char *id;    /* stable name for JSON and scripts */
  const char *title; /* in the seed's words */
  const char *fix;   /* the seed's fix */
} lk_pattern;

extern const lk_pattern lk_patterns[LK_PAT_COUNT];

typedef struct lk_sopts {
  int64_t pool_min; /* receivers from one site that read as a worker pool */
  int64_t io_min_s; /* I/O waits shorter than this are not suspects */
} lk_sopts;

/* What kind of wait a group is in, from its state or, when the format has
 * none (debug=1, Go's pprof), from its frames. */
lk_pattern_id lk_wait_kind(const lk_groups *g, const lk_group *gr);

/* Set every group's verdict. -1 when out of memory. */
int lk_suspects_rank(lk_groups *g, lk_sopts o);

/* "12s", "5m", "2h3m" */
const char *lk_dur_fmt(int64_t s, char *buf, size_t n);

#endif
