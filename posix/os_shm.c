/* POSIX backend, shared memory: anonymous mappings are memfds (Linux) so a
 * spawned child can map them from an inherited descriptor and nothing ever
 * has a name; named ones are shm_open objects, 0600, "/mp-<name>". */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/os_shm.h"
#include "../common/os_sync.h"
#include "os_posix.h"

/* How long an opener waits for the creator to size a named object. */
#define SIZE_WAIT_MS 2000

static int os_name(char *out, size_t cap, const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > MP__OS_NAME_MAX || strchr(name, '/'))
        return MP_EINVAL;
    snprintf(out, cap, "/mp-%s", name);
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

static int anon_fd(int *fd) {
#ifdef __linux__
    *fd = memfd_create("mproc", MFD_CLOEXEC);
    return *fd == -1 ? mp__posix_err(errno) : 0;
#else
    /* Elsewhere: a random shm name removed at once, so it never outlives
     * this call even if we are killed right after. */
    char nm[64];
    snprintf(nm, sizeof nm, "/mp-anon-%ld-%p", (long)getpid(), (void *)fd);
    *fd = shm_open(nm, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (*fd == -1)
        return mp__posix_err(errno);
    shm_unlink(nm);
    fcntl(*fd, F_SETFD, FD_CLOEXEC);
    return 0;
#endif
}

int mp__os_shm_create(mp__shm *s, size_t size, const char *name) {
    char nm[MP__OS_NAME_MAX + 8];
    int fd, rc;
    s->addr = NULL;
    s->h = MP__BAD_HANDLE;
    if (size == 0)
        return MP_EINVAL;
    if (name) {
        if ((rc = os_name(nm, sizeof nm, name)))
            return rc;
        fd = shm_open(nm, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        rc = fd == -1 ? mp__posix_err(errno) : 0;
    } else {
        rc = anon_fd(&fd);
    }
    if (rc)
        return rc;
    if (ftruncate(fd, (off_t)size) == -1)
        rc = mp__posix_err(errno);
    if (!rc)
        rc = map_fd(s, fd, size);
    if (rc) {
        close(fd);
        if (name)
            shm_unlink(nm);
    }
    return rc;
}

int mp__os_shm_open(mp__shm *s, const char *name) {
    char nm[MP__OS_NAME_MAX + 8];
    struct stat st;
    int rc;
    s->addr = NULL;
    s->h = MP__BAD_HANDLE;
    if (!name || (rc = os_name(nm, sizeof nm, name)))
        return MP_EINVAL;
    int fd = shm_open(nm, O_RDWR | O_CLOEXEC, 0);
    if (fd == -1)
        return mp__posix_err(errno);
    /* The creator sizes the object right after creating it: wait for that
     * (bounded) rather than map an empty file. */
    for (int waited = 0;; waited++) {
        if (fstat(fd, &st) == -1) {
            rc = mp__posix_err(errno);
            break;
        }
        if (st.st_size > 0) {
            rc = map_fd(s, fd, (size_t)st.st_size);
            break;
        }
        if (waited >= SIZE_WAIT_MS) {
            rc = MP_ENOENT;
            break;
        }
        mp__os_sleep_ms(1);
    }
    if (rc)
        close(fd);
    return rc;
}

int mp__os_shm_import(mp__shm *s, mp__handle h, size_t size) {
    s->addr = NULL;
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

void mp__os_shm_close(mp__shm *s) {
    if (s->addr)
        munmap(s->addr, s->size);
    mp__os_close(s->h);
    s->addr = NULL;
    s->h = MP__BAD_HANDLE;
}
