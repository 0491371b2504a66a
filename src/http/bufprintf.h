/*
 * printf into a growable byte buffer (observe/bytebuf.h), for the text
 * formats of this layer. Output longer than 511 bytes is cut: callers
 * print short pieces and put long strings with tt__bytebuf_put.
 */
#ifndef TT_HTTP_BUFPRINTF_H
#define TT_HTTP_BUFPRINTF_H

#include "observe/bytebuf.h"

void tt__http_bufprintf(tt_bytebuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
