/* POSIX backend, Linux (either path): who is at the other end of a local
 * socket, from the credentials the kernel recorded at connect. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/socket.h>
#include <unistd.h>

#include "os_posix.h"

bool mp__posix_peer_ok(int fd) {
    struct ucred cr;
    socklen_t n = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &n) == -1)
        return false;
    return cr.uid == geteuid() || cr.uid == 0;
}
