/*
 * Every task of a snapshot as one JSON document (schema: docs/API.md, "The JSON dump").
 * Meant for tools rather than people, so everything a record holds is
 * there, absent values are null rather than "" or 0, and times are plain
 * nanosecond integers. One task per line keeps a big dump greppable and
 * diffable while staying a single document.
 */
#include "leak/hooks.h"
#include "observe/bytebuf.h"
#include "observe/exports.h"

#include <stdlib.h>
#include <string.h>

/* Frames a task may expand to: inlined calls can add frames per pc. */
#define MAX_FRAMES (4 * TT_SNAP_MAX_FRAMES)

/* Each task is formatted into this buffer and written with one fwrite.
 * Not stdio's locked-file calls across the task: symbolizing a frame may
 * park the calling task (tt_blocking) and resume it on another thread,
 * which must not happen while this thread holds the FILE's lock. */
typedef tt_bytebuf jbuf;

static void jb_raw(jbuf *b, const void *p, size_t n) { tt__bytebuf_put(b, p, n); }

static void jb_puts(jbuf *b, const char *s) { jb_raw(b, s, strlen(s)); }

static void jb_putc(jbuf *b, char c) { jb_raw(b, &c, 1); }

/* Numbers are formatted by hand: the only formats here are decimal
 * integers and hex addresses. */
static void jb_i64(jbuf *b, int64_t v) {
  char tmp[24], *p = tmp + sizeof tmp;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0)
    *--p = '-';
  jb_raw(b, p, (size_t)(tmp + sizeof tmp - p));
}

/* "0x..." in lower case, as a JSON string. */
static void jb_addr(jbuf *b, uintptr_t v) {
  char tmp[2 + 2 * sizeof v + 2], *p = tmp + sizeof tmp;
  *--p = '"';
  do {
    *--p = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  *--p = 'x';
  *--p = '0';
  *--p = '"';
  jb_raw(b, p, (size_t)(tmp + sizeof tmp - p));
}

/* Length of the valid UTF-8 sequence at s, or 0 when s does not start one
 * (stray continuation byte, overlong form, surrogate, beyond U+10FFFF, or
 * cut short by the end of the string). Reads no further than the first
 * byte that fails, so the terminating NUL is never passed. */
static int utf8_len(const unsigned char *s, size_t left) {
  unsigned c = s[0];
  if (c < 0x80)
    return 1;
  if (c < 0xC2 || c > 0xF4)
    return 0;
  int n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  if ((size_t)n > left)
    return 0;
  for (int i = 1; i < n; i++)
    if ((s[i] & 0xC0) != 0x80)
      return 0;
  if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xF0 && s[1] < 0x90) || /* overlong */
      (c == 0xED && s[1] >= 0xA0) ||                              /* surrogate half */
      (c == 0xF4 && s[1] >= 0x90))                                /* > U+10FFFF */
    return 0;
  return n;
}

/* A JSON string: quotes and backslashes escaped, control characters as
 * their short escape or \u00XX, and each byte that is not part of valid
 * UTF-8 as U+FFFD, so the document always parses (task names and file
 * names are arbitrary bytes; a name cut at 31 bytes can split a character). */
static void put_escaped(jbuf *out, const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  for (size_t i = 0; i < len;) {
    size_t run = i; /* plain ASCII goes out in one copy */
    while (run < len && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
      run++;
    if (run > i) {
      jb_raw(out, s + i, run - i);
      i = run;
      continue;
    }
    unsigned c = s[i];
    if (c == '"' || c == '\\') {
      jb_putc(out, '\\');
      jb_putc(out, (char)c);
      i++;
      continue;
    }
    if (c < 0x20) {
      switch (c) {
      case '\n': jb_puts(out, "\\n"); break;
      case '\r': jb_puts(out, "\\r"); break;
      case '\t': jb_puts(out, "\\t"); break;
      case '\b': jb_puts(out, "\\b"); break;
      case '\f': jb_puts(out, "\\f"); break;
      default:
        jb_puts(out, "\\u00");
        jb_putc(out, "0123456789abcdef"[c >> 4]);
        jb_putc(out, "0123456789abcdef"[c & 15]);
        break;
      }
      i++;
      continue;
    }
    int n = utf8_len(s + i, len - i);
    if (n == 0) {
      jb_puts(out, "\\ufffd");
      i++;
      continue;
    }
    jb_raw(out, s + i, (size_t)n);
    i += (size_t)n;
  }
}

static void put_strn(jbuf *out, const char *s, size_t len) {
  jb_putc(out, '"');
  put_escaped(out, s, len);
  jb_putc(out, '"');
}

/* A string, or null for NULL (and for "" when empty_is_null). */
static void put_str(jbuf *out, const char *s, bool empty_is_null) {
  if (!s || (empty_is_null && !s[0]))
    jb_puts(out, "null");
  else
    put_strn(out, s, strlen(s));
}

/* What kind of object a wait reason waits on, from Go's words for it. */
static const char *wait_kind(const char *reason) {
  static const struct {
    const char *prefix, *kind;
  } kinds[] = {
      {"chan ", "chan"},        {"select", "select"},
      {"sync.Mutex.", "mutex"}, {"sync.RWMutex.", "rwmutex"},
      {"sync.Cond.", "cond"},   {"sync.WaitGroup.", "waitgroup"},
      {"semacquire", "sema"},   {"sleep", "sleep"},
      {"syscall", "syscall"},   {"IO wait", "io"},
  };
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strncmp(reason, kinds[i].prefix, strlen(kinds[i].prefix)) == 0)
      return kinds[i].kind;
  return "other";
}

static void put_waiting_on(jbuf *out, const tt_taskrec *r) {
  if (r->info.state != TT_TASK_WAITING) {
    jb_puts(out, "null");
    return;
  }
  jb_puts(out, "{\"kind\":");
  put_str(out, wait_kind(r->info.wait_reason ? r->info.wait_reason : ""), false);
  jb_puts(out, ",\"addr\":");
  if (r->wait_obj)
    jb_addr(out, (uintptr_t)r->wait_obj);
  else
    jb_puts(out, "null");
  jb_puts(out, ",\"made_at\":");
  if (r->wait_file && r->wait_file[0]) { /* "file:line" */
    jb_putc(out, '"');
    put_escaped(out, r->wait_file, strlen(r->wait_file));
    jb_putc(out, ':');
    jb_i64(out, r->wait_line);
    jb_putc(out, '"');
  } else {
    jb_puts(out, "null");
  }
  if (r->io_fd >= 0) {
    jb_puts(out, ",\"fd\":");
    jb_i64(out, r->io_fd);
    jb_puts(out, ",\"peer\":");
    if (r->io_peer[0]) {
      jb_putc(out, '"');
      put_escaped(out, r->io_peer, strlen(r->io_peer));
      jb_putc(out, '"');
    } else {
      jb_puts(out, "null");
    }
    jb_puts(out, r->io_bounded ? ",\"bounded\":true" : ",\"bounded\":false");
  }
  jb_putc(out, '}');
}

static void put_frames(jbuf *out, const tt_snapshot *s, const tt_taskrec *r, tt_frame *fr) {
  int n = 0;
  if (r->stack == TT_SNAP_STACK_OK && r->npcs > 0 && fr)
    n = tt__snapshot_frames(s, r, fr, MAX_FRAMES);
  jb_putc(out, '[');
  for (int i = 0; i < n; i++) {
    const tt_frame *f = &fr[i];
    jb_puts(out, i ? ",{\"func\":" : "{\"func\":");
    put_str(out, f->func && strcmp(f->func, "?") != 0 ? f->func : NULL, true);
    jb_puts(out, ",\"file\":");
    put_str(out, f->file, true);
    jb_puts(out, ",\"line\":");
    if (f->line > 0)
      jb_i64(out, f->line);
    else
      jb_puts(out, "null");
    jb_puts(out, ",\"pc\":");
    jb_addr(out, f->pc);
    jb_putc(out, '}');
  }
  jb_putc(out, ']');
}

static const char *stack_status(const tt_taskrec *r) {
  switch (r->stack) {
  case TT_SNAP_STACK_OK: return "ok";
  case TT_SNAP_STACK_RUNNING: return "running";
  default: return "none";
  }
}

static void put_task(jbuf *out, const tt_snapshot *s, const tt_taskrec *r, tt_frame *fr) {
  const tt_task_info *ti = &r->info;
  jb_puts(out, "{\"id\":");
  jb_i64(out, ti->id);
  jb_puts(out, ",\"parent\":");
  if (ti->parent_id > 0)
    jb_i64(out, ti->parent_id);
  else
    jb_puts(out, "null");
  jb_puts(out, ",\"name\":");
  if (ti->name[0])
    put_strn(out, ti->name, strnlen(ti->name, sizeof ti->name));
  else
    jb_puts(out, "null");
  jb_puts(out, ",\"state\":");
  put_str(out, ti->state_name, false);
  bool waiting = ti->state == TT_TASK_WAITING;
  jb_puts(out, ",\"wait_reason\":");
  put_str(out, waiting ? ti->wait_reason : NULL, true);
  /* wait_since and created come from a coarse clock that can lag the
   * snapshot's clock by a tick: never report a negative duration. */
  jb_puts(out, ",\"wait_ns\":");
  if (waiting && ti->wait_since > 0)
    jb_i64(out, s->now > ti->wait_since ? s->now - ti->wait_since : 0);
  else
    jb_puts(out, "null");
  jb_puts(out, ",\"created_ns_ago\":");
  jb_i64(out, s->now > ti->created ? s->now - ti->created : 0);
  jb_puts(out, ",\"entry\":");
  put_str(out, ti->entry, true);
  jb_puts(out, ",\"spawn\":{\"func\":");
  put_str(out, ti->spawn_func, true);
  jb_puts(out, ",\"file\":");
  put_str(out, ti->spawn_file, true);
  jb_puts(out, ",\"line\":");
  if (ti->spawn_line > 0)
    jb_i64(out, ti->spawn_line);
  else
    jb_puts(out, "null");
  jb_puts(out, "},\"worker\":");
  if (ti->worker >= 0)
    jb_i64(out, ti->worker);
  else
    jb_puts(out, "null");
  jb_puts(out, ",\"stack_bytes\":");
  jb_i64(out, (int64_t)ti->stack_size);
  jb_puts(out, ",\"self\":");
  jb_puts(out, r->self ? "true" : "false");
  jb_puts(out, ",\"waiting_on\":");
  put_waiting_on(out, r);
  jb_puts(out, ",\"leaked\":"); /* why it can never run again, or null */
  put_str(out, r->leaked ? tt__leak_class_name(r->leaked) : NULL, true);
  jb_puts(out, ",\"stack_status\":");
  put_str(out, stack_status(r), false);
  jb_puts(out, ",\"frames\":");
  put_frames(out, s, r, fr);
  jb_putc(out, '}');
}

int tt__export_json(FILE *out, const tt_snapshot *s) {
  if (!out || !s)
    return TT_EINVAL;
  /* On the heap: the caller may be a task with a small stack. */
  tt_frame *fr = malloc((size_t)MAX_FRAMES * sizeof *fr);
  if (!fr)
    return TT_ENOMEM;
  jbuf b = {0};
  jb_puts(&b, "{\"taken_at_ns\":");
  jb_i64(&b, s->wall_now);
  jb_puts(&b, ",\"total\":");
  jb_i64(&b, (int64_t)s->ntasks);
  jb_puts(&b, ",\"tasks\":[");
  for (size_t i = 0; i < s->ntasks && !b.failed; i++) {
    jb_puts(&b, i ? ",\n" : "\n");
    put_task(&b, s, &s->tasks[i], fr);
    fwrite(b.data, 1, b.len, out);
    b.len = 0;
  }
  jb_puts(&b, "\n]}\n");
  int rc = b.failed ? TT_ENOMEM : 0;
  if (!b.failed)
    fwrite(b.data, 1, b.len, out);
  fflush(out);
  free(b.data);
  free(fr);
  return rc == 0 && ferror(out) ? TT_EINVAL : rc;
}
