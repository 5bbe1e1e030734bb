/* POSIX backend, Linux path: anonymous mappings are memfds. They live in
 * the kernel's own mount, which has no size of its own, so they stay
 * sparse (a named object's pages are reserved: mp__posix_shm_reserve). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "os_posix.h"

int mp__posix_shm_anon(int *fd, size_t size) {
    if ((*fd = memfd_create("mproc", MFD_CLOEXEC)) == -1)
        return mp__posix_err(errno);
    if (ftruncate(*fd, (off_t)size) == -1) {
        int rc = mp__posix_err(errno);
        close(*fd);
        return rc;
    }
    return 0;
}
