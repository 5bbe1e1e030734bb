/* POSIX backend, Linux path: anonymous mappings are memfds. They live in
 * the kernel's own mount, which has no size of its own, so they stay
 * sparse (a named object's pages are reserved: mp__posix_shm_reserve).
 * Once sized they are sealed against shrinking and growing (and against
 * further seals being removed): a process that holds one, a child we
 * passed it to included, cannot cut the mapping under the others and make
 * them fault. Named objects (shm_open) cannot be sealed: only processes of
 * their own user can open them (os_shm.c), and such a process can shrink
 * one, which is documented in core.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "os_posix.h"

int mp__posix_shm_anon(int *fd, size_t size) {
    if ((*fd = memfd_create("mproc", MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1)
        return mp__posix_err(errno);
    if (ftruncate(*fd, (off_t)size) == -1 ||
        fcntl(*fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) ==
            -1) {
        int rc = mp__posix_err(errno);
        close(*fd);
        return rc;
    }
    return 0;
}
