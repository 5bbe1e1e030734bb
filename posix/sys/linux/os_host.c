/* POSIX backend, Linux (either path): a process's state and start time,
 * and the running program, from /proc; whether we run secure-exec, from
 * the auxiliary vector. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "os_posix.h"

/* State and start time (field 22, clock ticks since boot) of
 * /proc/<pid>/stat. */
enum mp__posix_probe mp__posix_proc_probe(pid_t pid, uint64_t *start) {
    char path[32], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1 && errno == ENOENT) /* unless /proc hides it, or is absent */
        return mp__posix_probe_kill(pid);
    if (fd == -1)
        return MP__POSIX_UNKNOWN;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) /* ESRCH: reaped between the open and the read */
        return n < 0 && errno == ESRCH ? MP__POSIX_DEAD : MP__POSIX_UNKNOWN;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'), state;
    unsigned long long st;
    if (!p || sscanf(p + 1,
                     " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
                     "%*d %*d %*d %*d %*d %*d %llu",
                     &state, &st) != 2)
        return MP__POSIX_UNKNOWN;
    *start = st;
    return state == 'Z' || state == 'X' ? MP__POSIX_DEAD : MP__POSIX_ALIVE;
}

/* /proc/self/exe: a program replaced on disk after it started still spawns
 * its own image. */
int mp__posix_self_exe(const char **exe, char **own) {
    *own = NULL;
    *exe = "/proc/self/exe";
    return 0;
}

/* AT_SECURE: set by the kernel for set-uid and set-gid programs, file
 * capabilities and security modules alike (what glibc's own secure mode
 * reads). */
bool mp__os_secure_exec(void) { return getauxval(AT_SECURE) != 0; }
