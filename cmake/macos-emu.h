/* Forced into every source file of the library by MPROC_MACOS_EMU (preset
 * macos-emu, Linux only): the portable POSIX path built as if on macOS.
 * What macOS lacks is declared first (so the system headers' own
 * declarations pass) and then poisoned, so any use in mproc's sources is a
 * compile error; macOS's run-time limits on shm names (31 bytes) and
 * AF_UNIX paths (104) are applied by wrappers. Function identity still
 * uses dl_iterate_phdr (macOS needs the dyld image list: not written). */
#ifndef MP_CMAKE_MACOS_EMU_H
#define MP_CMAKE_MACOS_EMU_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* macOS's PSHMNAMLEN: longer names fail with ENAMETOOLONG. */
static inline int mp__emu_shm_open(const char *name, int flags, mode_t mode) {
    if (strlen(name) > 31) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return shm_open(name, flags, mode);
}
static inline int mp__emu_shm_unlink(const char *name) {
    if (strlen(name) > 31) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return shm_unlink(name);
}
#define shm_open mp__emu_shm_open
#define shm_unlink mp__emu_shm_unlink

/* What posix/os_shm.c keeps its names to, as on macOS. */
#define MP__SHM_NAME_MAX 31

/* macOS's sockaddr_un.sun_path is 104 bytes. */
#define MP__SUN_PATH_MAX 104

/* Flags macOS does not define (MSG_NOSIGNAL is tested with #ifdef, so
 * it is only taken away). */
#undef SOCK_CLOEXEC
#undef SOCK_NONBLOCK
#undef MSG_NOSIGNAL
#undef SYS_pidfd_open
#undef SYS_futex
#undef SYS_gettid

#pragma GCC poison sem_init sem_timedwait sem_clockwait sem_getvalue
#pragma GCC poison pthread_mutexattr_setrobust pthread_mutex_consistent
#pragma GCC poison memfd_create pipe2 accept4 prctl dup3
#pragma GCC poison sched_getaffinity posix_spawn_file_actions_addclosefrom_np
#pragma GCC poison SOCK_CLOEXEC SOCK_NONBLOCK
#pragma GCC poison pidfd_open SYS_pidfd_open SYS_futex futex
#pragma GCC poison get_robust_list set_robust_list SYS_gettid gettid

#endif
