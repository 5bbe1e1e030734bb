/* POSIX backend, Linux path: a child is waited for through its pidfd, a
 * daemonic child dies with its parent by PR_SET_PDEATHSIG, and a spawned
 * child's stray descriptors are closed by glibc's closefrom action. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "os_posix.h"

int mp__posix_kin_new(mp__posix_kin *k, bool daemon, bool forked) {
    (void)daemon;
    (void)forked;
    k->child_end = k->parent_end = k->watch = -1;
    return 0;
}

mp__handle mp__posix_kin_parent(mp__posix_kin *k, pid_t pid) {
    (void)k;
#ifdef SYS_pidfd_open
    long fd = syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0)
        return (mp__handle)fd;
#endif
    (void)pid; /* before Linux 5.3: mp__os_proc_wait polls */
    return MP__BAD_HANDLE;
}

void mp__posix_kin_drop(mp__posix_kin *k) { (void)k; }

long mp__posix_kin_slice_ms(void) { return -1; }

/* Makes the calling child die with its parent; exits if already orphaned. */
int mp__os_child_bind_parent(long ppid) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
        return mp__posix_err(errno);
    /* The parent may have died before prctl took effect. */
    if ((long)getppid() != ppid)
        _exit(1);
    return 0;
}

int mp__posix_kin_child(mp__posix_kin *k, long ppid, bool daemon) {
    (void)k;
    return daemon ? mp__os_child_bind_parent(ppid) : 0;
}

int mp__posix_spawn_close_from(posix_spawn_file_actions_t *fa, int floor,
                               short *flags, mp__posix_cloexec *ce) {
    (void)flags;
    (void)ce; /* the closefrom action takes every number */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
    return mp__posix_err(posix_spawn_file_actions_addclosefrom_np(fa, floor));
#else
    (void)fa;
    (void)floor;
    return 0;
#endif
}

int mp__posix_path_init(void) { return 0; }
