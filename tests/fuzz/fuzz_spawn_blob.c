/* libFuzzer target: the blob a spawned child reads from its start pipe
 * (spawn.c): its head (name, daemon flag, parent, target location), then
 * the target's arguments. Any input must decode or fail with MP_EPROTO or
 * MP_ETARGET; never crash, read out of bounds, allocate without bound, or
 * call anything: the target found is never run. */
#include <stddef.h>
#include <stdint.h>

#include "proc/args_internal.h"
#include "proc/spawn_blob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mp__rbuf r = {data, size};
    bool daemon;
    long ppid;
    mp_target target = NULL;
    int rc = mp__spawn_decode_head(&r, &daemon, &ppid, &target);
    if (rc && rc != MP_EPROTO && rc != MP_ETARGET)
        __builtin_trap();
    if (rc)
        return 0;
    mp__argv a;
    /* No handles: an object argument must fail cleanly, not touch the OS. */
    rc = mp__argv_decode(&r, NULL, 0, &a);
    if (rc == 0)
        mp__argv_free(&a);
    else if (rc != MP_EPROTO)
        __builtin_trap();
    return 0;
}
