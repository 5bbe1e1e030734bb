/** @file
 * mproc: Pipe, Connection, wait, and the local-socket Listener/Client.
 *
 * A connection carries messages: byte strings whose boundaries are kept
 * (an empty message is a message). The bytes on the wire are CPython's, so
 * an mproc connection talks to Python's multiprocessing.connection
 * (Connection.send_bytes / recv_bytes, Listener, Client):
 *   - POSIX: a stream (socketpair, pipe, AF_UNIX socket) where each message
 *     is a 4-byte big-endian signed length then the payload; a message of
 *     2 GiB or more is the length -1, then an 8-byte big-endian length.
 *   - Windows: message-mode named pipes, one message per pipe message.
 *
 * Thread safety: one thread may receive while another sends on the same
 * connection (Python's rule); two concurrent receivers or two concurrent
 * senders on one connection are not allowed. mp_conn_close and
 * mp_conn_free must not race with any other use of that connection.
 *
 * A connection passes to a child as an argument (mp_conn_arg) with every
 * start method. The child gets its own handle to the same channel; bytes
 * the parent had already buffered but not delivered go with it. */
#ifndef MPROC_CONNECTION_H
#define MPROC_CONNECTION_H

#include "mproc/args.h"
#include "mproc/process.h"
#include "mproc/value.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A connection: one end of a pipe, or a connected local socket. */
typedef struct mp_conn mp_conn;
/** A listener that local clients connect to (Python's Listener). */
typedef struct mp_listener mp_listener;

/** The largest message a receiver allocates for by default (64 MiB). */
#define MP_CONN_MAX_MESSAGE_DEFAULT ((size_t)64 << 20)

/** How long a listener gives each client for its handshake by default
 * (mp_conn_options.handshake_timeout_ms), in milliseconds. */
#define MP_CONN_HANDSHAKE_TIMEOUT_DEFAULT 5000L

/** Creates a connected pair (Python's Pipe). duplex: both ends send and
 * receive. !duplex: `a` only receives and `b` only sends (Python's order).
 * POSIX: a socketpair (duplex) or a pipe; Windows: a named pipe with an
 * unguessable name that rejects remote clients. Both ends are owned by the
 * caller (mp_conn_free each); their handles are not inherited by children
 * except as arguments. Errors: MP_EINVAL (NULL a or b), MP_ELIMIT (out of
 * descriptors), MP_ENOMEM, MP_ESYS. */
MP_EXTERN int mp_pipe(mp_conn **a, mp_conn **b, bool duplex);

/** Sends ptr[0..len) as one message (len 0 is an empty message; ptr may then
 * be NULL). Blocks until the whole message is handed to the OS (a peer that
 * does not read can block it, as in Python). Errors: MP_EINVAL (NULL c, NULL
 * ptr with len > 0), MP_ESTATE (c is a receive-only end), MP_ECLOSED (c was
 * closed, or the peer has gone; never SIGPIPE), MP_EIO, MP_ESYS. */
MP_EXTERN int mp_conn_send(mp_conn *c, const void *ptr, size_t len);

/** Receives the next message into *buf (grown as needed; buf->len is the
 * payload length). Waits up to timeout_ms for the whole message: a peer
 * that sends half a frame and stalls cannot hold the caller past it.
 * Errors: MP_EAGAIN (timeout 0, nothing there), MP_ETIMEDOUT, MP_EMSGSIZE
 * (the message is longer than the connection's max_message: nothing is
 * allocated and the message stays queued, readable with mp_conn_recv_into),
 * MP_EPROTO (a malformed frame), MP_ECLOSED (closed, or the peer has gone,
 * also in mid-message), MP_ESTATE (a send-only end), MP_EINVAL, MP_ENOMEM.
 * A timeout never loses data: what arrived of a message stays with the
 * connection and the next receive continues it. */
MP_EXTERN int mp_conn_recv(mp_conn *c, mp_buf *buf, long timeout_ms);

/** Sends the value v as one message: its pickle (protocol 4), exactly what
 * Python's Connection.send(obj) sends, so a Python peer's conn.recv()
 * returns the object (and mp_conn_recv_val reads what conn.send(obj)
 * sent). Errors: MP_EINVAL (NULL c or v), MP_EMSGSIZE (v nested deeper
 * than 1000 containers), MP_ENOMEM, and mp_conn_send's. */
MP_EXTERN int mp_conn_send_val(mp_conn *c, const mp_val *v);

/** Receives the next message as a value: *out is a new tree the caller
 * frees with mp_val_free (NULL on error). The message is untrusted and
 * decoded by mp_val_loads with the default limits, the connection's
 * max_message bounding its size as for mp_conn_recv. Errors: those of
 * mp_conn_recv (the message stays queued on MP_EMSGSIZE for its size,
 * MP_EAGAIN and MP_ETIMEDOUT), and for a message that is not a value of
 * mproc's kinds (consumed): MP_EPROTO, MP_EOVERFLOW, MP_EMSGSIZE. */
MP_EXTERN int mp_conn_recv_val(mp_conn *c, mp_val **out, long timeout_ms);

/** Receives the next message into ptr[0..cap) and sets *len to its length.
 * A message longer than cap gives MP_EMSGSIZE with *len set to the length
 * it needs, and is not consumed: a later call with room for it gets it.
 * max_message does not apply (the caller's memory is used). Other errors
 * as mp_conn_recv. */
MP_EXTERN int mp_conn_recv_into(mp_conn *c, void *ptr, size_t cap, size_t *len,
                                long timeout_ms);

/** Waits up to timeout_ms until a receive would not block waiting for a
 * message to start: the next message's length has arrived (its body may
 * still be on its way), or the peer has closed (then mp_conn_recv reports
 * MP_ECLOSED). Consumes nothing. 0 when so; MP_EAGAIN (timeout 0)
 * or MP_ETIMEDOUT when not; MP_EINVAL, MP_ESTATE (send-only end),
 * MP_ECLOSED (c itself was closed). */
MP_EXTERN int mp_conn_poll(mp_conn *c, long timeout_ms);

/** Sets the largest message mp_conn_recv allocates for (0 restores the
 * default, MP_CONN_MAX_MESSAGE_DEFAULT). MP_EINVAL for NULL c. */
MP_EXTERN int mp_conn_set_max_message(mp_conn *c, size_t max_message);

/** Whether this end can receive / send. false for NULL. @{ */
MP_EXTERN bool mp_conn_readable(const mp_conn *c);
MP_EXTERN bool mp_conn_writable(const mp_conn *c);
/** @} */

/** Closes the connection's handle (the peer sees end of stream once every
 * process holding it has closed it). The object stays allocated: further
 * operations give MP_ECLOSED; release it with mp_conn_free. Idempotent,
 * NULL-safe, infallible. */
MP_EXTERN void mp_conn_close(mp_conn *c);

/** Closes (if still open) and frees the connection. NULL-safe, infallible. */
MP_EXTERN void mp_conn_free(mp_conn *c);

/** A connection as a process or task argument. */
static inline mp_arg mp_conn_arg(mp_conn *c) {
    return mp__obj_arg(MP_OBJ_CONN, c);
}

/** The connection carried by a, or NULL when a is not a connection. In a
 * spawned child it is owned by the library and released after the target
 * returns (the target may mp_conn_close it early). */
static inline mp_conn *mp_arg_conn(const mp_arg *a) {
    return (mp_conn *)mp_arg_obj(a, MP_OBJ_CONN);
}

/* ---- wait: Python's multiprocessing.connection.wait ---- */

/** The kinds of object mp_wait waits for. */
typedef enum mp_wait_kind {
    MP_WAIT_CONN = 1,   /**< ready: mp_conn_poll would return 0 */
    MP_WAIT_PROCESS = 2 /**< ready: the process has ended (its sentinel) */
} mp_wait_kind;

/** One object to wait for; mp_wait sets `ready`. */
typedef struct mp_wait_item {
    mp_wait_kind kind; /**< what obj is */
    void *obj;         /**< an mp_conn or an mp_process */
    bool ready;        /**< set by mp_wait */
} mp_wait_item;

/** A wait item for a connection / a process. @{ */
static inline mp_wait_item mp_wait_conn(mp_conn *c) {
    mp_wait_item w = {MP_WAIT_CONN, c, false};
    return w;
}
static inline mp_wait_item mp_wait_process(mp_process *p) {
    mp_wait_item w = {MP_WAIT_PROCESS, p, false};
    return w;
}
/** @} */

/** Waits up to timeout_ms until at least one of items[0..n) is ready, then
 * sets `ready` on every item that is (and clears it on the others). 0 when
 * at least one is ready; MP_EAGAIN (timeout 0) or MP_ETIMEDOUT when none.
 * An object listed more than once is waited for once and every entry of it
 * is set alike (an object given under two kinds is MP_EINVAL).
 * A process must have been started and not closed. Errors: MP_EINVAL (NULL
 * items, n == 0, an unknown kind or NULL obj), MP_ESTATE (a process not
 * started or closed, a send-only connection), MP_ECLOSED (a closed
 * connection), MP_ENOMEM, MP_ESYS. Any number of items, on every
 * platform (on Windows, past 64 handles helper threads wait on the rest).
 * Thread-safe as far as the items' own rules allow. */
MP_EXTERN int mp_wait(mp_wait_item *items, size_t n, long timeout_ms);

/* ---- Listener / Client over local sockets ---- */

/** The HMAC form of the challenges we deliver. Answers to a peer's challenge
 * always follow the form the peer chose. */
typedef enum mp_auth_digest {
    MP_AUTH_SHA256 = 0, /**< CPython 3.12+: "{sha256}" + 40 random bytes */
    MP_AUTH_MD5 = 1     /**< CPython <= 3.11: 20 random bytes, HMAC-MD5 */
} mp_auth_digest;

/** Options of mp_listener_new and mp_client; NULL or zeroed fields mean the
 * defaults. */
typedef struct mp_conn_options {
    /** When authkey is not NULL, every connection authenticates both ways
     * with CPython's HMAC challenge (authkey_len may be 0: an empty key).
     * The key is copied. */
    const void *authkey;
    size_t authkey_len;    /**< length of authkey in bytes */
    mp_auth_digest digest; /**< the form of the challenges we send */
    /** max_message of the connections made (0: the default). */
    size_t max_message;
    /** Listener: the listen backlog (0: 128). */
    int backlog;
    /** mp_client: a bound in milliseconds on connecting plus the handshake,
     * so a listener that stalls cannot hold the caller (0: no bound). */
    long timeout_ms;
    /** Listener with an authkey: how long each client has for its
     * handshake, in milliseconds, from the moment accept takes it in; a
     * client still owing a message then is dropped (0: the default,
     * MP_CONN_HANDSHAKE_TIMEOUT_DEFAULT; MP_INFINITE: no bound; less is
     * MP_EINVAL). Ignored by mp_client (see timeout_ms). */
    long handshake_timeout_ms;
} mp_conn_options;

/** Creates a listener at `address`, or at a fresh unique address when it is
 * NULL. Remote clients are rejected and only the same user may connect.
 *
 * Fresh addresses leave nothing behind, even when the process is killed:
 *   - Linux: "@mproc-<128 random bits>", a name in the abstract socket
 *     namespace (no file; it goes with the socket). Python spells it with a
 *     NUL for the '@' ("\0mproc-...").
 *   - other POSIX systems: a socket file, mode 0600, in a new 0700
 *     directory $TMPDIR/mproc-PID-XXXXXX, both removed by
 *     mp_listener_free; a directory left by a killed process is removed by
 *     the next fresh listener of the same user.
 *   - Windows: \\\\.\\pipe\\mproc-<128 random bits>, which ends with the
 *     listener.
 *
 * An explicit POSIX address is a file-system path (mode 0600, removed when
 * the listener is freed unless another listener has it by then), or on
 * Linux "@name" in the abstract namespace ("./@name" for a file; "@name"
 * is MP_ENOTSUP elsewhere). A socket file that a dead listener left (one
 * nobody listens on: a probing connect is refused) is replaced; a live
 * listener's address gives MP_EEXIST, as does anything that is not a
 * socket. mproc listeners bind under an exclusive flock(2) on the socket's
 * directory, so that of two taking over the same leftover only one wins.
 * Anyone who can open the directory can hold that lock (on /tmp, any
 * user), so it is tried for a short bound only (100 ms): when it cannot be
 * had, a leftover socket file is not replaced and the call gives MP_EEXIST,
 * as for an address in use; it never blocks. (On macOS and the BSDs a
 * listener whose backlog is full refuses connects too, and looks dead to
 * that probe.) Windows addresses are \\\\.\\pipe\\NAME, free again once
 * their listener has gone.
 *
 * Both ends of every connection check who is at the other end: a client
 * whose listener runs as another user fails with MP_EACCES (mp_client),
 * and a client of another user is dropped unanswered by accept. The same
 * user is admitted, and on POSIX root too, as a 0600 file admits (POSIX:
 * SO_PEERCRED on Linux, getpeereid elsewhere; Windows: the user of the
 * pipe's server or client process).
 *
 * Errors: MP_EINVAL (NULL l, a path too long for the platform: never
 * truncated, bad options), MP_EEXIST (address in use), MP_EACCES, MP_ENOENT
 * (the directory does not exist), MP_ENOTSUP, MP_ELIMIT, MP_ENOMEM, MP_ESYS.
 */
MP_EXTERN int mp_listener_new(mp_listener **l, const char *address,
                              const mp_conn_options *opts);

/** Accepts the next client, waiting up to timeout_ms. On success *conn is a
 * duplex connection owned by the caller.
 *
 * With an authkey every client passes the handshake first (we challenge,
 * then answer, as CPython's Listener does), and accept returns the first
 * client to pass: the listener drives the handshakes of up to 64 clients at
 * once (more wait in the backlog), so a client that stalls holds up nobody
 * but itself. Each has handshake_timeout_ms (mp_conn_options) from the
 * moment accept takes it in, whatever timeout the calls have; a client that
 * runs out of it, or goes away, is dropped without a word. Clients still in
 * their handshake when accept returns stay with the listener and are
 * driven on by the next accept. A zero timeout does not wait for clients to
 * arrive, but gives each client it has taken in up to one second from its
 * arrival (across calls) to finish the handshake.
 *
 * Errors: MP_EAGAIN (timeout 0) / MP_ETIMEDOUT (no client passed in time),
 * MP_EAUTH (a client failed the handshake; it was dropped and the listener
 * stays usable), MP_ECLOSED (listener closed), MP_EINVAL, MP_ELIMIT (out of
 * descriptors), MP_ENOMEM, MP_ESYS. One accepting thread at a time. */
MP_EXTERN int mp_listener_accept(mp_listener *l, mp_conn **conn,
                                 long timeout_ms);

/** The address clients connect to; valid until mp_listener_free. NULL for
 * NULL l. */
MP_EXTERN const char *mp_listener_address(const mp_listener *l);

/** Stops listening: later accepts give MP_ECLOSED, clients are refused and
 * those in their handshake are dropped; the socket file stays until
 * mp_listener_free. NULL-safe, idempotent. */
MP_EXTERN void mp_listener_close(mp_listener *l);

/** Closes the listener, removes what it created in the file system, frees
 * it. NULL-safe, infallible. */
MP_EXTERN void mp_listener_free(mp_listener *l);

/** Connects to the listener at `address` (an mproc or a Python Listener) and,
 * with an authkey, runs the handshake (we answer first, then challenge, as
 * CPython's Client does). Returns promptly when nobody listens. On success
 * *conn is a duplex connection owned by the caller. Errors: MP_EINVAL,
 * MP_ENOENT (no such address), MP_ECONNREFUSED (nobody listening there),
 * MP_EAUTH (the handshake failed either way), MP_ECLOSED (the listener
 * dropped us), MP_ETIMEDOUT (opts->timeout_ms ran out), MP_EACCES (also:
 * the listener runs as another user, see mp_listener_new), MP_ENOTSUP ("@name"
 * where there is no abstract namespace), MP_ENOMEM, MP_ESYS. Blocks while the
 * listener's backlog is full and during the handshake, up to opts->timeout_ms
 * when set. */
MP_EXTERN int mp_client(mp_conn **conn, const char *address,
                        const mp_conn_options *opts);

#ifdef __cplusplus
}
#endif
#endif
