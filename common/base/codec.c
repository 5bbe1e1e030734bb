#include <stdlib.h>
#include <string.h>

#include "mproc/core.h"
#include "base/codec.h"

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

int mp__w_room_slow(mp__wbuf *w, size_t n) { return wgrow(w, n); }

void mp__w_bytes_slow(mp__wbuf *w, const void *p, size_t n) {
    if (n == 0 || wgrow(w, n))
        return;
    memcpy(w->data + w->len, p, n);
    w->len += n;
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
    if (n >= SIZE_MAX)
        return MP_ENOMEM;
    n++; /* the NUL mp__buf_set_len writes after the data */
    if (n <= b->cap)
        return 0;
    /* Doubles for a buffer that grows by steps; a jump past double takes
     * exactly what it needs, so a message of max_message bytes costs
     * max_message + 1, not twice that. */
    size_t cap = b->cap > SIZE_MAX / 2 ? n : b->cap ? b->cap * 2 : 64;
    if (cap < n)
        cap = n;
    void *d = realloc(b->data, cap);
    if (!d)
        return MP_ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

void mp__buf_set_len(mp_buf *b, size_t len) {
    b->len = len;
    ((char *)b->data)[len] = '\0';
}

void mp_buf_free(mp_buf *b) {
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
