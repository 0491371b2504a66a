/*
 * The observe layer's hooks: what the layers below (core/, sync/) ask of
 * introspection, and the only observe/ header they may include
 * (scripts/check-layers.sh enforces it).
 */
#ifndef TT_OBSERVE_HOOKS_H
#define TT_OBSERVE_HOOKS_H

#include <stdio.h>

#include "core/base.h"

/* Stop and join the growth monitor, if one runs (monitor.c); tt_shutdown
 * calls it before freeing the workers the monitor reads. */
void tt__monitor_shutdown(void);

/* Arm the dump signal from TT_DUMP_SIGNAL etc. (dump_signal.c); tt_init. */
void tt__dump_signal_from_env(void);
/* The signal tt_dump_on_signal armed, 0 for none (net/signal.c refuses
 * to take it over). */
int tt__dump_signal_armed(void);

/* Print every live task that pick(id, arg) selects, one header line each
 * (id, state, wait reason and time, entry, spawn site) and then its own
 * frames, from the blocking call down to its entry (snapshot.c). For
 * reports of tasks that outlived their scope (a task group's). */
void tt__print_tasks(FILE *out, bool (*pick)(int64_t id, void *arg), void *arg);

/* The name of the function whose first instruction is at addr, "?" when
 * unknown (symbolize.c; the string lives as long as the process). For
 * tt_shutdown's report of the blocking calls it waits for. */
const char *tt__function_name(uintptr_t addr);

#endif
