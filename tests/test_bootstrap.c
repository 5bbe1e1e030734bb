/* How a spawned child begins: whatever happens to the child before it has
 * read its start data, the parent's start returns, and a program never
 * multiplies itself. */
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
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "testutil.h"

#ifndef MPROC_TEST_BOOT_EXE
#error "MPROC_TEST_BOOT_EXE must name the bootstrap helper program"
#endif

#ifndef _WIN32
extern char **environ;
#endif

/* Set in the environment of the other program (tests/other_program.c): it
 * then exits at once, before mp_init, without reading anything. */
#define EXIT_AT_ONCE "MPROC_TEST_EXIT_AT_ONCE"

static int set_env(const char *name, const char *value) {
#ifdef _WIN32
    return _putenv_s(name, value ? value : "");
#else
    return value ? setenv(name, value, 1) : unsetenv(name);
#endif
}

static int t_never_runs(mp_call *c) {
    (void)c;
    return 99;
}

/* In a child of the test, so that a start that hangs fails the test when
 * the child's join times out, instead of hanging the suite: starts a
 * program that exits without reading its start data, with far more
 * argument bytes than a pipe holds, and reports 0 when the start returned
 * and the program's exit code (0) came back. */
static int t_start_dead_reader(mp_call *c) {
    (void)c;
    enum { BIG = 512 * 1024 };
    char *bytes = calloc(1, BIG);
    if (!bytes || set_env(EXIT_AT_ONCE, "1") ||
        mp_set_executable(MPROC_TEST_OTHER_EXE))
        return 1;
    mp_process *p = NULL;
    int rc =
        mp_process_new(&p, t_never_runs, MP_ARGS(mp_bytes(bytes, BIG)),
                       &(mp_process_options){.start_method = MP_START_SPAWN});
    if (!rc)
        rc = mp_process_start(p);
    int code = -1;
    if (!rc)
        rc = mp_process_join(p, MP_TEST_CHILD_TIMEOUT_MS / 2);
    if (!rc)
        rc = mp_process_exitcode(p, &code);
    mp_process_free(p);
    free(bytes);
    if (rc)
        fprintf(stderr, "start of a dead reader: %s\n", mp_err_name(rc));
    return rc ? 2 : code == 0 ? 0 : 3;
}

/* A spawned child that dies before reading its start data never leaves the
 * parent's mp_process_start blocked on a full pipe. */
static void test_dead_reader_does_not_block_start(void) {
    mp_process *p =
        mp_test_start(t_start_dead_reader, MP_NO_ARGS, mp_test_method());
    CU_ASSERT_EQUAL(mp_test_finish(p, MP_TEST_CHILD_TIMEOUT_MS), 0);
}

/* ---- the boot program (tests/boot_program.c), run as a plain program ---- */

/* How long a run of the boot program may take: it spawns at most a child
 * or a pool, each awaited for 20 s at most, and a program that multiplies
 * itself stops after two generations (its depth counter). */
#define RUN_MS 90000L

/* What one run of the boot program is given besides its mode. */
typedef struct boot_run {
    const char *mode;
    const char *exe;  /* NULL: the boot program */
    const char *arg1; /* argv[1] and argv[2], or NULL */
    const char *arg2;
    const char *err_path; /* its stderr, or NULL: ours */
    int fd3;              /* POSIX: placed at 3 in it, or -1 */
} boot_run;

static int boot_runs;

/* A fresh log path for one run (removed by log_done). */
static void log_path(char *out, size_t cap) {
    snprintf(out, cap, "%s/boot-%d.log", mp_test_tmpdir(), ++boot_runs);
    remove(out);
}

static void log_done(const char *path) { remove(path); }

/* How many lines of the log begin with the word `what` (followed by a
 * space: "main 1234"). */
static int count(const char *log, const char *what) {
    size_t n = strlen(what);
    int k = 0;
    for (const char *l = log; *l;) {
        if (strncmp(l, what, n) == 0 && l[n] == ' ')
            k++;
        const char *nl = strchr(l, '\n');
        if (!nl)
            break;
        l = nl + 1;
    }
    return k;
}

/* Whether no process logged `what` twice (each line ends with its pid). */
static bool once_each(const char *log, const char *what) {
    size_t n = strlen(what);
    for (const char *l = log; *l;) {
        const char *nl = strchr(l, '\n');
        if (strncmp(l, what, n) == 0 && l[n] == ' ' && nl) {
            long pid = atol(l + n + 1);
            for (const char *m = nl + 1; *m;) {
                if (strncmp(m, what, n) == 0 && m[n] == ' ' &&
                    atol(m + n + 1) == pid)
                    return false;
                const char *mn = strchr(m, '\n');
                if (!mn)
                    break;
                m = mn + 1;
            }
        }
        if (!nl)
            break;
        l = nl + 1;
    }
    return true;
}

static void read_log(const char *path, char *buf, size_t cap) {
    if (mp_test_read_file(path, buf, cap) != 0)
        buf[0] = '\0';
}

#ifdef _WIN32
/* Starts the program with CreateProcessW and waits up to RUN_MS: its exit
 * code, or -1000 (not started, or killed when the time ran out). */
static int run_program(const boot_run *r) {
    const char *exe = r->exe ? r->exe : MPROC_TEST_BOOT_EXE;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "\"%s\"%s%s%s%s", exe, r->arg1 ? " " : "",
             r->arg1 ? r->arg1 : "", r->arg2 ? " " : "",
             r->arg2 ? r->arg2 : "");
    wchar_t wexe[1024], wcmd[2048];
    if (!MultiByteToWideChar(CP_ACP, 0, exe, -1, wexe, 1024) ||
        !MultiByteToWideChar(CP_ACP, 0, cmd, -1, wcmd, 2048))
        return -1000;
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    if (!CreateProcessW(wexe, wcmd, NULL, NULL, FALSE, 0, NULL, NULL, &si,
                        &pi))
        return -1000;
    CloseHandle(pi.hThread);
    DWORD code = (DWORD)-1;
    int rc = -1000;
    if (WaitForSingleObject(pi.hProcess, (DWORD)RUN_MS) == WAIT_OBJECT_0 &&
        GetExitCodeProcess(pi.hProcess, &code))
        rc = (int)code;
    else {
        fprintf(stderr, "boot program (%s) did not end in %ld ms\n", r->mode,
                RUN_MS);
        TerminateProcess(pi.hProcess, 1);
        WaitForSingleObject(pi.hProcess, 10000);
    }
    CloseHandle(pi.hProcess);
    return rc;
}
#else
/* Starts the program with posix_spawn in a process group of its own, and
 * waits up to RUN_MS: its exit code (-signal), or -1000 (not started, or
 * the group killed when the time ran out, so that a program multiplying
 * itself cannot outlive the test). */
static int run_program(const boot_run *r) {
    const char *exe = r->exe ? r->exe : MPROC_TEST_BOOT_EXE;
    char *argv[] = {(char *)exe, (char *)r->arg1, (char *)r->arg2, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    if (r->err_path)
        posix_spawn_file_actions_addopen(&fa, 2, r->err_path,
                                         O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (r->fd3 >= 0)
        posix_spawn_file_actions_adddup2(&fa, r->fd3, 3);
    pid_t pid;
    int e = posix_spawn(&pid, exe, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (e) {
        fprintf(stderr, "posix_spawn %s: %s\n", exe, strerror(e));
        return -1000;
    }
    int64_t end = mp_test_now_ms() + RUN_MS;
    int status;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && mp_test_now_ms() < end)
        mp_test_sleep_ms(5); /* a bounded poll for its end */
    if (w == pid)
        return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    fprintf(stderr, "boot program (%s) did not end in %ld ms\n", r->mode,
            RUN_MS);
    kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
        ;
    return -1000;
}
#endif

/* Runs the boot program in `r->mode` with a fresh log, which it reads into
 * log: the exit code as run_program. */
static int run_boot(const boot_run *r, char *log, size_t cap) {
    char path[600];
    log_path(path, sizeof path);
    set_env("MPROC_TEST_BOOT_MODE", r->mode);
    set_env("MPROC_TEST_BOOT_LOG", path);
    set_env("MPROC_TEST_BOOT_DEPTH", NULL);
    int code = run_program(r);
    set_env("MPROC_TEST_BOOT_MODE", NULL);
    set_env("MPROC_TEST_BOOT_LOG", NULL);
    read_log(path, log, cap);
    log_done(path);
    return code;
}

enum { LOG_CAP = 1 << 16 };

/* A program that spawns one child: main runs once in each process (twice
 * in all), mp_init returns in the parent only, the child runs its target
 * and the parent gets its 7. Nothing reaches the depth limit. */
static void check_one_child(const char *mode) {
    static char log[LOG_CAP];
    boot_run r = {mode, NULL, NULL, NULL, NULL, -1};
    CU_ASSERT_EQUAL(run_boot(&r, log, sizeof log), 0);
    CU_ASSERT_EQUAL(count(log, "main"), 2);
    CU_ASSERT(once_each(log, "main"));
    CU_ASSERT_EQUAL(count(log, "init"), 1);
    CU_ASSERT_EQUAL(count(log, "target"), 1);
    CU_ASSERT_EQUAL(count(log, "child=MP_OK"), 1);
    CU_ASSERT_EQUAL(count(log, "limit"), 0);
    if (count(log, "main") != 2)
        fprintf(stderr, "%s log:\n%.2000s\n", mode, log);
}

/* mp_init(NULL, NULL) in a spawned child runs the target, not main's work:
 * the program does not multiply (issue 22: 5 589 entries into main in
 * 20 s). */
static void test_init_null_runs_main_once(void) { check_one_child("null"); }

/* mp_init(&argc, &argv) likewise (it always did). */
static void test_init_argv_runs_main_once(void) { check_one_child("argv"); }

/* mp_init(NULL, NULL) then mp_init(&argc, &argv): the first call runs the
 * child's target; the second, a no-op, is never reached there. */
static void test_init_twice_runs_target(void) { check_one_child("twice"); }

/* The same with MPROC_SPAWN taken out of the child's environment before
 * mp_init: on POSIX the first call sees no start data and returns, and the
 * second, given argv, runs the target (Windows reads the command line, so
 * the first call runs it there). */
static void test_init_twice_without_env_runs_target(void) {
    check_one_child("noenv");
}

/* A pool with spawned workers in a program that calls mp_init(NULL, NULL):
 * main runs once in the parent and at most once in each of the two
 * workers (the one that served no task may be terminated before it gets
 * so far), which serve the task instead of running main's work. */
static void test_pool_from_init_null_runs_main_once(void) {
    static char log[LOG_CAP];
    boot_run r = {"pool", NULL, NULL, NULL, NULL, -1};
    CU_ASSERT_EQUAL(run_boot(&r, log, sizeof log), 0);
    CU_ASSERT(count(log, "main") >= 2 && count(log, "main") <= 3);
    CU_ASSERT(once_each(log, "main"));
    CU_ASSERT_EQUAL(count(log, "init"), 1);
    CU_ASSERT_EQUAL(count(log, "task"), 1);
    CU_ASSERT_EQUAL(count(log, "pool=MP_OK"), 1);
    CU_ASSERT_EQUAL(count(log, "limit"), 0);
    if (count(log, "init") != 1)
        fprintf(stderr, "pool log:\n%.2000s\n", log);
}

/* Before mp_init a process start and a pool are MP_ESTATE, and mp_init
 * then works as usual. */
static void test_calls_before_init_are_refused(void) {
    static char log[LOG_CAP];
    boot_run r = {"early", NULL, NULL, NULL, NULL, -1};
    CU_ASSERT_EQUAL(run_boot(&r, log, sizeof log), 0);
    CU_ASSERT_EQUAL(count(log, "try-start=MP_ESTATE"), 1);
    CU_ASSERT_EQUAL(count(log, "try-pool=MP_ESTATE"), 1);
    CU_ASSERT_EQUAL(count(log, "init"), 1);
}

/* A spawned child whose program (mp_init(NULL, NULL)) does not hold the
 * target: join reports MP_ETARGET, the exit status is MP_EXIT_BOOTSTRAP,
 * main's work never runs, and the program's atexit handler, run as the
 * child exits before its target, is refused a process and a pool
 * (MP_ESTATE: the bootstrapping phase) instead of spawning again. */
static void test_missing_target_in_init_null_child(void) {
    static char log[LOG_CAP];
    char path[600];
    log_path(path, sizeof path);
    set_env("MPROC_TEST_BOOT_MODE", "exit");
    set_env("MPROC_TEST_BOOT_LOG", path);
    set_env("MPROC_TEST_BOOT_DEPTH", NULL);
    MP_CHECK_OK(mp_set_executable(MPROC_TEST_BOOT_EXE));
    mp_process *p = mp_test_start(t_never_runs, MP_NO_ARGS, MP_START_SPAWN);
    MP_CHECK_OK(mp_set_executable(NULL));
    int code = 0;
    MP_CHECK_RC(mp_process_join(p, MP_TEST_CHILD_TIMEOUT_MS), MP_ETARGET);
    MP_CHECK_RC(mp_process_exitcode(p, &code), MP_ETARGET);
    CU_ASSERT_EQUAL(code, MP_EXIT_BOOTSTRAP);
    if (mp_process_is_alive(p) == 1)
        mp_process_kill(p);
    mp_process_free(p);
    set_env("MPROC_TEST_BOOT_MODE", NULL);
    set_env("MPROC_TEST_BOOT_LOG", NULL);
    read_log(path, log, sizeof log);
    log_done(path);
    CU_ASSERT_EQUAL(count(log, "main"), 1);
    CU_ASSERT_EQUAL(count(log, "init"), 0);
    CU_ASSERT_EQUAL(count(log, "try-start=MP_ESTATE"), 1);
    CU_ASSERT_EQUAL(count(log, "try-pool=MP_ESTATE"), 1);
}

#ifndef _WIN32
/* A pipe whose read end is at *rd (not close-on-exec) and whose write end
 * is closed: a start-data pipe that ends at once. Its identity goes in
 * ident ("<dev>:<ino>"). */
static int ended_pipe(int *rd, char *ident, size_t cap) {
    int fds[2];
    struct stat st;
    if (pipe(fds) == -1)
        return -1;
    close(fds[1]);
    if (fstat(fds[0], &st) == -1) {
        close(fds[0]);
        return -1;
    }
    snprintf(ident, cap, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    *rd = fds[0];
    return 0;
}
#endif

/* A normal run of a program with the library's environment entries forged
 * (MPROC_SPAWN as the plain handle list and with an identity that is not
 * that of its descriptor 3, MPROC_WATCH_FD naming descriptor 3) ignores
 * them: it runs main's work, and on POSIX leaves descriptor 3 as it was
 * (the portable path made a named watch descriptor close-on-exec in any
 * process). */
static void test_forged_env_is_ignored(void) {
    static const char *forged[] = {"3,4", "1:1:3,4"};
    static char log[LOG_CAP];
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        int fd3 = -1;
#ifndef _WIN32
        char ident[64];
        CU_ASSERT_EQUAL_FATAL(ended_pipe(&fd3, ident, sizeof ident), 0);
#endif
        set_env("MPROC_SPAWN", forged[i]);
        set_env("MPROC_WATCH_FD", "3");
        boot_run r = {"fdcheck", NULL, NULL, NULL, NULL, fd3};
        CU_ASSERT_EQUAL(run_boot(&r, log, sizeof log), 0);
        set_env("MPROC_SPAWN", NULL);
        set_env("MPROC_WATCH_FD", NULL);
#ifndef _WIN32
        close(fd3);
        CU_ASSERT_EQUAL(count(log, "cloexec=0"), 1);
#endif
        CU_ASSERT_EQUAL(count(log, "main"), 1);
        CU_ASSERT_EQUAL(count(log, "init"), 1);
    }
}

#ifndef _WIN32
/* Start data given only in the environment (a program that calls
 * mp_init(NULL, NULL)), naming a pipe that ends before any blob: the
 * program is a spawned child (its main's work never runs) that cannot
 * begin, and exits with MP_EXIT_BOOTSTRAP. */
static void test_unreadable_start_data_exits_clearly(void) {
    static char log[LOG_CAP];
    char ident[64], entry[128];
    int fd3 = -1;
    CU_ASSERT_EQUAL_FATAL(ended_pipe(&fd3, ident, sizeof ident), 0);
    snprintf(entry, sizeof entry, "%s:3,4", ident);
    set_env("MPROC_SPAWN", entry);
    boot_run r = {"null", NULL, NULL, NULL, NULL, fd3};
    CU_ASSERT_EQUAL(run_boot(&r, log, sizeof log), MP_EXIT_BOOTSTRAP);
    set_env("MPROC_SPAWN", NULL);
    close(fd3);
    CU_ASSERT_EQUAL(count(log, "main"), 1);
    CU_ASSERT_EQUAL(count(log, "init"), 0);
}

/* Copies the boot program to `to` (mode 0755). */
static int copy_program(const char *to) {
    FILE *in = fopen(MPROC_TEST_BOOT_EXE, "rb");
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    FILE *out = fd >= 0 ? fdopen(fd, "wb") : NULL;
    char buf[65536];
    size_t n;
    int rc = in && out ? 0 : -1;
    while (!rc && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (in)
        fclose(in);
    if (out ? fclose(out) != 0 : (fd >= 0 && close(fd) != 0))
        rc = -1;
    return rc;
}

/* A set-uid program given start data, by the spawn flag and by the
 * environment, refuses it: it exits with MP_EXIT_INSECURE and says why on
 * stderr, reading nothing from the descriptors named. Nothing is forced:
 * run as root, the test makes a set-uid copy of the boot program owned by
 * nobody (uid 65534), so the kernel runs it secure-exec (AT_SECURE, since
 * its effective user is not its real one); not root, it cannot, and is
 * skipped, saying so. The copy's log is not written (nobody may not enter
 * the test's directory): its exit status and stderr tell. */
#if defined(__SANITIZE_ADDRESS__)
#define LEAK_CHECKED_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LEAK_CHECKED_BUILD 1
#endif
#endif
static void test_setuid_refuses_start_data(void) {
#ifdef LEAK_CHECKED_BUILD
    /* LeakSanitizer dies in a set-uid process (it cannot read its own
     * threads there, and ignores ASAN_OPTIONS), so the copy could not run
     * at all; the default, release, portable and musl builds run this. */
    fprintf(stderr, "setuid_refuses_start_data: skipped, AddressSanitizer "
                    "build (LeakSanitizer cannot run a set-uid program)\n");
    return;
#endif
    if (geteuid() != 0) {
        fprintf(stderr, "setuid_refuses_start_data: skipped, not root (a "
                        "set-uid copy owned by another user needs root)\n");
        return;
    }
    char exe[600], err[600], ident[64], entry[128], text[4096];
    snprintf(exe, sizeof exe, "%s/boot-suid", mp_test_tmpdir());
    snprintf(err, sizeof err, "%s/boot-suid.err", mp_test_tmpdir());
    CU_ASSERT_EQUAL_FATAL(copy_program(exe), 0);
    CU_ASSERT_EQUAL(chown(exe, 65534, 65534), 0);
    CU_ASSERT_EQUAL(chmod(exe, 06755), 0);
    for (int form = 0; form < 2; form++) {
        int fd3 = -1;
        CU_ASSERT_EQUAL_FATAL(ended_pipe(&fd3, ident, sizeof ident), 0);
        snprintf(entry, sizeof entry, "%s:3,4", ident);
        if (form == 1)
            set_env("MPROC_SPAWN", entry);
        boot_run r = {
            form ? "null" : "argv", exe, form ? NULL : "--mproc-spawn",
            form ? NULL : "3,4",    err, fd3};
        CU_ASSERT_EQUAL(run_boot(&r, text, sizeof text), MP_EXIT_INSECURE);
        set_env("MPROC_SPAWN", NULL);
        close(fd3);
        if (mp_test_read_file(err, text, sizeof text) != 0)
            text[0] = '\0';
        CU_ASSERT_PTR_NOT_NULL(strstr(text, "secure-exec"));
        remove(err);
    }
    remove(exe);
}
#endif

/* Tests that pass descriptors to a program by number: POSIX only. */
#ifdef _WIN32
#define POSIX_CASES
#else
#define POSIX_CASES                                                           \
    ,                                                                         \
        {"unreadable_start_data_exits_clearly",                               \
         test_unreadable_start_data_exits_clearly, MP_TEST_ONCE},             \
    {                                                                         \
        "setuid_refuses_start_data", test_setuid_refuses_start_data,          \
            MP_TEST_ONCE                                                      \
    }
#endif

void mp_test_suite_bootstrap(void) {
    MP_TEST_SUITE(
        "bootstrap",
        {"dead_reader_does_not_block_start",
         test_dead_reader_does_not_block_start, MP_TEST_PER_METHOD},
        {"init_null_runs_main_once", test_init_null_runs_main_once,
         MP_TEST_ONCE},
        {"init_argv_runs_main_once", test_init_argv_runs_main_once,
         MP_TEST_ONCE},
        {"init_twice_runs_target", test_init_twice_runs_target, MP_TEST_ONCE},
        {"init_twice_without_env_runs_target",
         test_init_twice_without_env_runs_target, MP_TEST_ONCE},
        {"pool_from_init_null_runs_main_once",
         test_pool_from_init_null_runs_main_once, MP_TEST_ONCE},
        {"calls_before_init_are_refused", test_calls_before_init_are_refused,
         MP_TEST_ONCE},
        {"missing_target_in_init_null_child",
         test_missing_target_in_init_null_child, MP_TEST_ONCE},
        {"forged_env_is_ignored", test_forged_env_is_ignored,
         MP_TEST_ONCE} POSIX_CASES);
}
