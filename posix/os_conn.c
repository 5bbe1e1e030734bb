/* POSIX backend: connections over socketpairs, pipes and AF_UNIX sockets,
 * framed as CPython frames them (common/frame.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/frame.h"
#include "os/os_conn.h"
#include "util/wait_policy.h"
#include "os_posix.h"

/* Small messages arrive whole in one read into this buffer, and the read
 * that finishes a large message also fetches the start of the next one. */
#define RBUF 4096

struct mp__os_conn {
    int fd;
    bool sock;   /* a socket (sendmsg + MSG_NOSIGNAL), else a pipe */
    bool eof;    /* a read returned end of stream */
    bool broken; /* out of memory saving a part: the stream lost its place */
    bool have;   /* a header was parsed: msg_len is the next message */
    uint64_t msg_len;
    uint8_t *part;   /* the first part_len bytes of a large message whose */
    size_t part_len; /* take ran out of time; the next take resumes */
    size_t off, end; /* rbuf[off..end) read but not delivered */
    uint8_t rbuf[RBUF];
};

static int conn_wrap(mp__os_conn **out, int fd, bool sock) {
    mp__os_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return MP_ENOMEM;
    }
    c->fd = fd;
    c->sock = sock;
    *out = c;
    return 0;
}

int mp__os_conn_pair(mp__os_conn **a, mp__os_conn **b, bool duplex,
                     const char *token) {
    (void)token;
    int fds[2];
    int rc = duplex ? mp__posix_socketpair(fds) : mp__posix_pipe(fds);
    if (rc == -1)
        return mp__posix_err(errno);
    if ((rc = conn_wrap(a, fds[0], duplex)) != 0) {
        close(fds[1]);
        return rc;
    }
    if ((rc = conn_wrap(b, fds[1], duplex)) != 0) {
        mp__os_conn_free(*a);
        *a = NULL;
    }
    return rc;
}

void mp__os_conn_free(mp__os_conn *c) {
    if (!c)
        return;
    close(c->fd);
    free(c->part);
    free(c);
}

/* Waits until fd has `events` or d passes. */
static int wait_fd(int fd, short events, mp__deadline d) {
    for (;;) {
        int rc;
        long ms = mp__deadline_left_ms(d, &rc);
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, (int)ms);
        if (n > 0)
            return 0;
        if (n == 0)
            return rc ? rc : (d == MP__DL_NOW ? MP_EAGAIN : MP_ETIMEDOUT);
        if (errno != EINTR)
            return mp__posix_err(errno);
    }
}

/* ---- sending ---- */

static ssize_t write_iov(mp__os_conn *c, struct iovec *iov, int n) {
    if (!c->sock)
        return writev(c->fd, iov, n);
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = (size_t)n;
#ifdef MSG_NOSIGNAL
    return sendmsg(c->fd, &m, MSG_NOSIGNAL);
#else
    return sendmsg(c->fd, &m, 0); /* macOS: SIGPIPE is ignored (os_init) */
#endif
}

int mp__os_conn_send(mp__os_conn *c, const void *p, size_t len) {
    uint8_t hdr[MP__FRAME_HDR_MAX];
    /* Header and payload leave in one call: one syscall per message, and
     * no reader ever sees a header without the data behind it. */
    struct iovec iov[2] = {{hdr, mp__frame_header(hdr, len)},
                           {(void *)p, len}};
    int i = 0;
    while (i < 2) {
        ssize_t n = write_iov(c, iov + i, 2 - i);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return mp__posix_err(errno);
        }
        size_t k = (size_t)n;
        while (i < 2 && k >= iov[i].iov_len)
            k -= iov[i++].iov_len;
        if (i < 2) {
            iov[i].iov_base = (char *)iov[i].iov_base + k;
            iov[i].iov_len -= k;
        }
    }
    return 0;
}

/* ---- receiving ---- */

/* One read into iov (after waiting for data when d is finite): *got bytes,
 * MP_ECLOSED at end of stream. */
static int read_some(mp__os_conn *c, struct iovec *iov, int n, mp__deadline d,
                     size_t *got) {
    if (c->eof)
        return MP_ECLOSED;
    for (;;) {
        int rc;
        if (d != MP__DL_FOREVER && (rc = wait_fd(c->fd, POLLIN, d)) != 0)
            return rc;
        ssize_t r = readv(c->fd, iov, n);
        if (r > 0) {
            *got = (size_t)r;
            return 0;
        }
        if (r == 0) {
            c->eof = true;
            return MP_ECLOSED;
        }
        if (errno != EINTR && errno != EAGAIN)
            return mp__posix_err(errno);
    }
}

/* Reads more into rbuf, moving what is unread to the front first. */
static int fill(mp__os_conn *c, mp__deadline d) {
    if (c->off > 0) {
        memmove(c->rbuf, c->rbuf + c->off, c->end - c->off);
        c->end -= c->off;
        c->off = 0;
    }
    struct iovec iov = {c->rbuf + c->end, RBUF - c->end};
    size_t got = 0;
    int rc = read_some(c, &iov, 1, d, &got);
    if (rc == 0)
        c->end += got;
    return rc;
}

int mp__os_conn_peek(mp__os_conn *c, uint64_t *len, mp__deadline d) {
    if (c->broken)
        return MP_ESTATE;
    while (!c->have) {
        size_t hlen;
        int rc = mp__frame_parse(c->rbuf + c->off, c->end - c->off,
                                 &c->msg_len, &hlen);
        if (rc == 0) {
            c->off += hlen;
            c->have = true;
            break;
        }
        if (rc != MP_EAGAIN)
            return rc;
        if ((rc = fill(c, d)) != 0)
            return rc;
    }
    *len = c->msg_len;
    return 0;
}

/* A message that fits the buffer is gathered there before any of it is
 * delivered, so a deadline running out leaves the stream in step. */
static int take_small(mp__os_conn *c, void *dst, size_t len, mp__deadline d) {
    while (c->end - c->off < len) {
        if (c->off + len > RBUF) {
            memmove(c->rbuf, c->rbuf + c->off, c->end - c->off);
            c->end -= c->off;
            c->off = 0;
        }
        struct iovec iov = {c->rbuf + c->end, RBUF - c->end};
        size_t got = 0;
        int rc = read_some(c, &iov, 1, d, &got);
        if (rc)
            return rc;
        c->end += got;
    }
    if (len)
        memcpy(dst, c->rbuf + c->off, len);
    c->off += len;
    return 0;
}

/* A take of a large message stopped by its deadline keeps what it read,
 * so that no deadline ever costs the stream its place. */
static int keep_part(mp__os_conn *c, const void *dst, size_t done, int rc) {
    if (rc == MP_ECLOSED)
        return rc;
    if (done && !(c->part = malloc(done))) {
        c->broken = true;
        return rc;
    }
    if (done)
        memcpy(c->part, dst, done);
    c->part_len = done;
    return rc;
}

int mp__os_conn_take(mp__os_conn *c, void *dst, size_t len, mp__deadline d) {
    if (len <= RBUF / 2 && !c->part) {
        int rc = take_small(c, dst, len, d);
        if (rc == 0)
            c->have = false;
        return rc;
    }
    size_t done = c->part_len;
    if (c->part) {
        memcpy(dst, c->part, done);
        free(c->part);
        c->part = NULL;
        c->part_len = 0;
    }
    size_t n = c->end - c->off;
    n = n < len - done ? n : len - done;
    memcpy((char *)dst + done, c->rbuf + c->off, n);
    done += n;
    c->off += n;
    while (done < len) {
        /* The rest lands in place; whatever follows it, in rbuf. */
        struct iovec iov[2] = {{(char *)dst + done, len - done},
                               {c->rbuf, RBUF}};
        size_t got = 0;
        int rc = read_some(c, iov, 2, d, &got);
        if (rc)
            return keep_part(c, dst, done, rc);
        c->off = 0;
        c->end = got > len - done ? got - (len - done) : 0;
        done += got - c->end;
    }
    c->have = false;
    return 0;
}

bool mp__os_conn_ready(const mp__os_conn *c) {
    return c->have || c->eof || c->broken || c->end > c->off;
}

/* wait_any (buffered: what the channel holds counts) or wait_more. */
static int wait_conns(mp__os_conn *const *conns, size_t nc,
                      const mp__handle *procs, size_t np, mp__deadline d,
                      bool *ready, bool buffered) {
    size_t n = nc + np, hits = 0;
    struct pollfd *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        return MP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        p[i].fd = i < nc ? conns[i]->fd : (int)procs[i - nc];
        p[i].events = POLLIN;
        ready[i] = buffered && i < nc && mp__os_conn_ready(conns[i]);
        hits += ready[i];
    }
    int rc = 0, k;
    do {
        long ms = hits ? 0 : mp__deadline_left_ms(d, &rc);
        k = poll(p, (nfds_t)n, (int)ms);
    } while (k < 0 && errno == EINTR);
    if (k < 0) {
        free(p);
        return mp__posix_err(errno);
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i].revents && !ready[i]) {
            ready[i] = true;
            hits++;
        }
    }
    free(p);
    if (hits)
        return 0;
    return d == MP__DL_NOW ? MP_EAGAIN : MP_ETIMEDOUT;
}

int mp__os_conn_wait_any(mp__os_conn *const *conns, size_t nc,
                         const mp__handle *procs, size_t np, mp__deadline d,
                         bool *ready) {
    return wait_conns(conns, nc, procs, np, d, ready, true);
}

int mp__os_conn_wait_more(mp__os_conn *const *conns, size_t nc,
                          const mp__handle *procs, size_t np, mp__deadline d,
                          bool *ready) {
    return wait_conns(conns, nc, procs, np, d, ready, false);
}

/* ---- crossing into a spawned child ---- */

mp__handle mp__os_conn_handle(const mp__os_conn *c) { return c->fd; }

void mp__os_conn_save(const mp__os_conn *c, mp__wbuf *w) {
    mp__w_u8(w,
             (uint8_t)(c->sock | c->eof << 1 | c->broken << 2 | c->have << 3));
    mp__w_u64(w, c->msg_len);
    mp__w_blob(w, c->rbuf + c->off, c->end - c->off);
    mp__w_blob(w, c->part, c->part_len);
}

int mp__os_conn_restore(mp__os_conn **out, mp__handle h, mp__rbuf *r) {
    uint8_t fl;
    uint64_t len;
    const void *p, *part;
    size_t n, npart;
    int rc = mp__r_u8(r, &fl);
    if (!rc)
        rc = mp__r_u64(r, &len);
    if (!rc)
        rc = mp__r_blob(r, &p, &n, RBUF);
    if (!rc)
        rc = mp__r_blob(r, &part, &npart, UINT32_MAX);
    if (!rc && (fl > 15 || npart > len))
        rc = MP_EPROTO;
    if (rc) {
        close((int)h);
        return rc;
    }
    if ((rc = conn_wrap(out, (int)h, fl & 1)) != 0)
        return rc;
    mp__os_conn *c = *out;
    c->eof = fl & 2;
    c->broken = fl & 4;
    c->have = fl & 8;
    c->msg_len = len;
    memcpy(c->rbuf, p, n);
    c->end = n;
    if (npart && !(c->part = malloc(npart))) {
        mp__os_conn_free(c);
        return MP_ENOMEM;
    }
    if (npart)
        memcpy(c->part, part, npart);
    c->part_len = npart;
    return 0;
}

/* ---- listeners ----
 *
 * A fresh address on Linux is in the abstract namespace ("@mproc-<128
 * random bits>", the kernel's "\0mproc-..."): nothing in the file system,
 * so nothing outlives the listener even when it is killed. Elsewhere a fresh
 * address is a socket in a new 0700 directory $TMPDIR/mproc-<pid>-XXXXXX; the
 * directories that killed listeners leave are removed by the next fresh
 * listener of the same user (both: mp__posix_fresh_addr, the path's).
 *
 * Both ends of every connection check the peer's user (mp__posix_peer_ok:
 * the same user or root, as a 0600 file admits): an abstract name has no
 * file mode at all, and a socket file may have been made, or opened up, by
 * someone else. A client finding another user's listener fails with
 * MP_EACCES; a listener drops another user's client unanswered.
 *
 * An explicit path whose socket file is a leftover (nobody listens:
 * connect is refused) is taken over. Every mproc listener binds and starts
 * listening under an exclusive flock on the socket's directory, so the
 * probe never mistakes a listener between bind and listen for a dead one,
 * and of two that take over the same leftover only one wins. Anyone who
 * can open the directory can hold that lock (on /tmp: every user), so it
 * is only tried for MP__LOCK_DIR_MS; without it a leftover is not taken
 * over (MP_EEXIST, as for a live listener). */

struct mp__os_listener {
    int fd;
    bool abstract; /* Linux: an "@name" in the abstract namespace */
    char *dir;     /* the private directory of a fresh address, else NULL */
    dev_t dev;     /* the socket file we made: removed only while it is */
    ino_t ino;     /* still ours (a later listener may have taken over) */
    char path[MP__SUN_PATH_MAX];
};

/* The socket address of addr: a file-system path, or "@name" in the
 * abstract namespace (the Linux path's: mp__posix_abstract_addr). */
static int make_addr(struct sockaddr_un *sa, socklen_t *len,
                     const char *addr) {
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    size_t n = strlen(addr);
    /* Too long is an error, never a silently truncated path. */
    if (n == 0 || n >= MP__SUN_PATH_MAX)
        return MP_EINVAL;
    if (addr[0] != '@') {
        memcpy(sa->sun_path, addr, n + 1);
        *len = (socklen_t)sizeof *sa;
        return 0;
    }
    return mp__posix_abstract_addr(sa, len, addr);
}

/* Binds l->fd to sa and listens; a file socket is made 0600 and
 * remembered (dev, ino) so that only it is ever removed. */
static int bind_listen(mp__os_listener *l, const struct sockaddr_un *sa,
                       socklen_t len, int backlog) {
    if (bind(l->fd, (const struct sockaddr *)sa, len) == -1)
        return errno == EADDRINUSE ? MP_EEXIST : mp__posix_err(errno);
    int rc = 0;
    struct stat st;
    /* Sockets ignore fchmod before bind on Linux; for a fresh address the
     * 0700 directory already keeps others out during this window. */
    if (!l->abstract &&
        (chmod(l->path, 0600) == -1 || lstat(l->path, &st) == -1))
        rc = mp__posix_err(errno);
    if (!rc && listen(l->fd, backlog) == -1)
        rc = mp__posix_err(errno);
    if (rc) {
        if (!l->abstract)
            unlink(l->path);
        return rc;
    }
    if (!l->abstract) {
        l->dev = st.st_dev;
        l->ino = st.st_ino;
    }
    return 0;
}

/* An exclusive flock on the directory that holds path, tried without
 * blocking for at most MP__LOCK_DIR_MS: -1 when it cannot be had (then no
 * leftover is taken over). Released by closing it, or by the holder's
 * death. */
static int lock_dir(const char *path) {
    char dir[MP__SUN_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        memcpy(dir, ".", 2);
    else if (slash == path)
        memcpy(dir, "/", 2);
    else {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1)
        return -1;
    mp__deadline d = mp__deadline_in(MP__LOCK_DIR_MS);
    mp__backoff b = MP__BACKOFF_LOCK_DIR;
    while (flock(fd, LOCK_EX | LOCK_NB) == -1)
        if ((errno != EWOULDBLOCK && errno != EINTR) ||
            mp__backoff_wait(&b, d)) {
            close(fd);
            return -1;
        }
    return fd;
}

static int listen_at(mp__os_listener *l, int backlog) {
    struct sockaddr_un sa;
    socklen_t len;
    int rc = make_addr(&sa, &len, l->path);
    if (rc)
        return rc;
    l->abstract = l->path[0] == '@';
    l->fd = mp__posix_socket(true);
    if (l->fd == -1)
        return mp__posix_err(errno);
    if (l->abstract)
        return bind_listen(l, &sa, len, backlog);
    int lock = lock_dir(l->path);
    rc = bind_listen(l, &sa, len, backlog);
    if (rc == MP_EEXIST && lock != -1 && mp__posix_sock_dead(l->path)) {
        unlink(l->path);
        rc = bind_listen(l, &sa, len, backlog);
    }
    if (lock != -1)
        close(lock);
    return rc;
}

int mp__os_listen(mp__os_listener **out, const char *addr, const char *token,
                  int backlog) {
    mp__os_listener *l = calloc(1, sizeof *l);
    if (!l)
        return MP_ENOMEM;
    l->fd = -1;
    int rc = 0;
    if (addr) {
        if (strlen(addr) >= sizeof l->path)
            rc = MP_EINVAL;
        else
            memcpy(l->path, addr, strlen(addr) + 1);
    } else {
        rc = mp__posix_fresh_addr(l->path, sizeof l->path, &l->dir, token);
    }
    if (!rc)
        rc = listen_at(l, backlog);
    if (rc) {
        if (l->fd != -1)
            close(l->fd);
        if (l->dir)
            rmdir(l->dir);
        free(l->dir);
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}

const char *mp__os_listener_address(const mp__os_listener *l) {
    return l->path;
}

mp__handle mp__os_listener_handle(mp__os_listener *l) { return l->fd; }

int mp__os_accept(mp__os_listener *l, mp__os_conn **c, mp__deadline d) {
    for (;;) {
        if (l->fd == -1)
            return MP_ECLOSED;
        int fd = mp__posix_accept(l->fd);
        if (fd != -1 && !mp__posix_peer_ok(fd)) {
            close(fd);
            continue;
        }
        if (fd != -1)
            return conn_wrap(c, fd, true);
        /* A client that gave up between poll and accept is not an error. */
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return mp__posix_err(errno);
        int rc = wait_fd(l->fd, POLLIN, d);
        if (rc)
            return rc;
    }
}

void mp__os_listener_close(mp__os_listener *l) {
    if (l->fd != -1)
        close(l->fd);
    l->fd = -1;
}

void mp__os_listener_free(mp__os_listener *l) {
    if (!l)
        return;
    mp__os_listener_close(l);
    struct stat st;
    if (!l->abstract && lstat(l->path, &st) == 0 && st.st_dev == l->dev &&
        st.st_ino == l->ino)
        unlink(l->path);
    if (l->dir)
        rmdir(l->dir);
    free(l->dir);
    free(l);
}

int mp__os_connect(mp__os_conn **c, const char *addr, mp__deadline d) {
    struct sockaddr_un sa;
    socklen_t salen;
    int rc = make_addr(&sa, &salen, addr);
    if (rc)
        return rc;
    int fd = mp__posix_socket(true);
    if (fd == -1)
        return mp__posix_err(errno);
    /* Non-blocking, so a full backlog (EAGAIN on AF_UNIX) can be retried
     * within the deadline instead of blocking past it. */
    mp__backoff b = MP__BACKOFF_CONNECT;
    while (connect(fd, (struct sockaddr *)&sa, salen) == -1) {
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            rc = mp__posix_err(errno);
            break;
        }
        if ((rc = mp__backoff_wait(&b, d)))
            break;
    }
    /* Whoever holds the address may not be who we think. */
    if (!rc && !mp__posix_peer_ok(fd))
        rc = MP_EACCES;
    if (!rc && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == -1)
        rc = mp__posix_err(errno);
    if (rc) {
        close(fd);
        return rc == MP_EAGAIN ? MP_ETIMEDOUT : rc;
    }
    return conn_wrap(c, fd, true);
}
