/* POSIX backend, portable path: what Linux does with pidfds,
 * PR_SET_PDEATHSIG and closefrom, done with pipes and threads.
 *
 * - Waiting: each forked child holds the write end of a sentinel pipe for
 *   life (CPython's sentinel); the parent's read end becomes readable (EOF)
 *   when the child ends, so several threads and mp_wait can poll it. A
 *   spawned child holds only its arguments' descriptors (as on Linux), so
 *   waits for it poll its state (waitid WNOWAIT) with a back-off.
 * - Daemonic children: the parent keeps a watch pipe whose write end no
 *   other process holds; a daemonic child gets its read end and a thread
 *   that SIGKILLs the child when it reads EOF, i.e. when the parent is
 *   gone however it ended.
 * - Forks: a child must not keep its parent's sentinel or watch write end
 *   (the parent's parent would wait for the grandchild too, or a daemonic
 *   sibling outlive the parent), nor the sentinels of siblings that other
 *   threads are starting at that moment: a fork handler closes them all in
 *   every fork child, the program's own fork() calls included, keeping
 *   only the kin of the thread that forked.
 *
 * A spawned daemonic child finds its watch descriptor in its environment
 * (MPROC_WATCH_FD), honoured only with valid start data and taken out at
 * init (mp__os_spawn_data, posix/os_proc.c). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if !defined(POSIX_SPAWN_CLOEXEC_DEFAULT) && !defined(__FreeBSD__)
#include <dirent.h>
#endif

#include "util/wait_policy.h"
#include "os_posix.h"

static pthread_mutex_t kin_mu = PTHREAD_MUTEX_INITIALIZER;
static int watch_rd = -1, watch_wr = -1; /* this process's watch pipe */
static int own_sentinel = -1;            /* our end of our parent's */
static mp__posix_kin *starting;          /* kins with descriptors, by kin_mu */

/* Under kin_mu. */
static void starting_remove(mp__posix_kin *k) {
    for (mp__posix_kin **pp = &starting; *pp; pp = &(*pp)->next)
        if (*pp == k) {
            *pp = k->next;
            return;
        }
}

static void kin_lock(void) { pthread_mutex_lock(&kin_mu); }
static void kin_unlock(void) { pthread_mutex_unlock(&kin_mu); }

static void kin_forked(void) {
    /* In the child of any fork: these are the parent's. */
    pthread_mutex_unlock(&kin_mu);
    if (watch_wr >= 0)
        close(watch_wr);
    if (watch_rd >= 0)
        close(watch_rd);
    if (own_sentinel >= 0)
        close(own_sentinel);
    watch_rd = watch_wr = own_sentinel = -1;
    /* Other threads' children being started: their ends are theirs. */
    pthread_t me = pthread_self();
    for (mp__posix_kin **pp = &starting; *pp;) {
        mp__posix_kin *k = *pp;
        if (pthread_equal(k->by, me)) {
            pp = &k->next;
            continue;
        }
        int *fds[] = {&k->child_end, &k->parent_end, &k->watch};
        for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
            if (*fds[i] >= 0)
                close(*fds[i]);
        *pp = k->next;
    }
}

int mp__posix_path_init(void) {
    return mp__posix_err(pthread_atfork(kin_lock, kin_unlock, kin_forked));
}

int mp__posix_kin_new(mp__posix_kin *k, bool daemon, bool forked) {
    mp__handle rd, wr;
    int rc = 0;
    k->child_end = k->parent_end = k->watch = -1;
    k->by = pthread_self();
    if (!daemon && !forked)
        return 0;
    pthread_mutex_lock(&kin_mu);
    if (forked && (rc = mp__os_pipe(&rd, &wr)) == 0) {
        k->parent_end = (int)rd;
        k->child_end = (int)wr;
    }
    if (!rc && daemon && watch_rd < 0 && (rc = mp__os_pipe(&rd, &wr)) == 0) {
        watch_rd = (int)rd;
        watch_wr = (int)wr;
    }
    /* A copy per child: the fork handler closes the shared one in it. */
    if (!rc && daemon &&
        (k->watch = fcntl(watch_rd, F_DUPFD_CLOEXEC, 3)) == -1)
        rc = mp__posix_err(errno);
    if (!rc) {
        k->next = starting;
        starting = k;
    }
    pthread_mutex_unlock(&kin_mu);
    if (rc)
        mp__posix_kin_drop(k);
    return rc;
}

mp__handle mp__posix_kin_parent(mp__posix_kin *k, pid_t pid) {
    (void)pid;
    mp__handle h = k->parent_end >= 0 ? k->parent_end : MP__BAD_HANDLE;
    k->parent_end = -1;
    mp__posix_kin_drop(k);
    return h;
}

void mp__posix_kin_drop(mp__posix_kin *k) {
    if (k->child_end < 0 && k->parent_end < 0 && k->watch < 0)
        return; /* never listed, or already taken off */
    pthread_mutex_lock(&kin_mu);
    starting_remove(k);
    pthread_mutex_unlock(&kin_mu);
    int *fds[] = {&k->child_end, &k->parent_end, &k->watch};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
}

long mp__posix_kin_slice_ms(void) { return MP__SLICE_SENTINEL_MS; }

static void *watch_parent(void *arg) {
    int fd = (int)(intptr_t)arg;
    char c;
    ssize_t n;
    while ((n = read(fd, &c, 1)) != 0 && (n > 0 || errno == EINTR))
        ; /* nobody writes: only EOF (or an error) ends this */
    kill(getpid(), SIGKILL);
    return NULL;
}

/* Starts the thread that kills us when the watch pipe's writer is gone
 * (at once when it already is). Takes fd. */
static int bind_watch(int fd, long ppid) {
    if (fd < 0)
        return MP_ESTATE;
    sigset_t all, old;
    sigfillset(&all);
    pthread_attr_t at;
    pthread_t t;
    int e = pthread_attr_init(&at);
    if (e)
        return mp__posix_err(e);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    /* The thread takes no signal meant for the program. */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    e = pthread_create(&t, &at, watch_parent, (void *)(intptr_t)fd);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&at);
    if (e) {
        close(fd);
        return mp__posix_err(e);
    }
    if ((long)getppid() != ppid)
        _exit(1);
    return 0;
}

int mp__os_child_bind_parent(long ppid) {
    return bind_watch(mp__posix_take_watch(), ppid);
}

int mp__posix_kin_child(mp__posix_kin *k, long ppid, bool daemon) {
    pthread_mutex_lock(&kin_mu);
    starting_remove(k);
    pthread_mutex_unlock(&kin_mu);
    close(k->parent_end);
    own_sentinel = k->child_end;
    k->parent_end = k->child_end = -1;
    int fd = k->watch;
    k->watch = -1;
    return daemon ? bind_watch(fd, ppid) : 0;
}

#if !defined(POSIX_SPAWN_CLOEXEC_DEFAULT) && !defined(__FreeBSD__)
static int ce_grow(mp__posix_cloexec *ce) {
    size_t cap = ce->cap ? ce->cap * 2 : 16;
    int *fd = realloc(ce->fd, cap * sizeof *fd);
    if (!fd)
        return -1;
    ce->fd = fd;
    ce->cap = cap;
    return 0;
}
#endif

int mp__posix_spawn_close_from(posix_spawn_file_actions_t *fa, int floor,
                               short *flags, mp__posix_cloexec *ce) {
#if defined(POSIX_SPAWN_CLOEXEC_DEFAULT)
    /* macOS: only what the file actions place survives the exec. */
    (void)fa;
    (void)floor;
    (void)ce;
    *flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;
    return 0;
#elif defined(__FreeBSD__)
    (void)flags;
    (void)ce;
    return mp__posix_err(posix_spawn_file_actions_addclosefrom_np(fa, floor));
#else
    /* A close action for each descriptor open now at or above floor
     * without close-on-exec (the program's own; ours all have it). A
     * descriptor at or above the soft RLIMIT_NOFILE cannot be named in an
     * action (EBADF): it is marked close-on-exec for this spawn instead. */
    (void)flags;
    DIR *d = opendir("/dev/fd");
    if (!d)
        return mp__posix_err(errno);
    int self = dirfd(d), rc = 0;
    long top = sysconf(_SC_OPEN_MAX); /* the soft RLIMIT_NOFILE */
    struct dirent *e;
    while (!rc && (e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end || end == e->d_name || fd < floor || fd == self)
            continue;
        int fl = fcntl((int)fd, F_GETFD);
        if (fl == -1 || (fl & FD_CLOEXEC))
            continue;
        if (top < 0 || fd < top)
            rc = mp__posix_err(posix_spawn_file_actions_addclose(fa, (int)fd));
        else if (ce->n == ce->cap && ce_grow(ce))
            rc = MP_ENOMEM;
        else if (fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC) == 0)
            ce->fd[ce->n++] = (int)fd;
        else
            rc = mp__posix_err(errno);
    }
    closedir(d);
    return rc;
#endif
}
