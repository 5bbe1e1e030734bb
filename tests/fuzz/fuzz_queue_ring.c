/* libFuzzer target: a queue whose shared state another process rewrote.
 * One queue is made normally; each input overwrites its state words (the
 * header lines before its locks: counters, their snapshots, the closed
 * flag) and its whole ring, then gets, puts and sizes run on it. Each must
 * return an item or MP_EPROTO, MP_EAGAIN, MP_ECLOSED (and qsize a count
 * within the ring); never crash, read or write out of the mapping, or loop
 * (libFuzzer's -timeout catches that). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "obj/shobj.h"

extern const mp__shkind mp__queue_kind;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail_unless(bool ok) {
    if (!ok)
        __builtin_trap();
}

static mp_queue *q;
static uint8_t *state, *ring;
static size_t state_len, ring_len;

/* The queue, made once: its state words run from the end of the object
 * header to its first primitive, its ring fills the mapping's end. */
static void setup(void) {
    mp_queue_options o = {4096, NULL};
    fail_unless(mp_queue_new(&q, 0, &o) == 0);
    mp__shm *m = &((mp__shobj *)q)->shm;
    size_t first = m->size;
    for (unsigned i = 0; i < mp__queue_kind.nprims; i++)
        if (mp__queue_kind.prims[i].off < first)
            first = mp__queue_kind.prims[i].off;
    state = (uint8_t *)m->addr + MP__SHOBJ_HDR;
    state_len = first - MP__SHOBJ_HDR;
    ring_len = mp_queue_max_item(q) + 8;
    ring = (uint8_t *)m->addr + m->size - ring_len;
    fail_unless(first <= m->size - ring_len);
}

/* Fills dst with n bytes of src, repeated (zeros when src is empty). */
static void fill(uint8_t *dst, size_t n, const uint8_t *src, size_t len) {
    for (size_t i = 0; i < n; i++)
        dst[i] = len ? src[i % len] : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!q)
        setup();
    size_t s = size < state_len ? size : state_len;
    fill(state, state_len, data, s);
    fill(ring, ring_len, data + s, size - s);
    mp_buf b = {0};
    for (int i = 0; i < 8; i++) {
        size_t n = mp_queue_qsize(q);
        fail_unless(n <= ring_len / 8);
        int rc = mp_queue_get(q, &b, 0);
        fail_unless(rc == 0 || rc == MP_EPROTO || rc == MP_EAGAIN ||
                    rc == MP_ECLOSED);
        if (rc == 0)
            fail_unless(b.len <= mp_queue_max_item(q));
        rc = mp_queue_put(q, data, size < 64 ? size : 64, 0);
        fail_unless(rc == 0 || rc == MP_EAGAIN || rc == MP_ECLOSED);
        (void)mp_queue_empty(q);
        (void)mp_queue_full(q);
    }
    mp_buf_free(&b);
    return 0;
}
