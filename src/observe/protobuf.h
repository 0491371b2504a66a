/*
 * The two encoders the pprof writer needs, hand-written because each is a
 * page of code and a library for either would be a new dependency:
 *
 *  - protocol buffer wire format into a growable byte buffer: varints,
 *    varint fields, packed repeated varints, strings and nested messages;
 *  - gzip framing around *stored* (uncompressed) deflate blocks with the
 *    CRC-32 it needs, for builds without zlib (the cross build). Every gzip
 *    reader accepts stored blocks; the file is just not smaller.
 *
 * Header-only (static inline) so that tests/test_export.c can check the
 * edge cases directly without the library exporting these symbols.
 */
#ifndef TT_OBSERVE_PROTOBUF_H
#define TT_OBSERVE_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe/bytebuf.h"

/* ---- protobuf --------------------------------------------------------------- */

enum { TT_PB_VARINT = 0, TT_PB_LEN = 2 };

/* A varint needs at most 10 bytes: 64 bits in 7-bit groups. */
#define TT_PB_VARINT_MAX 10

typedef tt_bytebuf tt_pb;

/* Encode v as a varint (7 bits per byte, low group first, high bit set on
 * all but the last byte). Returns the number of bytes written. */
static inline size_t tt__pb_varint_encode(uint8_t out[TT_PB_VARINT_MAX], uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  out[n++] = (uint8_t)v;
  return n;
}

static inline void tt__pb_varint(tt_pb *b, uint64_t v) {
  uint8_t tmp[TT_PB_VARINT_MAX];
  tt__bytebuf_put(b, tmp, tt__pb_varint_encode(tmp, v));
}

static inline void tt__pb_key(tt_pb *b, int field, int wire) {
  tt__pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire);
}

/* A varint field, written even when zero (a packed-free repeated element or
 * a value whose zero matters, like the string table's ""). */
static inline void tt__pb_uint64(tt_pb *b, int field, uint64_t v) {
  tt__pb_key(b, field, TT_PB_VARINT);
  tt__pb_varint(b, v);
}

/* proto3 leaves zero scalars out: readers default them to zero anyway. An
 * int64 is sent as its two's-complement uint64 (not zigzag: profile.proto
 * uses int64, not sint64). */
static inline void tt__pb_uint64_opt(tt_pb *b, int field, uint64_t v) {
  if (v)
    tt__pb_uint64(b, field, v);
}

static inline void tt__pb_int64_opt(tt_pb *b, int field, int64_t v) {
  if (v)
    tt__pb_uint64(b, field, (uint64_t)v);
}

static inline void tt__pb_bool_opt(tt_pb *b, int field, bool v) {
  if (v)
    tt__pb_uint64(b, field, 1);
}

static inline void tt__pb_bytes(tt_pb *b, int field, const void *p, size_t n) {
  tt__pb_key(b, field, TT_PB_LEN);
  tt__pb_varint(b, n);
  tt__bytebuf_put(b, p, n);
}

/* Repeated varints, packed: one key and length, then the values. */
static inline void tt__pb_packed(tt_pb *b, int field, const uint64_t *v, size_t n) {
  if (n == 0)
    return;
  size_t len = 0;
  uint8_t tmp[TT_PB_VARINT_MAX];
  for (size_t i = 0; i < n; i++)
    len += tt__pb_varint_encode(tmp, v[i]);
  tt__pb_key(b, field, TT_PB_LEN);
  tt__pb_varint(b, len);
  for (size_t i = 0; i < n; i++)
    tt__pb_varint(b, v[i]);
}

/* Nested messages: tt__pb_begin marks where the body starts; tt__pb_end
 * then slides the body up to make room for the key and the length, which
 * are only known once the body is written. Bodies here are small (a
 * location, a function), so the move costs little and saves a second
 * buffer per nesting level. */
static inline size_t tt__pb_begin(tt_pb *b) { return b->len; }

static inline void tt__pb_end(tt_pb *b, int field, size_t start) {
  if (b->failed)
    return;
  uint8_t head[2 * TT_PB_VARINT_MAX];
  size_t body = b->len - start;
  size_t h = tt__pb_varint_encode(head, (uint64_t)field << 3 | TT_PB_LEN);
  h += tt__pb_varint_encode(head + h, body);
  if (!tt__bytebuf_reserve(b, h))
    return;
  memmove(b->data + start + h, b->data + start, body);
  memcpy(b->data + start, head, h);
  b->len += h;
}

static inline void tt__pb_free(tt_pb *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}

/* ---- gzip with stored blocks ----------------------------------------------------- */

/* CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320, as gzip and zlib use),
 * four bits at a time: a 16-entry constant table needs no initialization
 * (so no race on first use) and runs fast enough for a profile. Start with
 * crc = 0; feed the result back in to continue. */
static inline uint32_t tt__crc32(uint32_t crc, const void *data, size_t n) {
  static const uint32_t nibble[16] = {
      0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4,
      0x4DB26158, 0x5005713C, 0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
      0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
  };
  const uint8_t *p = data;
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    crc = (crc >> 4) ^ nibble[crc & 15];
    crc = (crc >> 4) ^ nibble[crc & 15];
  }
  return ~crc;
}

static inline void tt__le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

/* Write data as one gzip member (RFC 1952) whose deflate stream (RFC 1951)
 * is a run of stored blocks of at most 65535 bytes, the last one marked
 * final (an empty input still needs that one empty final block). Returns 0,
 * or -1 when a write failed. */
static inline int tt__gzip_stored(FILE *out, const void *data, size_t n) {
  /* magic, CM=8 (deflate), no flags, mtime 0 (unknown), XFL 0, OS 3 (Unix) */
  static const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  const uint8_t *p = data;
  int rc = fwrite(header, 1, sizeof header, out) == sizeof header ? 0 : -1;
  size_t off = 0;
  do {
    size_t len = n - off > 65535 ? 65535 : n - off;
    bool last = off + len == n;
    /* BFINAL in bit 0, BTYPE 00 (stored) in bits 1-2; a stored block then
     * skips to the byte boundary, so the header is this one byte. LEN and
     * its complement NLEN follow, little-endian. */
    uint8_t bh[5] = {last ? 1 : 0, (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)~len,
                     (uint8_t)(~len >> 8)};
    if (fwrite(bh, 1, sizeof bh, out) != sizeof bh || (len && fwrite(p + off, 1, len, out) != len))
      rc = -1;
    off += len;
  } while (off < n);
  uint8_t trailer[8]; /* CRC-32 of the data, then its length mod 2^32 */
  tt__le32(trailer, tt__crc32(0, data, n));
  tt__le32(trailer + 4, (uint32_t)n);
  if (fwrite(trailer, 1, sizeof trailer, out) != sizeof trailer)
    rc = -1;
  return rc;
}

#endif
