/* Helpers shared by the POSIX backend's files, and the seams between its
 * two paths: the Linux one (posix/linux/) and the portable one
 * (posix/portable/), chosen at configure time (MPROC_POSIX_PORTABLE). */
#ifndef MP_POSIX_OS_POSIX_H
#define MP_POSIX_OS_POSIX_H

#include <pthread.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/un.h>

#include "../common/atomics.h"
#include "../common/os_base.h"

/* Bytes of an AF_UNIX path, NUL included (104 on macOS and the BSDs). */
#ifndef MP__SUN_PATH_MAX
#define MP__SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)
#endif

/* A semaphore's count word, shared by both paths' semaphores: take one
 * unit if there is one; give one back unless that passes max (0: no bound
 * but INT32_MAX), else MP_EOVERFLOW. */
static inline bool mp__posix_sem_take(MP__ATOMIC(uint32_t) * value) {
    uint32_t v = mp__load32(value, MP__RELAXED);
    while (v > 0)
        if (mp__cas32(value, &v, v - 1, MP__SEQ_CST))
            return true;
    return false;
}
static inline int mp__posix_sem_give(MP__ATOMIC(uint32_t) * value,
                                     uint32_t max) {
    uint32_t lim = max ? max : INT32_MAX;
    uint32_t v = mp__load32(value, MP__RELAXED);
    do {
        if (v >= lim)
            return MP_EOVERFLOW;
    } while (!mp__cas32(value, &v, v + 1, MP__SEQ_CST));
    return 0;
}

/* A process named by its pid and a 32-bit token of its start time, so
 * that a later process given the same pid is not taken for it: the word
 * is token << 32 | pid, token 0 when it could not be read (then only the
 * pid is checked). The portable path's mutexes name their owner so, and
 * named objects their users (os_shm.c). Start times come from
 * /proc/<pid>/stat (Linux) or sysctl(KERN_PROC_PID) (macOS, FreeBSD);
 * elsewhere there is none, and a zombie passes for alive. */
uint64_t mp__posix_self_word(void); /* this process; cached per pid */
/* Whether the process w names is gone: no such pid, a zombie, or a pid
 * now used by a process that started at another time. One probe (a read
 * of /proc/<pid>/stat on Linux). */
bool mp__posix_gone(uint64_t w);

/* errno -> MP_E*. */
int mp__posix_err(int e);

/* pthread_once for state a forked child must redo, made safe across fork:
 * runs fn once per process image unless a fork child inherits it done.
 * glibc restarts a once that a thread of the parent was running when
 * another forked; musl's child waits for that thread, which it does not
 * have, forever (a thread in fn's pthread_atfork waits on the forking
 * thread's atfork lock, so the race is easy to hit). `once` starts at 0
 * and holds the pid of the process running fn, then MP__POSIX_ONCE_DONE:
 * a child that finds its parent's pid runs fn itself. */
#define MP__POSIX_ONCE_DONE UINT32_MAX
void mp__posix_once(MP__ATOMIC(uint32_t) * once, void (*fn)(void));

/* Descriptors made close-on-exec (and non-blocking where asked) at birth
 * on Linux (pipe2, SOCK_CLOEXEC, accept4), right after it elsewhere: the
 * gap only matters to a program's own fork+exec, since our spawns close
 * everything they do not pass. -1 with errno set on failure. An accepted
 * socket is blocking, whatever the listener is (BSD sockets inherit it). */
int mp__posix_pipe(int fds[2]);
int mp__posix_socket(bool nonblock);
int mp__posix_socketpair(int fds[2]);
int mp__posix_accept(int lfd);

/* What ties a new child to its parent besides its arguments: how the
 * parent waits for it and how a daemonic child dies with the parent. The
 * Linux path needs no descriptors (pidfd, PR_SET_PDEATHSIG), the portable
 * one a sentinel pipe per forked child (a spawned child holds only its
 * arguments' descriptors, and is polled) and the parent's watch pipe. */
typedef struct mp__posix_kin {
    int child_end;  /* the child keeps it open for life (-1: none) */
    int parent_end; /* the parent's end of it, ready once the child ends */
    int watch;      /* daemonic: read end that reaches EOF when we die */
    pthread_t by;   /* portable: the thread starting the child */
    struct mp__posix_kin *next; /* portable: the kins being started */
} mp__posix_kin;

/* Before fork (forked) or spawn: fills *k (descriptors close-on-exec). */
int mp__posix_kin_new(mp__posix_kin *k, bool daemon, bool forked);
/* In the parent once the child runs: the handle it waits on (mp__os_proc's
 * h, may be MP__BAD_HANDLE); releases what only the child needed. */
mp__handle mp__posix_kin_parent(mp__posix_kin *k, pid_t pid);
/* When the child could not be started. */
void mp__posix_kin_drop(mp__posix_kin *k);
/* In a forked child: drops the parent's ends and, when daemon, binds the
 * child's life to the parent ppid (exiting if it is already gone). */
int mp__posix_kin_child(mp__posix_kin *k, long ppid, bool daemon);
/* The environment entry that tells a spawned daemonic child where its
 * watch descriptor is. */
#define MP__POSIX_WATCH_ENV "MPROC_WATCH_FD"

/* The path's part of mp__os_init (fork handlers, inherited descriptors). */
int mp__posix_path_init(void);

/* Descriptors made close-on-exec for the time of one spawn: those at or
 * above the soft RLIMIT_NOFILE (a program that lowered its limit below
 * descriptors it holds), which no file action may name. */
typedef struct mp__posix_cloexec {
    int *fd; /* malloc'd */
    size_t n, cap;
} mp__posix_cloexec;

/* Puts back what mp__posix_spawn_close_from marked, after the spawn, and
 * frees the list. */
static inline void mp__posix_cloexec_undo(mp__posix_cloexec *ce) {
    while (ce->n > 0) {
        int fd = ce->fd[--ce->n], fl = fcntl(fd, F_GETFD);
        if (fl != -1)
            fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
    }
    free(ce->fd);
    ce->fd = NULL;
    ce->cap = 0;
}

/* Makes sure a spawned child holds no descriptor at or above `floor`
 * beyond what the file actions place there: adds to fa, returns flags for
 * posix_spawnattr_setflags in *flags, or marks descriptors in *ce (undo
 * with mp__posix_cloexec_undo once spawned, whatever this returned). */
int mp__posix_spawn_close_from(posix_spawn_file_actions_t *fa, int floor,
                               short *flags, mp__posix_cloexec *ce);

#endif
