/* POSIX backend: processes (fork, posix_spawn, waits on the handle the
 * path's kin gives: a pidfd on Linux, a sentinel pipe elsewhere). Locating
 * a function in another run of the program is the system's: dl_iterate_phdr
 * (sys/elf/os_fnloc.c), dyld's image list on macOS (sys/darwin/). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "os/os_base.h"
#include "os/os_proc.h"
#include "util/wait_policy.h"
#include "os_posix.h"

extern char **environ;

bool mp__os_can_fork(void) { return true; }

int mp__os_fork(mp__os_proc *out, bool daemon, bool *is_child) {
    long parent = (long)getpid();
    mp__posix_kin kin;
    int rc = mp__posix_kin_new(&kin, daemon, true);
    if (rc)
        return rc;
    pid_t pid = fork();
    if (pid < 0) {
        rc = errno == EAGAIN ? MP_ELIMIT : mp__posix_err(errno);
        mp__posix_kin_drop(&kin);
        return rc;
    }
    if (pid == 0) {
        *is_child = true;
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 0);
            if (fd != 0)
                close(fd);
        }
        if (mp__posix_kin_child(&kin, parent, daemon) != 0)
            _exit(1);
        out->pid = (long)getpid();
        out->h = MP__BAD_HANDLE;
        return 0;
    }
    *is_child = false;
    out->pid = (long)pid;
    out->h = mp__posix_kin_parent(&kin, pid);
    return 0;
}

/* Builds "3,4,5,..." for n handles. */
static char *handle_list(size_t n) {
    char *s = malloc(n * 12 + 1), *p = s;
    if (!s)
        return NULL;
    *p = '\0';
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, i ? ",%zu" : "%zu", 3 + i);
    return s;
}

static bool is_entry(const char *e, const char *name) {
    size_t n = strlen(name);
    return strncmp(e, name, n) == 0 && e[n] == '=';
}

/* One spawn's state, released by spawn_end whatever happened. */
typedef struct spawn_job {
    const char *exe;
    char *own_exe; /* what exe points into, when we looked it up */
    char *hl;      /* argv's handle list, "3,4,..." */
    int *tmp;      /* the child's descriptors, moved to floor.. */
    size_t ntmp;   /* how many tmp holds */
    int floor;     /* the first number above those the child gets */
    char **env;    /* environ, or the child's (child_env, borrowing) */
    char *entry;   /* its MP__POSIX_SPAWN_ENV entry */
    char *watch;   /* its MP__POSIX_WATCH_ENV entry */
    mp__posix_kin kin;
    bool kin_ok, fa_ok, at_ok;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    short flags;          /* for posix_spawnattr_setflags */
    mp__posix_cloexec ce; /* marked for the time of the spawn */
} spawn_job;

/* A spawned child's environment: ours without the library's entries
 * (stale ones, or a user's), plus its start data (MP__POSIX_SPAWN_ENV,
 * naming the identity of its first handle) and, for a daemonic child on
 * the portable path, its watch descriptor (MP__POSIX_WATCH_ENV). j->env
 * borrows environ's strings; the entries are j's own. */
static int child_env(spawn_job *j, const mp__spawn_req *req) {
    struct stat st;
    if (req->nhandles == 0)
        return MP_EINVAL;
    if (fstat((int)req->handles[0], &st) == -1)
        return mp__posix_err(errno);
    size_t n = 0;
    while (environ[n])
        n++;
    size_t cap = sizeof MP__POSIX_SPAWN_ENV + 2 * 21 + strlen(j->hl) + 2;
    char **env = calloc(n + 3, sizeof(char *));
    j->entry = malloc(cap);
    j->watch = malloc(sizeof MP__POSIX_WATCH_ENV + 16);
    if (!env || !j->entry || !j->watch) {
        free(env);
        return MP_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_entry(environ[i], MP__POSIX_SPAWN_ENV) &&
            !is_entry(environ[i], MP__POSIX_WATCH_ENV))
            env[k++] = environ[i];
    snprintf(j->entry, cap, "%s=%llu:%llu:%s", MP__POSIX_SPAWN_ENV,
             (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
             j->hl);
    env[k++] = j->entry;
    if (j->kin.watch >= 0) {
        sprintf(j->watch, "%s=%d", MP__POSIX_WATCH_ENV, j->floor - 1);
        env[k++] = j->watch;
    }
    j->env = env;
    return 0;
}

/* The program, its handle list, the kin, and the child's descriptors
 * moved above the range they will be placed in. */
static int spawn_prepare(spawn_job *j, const mp__spawn_req *req) {
    int rc;
    if (!j->exe && (rc = mp__posix_self_exe(&j->exe, &j->own_exe)))
        return rc;
    size_t nput = req->nhandles;
    j->tmp = calloc(nput + 2, sizeof(int));
    j->hl = handle_list(nput);
    if (!j->tmp || !j->hl)
        return MP_ENOMEM;
    if ((rc = mp__posix_kin_new(&j->kin, req->daemon, false)))
        return rc;
    j->kin_ok = true;
    /* What the child gets: its handles at 3.., then the kin's descriptors
     * (named in its environment). */
    int extra[2], nextra = 0;
    if (j->kin.child_end >= 0)
        extra[nextra++] = j->kin.child_end;
    if (j->kin.watch >= 0)
        extra[nextra++] = j->kin.watch;
    /* Move the sources above the target range first, so that placing
     * handle i at 3+i never clobbers a handle still to be placed. */
    j->floor = 3 + (int)nput + nextra;
    for (; j->ntmp < nput + (size_t)nextra; j->ntmp++) {
        size_t i = j->ntmp;
        int src = i < nput ? (int)req->handles[i] : extra[i - nput];
        if ((j->tmp[i] = fcntl(src, F_DUPFD_CLOEXEC, j->floor)) == -1)
            return mp__posix_err(errno);
    }
    return child_env(j, req);
}

/* The file actions: stdin from /dev/null, the descriptors at 3.., and
 * nothing else at or above the floor. */
static int spawn_actions(spawn_job *j) {
    int rc = mp__posix_err(posix_spawn_file_actions_init(&j->fa));
    if (rc)
        return rc;
    j->fa_ok = true;
    rc = mp__posix_err(
        posix_spawn_file_actions_addopen(&j->fa, 0, "/dev/null", O_RDONLY, 0));
    for (size_t i = 0; !rc && i < j->ntmp; i++)
        rc = mp__posix_err(
            posix_spawn_file_actions_adddup2(&j->fa, j->tmp[i], 3 + (int)i));
    /* Descriptors the program opened without O_CLOEXEC must not leak. */
    j->flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (!rc)
        rc = mp__posix_spawn_close_from(&j->fa, j->floor, &j->flags, &j->ce);
    return rc;
}

/* The attributes: SIGPIPE back to its default, no signal blocked. */
static int spawn_attrs(spawn_job *j) {
    int rc = mp__posix_err(posix_spawnattr_init(&j->at));
    if (rc)
        return rc;
    j->at_ok = true;
    sigset_t def, none;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigemptyset(&none);
    rc = mp__posix_err(posix_spawnattr_setsigdefault(&j->at, &def));
    if (!rc)
        rc = mp__posix_err(posix_spawnattr_setsigmask(&j->at, &none));
    if (!rc)
        rc = mp__posix_err(posix_spawnattr_setflags(&j->at, j->flags));
    return rc;
}

static int spawn_run(spawn_job *j, mp__os_proc *out) {
    char *argv[] = {(char *)j->exe, (char *)MP__SPAWN_FLAG, j->hl, NULL};
    pid_t pid;
    int e = posix_spawn(&pid, j->exe, &j->fa, &j->at, argv, j->env);
    if (e)
        return e == EAGAIN ? MP_ELIMIT : mp__posix_err(e);
    out->pid = (long)pid;
    out->h = mp__posix_kin_parent(&j->kin, pid);
    j->kin_ok = false;
    return 0;
}

static void spawn_end(spawn_job *j) {
    mp__posix_cloexec_undo(&j->ce);
    for (size_t i = 0; i < j->ntmp; i++)
        close(j->tmp[i]);
    if (j->kin_ok)
        mp__posix_kin_drop(&j->kin);
    if (j->fa_ok)
        posix_spawn_file_actions_destroy(&j->fa);
    if (j->at_ok)
        posix_spawnattr_destroy(&j->at);
    if (j->env != environ)
        free(j->env);
    free(j->entry);
    free(j->watch);
    free(j->tmp);
    free(j->hl);
    free(j->own_exe);
}

int mp__os_spawn(const mp__spawn_req *req, mp__os_proc *out) {
    spawn_job j = {.exe = req->exe,
                   .env = environ,
                   .kin = {.child_end = -1, .parent_end = -1, .watch = -1}};
    int rc = spawn_prepare(&j, req);
    if (!rc)
        rc = spawn_actions(&j);
    if (!rc)
        rc = spawn_attrs(&j);
    if (!rc)
        rc = spawn_run(&j, out);
    spawn_end(&j);
    return rc;
}

/* Every descriptor is inherited: nothing is sent (mp__os_spawn writes
 * nothing to req->sent). */
int mp__os_handle_recv(mp__handle *h, mp__rbuf *r) {
    (void)h;
    (void)r;
    return 0;
}

int mp__os_handle_check(mp__handle h) {
    return h >= 0 && h <= INT_MAX && fcntl((int)h, F_GETFD) != -1 ? 0
                                                                  : MP_EINVAL;
}

void mp__os_handle_adopt(mp__handle h) {
    int fl = fcntl((int)h, F_GETFD);
    if (fl != -1 && !(fl & FD_CLOEXEC))
        fcntl((int)h, F_SETFD, fl | FD_CLOEXEC);
}

/* ---- in a spawned child ---- */

static int spawn_watch = -1; /* mp__posix_take_watch's */

int mp__posix_take_watch(void) {
    int fd = spawn_watch;
    spawn_watch = -1;
    return fd;
}

/* The handle list of a MP__POSIX_SPAWN_ENV value, "<dev>:<ino>:<list>",
 * when the first descriptor of the list is the file dev and ino name;
 * NULL otherwise. */
static char *valid_list(char *v) {
    char *end, *ino_at, *list;
    unsigned long long dev = strtoull(v, &end, 10), ino;
    if (end == v || *end != ':')
        return NULL;
    ino = strtoull(ino_at = end + 1, &end, 10);
    if (end == ino_at || *end != ':')
        return NULL;
    long fd = strtol(list = end + 1, &end, 10);
    struct stat st;
    if (end == list || fd < 0 || fd > INT_MAX || fstat((int)fd, &st) == -1)
        return NULL;
    if ((unsigned long long)st.st_dev != dev ||
        (unsigned long long)st.st_ino != ino)
        return NULL;
    return list;
}

int mp__os_spawn_data(char **handles) {
    const char *sv = getenv(MP__POSIX_SPAWN_ENV);
    const char *wv = getenv(MP__POSIX_WATCH_ENV);
    char *v = sv ? strdup(sv) : NULL;
    int fd = wv ? atoi(wv) : -1;
    unsetenv(MP__POSIX_SPAWN_ENV);
    unsetenv(MP__POSIX_WATCH_ENV);
    char *list = v ? valid_list(v) : NULL;
    *handles = NULL;
    if (sv && !v)
        return MP_ENOMEM;
    if (!list) {
        free(v);
        return 0;
    }
    memmove(v, list, strlen(list) + 1);
    *handles = v;
    if (fd > 2 && fcntl(fd, F_SETFD, FD_CLOEXEC) == 0)
        spawn_watch = fd;
    return 1;
}

static bool has_ended(const mp__os_proc *p) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1)
        return errno == ECHILD;
    return si.si_pid != 0;
}

int mp__os_proc_wait(mp__os_proc *p, mp__deadline d) {
    int rc;
    if (p->h != MP__BAD_HANDLE) {
        long slice = mp__posix_kin_slice_ms();
        for (;;) {
            long ms = mp__deadline_left_ms(d, &rc);
            if (slice >= 0 && (ms < 0 || ms > slice))
                ms = slice;
            struct pollfd pfd = {(int)p->h, POLLIN, 0};
            int n = poll(&pfd, 1, ms > INT_MAX ? INT_MAX : (int)ms);
            if (n > 0)
                break;
            if (n == 0 && rc)
                return rc;
            if (n < 0 && errno != EINTR)
                return mp__posix_err(errno);
            if (n == 0 && slice >= 0 && has_ended(p))
                return 0;
        }
    }
    /* No handle, or a sentinel pipe, whose end comes as the child exits,
     * just before it can be reaped (or early, should the child close it):
     * poll the child's state with a growing back-off. */
    mp__backoff b = MP__BACKOFF_CHILD;
    while (!has_ended(p))
        if ((rc = mp__backoff_wait(&b, d)))
            return rc;
    return 0;
}

int mp__os_proc_reap(mp__os_proc *p, int *code) {
    int status;
    pid_t r;
    do
        r = waitpid((pid_t)p->pid, &status, WNOHANG);
    while (r == -1 && errno == EINTR);
    if (r == 0)
        return MP_ESTATE;
    if (r == -1)
        return mp__posix_err(errno);
    if (WIFEXITED(status))
        *code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        *code = -WTERMSIG(status);
    else
        *code = -1;
    return 0;
}

int mp__os_proc_signal(mp__os_proc *p, enum mp__os_signal sig) {
    if (kill((pid_t)p->pid, sig == MP__OS_KILL ? SIGKILL : SIGTERM) == -1)
        return errno == ESRCH ? 0 : mp__posix_err(errno);
    return 0;
}

void mp__os_proc_close(mp__os_proc *p) {
    mp__os_close(p->h);
    p->h = MP__BAD_HANDLE;
}
