/* POSIX backend, portable path: descriptors made close-on-exec (and
 * non-blocking where asked) right after their creation, and no affinity
 * mask (the CPUs online are counted). */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "os_posix.h"

int mp__posix_cpu_affinity(void) { return 0; }

/* Sets close-on-exec and, when nonblock, O_NONBLOCK; closes fd on failure. */
static int fd_flags(int fd, bool nonblock) {
    int fl = nonblock ? fcntl(fd, F_GETFL) : 0;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 || fl == -1 ||
        (nonblock && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int pair_flags(int fds[2]) {
    if (fd_flags(fds[0], false) == -1) {
        int e = errno;
        close(fds[1]);
        errno = e;
        return -1;
    }
    if (fd_flags(fds[1], false) == -1) {
        int e = errno;
        close(fds[0]);
        errno = e;
        return -1;
    }
    return 0;
}

int mp__posix_pipe(int fds[2]) {
    return pipe(fds) == -1 ? -1 : pair_flags(fds);
}

int mp__posix_socketpair(int fds[2]) {
    return socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1 ? -1
                                                          : pair_flags(fds);
}

int mp__posix_socket(bool nonblock) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    return fd == -1 ? -1 : fd_flags(fd, nonblock);
}

int mp__posix_accept(int lfd) {
    int fd = accept(lfd, NULL, NULL);
    if (fd == -1 || fd_flags(fd, false) == -1)
        return -1;
    int fl = fcntl(fd, F_GETFL);
    if (fl != -1 && (fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}
