/*
 * The pprof goroutine profile: what Go serves at /debug/pprof/goroutine,
 * so `go tool pprof` (and anything else reading profile.proto from
 * github.com/google/pprof) reads a tether process like a Go one.
 *
 * Layout follows Go's runtime/pprof (proto.go, printCountProfile):
 *  - sample_type and period_type {"goroutine", "count"}, period 1;
 *  - one sample per distinct stack, value = how many tasks have it, most
 *    populous first;
 *  - a location per distinct return address, at address pc - 1 (the call
 *    instruction, whose line is the one shown), with one line per function
 *    when the symbolizer expands inlined calls (frames sharing a pc);
 *  - a mapping per executable segment of each loaded object (Go reads them
 *    from /proc/self/maps), with the GNU build id, and has_functions etc.
 *    set when all its locations were resolved, so pprof does not try to
 *    symbolize them again from the binary (it does for the others);
 *  - gzip around the whole message.
 * The goroutineleak profile (TT_DUMP_PPROF_LEAKED) has the tasks the leak
 * detector proved leaked only, under Go 1.26's sample type
 * {"goroutineleak", "count"}.
 * Beyond Go: each sample carries a label state=<wait reason or state>, and
 * a proven leaked task leaked=<the detector's class of leak>, a named task
 * name=<its name> (as a Go program's pprof.Do labels), so
 * `-tags` breaks tasks down by what they wait for; tasks with the same
 * stack but a different state become separate samples (Go does the same
 * for goroutines with different labels), which -top and -traces still sum.
 *
 * A task whose stack could not be walked (running on another worker, or no
 * walker on this build) still counts, as every goroutine does in Go: its
 * stack is a placeholder frame naming why, above its entry function.
 *
 * Everything is built in heap memory: the caller may be a task on a 64 KiB
 * stack.
 */
#include "leak/hooks.h" /* tt__leak_class_name */
#include "observe/exports.h"
#include "observe/protobuf.h"

#include <elf.h>
#include <limits.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#ifdef TT_HAVE_ZLIB
#include <zlib.h>
#endif

/* profile.proto field numbers */
enum {
  PROFILE_SAMPLE_TYPE = 1,
  PROFILE_SAMPLE = 2,
  PROFILE_MAPPING = 3,
  PROFILE_LOCATION = 4,
  PROFILE_FUNCTION = 5,
  PROFILE_STRING_TABLE = 6,
  PROFILE_TIME_NANOS = 9,
  PROFILE_PERIOD_TYPE = 11,
  PROFILE_PERIOD = 12,
  VALUETYPE_TYPE = 1,
  VALUETYPE_UNIT = 2,
  SAMPLE_LOCATION_ID = 1,
  SAMPLE_VALUE = 2,
  SAMPLE_LABEL = 3,
  LABEL_KEY = 1,
  LABEL_STR = 2,
  MAPPING_ID = 1,
  MAPPING_START = 2,
  MAPPING_LIMIT = 3,
  MAPPING_OFFSET = 4,
  MAPPING_FILENAME = 5,
  MAPPING_BUILD_ID = 6,
  MAPPING_HAS_FUNCTIONS = 7,
  MAPPING_HAS_FILENAMES = 8,
  MAPPING_HAS_LINE_NUMBERS = 9,
  LOCATION_ID = 1,
  LOCATION_MAPPING_ID = 2,
  LOCATION_ADDRESS = 3,
  LOCATION_LINE = 4,
  LINE_FUNCTION_ID = 1,
  LINE_LINE = 2,
  FUNCTION_ID = 1,
  FUNCTION_NAME = 2,
  FUNCTION_SYSTEM_NAME = 3,
  FUNCTION_FILENAME = 4,
};

/* Symbolized frames per task: a pc may expand to several frames when the
 * symbolizer reports inlined calls, hence more room than pcs. */
#define MAX_FRAMES (4 * TT_SNAP_MAX_FRAMES)

/* Placeholder leaf functions of tasks without a walked stack. */
static const char FN_RUNNING[] = "[running: stack unavailable]";
static const char FN_NO_STACK[] = "[stack not walked]";

/* ---- a small open-addressing index table --------------------------------------- *
 * Maps a key to an index into one of the builder's arrays. Slots keep the
 * index (+1, 0 = empty) and the key's hash, so growing needs no callback and
 * most mismatches are rejected without looking at the key. */

typedef struct slot {
  uint32_t idx1;
  uint32_t hash;
} slot;

typedef struct table {
  slot *slots;
  size_t cap, n; /* cap: a power of two, or 0 */
} table;

typedef bool (*table_eq)(const void *ctx, uint32_t idx, const void *key);

static uint64_t mix64(uint64_t x) { /* splitmix64's finalizer */
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static bool table_find(const table *t, uint64_t hash, table_eq eq, const void *ctx, const void *key,
                       uint32_t *idx) {
  if (!t->cap)
    return false;
  uint32_t h = (uint32_t)hash;
  for (size_t i = hash & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
    if (!t->slots[i].idx1)
      return false;
    if (t->slots[i].hash == h && eq(ctx, t->slots[i].idx1 - 1, key)) {
      *idx = t->slots[i].idx1 - 1;
      return true;
    }
  }
}

/* Insert an index known to be absent. Kept at most half full. */
static bool table_add(table *t, uint64_t hash, uint32_t idx) {
  if ((t->n + 1) * 2 > t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 256;
    slot *s = calloc(cap, sizeof *s);
    if (!s)
      return false;
    for (size_t i = 0; i < t->cap; i++) {
      if (!t->slots[i].idx1)
        continue;
      size_t j = t->slots[i].hash & (cap - 1);
      while (s[j].idx1)
        j = (j + 1) & (cap - 1);
      s[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = s;
    t->cap = cap;
  }
  /* Probe with the low 32 bits only, so that growing (which only has those)
   * puts every entry where a later lookup will look. */
  uint32_t h = (uint32_t)hash;
  size_t j = h & (t->cap - 1);
  while (t->slots[j].idx1)
    j = (j + 1) & (t->cap - 1);
  t->slots[j] = (slot){idx + 1, h};
  t->n++;
  return true;
}

/* ---- the builder --------------------------------------------------------------------- */

typedef struct fnrec {
  int64_t name, file; /* string table indices */
} fnrec;

typedef struct linerec {
  uint64_t func; /* function id */
  int64_t line;
} linerec;

typedef struct locrec {
  uint64_t key_pc; /* return address (0 for placeholders) */
  uint64_t key_fn; /* placeholders: their function id; else 0 */
  uint64_t address;
  uint32_t mapping; /* mapping id, 0 = none */
  uint32_t line0, nlines;
} locrec;

/* A sample's labels: string indices of their values, 0 for a label the
 * sample does not have. */
typedef struct labels {
  int64_t state;  /* wait reason or state, always there */
  int64_t leaked; /* the leak detector's class, for a task proven leaked */
  int64_t name;   /* the task's name (tt_set_name), as pprof.Do's labels */
} labels;

static bool labels_eq(labels a, labels b) {
  return a.state == b.state && a.leaked == b.leaked && a.name == b.name;
}

typedef struct samplerec {
  size_t loc0;    /* into b->sloc */
  uint32_t nlocs; /* location ids, innermost first */
  labels label;
  int64_t count; /* tasks with this stack and state */
  int64_t first; /* lowest task id among them: a stable tie-break */
} samplerec;

/* Tasks grouped by return addresses and state before anything is
 * symbolized: a leak is typically thousands of tasks on a few stacks, and
 * this way each distinct stack is symbolized once. */
typedef struct rawrec {
  const tt_taskrec *r; /* the first (lowest id) task of the group */
  labels label;
  int64_t count;
} rawrec;

typedef struct maprec {
  uint64_t lo, hi, offset;
  int64_t file, build_id;
  bool used, all_funcs, all_files, all_lines;
} maprec;

#define VEC(T) \
  struct { \
    T *v; \
    size_t n, cap; \
  }

typedef struct builder {
  bool oom;
  VEC(char *) strs;
  table strmap;
  VEC(fnrec) fns;
  table fnmap;
  table fnbyname; /* first function of each name, for placeholders */
  VEC(locrec) locs;
  table locmap;
  VEC(linerec) lines;
  VEC(samplerec) samples;
  table samplemap;
  VEC(uint64_t) sloc;
  VEC(maprec) maps;
  VEC(rawrec) raws;
  table rawmap;
  const tt_snapshot *snap;
  int64_t s_count, s_state, s_leaked, s_name;
  int64_t s_type; /* sample type: "goroutine", or "goroutineleak" */
  int64_t s_exe;  /* the executable's path */
} builder;

/* A vector's storage, doubled; on failure the old storage (still owned by
 * the vector) and b->oom set. */
static void *grow(builder *b, void *v, size_t *cap, size_t size) {
  size_t c = *cap ? *cap * 2 : 64;
  void *p = realloc(v, c * size);
  if (!p) {
    b->oom = true;
    return v;
  }
  *cap = c;
  return p;
}

/* Make room for one more element: false once out of memory. */
#define PUSH(b, vec) \
  (!(b)->oom && ((vec).n < (vec).cap || \
                 ((vec).v = grow((b), (vec).v, &(vec).cap, sizeof *(vec).v), !(b)->oom)))

static uint64_t hash_str(const char *s) {
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
  return mix64(h);
}

static bool str_eq(const void *ctx, uint32_t idx, const void *key) {
  const builder *b = ctx;
  return strcmp(b->strs.v[idx], key) == 0;
}

/* Index of s in the string table, adding a copy if new. Index 0 is "". */
static int64_t intern(builder *b, const char *s) {
  if (!s)
    s = "";
  uint64_t h = hash_str(s);
  uint32_t idx;
  if (table_find(&b->strmap, h, str_eq, b, s, &idx))
    return idx;
  if (!PUSH(b, b->strs))
    return 0;
  char *copy = strdup(s);
  if (!copy || !table_add(&b->strmap, h, (uint32_t)b->strs.n)) {
    free(copy);
    b->oom = true;
    return 0;
  }
  b->strs.v[b->strs.n++] = copy;
  return (int64_t)b->strs.n - 1;
}

static bool fn_eq(const void *ctx, uint32_t idx, const void *key) {
  const fnrec *f = &((const builder *)ctx)->fns.v[idx], *k = key;
  return f->name == k->name && f->file == k->file;
}

static bool fn_name_eq(const void *ctx, uint32_t idx, const void *key) {
  return ((const builder *)ctx)->fns.v[idx].name == *(const int64_t *)key;
}

/* Function id (1-based) of name in file. A function is told apart by file
 * too: two static functions of one name are different functions in C. */
static uint64_t function_id(builder *b, const char *name, const char *file) {
  fnrec k = {intern(b, name), intern(b, file)};
  uint64_t h = mix64((uint64_t)k.name * 0x9e3779b97f4a7c15ULL + (uint64_t)k.file);
  uint32_t idx;
  if (table_find(&b->fnmap, h, fn_eq, b, &k, &idx))
    return idx + 1;
  if (!PUSH(b, b->fns))
    return 0;
  idx = (uint32_t)b->fns.n;
  if (!table_add(&b->fnmap, h, idx)) {
    b->oom = true;
    return 0;
  }
  b->fns.v[b->fns.n++] = k;
  uint64_t hn = mix64((uint64_t)k.name);
  uint32_t other;
  if (!table_find(&b->fnbyname, hn, fn_name_eq, b, &k.name, &other) &&
      !table_add(&b->fnbyname, hn, idx))
    b->oom = true;
  return idx + 1;
}

/* A placeholder's function of this name: the one real stacks already
 * brought in (with its file) if any, else a new one without a file. */
static uint64_t function_by_name(builder *b, const char *name) {
  int64_t k = intern(b, name);
  uint32_t idx;
  if (table_find(&b->fnbyname, mix64((uint64_t)k), fn_name_eq, b, &k, &idx))
    return idx + 1;
  return function_id(b, name, "");
}

/* ---- mappings ----------------------------------------------------------------------- */

/* The GNU build id of a loaded object, from its note segments (already in
 * memory, so no file is opened): pprof uses it to find the right binary
 * when it has to symbolize. hex gets "" when there is none. */
static void build_id_of(const struct dl_phdr_info *info, char hex[2 * 64 + 1]) {
  hex[0] = '\0';
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_NOTE)
      continue;
    size_t align = ph->p_align == 8 ? 8 : 4;
    const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
      const uint8_t *name = p + sizeof *nh;
      const uint8_t *desc = name + ((nh->n_namesz + align - 1) & ~(align - 1));
      const uint8_t *next = desc + ((nh->n_descsz + align - 1) & ~(align - 1));
      if (next > end)
        break;
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
          nh->n_descsz > 0 && nh->n_descsz <= 64) {
        for (size_t k = 0; k < nh->n_descsz; k++) {
          hex[2 * k] = "0123456789abcdef"[desc[k] >> 4];
          hex[2 * k + 1] = "0123456789abcdef"[desc[k] & 15];
        }
        hex[(size_t)2 * nh->n_descsz] = '\0';
        return;
      }
      p = next;
    }
  }
}

/* One mapping per executable segment of each loaded object: what Go takes
 * from the r-xp lines of /proc/self/maps, taken from the loader instead,
 * because a process with many tasks has tens of thousands of mappings
 * (stack chunks split by guard pages) and reading them all would cost more
 * than the rest of the profile. The loader lists the main program first,
 * which is where pprof expects it. */
static int mapping_visit(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  builder *b = arg;
  /* Named as the kernel names them in /proc/self/maps, as Go's profiles
   * do: the main program (which has no name in the loader's list) by
   * /proc/self/exe, the vDSO as [vdso], the others by their real path
   * (the loader's may go through symlinks: /lib -> usr/lib). */
  const char *name = info->dlpi_name;
  int64_t file;
  ElfW(Addr) vdso = (ElfW(Addr))getauxval(AT_SYSINFO_EHDR); /* its load address, 0 if none */
  if (vdso && info->dlpi_addr == vdso) {
    file = intern(b, "[vdso]");
  } else if (!name || !name[0]) {
    file = b->s_exe;
  } else {
    char *real = realpath(name, NULL);
    file = intern(b, real ? real : name);
    free(real);
  }
  char id[2 * 64 + 1];
  build_id_of(info, id);
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || ph->p_memsz == 0)
      continue;
    /* The kernel maps whole pages: the segment's start rounded down (and
     * its file offset with it), its end rounded up. */
    uint64_t start = info->dlpi_addr + ph->p_vaddr;
    uint64_t lo = start & ~(page - 1), hi = (start + ph->p_memsz + page - 1) & ~(page - 1);
    if (!PUSH(b, b->maps))
      return 1;
    b->maps.v[b->maps.n++] = (maprec){.lo = lo,
                                      .hi = hi,
                                      .offset = ph->p_offset - (start - lo),
                                      .file = file,
                                      .build_id = intern(b, id),
                                      .all_funcs = true,
                                      .all_files = true,
                                      .all_lines = true};
  }
  return 0;
}

/* Mapping id (1-based) of the mapping holding addr, 0 if none. A process
 * has a few dozen, and this runs once per distinct location. */
static uint32_t mapping_of(const builder *b, uint64_t addr) {
  for (size_t i = 0; i < b->maps.n; i++)
    if (b->maps.v[i].lo <= addr && addr < b->maps.v[i].hi)
      return (uint32_t)i + 1;
  return 0;
}

/* ---- locations and samples ---------------------------------------------------------- */

static bool loc_eq(const void *ctx, uint32_t idx, const void *key) {
  const locrec *l = &((const builder *)ctx)->locs.v[idx];
  const uint64_t *k = key;
  return l->key_pc == k[0] && l->key_fn == k[1];
}

static bool known(const tt_frame *f) { return f->func && f->func[0] && strcmp(f->func, "?") != 0; }

/* Location id of frames[0..n), which all share one return address: the
 * first is the innermost (inlined) function, the last the one whose code
 * holds the call. An unresolved address gets no line, which leaves pprof
 * free to resolve it from the binary. */
static uint64_t location_of_frames(builder *b, const tt_frame *fr, int n) {
  uint64_t key[2] = {fr[0].pc, 0};
  uint64_t h = mix64(fr[0].pc);
  uint32_t idx;
  if (table_find(&b->locmap, h, loc_eq, b, key, &idx))
    return idx + 1;
  if (!PUSH(b, b->locs))
    return 0;
  locrec l = {.key_pc = fr[0].pc, .address = fr[0].pc ? fr[0].pc - 1 : 0};
  l.mapping = mapping_of(b, l.address);
  l.line0 = (uint32_t)b->lines.n;
  bool resolved = known(&fr[0]);
  for (int i = 0; resolved && i < n; i++) {
    if (!known(&fr[i]) || !PUSH(b, b->lines))
      break;
    uint64_t fn = function_id(b, fr[i].func, fr[i].file);
    b->lines.v[b->lines.n++] = (linerec){fn, fr[i].line};
    l.nlines++;
  }
  if (l.mapping) {
    maprec *m = &b->maps.v[l.mapping - 1];
    m->used = true;
    m->all_funcs &= resolved;
    m->all_files &= resolved && fr[0].file && fr[0].file[0];
    m->all_lines &= resolved && fr[0].line > 0;
  }
  idx = (uint32_t)b->locs.n;
  if (!table_add(&b->locmap, h, idx)) {
    b->oom = true;
    return 0;
  }
  b->locs.v[b->locs.n++] = l;
  return idx + 1;
}

/* A placeholder location: no address, one line naming fn. */
static uint64_t location_of_function(builder *b, uint64_t fn) {
  uint64_t key[2] = {0, fn};
  uint64_t h = mix64(fn ^ 0x5bd1e995ULL);
  uint32_t idx;
  if (table_find(&b->locmap, h, loc_eq, b, key, &idx))
    return idx + 1;
  if (!PUSH(b, b->locs) || !PUSH(b, b->lines))
    return 0;
  idx = (uint32_t)b->locs.n;
  if (!table_add(&b->locmap, h, idx)) {
    b->oom = true;
    return 0;
  }
  b->locs.v[b->locs.n++] = (locrec){.key_fn = fn, .line0 = (uint32_t)b->lines.n, .nlines = 1};
  b->lines.v[b->lines.n++] = (linerec){fn, 0};
  return idx + 1;
}

typedef struct sample_key {
  const uint64_t *locs;
  uint32_t n;
  labels label;
} sample_key;

static uint64_t labels_hash(labels l) {
  return mix64((uint64_t)l.state ^ mix64((uint64_t)l.leaked ^ mix64((uint64_t)l.name)));
}

static bool sample_eq(const void *ctx, uint32_t idx, const void *key) {
  const builder *b = ctx;
  const samplerec *s = &b->samples.v[idx];
  const sample_key *k = key;
  return labels_eq(s->label, k->label) && s->nlocs == k->n &&
         memcmp(b->sloc.v + s->loc0, k->locs, k->n * sizeof *k->locs) == 0;
}

/* Count `count` tasks with this stack and state. */
static void add_sample(builder *b, const uint64_t *locs, uint32_t n, labels label, int64_t id,
                       int64_t count) {
  uint64_t h = labels_hash(label);
  for (uint32_t i = 0; i < n; i++)
    h = mix64(h ^ locs[i]);
  sample_key k = {locs, n, label};
  uint32_t idx;
  if (table_find(&b->samplemap, h, sample_eq, b, &k, &idx)) {
    b->samples.v[idx].count += count;
    return;
  }
  if (!PUSH(b, b->samples))
    return;
  size_t loc0 = b->sloc.n;
  for (uint32_t i = 0; i < n; i++) {
    if (!PUSH(b, b->sloc))
      return;
    b->sloc.v[b->sloc.n++] = locs[i];
  }
  idx = (uint32_t)b->samples.n;
  if (!table_add(&b->samplemap, h, idx)) {
    b->oom = true;
    return;
  }
  b->samples.v[b->samples.n++] = (samplerec){loc0, n, label, count, id};
}

/* What the state label says: the wait reason when waiting ("chan
 * receive"), else the state ("runnable", "running"), as Go's dump header. */
static const char *state_label(const tt_taskrec *r) {
  if (r->info.state == TT_TASK_WAITING && r->info.wait_reason && r->info.wait_reason[0])
    return r->info.wait_reason;
  return r->info.state_name ? r->info.state_name : "unknown";
}

/* A task's labels: its state, the leak class when it is proven leaked (Go
 * 1.26 marks such goroutines "(leaked)" in its dumps), and its name when it
 * has one (what Go programs label goroutines with through pprof.Do). */
static labels labels_of(builder *b, const tt_taskrec *r) {
  labels l = {intern(b, state_label(r)), 0, 0};
  if (r->leaked)
    l.leaked = intern(b, tt__leak_class_name(r->leaked));
  if (r->info.name[0])
    l.name = intern(b, r->info.name);
  return l;
}

/* Tasks without a walked stack: [why] above the entry function. */
static void add_placeholder(builder *b, const tt_taskrec *r, int64_t count, uint64_t *stk) {
  const char *why = r->stack == TT_SNAP_STACK_RUNNING ? FN_RUNNING : FN_NO_STACK;
  uint32_t depth = 0;
  uint64_t id = location_of_function(b, function_id(b, why, ""));
  if (id)
    stk[depth++] = id;
  /* The entry function at its first instruction, as a walk of a task that
   * never ran shows it; by name alone if that address does not resolve. */
  tt_frame f = {.func = "?", .file = ""};
  if (r->entry_pc)
    tt__symbolize(r->entry_pc, &f);
  id = 0;
  if (known(&f))
    id = location_of_frames(b, &f, 1);
  else if (r->info.entry && r->info.entry[0])
    id = location_of_function(b, function_by_name(b, r->info.entry));
  if (id)
    stk[depth++] = id;
  add_sample(b, stk, depth, labels_of(b, r), r->info.id, count);
}

/* A group of tasks with one walked stack: a location per distinct return
 * address. */
static void add_walked(builder *b, const rawrec *g, tt_frame *fr, uint64_t *stk) {
  int n = tt__snapshot_frames(b->snap, g->r, fr, MAX_FRAMES);
  if (n <= 0) {
    add_placeholder(b, g->r, g->count, stk);
    return;
  }
  uint32_t depth = 0;
  for (int i = 0; i < n;) {
    int j = i + 1;
    while (j < n && fr[j].pc == fr[i].pc)
      j++;
    uint64_t id = location_of_frames(b, fr + i, j - i);
    if (id)
      stk[depth++] = id;
    i = j;
  }
  add_sample(b, stk, depth, g->label, g->r->info.id, g->count);
}

static bool raw_eq(const void *ctx, uint32_t idx, const void *key) {
  const builder *b = ctx;
  const rawrec *g = &b->raws.v[idx], *k = key;
  return labels_eq(g->label, k->label) && g->r->npcs == k->r->npcs &&
         memcmp(b->snap->pcs + g->r->pc0, b->snap->pcs + k->r->pc0,
                g->r->npcs * sizeof *b->snap->pcs) == 0;
}

/* Put a task with a walked stack in its group. */
static void group_raw(builder *b, const tt_taskrec *r) {
  rawrec k = {r, labels_of(b, r), 1};
  uint64_t h = labels_hash(k.label);
  for (uint32_t i = 0; i < r->npcs; i++)
    h = mix64(h ^ b->snap->pcs[r->pc0 + i]);
  uint32_t idx;
  if (table_find(&b->rawmap, h, raw_eq, b, &k, &idx)) {
    b->raws.v[idx].count++;
    return;
  }
  if (!PUSH(b, b->raws))
    return;
  if (!table_add(&b->rawmap, h, (uint32_t)b->raws.n)) {
    b->oom = true;
    return;
  }
  b->raws.v[b->raws.n++] = k;
}

/* Most populous stacks first, like Go; then by lowest task id. */
static int sample_cmp(const void *pa, const void *pb) {
  const samplerec *a = pa, *b = pb;
  if (a->count != b->count)
    return a->count > b->count ? -1 : 1;
  return (a->first > b->first) - (a->first < b->first);
}

/* ---- encoding -------------------------------------------------------------------------- */

static void value_type(tt_pb *pb, int field, int64_t type, int64_t unit) {
  size_t m = tt__pb_begin(pb);
  tt__pb_int64_opt(pb, VALUETYPE_TYPE, type);
  tt__pb_int64_opt(pb, VALUETYPE_UNIT, unit);
  tt__pb_end(pb, field, m);
}

static void put_label(tt_pb *pb, int64_t key, int64_t value) {
  if (!value)
    return;
  size_t l = tt__pb_begin(pb);
  tt__pb_int64_opt(pb, LABEL_KEY, key);
  tt__pb_int64_opt(pb, LABEL_STR, value);
  tt__pb_end(pb, SAMPLE_LABEL, l);
}

static void encode(const builder *b, const tt_snapshot *s, tt_pb *pb) {
  value_type(pb, PROFILE_SAMPLE_TYPE, b->s_type, b->s_count);
  for (size_t i = 0; i < b->samples.n; i++) {
    const samplerec *sr = &b->samples.v[i];
    size_t m = tt__pb_begin(pb);
    tt__pb_packed(pb, SAMPLE_LOCATION_ID, b->sloc.v + sr->loc0, sr->nlocs);
    tt__pb_uint64(pb, SAMPLE_VALUE, (uint64_t)sr->count);
    put_label(pb, b->s_state, sr->label.state);
    put_label(pb, b->s_leaked, sr->label.leaked);
    put_label(pb, b->s_name, sr->label.name);
    tt__pb_end(pb, PROFILE_SAMPLE, m);
  }
  for (size_t i = 0; i < b->maps.n; i++) {
    const maprec *mr = &b->maps.v[i];
    size_t m = tt__pb_begin(pb);
    tt__pb_uint64_opt(pb, MAPPING_ID, i + 1);
    tt__pb_uint64_opt(pb, MAPPING_START, mr->lo);
    tt__pb_uint64_opt(pb, MAPPING_LIMIT, mr->hi);
    tt__pb_uint64_opt(pb, MAPPING_OFFSET, mr->offset);
    tt__pb_int64_opt(pb, MAPPING_FILENAME, mr->file);
    tt__pb_int64_opt(pb, MAPPING_BUILD_ID, mr->build_id);
    /* Claimed only for mappings some location resolved in, all of them:
     * pprof then trusts our names instead of opening the binary. */
    tt__pb_bool_opt(pb, MAPPING_HAS_FUNCTIONS, mr->used && mr->all_funcs);
    tt__pb_bool_opt(pb, MAPPING_HAS_FILENAMES, mr->used && mr->all_files);
    tt__pb_bool_opt(pb, MAPPING_HAS_LINE_NUMBERS, mr->used && mr->all_lines);
    tt__pb_end(pb, PROFILE_MAPPING, m);
  }
  for (size_t i = 0; i < b->locs.n; i++) {
    const locrec *lr = &b->locs.v[i];
    size_t m = tt__pb_begin(pb);
    tt__pb_uint64_opt(pb, LOCATION_ID, i + 1);
    tt__pb_uint64_opt(pb, LOCATION_MAPPING_ID, lr->mapping);
    tt__pb_uint64_opt(pb, LOCATION_ADDRESS, lr->address);
    for (uint32_t k = 0; k < lr->nlines; k++) {
      const linerec *ln = &b->lines.v[lr->line0 + k];
      size_t l = tt__pb_begin(pb);
      tt__pb_uint64_opt(pb, LINE_FUNCTION_ID, ln->func);
      tt__pb_int64_opt(pb, LINE_LINE, ln->line);
      tt__pb_end(pb, LOCATION_LINE, l);
    }
    tt__pb_end(pb, PROFILE_LOCATION, m);
  }
  for (size_t i = 0; i < b->fns.n; i++) {
    size_t m = tt__pb_begin(pb);
    tt__pb_uint64_opt(pb, FUNCTION_ID, i + 1);
    tt__pb_int64_opt(pb, FUNCTION_NAME, b->fns.v[i].name);
    tt__pb_int64_opt(pb, FUNCTION_SYSTEM_NAME, b->fns.v[i].name);
    tt__pb_int64_opt(pb, FUNCTION_FILENAME, b->fns.v[i].file);
    tt__pb_end(pb, PROFILE_FUNCTION, m);
  }
  for (size_t i = 0; i < b->strs.n; i++) /* every entry, "" included: indices are positions */
    tt__pb_bytes(pb, PROFILE_STRING_TABLE, b->strs.v[i], strlen(b->strs.v[i]));
  tt__pb_int64_opt(pb, PROFILE_TIME_NANOS, s->wall_now);
  value_type(pb, PROFILE_PERIOD_TYPE, b->s_type, b->s_count);
  tt__pb_int64_opt(pb, PROFILE_PERIOD, 1);
}

/* ---- gzip -------------------------------------------------------------------------------- */

static int write_gzip(FILE *out, const uint8_t *data, size_t n) {
#ifdef TT_HAVE_ZLIB
  /* Level 1, as Go writes its profiles: a dump may be taken from a busy
   * process and the profile compresses well anyway (it is mostly names). */
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16 /* gzip framing */, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    return TT_ENOMEM;
  enum { CHUNK = 64 * 1024 };
  uint8_t *buf = malloc(CHUNK);
  if (!buf) {
    deflateEnd(&z);
    return TT_ENOMEM;
  }
  z.next_in = (Bytef *)data;
  int rc = Z_OK;
  size_t left = n;
  do {
    /* avail_in is a uInt: feed a huge profile in pieces. */
    uInt in = left > (1u << 30) ? (1u << 30) : (uInt)left;
    z.avail_in = in;
    left -= in;
    int flush = left ? Z_NO_FLUSH : Z_FINISH;
    do {
      z.next_out = buf;
      z.avail_out = CHUNK;
      rc = deflate(&z, flush);
      fwrite(buf, 1, CHUNK - z.avail_out, out);
    } while (z.avail_out == 0);
  } while (left);
  deflateEnd(&z);
  free(buf);
  return rc == Z_STREAM_END ? 0 : TT_ENOMEM;
#else
  tt__gzip_stored(out, data, n); /* a write error shows in ferror(out) */
  return 0;
#endif
}

/* ---- entry point --------------------------------------------------------------------------- */

static void builder_free(builder *b) {
  for (size_t i = 0; i < b->strs.n; i++)
    free(b->strs.v[i]);
  free(b->strs.v);
  free(b->strmap.slots);
  free(b->fns.v);
  free(b->fnmap.slots);
  free(b->fnbyname.slots);
  free(b->locs.v);
  free(b->locmap.slots);
  free(b->lines.v);
  free(b->samples.v);
  free(b->samplemap.slots);
  free(b->sloc.v);
  free(b->maps.v);
  free(b->raws.v);
  free(b->rawmap.slots);
}

static int export(FILE *out, const tt_snapshot *s, const char *type) {
  if (!out || !s)
    return TT_EINVAL;
  builder b;
  memset(&b, 0, sizeof b);
  b.snap = s;
  intern(&b, ""); /* string 0 must be "" */
  b.s_type = intern(&b, type);
  b.s_count = intern(&b, "count");
  b.s_state = intern(&b, "state");
  b.s_leaked = intern(&b, "leaked");
  b.s_name = intern(&b, "name");
  char *exe = malloc(PATH_MAX); /* off the stack, which may be a task's */
  if (exe) {
    ssize_t n = readlink("/proc/self/exe", exe, PATH_MAX - 1);
    exe[n > 0 ? n : 0] = '\0';
    static const char deleted[] = " (deleted)"; /* replaced on disk since */
    size_t len = strlen(exe), dl = sizeof deleted - 1;
    if (len > dl && strcmp(exe + len - dl, deleted) == 0)
      exe[len - dl] = '\0';
    b.s_exe = intern(&b, exe);
    free(exe);
  }
  dl_iterate_phdr(mapping_visit, &b);

  tt_frame *fr = malloc((size_t)MAX_FRAMES * sizeof *fr);
  uint64_t *stk = malloc((size_t)MAX_FRAMES * sizeof *stk);
  if (!fr || !stk)
    b.oom = true;
  /* Walked stacks first, so that a placeholder for an entry function
   * reuses the function (with its file) a real stack brought in. */
  for (size_t i = 0; i < s->ntasks && !b.oom; i++)
    if (s->tasks[i].stack == TT_SNAP_STACK_OK && s->tasks[i].npcs > 0)
      group_raw(&b, &s->tasks[i]);
  for (size_t i = 0; i < b.raws.n && !b.oom; i++)
    add_walked(&b, &b.raws.v[i], fr, stk);
  for (size_t i = 0; i < s->ntasks && !b.oom; i++)
    if (!(s->tasks[i].stack == TT_SNAP_STACK_OK && s->tasks[i].npcs > 0))
      add_placeholder(&b, &s->tasks[i], 1, stk);
  free(fr);
  free(stk);

  int rc = 0;
  tt_pb pb;
  memset(&pb, 0, sizeof pb);
  if (!b.oom) {
    if (b.samples.n) /* no tasks (none leaked, say): no array at all */
      qsort(b.samples.v, b.samples.n, sizeof *b.samples.v, sample_cmp);
    encode(&b, s, &pb);
  }
  if (b.oom || pb.failed)
    rc = TT_ENOMEM;
  else
    rc = write_gzip(out, pb.data, pb.len);
  tt__pb_free(&pb);
  builder_free(&b);
  fflush(out);
  return rc == 0 && ferror(out) ? TT_EINVAL : rc;
}

int tt__export_pprof(FILE *out, const tt_snapshot *s) { return export(out, s, "goroutine"); }

int tt__export_pprof_leaked(FILE *out, const tt_snapshot *s) {
  return export(out, s, "goroutineleak");
}
