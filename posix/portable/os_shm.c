/* POSIX backend, portable path: anonymous mappings without memfd, shm_open
 * objects of a random name removed at once. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "os/os_crypto.h"
#include "os_posix.h"

/* A random shm name (short enough for macOS's 31 bytes) removed at once,
 * so it never outlives this call even if we are killed right after. */
static int anon_fd(int *fd) {
    for (int tries = 0; tries < 8; tries++) {
        uint8_t r[8];
        char nm[32];
        int rc = mp__os_random(r, sizeof r);
        if (rc)
            return rc;
        int n = snprintf(nm, sizeof nm, "/mpa-");
        for (size_t i = 0; i < sizeof r; i++)
            n += snprintf(nm + n, sizeof nm - (size_t)n, "%02x", r[i]);
        *fd = shm_open(nm, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (*fd == -1 && errno == EEXIST)
            continue;
        if (*fd == -1)
            return mp__posix_err(errno);
        shm_unlink(nm);
        fcntl(*fd, F_SETFD, FD_CLOEXEC);
        return 0;
    }
    return MP_EEXIST;
}

int mp__posix_shm_anon(int *fd, size_t size) {
    int rc = anon_fd(fd);
    if (rc)
        return rc;
    if (ftruncate(*fd, (off_t)size) == -1)
        rc = mp__posix_err(errno);
    if (!rc) /* a shm_open object, not a memfd: reserved as named ones */
        rc = mp__posix_shm_reserve(*fd, size);
    if (rc)
        close(*fd);
    return rc;
}
