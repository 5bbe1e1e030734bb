/* Connections inside common/: the object, and what listener.c and auth.c
 * use of it. */
#ifndef MP_COMMON_CONN_INTERNAL_H
#define MP_COMMON_CONN_INTERNAL_H

#include "mproc.h"
#include "os/os_conn.h"

struct mp_conn {
    mp__os_conn *os; /* NULL once closed */
    bool readable, writable;
    size_t max_message;
};

/* Wraps a backend channel (taking it, also on failure). */
int mp__conn_wrap(mp_conn **out, mp__os_conn *os, bool readable, bool writable,
                  size_t max_message);

/* mp_conn_recv_into with an absolute deadline. */
int mp__conn_recv_into_dl(mp_conn *c, void *ptr, size_t cap, size_t *len,
                          mp__deadline d);

/* CPython's HMAC challenge (auth.c). deliver: we challenge, the peer
 * answers; answer: the peer challenges, we answer. MP_EAUTH when the key
 * is wrong either way or the peer speaks something else. */
int mp__auth_deliver(mp_conn *c, const void *key, size_t klen,
                     mp_auth_digest digest, mp__deadline d);
int mp__auth_answer(mp_conn *c, const void *key, size_t klen, mp__deadline d);

/* "#CHALLENGE#" + "{sha256}" + 40 random bytes: the longest we send. */
#define MP__AUTH_CHALLENGE_MAX 59

/* The listener's side of the handshake (deliver, then answer) driven in
 * steps; zeroed before the first. */
typedef struct mp__auth_server {
    int step;
    size_t mlen; /* the challenge's body length */
    uint8_t chal[MP__AUTH_CHALLENGE_MAX];
} mp__auth_server;

/* Sends what is due and takes what has arrived, never waiting: 0 once the
 * peer is authenticated, MP_EAGAIN while it owes a message (call again
 * when the connection is readable), else MP_EAUTH or the connection's
 * error. */
int mp__auth_serve_step(mp__auth_server *s, mp_conn *c, const void *key,
                        size_t klen, mp_auth_digest digest);

#endif
