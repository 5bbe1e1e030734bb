/* Listener and Client over local sockets, with CPython's authkey
 * handshake. */
#include <stdlib.h>
#include <string.h>

#include "conn_internal.h"
#include "random.h"

#define DEFAULT_BACKLOG 128
/* A zero-timeout accept still gives a client that is already there this
 * long to finish the handshake. */
#define NOWAIT_HANDSHAKE_MS 1000

struct mp_listener {
    mp__os_listener *os;
    bool closed;
    bool auth;
    uint8_t *key;
    size_t klen;
    mp_auth_digest digest;
    size_t max_message;
};

static int check_opts(const mp_conn_options *o) {
    if (!o)
        return 0;
    if ((o->digest != MP_AUTH_SHA256 && o->digest != MP_AUTH_MD5) ||
        o->backlog < 0 || o->timeout_ms < 0 || (!o->authkey && o->authkey_len))
        return MP_EINVAL;
    return 0;
}

int mp_listener_new(mp_listener **out, const char *address,
                    const mp_conn_options *opts) {
    static const mp_conn_options none;
    const mp_conn_options *o = opts ? opts : &none;
    int rc = check_opts(o);
    if (!out || rc || (address && !*address))
        return MP_EINVAL;
    mp_listener *l = calloc(1, sizeof *l);
    if (!l || (o->authkey && !(l->key = malloc(o->authkey_len + 1)))) {
        free(l);
        return MP_ENOMEM;
    }
    l->auth = o->authkey != NULL;
    if (l->auth)
        memcpy(l->key, o->authkey, o->authkey_len);
    l->klen = o->authkey_len;
    l->digest = o->digest;
    l->max_message = o->max_message;
    char token[33];
    rc = mp__random_token(token);
    if (!rc)
        rc = mp__os_listen(&l->os, address, token,
                           o->backlog ? o->backlog : DEFAULT_BACKLOG);
    if (rc) {
        free(l->key);
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}

/* CPython's Listener.accept: deliver_challenge, then answer_challenge. */
static int server_handshake(mp_listener *l, mp_conn *c, mp__deadline d) {
    if (d == MP__DL_NOW)
        d = mp__deadline_in(NOWAIT_HANDSHAKE_MS);
    int rc = mp__auth_deliver(c, l->key, l->klen, l->digest, d);
    if (!rc)
        rc = mp__auth_answer(c, l->key, l->klen, d);
    return rc;
}

int mp_listener_accept(mp_listener *l, mp_conn **conn, long timeout_ms) {
    if (!l || !conn || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    if (l->closed)
        return MP_ECLOSED;
    mp__deadline d = mp__deadline_in(timeout_ms);
    mp__os_conn *os;
    mp_conn *c;
    int rc = mp__os_accept(l->os, &os, d);
    if (!rc)
        rc = mp__conn_wrap(&c, os, true, true, l->max_message);
    if (!rc && l->auth && (rc = server_handshake(l, c, d)) != 0)
        mp_conn_free(c);
    if (!rc)
        *conn = c;
    return rc;
}

const char *mp_listener_address(const mp_listener *l) {
    return l ? mp__os_listener_address(l->os) : NULL;
}

void mp_listener_close(mp_listener *l) {
    if (!l || l->closed)
        return;
    mp__os_listener_close(l->os);
    l->closed = true;
}

void mp_listener_free(mp_listener *l) {
    if (!l)
        return;
    mp__os_listener_free(l->os);
    free(l->key);
    free(l);
}

int mp_client(mp_conn **conn, const char *address,
              const mp_conn_options *opts) {
    static const mp_conn_options none;
    const mp_conn_options *o = opts ? opts : &none;
    if (!conn || !address || !*address || check_opts(o))
        return MP_EINVAL;
    mp__deadline d =
        o->timeout_ms ? mp__deadline_in(o->timeout_ms) : MP__DL_FOREVER;
    mp__os_conn *os;
    mp_conn *c;
    int rc = mp__os_connect(&os, address, d);
    if (!rc)
        rc = mp__conn_wrap(&c, os, true, true, o->max_message);
    if (rc)
        return rc;
    /* CPython's Client: answer_challenge, then deliver_challenge. */
    if (o->authkey) {
        rc = mp__auth_answer(c, o->authkey, o->authkey_len, d);
        if (!rc)
            rc = mp__auth_deliver(c, o->authkey, o->authkey_len, o->digest, d);
    }
    if (rc) {
        mp_conn_free(c);
        return rc;
    }
    *conn = c;
    return 0;
}
