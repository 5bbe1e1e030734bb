/* POSIX backend, OpenBSD: no start times (a process is probed by pid
 * alone), no record of the running program's path, and where shm objects
 * are listed. */
#include "os_posix.h"

enum mp__posix_probe mp__posix_proc_probe(pid_t pid, uint64_t *start) {
    *start = 0;
    return mp__posix_probe_kill(pid);
}

/* The program must call mp_set_executable (argv[0]). */
int mp__posix_self_exe(const char **exe, char **own) {
    *own = NULL;
    *exe = NULL;
    return MP_ENOTSUP;
}

/* If mounted so. */
const char *mp__posix_shm_dir(void) { return "/dev/shm"; }
