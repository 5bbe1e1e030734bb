/* libFuzzer target: the blob a spawned child reads from its start pipe
 * (spawn.c): its head (name, daemon flag, parent, target location), then
 * the target's arguments. The first byte picks the form: the rest is the
 * whole blob, or the arguments behind a valid head (a location a fuzzer
 * could not guess, so the decoding reaches them). Any input must decode or
 * fail with MP_EPROTO or MP_ETARGET; never crash, read out of bounds,
 * allocate without bound, or call anything: the target found is never
 * run. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proc/args_internal.h"
#include "proc/fnloc.h"
#include "proc/spawn_blob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail_unless(bool ok) {
    if (!ok)
        __builtin_trap();
}

/* A target for the valid head: found, never called. */
static int never_run(mp_call *c) {
    (void)c;
    __builtin_trap();
}

/* The blob spawn.c writes up to the arguments. */
static void valid_head(mp__wbuf *w) {
    mp__w_u32(w, 0x3153504du);
    mp__w_blob(w, "fuzz", 5);
    mp__w_u8(w, 0);
    mp__w_u64(w, 1);
    fail_unless(mp__fnloc_write(w, never_run) == 0 && !w->err);
}

static void decode(const uint8_t *blob, size_t len, bool head_valid) {
    mp__rbuf r = {blob, len};
    bool daemon;
    long ppid;
    mp_target target = NULL;
    int rc = mp__spawn_decode_head(&r, &daemon, &ppid, &target);
    fail_unless(rc == 0 || rc == MP_EPROTO || rc == MP_ETARGET);
    fail_unless(!head_valid || (rc == 0 && target == never_run));
    if (rc)
        return;
    mp__argv a;
    /* No handles: an object argument must fail cleanly, not touch the OS. */
    rc = mp__argv_decode(&r, NULL, 0, &a);
    fail_unless(rc == 0 || rc == MP_EPROTO);
    if (rc == 0)
        mp__argv_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    if (!(data[0] & 1)) {
        decode(data + 1, size - 1, false);
        return 0;
    }
    mp__wbuf w = {0};
    valid_head(&w);
    mp__w_bytes(&w, data + 1, size - 1);
    if (!w.err)
        decode(w.data, w.len, true);
    mp__w_free(&w);
    return 0;
}
