/*
 * The dump formats tt_dump_as dispatches to. Each writes one whole document
 * for a snapshot taken by the caller (snapshot.h), so every format sees the
 * same consistent set of records, and returns 0 or a TT_E* code:
 * TT_ENOMEM, or TT_EINVAL when the stream reports a write error (ferror;
 * there is no I/O error code).
 */
#ifndef TT_OBSERVE_EXPORTS_H
#define TT_OBSERVE_EXPORTS_H

#include <stdio.h>

#include "observe/snapshot.h"

/* Go's goroutine text: debug=2 (a stack per task, as a Go program prints
 * on SIGQUIT) and debug=1 (identical stacks counted), export_gotext.c. */
int tt__export_go_debug2(FILE *out, const tt_snapshot *s);
int tt__export_go_debug1(FILE *out, const tt_snapshot *s);

/* pprof protobuf goroutine profile (github.com/google/pprof profile.proto),
 * gzipped: what Go's /debug/pprof/goroutine serves (export_pprof.c). */
int tt__export_pprof(FILE *out, const tt_snapshot *s);
/* The same for Go 1.26's goroutineleak profile: sample type
 * {"goroutineleak", "count"}; the caller keeps only the leaked tasks. */
int tt__export_pprof_leaked(FILE *out, const tt_snapshot *s);

/* Every record as one JSON document; its schema is in docs/API.md, "The
 * JSON dump" (export_json.c). */
int tt__export_json(FILE *out, const tt_snapshot *s);

#endif
