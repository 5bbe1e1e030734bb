/* POSIX backend, Linux path: fresh listener addresses in the abstract
 * namespace ("@mproc-<token>", the kernel's "\0mproc-..."), which leave
 * nothing in the file system, and the peer check that stands in for the
 * file mode they do not have. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "os_posix.h"

int mp__posix_abstract_addr(struct sockaddr_un *sa, socklen_t *len,
                            const char *addr) {
    size_t n = strlen(addr);
    memcpy(sa->sun_path + 1, addr + 1, n - 1);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    return 0;
}

bool mp__posix_abstract_peer_ok(int fd) {
    struct ucred cr;
    socklen_t n = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &n) == -1)
        return false;
    return cr.uid == geteuid() || cr.uid == 0;
}

int mp__posix_fresh_addr(char *path, size_t cap, char **dir,
                         const char *token) {
    (void)dir;
    snprintf(path, cap, "@mproc-%s", token);
    return 0;
}
