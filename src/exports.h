/*
 * The dump formats tt_dump_as dispatches to. Each writes one whole document
 * for a snapshot taken by the caller (snapshot.h), so every format sees the
 * same consistent set of records, and returns 0 or a TT_E* code:
 * TT_ENOMEM, or TT_EINVAL when the stream reports a write error (ferror;
 * there is no I/O error code).
 */
#ifndef TT_EXPORTS_H
#define TT_EXPORTS_H

#include <stdio.h>

#include "snapshot.h"

/* pprof protobuf goroutine profile (github.com/google/pprof profile.proto),
 * gzipped: what Go's /debug/pprof/goroutine serves (export_pprof.c). */
int tt__export_pprof(FILE *out, const tt_snapshot *s);

/* Every record as one JSON document; schema in docs/parts/json.md
 * (export_json.c). */
int tt__export_json(FILE *out, const tt_snapshot *s);

#endif
