#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>

#include "os/os_proc.h"
#include "proc/runtime.h"

mp__global mp__g;

int mp__runtime_init(void) {
    if (mp__g.pool)
        return 0;
    if (apr_pool_create(&mp__g.pool, NULL) != APR_SUCCESS ||
        apr_thread_mutex_create(&mp__g.lock, APR_THREAD_MUTEX_DEFAULT,
                                mp__g.pool) != APR_SUCCESS ||
        apr_thread_cond_create(&mp__g.changed, mp__g.pool) != APR_SUCCESS)
        return MP_ENOMEM;
    return mp__os_init();
}

void mp__runtime_lock(void) {
    if (mp__g.lock)
        apr_thread_mutex_lock(mp__g.lock);
}

void mp__runtime_unlock(void) {
    if (mp__g.lock)
        apr_thread_mutex_unlock(mp__g.lock);
}

void mp__runtime_wait(void) {
    apr_thread_cond_wait(mp__g.changed, mp__g.lock);
}

void mp__runtime_broadcast(void) { apr_thread_cond_broadcast(mp__g.changed); }

static mp_start_method platform_method(void) {
    return mp__os_can_fork() ? MP_START_FORK : MP_START_SPAWN;
}

int mp__resolve_method(mp_start_method m, mp_start_method *out) {
    switch (m) {
    case MP_START_DEFAULT:
        m = (mp_start_method)mp__load32(&mp__g.method, MP__ACQUIRE);
        *out = m == MP_START_DEFAULT ? platform_method() : m;
        return 0;
    case MP_START_FORK:
        if (!mp__os_can_fork())
            return MP_ENOTSUP;
        *out = m;
        return 0;
    case MP_START_SPAWN: *out = m; return 0;
    case MP_START_FORKSERVER: return MP_ENOTSUP;
    default: return MP_EINVAL;
    }
}

int mp_set_start_method(mp_start_method method) {
    mp_start_method m;
    if (method == MP_START_DEFAULT)
        return MP_EINVAL;
    int rc = mp__resolve_method(method, &m);
    if (rc)
        return rc;
    mp__store32(&mp__g.method, (uint32_t)m, MP__RELEASE);
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
