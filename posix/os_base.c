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
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#if defined(__APPLE__) || defined(__FreeBSD__)
#include <sys/sysctl.h>
#endif
#if defined(__FreeBSD__)
#include <sys/user.h>
#endif

#include "../common/os_base.h"
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

/* ---- processes by pid and start time ---- */

enum probe { P_DEAD, P_ALIVE, P_UNKNOWN };

#if defined(__linux__)
/* Linux: state and start time (field 22, clock ticks since boot) of
 * /proc/<pid>/stat. */
static enum probe proc_probe(pid_t pid, uint64_t *start) {
    char path[32], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1 && errno == ENOENT) /* unless /proc hides it, or is absent */
        return kill(pid, 0) == -1 && errno == ESRCH ? P_DEAD : P_UNKNOWN;
    if (fd == -1)
        return P_UNKNOWN;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) /* ESRCH: reaped between the open and the read */
        return n < 0 && errno == ESRCH ? P_DEAD : P_UNKNOWN;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'), state;
    unsigned long long st;
    if (!p || sscanf(p + 1,
                     " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
                     "%*d %*d %*d %*d %*d %*d %llu",
                     &state, &st) != 2)
        return P_UNKNOWN;
    *start = st;
    return state == 'Z' || state == 'X' ? P_DEAD : P_ALIVE;
}
#elif defined(__APPLE__) || defined(__FreeBSD__)
/* macOS, FreeBSD: the kernel's process record (sysctl KERN_PROC_PID). */
static enum probe proc_probe(pid_t pid, uint64_t *start) {
    struct kinfo_proc kp;
    size_t len = sizeof kp;
    int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, (int)pid};
    if (sysctl(mib, 4, &kp, &len, NULL, 0) == -1)
        return errno == ESRCH ? P_DEAD : P_UNKNOWN;
    if (len == 0)
        return P_DEAD;
#if defined(__APPLE__)
    struct timeval tv = kp.kp_proc.p_starttime;
    bool zombie = kp.kp_proc.p_stat == SZOMB;
#else
    struct timeval tv = kp.ki_start;
    bool zombie = kp.ki_stat == SZOMB;
#endif
    *start = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
    return zombie ? P_DEAD : P_ALIVE;
}
#else
/* Elsewhere only whether the pid exists (a zombie passes for alive). */
static enum probe proc_probe(pid_t pid, uint64_t *start) {
    *start = 0;
    if (kill(pid, 0) == -1 && errno == ESRCH)
        return P_DEAD;
    return P_UNKNOWN;
}
#endif

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
    uint32_t tok = proc_probe(pid, &start) == P_ALIVE ? token_of(start) : 0;
    w = (uint64_t)tok << 32 | (uint32_t)pid;
    mp__store64(&self_word, w, MP__RELAXED);
    return w;
}

bool mp__posix_gone(uint64_t w) {
    pid_t pid = (pid_t)(uint32_t)w;
    uint32_t tok = (uint32_t)(w >> 32);
    uint64_t start;
    enum probe p = proc_probe(pid, &start);
    if (p == P_DEAD)
        return true;
    return p == P_ALIVE && tok != 0 && token_of(start) != tok;
}

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
