/* POSIX backend, macOS: a process's state and start time from the kernel's
 * record (sysctl KERN_PROC_PID), the running program from dyld, and no
 * listing of shm objects. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <mach-o/dyld.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/sysctl.h>

#include "os_posix.h"

enum mp__posix_probe mp__posix_proc_probe(pid_t pid, uint64_t *start) {
    struct kinfo_proc kp;
    size_t len = sizeof kp;
    int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, (int)pid};
    if (sysctl(mib, 4, &kp, &len, NULL, 0) == -1)
        return errno == ESRCH ? MP__POSIX_DEAD : MP__POSIX_UNKNOWN;
    if (len == 0)
        return MP__POSIX_DEAD;
    struct timeval tv = kp.kp_proc.p_starttime;
    *start = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
    return kp.kp_proc.p_stat == SZOMB ? MP__POSIX_DEAD : MP__POSIX_ALIVE;
}

int mp__posix_self_exe(const char **exe, char **own) {
    *own = NULL;
    uint32_t n = 0;
    _NSGetExecutablePath(NULL, &n);
    if (!n || !(*own = malloc(n)))
        return MP_ENOMEM;
    if (_NSGetExecutablePath(*own, &n) != 0)
        return MP_ESYS;
    *exe = *own;
    return 0;
}

/* Its shm objects cannot be listed. */
const char *mp__posix_shm_dir(void) { return NULL; }
