/* os layer, cryptography: HMAC and random bytes from the platform's crypto
 * library (libcrypto on POSIX, BCrypt on Windows). Implemented by
 * posix/os_crypto.c and win32/os_crypto.c. */
#ifndef MP_COMMON_OS_CRYPTO_H
#define MP_COMMON_OS_CRYPTO_H

#include "os/os_base.h"

#define MP__HMAC_MAX 64 /* bytes of the longest digest (SHA-512) */

/* out[0..*outlen) = HMAC-<digest>(key, msg) for digest "md5", "sha256",
 * "sha384" or "sha512". MP_ENOTSUP for another name or when the crypto
 * library lacks it, MP_ESYS when it fails. */
int mp__os_hmac(const char *digest, const void *key, size_t klen,
                const void *msg, size_t mlen, uint8_t out[MP__HMAC_MAX],
                size_t *outlen);

/* n random bytes from the system's generator, fit for names and challenges
 * nobody may guess (libcrypto's RAND_bytes; BCryptGenRandom with the
 * system-preferred RNG, which needs no provider handle). MP_ESYS when it
 * fails. */
int mp__os_random(void *out, size_t n);

#endif
