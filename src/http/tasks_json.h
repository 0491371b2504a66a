/*
 * The task list the live page (/debug/tasks) reads, as JSON: live tasks
 * grouped by identical stack, state, wait reason and leak verdict, most
 * populous group first, each with its count, wait times and ages, spawn
 * site, a few task ids and the symbolized frames. Grouping happens here,
 * not in the browser, so that 100,000 tasks in a few stacks stay a small
 * document. Schema in docs/HTTP.md.
 */
#ifndef TT_HTTP_TASKS_JSON_H
#define TT_HTTP_TASKS_JSON_H

#include <stdint.h>

#include "observe/bytebuf.h"

typedef struct tt_http_tasks_opts {
  int max_groups;           /* groups listed (0: 1000); the rest only counted */
  int64_t suspect_min_wait; /* ns a wait must last to mark a group suspect (0: 1 minute) */
} tt_http_tasks_opts;

/* Appends the document to out. Returns 0, TT_ENOTINIT or TT_ENOMEM. */
int tt__http_tasks_json(tt_bytebuf *out, const tt_http_tasks_opts *opts);

/* A JSON string literal of s[0..n), quotes included (helper shared with
 * whoever else writes JSON in this layer). */
void tt__http_json_string(tt_bytebuf *out, const char *s, size_t n);

#endif
