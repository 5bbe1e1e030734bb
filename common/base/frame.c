#include "base/frame.h"

#include "mproc/core.h"

static void put_be32(uint8_t *o, uint32_t v) {
    o[0] = (uint8_t)(v >> 24);
    o[1] = (uint8_t)(v >> 16);
    o[2] = (uint8_t)(v >> 8);
    o[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

size_t mp__frame_header(uint8_t out[MP__FRAME_HDR_MAX], uint64_t len) {
    if (len <= 0x7fffffffu) {
        put_be32(out, (uint32_t)len);
        return 4;
    }
    put_be32(out, 0xffffffffu);
    put_be32(out + 4, (uint32_t)(len >> 32));
    put_be32(out + 8, (uint32_t)len);
    return 12;
}

int mp__frame_parse(const uint8_t *p, size_t n, uint64_t *len, size_t *hlen) {
    if (n < 4)
        return MP_EAGAIN;
    uint32_t v = get_be32(p);
    if (v <= 0x7fffffffu) {
        *len = v;
        *hlen = 4;
        return 0;
    }
    /* CPython writes only -1 as a negative length. */
    if (v != 0xffffffffu)
        return MP_EPROTO;
    if (n < 12)
        return MP_EAGAIN;
    *len = (uint64_t)get_be32(p + 4) << 32 | get_be32(p + 8);
    *hlen = 12;
    return 0;
}
