/* POSIX backend, macOS and the BSDs: shm_open objects are no files one
 * can look at by name, and stay sparse (sized once by ftruncate). Whether
 * they can be listed is each system's (mp__posix_shm_dir, os_host.c). */
#include "os_posix.h"

int mp__posix_shm_reserve(int fd, size_t size) {
    (void)fd;
    (void)size;
    return 0;
}

bool mp__posix_shm_file(char *out, size_t cap, const char *nm) {
    (void)out;
    (void)cap;
    (void)nm;
    return false;
}

/* No file to be a link, and FreeBSD's shm_open takes no O_NOFOLLOW. */
const int mp__posix_shm_nofollow = 0;
