/* POSIX backend, Linux (either path): shm_open objects are files of
 * /dev/shm, a tmpfs of bounded size. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#include "os_posix.h"

/* A sparse object on a full /dev/shm is a SIGBUS at the first touch of a
 * page, in whichever process touches it; reserved at creation, a full
 * /dev/shm is MP_ELIMIT there and every object made keeps working. */
int mp__posix_shm_reserve(int fd, size_t size) {
    int e = posix_fallocate(fd, 0, (off_t)size);
    return e ? mp__posix_err(e) : 0;
}

bool mp__posix_shm_file(char *out, size_t cap, const char *nm) {
    int n = snprintf(out, cap, "/dev/shm%s", nm);
    return n > 0 && (size_t)n < cap;
}

const char *mp__posix_shm_dir(void) { return "/dev/shm"; }

/* glibc and musl add it themselves; said here so that no C library is
 * trusted to. */
const int mp__posix_shm_nofollow = O_NOFOLLOW;
