/* libFuzzer target: the pool's messages as their readers decode them
 * (pool_wire.c): a task item as a worker opens it and reads its calls'
 * arguments, the same item cut after some calls as the parent resends it,
 * and a result message (header, then per call a record and its bytes) as
 * the handler reads it. The first byte picks the form. Any input must
 * decode or fail with MP_EPROTO; never crash or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool_wire.h"
#include "proc/args_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail_unless(bool ok) {
    if (!ok)
        __builtin_trap();
}

/* A worker's reading of a task item: every call's arguments. */
static void read_task(const uint8_t *msg, size_t len) {
    mp__pool_task_hdr h;
    mp__rbuf fn, r;
    int rc = mp__pool_task_open(msg, len, &h, &fn, &r);
    fail_unless(rc == 0 || rc == MP_EPROTO);
    if (rc)
        return;
    fail_unless(fn.p + fn.left <= msg + len && r.p + r.left == msg + len);
    for (uint32_t i = 0; i < h.count; i++) {
        const void *blob;
        size_t blen;
        if (mp__r_blob(&r, &blob, &blen, r.left))
            break;
        mp__rbuf ar = {blob, blen};
        mp_arg store[8];
        mp__argv a;
        rc = mp__argv_decode_in(&ar, store, 8, &a);
        fail_unless(rc == 0 || rc == MP_EPROTO);
        if (!rc)
            mp__argv_free(&a);
    }
}

/* The parent's resend of the calls after the first skip. */
static void rest_task(const uint8_t *msg, size_t len, uint32_t skip) {
    uint8_t *out = NULL;
    size_t out_len = 0;
    int rc = mp__pool_task_rest(msg, len, skip, &out, &out_len);
    fail_unless(rc == 0 || rc == MP_EPROTO);
    if (rc)
        return;
    fail_unless(out_len <= len);
    read_task(out, out_len);
    free(out);
}

/* The handler's reading of a result message. */
static void read_result(const uint8_t *msg, size_t len) {
    mp__pool_res_hdr h;
    if (len < sizeof h)
        return;
    memcpy(&h, msg, sizeof h);
    mp__rbuf r = {msg + sizeof h, len - sizeof h};
    for (uint32_t k = 0; k < h.count; k++) {
        mp__pool_res_call rc;
        if (mp__pool_res_next(&r, &rc))
            break;
        size_t body = mp__pool_call_body(&rc);
        fail_unless(body <= r.left);
        volatile uint8_t sum = 0; /* touch every byte it gives */
        for (size_t i = 0; i < body; i++)
            sum = (uint8_t)(sum + r.p[i]);
        r.p += body;
        r.left -= body;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    /* A copy of exactly the item's bytes, so a read past it is caught. */
    size_t len = size - 2;
    uint8_t *msg = malloc(len ? len : 1);
    if (!msg)
        return 0;
    memcpy(msg, data + 2, len);
    switch (data[0] % 3) {
    case 0: read_task(msg, len); break;
    case 1: rest_task(msg, len, data[1]); break;
    default: read_result(msg, len); break;
    }
    free(msg);
    return 0;
}
