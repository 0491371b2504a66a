/*
 * A goroutine record being put together by a parser: its strings go into
 * one growable buffer and its frames hold offsets into it, so that growing
 * the buffer never leaves a dangling pointer; lk_recbuf_finish turns the
 * offsets into the pointers an lk_rec carries.
 */
#ifndef TETHER_LEAKS_RECORD_H
#define TETHER_LEAKS_RECORD_H

#include "leaks.h"

typedef struct lk_rframe {
  size_t func, args, file; /* offsets into the string buffer */
  int line;
} lk_rframe;

typedef struct lk_recbuf {
  char *s;
  size_t slen, scap;
  lk_rframe *fr;
  int nfr, frcap;
  lk_frame *out; /* pointers, filled by lk_recbuf_finish */
  int outcap;
  lk_rframe created;
  bool has_created;
  size_t state;
  bool oom;
} lk_recbuf;

/* Forget the record in progress (keeps the memory). */
void lk_recbuf_reset(lk_recbuf *b);
void lk_recbuf_free(lk_recbuf *b);
/* Copy n bytes plus a NUL; returns the offset. */
size_t lk_recbuf_str(lk_recbuf *b, const char *p, size_t n);
/* A new frame with empty strings; NULL when out of memory. */
lk_rframe *lk_recbuf_frame(lk_recbuf *b);
/* Point r's frames, created site and state at the buffer. -1 when out of memory. */
int lk_recbuf_finish(lk_recbuf *b, lk_rec *r);

#endif
