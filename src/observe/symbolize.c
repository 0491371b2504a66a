/*
 * Return addresses to function, file:line.
 *
 * With libdw (elfutils) the process's own modules are reported to one Dwfl
 * session, and each address is looked up in the module's symbol table and
 * DWARF line table, so code built with -g gets file:line and everything
 * else at least a function name. Without libdw (a cross build) dladdr
 * gives the names of exported symbols only.
 *
 * An address in code the compiler inlined is more than one frame: the line
 * table names the line inside the inlined function, while the symbol table
 * names the function it was inlined into. Read as one frame that is the
 * outer function with the inner line, which is wrong on both counts. The
 * DWARF scopes around the address say which inlined calls it sits in, so
 * the address becomes a frame per inlined call, innermost first, each
 * outer one at the line of the call it inlined, as Go's tracebacks show
 * inlined calls.
 *
 * A dump of many similar tasks looks up the same few hundred addresses over
 * and over, so every answer is cached for the life of the process in an
 * open-addressing table keyed by address. libdw is not thread-safe; one
 * mutex covers the session and the cache. A module loaded after the session
 * began (dlopen) is found by reporting the process's mappings again when an
 * address falls outside every known module.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "observe/hooks.h"
#include "observe/snapshot.h"

#ifdef TT_HAVE_LIBDW
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#else
#include <dlfcn.h>
#endif

/* One frame of an address in inlined code. */
typedef struct sym_inlined {
  const char *func, *file;
  int line;
} sym_inlined;

/* Inlined calls around one address that are shown (TT_PC_MAX_FRAMES). */
enum { MAX_INLINED = TT_PC_MAX_FRAMES - 1 };

typedef struct sym_entry {
  uintptr_t pc;            /* 0: empty slot */
  const char *func, *file; /* the innermost frame */
  int line;
  uintptr_t offset;
  int nouter;               /* frames around the innermost (inlined code) */
  const sym_inlined *outer; /* nouter frames, outward; kept with the cache */
} sym_entry;

static pthread_mutex_t sym_lock = PTHREAD_MUTEX_INITIALIZER;
static sym_entry *table;
static size_t table_cap, table_used; /* cap is a power of two */

/* Interned strings: function and file names repeat across addresses. */
typedef struct str_node {
  struct str_node *next;
  char s[];
} str_node;
static str_node *strings[1024];

static const char *intern(const char *s) {
  if (!s || !*s)
    return "";
  uint64_t h = 1469598103934665603ULL;
  for (const char *p = s; *p; p++)
    h = (h ^ (unsigned char)*p) * 1099511628211ULL;
  str_node **b = &strings[h % (sizeof strings / sizeof strings[0])];
  for (str_node *n = *b; n; n = n->next)
    if (strcmp(n->s, s) == 0)
      return n->s;
  size_t len = strlen(s);
  str_node *n = malloc(sizeof *n + len + 1);
  if (!n)
    return "?";
  memcpy(n->s, s, len + 1);
  n->next = *b;
  *b = n;
  return n->s;
}

static size_t slot_of(uintptr_t pc) {
  uint64_t h = (uint64_t)pc * 0x9E3779B97F4A7C15ULL;
  return (size_t)(h >> 20) & (table_cap - 1);
}

static bool table_grow(void) {
  size_t ncap = table_cap ? table_cap * 2 : 1024;
  sym_entry *nt = calloc(ncap, sizeof *nt);
  if (!nt)
    return false;
  sym_entry *old = table;
  size_t ocap = table_cap;
  table = nt;
  table_cap = ncap;
  for (size_t i = 0; i < ocap; i++) {
    if (!old[i].pc)
      continue;
    size_t j = slot_of(old[i].pc);
    while (table[j].pc)
      j = (j + 1) & (table_cap - 1);
    table[j] = old[i];
  }
  free(old);
  return true;
}

#ifdef TT_HAVE_LIBDW

static Dwfl *dwfl;
static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

static bool report_modules(void) {
  if (!dwfl && !(dwfl = dwfl_begin(&callbacks)))
    return false;
  dwfl_report_begin(dwfl);
  int rc = dwfl_linux_proc_report(dwfl, getpid());
  dwfl_report_end(dwfl, NULL, NULL);
  return rc == 0;
}

static int udata_attr(Dwarf_Die *die, unsigned name, Dwarf_Word *out) {
  Dwarf_Attribute attr;
  return dwarf_formudata(dwarf_attr(die, name, &attr), out);
}

/* The inlined calls around addr, innermost first: e's frame becomes the
 * inlined function at the line-table line, and the frames around it are
 * each at the line that made the call inside it. The symbol table's name
 * stays on the outermost frame (it is the function whose code this is). */
static void lookup_inlined(Dwfl_Module *mod, Dwarf_Addr addr, sym_entry *e) {
  Dwarf_Addr bias = 0;
  Dwarf_Die *cu = dwfl_module_addrdie(mod, addr, &bias);
  Dwarf_Die *scopes = NULL;
  int nscopes = cu ? dwarf_getscopes(cu, addr - bias, &scopes) : 0;
  Dwarf_Files *files = NULL;
  size_t nfiles = 0;
  sym_inlined fr[MAX_INLINED + 1];
  int n = 0;
  fr[0] = (sym_inlined){e->func, e->file, e->line};
  for (int i = 0; i < nscopes && n < MAX_INLINED; i++) {
    if (dwarf_tag(&scopes[i]) != DW_TAG_inlined_subroutine)
      continue;
    /* Its name is on the abstract instance, which dwarf_diename follows. */
    const char *name = dwarf_diename(&scopes[i]);
    Dwarf_Word file = 0, line = 0;
    if (!name || udata_attr(&scopes[i], DW_AT_call_line, &line) != 0)
      break;
    const char *call_file = "";
    if (udata_attr(&scopes[i], DW_AT_call_file, &file) == 0 &&
        (files || dwarf_getsrcfiles(cu, &files, &nfiles) == 0) && file < nfiles) {
      const char *f = dwarf_filesrc(files, file, NULL, NULL);
      call_file = f ? f : "";
    }
    fr[n].func = intern(name);
    fr[++n] = (sym_inlined){e->func, intern(call_file), (int)line};
  }
  free(scopes);
  if (n == 0)
    return;
  sym_inlined *outer = malloc((size_t)n * sizeof *outer);
  if (!outer)
    return; /* one frame, as without inlining */
  memcpy(outer, fr + 1, (size_t)n * sizeof *outer);
  e->func = fr[0].func;
  e->nouter = n;
  e->outer = outer;
}

static void lookup(uintptr_t pc, sym_entry *e) {
  /* The call instruction is just before the return address. */
  Dwarf_Addr addr = (Dwarf_Addr)pc - 1;
  if (!dwfl)
    report_modules();
  Dwfl_Module *mod = dwfl ? dwfl_addrmodule(dwfl, addr) : NULL;
  if (!mod && dwfl && report_modules())
    mod = dwfl_addrmodule(dwfl, addr);
  if (!mod)
    return;
  GElf_Off off = 0;
  GElf_Sym sym;
  const char *name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
  if (name) {
    e->func = intern(name);
    e->offset = (uintptr_t)off + 1;
  }
  Dwfl_Line *line = dwfl_module_getsrc(mod, addr);
  if (line) {
    int lineno = 0;
    const char *file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
    if (file) {
      e->file = intern(file);
      e->line = lineno;
    }
  }
  if (name)
    lookup_inlined(mod, addr, e);
}

#else

static void lookup(uintptr_t pc, sym_entry *e) {
  Dl_info info;
  if (dladdr((void *)(pc - 1), &info) && info.dli_sname) {
    e->func = intern(info.dli_sname);
    e->offset = pc - (uintptr_t)info.dli_saddr;
  }
}

#endif

/* Under sym_lock: the cached answer for pc, if any. */
static bool cached(uintptr_t pc, sym_entry *e) {
  if (!table_cap)
    return false;
  for (size_t i = slot_of(pc);; i = (i + 1) & (table_cap - 1)) { /* half full at most */
    if (table[i].pc == pc) {
      *e = table[i];
      return true;
    }
    if (!table[i].pc)
      return false;
  }
}

static void resolve(void *arg) {
  sym_entry *e = arg;
  pthread_mutex_lock(&sym_lock);
  if (!cached(e->pc, e)) {
    lookup(e->pc, e);
    if ((table_used + 1) * 2 <= table_cap || table_grow()) {
      size_t i = slot_of(e->pc);
      while (table[i].pc)
        i = (i + 1) & (table_cap - 1);
      table[i] = *e;
      table_used++;
    } else {
      /* Out of memory: answer uncached, with the innermost frame only (the
       * frames around it live as long as the cache entry would have). */
      free((void *)e->outer);
      e->outer = NULL;
      e->nouter = 0;
    }
  }
  pthread_mutex_unlock(&sym_lock);
}

static sym_entry find(uintptr_t pc) {
  sym_entry e = {.pc = pc, .func = "?", .file = "", .line = 0, .offset = 0};
  if (pc) {
    pthread_mutex_lock(&sym_lock);
    bool hit = cached(pc, &e);
    pthread_mutex_unlock(&sym_lock);
    /* libdw wants far more stack than a task has (its line-table reader
     * recurses and allocates on the stack), so from a task a miss is
     * resolved on a blocking-pool thread. */
    if (!hit && (!tt__current() || tt_blocking(resolve, &e) < 0))
      resolve(&e);
  }
  return e;
}

void tt__symbolize(uintptr_t pc, tt_frame *out) {
  sym_entry e = find(pc);
  *out = (tt_frame){.pc = pc, .func = e.func, .file = e.file, .line = e.line, .offset = e.offset};
}

const char *tt__function_name(uintptr_t addr) {
  tt_frame f;
  tt__symbolize(addr + 1, &f); /* as a return address into its first instruction */
  return f.func && f.func[0] ? f.func : "?";
}

int tt__symbolize_inlined(uintptr_t pc, tt_frame *out, int max) {
  if (max <= 0)
    return 0;
  sym_entry e = find(pc);
  out[0] = (tt_frame){.pc = pc, .func = e.func, .file = e.file, .line = e.line, .offset = e.offset};
  int n = 1;
  for (int i = 0; i < e.nouter && n < max; i++, n++)
    out[n] = (tt_frame){.pc = pc,
                        .func = e.outer[i].func,
                        .file = e.outer[i].file,
                        .line = e.outer[i].line,
                        .offset = e.offset};
  return n;
}
