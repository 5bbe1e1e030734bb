/* Growable write buffer and bounds-checked read buffer used by every
 * encoder and decoder in common/ (spawn blobs, arguments, frames). Integers
 * are little-endian on the wire. Decoders return MP_EPROTO on any overrun,
 * never read past the end, and are fuzzed. */
#ifndef MP_COMMON_CODEC_H
#define MP_COMMON_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mp__wbuf {
    uint8_t *data;
    size_t len, cap;
    int err; /* sticky: the first error, checked once at the end */
    bool borrowed; /* data is the caller's storage (moved to the heap when
                      it runs out; never freed by us) */
} mp__wbuf;

/* A buffer that starts in the caller's storage (e.g. on the stack). */
static inline mp__wbuf mp__wbuf_on(void *storage, size_t cap) {
    return (mp__wbuf){(uint8_t *)storage, 0, cap, 0, true};
}

void mp__w_bytes(mp__wbuf *w, const void *p, size_t n);
void mp__w_u8(mp__wbuf *w, uint8_t v);
void mp__w_u32(mp__wbuf *w, uint32_t v);
void mp__w_u64(mp__wbuf *w, uint64_t v);
/* A u32 length then the bytes. */
void mp__w_blob(mp__wbuf *w, const void *p, size_t n);
void mp__w_free(mp__wbuf *w);

typedef struct mp__rbuf {
    const uint8_t *p;
    size_t left;
} mp__rbuf;

int mp__r_bytes(mp__rbuf *r, void *out, size_t n);
int mp__r_u8(mp__rbuf *r, uint8_t *v);
int mp__r_u32(mp__rbuf *r, uint32_t *v);
int mp__r_u64(mp__rbuf *r, uint64_t *v);
/* A u32 length then the bytes, returned in place (not copied); at most max. */
int mp__r_blob(mp__rbuf *r, const void **p, size_t *n, size_t max);

/* Grows b to hold at least n bytes (MP_ENOMEM). */
int mp__buf_reserve(mp_buf *b, size_t n);

#endif
