/* A small mproc program for the bootstrap suite: it records each entry
 * into main, each return of mp_init and each target or task it runs, one
 * line per event in the file MPROC_TEST_BOOT_LOG, so that a test can tell
 * how often each process ran main. What it does after mp_init is chosen by
 * MPROC_TEST_BOOT_MODE:
 *   null     mp_init(NULL, NULL), then a spawned child returning 7, joined
 *   argv     mp_init(&argc, &argv), the same
 *   twice    mp_init(NULL, NULL) then mp_init(&argc, &argv), the same
 *   noenv    as twice, with MPROC_SPAWN taken out of the environment first
 *            (the first call cannot see the start data on POSIX)
 *   pool     mp_init(NULL, NULL), a pool of two spawned workers, a task
 *   early    tries a process start and a pool before mp_init, logs both
 *            results, then mp_init(NULL, NULL)
 *   exit     mp_init(NULL, NULL) after an atexit handler that tries a
 *            process start and a pool (run in a spawned child whose target
 *            is not in this program: the child's bootstrap fails)
 *   fdcheck  mp_init(NULL, NULL), then logs whether descriptor 3 is
 *            close-on-exec (a normal run with MPROC_* entries forged)
 * Every process of a run counts its depth in MPROC_TEST_BOOT_DEPTH; one at
 * depth 2 or more exits at once with 3, so that a program that multiplies
 * itself (the bug this exists to catch) stops after two generations. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

#include "mproc.h"

/* How long this program waits for anything it started. */
#define WAIT_MS 20000L

/* An environment variable's value in buf, or NULL: getenv, which MSVC
 * marks insecure (C4996), is GetEnvironmentVariableA on Windows (where
 * _putenv_s, which set_env uses, sets the process's variables too). */
static const char *env_get(const char *name, char *buf, size_t cap) {
#ifdef _WIN32
    DWORD n = GetEnvironmentVariableA(name, buf, (DWORD)cap);
    return n > 0 && n < cap ? buf : NULL;
#else
    const char *v = getenv(name);
    if (!v || strlen(v) >= cap)
        return NULL;
    memcpy(buf, v, strlen(v) + 1);
    return buf;
#endif
}

static long pid_now(void) {
#ifdef _WIN32
    return (long)GetCurrentProcessId();
#else
    return (long)getpid();
#endif
}

/* Appends "<what> <pid>\n" to the log in one write that no other process's
 * line can split (FILE_APPEND_DATA, O_APPEND). */
static void note(const char *what) {
    char buf[1024], line[128];
    const char *path = env_get("MPROC_TEST_BOOT_LOG", buf, sizeof buf);
    int n = snprintf(line, sizeof line, "%s %ld\n", what, pid_now());
    if (!path || n <= 0 || n >= (int)sizeof line)
        return;
#ifdef _WIN32
    HANDLE h =
        CreateFileA(path, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE,
                    NULL, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    DWORD put;
    if (h != INVALID_HANDLE_VALUE) {
        WriteFile(h, line, (DWORD)n, &put, NULL);
        CloseHandle(h);
    }
#else
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
        if (write(fd, line, (size_t)n) != n)
            fputs("boot_program: short log write\n", stderr);
        close(fd);
    }
#endif
}

static void note_rc(const char *what, int rc) {
    char s[96];
    snprintf(s, sizeof s, "%s=%s", what, mp_err_name(rc));
    note(s);
}

static int set_env(const char *name, const char *value) {
#ifdef _WIN32
    return _putenv_s(name, value ? value : "");
#else
    return value ? setenv(name, value, 1) : unsetenv(name);
#endif
}

static int t_seven(mp_call *c) {
    (void)c;
    note("target");
    return 7;
}

static int t_task(mp_call *c) {
    note("task");
    return mp_call_return_int(c, 42);
}

/* A spawned child returning 7, joined: 0 when that is what came back. */
static int run_child(void) {
    mp_process *p = NULL;
    int code = -1;
    int rc =
        mp_process_new(&p, t_seven, MP_NO_ARGS,
                       &(mp_process_options){.start_method = MP_START_SPAWN});
    if (!rc)
        rc = mp_process_start(p);
    if (!rc)
        rc = mp_process_join(p, WAIT_MS);
    if (!rc)
        rc = mp_process_exitcode(p, &code);
    if (rc == MP_ETIMEDOUT)
        mp_process_kill(p);
    mp_process_free(p);
    note_rc("child", rc);
    return rc ? 1 : code == 7 ? 0 : 2;
}

/* A pool of two spawned workers running one task: 0 when it answered 42. */
static int run_pool(void) {
    mp_pool *pool = NULL;
    mp_result *r = NULL;
    int64_t v = 0;
    int rc =
        mp_pool_new(&pool, &(mp_pool_options){.processes = 2,
                                              .start_method = MP_START_SPAWN});
    if (!rc)
        rc = mp_pool_apply_async(pool, t_task, MP_NO_ARGS, &r);
    if (!rc)
        rc = mp_result_get_int(r, WAIT_MS, &v);
    mp_result_free(r);
    if (pool) {
        mp_pool_terminate(pool);
        mp_pool_free(pool);
    }
    note_rc("pool", rc);
    return rc ? 1 : v == 42 ? 0 : 2;
}

/* What a process that is not allowed to start anything gets when it
 * tries: a process start and a pool, each logged. */
static void try_starts(void) {
    mp_process *p = NULL;
    int rc = mp_process_new(&p, t_seven, MP_NO_ARGS, NULL);
    note_rc("try-start", rc ? rc : mp_process_start(p));
    mp_process_free(p);
    mp_pool *pool = NULL;
    rc =
        mp_pool_new(&pool, &(mp_pool_options){.processes = 1,
                                              .start_method = MP_START_SPAWN});
    note_rc("try-pool", rc);
    if (pool) {
        mp_pool_terminate(pool);
        mp_pool_free(pool);
    }
}

static void at_exit_try(void) { try_starts(); }

static int fd3_cloexec(void) {
#ifdef _WIN32
    return 0;
#else
    int fl = fcntl(3, F_GETFD);
    return fl != -1 && (fl & FD_CLOEXEC);
#endif
}

int main(int argc, char **argv) {
    note("main");
    char dbuf[16], mbuf[16];
    const char *d = env_get("MPROC_TEST_BOOT_DEPTH", dbuf, sizeof dbuf);
    int depth = d ? atoi(d) : 0;
    if (depth >= 2) {
        note("limit");
        return 3;
    }
    char next[16];
    snprintf(next, sizeof next, "%d", depth + 1);
    set_env("MPROC_TEST_BOOT_DEPTH", next);
    const char *m = env_get("MPROC_TEST_BOOT_MODE", mbuf, sizeof mbuf);
    const char *mode = m ? m : "";
    if (strcmp(mode, "early") == 0)
        try_starts();
    if (strcmp(mode, "exit") == 0)
        atexit(at_exit_try);
    if (strcmp(mode, "noenv") == 0)
        set_env("MPROC_SPAWN", NULL);
    bool with_argv = strcmp(mode, "argv") == 0;
    int rc = with_argv ? mp_init(&argc, &argv) : mp_init(NULL, NULL);
    if (!rc && (strcmp(mode, "twice") == 0 || strcmp(mode, "noenv") == 0))
        rc = mp_init(&argc, &argv);
    if (rc) {
        fprintf(stderr, "mp_init: %s\n", mp_strerror(rc));
        return 4;
    }
    note("init");
    if (strcmp(mode, "pool") == 0)
        return run_pool();
    if (strcmp(mode, "fdcheck") == 0) {
        note(fd3_cloexec() ? "cloexec=1" : "cloexec=0");
        return 0;
    }
    if (strcmp(mode, "exit") == 0 || strcmp(mode, "early") == 0)
        return 0;
    return run_child();
}
