/* os layer, connections: message channels (pairs, local-socket listen /
 * accept / connect), receive with deadlines, and waiting for any of several
 * channels and process handles. Implemented by posix/os_conn.c (byte
 * streams framed as CPython does, see frame.h) and win32/os_conn.c
 * (message-mode named pipes).
 *
 * A channel delivers whole messages. Receiving is two steps so that a
 * message can be measured before anyone allocates for it or consumes it:
 * peek learns the next message's length (keeping what it had to read in the
 * channel's own small buffer), take consumes that message into the caller's
 * memory. Only one thread receives on a channel at a time. */
#ifndef MP_COMMON_OS_CONN_H
#define MP_COMMON_OS_CONN_H

#include "os/os_base.h"
#include "base/codec.h" /* after os.h: it needs mp_buf */

typedef struct mp__os_conn mp__os_conn;

/* A connected pair; duplex or a is the receiving end and b the sending end.
 * `token` is 32 random hex digits for a name where the platform needs one. */
int mp__os_conn_pair(mp__os_conn **a, mp__os_conn **b, bool duplex,
                     const char *token);

/* Sends one whole message. MP_ECLOSED when the peer has gone. */
int mp__os_conn_send(mp__os_conn *c, const void *p, size_t len);

/* Waits until d for the next message to begin and sets *len to its length,
 * consuming nothing the next take needs. MP_ECLOSED at end of stream
 * (also inside a frame header), MP_EPROTO for a malformed frame. */
int mp__os_conn_peek(mp__os_conn *c, uint64_t *len, mp__deadline d);

/* Consumes the message whose length peek reported into dst[0..len). A
 * deadline that runs out part-way keeps what was read inside the channel,
 * and the next take (with the same len) resumes; only when that cannot be
 * kept (out of memory) does every later peek report MP_ESTATE. */
int mp__os_conn_take(mp__os_conn *c, void *dst, size_t len, mp__deadline d);

/* Whether a message or end of stream is already known to the channel, so
 * that peek would not wait. */
bool mp__os_conn_ready(const mp__os_conn *c);

/* Waits until d for any channel to have something to read (data or end of
 * stream) or any process handle to be signalled; sets ready[0..nc) for the
 * channels and ready[nc..nc+np) for the processes. 0 when one is ready,
 * MP_EAGAIN / MP_ETIMEDOUT otherwise. */
int mp__os_conn_wait_any(mp__os_conn *const *conns, size_t nc,
                         const mp__handle *procs, size_t np, mp__deadline d,
                         bool *ready);

/* As wait_any, for channels whose last peek or take ran short (MP_EAGAIN):
 * waits for more to arrive, whatever part of a message they already hold
 * (wait_any would call such a channel ready at once on POSIX). */
int mp__os_conn_wait_more(mp__os_conn *const *conns, size_t nc,
                          const mp__handle *procs, size_t np, mp__deadline d,
                          bool *ready);

/* Closes the handle and frees the channel. NULL-safe. */
void mp__os_conn_free(mp__os_conn *c);

/* Crossing into a spawned child: the handle it needs, and the channel's
 * read state (bytes buffered but not delivered). restore takes ownership of
 * h even when it fails. */
mp__handle mp__os_conn_handle(const mp__os_conn *c);
void mp__os_conn_save(const mp__os_conn *c, mp__wbuf *w);
int mp__os_conn_restore(mp__os_conn **c, mp__handle h, mp__rbuf *r);

/* ---- local-socket listeners ---- */

typedef struct mp__os_listener mp__os_listener;

/* Listens at addr, or (addr NULL) at a fresh private address built with
 * `token`. MP_EINVAL for an address the platform cannot hold whole,
 * MP_EEXIST when a live listener has it (a dead one's leftover socket
 * file is taken over). */
int mp__os_listen(mp__os_listener **l, const char *addr, const char *token,
                  int backlog);
const char *mp__os_listener_address(const mp__os_listener *l);
/* Waits until d for the next client. MP_EAGAIN / MP_ETIMEDOUT when none
 * came; a client from another user of an address without a file mode is
 * turned away here (POSIX abstract namespace). */
int mp__os_accept(mp__os_listener *l, mp__os_conn **c, mp__deadline d);
/* A handle for wait_any's process list that is ready when a client may be
 * waiting for accept (POSIX: the listening socket; Windows: the event of a
 * ConnectNamedPipe left in flight for the next accept). Valid until the
 * next accept, close or free. */
mp__handle mp__os_listener_handle(mp__os_listener *l);
/* Stops accepting (clients are refused from now on). */
void mp__os_listener_close(mp__os_listener *l);
/* Closes and frees, removing what the listener created. NULL-safe. */
void mp__os_listener_free(mp__os_listener *l);

/* Connects to a listener. MP_ENOENT / MP_ECONNREFUSED promptly when nobody
 * listens there. */
int mp__os_connect(mp__os_conn **c, const char *addr, mp__deadline d);

#endif
