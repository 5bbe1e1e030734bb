/* Helpers shared by the POSIX backend's files, and its two seams, both
 * chosen by CMake, never by #if in a shared file:
 * - the path: the Linux one (posix/linux/) or the portable one
 *   (posix/portable/, POSIX.1-2008 alone), MPROC_POSIX_PORTABLE;
 * - the system: what differs by operating system whichever the path
 *   (posix/sys/<os>/: linux, darwin, freebsd, netbsd, openbsd, with
 *   posix/sys/bsd/ shared by the BSDs and posix/sys/elf/ by every system
 *   but macOS), CMAKE_SYSTEM_NAME. */
#ifndef MP_POSIX_OS_POSIX_H
#define MP_POSIX_OS_POSIX_H

#include <pthread.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "base/atomics.h"
#include "os/os_base.h"

/* Bytes of an AF_UNIX path, NUL included (104 on macOS and the BSDs). */
#ifndef MP__SUN_PATH_MAX
#define MP__SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)
#endif

/* The longest shm name the system takes, NUL excluded: a file name's 255
 * (Linux's /dev/shm, the BSDs), or macOS's PSHMNAMLEN, 31, which CMake
 * defines on Darwin (and cmake/macos-emu.h in the emulation). */
#ifndef MP__SHM_NAME_MAX
#define MP__SHM_NAME_MAX 255
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

/* What a look at a process by pid found (mp__posix_proc_probe). */
enum mp__posix_probe {
    MP__POSIX_DEAD,   /* no such pid, or a zombie */
    MP__POSIX_ALIVE,  /* alive, and *start holds its start time */
    MP__POSIX_UNKNOWN /* it exists, or cannot be told */
};

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

/* Whether pid exists, for a system that keeps no start times: MP__POSIX_DEAD
 * or MP__POSIX_UNKNOWN (a zombie passes for alive). */
enum mp__posix_probe mp__posix_probe_kill(pid_t pid);

/* Whether the AF_UNIX socket file at path is a leftover: nobody listens on
 * it (os_conn.c; the portable path's fresh addresses reclaim with it). */
bool mp__posix_sock_dead(const char *path);

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
/* The environment entry that gives every spawned child its start data, for
 * a program that calls mp_init(NULL, NULL): "<dev>:<ino>:<h0>,<h1>,...",
 * dev and ino being those of the descriptor h0 (the blob pipe), so that
 * the entry holds only in the process that holds that pipe. */
#define MP__POSIX_SPAWN_ENV "MPROC_SPAWN"
/* In a spawned child whose start data was valid (mp__os_spawn_data): the
 * watch descriptor named by MP__POSIX_WATCH_ENV, close-on-exec; -1 in any
 * other process, or once taken. */
int mp__posix_take_watch(void);

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

/* How long a wait on the kin's handle may last before the child's state is
 * looked at directly: -1 on the Linux path (a pidfd is ready exactly when
 * the child ends); on the portable one MP__SLICE_SENTINEL_MS, since a
 * sentinel that a fork outside our control inherited stays open after the
 * child ends. */
long mp__posix_kin_slice_ms(void);

/* The CPUs this process may run on (Linux path: its affinity mask), 0 when
 * the path cannot tell (then the count online is used). */
int mp__posix_cpu_affinity(void);

/* An anonymous shared mapping's descriptor, close-on-exec, of `size` zero
 * bytes: a memfd on the Linux path, elsewhere a random shm name removed at
 * once (reserved as mp__posix_shm_reserve says). Nothing is left open on
 * failure. */
int mp__posix_shm_anon(int *fd, size_t size);

/* The socket address of an abstract-namespace name "@name" (Linux path:
 * the length is part of the name, no NUL); MP_ENOTSUP on the portable path,
 * where "./@name" is a file. */
int mp__posix_abstract_addr(struct sockaddr_un *sa, socklen_t *len,
                            const char *addr);
/* A fresh listener address into path (cap bytes): "@mproc-<token>" on the
 * Linux path; on the portable one a socket in a new 0700 directory
 * $TMPDIR/mproc-<pid>-XXXXXX (*dir, malloc'd, to remove with the listener),
 * made after removing those of this user's dead listeners. */
int mp__posix_fresh_addr(char *path, size_t cap, char **dir,
                         const char *token);

/* ---- the system (posix/sys/<os>/) ---- */

/* Looks at process pid: whether it is alive, and when it started (in the
 * system's own unit; only compared with itself): /proc/<pid>/stat on
 * Linux, sysctl(KERN_PROC_PID) on macOS and FreeBSD, elsewhere only
 * whether the pid exists (mp__posix_probe_kill). */
enum mp__posix_probe mp__posix_proc_probe(pid_t pid, uint64_t *start);

/* The running program, to start it again when mp_set_executable was not
 * called: Linux's /proc/self/exe, macOS's _NSGetExecutablePath, the
 * kernel's record on FreeBSD and NetBSD; MP_ENOTSUP on OpenBSD, which
 * keeps none (the program must call mp_set_executable). *own: NULL or what
 * *exe points into, to free, whatever this returned. */
int mp__posix_self_exe(const char **exe, char **own);

/* Takes the pages of a shm_open object of `size` bytes now (Linux: a full
 * /dev/shm is then an error here, not a SIGBUS at the first touch);
 * elsewhere the object stays sparse. */
int mp__posix_shm_reserve(int fd, size_t size);
/* The file that is shm object nm, where the system keeps them as files one
 * can look at without opening them (Linux's /dev/shm); false elsewhere. */
bool mp__posix_shm_file(char *out, size_t cap, const char *nm);
/* What every shm_open of a name adds to its flags: O_NOFOLLOW where the
 * objects are files (Linux's /dev/shm, where another user may plant a link
 * at a name), 0 where they are not and shm_open refuses flags it does not
 * know (FreeBSD: EINVAL). */
extern const int mp__posix_shm_nofollow;
/* Whether the process at the other end of a connected AF_UNIX socket may
 * talk to us: our effective user or root, as a 0600 socket file admits.
 * Linux (either path): SO_PEERCRED; macOS and the BSDs: getpeereid. False
 * when it cannot be told. */
bool mp__posix_peer_ok(int fd);
/* The directory whose entries are the shm objects, to list them (Linux,
 * and the BSDs if mounted so: /dev/shm); NULL where they cannot be listed
 * (macOS). */
const char *mp__posix_shm_dir(void);

#endif
