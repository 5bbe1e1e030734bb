/* win32 backend: HMAC and random bytes from BCrypt (CNG). */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <bcrypt.h>

#include <string.h>

#include "os/os_crypto.h"

static LPCWSTR alg_by_name(const char *digest) {
    if (strcmp(digest, "md5") == 0)
        return BCRYPT_MD5_ALGORITHM;
    if (strcmp(digest, "sha256") == 0)
        return BCRYPT_SHA256_ALGORITHM;
    if (strcmp(digest, "sha384") == 0)
        return BCRYPT_SHA384_ALGORITHM;
    if (strcmp(digest, "sha512") == 0)
        return BCRYPT_SHA512_ALGORITHM;
    return NULL;
}

int mp__os_hmac(const char *digest, const void *key, size_t klen,
                const void *msg, size_t mlen, uint8_t out[MP__HMAC_MAX],
                size_t *outlen) {
    LPCWSTR alg = alg_by_name(digest);
    if (!alg || klen > 0xffffffffu || mlen > 0xffffffffu)
        return MP_ENOTSUP;
    BCRYPT_ALG_HANDLE a = NULL;
    BCRYPT_HASH_HANDLE h = NULL;
    DWORD n = 0, got;
    static UCHAR empty[1];
    int rc = MP_ESYS;
    if (BCryptOpenAlgorithmProvider(&a, alg, NULL,
                                    BCRYPT_ALG_HANDLE_HMAC_FLAG) != 0)
        return MP_ENOTSUP;
    if (BCryptGetProperty(a, BCRYPT_HASH_LENGTH, (PUCHAR)&n, sizeof n, &got,
                          0) == 0 &&
        n <= MP__HMAC_MAX &&
        BCryptCreateHash(a, &h, NULL, 0, klen ? (PUCHAR)key : empty,
                         (ULONG)klen, 0) == 0 &&
        BCryptHashData(h, mlen ? (PUCHAR)msg : empty, (ULONG)mlen, 0) == 0 &&
        BCryptFinishHash(h, out, n, 0) == 0) {
        *outlen = n;
        rc = 0;
    }
    if (h)
        BCryptDestroyHash(h);
    BCryptCloseAlgorithmProvider(a, 0);
    return rc;
}

int mp__os_random(void *out, size_t n) {
    while (n) { /* ULONG lengths */
        ULONG k = n > 0x40000000u ? 0x40000000u : (ULONG)n;
        NTSTATUS st =
            BCryptGenRandom(NULL, out, k, BCRYPT_USE_SYSTEM_PREFERRED_RNG);
        if (st != 0) {
            mp__note_os_error((long)st);
            return MP_ESYS;
        }
        out = (unsigned char *)out + k;
        n -= k;
    }
    return 0;
}
