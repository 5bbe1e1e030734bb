/* Shared by the connection fuzz targets: an mp_conn over one end of a
 * socketpair, the fuzz input written raw into the other end, which is then
 * shut for writing so every read ends in data or end of stream. */
#ifndef MP_FUZZ_COMMON_CONN_H
#define MP_FUZZ_COMMON_CONN_H

#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn/conn_internal.h"

/* A raw peer: *peer is the socket to read our replies from. */
static mp_conn *fuzz_conn(const uint8_t *data, size_t size, int *peer) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == -1)
        return NULL;
    int big = 1 << 20;
    setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (size && send(fds[1], data, size, MSG_NOSIGNAL) != (ssize_t)size) {
        close(fds[0]);
        close(fds[1]);
        return NULL;
    }
    shutdown(fds[1], SHUT_WR);
    /* An empty saved read state: a socket with nothing buffered. */
    static const uint8_t state[] = {1, 0, 0, 0, 0, 0, 0, 0, 0,
                                    0, 0, 0, 0, 0, 0, 0, 0};
    mp__rbuf r = {state, sizeof state};
    mp__os_conn *os;
    mp_conn *c;
    if (mp__os_conn_restore(&os, fds[0], &r) != 0 ||
        mp__conn_wrap(&c, os, true, true, 1 << 20) != 0) {
        close(fds[1]);
        return NULL;
    }
    *peer = fds[1];
    return c;
}

#endif
