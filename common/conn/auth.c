/* CPython's connection handshake (Lib/multiprocessing/connection.py,
 * deliver_challenge / answer_challenge), both forms:
 *   3.12+:  the challenge is "#CHALLENGE#{sha256}" + 40 random bytes and
 *           the answer "{sha256}" + HMAC-SHA256(key, "{sha256}" + bytes);
 *   legacy: the challenge is "#CHALLENGE#" + 20 random bytes and the answer
 *           the bare HMAC-MD5(key, bytes).
 * The MAC covers the whole message including its "{digest}" prefix. A
 * challenger accepts either form of answer (as CPython 3.12 does, so a 3.11
 * peer can answer a {sha256} challenge), then sends "#WELCOME#" or
 * "#FAILURE#". Parsing is bounded and fuzzed (tests/fuzz/fuzz_handshake.c). */
#include <string.h>

#include "conn/conn_internal.h"
#include "os/os_crypto.h"

#define CHALLENGE "#CHALLENGE#"
#define WELCOME "#WELCOME#"
#define FAILURE "#FAILURE#"
#define CHALLENGE_LEN (sizeof CHALLENGE - 1)
#define MESSAGE_LENGTH 40 /* random bytes of a {digest} challenge */
#define LEGACY_LENGTH 20  /* random bytes of a legacy challenge */
#define MD5_LEN 16
#define MAX_DIGEST_NAME 8 /* CPython's _MAX_DIGEST_LEN ("sha3_256") */
#define MAX_MSG 256       /* what CPython's recv_bytes(256) accepts */
_Static_assert(CHALLENGE_LEN + 8 + MESSAGE_LENGTH == MP__AUTH_CHALLENGE_MAX,
               "challenge size");

/* The digests CPython allows in a prefix (_ALLOWED_DIGESTS); the sha3 ones
 * fail as unsupported (mp__os_hmac computes md5 and sha2 only). */
static const char *const allowed[] = {"md5", "sha256", "sha384", "sha3_256",
                                      "sha3_384"};

/* Splits a challenge body or an answer into digest name and payload, as
 * CPython's _get_digest_name_and_payload: a 16- or 20-byte message is the
 * legacy form (name ""). MP_EAUTH for anything else without a known
 * "{name}" prefix. */
static int split_digest(const uint8_t *m, size_t n, char name[16],
                        const uint8_t **payload, size_t *plen) {
    name[0] = '\0';
    *payload = m;
    *plen = n;
    if (n == LEGACY_LENGTH || n == MD5_LEN)
        return 0;
    if (n < 2 || m[0] != '{')
        return MP_EAUTH;
    size_t close = 1;
    while (close < n && close < MAX_DIGEST_NAME + 2 && m[close] != '}')
        close++;
    if (close >= n || m[close] != '}' || close == 1 ||
        close > MAX_DIGEST_NAME + 1)
        return MP_EAUTH;
    memcpy(name, m + 1, close - 1);
    name[close - 1] = '\0';
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) {
        if (strcmp(name, allowed[i]) == 0) {
            *payload = m + close + 1;
            *plen = n - close - 1;
            return 0;
        }
    }
    return MP_EAUTH;
}

/* Errors of the peer's messages are authentication failures; a peer that
 * went away or a deadline stays what it is. */
static int recv_msg(mp_conn *c, uint8_t *buf, size_t cap, size_t *len,
                    mp__deadline d) {
    int rc = mp__conn_recv_into_dl(c, buf, cap, len, d);
    if (rc == MP_EMSGSIZE || rc == MP_EPROTO)
        return MP_EAUTH;
    return rc;
}

static bool equal_ct(const uint8_t *a, const uint8_t *b, size_t n) {
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

/* Checks the peer's answer to our message (CPython's _verify_challenge). */
static int verify(const void *key, size_t klen, const uint8_t *msg,
                  size_t mlen, const uint8_t *ans, size_t alen) {
    char name[16];
    const uint8_t *mac;
    size_t maclen, explen;
    uint8_t expect[MP__HMAC_MAX];
    int rc = split_digest(ans, alen, name, &mac, &maclen);
    if (rc)
        return rc;
    rc = mp__os_hmac(name[0] ? name : "md5", key, klen, msg, mlen, expect,
                     &explen);
    if (rc)
        return MP_EAUTH;
    return explen == maclen && equal_ct(expect, mac, maclen) ? 0 : MP_EAUTH;
}

/* Sends a fresh challenge; its body (what the answer's MAC covers) is
 * out[CHALLENGE_LEN..CHALLENGE_LEN + *mlen). */
static int send_challenge(mp_conn *c, mp_auth_digest digest,
                          uint8_t out[MP__AUTH_CHALLENGE_MAX], size_t *mlen) {
    size_t pre = digest == MP_AUTH_MD5 ? 0 : 8; /* "{sha256}" */
    size_t nrand = digest == MP_AUTH_MD5 ? LEGACY_LENGTH : MESSAGE_LENGTH;
    memcpy(out, CHALLENGE "{sha256}", CHALLENGE_LEN + pre);
    int rc = mp__os_random(out + CHALLENGE_LEN + pre, nrand);
    *mlen = pre + nrand;
    return rc ? rc : mp_conn_send(c, out, CHALLENGE_LEN + *mlen);
}

/* Judges the peer's answer to our challenge and tells it the verdict. */
static int judge(mp_conn *c, const void *key, size_t klen, const uint8_t *chal,
                 size_t mlen, const uint8_t *ans, size_t alen) {
    int rc = verify(key, klen, chal + CHALLENGE_LEN, mlen, ans, alen);
    const char *verdict = rc ? FAILURE : WELCOME;
    int src = mp_conn_send(c, verdict, strlen(verdict));
    return rc ? rc : src;
}

int mp__auth_deliver(mp_conn *c, const void *key, size_t klen,
                     mp_auth_digest digest, mp__deadline d) {
    uint8_t chal[MP__AUTH_CHALLENGE_MAX], ans[MAX_MSG + 16];
    size_t mlen, alen;
    int rc = send_challenge(c, digest, chal, &mlen);
    if (!rc)
        rc = recv_msg(c, ans, sizeof ans, &alen, d);
    return rc ? rc : judge(c, key, klen, chal, mlen, ans, alen);
}

/* Our answer to the challenge body m[0..n) (CPython's _create_response). */
static int make_answer(const void *key, size_t klen, const uint8_t *m,
                       size_t n, uint8_t *out, size_t *olen) {
    char name[16];
    const uint8_t *payload;
    size_t plen, maclen;
    if (n < LEGACY_LENGTH)
        return MP_EAUTH;
    int rc = split_digest(m, n, name, &payload, &plen);
    if (rc)
        return rc;
    size_t pre = name[0] ? strlen(name) + 2 : 0;
    rc = mp__os_hmac(name[0] ? name : "md5", key, klen, m, n, out + pre,
                     &maclen);
    if (rc)
        return MP_EAUTH;
    if (pre) {
        out[0] = '{';
        memcpy(out + 1, name, pre - 2);
        out[pre - 1] = '}';
    }
    *olen = pre + maclen;
    return 0;
}

/* Answers the peer's challenge msg[0..n). */
static int respond(mp_conn *c, const void *key, size_t klen,
                   const uint8_t *msg, size_t n) {
    uint8_t ans[MAX_DIGEST_NAME + 2 + MP__HMAC_MAX];
    size_t alen;
    if (n < CHALLENGE_LEN || memcmp(msg, CHALLENGE, CHALLENGE_LEN) != 0)
        return MP_EAUTH;
    int rc = make_answer(key, klen, msg + CHALLENGE_LEN, n - CHALLENGE_LEN,
                         ans, &alen);
    return rc ? rc : mp_conn_send(c, ans, alen);
}

static int welcomed(const uint8_t *msg, size_t n) {
    return n == sizeof WELCOME - 1 && memcmp(msg, WELCOME, n) == 0 ? 0
                                                                   : MP_EAUTH;
}

int mp__auth_answer(mp_conn *c, const void *key, size_t klen, mp__deadline d) {
    uint8_t msg[MAX_MSG];
    size_t n;
    int rc = recv_msg(c, msg, sizeof msg, &n, d);
    if (!rc)
        rc = respond(c, key, klen, msg, n);
    if (!rc)
        rc = recv_msg(c, msg, sizeof msg, &n, d);
    return rc ? rc : welcomed(msg, n);
}

/* The listener's side as steps that never wait: each message the peer owes
 * is taken only once it has arrived whole (the connection keeps a part
 * that came early), so one thread can drive many handshakes. */
int mp__auth_serve_step(mp__auth_server *s, mp_conn *c, const void *key,
                        size_t klen, mp_auth_digest digest) {
    uint8_t msg[MAX_MSG + 16];
    size_t n;
    int rc = 0;
    while (!rc) {
        switch (s->step) {
        case 0: /* deliver_challenge: our challenge ... */
            rc = send_challenge(c, digest, s->chal, &s->mlen);
            break;
        case 1: /* ... their answer, our verdict */
            rc = recv_msg(c, msg, sizeof msg, &n, MP__DL_NOW);
            if (!rc)
                rc = judge(c, key, klen, s->chal, s->mlen, msg, n);
            break;
        case 2: /* answer_challenge: their challenge, our answer ... */
            rc = recv_msg(c, msg, MAX_MSG, &n, MP__DL_NOW);
            if (!rc)
                rc = respond(c, key, klen, msg, n);
            break;
        default: /* ... their verdict */
            rc = recv_msg(c, msg, MAX_MSG, &n, MP__DL_NOW);
            return rc ? rc : welcomed(msg, n);
        }
        if (!rc)
            s->step++;
    }
    return rc;
}
