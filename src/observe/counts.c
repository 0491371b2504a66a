/*
 * Task counts: how many tasks there are, in which state, waiting on what,
 * and where they were spawned. All of it is one tt_tasks_foreach walk, so it
 * never stops the world and costs the workers no more than a dump does; the
 * figures are therefore a moving picture (a task may exit or park while the
 * walk is elsewhere), exact only for a population that is not changing.
 */
#include <stdlib.h>
#include <string.h>

#include "observe/walk.h"

/* The public by_reason array has room for 24 reasons; tt_wait_reason grows
 * with new primitives, and this is where we notice it outgrowing the ABI. */
_Static_assert(TT_WAIT__COUNT <= (int)(sizeof(((tt_task_counts *)0)->by_reason) /
                                       sizeof(((tt_task_counts *)0)->by_reason[0])),
               "tt_task_counts.by_reason is too small for the wait reasons");

const char *tt_wait_reason_name(int i) {
  if (i < 0 || i >= TT_WAIT__COUNT)
    return NULL;
  return tt__wait_reason_string((tt_wait_reason)i);
}

/* tt_task_info carries the wait reason as a string (introspect.c hands out
 * pointers into its static table), so map it back to its index: pointer
 * identity first, strcmp only should a walker ever copy the string. */
static int reason_index(const char *s) {
  if (!s || !*s)
    return TT_WAIT_NONE;
  for (int i = 1; i < TT_WAIT__COUNT; i++)
    if (s == tt__wait_reason_string((tt_wait_reason)i))
      return i;
  for (int i = 1; i < TT_WAIT__COUNT; i++)
    if (strcmp(s, tt__wait_reason_string((tt_wait_reason)i)) == 0)
      return i;
  return TT_WAIT_NONE;
}

/* ---- tt_count_tasks ------------------------------------------------------ */

static int count_visit(const tt_task_info *info, void *arg) {
  tt_task_counts *c = arg;
  c->total++;
  switch (info->state) {
  case TT_TASK_RUNNABLE: c->runnable++; break;
  case TT_TASK_RUNNING: c->running++; break;
  case TT_TASK_WAITING:
    c->waiting++;
    c->by_reason[reason_index(info->wait_reason)]++;
    break;
  }
  return 0;
}

int tt_count_tasks(tt_task_counts *out) {
  if (!out)
    return TT_EINVAL;
  memset(out, 0, sizeof *out);
  int64_t n = tt_tasks_foreach(count_visit, out);
  if (n < 0) {
    memset(out, 0, sizeof *out);
    return (int)n;
  }
  /* Index 0 is TT_WAIT_NONE: a task caught between marking itself waiting
   * and recording why. The header promises [0] is unused, so do not expose
   * that transient. */
  out->by_reason[0] = 0;
  return 0;
}

/* ---- tt_count_by_site ------------------------------------------------------ */

typedef struct site {
  const char *file, *func, *entry;
  int line;
  int64_t count, waiting;
  int64_t reasons[TT_WAIT__COUNT];
} site;

/* Open addressing keyed by the string pointers and the line: every task
 * spawned at one tt_go carries the very same literals, so the hot path is a
 * hash of three words and no string comparison. Equal sites that reach us
 * through different pointers (a spawn in an inline function of a header,
 * compiled into several objects) are merged afterwards with strcmp. */
typedef struct site_table {
  site *slots; /* file == NULL marks an empty slot */
  size_t cap;  /* a power of two */
  size_t n;
  bool nomem;
} site_table;

static size_t site_hash(const char *file, const char *entry, int line) {
  uint64_t h = (uint64_t)(uintptr_t)file * 0x9E3779B97F4A7C15ull;
  h ^= (uint64_t)(uintptr_t)entry * 0xC2B2AE3D27D4EB4Full;
  h ^= (uint64_t)(uint32_t)line * 0x165667B19E3779F9ull;
  return (size_t)(h ^ (h >> 29));
}

static bool table_grow(site_table *tb) {
  size_t cap = tb->cap ? tb->cap * 2 : 64;
  site *slots = calloc(cap, sizeof *slots);
  if (!slots)
    return false;
  for (size_t i = 0; i < tb->cap; i++) {
    site *s = &tb->slots[i];
    if (!s->file)
      continue;
    size_t j = site_hash(s->file, s->entry, s->line) & (cap - 1);
    while (slots[j].file)
      j = (j + 1) & (cap - 1);
    slots[j] = *s;
  }
  free(tb->slots);
  tb->slots = slots;
  tb->cap = cap;
  return true;
}

static site *table_find(site_table *tb, const char *file, const char *entry, int line) {
  /* Keep the load under one half so probe runs stay short. */
  if ((tb->n + 1) * 2 > tb->cap && !table_grow(tb))
    return NULL;
  size_t j = site_hash(file, entry, line) & (tb->cap - 1);
  for (;;) {
    site *s = &tb->slots[j];
    if (!s->file) {
      s->file = file;
      s->entry = entry;
      s->line = line;
      tb->n++;
      return s;
    }
    if (s->file == file && s->entry == entry && s->line == line)
      return s;
    j = (j + 1) & (tb->cap - 1);
  }
}

static int site_visit(const tt_task_info *info, void *arg) {
  site_table *tb = arg;
  /* A table slot is empty when its file is NULL, so a task without a spawn
   * file (none today: tt_go always passes __FILE__) is filed under "". */
  site *s = table_find(tb, info->spawn_file ? info->spawn_file : "", info->entry ? info->entry : "",
                       info->spawn_line);
  if (!s) {
    tb->nomem = true;
    return 1;
  }
  if (!s->func)
    s->func = info->spawn_func ? info->spawn_func : "";
  s->count++;
  if (info->state == TT_TASK_WAITING) {
    s->waiting++;
    s->reasons[reason_index(info->wait_reason)]++;
  }
  return 0;
}

static int str_cmp(const char *a, const char *b) { return a == b ? 0 : strcmp(a, b); }

static int site_key_cmp(const void *pa, const void *pb) {
  const site *a = pa, *b = pb;
  if (a->line != b->line)
    return a->line < b->line ? -1 : 1;
  int c = str_cmp(a->file, b->file);
  return c ? c : str_cmp(a->entry, b->entry);
}

/* Most populous first; ties in a stable, readable order (file, line). */
static int site_count_cmp(const void *pa, const void *pb) {
  const site *a = pa, *b = pb;
  if (a->count != b->count)
    return a->count > b->count ? -1 : 1;
  int c = str_cmp(a->file, b->file);
  if (c)
    return c;
  if (a->line != b->line)
    return a->line < b->line ? -1 : 1;
  return str_cmp(a->entry, b->entry);
}

static const char *top_reason(const site *s) {
  int best = TT_WAIT_NONE;
  int64_t most = 0;
  for (int i = 1; i < TT_WAIT__COUNT; i++)
    if (s->reasons[i] > most) {
      best = i;
      most = s->reasons[i];
    }
  return best == TT_WAIT_NONE ? "" : tt__wait_reason_string((tt_wait_reason)best);
}

int tt_count_by_site(tt_site_count *out, int max) {
  if (max < 0 || (max > 0 && !out))
    return TT_EINVAL;
  site_table tb = {NULL, 0, 0, false};
  int64_t walked = tt_tasks_foreach(site_visit, &tb);
  if (walked < 0 || tb.nomem) {
    free(tb.slots);
    return walked < 0 ? (int)walked : TT_ENOMEM;
  }

  /* Compact the table, then merge the sites that only differ by pointer. */
  size_t n = 0;
  for (size_t i = 0; i < tb.cap; i++)
    if (tb.slots[i].file)
      tb.slots[n++] = tb.slots[i];
  if (n > 1) {
    qsort(tb.slots, n, sizeof *tb.slots, site_key_cmp);
    size_t m = 0;
    for (size_t i = 1; i < n; i++) {
      site *dst = &tb.slots[m], *src = &tb.slots[i];
      if (site_key_cmp(dst, src) != 0) {
        tb.slots[++m] = *src;
        continue;
      }
      dst->count += src->count;
      dst->waiting += src->waiting;
      for (int r = 0; r < TT_WAIT__COUNT; r++)
        dst->reasons[r] += src->reasons[r];
    }
    n = m + 1;
    qsort(tb.slots, n, sizeof *tb.slots, site_count_cmp);
  }

  for (size_t i = 0; i < n && i < (size_t)max; i++) {
    const site *s = &tb.slots[i];
    out[i] = (tt_site_count){.file = s->file,
                             .func = s->func,
                             .entry = s->entry,
                             .line = s->line,
                             .count = s->count,
                             .waiting = s->waiting,
                             .top_reason = top_reason(s)};
  }
  free(tb.slots);
  return n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
}
