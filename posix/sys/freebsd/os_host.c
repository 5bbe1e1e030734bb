/* POSIX backend, FreeBSD: a process's state and start time, and the
 * running program, from the kernel's records (sysctl); where shm objects
 * are listed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/sysctl.h>
#include <sys/user.h>

#include "os_posix.h"

enum mp__posix_probe mp__posix_proc_probe(pid_t pid, uint64_t *start) {
    struct kinfo_proc kp;
    size_t len = sizeof kp;
    int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, (int)pid};
    if (sysctl(mib, 4, &kp, &len, NULL, 0) == -1)
        return errno == ESRCH ? MP__POSIX_DEAD : MP__POSIX_UNKNOWN;
    if (len == 0)
        return MP__POSIX_DEAD;
    struct timeval tv = kp.ki_start;
    *start = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
    return kp.ki_stat == SZOMB ? MP__POSIX_DEAD : MP__POSIX_ALIVE;
}

int mp__posix_self_exe(const char **exe, char **own) {
    int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PATHNAME, -1};
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

/* If mounted so; by default it is not (kern.ipc.posix_shm_list could). */
const char *mp__posix_shm_dir(void) { return "/dev/shm"; }
