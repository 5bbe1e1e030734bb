#include <stdlib.h>
#include <string.h>

#include "mproc/core.h"
#include "codec.h"

static int wgrow(mp__wbuf *w, size_t n) {
    if (w->err)
        return w->err;
    if (n <= w->cap - w->len)
        return 0;
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->len < n) {
        if (cap > SIZE_MAX / 2)
            return w->err = MP_ENOMEM;
        cap *= 2;
    }
    uint8_t *d = w->borrowed ? malloc(cap) : realloc(w->data, cap);
    if (!d)
        return w->err = MP_ENOMEM;
    if (w->borrowed && w->len)
        memcpy(d, w->data, w->len);
    w->borrowed = false;
    w->data = d;
    w->cap = cap;
    return 0;
}

void mp__w_bytes(mp__wbuf *w, const void *p, size_t n) {
    if (n == 0 || wgrow(w, n))
        return;
    memcpy(w->data + w->len, p, n);
    w->len += n;
}

void mp__w_u8(mp__wbuf *w, uint8_t v) { mp__w_bytes(w, &v, 1); }

void mp__w_u32(mp__wbuf *w, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                    (uint8_t)(v >> 24)};
    mp__w_bytes(w, b, 4);
}

void mp__w_u64(mp__wbuf *w, uint64_t v) {
    mp__w_u32(w, (uint32_t)v);
    mp__w_u32(w, (uint32_t)(v >> 32));
}

void mp__w_blob(mp__wbuf *w, const void *p, size_t n) {
    if (n > UINT32_MAX) {
        if (!w->err)
            w->err = MP_EMSGSIZE;
        return;
    }
    mp__w_u32(w, (uint32_t)n);
    mp__w_bytes(w, p, n);
}

void mp__w_free(mp__wbuf *w) {
    if (!w->borrowed)
        free(w->data);
    memset(w, 0, sizeof *w);
}

int mp__r_bytes(mp__rbuf *r, void *out, size_t n) {
    if (n > r->left)
        return MP_EPROTO;
    if (n)
        memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
    return 0;
}

int mp__r_u8(mp__rbuf *r, uint8_t *v) { return mp__r_bytes(r, v, 1); }

int mp__r_u32(mp__rbuf *r, uint32_t *v) {
    uint8_t b[4];
    int rc = mp__r_bytes(r, b, 4);
    if (rc)
        return rc;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
         (uint32_t)b[3] << 24;
    return 0;
}

int mp__r_u64(mp__rbuf *r, uint64_t *v) {
    uint32_t lo, hi;
    int rc = mp__r_u32(r, &lo);
    if (!rc)
        rc = mp__r_u32(r, &hi);
    if (!rc)
        *v = (uint64_t)hi << 32 | lo;
    return rc;
}

int mp__r_blob(mp__rbuf *r, const void **p, size_t *n, size_t max) {
    uint32_t len;
    int rc = mp__r_u32(r, &len);
    if (rc)
        return rc;
    if (len > max || len > r->left)
        return MP_EPROTO;
    *p = r->p;
    *n = len;
    r->p += len;
    r->left -= len;
    return 0;
}

int mp__buf_reserve(mp_buf *b, size_t n) {
    if (n <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < n)
        cap = cap > SIZE_MAX / 2 ? n : cap * 2;
    void *d = realloc(b->data, cap);
    if (!d)
        return MP_ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

void mp_buf_free(mp_buf *b) {
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
