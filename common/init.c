#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_thread_proc.h>

#include "internal.h"

mp__global mp__g;

void mp__lock(void) { apr_thread_mutex_lock(mp__g.lock); }
void mp__unlock(void) { apr_thread_mutex_unlock(mp__g.lock); }

/* fork() must not happen while another thread holds the library lock, or
 * the child would inherit it locked: take it around fork, and in the child
 * start with an empty registry (the parent's children are not ours). */
static void atfork_prepare(void) { mp__lock(); }
static void atfork_parent(void) { mp__unlock(); }
static void atfork_child(void) {
    mp__registry_forget_all();
    mp__unlock();
}

static void at_exit(void) {
    if (mp__g.inited)
        mp__registry_at_exit();
}

static mp_start_method default_method(void) {
    return mp__os_can_fork() ? MP_START_FORK : MP_START_SPAWN;
}

int mp_init(int *argc, char ***argv) {
    static bool atexit_done;
    if (mp__g.inited)
        return 0;
    if (apr_initialize() != APR_SUCCESS)
        return MP_ESYS;
    if (!mp__g.pool) {
        if (apr_pool_create(&mp__g.pool, NULL) != APR_SUCCESS ||
            apr_thread_mutex_create(&mp__g.lock, APR_THREAD_MUTEX_DEFAULT,
                                    mp__g.pool) != APR_SUCCESS)
            return MP_ENOMEM;
        int rc = mp__os_init();
        if (!rc)
            rc = mp__os_atfork(atfork_prepare, atfork_parent, atfork_child);
        if (rc)
            return rc;
    }
    if (!atexit_done) {
        if (atexit(at_exit) != 0)
            return MP_ENOMEM;
        atexit_done = true;
    }
    if (!mp__g.name[0])
        mp__set_current_name("MainProcess");
    mp__g.method = default_method();
    mp__g.inited = true;
    if (argc && argv && *argc >= 3 && (*argv)[1] &&
        strcmp((*argv)[1], MP__SPAWN_FLAG) == 0)
        mp__spawn_child_main((*argv)[2]);
    return 0;
}

void mp_shutdown(void) {
    if (!mp__g.inited)
        return;
    mp__registry_at_exit();
    mp__g.inited = false;
    free(mp__g.exe);
    mp__g.exe = NULL;
}

int mp__resolve_method(mp_start_method m, mp_start_method *out) {
    switch (m) {
    case MP_START_DEFAULT:
        *out = mp__g.inited ? mp__g.method : default_method();
        return 0;
    case MP_START_FORK:
        if (!mp__os_can_fork())
            return MP_ENOTSUP;
        *out = m;
        return 0;
    case MP_START_SPAWN:
        *out = m;
        return 0;
    case MP_START_FORKSERVER:
        return MP_ENOTSUP;
    default:
        return MP_EINVAL;
    }
}

int mp_set_start_method(mp_start_method method) {
    mp_start_method m;
    if (method == MP_START_DEFAULT)
        return MP_EINVAL;
    int rc = mp__resolve_method(method, &m);
    if (rc)
        return rc;
    mp__g.method = m;
    return 0;
}

mp_start_method mp_get_start_method(void) {
    mp_start_method m;
    mp__resolve_method(MP_START_DEFAULT, &m);
    return m;
}

int mp_set_executable(const char *path) {
    char *copy = NULL;
    if (path) {
        size_t n = strlen(path);
        if (n == 0 || n >= MP__MODULE_MAX)
            return MP_EINVAL;
        if (!(copy = malloc(n + 1)))
            return MP_ENOMEM;
        memcpy(copy, path, n + 1);
    }
    free(mp__g.exe);
    mp__g.exe = copy;
    return 0;
}

int mp_cpu_count(void) {
    int n = mp__os_cpu_count();
    return n > 0 ? n : 1;
}

long mp_getpid(void) { return mp__os_getpid(); }
long mp_getppid(void) { return mp__os_getppid(); }

void mp__set_current_name(const char *name) {
    snprintf(mp__g.name, sizeof mp__g.name, "%s", name);
}

const char *mp_current_name(void) {
    return mp__g.name[0] ? mp__g.name : "MainProcess";
}
