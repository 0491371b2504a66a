/*
 * The runtime's state in the Prometheus text exposition format (0.0.4),
 * what GET /metrics serves: a pure function over the runtime's own counts,
 * no sockets. The metric families are listed in docs/HTTP.md.
 */
#ifndef TT_HTTP_METRICS_H
#define TT_HTTP_METRICS_H

#include <stdint.h>

#include "observe/bytebuf.h"

typedef struct tt_http_metrics_opts {
  int top_sites;            /* spawn sites to list, most populous first (0: 10) */
  int64_t suspect_min_wait; /* ns a wait must last to count as a suspect (0: 1 minute) */
} tt_http_metrics_opts;

/* The content type to serve it with. */
#define TT_HTTP_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Appends the exposition to out. opts: NULL for the defaults. Returns 0,
 * TT_ENOTINIT when the runtime is not running, or TT_ENOMEM (out.failed). */
int tt__http_metrics_write(tt_bytebuf *out, const tt_http_metrics_opts *opts);

#endif
