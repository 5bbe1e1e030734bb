/* POSIX backend, shared memory: anonymous mappings are the path's
 * (mp__posix_shm_anon: memfds on Linux) so a spawned child can map them
 * from an inherited descriptor and nothing ever has a name; named ones are
 * shm_open objects, 0600, "/mp-<name>".
 *
 * The creation guard of a named mapping (os_shm.h) is an exclusive flock
 * on its descriptor: the kernel drops it when the creator dies. A process
 * changes a named object that is not published only while holding that
 * lock and after checking that the name still leads to the object it
 * locked, so a creator and a process taking over never both believe they
 * made the same name.
 *
 * A name is trusted only once it is seen to be ours: every shm_open of a
 * name (shm_open_mine) checks that it is a regular file owned by our
 * effective user with no group or other bits, reached without following a
 * link, or closes it and says MP_EACCES. Another user who made the name
 * first, 0666, is thus neither joined nor taken over. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomics.h"
#include "os/os_shm.h"
#include "os/os_crypto.h"
#include "os/os_sync.h"
#include "os_posix.h"
#include "util/wait_policy.h"

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

/* "/mp-<name>", or, when that is too long for the system, "/mh-" and 26
 * base-32 digits (130 bits) of the name's SHA-256: a name of any allowed
 * length works everywhere, and the two forms never meet. */
static int os_name(char *out, size_t cap, const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > MP__OS_NAME_MAX || strchr(name, '/'))
        return MP_EINVAL;
    if (4 + n <= MP__SHM_NAME_MAX) {
        snprintf(out, cap, "/mp-%s", name);
        return 0;
    }
    static const char key[] = "mproc shm name";
    uint8_t h[MP__HMAC_MAX];
    size_t hl = 0;
    int rc = mp__os_hmac("sha256", key, sizeof key - 1, name, n, h, &hl);
    if (rc)
        return rc;
    memcpy(out, "/mh-", 4);
    for (int i = 0; i < 26; i++) {
        int bit = i * 5, v = h[bit / 8] << 8 | h[bit / 8 + 1];
        out[4 + i] = b32[(v >> (11 - bit % 8)) & 31];
    }
    out[30] = '\0';
    return 0;
}

static int map_fd(mp__shm *s, int fd, size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return mp__posix_err(errno);
    s->addr = p;
    s->size = size;
    s->h = fd;
    return 0;
}

/* Whether the object open as fd may be trusted as ours: a regular file of
 * our effective user that nobody else may read or write. 0, MP_EACCES, or
 * the error of fstat. */
static int check_mine(int fd) {
    struct stat st;
    if (fstat(fd, &st) == -1)
        return mp__posix_err(errno);
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & (S_IRWXG | S_IRWXO)))
        return MP_EACCES;
    return 0;
}

/* shm_open of a name into *fd, kept only when check_mine passes: 0, or
 * MP_EACCES for an object that is not ours and for a link at the name
 * (never followed where names are files), or the error of shm_open
 * (MP_ENOENT, MP_EEXIST, ...). */
static int shm_open_mine(const char *nm, int flags, mode_t mode, int *fd) {
    *fd = shm_open(nm, flags | O_CLOEXEC | mp__posix_shm_nofollow, mode);
    if (*fd == -1)
        return errno == ELOOP ? MP_EACCES : mp__posix_err(errno);
    int rc = check_mine(*fd);
    if (rc) {
        close(*fd);
        *fd = -1;
    }
    return rc;
}

/* Whether the name nm still leads to the object open as fd. Where the
 * name is a file (Linux's /dev/shm) it is looked at without a descriptor:
 * with none left, a create must fail with MP_ELIMIT, not take the name for
 * another object's and try again forever. A link at the name leads to
 * nothing of ours. */
static bool same_object(const char *nm, int fd) {
    struct stat a, b;
    char path[512]; /* "/dev/shm" and a name of at most 255 bytes */
    if (mp__posix_shm_file(path, sizeof path, nm))
        return fstat(fd, &a) == 0 && lstat(path, &b) == 0 &&
               a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    int fd2;
    if (shm_open_mine(nm, O_RDONLY, 0, &fd2))
        return false;
    bool same = fstat(fd, &a) == 0 && fstat(fd2, &b) == 0 &&
                a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    close(fd2);
    return same;
}

/* Whether the object open as fd is published: its first word is non-zero. */
static bool published(int fd) {
    uint32_t word = 0;
    return pread(fd, &word, sizeof word, 0) == (ssize_t)sizeof word &&
           word != 0;
}

/* With the guard held: gives the object fd `size` zero bytes and maps it. */
static int make(mp__shm *s, int fd, size_t size) {
    if (ftruncate(fd, 0) == -1 || ftruncate(fd, (off_t)size) == -1)
        return mp__posix_err(errno);
    /* The price of reserving (mp__posix_shm_reserve): a named object holds
     * its whole size from the start. */
    int rc = mp__posix_shm_reserve(fd, size);
    return rc ? rc : map_fd(s, fd, size);
}

/* Takes the guard (the exclusive flock) on fd by d: 0, MP_EAGAIN when
 * another process holds it past d (one try for MP__DL_NOW), or an error.
 * Never a blocking flock: a holder may be stopped. */
static int guard_by(int fd, mp__deadline d) {
    mp__backoff b = MP__BACKOFF_GUARD;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK)
            return mp__posix_err(errno);
        if (mp__backoff_wait(&b, d))
            return MP_EAGAIN;
    }
}

/* One try at creating nm: 0 (guard held), MP_EEXIST, MP_EAGAIN (the name
 * changed under us: try again), MP_ETIMEDOUT (our fresh object's guard
 * was kept past MP__GUARD_MS), or an error. */
static int create_once(mp__shm *s, const char *nm, size_t size) {
    int fd, rc = shm_open_mine(nm, O_RDWR | O_CREAT | O_EXCL, 0600, &fd);
    bool fresh = rc == 0;
    if (rc == MP_EEXIST && (rc = shm_open_mine(nm, O_RDWR, 0, &fd)) != 0)
        return rc == MP_ENOENT ? MP_EAGAIN : rc;
    if (rc)
        return rc;
    /* A fresh object's creator waits for the lock (held, at most briefly,
     * by someone checking it; bounded, as that one may be stopped); an
     * existing one is taken over only when nobody holds it. */
    rc = guard_by(fd, fresh ? mp__deadline_in(MP__GUARD_MS) : MP__DL_NOW);
    if (rc == MP_EAGAIN)
        rc = fresh ? MP_ETIMEDOUT : MP_EEXIST;
    else if (rc)
        ;
    else if (!same_object(nm, fd))
        rc = MP_EAGAIN; /* removed, perhaps remade, since we opened it */
    else if (published(fd))
        rc = MP_EEXIST; /* a fresh one too: taken over in our window
                         * between shm_open and flock, and made */
    else if ((rc = make(s, fd, size)))
        shm_unlink(nm); /* ours, under the guard: a failed create leaves
                         * no name behind */
    if (rc)
        close(fd); /* drops the lock too */
    return rc;
}

int mp__os_shm_create(mp__shm *s, size_t size, const char *name) {
    char nm[MP__OS_NAME_MAX + 8];
    int fd, rc;
    s->addr = NULL;
    s->h = s->guard = MP__BAD_HANDLE;
    if (size == 0)
        return MP_EINVAL;
    if (name) {
        if ((rc = os_name(nm, sizeof nm, name)))
            return rc;
        for (int tries = 0; (rc = create_once(s, nm, size)) == MP_EAGAIN;
             tries++)
            if (tries == MP__CREATE_TRIES)
                return MP_ETIMEDOUT;
        if (!rc)
            s->guard = s->h; /* the flock on it */
        return rc;
    }
    if ((rc = mp__posix_shm_anon(&fd, size)))
        return rc;
    if ((rc = map_fd(s, fd, size)))
        close(fd);
    return rc;
}

void mp__os_shm_publish(mp__shm *s, uint32_t word) {
    mp__store32((MP__ATOMIC(uint32_t) *)s->addr, word, MP__RELEASE);
    if (s->guard != MP__BAD_HANDLE)
        flock((int)s->guard, LOCK_UN);
    s->guard = MP__BAD_HANDLE;
}

/* An unpublished object open as fd: MP_EAGAIN while its creator lives,
 * 0 if it was published meanwhile, MP_ENOENT if its creator died. */
static int creator_state(int fd) {
    if (flock(fd, LOCK_SH | LOCK_NB) == -1)
        return errno == EWOULDBLOCK ? MP_EAGAIN : mp__posix_err(errno);
    /* Nobody creates it now; published since our look, or abandoned. */
    int rc = published(fd) ? 0 : MP_ENOENT;
    flock(fd, LOCK_UN);
    return rc;
}

int mp__os_shm_open(mp__shm *s, const char *name) {
    char nm[MP__OS_NAME_MAX + 8];
    struct stat st;
    int rc;
    s->addr = NULL;
    s->h = s->guard = MP__BAD_HANDLE;
    if (!name || (rc = os_name(nm, sizeof nm, name)))
        return MP_EINVAL;
    int fd;
    if ((rc = shm_open_mine(nm, O_RDWR, 0, &fd)))
        return rc;
    rc = published(fd) ? 0 : creator_state(fd);
    if (!rc)
        rc = fstat(fd, &st) == -1 ? mp__posix_err(errno)
                                  : map_fd(s, fd, (size_t)st.st_size);
    if (rc)
        close(fd);
    return rc;
}

int mp__os_shm_import(mp__shm *s, mp__handle h, size_t size) {
    s->addr = NULL;
    s->guard = MP__BAD_HANDLE;
    if (h == MP__BAD_HANDLE || size == 0) {
        mp__os_close(h);
        return MP_EINVAL;
    }
    int rc = map_fd(s, (int)h, size);
    if (rc)
        close((int)h);
    return rc;
}

int mp__os_shm_unlink(const char *name) {
    char nm[MP__OS_NAME_MAX + 8];
    int rc = os_name(nm, sizeof nm, name);
    if (rc)
        return rc;
    return shm_unlink(nm) == -1 ? mp__posix_err(errno) : 0;
}

/* ---- segments (os_shm.h): named mappings persist here already ---- */

int mp__os_seg_create(mp__shm *s, size_t size, const char *name) {
    return mp__os_shm_create(s, size, name);
}

int mp__os_seg_open(mp__shm *s, const char *name) {
    return mp__os_shm_open(s, name);
}

int mp__os_seg_unlink(const char *name) { return mp__os_shm_unlink(name); }

/* ---- reclaiming (os_shm.h) ---- */

uint64_t mp__os_user_self(void) { return mp__posix_self_word(); }

bool mp__os_user_dead(uint64_t user) { return mp__posix_gone(user); }

int mp__os_shm_lock(mp__shm *s, const char *name, mp__deadline d) {
    char nm[MP__OS_NAME_MAX + 8];
    int rc = os_name(nm, sizeof nm, name);
    if (rc)
        return rc;
    if ((rc = guard_by((int)s->h, d)))
        return rc;
    if (!same_object(nm, (int)s->h)) {
        flock((int)s->h, LOCK_UN);
        return MP_ENOENT;
    }
    s->guard = s->h;
    return 0;
}

void mp__os_shm_unlock(mp__shm *s) {
    if (s->guard != MP__BAD_HANDLE)
        flock((int)s->guard, LOCK_UN);
    s->guard = MP__BAD_HANDLE;
}

/* Whether a /dev/shm entry has the form of one of our names: "mp-<name>"
 * or "mh-" and 26 base-32 digits (os_name; "mpa-" ones are anonymous and
 * removed at birth). */
static bool ours(const char *e) {
    if (strncmp(e, "mp-", 3) == 0)
        return e[3] != '\0';
    if (strncmp(e, "mh-", 3) != 0 || strlen(e) != 29)
        return false;
    return strspn(e + 3, b32) == 26;
}

/* An unpublished object open as fd whose creator died (nobody holds the
 * guard, and the name still leads to it): removed. */
static bool remove_abandoned(const char *nm, int fd) {
    if (flock(fd, LOCK_EX | LOCK_NB) == -1)
        return false;
    return same_object(nm, fd) && !published(fd) && shm_unlink(nm) == 0;
}

/* One entry of a sweep: whether its name was removed. */
static bool sweep_entry(const char *nm, size_t map_bytes,
                        bool (*visit)(void *, mp__shm *), void *arg) {
    struct stat st;
    int fd;
    if (shm_open_mine(nm, O_RDWR, 0, &fd))
        return false;
    bool removed = false;
    if (fstat(fd, &st) == 0) {
        size_t size = (size_t)st.st_size;
        if (!published(fd)) {
            /* Our half-made ones are empty or at least a header long. */
            removed =
                (size == 0 || size >= map_bytes) && remove_abandoned(nm, fd);
        } else {
            mp__shm s;
            if (map_fd(&s, fd, size < map_bytes ? size : map_bytes) == 0) {
                s.guard = MP__BAD_HANDLE;
                removed = visit(arg, &s);
                mp__os_shm_close(&s); /* closes fd */
                return removed;
            }
        }
    }
    close(fd);
    return removed;
}

int mp__os_shm_each(size_t map_bytes, bool (*visit)(void *arg, mp__shm *s),
                    void *arg, size_t *removed) {
    *removed = 0;
    const char *dir = mp__posix_shm_dir();
    if (!dir)
        return MP_ENOTSUP; /* the system's shm objects cannot be listed */
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? MP_ENOTSUP : mp__posix_err(errno);
    for (struct dirent *e; (e = readdir(d));) {
        char nm[sizeof e->d_name + 2];
        if (!ours(e->d_name))
            continue;
        snprintf(nm, sizeof nm, "/%s", e->d_name);
        *removed += sweep_entry(nm, map_bytes, visit, arg);
    }
    closedir(d);
    return 0;
}

void mp__os_shm_close(mp__shm *s) {
    if (s->addr)
        munmap(s->addr, s->size);
    mp__os_close(s->h); /* the guard, if still held, is a lock on it */
    s->addr = NULL;
    s->h = s->guard = MP__BAD_HANDLE;
}
