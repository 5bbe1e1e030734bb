/* Random tokens from the platform's crypto library (os_crypto.h): names
 * that nobody can guess. Not APR's generator: on Windows it acquires a
 * CryptoAPI provider (a DLL and registry reads) on every call, and its
 * failure carries no OS code. */
#include <stdint.h>

#include "mproc/core.h"
#include "os/os_crypto.h"
#include "util/random.h"

int mp__random_token(char out[33]) {
    static const char hex[] = "0123456789abcdef";
    uint8_t r[16];
    int rc = mp__os_random(r, sizeof r);
    if (rc)
        return rc;
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 15];
    }
    out[32] = '\0';
    return 0;
}
