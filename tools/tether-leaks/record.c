/* The record builder the parsers share (record.h). */
#include "record.h"

#include <stdlib.h>
#include <string.h>

void lk_recbuf_reset(lk_recbuf *b) {
  b->slen = 0;
  b->nfr = 0;
  b->has_created = false;
  b->state = 0;
  /* Offset 0 is always the empty string. */
  lk_recbuf_str(b, "", 0);
}

void lk_recbuf_free(lk_recbuf *b) {
  free(b->s);
  free(b->fr);
  free(b->out);
  memset(b, 0, sizeof *b);
}

size_t lk_recbuf_str(lk_recbuf *b, const char *p, size_t n) {
  if (b->slen + n + 1 > b->scap) {
    size_t ncap = b->scap ? b->scap : 4096;
    while (ncap < b->slen + n + 1)
      ncap *= 2;
    char *ns = realloc(b->s, ncap);
    if (!ns) {
      b->oom = true;
      return 0;
    }
    b->s = ns;
    b->scap = ncap;
  }
  size_t at = b->slen;
  if (n)
    memcpy(b->s + at, p, n);
  b->s[at + n] = '\0';
  b->slen += n + 1;
  return at;
}

lk_rframe *lk_recbuf_frame(lk_recbuf *b) {
  if (b->nfr == b->frcap) {
    int ncap = b->frcap ? 2 * b->frcap : 64;
    lk_rframe *nf = realloc(b->fr, (size_t)ncap * sizeof *nf);
    if (!nf) {
      b->oom = true;
      return NULL;
    }
    b->fr = nf;
    b->frcap = ncap;
  }
  lk_rframe *f = &b->fr[b->nfr++];
  memset(f, 0, sizeof *f);
  return f;
}

int lk_recbuf_finish(lk_recbuf *b, lk_rec *r) {
  if (b->oom || !b->s)
    return -1;
  if (b->nfr > b->outcap) {
    lk_frame *no = realloc(b->out, (size_t)b->nfr * sizeof *no);
    if (!no)
      return -1;
    b->out = no;
    b->outcap = b->nfr;
  }
  for (int i = 0; i < b->nfr; i++)
    b->out[i] =
        (lk_frame){b->s + b->fr[i].func, b->s + b->fr[i].args, b->s + b->fr[i].file, b->fr[i].line};
  r->frames = b->out;
  r->nframes = b->nfr;
  r->state = b->s + b->state;
  if (b->has_created)
    r->created = (lk_frame){b->s + b->created.func, b->s + b->created.args, b->s + b->created.file,
                            b->created.line};
  else
    r->created = (lk_frame){0};
  return 0;
}
