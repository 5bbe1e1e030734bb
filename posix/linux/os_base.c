/* POSIX backend, Linux path: descriptors close-on-exec at birth (pipe2,
 * SOCK_CLOEXEC, accept4) and the CPU count from the affinity mask. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include "os_posix.h"

int mp__posix_cpu_affinity(void) {
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
}

int mp__posix_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int mp__posix_socketpair(int fds[2]) {
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
}

int mp__posix_socket(bool nonblock) {
    return socket(AF_UNIX,
                  SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0),
                  0);
}

int mp__posix_accept(int lfd) {
    return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}
