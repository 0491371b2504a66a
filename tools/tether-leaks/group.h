/*
 * Grouping: goroutines with the same stack, state and creation site become
 * one group. Strings and frames are interned once, so a dump of a million
 * goroutines with a few hundred distinct stacks costs a few hundred stacks
 * of memory plus one wait time per goroutine.
 */
#ifndef TETHER_LEAKS_GROUP_H
#define TETHER_LEAKS_GROUP_H

#include "leaks.h"

#define LK_NONE UINT32_MAX

typedef struct lk_gopts {
  bool exact_args; /* arguments are part of a frame's identity */
  int fold;        /* > 0: only the top `fold` frames make up the stack */
} lk_gopts;

typedef struct lk_iframe {
  uint32_t func, args, file; /* string ids */
  int line;
} lk_iframe;

/* What a suspect rule concluded about a group (suspects.c). */
typedef struct lk_verdict {
  int pattern;          /* 0: none; else an index into lk_patterns */
  const char *evidence; /* interned text */
} lk_verdict;

typedef struct lk_group {
  uint32_t *frames; /* frame ids, innermost first */
  int nframes;
  bool elided;
  uint32_t state;    /* string id ("" when the format has none) */
  uint32_t site;     /* frame id of the creation site, LK_NONE if unknown */
  bool site_created; /* from "created by"; else the stack's outermost frame */
  bool leaked;       /* proven */
  bool locked;
  int64_t count;
  int64_t first_id; /* lowest goroutine id seen, -1 if none */
  /* Wait times in seconds of the members that have one. */
  int64_t *waits;
  size_t nwaits, cwaits;
  int64_t wmin, wmed, wmax; /* -1 when no member has a wait time */
  uint64_t addr;            /* object waited on by all members, 0 if unknown or mixed */
  bool addr_mixed;
  double score; /* count x (1 + median wait in minutes) */
  uint64_t hash;
  lk_verdict verdict;
} lk_group;

typedef struct lk_groups lk_groups;

lk_groups *lk_groups_new(lk_gopts opts);
void lk_groups_free(lk_groups *g);
/* A sink that groups what a parser emits. */
lk_sink lk_groups_sink(lk_groups *g);
/* After the last record: medians, scores, and groups sorted by score. */
void lk_groups_finish(lk_groups *g);

size_t lk_groups_count(const lk_groups *g);
lk_group *lk_groups_at(const lk_groups *g, size_t i);
int64_t lk_groups_total(const lk_groups *g); /* goroutines */
const char *lk_str(const lk_groups *g, uint32_t id);
const lk_iframe *lk_frame_at(const lk_groups *g, uint32_t id);
/* Intern a string (for evidence texts); LK_NONE when out of memory. */
uint32_t lk_intern(lk_groups *g, const char *s, size_t n);

/* The first frame outside Go's runtime and standard sync/net packages and
 * outside tether's own source: where the user's code waits. */
const lk_iframe *lk_group_user_frame(const lk_groups *g, const lk_group *gr);
/* "func file:line" of a frame into buf. */
const char *lk_frame_fmt(const lk_groups *g, const lk_iframe *f, char *buf, size_t n);
/* A string that is the same for the same group in two snapshots
 * (malloc'd; NULL when out of memory). */
char *lk_group_key(const lk_groups *g, const lk_group *gr);
/* The same for its creation site alone. */
char *lk_site_key(const lk_groups *g, const lk_group *gr);

#endif
