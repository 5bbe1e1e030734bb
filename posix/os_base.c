/* POSIX backend: initialisation, clock, ids, byte pipes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "../common/os.h"
#include "os_posix.h"

int mp__posix_err(int e) {
    switch (e) {
    case 0: return 0;
    case ENOMEM: return MP_ENOMEM;
    case EINVAL: return MP_EINVAL;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return MP_EAGAIN;
    case ETIMEDOUT: return MP_ETIMEDOUT;
    case EPIPE:
    case ECONNRESET: return MP_ECLOSED;
    case ECONNREFUSED: return MP_ECONNREFUSED;
    case ENOENT: return MP_ENOENT;
    case EEXIST: return MP_EEXIST;
    case EACCES:
    case EPERM: return MP_EACCES;
    case EMFILE:
    case ENFILE:
    case ENOSPC: return MP_ELIMIT;
    case EMSGSIZE: return MP_EMSGSIZE;
    case ENOSYS:
    case EOPNOTSUPP: return MP_ENOTSUP;
    case EIO: return MP_EIO;
    default: return MP_ESYS;
    }
}

int mp__os_init(void) {
    /* A write to a closed pipe must be an error code, never a signal that
     * kills the process; only the default disposition is changed. */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
    return mp__posix_path_init();
}

int mp__os_atfork(void (*prepare)(void), void (*parent)(void),
                  void (*child)(void)) {
    return mp__posix_err(pthread_atfork(prepare, parent, child));
}

uint64_t mp__os_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void mp__os_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

int mp__os_cpu_count(void) {
#if MP__POSIX_LINUX
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

long mp__os_getpid(void) { return (long)getpid(); }
long mp__os_getppid(void) { return (long)getppid(); }

#if !MP__POSIX_LINUX
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
#endif

int mp__posix_pipe(int fds[2]) {
#if MP__POSIX_LINUX
    return pipe2(fds, O_CLOEXEC);
#else
    return pipe(fds) == -1 ? -1 : pair_flags(fds);
#endif
}

int mp__posix_socketpair(int fds[2]) {
#if MP__POSIX_LINUX
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
#else
    return socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1 ? -1
                                                          : pair_flags(fds);
#endif
}

int mp__posix_socket(bool nonblock) {
#if MP__POSIX_LINUX
    return socket(AF_UNIX,
                  SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0),
                  0);
#else
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    return fd == -1 ? -1 : fd_flags(fd, nonblock);
#endif
}

int mp__posix_accept(int lfd) {
#if MP__POSIX_LINUX
    return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
#else
    int fd = accept(lfd, NULL, NULL);
    if (fd == -1 || fd_flags(fd, false) == -1)
        return -1;
    int fl = fcntl(fd, F_GETFL);
    if (fl != -1 && (fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
#endif
}

int mp__os_pipe(mp__handle *rd, mp__handle *wr) {
    int fds[2];
    if (mp__posix_pipe(fds) == -1)
        return mp__posix_err(errno);
    *rd = fds[0];
    *wr = fds[1];
    return 0;
}

int mp__os_write_all(mp__handle h, const void *buf, size_t len) {
    const char *p = buf;
    while (len) {
        ssize_t n = write((int)h, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return mp__posix_err(errno);
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int mp__os_read_all(mp__handle h, void *buf, size_t len) {
    char *p = buf;
    while (len) {
        ssize_t n = read((int)h, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return mp__posix_err(errno);
        }
        if (n == 0)
            return MP_ECLOSED;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int mp__os_read_avail(mp__handle h, void *buf, size_t len, size_t *got) {
    *got = 0;
    int fl = fcntl((int)h, F_GETFL);
    if (fl == -1)
        return mp__posix_err(errno);
    if (!(fl & O_NONBLOCK))
        fcntl((int)h, F_SETFL, fl | O_NONBLOCK);
    ssize_t n;
    do
        n = read((int)h, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN ? 0 : mp__posix_err(errno);
    if (n == 0)
        return MP_ECLOSED;
    *got = (size_t)n;
    return 0;
}

void mp__os_close(mp__handle h) {
    if (h != MP__BAD_HANDLE)
        close((int)h);
}

int mp__os_open_null(mp__handle *h) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return mp__posix_err(errno);
    *h = fd;
    return 0;
}
