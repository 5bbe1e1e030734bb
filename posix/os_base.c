/* POSIX backend: initialisation, clock, ids (processes' start tokens
 * included), byte pipes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

#include "os/os_base.h"
#include "os_posix.h"

int mp__posix_err(int e) {
    mp__note_os_error(e);
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
    case ENOSPC:
    case EFBIG: /* RLIMIT_FSIZE, which bounds shared memory too */
        return MP_ELIMIT;
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

void mp__os_sleep_ns(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000u),
                          (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

int mp__os_cpu_count(void) {
    int cpus = mp__posix_cpu_affinity();
    if (cpus > 0)
        return cpus;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

long mp__os_getpid(void) { return (long)getpid(); }
long mp__os_getppid(void) { return (long)getppid(); }

/* ---- processes by pid and start time ---- */

enum mp__posix_probe mp__posix_probe_kill(pid_t pid) {
    if (kill(pid, 0) == -1 && errno == ESRCH)
        return MP__POSIX_DEAD;
    return MP__POSIX_UNKNOWN;
}

/* The 32-bit token of a start time (never 0: 0 means unknown). */
static uint32_t token_of(uint64_t z) {
    z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9u;
    z = (z ^ z >> 27) * 0x94d049bb133111ebu;
    return (uint32_t)(z ^ z >> 31) | 1;
}

void mp__posix_once(MP__ATOMIC(uint32_t) * once, void (*fn)(void)) {
    uint32_t s = mp__load32(once, MP__ACQUIRE);
    if (s == MP__POSIX_ONCE_DONE)
        return;
    uint32_t me = (uint32_t)getpid();
    while (s != MP__POSIX_ONCE_DONE) {
        if (s == me) { /* another thread of ours runs fn: briefly */
            sched_yield();
            s = mp__load32(once, MP__ACQUIRE);
        } else if (mp__cas32(once, &s, me, MP__SEQ_CST)) {
            fn();
            mp__store32(once, MP__POSIX_ONCE_DONE, MP__RELEASE);
            return;
        }
    }
}

/* Cleared in a forked child, which computes its own. */
static MP__ATOMIC(uint64_t) self_word;
static MP__ATOMIC(uint32_t) self_once;

static void self_forget(void) { mp__store64(&self_word, 0, MP__RELAXED); }
static void self_register(void) { pthread_atfork(NULL, NULL, self_forget); }

uint64_t mp__posix_self_word(void) {
    uint64_t w = mp__load64(&self_word, MP__RELAXED);
    if (w)
        return w;
    mp__posix_once(&self_once, self_register);
    pid_t pid = getpid();
    uint64_t start;
    uint32_t tok = mp__posix_proc_probe(pid, &start) == MP__POSIX_ALIVE
                       ? token_of(start)
                       : 0;
    w = (uint64_t)tok << 32 | (uint32_t)pid;
    mp__store64(&self_word, w, MP__RELAXED);
    return w;
}

bool mp__posix_gone(uint64_t w) {
    pid_t pid = (pid_t)(uint32_t)w;
    uint32_t tok = (uint32_t)(w >> 32);
    uint64_t start;
    enum mp__posix_probe p = mp__posix_proc_probe(pid, &start);
    if (p == MP__POSIX_DEAD)
        return true;
    return p == MP__POSIX_ALIVE && tok != 0 && token_of(start) != tok;
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

/* Never true for anything but a socket file. Non-blocking, so a live
 * listener's full backlog reads as alive (EAGAIN) on Linux; the BSDs
 * refuse a full backlog, which a listener stalled that long can suffer.
 * Here, below both the listener (os_conn.c) and the path's clean-up of old
 * listener directories, which both ask it. */
bool mp__posix_sock_dead(const char *path) {
    struct sockaddr_un sa;
    struct stat st;
    size_t n = strlen(path);
    if (n == 0 || n >= MP__SUN_PATH_MAX || lstat(path, &st) == -1 ||
        !S_ISSOCK(st.st_mode))
        return false;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, n + 1);
    int fd = mp__posix_socket(true), rc;
    if (fd == -1)
        return false;
    do
        rc = connect(fd, (struct sockaddr *)&sa, (socklen_t)sizeof sa);
    while (rc == -1 && errno == EINTR);
    bool dead = rc == -1 && errno == ECONNREFUSED;
    close(fd);
    return dead;
}
