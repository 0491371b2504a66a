/*
 * The grouped task list for the live page: see tasks_json.h.
 */
#include "http/tasks_json.h"

#include "http/bufprintf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leak/hooks.h"
#include "observe/snapshot.h"
#include "tether.h"

#define MAX_IDS 5
#define NS_PER_MS 1000000LL

void tt__http_json_string(tt_bytebuf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  tt__bytebuf_put(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      tt__bytebuf_put(b, e, 2);
    } else if (c < 0x20 || c == 0x7f) {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      tt__bytebuf_put(b, e, 6);
    } else {
      tt__bytebuf_put(b, &s[i], 1);
    }
  }
  tt__bytebuf_put(b, "\"", 1);
}

static void put_cstr(tt_bytebuf *b, const char *s) {
  tt__http_json_string(b, s ? s : "", s ? strlen(s) : 0);
}

/* One task's place in a group: what makes tasks "the same". */
typedef struct member {
  const tt_taskrec *r;
  const uintptr_t *pcs;
  uint32_t n;
} member;

static int cmp_member(const void *a, const void *b) {
  const member *x = a, *y = b;
  if (x->r->info.state != y->r->info.state)
    return (int)x->r->info.state - (int)y->r->info.state;
  int c = strcmp(x->r->info.wait_reason, y->r->info.wait_reason);
  if (c)
    return c;
  if (x->r->leaked != y->r->leaked)
    return (int)x->r->leaked - (int)y->r->leaked;
  uint32_t n = x->n < y->n ? x->n : y->n;
  for (uint32_t i = 0; i < n; i++)
    if (x->pcs[i] != y->pcs[i])
      return x->pcs[i] < y->pcs[i] ? -1 : 1;
  if (x->n != y->n)
    return x->n < y->n ? -1 : 1;
  return x->r->info.id < y->r->info.id ? -1 : x->r->info.id > y->r->info.id;
}

typedef struct group {
  size_t first; /* index into the sorted members */
  int64_t count;
} group;

static int cmp_group(const void *a, const void *b) {
  const group *x = a, *y = b;
  if (x->count != y->count)
    return x->count > y->count ? -1 : 1;
  return x->first < y->first ? -1 : x->first > y->first;
}

static void put_group(tt_bytebuf *b, const tt_snapshot *s, const member *m, const group *g,
                      int64_t suspect_ns) {
  const tt_taskrec *r0 = m[g->first].r;
  int64_t min_wait = INT64_MAX, max_wait = 0, min_age = INT64_MAX, max_age = 0;
  for (int64_t k = 0; k < g->count; k++) {
    const tt_taskrec *r = m[g->first + (size_t)k].r;
    int64_t wait = r->info.state == TT_TASK_WAITING && r->info.wait_since > 0
                       ? s->now - r->info.wait_since
                       : 0;
    int64_t age = r->info.created > 0 ? s->now - r->info.created : 0;
    min_wait = wait < min_wait ? wait : min_wait;
    max_wait = wait > max_wait ? wait : max_wait;
    min_age = age < min_age ? age : min_age;
    max_age = age > max_age ? age : max_age;
  }
  tt__http_bufprintf(b, "{\"count\":%lld,\"state\":", (long long)g->count);
  put_cstr(b, r0->info.state_name);
  tt__bytebuf_put(b, ",\"reason\":", 10);
  put_cstr(b, r0->info.wait_reason);
  tt__http_bufprintf(
      b,
      ",\"min_wait_ms\":%lld,\"max_wait_ms\":%lld,\"min_age_ms\":%lld,\"max_age_ms\":%lld,"
      "\"leaked\":",
      (long long)(min_wait / NS_PER_MS), (long long)(max_wait / NS_PER_MS),
      (long long)(min_age / NS_PER_MS), (long long)(max_age / NS_PER_MS));
  put_cstr(b, r0->leaked ? tt__leak_class_name(r0->leaked) : "");
  /* A suspect is what tt_leak_suspects lists: a long wait, not a sleep,
   * that the detector has not proven leaked. */
  const char *suspect = "";
  if (!r0->leaked && r0->info.state == TT_TASK_WAITING && max_wait >= suspect_ns &&
      strcmp(r0->info.wait_reason, "sleep") != 0)
    suspect = strcmp(r0->info.wait_reason, "IO wait") == 0
                  ? "I/O without a deadline (seed pattern 4): not provable"
                  : "long wait the detector cannot prove leaked";
  tt__bytebuf_put(b, ",\"suspect\":", 11);
  put_cstr(b, suspect);
  tt__bytebuf_put(b, ",\"entry\":", 9);
  put_cstr(b, r0->info.entry);
  tt__bytebuf_put(b, ",\"spawn\":", 9);
  char site[512];
  snprintf(site, sizeof site, "%s:%d", r0->info.spawn_file ? r0->info.spawn_file : "?",
           r0->info.spawn_line);
  put_cstr(b, site);
  tt__bytebuf_put(b, ",\"ids\":[", 8);
  for (int64_t k = 0; k < g->count && k < MAX_IDS; k++)
    tt__http_bufprintf(b, "%s%lld", k ? "," : "", (long long)m[g->first + (size_t)k].r->info.id);
  tt__bytebuf_put(b, "],\"frames\":[", 12);
  bool first = true;
  for (uint32_t i = 0; i < m[g->first].n; i++) {
    tt_frame fr[TT_PC_MAX_FRAMES]; /* the inlined calls and their caller */
    int nf = tt__symbolize_inlined(m[g->first].pcs[i], fr, TT_PC_MAX_FRAMES);
    for (int k = 0; k < nf; k++, first = false) {
      tt__bytebuf_put(b, first ? "{\"func\":" : ",{\"func\":", first ? 8 : 9);
      put_cstr(b, fr[k].func);
      tt__bytebuf_put(b, ",\"file\":", 8);
      put_cstr(b, fr[k].file);
      tt__http_bufprintf(b, ",\"line\":%d}", fr[k].line);
    }
  }
  tt__bytebuf_put(b, "]}", 2);
}

int tt__http_tasks_json(tt_bytebuf *b, const tt_http_tasks_opts *opts) {
  int max_groups = opts && opts->max_groups > 0 ? opts->max_groups : 1000;
  int64_t suspect_ns =
      opts && opts->suspect_min_wait > 0 ? opts->suspect_min_wait : 60LL * 1000 * NS_PER_MS;
  tt_snapshot s = {0};
  int rc = tt__snapshot_take(&s, TT_SNAP_STACKS);
  if (rc < 0)
    return rc;
  member *m = malloc((s.ntasks ? s.ntasks : 1) * sizeof *m);
  group *g = malloc((s.ntasks ? s.ntasks : 1) * sizeof *g);
  if (!m || !g) {
    free(m);
    free(g);
    tt__snapshot_free(&s);
    return TT_ENOMEM;
  }
  int64_t by_state[4] = {0}; /* indexed by tt_task_state (1..3) */
  for (size_t k = 0; k < s.ntasks; k++) {
    const tt_taskrec *r = &s.tasks[k];
    /* No stack (running elsewhere): the entry function stands in, as in
     * the counted dump formats. */
    m[k] = r->npcs ? (member){r, s.pcs + r->pc0, r->npcs} : (member){r, &r->entry_pc, 1};
    if ((unsigned)r->info.state < 4)
      by_state[r->info.state]++;
  }
  qsort(m, s.ntasks, sizeof *m, cmp_member);
  size_t ngroups = 0;
  for (size_t k = 0; k < s.ntasks; k++) {
    if (ngroups > 0) {
      member a = m[g[ngroups - 1].first], x = m[k];
      /* Same group unless state, reason, verdict or stack differ: compare
       * as cmp_member does, ignoring the id. */
      bool same = a.r->info.state == x.r->info.state &&
                  strcmp(a.r->info.wait_reason, x.r->info.wait_reason) == 0 &&
                  a.r->leaked == x.r->leaked && a.n == x.n &&
                  memcmp(a.pcs, x.pcs, a.n * sizeof *a.pcs) == 0;
      if (same) {
        g[ngroups - 1].count++;
        continue;
      }
    }
    g[ngroups++] = (group){k, 1};
  }
  qsort(g, ngroups, sizeof *g, cmp_group);

  tt__http_bufprintf(
      b,
      "{\"now_ms\":%lld,\"total\":%zu,\"runnable\":%lld,\"running\":%lld,\"waiting\":%lld,"
      "\"leaks_found\":%lld,\"suspect_after_ms\":%lld,\"ngroups\":%zu,\"groups\":[",
      (long long)(s.wall_now / NS_PER_MS), s.ntasks, (long long)by_state[TT_TASK_RUNNABLE],
      (long long)by_state[TT_TASK_RUNNING], (long long)by_state[TT_TASK_WAITING],
      (long long)tt_leak_count(), (long long)(suspect_ns / NS_PER_MS), ngroups);
  for (size_t i = 0; i < ngroups && i < (size_t)max_groups; i++) {
    if (i)
      tt__bytebuf_put(b, ",", 1);
    put_group(b, &s, m, &g[i], suspect_ns);
  }
  tt__bytebuf_put(b, "]}\n", 3);
  free(m);
  free(g);
  tt__snapshot_free(&s);
  return b->failed ? TT_ENOMEM : 0;
}
