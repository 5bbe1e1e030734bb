/* POSIX backend, Linux path: fresh listener addresses in the abstract
 * namespace ("@mproc-<token>", the kernel's "\0mproc-..."), which leave
 * nothing in the file system. They have no file mode: the peer check every
 * connection passes (mp__posix_peer_ok) is what keeps other users out. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "os_posix.h"

int mp__posix_abstract_addr(struct sockaddr_un *sa, socklen_t *len,
                            const char *addr) {
    size_t n = strlen(addr);
    memcpy(sa->sun_path + 1, addr + 1, n - 1);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    return 0;
}

int mp__posix_fresh_addr(char *path, size_t cap, char **dir,
                         const char *token) {
    (void)dir;
    snprintf(path, cap, "@mproc-%s", token);
    return 0;
}
