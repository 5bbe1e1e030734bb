/* Listener and Client over local sockets, with CPython's authkey
 * handshake. */
#include <stdlib.h>
#include <string.h>

#include "conn/conn_internal.h"
#include "util/random.h"

#define DEFAULT_BACKLOG 128
/* A zero-timeout accept still gives a client that is already there this
 * long (counted from its arrival, across calls) to finish the handshake. */
#define NOWAIT_HANDSHAKE_MS 1000
/* Clients in their handshake at once; later ones wait in the backlog until
 * one finishes or is dropped. Each costs a descriptor (a handle). */
#define HANDSHAKES_MAX 64

/* A client in its handshake. Accept drives all of them at once, so a
 * client that stalls holds up nobody but itself, until `until`. */
typedef struct handshake {
    mp_conn *c;
    mp__deadline until;  /* dropped then (MP__DL_FOREVER: never) */
    mp__deadline nowait; /* what a zero-timeout accept waits for it */
    bool ready;          /* may have news: step it */
    mp__auth_server st;
} handshake;

struct mp_listener {
    mp__os_listener *os;
    bool closed;
    bool auth;
    uint8_t *key;
    size_t klen;
    mp_auth_digest digest;
    size_t max_message;
    long handshake_ms; /* MP_INFINITE: no bound */
    size_t nhs;
    handshake hs[HANDSHAKES_MAX];
};

static int check_opts(const mp_conn_options *o) {
    if (!o)
        return 0;
    if ((o->digest != MP_AUTH_SHA256 && o->digest != MP_AUTH_MD5) ||
        o->backlog < 0 || o->timeout_ms < 0 ||
        o->handshake_timeout_ms < MP_INFINITE ||
        (!o->authkey && o->authkey_len))
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
    l->handshake_ms = o->handshake_timeout_ms
                          ? o->handshake_timeout_ms
                          : MP_CONN_HANDSHAKE_TIMEOUT_DEFAULT;
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

/* Takes hs[i] out of the set, returning its connection. */
static mp_conn *hs_remove(mp_listener *l, size_t i) {
    mp_conn *c = l->hs[i].c;
    l->hs[i] = l->hs[--l->nhs];
    return c;
}

/* Takes in every client already waiting, while there is room. */
static int take_new(mp_listener *l) {
    while (l->nhs < HANDSHAKES_MAX) {
        mp__os_conn *os;
        handshake *h = &l->hs[l->nhs];
        int rc = mp__os_accept(l->os, &os, MP__DL_NOW);
        if (rc == MP_EAGAIN)
            return 0;
        if (!rc)
            rc = mp__conn_wrap(&h->c, os, true, true, l->max_message);
        if (rc)
            return rc;
        h->until = mp__deadline_in(l->handshake_ms);
        h->nowait = mp__deadline_in(NOWAIT_HANDSHAKE_MS);
        h->ready = true;
        memset(&h->st, 0, sizeof h->st);
        l->nhs++;
    }
    return 0;
}

/* Steps every handshake that may have news. 0 with the first client to
 * pass, MP_EAUTH for the first to fail, else MP_EAGAIN. Clients that went
 * away or broke the connection are dropped without a word: nothing the
 * caller could act on. */
static int step_ready(mp_listener *l, mp_conn **out) {
    for (size_t i = 0; i < l->nhs;) {
        handshake *h = &l->hs[i];
        if (!h->ready) {
            i++;
            continue;
        }
        h->ready = false;
        int rc = mp__auth_serve_step(&h->st, h->c, l->key, l->klen, l->digest);
        if (rc == MP_EAGAIN) {
            i++;
            continue;
        }
        mp_conn *c = hs_remove(l, i);
        if (rc == 0) {
            *out = c;
            return 0;
        }
        mp_conn_free(c);
        if (rc == MP_EAUTH)
            return rc;
    }
    return MP_EAGAIN;
}

/* Drops the clients whose handshake outlived its bound; returns the
 * soonest bound left. */
static mp__deadline drop_expired(mp_listener *l) {
    mp__deadline soonest = MP__DL_FOREVER;
    for (size_t i = 0; i < l->nhs;) {
        if (mp__deadline_passed(l->hs[i].until)) {
            mp_conn_free(hs_remove(l, i));
            continue;
        }
        soonest = mp__deadline_min(soonest, l->hs[i++].until);
    }
    return soonest;
}

/* A zero-timeout accept waits only for clients already in their
 * handshake, each for at most NOWAIT_HANDSHAKE_MS since it arrived. */
static mp__deadline effective(const mp_listener *l, mp__deadline d) {
    if (d != MP__DL_NOW)
        return d;
    mp__deadline e = MP__DL_NOW;
    for (size_t i = 0; i < l->nhs; i++) {
        mp__deadline x = mp__deadline_min(l->hs[i].nowait, l->hs[i].until);
        e = x > e ? x : e;
    }
    return mp__deadline_passed(e) ? MP__DL_NOW : e;
}

/* Waits until d for a new client or news from one in its handshake. */
static int wait_news(mp_listener *l, mp__deadline d) {
    mp__os_conn *conns[HANDSHAKES_MAX];
    bool ready[HANDSHAKES_MAX + 1];
    for (size_t i = 0; i < l->nhs; i++)
        conns[i] = l->hs[i].c->os;
    mp__handle lh = mp__os_listener_handle(l->os);
    int rc = mp__os_conn_wait_more(conns, l->nhs, &lh,
                                   l->nhs < HANDSHAKES_MAX ? 1 : 0, d, ready);
    if (rc)
        return rc == MP_EAGAIN || rc == MP_ETIMEDOUT ? 0 : rc;
    for (size_t i = 0; i < l->nhs; i++)
        l->hs[i].ready = ready[i];
    return 0;
}

/* CPython's Listener.accept (deliver_challenge, then answer_challenge),
 * for all waiting clients at once. */
static int accept_auth(mp_listener *l, mp_conn **conn, mp__deadline d) {
    for (;;) {
        /* Out of descriptors, say: reported after the clients in hand had
         * their turn, so that stallers still make room by expiring. */
        int trc = take_new(l);
        int rc = step_ready(l, conn);
        if (rc != MP_EAGAIN)
            return rc;
        mp__deadline e = effective(l, d);
        mp__deadline soonest = drop_expired(l);
        if (trc)
            return trc;
        if (mp__deadline_passed(e))
            return mp__deadline_err(d);
        if ((rc = wait_news(l, mp__deadline_min(e, soonest))) != 0)
            return rc;
    }
}

int mp_listener_accept(mp_listener *l, mp_conn **conn, long timeout_ms) {
    if (!l || !conn || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    if (l->closed)
        return MP_ECLOSED;
    mp__deadline d = mp__deadline_in(timeout_ms);
    if (l->auth)
        return accept_auth(l, conn, d);
    mp__os_conn *os;
    int rc = mp__os_accept(l->os, &os, d);
    return rc ? rc : mp__conn_wrap(conn, os, true, true, l->max_message);
}

const char *mp_listener_address(const mp_listener *l) {
    return l ? mp__os_listener_address(l->os) : NULL;
}

void mp_listener_close(mp_listener *l) {
    if (!l || l->closed)
        return;
    while (l->nhs)
        mp_conn_free(hs_remove(l, l->nhs - 1));
    mp__os_listener_close(l->os);
    l->closed = true;
}

void mp_listener_free(mp_listener *l) {
    if (!l)
        return;
    mp_listener_close(l);
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
