/* Growable write buffer and bounds-checked read buffer used by every
 * encoder and decoder in common/ (spawn blobs, arguments, frames). Integers
 * are little-endian on the wire. Decoders return MP_EPROTO on any overrun,
 * never read past the end, and are fuzzed. */
#ifndef MP_COMMON_CODEC_H
#define MP_COMMON_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mproc/core.h"

typedef struct mp__wbuf {
    uint8_t *data;
    size_t len, cap;
    int err;       /* sticky: the first error, checked once at the end */
    bool borrowed; /* data is the caller's storage (moved to the heap when
                      it runs out; never freed by us) */
} mp__wbuf;

/* A buffer that starts in the caller's storage (e.g. on the stack). */
static inline mp__wbuf mp__wbuf_on(void *storage, size_t cap) {
    return (mp__wbuf){(uint8_t *)storage, 0, cap, 0, true};
}

/* The writers and readers below are inline: encoding a task's arguments
 * is a handful of them per call, and a pool's map runs thousands of calls
 * per chunk. Each has a fast path (room in the buffer, bytes left to read)
 * and leaves the rest to codec.c. */
void mp__w_bytes_slow(mp__wbuf *w, const void *p, size_t n);

static inline void mp__w_bytes(mp__wbuf *w, const void *p, size_t n) {
    if (!w->err && n <= w->cap - w->len) {
        if (n)
            memcpy(w->data + w->len, p, n);
        w->len += n;
        return;
    }
    mp__w_bytes_slow(w, p, n);
}

static inline void mp__w_u8(mp__wbuf *w, uint8_t v) { mp__w_bytes(w, &v, 1); }

static inline void mp__w_u32(mp__wbuf *w, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                    (uint8_t)(v >> 24)};
    mp__w_bytes(w, b, 4);
}

/* Overwrites the u32 written at offset `at` (a length known only once what
 * follows it is written). Nothing when w has failed. */
static inline void mp__w_u32_at(mp__wbuf *w, size_t at, uint32_t v) {
    if (w->err || at + 4 > w->len)
        return;
    for (int i = 0; i < 4; i++)
        w->data[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static inline void mp__w_u64(mp__wbuf *w, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    mp__w_bytes(w, b, 8);
}

/* Makes room for n more bytes at w->data + w->len, for a writer that
 * stores them itself and then advances w->len. 0 or w's sticky error. */
int mp__w_room_slow(mp__wbuf *w, size_t n);
static inline int mp__w_room(mp__wbuf *w, size_t n) {
    if (!w->err && n <= w->cap - w->len)
        return 0;
    return mp__w_room_slow(w, n);
}

/* A u32 length then the bytes. */
void mp__w_blob(mp__wbuf *w, const void *p, size_t n);
void mp__w_free(mp__wbuf *w);

typedef struct mp__rbuf {
    const uint8_t *p;
    size_t left;
} mp__rbuf;

static inline int mp__r_bytes(mp__rbuf *r, void *out, size_t n) {
    if (n > r->left)
        return MP_EPROTO;
    if (n)
        memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
    return 0;
}

static inline int mp__r_u8(mp__rbuf *r, uint8_t *v) {
    return mp__r_bytes(r, v, 1);
}

static inline int mp__r_u32(mp__rbuf *r, uint32_t *v) {
    uint8_t b[4];
    int rc = mp__r_bytes(r, b, 4);
    if (rc)
        return rc;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
         (uint32_t)b[3] << 24;
    return 0;
}

static inline int mp__r_u64(mp__rbuf *r, uint64_t *v) {
    uint8_t b[8];
    int rc = mp__r_bytes(r, b, 8);
    if (rc)
        return rc;
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = x << 8 | b[i];
    *v = x;
    return 0;
}
/* A u32 length then the bytes, returned in place (not copied); at most max. */
int mp__r_blob(mp__rbuf *r, const void **p, size_t *n, size_t max);

/* Grows b to hold at least n bytes and the NUL after them (MP_ENOMEM). */
int mp__buf_reserve(mp_buf *b, size_t n);
/* Sets b's length to len (reserved) and writes the NUL after the data: every
 * mp_buf a receive fills can be read as a C string. */
void mp__buf_set_len(mp_buf *b, size_t len);

#endif
