/* POSIX backend, NetBSD: no start times (a process is probed by pid
 * alone), the running program from the kernel's record (sysctl), and where
 * shm objects are listed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/sysctl.h>

#include "os_posix.h"

enum mp__posix_probe mp__posix_proc_probe(pid_t pid, uint64_t *start) {
    *start = 0;
    return mp__posix_probe_kill(pid);
}

int mp__posix_self_exe(const char **exe, char **own) {
    int mib[4] = {CTL_KERN, KERN_PROC_ARGS, -1, KERN_PROC_PATHNAME};
    size_t n = 0;
    *own = NULL;
    if (sysctl(mib, 4, NULL, &n, NULL, 0) != 0 || !n)
        return mp__posix_err(errno);
    if (!(*own = malloc(n)))
        return MP_ENOMEM;
    if (sysctl(mib, 4, *own, &n, NULL, 0) != 0)
        return mp__posix_err(errno);
    *exe = *own;
    return 0;
}

/* If mounted so. */
const char *mp__posix_shm_dir(void) { return "/dev/shm"; }
