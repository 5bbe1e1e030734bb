/* libFuzzer target: a queue whose shared state another process rewrote.
 * One queue is made normally and grown once, so that it holds a segment
 * beside its own ring; each input overwrites its state words (the header
 * lines before its locks: counters, their snapshots, the closed flag, the
 * generations' table with tail and head, the users), its whole ring and the
 * segment's header and ring, then gets, puts and sizes run on it. Each must
 * return an item or MP_EPROTO, MP_EAGAIN, MP_ECLOSED (a put also MP_ELIMIT
 * or MP_ENOMEM when told to grow too far; qsize a count within the bound
 * of positions); never crash, read or write out of a mapping, or loop
 * (libFuzzer's -timeout catches that). */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obj/queue_internal.h"
#include "obj/shobj.h"

extern const mp__shkind mp__queue_kind;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail_unless(bool ok) {
    if (!ok)
        __builtin_trap();
}

#define RING 4096u
#define SEG_UNITS 1024u /* the first segment: twice the ring */

static mp_queue *q;
static mp__queue_segs segs;
static mp__shm seg; /* the segment, mapped here too */
static uint8_t *state, *ring;
static size_t state_len;

/* Removes the segment names the queue made, but generation 1's unless
 * `all` (the state it is left in is the fuzzer's, so neither its consumers
 * nor its last free can be relied on for this), so that the segments a
 * run's puts make do not pile up in /dev/shm. */
static void remove_names(bool all) {
    char mine[64], one[64];
    snprintf(mine, sizeof mine, "mp-q%s.", segs.token);
    snprintf(one, sizeof one, "mp-q%s.1", segs.token);
    DIR *d = opendir("/dev/shm");
    for (struct dirent *e; d && (e = readdir(d));)
        if (strncmp(e->d_name, mine, strlen(mine)) == 0 &&
            (all || strcmp(e->d_name, one) != 0))
            mp__os_shm_unlink(e->d_name + 3);
    if (d)
        closedir(d);
}

static void cleanup(void) {
    mp_queue_free(q);
    mp__os_shm_close(&seg);
    remove_names(true);
}

/* The queue, made once: its state words run from the end of the object
 * header to its first primitive, its ring fills the mapping's end. An item
 * larger than the ring makes generation 1, a segment, mapped here too. */
static void setup(void) {
    mp_queue_options o = {RING, NULL};
    fail_unless(mp_queue_new(&q, 0, &o) == 0);
    mp__shm *m = &((mp__shobj *)q)->shm;
    size_t first = m->size;
    for (unsigned i = 0; i < mp__queue_kind.nprims; i++)
        if (mp__queue_kind.prims[i].off < first)
            first = mp__queue_kind.prims[i].off;
    state = (uint8_t *)m->addr + MP__SHOBJ_HDR;
    state_len = first - MP__SHOBJ_HDR;
    ring = (uint8_t *)m->addr + m->size - RING;
    fail_unless(first <= m->size - RING);
    static uint8_t big[RING + 8];
    fail_unless(mp_queue_put(q, big, sizeof big, 0) == 0);
    mp__queue_segs_of(q, &segs);
    char nm[64];
    snprintf(nm, sizeof nm, "q%s.1", segs.token);
    fail_unless(mp__os_shm_open(&seg, nm) == 0);
    fail_unless(seg.size >= 64 + SEG_UNITS * 8);
    atexit(cleanup);
}

/* Fills dst with n bytes of src, repeated (zeros when src is empty). */
static void fill(uint8_t *dst, size_t n, const uint8_t *src, size_t len) {
    for (size_t i = 0; i < n; i++)
        dst[i] = len ? src[i % len] : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!q)
        setup();
    /* The header's state first, then both rings, from what is left. */
    size_t s = size < state_len ? size : state_len;
    fill(state, state_len, data, s);
    fill(ring, RING, data + s, size - s);
    fill(seg.addr, seg.size, data + s, size - s);
    mp_buf b = {0};
    for (int i = 0; i < 8; i++) {
        size_t n = mp_queue_qsize(q);
        fail_unless(n <= ((size_t)1 << 31));
        int rc = mp_queue_get(q, &b, 0);
        fail_unless(rc == 0 || rc == MP_EPROTO || rc == MP_EAGAIN ||
                    rc == MP_ECLOSED || rc == MP_ENOMEM);
        if (rc == 0)
            fail_unless(b.len <= mp_queue_max_item(q));
        rc = mp_queue_put(q, data, size < 64 ? size : 64, 0);
        fail_unless(rc == 0 || rc == MP_EAGAIN || rc == MP_ECLOSED ||
                    rc == MP_EPROTO || rc == MP_ELIMIT || rc == MP_ENOMEM);
        (void)mp_queue_empty(q);
        (void)mp_queue_full(q);
    }
    mp_buf_free(&b);
    remove_names(false);
    return 0;
}
