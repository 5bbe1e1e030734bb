/* libFuzzer target: CPython's authkey handshake fed by a hostile peer. The
 * first byte picks our role (challenger or answerer) and form; the rest is
 * what the peer sends. It must end in 0, MP_EAUTH or MP_ECLOSED (or
 * MP_EAGAIN: the input ran out mid-handshake, the peer being silent); never
 * a crash or an out-of-bounds access. */
#include <stdint.h>

#include "fuzz_common_conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int peer;
    mp_conn *c = fuzz_conn(data + 1, size - 1, &peer);
    if (!c)
        return 0;
    static const char key[] = "fuzz key";
    mp__deadline d = mp__deadline_in(0);
    int rc;
    if (data[0] & 1)
        rc = mp__auth_answer(c, key, sizeof key - 1, d);
    else
        rc = mp__auth_deliver(c, key, sizeof key - 1,
                              data[0] & 2 ? MP_AUTH_MD5 : MP_AUTH_SHA256, d);
    if (rc && rc != MP_EAUTH && rc != MP_ECLOSED && rc != MP_EAGAIN)
        __builtin_trap();
    mp_conn_free(c);
    close(peer);
    return 0;
}
