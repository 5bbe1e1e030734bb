/* Random bytes and tokens (APR's generator): names and authentication
 * challenges that nobody can guess. */
#include <stdint.h>

#include <apr_general.h>

#include "mproc/core.h"
#include "random.h"

int mp__random(void *out, size_t n) {
    return apr_generate_random_bytes(out, n) == APR_SUCCESS ? 0 : MP_ESYS;
}

int mp__random_token(char out[33]) {
    static const char hex[] = "0123456789abcdef";
    uint8_t r[16];
    int rc = mp__random(r, sizeof r);
    if (rc)
        return rc;
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 15];
    }
    out[32] = '\0';
    return 0;
}
