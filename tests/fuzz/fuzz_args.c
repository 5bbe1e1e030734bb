/* libFuzzer target: the argument decoder a spawned child runs on the blob
 * it receives. Any input must decode or fail with MP_EPROTO; never crash,
 * never read out of bounds, never allocate without bound. */
#include <stddef.h>
#include <stdint.h>

#include "proc/args_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mp__rbuf r = {data, size};
    mp__argv a;
    /* No handles: an object argument must fail cleanly, not touch the OS. */
    if (mp__argv_decode(&r, NULL, 0, &a) == 0) {
        mp_call call = {a.v, a.n, {0}, false};
        for (size_t i = 0; i < mp_call_nargs(&call); i++) {
            const mp_arg *x = mp_call_arg(&call, i);
            size_t len;
            (void)mp_arg_int(x);
            (void)mp_arg_bytes(x, &len);
        }
        (void)mp_call_kwarg(&call, "k");
        mp__argv_free(&a);
    }
    return 0;
}
