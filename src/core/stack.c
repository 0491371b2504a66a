/*
 * Task stacks.
 *
 * A million tasks must fit under the default vm.max_map_count (65530), so a
 * stack cannot be its own mapping. Stacks of the default size are slots
 * carved from 16 MiB chunks (one mapping each, MAP_NORESERVE, no huge
 * pages: only the pages a task touches become resident). A slot is laid out
 * as:
 *
 *   lo                lo+page                                   lo+size
 *   | guard zone      | canary | ...stack grows down... | task record |
 *
 * Every slot's guard zone is a guard region (madvise MADV_GUARD_INSTALL,
 * Linux 6.13 and later): a page that faults on any access, kept across
 * MADV_DONTNEED, and no mapping of its own, so a million tasks all get one.
 * Where the kernel lacks it, the guard is made PROT_NONE while the mapping
 * budget allows (TT_STACK_GUARDS, default a quarter of vm.max_map_count:
 * each such guard splits a mapping in two); beyond that it is ordinary
 * memory. Overflow is caught three ways: touching a guard page raises
 * SIGSEGV, which our handler (on an alternate signal stack) reports with
 * the task's name and spawn site; every switch away from a task checks its
 * saved stack pointer against the bottom; and every switch checks the
 * canary, the lowest 32 bytes of the stack, which must still be zero.
 * A frame bigger than the guard (a large local array) steps over it unless
 * the code probes its frames: -fstack-clash-protection, which tether.pc
 * exports with the other recommended flags. A zero canary is never written, so it costs no resident
 * page: an idle task keeps exactly one page (its top, holding the record) resident.
 *
 * Freed slots go to the worker's cache (LIFO, still warm), then to a global
 * pool; past a bound the pool gives pages back with MADV_DONTNEED so a burst
 * of a million tasks does not stay resident after it ends.
 *
 * Other stack sizes get a mapping of their own with a real guard page.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/sanitizer.h"
#include "core/stack.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13; older headers lack it */
#endif

#define CHUNK_BYTES (16u << 20)
#define POOL_DIRTY_KEEP 1024 /* warm slots kept before pages are returned */
#define CANARY_WORDS 4

typedef struct chunk {
  struct chunk *next;
  char *base;
  size_t bytes;
} chunk;

static struct {
  tt_spinlock lock;
  size_t slot_size;
  size_t slots_per_chunk;
  chunk *chunks;
  char *carve;       /* next never-used slot in the newest chunk */
  size_t carve_left; /* slots left to carve there */
  char **dirty;      /* freed slots with pages still resident */
  size_t ndirty, dirty_cap;
  char **clean; /* freed slots whose pages were returned */
  size_t nclean, clean_cap;
  long guards_left;
  bool guard_regions; /* MADV_GUARD_INSTALL works here */
} pool;

static size_t page_size;

size_t tt__page_size(void) {
  if (!page_size)
    page_size = (size_t)sysconf(_SC_PAGESIZE);
  return page_size;
}

static size_t record_bytes(void) { return (sizeof(tt_task) + 63) & ~(size_t)63; }

static long guard_budget(void) {
  const char *env = getenv("TT_STACK_GUARDS");
  if (env && *env)
    return strtol(env, NULL, 10);
  long max_maps = 65530;
  FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
  if (f) {
    char buf[32];
    if (fgets(buf, sizeof buf, f)) {
      char *end;
      long v = strtol(buf, &end, 10);
      if (end != buf && v > 0)
        max_maps = v;
    }
    fclose(f);
  }
  return max_maps / 4;
}

/* Whether this kernel (and emulator) installs guard regions: tried once on
 * a scratch page. TT_STACK_GUARD_REGIONS=0 turns them off (tests). */
static bool guard_regions_work(void) {
  const char *env = getenv("TT_STACK_GUARD_REGIONS");
  if (env && strcmp(env, "0") == 0)
    return false;
  size_t page = tt__page_size();
  char *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return false;
  /* An emulator may answer 0 and do nothing (qemu-user does for advice it
   * does not know): the kernel must refuse to read the page. */
  bool ok = false;
  int fds[2];
  if (madvise(p, page, MADV_GUARD_INSTALL) == 0 && pipe2(fds, O_CLOEXEC) == 0) {
    ok = write(fds[1], p, 1) < 0 && errno == EFAULT;
    close(fds[0]);
    close(fds[1]);
  }
  munmap(p, page);
  return ok;
}

int tt__stacks_init(size_t default_size) {
  memset(&pool, 0, sizeof pool);
  pool.slot_size = default_size;
  pool.slots_per_chunk = CHUNK_BYTES / default_size;
  if (pool.slots_per_chunk == 0)
    pool.slots_per_chunk = 1;
  pool.guards_left = guard_budget();
  pool.guard_regions = guard_regions_work();
  return 0;
}

static bool vec_push(char ***v, size_t *n, size_t *cap, char *slot);

/* Pooled slots of pinned tasks (shutdown only, under the lifecycle lock). */
static char **pinned;
static size_t npinned, pinned_cap;

void tt__stack_pin(tt_task *t) {
  t->pinned = 1;
  if (t->stack_kind == TT_STACK_POOLED && !vec_push(&pinned, &npinned, &pinned_cap, t->stack_lo))
    fprintf(stderr, "tether: out of memory keeping a stack for a blocking call: it may crash\n");
}

void tt__stacks_destroy(void) {
  for (chunk *c = pool.chunks, *n; c; c = n) {
    n = c->next;
    bool keep = false; /* a pinned stack in it: left mapped for good */
    for (size_t i = 0; i < npinned && !keep; i++)
      keep = pinned[i] >= c->base && pinned[i] < c->base + c->bytes;
    if (!keep)
      munmap(c->base, c->bytes);
    free(c);
  }
  free(pinned);
  pinned = NULL;
  npinned = pinned_cap = 0;
  free(pool.dirty);
  free(pool.clean);
  memset(&pool, 0, sizeof pool);
}

static bool vec_push(char ***v, size_t *n, size_t *cap, char *slot) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 256;
    char **nv = realloc(*v, nc * sizeof *nv);
    if (!nv)
      return false;
    *v = nv;
    *cap = nc;
  }
  (*v)[(*n)++] = slot;
  return true;
}

/* Under pool.lock. */
static char *carve_slot(void) {
  if (pool.carve_left == 0) {
    chunk *c = malloc(sizeof *c);
    if (!c)
      return NULL;
    c->bytes = pool.slots_per_chunk * pool.slot_size;
    c->base = mmap(NULL, c->bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (c->base == MAP_FAILED) {
      free(c);
      return NULL;
    }
#ifdef MADV_NOHUGEPAGE
    madvise(c->base, c->bytes, MADV_NOHUGEPAGE);
#endif
    c->next = pool.chunks;
    pool.chunks = c;
    pool.carve = c->base;
    pool.carve_left = pool.slots_per_chunk;
  }
  char *slot = pool.carve;
  pool.carve += pool.slot_size;
  pool.carve_left--;
  if (pool.guard_regions && madvise(slot, tt__page_size(), MADV_GUARD_INSTALL) == 0)
    return slot;
  if (pool.guards_left > 0 && mprotect(slot, tt__page_size(), PROT_NONE) == 0)
    pool.guards_left--;
  return slot;
}

/* Refill a worker's cache (or get one slot for a plain thread). */
static char *pool_get(tt_worker *w) {
  char *got = NULL;
  tt_spin_lock(&pool.lock);
  int want = w ? TT_STACK_CACHE / 4 : 1;
  for (int i = 0; i < want; i++) {
    char *s;
    if (pool.ndirty)
      s = pool.dirty[--pool.ndirty];
    else if (pool.nclean)
      s = pool.clean[--pool.nclean];
    else
      s = carve_slot();
    if (!s)
      break;
    if (!got)
      got = s;
    else
      w->stack_cache[w->nstack_cache++] = s;
  }
  tt_spin_unlock(&pool.lock);
  return got;
}

static int cmp_addr(const void *a, const void *b) {
  uintptr_t x = (uintptr_t) * (char *const *)a, y = (uintptr_t) * (char *const *)b;
  return x < y ? -1 : x > y;
}

/* Give back the pages of n slots, with one madvise per run of adjacent
 * slots: each call costs a system call and a TLB shootdown on every CPU
 * running our threads, and slots freed together were mostly carved
 * together. */
static void return_pages(char **slots, int n) {
  qsort(slots, (size_t)n, sizeof *slots, cmp_addr);
  for (int i = 0; i < n;) {
    int j = i + 1;
    while (j < n && slots[j] == slots[j - 1] + pool.slot_size)
      j++;
    madvise(slots[i], (size_t)(j - i) * pool.slot_size, MADV_DONTNEED);
    i = j;
  }
}

/* Freed slots always go to the warm list: no system call on the exit path,
 * however many tasks exit at once. Idle workers return the excess pages
 * later (tt__stacks_trim), as Go's background scavenger does. */
static void pool_put(char **slots, int n) {
  tt_spin_lock(&pool.lock);
  for (int i = 0; i < n; i++) {
    bool ok = vec_push(&pool.dirty, &pool.ndirty, &pool.dirty_cap, slots[i]);
    (void)ok; /* on failure the slot stays mapped but unused */
  }
  tt_spin_unlock(&pool.lock);
}

#define TRIM_BATCH 1024

bool tt__stacks_trim(void) {
  char *batch[TRIM_BATCH];
  int n = 0;
  tt_spin_lock(&pool.lock);
  /* The oldest warm slots (the bottom of the list) are the coldest. */
  if (pool.ndirty > POOL_DIRTY_KEEP) {
    size_t excess = pool.ndirty - POOL_DIRTY_KEEP;
    n = excess < TRIM_BATCH ? (int)excess : TRIM_BATCH;
    memcpy(batch, pool.dirty, (size_t)n * sizeof(char *));
    memmove(pool.dirty, pool.dirty + n, (pool.ndirty - (size_t)n) * sizeof(char *));
    pool.ndirty -= (size_t)n;
  }
  tt_spin_unlock(&pool.lock);
  if (n == 0)
    return false;
  return_pages(batch, n);
  tt_spin_lock(&pool.lock);
  for (int i = 0; i < n; i++) {
    bool ok = vec_push(&pool.clean, &pool.nclean, &pool.clean_cap, batch[i]);
    (void)ok;
  }
  bool more = pool.ndirty > POOL_DIRTY_KEEP;
  tt_spin_unlock(&pool.lock);
  return more;
}

static tt_task *init_record(char *lo, size_t size, int kind) {
  size_t page = tt__page_size();
  tt_task *t = (tt_task *)(lo + size - record_bytes());
#ifdef TT_ASAN
  /* A task freed at shutdown never unwound: clear its stale poisoning. */
  __asan_unpoison_memory_region(lo + page, size - page);
#endif
  /* Only the fields spawn does not set itself: a memset of the whole
   * record is a measurable part of a spawn. */
  t->next = NULL;
  t->wait_obj = NULL;
  t->wait_file = NULL;
  t->base_fp = NULL; /* set when the task first runs; walks before that show its entry */
  t->timer.heap = NULL;
  t->asan_fake_stack = NULL;
  t->tsan_fiber = NULL;
  t->name[0] = '\0';
  atomic_store_explicit(&t->wait_reason, TT_WAIT_NONE, memory_order_relaxed);
  atomic_store_explicit(&t->leaked, 0, memory_order_relaxed);
  atomic_store_explicit(&t->wait_since, 0, memory_order_relaxed);
  atomic_store_explicit(&t->wait_bounded, 0, memory_order_relaxed);
  atomic_store_explicit(&t->holder_gone, 0, memory_order_relaxed);
  atomic_store_explicit(&t->holds.lock.locked, 0, memory_order_relaxed);
  t->holds.n = t->holds.pubseq = t->holds.icap = 0;
  atomic_store_explicit(&t->holds.wseq, 0, memory_order_relaxed);
  t->holds.fresh = false;
  t->holds.last_pub = NULL;
  t->holds.cap = sizeof t->holds.local / sizeof t->holds.local[0];
  t->holds.index = NULL;
  t->holds.items = t->holds.local;
  t->stack_lo = lo;
  t->stack_size = size;
  t->stack_kind = (uint8_t)kind;
  t->pinned = 0;
  t->canary = (uint64_t *)(lo + page);
  return t;
}

tt_task *tt__stack_alloc(tt_worker *w, size_t size) {
  if (size == pool.slot_size) {
    char *slot = NULL;
    if (w && w->nstack_cache)
      slot = w->stack_cache[--w->nstack_cache];
    else
      slot = pool_get(w);
    return slot ? init_record(slot, size, TT_STACK_POOLED) : NULL;
  }
  char *lo =
      mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (lo == MAP_FAILED)
    return NULL;
  mprotect(lo, tt__page_size(), PROT_NONE);
  return init_record(lo, size, TT_STACK_DEDICATED);
}

void tt__stack_free(tt_worker *w, tt_task *t) {
  char *lo = t->stack_lo;
  if (t->stack_kind == TT_STACK_DEDICATED) {
    munmap(lo, t->stack_size);
    return;
  }
  if (!w) {
    pool_put(&lo, 1);
    return;
  }
  if (w->nstack_cache == TT_STACK_CACHE) {
    /* Hand the older (colder) half to the pool; keep the warm top. */
    int half = TT_STACK_CACHE / 2;
    pool_put(w->stack_cache, half);
    memmove(w->stack_cache, w->stack_cache + half, (size_t)half * sizeof(char *));
    w->nstack_cache = half;
  }
  w->stack_cache[w->nstack_cache++] = lo;
}

/* ---- Overflow detection ------------------------------------------------- */

/* Async-signal-safe message building: no stdio in a signal handler. */
typedef struct msgbuf {
  char b[512];
  size_t n;
} msgbuf;

static void mb_str(msgbuf *m, const char *s) {
  while (s && *s && m->n < sizeof m->b - 1)
    m->b[m->n++] = *s++;
}

static void mb_num(msgbuf *m, long long v) {
  char tmp[24];
  int k = 0;
  unsigned long long u = v < 0 ? (unsigned long long)(-(v + 1)) + 1 : (unsigned long long)v;
  if (v < 0)
    mb_str(m, "-");
  do {
    tmp[k++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  while (k--)
    if (m->n < sizeof m->b - 1)
      m->b[m->n++] = tmp[k];
}

static void overflow_message(msgbuf *m, const tt_task *t, const char *how) {
  mb_str(m, "tether: fatal: stack overflow in task ");
  mb_num(m, t->id);
  if (t->name[0]) {
    mb_str(m, " \"");
    mb_str(m, t->name);
    mb_str(m, "\"");
  }
  mb_str(m, " (entry ");
  mb_str(m, t->entry);
  mb_str(m, ", spawned at ");
  mb_str(m, t->file);
  mb_str(m, ":");
  mb_num(m, t->line);
  mb_str(m, " in ");
  mb_str(m, t->func);
  mb_str(m, "): stack of ");
  mb_num(m, (long long)(t->stack_size - tt__page_size() - record_bytes()));
  mb_str(m, " usable bytes exhausted (");
  mb_str(m, how);
  mb_str(m, "); raise it with TT_STACK_SIZE or tt_spawn_opts.stack_size\n");
}

void tt__stack_check(tt_task *t, void *sp) {
  const uint64_t *c = t->canary;
  uint64_t bits = 0;
  for (int i = 0; i < CANARY_WORDS; i++)
    bits |= c[i];
  bool deep = (char *)sp < (char *)(c + CANARY_WORDS);
  if (TT_LIKELY(!bits && !deep))
    return;
  msgbuf m = {.n = 0};
  overflow_message(&m, t,
                   deep ? "stack pointer below the bottom at a switch"
                        : "canary at the bottom of the stack overwritten");
  ssize_t r = write(STDERR_FILENO, m.b, m.n);
  (void)r;
  abort();
}

static struct sigaction old_segv, old_bus;
static atomic_int handler_installed;

static void overflow_signal(int sig, siginfo_t *si, void *uctx) {
  tt_worker *w = tt__worker();
  tt_task *t = w ? w->current : NULL;
  char *a = (char *)si->si_addr;
  size_t page = tt__page_size();
  if (t && a >= t->stack_lo - 16 * page && a < t->stack_lo + page) {
    msgbuf m = {.n = 0};
    overflow_message(&m, t, "hit the guard page");
    ssize_t r = write(STDERR_FILENO, m.b, m.n);
    (void)r;
    signal(sig, SIG_DFL); /* returning re-executes the access and dies */
    return;
  }
  /* Not ours: hand it to whoever had the signal before us. */
  struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
  if (old->sa_flags & SA_SIGINFO) {
    if (old->sa_sigaction) {
      old->sa_sigaction(sig, si, uctx);
      return;
    }
  } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
    old->sa_handler(sig);
    return;
  }
  signal(sig, SIG_DFL);
}

void tt__overflow_handler_install(void) {
  if (atomic_exchange(&handler_installed, 1))
    return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = overflow_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &old_segv);
  sigaction(SIGBUS, &sa, &old_bus);
}

#define ALTSTACK_BYTES (64u << 10)

void tt__overflow_handler_thread_init(tt_worker *w) {
  void *mem =
      mmap(NULL, ALTSTACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED)
    return;
  stack_t ss = {.ss_sp = mem, .ss_size = ALTSTACK_BYTES, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) {
    munmap(mem, ALTSTACK_BYTES);
    return;
  }
  w->altstack = mem;
}

void tt__overflow_handler_thread_fini(tt_worker *w) {
  if (!w->altstack)
    return;
  stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
  sigaltstack(&ss, NULL);
  munmap(w->altstack, ALTSTACK_BYTES);
  w->altstack = NULL;
}
