/* POSIX backend, portable path: no abstract namespace, so a fresh
 * listener address is a socket in a new 0700 directory
 * $TMPDIR/mproc-<pid>-XXXXXX, and the directories that killed listeners
 * leave are removed by the next fresh listener of the same user. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "os_posix.h"

/* "./@name" is a file. */
int mp__posix_abstract_addr(struct sockaddr_un *sa, socklen_t *len,
                            const char *addr) {
    (void)sa;
    (void)len;
    (void)addr;
    return MP_ENOTSUP;
}

#define FRESH_PREFIX "mproc-"

/* Whether name is a fresh address's directory (mproc-<pid>-XXXXXX), and
 * whose. */
static bool fresh_dir_name(const char *name, long *pid) {
    const char *p = name + sizeof FRESH_PREFIX - 1;
    if (strncmp(name, FRESH_PREFIX, sizeof FRESH_PREFIX - 1) != 0 ||
        *p < '1' || *p > '9')
        return false;
    char *end;
    *pid = strtol(p, &end, 10);
    return *end == '-' && strlen(end + 1) == 6;
}

/* Removes a killed listener's directory: its dead sockets, then itself
 * (left alone if anything else is in it). */
static void reclaim_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] == 'l' && n > 0 && (size_t)n < sizeof path &&
            mp__posix_sock_dead(path))
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* The directories of this user's fresh listeners whose process is gone
 * (the directory is only reclaimed if its socket is dead too, since a
 * forked child may still hold the listener). */
static void reclaim(const char *tmp) {
    DIR *d = opendir(tmp);
    if (!d)
        return;
    struct dirent *e;
    char dir[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        long pid;
        struct stat st;
        if (!fresh_dir_name(e->d_name, &pid) || pid > INT_MAX ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        int n = snprintf(dir, sizeof dir, "%s/%s", tmp, e->d_name);
        if (n > 0 && (size_t)n < sizeof dir && lstat(dir, &st) == 0 &&
            S_ISDIR(st.st_mode) && st.st_uid == geteuid())
            reclaim_dir(dir);
    }
    closedir(d);
}

/* A new 0700 directory for a fresh address, and the socket path in it. */
int mp__posix_fresh_addr(char *path, size_t cap, char **dir_out,
                         const char *token) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    char dir[PATH_MAX];
    int n = snprintf(dir, sizeof dir, "%s/" FRESH_PREFIX "%ld-XXXXXX", tmp,
                     (long)getpid());
    if (n < 0 || (size_t)n >= sizeof dir)
        return MP_EINVAL;
    /* The length is checked before anything exists to clean up. */
    n = snprintf(path, cap, "%s/l-%.8s", dir, token);
    if (n < 0 || (size_t)n >= cap)
        return MP_EINVAL;
    reclaim(tmp);
    if (!mkdtemp(dir))
        return mp__posix_err(errno);
    if (!(*dir_out = strdup(dir))) {
        rmdir(dir);
        return MP_ENOMEM;
    }
    /* mkdtemp filled in the XXXXXX: the path's prefix, same length. */
    memcpy(path, dir, strlen(dir));
    return 0;
}
