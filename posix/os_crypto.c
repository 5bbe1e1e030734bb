/* POSIX backend: HMAC and random bytes from OpenSSL's libcrypto. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "os/os_crypto.h"

static const EVP_MD *md_by_name(const char *digest) {
    if (strcmp(digest, "md5") == 0)
        return EVP_md5();
    if (strcmp(digest, "sha256") == 0)
        return EVP_sha256();
    if (strcmp(digest, "sha384") == 0)
        return EVP_sha384();
    if (strcmp(digest, "sha512") == 0)
        return EVP_sha512();
    return NULL;
}

int mp__os_hmac(const char *digest, const void *key, size_t klen,
                const void *msg, size_t mlen, uint8_t out[MP__HMAC_MAX],
                size_t *outlen) {
    const EVP_MD *md = md_by_name(digest);
    if (!md || EVP_MD_get_size(md) > MP__HMAC_MAX || klen > 0x7fffffff)
        return MP_ENOTSUP;
    /* HMAC wants a non-NULL key pointer even for an empty key. */
    static const uint8_t empty[1];
    unsigned n = 0;
    if (!HMAC(md, klen ? key : empty, (int)klen, msg, mlen, out, &n))
        return MP_ENOTSUP; /* e.g. MD5 refused by a FIPS provider */
    *outlen = n;
    return 0;
}

int mp__os_random(void *out, size_t n) {
    while (n) { /* RAND_bytes takes an int */
        int k = n > 0x40000000u ? 0x40000000 : (int)n;
        if (RAND_bytes(out, k) != 1)
            return MP_ESYS;
        out = (unsigned char *)out + k;
        n -= (size_t)k;
    }
    return 0;
}
