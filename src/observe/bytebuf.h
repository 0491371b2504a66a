/*
 * A growable byte buffer that remembers a failed allocation instead of
 * reporting each one: writers append freely and check `failed` once at the
 * end. The JSON and pprof exporters build their output in one.
 */
#ifndef TT_OBSERVE_BYTEBUF_H
#define TT_OBSERVE_BYTEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct tt_bytebuf {
  uint8_t *data;
  size_t len, cap;
  bool failed; /* an allocation failed: everything after it was dropped */
} tt_bytebuf;

static inline bool tt__bytebuf_reserve(tt_bytebuf *b, size_t more) {
  if (b->failed)
    return false;
  if (b->len + more <= b->cap)
    return true;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more)
    cap *= 2;
  uint8_t *p = realloc(b->data, cap);
  if (!p) {
    b->failed = true;
    return false;
  }
  b->data = p;
  b->cap = cap;
  return true;
}

static inline void tt__bytebuf_put(tt_bytebuf *b, const void *p, size_t n) {
  if (n && tt__bytebuf_reserve(b, n)) {
    memcpy(b->data + b->len, p, n);
    b->len += n;
  }
}

#endif
