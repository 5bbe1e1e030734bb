/* Process: lifecycle, arguments, exit codes, signals, timeouts, daemons,
 * inheritance and bad input; each case that starts a child runs once per
 * start method the platform has. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#endif

#include "testutil.h"

#ifndef MPROC_TEST_OTHER_EXE
#error "MPROC_TEST_OTHER_EXE must name the helper program"
#endif

/* ---- targets (static on purpose: spawn must find them too) ---- */

static int t_return_arg(mp_call *c) {
    return (int)mp_arg_int(mp_call_arg(c, 0));
}

static int t_sleep_forever(mp_call *c) {
    (void)c;
    for (int i = 0; i < 600; i++) /* bounded: ten minutes at most */
        mp_test_sleep_ms(1000);
    return 99;
}

static int t_sleep(mp_call *c) {
    mp_test_sleep_ms((long)mp_arg_int(mp_call_arg(c, 0)));
    return 0;
}

/* Checks every argument type; returns the number of the first wrong one. */
static int t_check_args(mp_call *c) {
    static const unsigned char bin[5] = {0, 1, 2, 255, 0};
    size_t len = 99;
    if (mp_call_nargs(c) != 6)
        return 1;
    if (mp_arg_int(mp_call_arg(c, 0)) != INT64_MIN + 5)
        return 2;
    if (mp_arg_float(mp_call_arg(c, 1)) != 2.5)
        return 3;
    const char *s = mp_arg_str(mp_call_arg(c, 2));
    if (!s || strcmp(s, "héllo wörld") != 0)
        return 4;
    const void *b = mp_arg_bytes(mp_call_arg(c, 3), &len);
    if (!b || len != sizeof bin || memcmp(b, bin, len) != 0)
        return 5;
    if (!mp_arg_bytes(mp_call_arg(c, 4), &len) || len != 0)
        return 6;
    s = mp_arg_str(mp_call_arg(c, 5));
    if (!s || s[0] != '\0')
        return 7;
    if (mp_call_arg(c, 6) != NULL)
        return 8;
    if (mp_arg_int(mp_call_kwarg(c, "count")) != 3)
        return 9;
    if (strcmp(mp_arg_str(mp_call_kwarg(c, "label")), "x") != 0)
        return 10;
    if (mp_call_kwarg(c, "missing") != NULL)
        return 11;
    /* Wrong-type reads are defined: zero / NULL. */
    if (mp_arg_int(mp_call_arg(c, 2)) != 0 || mp_arg_str(mp_call_arg(c, 0)))
        return 12;
    if (mp_arg_obj(mp_call_arg(c, 0), MP_OBJ_QUEUE) != NULL)
        return 13;
    return 0;
}

/* Checks the child's view of itself: name, parent pid, stdin. */
static int t_identity(mp_call *c) {
    if (strcmp(mp_current_name(), mp_arg_str(mp_call_arg(c, 0))) != 0)
        return 1;
    if (mp_getppid() != (long)mp_arg_int(mp_call_arg(c, 1)))
        return 2;
    if (mp_getpid() == mp_getppid())
        return 3;
    char buf[8];
    if (fread(buf, 1, sizeof buf, stdin) != 0 || !feof(stdin))
        return 4;
    return 0;
}

/* Starts a daemonic grandchild, writes its pid to a file, then waits to be
 * killed. */
static int t_daemon_parent(mp_call *c) {
    const char *path = mp_arg_str(mp_call_arg(c, 0));
    mp_process *g;
    if (mp_process_new(&g, t_sleep_forever, MP_NO_ARGS,
                       &(mp_process_options){.daemon = true}) ||
        mp_process_start(g))
        return 1;
    char text[32];
    snprintf(text, sizeof text, "%ld", mp_process_pid(g));
    if (mp_test_write_file(path, text))
        return 2;
    return t_sleep_forever(c);
}

/* Puts its index (arg 1) on the queue (arg 0); exits with index % 100. */
static int t_put_index(mp_call *c) {
    int64_t i = mp_arg_int(mp_call_arg(c, 1));
    if (mp_queue_put(mp_arg_queue(mp_call_arg(c, 0)), &i, sizeof i, 30000))
        return 200;
    return (int)(i % 100);
}

/* Waits for the event (arg 0), then sets the value (arg 1) to 1. */
static int t_wait_then_mark(mp_call *c) {
    if (mp_event_wait(mp_arg_event(mp_call_arg(c, 0)), 60000))
        return 1;
    return mp_value_set_int(mp_arg_value(mp_call_arg(c, 1)), 1) ? 2 : 0;
}

static int t_wait_event(mp_call *c) {
    return mp_event_wait(mp_arg_event(mp_call_arg(c, 0)), 60000) ? 1 : 0;
}

/* Starts a non-daemonic grandchild running t_wait_then_mark(event, done)
 * and a daemonic one that sleeps, stores the daemon's pid in arg 2, frees
 * both (the library still tracks them) and returns: its exit handling
 * must terminate the daemon and join the other. */
static int t_leave_grandchildren(mp_call *c) {
    mp_start_method m = (mp_start_method)mp_arg_int(mp_call_arg(c, 3));
    mp_process *g, *d;
    if (mp_process_new(&g, t_wait_then_mark,
                       MP_ARGS(*mp_call_arg(c, 0), *mp_call_arg(c, 1)),
                       &(mp_process_options){.start_method = m}) ||
        mp_process_start(g))
        return 1;
    if (mp_process_new(
            &d, t_sleep_forever, MP_NO_ARGS,
            &(mp_process_options){.daemon = true, .start_method = m}) ||
        mp_process_start(d))
        return 2;
    long dpid = mp_process_pid(d);
    mp_process_free(g);
    mp_process_free(d);
    return mp_value_set_int(mp_arg_value(mp_call_arg(c, 2)), dpid) ? 3 : 0;
}

#ifdef _WIN32
/* The handle value in arg 0 must not be valid in the child. */
static int t_handle_absent(mp_call *c) {
    DWORD flags;
    HANDLE h = (HANDLE)(intptr_t)mp_arg_int(mp_call_arg(c, 0));
    return GetHandleInformation(h, &flags) ? 1 : 0;
}
#else
/* Counts the descriptors the spawned child inherited (POSIX). */
static int t_count_fds(mp_call *c) {
    (void)c;
    return mp_test_count_fds();
}
#endif

/* ---- helpers ---- */

static int run_code(mp_target fn, mp_args args, mp_start_method m) {
    return mp_test_finish(mp_test_start(fn, args, m), 30000);
}

/* A thread of this process running fn(arg). */
#ifdef _WIN32
typedef HANDLE test_thread;
#define THREAD_FN(name) static DWORD WINAPI name(void *arg)
#define THREAD_END return 0
static int thread_start(test_thread *t, LPTHREAD_START_ROUTINE fn, void *arg) {
    return (*t = CreateThread(NULL, 0, fn, arg, 0, NULL)) ? 0 : -1;
}
static int thread_join(test_thread t) {
    int rc = WaitForSingleObject(t, 300000) == WAIT_OBJECT_0 ? 0 : -1;
    CloseHandle(t);
    return rc;
}
#else
typedef pthread_t test_thread;
#define THREAD_FN(name) static void *name(void *arg)
#define THREAD_END return NULL
static int thread_start(test_thread *t, void *(*fn)(void *), void *arg) {
    return pthread_create(t, NULL, fn, arg);
}
static int thread_join(test_thread t) { return pthread_join(t, NULL); }
#endif

/* ---- tests ---- */

/* A process goes from created (no pid; join, exitcode and terminate are
 * MP_ESTATE) through started (a pid of its own; a second start or set_daemon
 * is MP_ESTATE) to joined (its return value as exit code, joinable again) and
 * closed (exit code still readable). */
static void test_lifecycle(void) {
    mp_process *p = NULL;
    int code = -1;
    mp_process_options o = {.name = "worker-1",
                            .start_method = mp_test_method()};
    MP_CHECK_OK(mp_process_new(&p, t_return_arg, MP_ARGS(mp_int(7)), &o));
    CU_ASSERT_STRING_EQUAL(mp_process_name(p), "worker-1");
    CU_ASSERT_EQUAL(mp_process_is_alive(p), 0);
    CU_ASSERT_EQUAL(mp_process_pid(p), 0);
    MP_CHECK_RC(mp_process_join(p, 0), MP_ESTATE);
    MP_CHECK_RC(mp_process_exitcode(p, &code), MP_ESTATE);
    MP_CHECK_RC(mp_process_terminate(p), MP_ESTATE);
    MP_CHECK_OK(mp_process_start(p));
    CU_ASSERT(mp_process_pid(p) > 0);
    CU_ASSERT_NOT_EQUAL(mp_process_pid(p), mp_getpid());
    MP_CHECK_RC(mp_process_start(p), MP_ESTATE);
    MP_CHECK_RC(mp_process_set_daemon(p, true), MP_ESTATE);
    MP_CHECK_OK(mp_process_join(p, MP_INFINITE));
    MP_CHECK_OK(mp_process_join(p, 0)); /* joining again is fine */
    CU_ASSERT_EQUAL(mp_process_is_alive(p), 0);
    MP_CHECK_OK(mp_process_exitcode(p, &code));
    CU_ASSERT_EQUAL(code, 7);
    MP_CHECK_OK(mp_process_terminate(p)); /* ended: a no-op */
    MP_CHECK_OK(mp_process_close(p));
    MP_CHECK_OK(mp_process_close(p));
    MP_CHECK_RC(mp_process_join(p, 0), MP_ESTATE);
    MP_CHECK_OK(mp_process_exitcode(p, &code));
    CU_ASSERT_EQUAL(code, 7);
    mp_process_free(p);
}

/* Unnamed processes get distinct "Process-N" names, and the main process is
 * "MainProcess". */
static void test_default_names(void) {
    mp_process *a, *b;
    MP_CHECK_OK(mp_process_new(&a, t_return_arg, MP_NO_ARGS, NULL));
    MP_CHECK_OK(mp_process_new(&b, t_return_arg, MP_NO_ARGS, NULL));
    CU_ASSERT_EQUAL(strncmp(mp_process_name(a), "Process-", 8), 0);
    CU_ASSERT_STRING_NOT_EQUAL(mp_process_name(a), mp_process_name(b));
    CU_ASSERT_STRING_EQUAL(mp_current_name(), "MainProcess");
    mp_process_free(a);
    mp_process_free(b);
}

/* Every argument type (ints, floats, strings, bytes, empty and NULL values,
 * keywords) reaches the child intact, copied when the process is made so that
 * later changes to the caller's buffers do not show. */
static void test_args_all_types(void) {
    static const unsigned char bin[5] = {0, 1, 2, 255, 0};
    char s[] = "héllo wörld";
    mp_process *p = NULL;
    mp_process_options o = {.start_method = mp_test_method()};
    MP_CHECK_OK(mp_process_new(
        &p, t_check_args,
        MP_ARGS(mp_int(INT64_MIN + 5), mp_float(2.5), mp_str(s),
                mp_kw("count", mp_int(3)), mp_bytes(bin, sizeof bin),
                mp_bytes(NULL, 0), mp_str(NULL), mp_kw("label", mp_str("x"))),
        &o));
    s[0] = 'X'; /* arguments were copied */
    MP_CHECK_OK(mp_process_start(p));
    int code = -1;
    MP_CHECK_OK(mp_process_join(p, 30000));
    MP_CHECK_OK(mp_process_exitcode(p, &code));
    CU_ASSERT_EQUAL(code, 0);
    mp_process_free(p);
}

/* The child sees its own name, the parent's pid as its parent pid, a pid of
 * its own, and an empty stdin. */
static void test_identity(void) {
    mp_process *p = NULL;
    mp_process_options o = {.name = "ident", .start_method = mp_test_method()};
    MP_CHECK_OK(mp_process_new(
        &p, t_identity, MP_ARGS(mp_str("ident"), mp_int(mp_getpid())), &o));
    MP_CHECK_OK(mp_process_start(p));
    int code = -1;
    MP_CHECK_OK(mp_process_join(p, 30000));
    MP_CHECK_OK(mp_process_exitcode(p, &code));
    CU_ASSERT_EQUAL(code, 0);
    mp_process_free(p);
}

/* The target's return value is the child's exit code (0, 1 and 100). */
static void test_exit_codes(void) {
    CU_ASSERT_EQUAL(
        run_code(t_return_arg, MP_ARGS(mp_int(0)), mp_test_method()), 0);
    CU_ASSERT_EQUAL(
        run_code(t_return_arg, MP_ARGS(mp_int(1)), mp_test_method()), 1);
    CU_ASSERT_EQUAL(
        run_code(t_return_arg, MP_ARGS(mp_int(100)), mp_test_method()), 100);
}

static void check_signal(int (*send)(mp_process *), int expected) {
    mp_process *p =
        mp_test_start(t_sleep_forever, MP_NO_ARGS, mp_test_method());
    int code = 0;
    CU_ASSERT_EQUAL(mp_process_is_alive(p), 1);
    MP_CHECK_RC(mp_process_exitcode(p, &code), MP_ESTATE);
    MP_CHECK_RC(mp_process_close(p), MP_ESTATE);
    MP_CHECK_OK(send(p));
    MP_CHECK_OK(mp_process_join(p, 10000));
    MP_CHECK_OK(mp_process_exitcode(p, &code));
    CU_ASSERT_EQUAL(code, expected);
    MP_CHECK_OK(send(p)); /* already ended: fine */
    mp_process_free(p);
}

/* terminate ends a running child as SIGTERM would (exit code -15), and is
 * a no-op once it has ended. */
static void test_terminate(void) { check_signal(mp_process_terminate, -15); }

/* kill ends a running child as SIGKILL would (exit code -9), and is a no-op
 * once it has ended. */
static void test_kill(void) { check_signal(mp_process_kill, -9); }

/* join with timeout 0 returns MP_EAGAIN at once and join with a timeout
 * returns MP_ETIMEDOUT after about that long while the child runs. */
static void test_join_timeout(void) {
    mp_process *p =
        mp_test_start(t_sleep_forever, MP_NO_ARGS, mp_test_method());
    int64_t t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_process_join(p, 0), MP_EAGAIN);
    CU_ASSERT(mp_test_now_ms() - t0 < 100);
    t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_process_join(p, 200), MP_ETIMEDOUT);
    int64_t took = mp_test_now_ms() - t0;
    CU_ASSERT(took >= 195);
    CU_ASSERT(took < 2000);
    MP_CHECK_OK(mp_process_kill(p));
    MP_CHECK_OK(mp_process_join(p, 10000));
    mp_process_free(p);
}

/* join returns soon after a short-lived child ends, long before its timeout.
 * */
static void test_join_returns_when_child_ends(void) {
    mp_process *p =
        mp_test_start(t_sleep, MP_ARGS(mp_int(100)), mp_test_method());
    int64_t t0 = mp_test_now_ms();
    MP_CHECK_OK(mp_process_join(p, 20000));
    CU_ASSERT(mp_test_now_ms() - t0 < 10000);
    mp_process_free(p);
}

/* A hundred children started at once each run and exit with their own code. */
static void test_many_processes(void) {
    enum { N = 100 };
    mp_process *ps[N];
    for (int k = 0; k < N; k++)
        ps[k] = mp_test_start(t_return_arg, MP_ARGS(mp_int(k % 50)),
                              mp_test_method());
    for (int k = 0; k < N; k++) {
        int code = -1;
        if (!ps[k])
            continue;
        MP_CHECK_OK(mp_process_join(ps[k], 60000));
        MP_CHECK_OK(mp_process_exitcode(ps[k], &code));
        CU_ASSERT_EQUAL(code, k % 50);
        mp_process_free(ps[k]);
    }
}

/* The rest of the daemon tests, once p (running t_daemon_parent) is
 * started: its daemonic child writes its pid to path and lives; once p is
 * killed, it dies within 10 s (polled: nothing signals a grandchild's
 * end to us). */
static void check_daemon_dies_with(mp_process *p, const char *path) {
    char text[32] = "";
    CU_ASSERT_EQUAL_FATAL(mp_test_wait_file(path, 30000), 0);
    CU_ASSERT_EQUAL(mp_test_read_file(path, text, sizeof text), 0);
    long gpid = atol(text);
    CU_ASSERT_FATAL(gpid > 0);
    CU_ASSERT(mp_test_pid_alive(gpid));
    MP_CHECK_OK(mp_process_kill(p));
    MP_CHECK_OK(mp_process_join(p, 10000));
    int64_t end = mp_test_now_ms() + 10000;
    while (mp_test_pid_alive(gpid) && mp_test_now_ms() < end)
        mp_test_sleep_ms(10);
    CU_ASSERT_FALSE(mp_test_pid_alive(gpid));
    mp_process_free(p);
    remove(path);
}

/* A daemonic grandchild dies soon after its parent is killed, though the
 * parent had no chance to clean up. */
static void test_daemon_dies_with_killed_parent(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/daemon-%d.pid", mp_test_tmpdir(),
             (int)mp_test_method());
    mp_process *p = mp_test_start(t_daemon_parent, MP_ARGS(mp_str(path)),
                                  mp_test_method());
    check_daemon_dies_with(p, path);
}

#ifdef _WIN32
/* A parent whose own job forbids nesting our kill-on-close job (Windows
 * before 8 refuses a second job with ERROR_ACCESS_DENIED; a CI runner's or
 * a service's job may forbid it still) once failed every daemonic start.
 * Now the child starts outside the job and watches its parent's process
 * handle instead. No machine here is in such a job and Wine nests jobs
 * freely, so MPROC_TEST_NO_DAEMON_JOB, which the child running
 * t_daemon_parent inherits, forces the assignment to fail there: its
 * daemonic grandchild must start and still die soon after its parent is
 * killed, which only its watch can do. (Whether it is in a job cannot be
 * asked here: Wine's IsProcessInJob leaves its answer unset.) */
static void test_daemon_without_job(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/daemon-nojob.pid", mp_test_tmpdir());
    CU_ASSERT_FATAL(SetEnvironmentVariableA("MPROC_TEST_NO_DAEMON_JOB", "1"));
    mp_process *p =
        mp_test_start(t_daemon_parent, MP_ARGS(mp_str(path)), MP_START_SPAWN);
    SetEnvironmentVariableA("MPROC_TEST_NO_DAEMON_JOB", NULL);
    check_daemon_dies_with(p, path);
}

/* The racing thread of test_spawn_race_other_create: it starts suspended
 * copies of this program that inherit every inheritable handle of ours, as
 * a system() or a CreateProcess of another library would, and keeps the
 * last RACE_KEEP alive (a suspended process holds what it inherited). */
#define RACE_KEEP 32
typedef struct race {
    volatile LONG stop;
    wchar_t exe[1024];
    HANDLE kept[RACE_KEEP];
    int starts;
} race;

static DWORD WINAPI race_thread(void *arg) {
    race *r = arg;
    while (!InterlockedCompareExchange(&r->stop, 0, 0)) {
        STARTUPINFOW si;
        PROCESS_INFORMATION pi;
        memset(&si, 0, sizeof si);
        si.cb = sizeof si;
        if (!CreateProcessW(r->exe, NULL, NULL, NULL, TRUE, CREATE_SUSPENDED,
                            NULL, NULL, &si, &pi))
            return 1;
        CloseHandle(pi.hThread);
        HANDLE *slot = &r->kept[r->starts++ % RACE_KEEP];
        if (*slot) {
            TerminateProcess(*slot, 0);
            CloseHandle(*slot);
        }
        *slot = pi.hProcess;
    }
    return 0;
}

/* Returns at once: its copy of the pipe end closes with it. */
static int t_nothing(mp_call *c) {
    (void)c;
    return 0;
}

/* The handles a spawned child receives were once inheritable duplicates
 * in the parent while it started the child, and a CreateProcess that
 * inherits, in another thread at that moment, took them too: a pipe end
 * then stayed open in that program, and its peer never saw the end of the
 * stream. Now they are duplicated into the suspended child and never
 * inheritable here: each time, once the child and we have closed our ends,
 * the peer sees the end at once, though another thread keeps starting
 * programs that inherit all it can. */
static void test_spawn_race_other_create(void) {
    race *r = calloc(1, sizeof *r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    DWORD n = GetModuleFileNameW(NULL, r->exe, 1024);
    CU_ASSERT_FATAL(n > 0 && n < 1024);
    HANDLE t = CreateThread(NULL, 0, race_thread, r, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    int late = 0;
    for (int i = 0; i < 20; i++) {
        mp_conn *a, *b;
        MP_CHECK_OK(mp_pipe(&a, &b, true));
        CU_ASSERT_EQUAL(
            run_code(t_nothing, MP_ARGS(mp_conn_arg(b)), MP_START_SPAWN), 0);
        mp_conn_free(b);
        mp_buf buf = {0};
        int rc = mp_conn_recv(a, &buf, 1000);
        late += rc == MP_ETIMEDOUT;
        CU_ASSERT(rc == MP_ECLOSED || rc == MP_ETIMEDOUT);
        mp_buf_free(&buf);
        mp_conn_free(a);
    }
    InterlockedExchange(&r->stop, 1);
    WaitForSingleObject(t, INFINITE);
    DWORD code = 1;
    GetExitCodeThread(t, &code);
    CloseHandle(t);
    CU_ASSERT_EQUAL(code, 0);
    CU_ASSERT(r->starts > 0);
    CU_ASSERT_EQUAL(late, 0);
    for (int i = 0; i < RACE_KEEP; i++)
        if (r->kept[i]) {
            TerminateProcess(r->kept[i], 0);
            CloseHandle(r->kept[i]);
        }
    free(r);
}
#endif

/* A spawned child inherits none of the parent's other descriptors or handles,
 * not even an inheritable one (on POSIX it holds only stdin, stdout and
 * stderr). */
static void test_spawn_inherits_nothing_else(void) {
#ifdef _WIN32
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    HANDLE ev = CreateEventW(&sa, TRUE, FALSE, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_EQUAL(run_code(t_handle_absent, MP_ARGS(mp_int((intptr_t)ev)),
                             MP_START_SPAWN),
                    0);
    CloseHandle(ev);
#else
    /* Even a descriptor opened without O_CLOEXEC stays behind. */
    FILE *f = fopen(mp_test_argv0, "r");
    CU_ASSERT_PTR_NOT_NULL(f);
    CU_ASSERT_EQUAL(run_code(t_count_fds, MP_NO_ARGS, MP_START_SPAWN), 3);
    if (f)
        fclose(f);
#endif
}

/* How many of this process's handles or descriptors a program it starts
 * would inherit, besides its standard ones: handles with HANDLE_FLAG_INHERIT
 * on Windows (every value is tried, up to far more than a test child
 * holds), descriptors without FD_CLOEXEC on POSIX. */
static int t_count_inheritable(mp_call *c) {
    (void)c;
    int n = 0;
#ifdef _WIN32
    HANDLE std[3] = {GetStdHandle(STD_INPUT_HANDLE),
                     GetStdHandle(STD_OUTPUT_HANDLE),
                     GetStdHandle(STD_ERROR_HANDLE)};
    for (uintptr_t v = 4; v < 0x10000; v += 4) {
        DWORD flags;
        HANDLE h = (HANDLE)v;
        if (h != std[0] && h != std[1] && h != std[2] &&
            GetHandleInformation(h, &flags) && (flags & HANDLE_FLAG_INHERIT))
            n++;
    }
#else
    for (int fd = 3; fd < 4096; fd++) {
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0 && !(fl & FD_CLOEXEC))
            n++;
    }
#endif
    return n;
}

/* Every handle a spawned child receives, inside an object (a queue, a pipe
 * end, a lock, a semaphore, an array) or as a plain handle, is private to
 * it: a program it starts (system(), a CreateProcess that inherits) does
 * not get them, so a peer still sees the end of a pipe when the child
 * closes its end. They crossed inheritable (Windows) or without
 * close-on-exec (POSIX), and stayed so in the child before. */
static void test_spawn_received_private(void) {
    mp_queue *q;
    mp_conn *a, *b;
    mp_lock *l;
    mp_sem *sem;
    mp_array *arr;
    MP_CHECK_OK(mp_queue_new(&q, 0, NULL));
    MP_CHECK_OK(mp_pipe(&a, &b, true));
    MP_CHECK_OK(mp_lock_new(&l, false));
    MP_CHECK_OK(mp_sem_new(&sem, 1, 0));
    MP_CHECK_OK(mp_array_new(&arr, MP_TYPE_LONGLONG, 16, NULL, NULL));
#ifdef _WIN32
    HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    mp_os_handle plain = (mp_os_handle)ev;
#else
    int fds[2];
    CU_ASSERT_FATAL(pipe(fds) == 0);
    mp_os_handle plain = fds[0];
#endif
    CU_ASSERT_EQUAL(
        run_code(t_count_inheritable,
                 MP_ARGS(mp_queue_arg(q), mp_conn_arg(b), mp_lock_arg(l),
                         mp_sem_arg(sem), mp_array_arg(arr), mp_handle(plain)),
                 MP_START_SPAWN),
        0);
#ifdef _WIN32
    CloseHandle(ev);
#else
    close(fds[0]);
    close(fds[1]);
#endif
    mp_array_free(arr);
    mp_sem_free(sem);
    mp_lock_free(l);
    mp_conn_free(a);
    mp_conn_free(b);
    mp_queue_free(q);
}

/* Starting and joining a child leaves the parent's descriptor or handle count
 * where it was. */
static void test_no_fd_leak(void) {
    mp_test_fdset *before = mp_test_fds_take();
    CU_ASSERT_EQUAL(
        run_code(t_return_arg, MP_ARGS(mp_int(3)), mp_test_method()), 3);
    CU_ASSERT_EQUAL(mp_test_fds_check(before), 0);
}

/* A spawn executable that is an mproc program without the target makes join
 * and exitcode report MP_ETARGET with a non-zero code. */
static void test_replaced_program_is_reported(void) {
    /* The helper program is an mproc program too, but not this one: the
     * target cannot be found in it, and join says so. */
    MP_CHECK_OK(mp_set_executable(MPROC_TEST_OTHER_EXE));
    mp_process *p =
        mp_test_start(t_return_arg, MP_ARGS(mp_int(0)), MP_START_SPAWN);
    MP_CHECK_OK(mp_set_executable(NULL));
    int code = 0;
    MP_CHECK_RC(mp_process_join(p, 30000), MP_ETARGET);
    MP_CHECK_RC(mp_process_exitcode(p, &code), MP_ETARGET);
    CU_ASSERT_NOT_EQUAL(code, 0);
    mp_process_free(p);
}

/* Output buffered in the parent's stdio before a child starts reaches its file
 * once, never again from the child's exit. */
static void test_fork_does_not_duplicate_stdio(void) {
    /* A buffered, unflushed write must reach the file once, not once more
     * from the forked child's exit. */
    char path[600], text[64] = "";
    snprintf(path, sizeof path, "%s/stdio.txt", mp_test_tmpdir());
    FILE *f = mp_test_fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("once", f);
    CU_ASSERT_EQUAL(
        run_code(t_return_arg, MP_ARGS(mp_int(0)), mp_test_method()), 0);
    fclose(f);
    CU_ASSERT_EQUAL(mp_test_read_file(path, text, sizeof text), 0);
    CU_ASSERT_STRING_EQUAL(text, "once");
    remove(path);
}

/* A spawn executable that does not exist fails the start with MP_ENOENT,
 * leaves the process unstarted and leaks no descriptor or handle. */
static void test_missing_executable(void) {
    /* A spawn executable that does not exist fails the start, cleanly. */
    char path[600];
    snprintf(path, sizeof path, "%s/no-such-program.exe", mp_test_tmpdir());
    MP_CHECK_OK(mp_set_executable(path));
    mp_process *p = NULL;
    mp_test_fdset *before = mp_test_fds_take();
    MP_CHECK_OK(
        mp_process_new(&p, t_return_arg, MP_NO_ARGS,
                       &(mp_process_options){.start_method = MP_START_SPAWN}));
    MP_CHECK_RC(mp_process_start(p), MP_ENOENT);
    MP_CHECK_OK(mp_set_executable(NULL));
    MP_CHECK_RC(mp_process_join(p, 0), MP_ESTATE);
    CU_ASSERT_EQUAL(mp_test_fds_check(before), 0);
    mp_process_free(p);
}

/* NULL, unknown or over-long inputs to every process call are MP_EINVAL
 * (forkserver is MP_ENOTSUP), NULL getters and frees are harmless, and the
 * error names, messages and version are what the header says. */
static void test_bad_input(void) {
    mp_process *p = NULL;
    int code;
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    MP_CHECK_RC(mp_process_new(NULL, t_return_arg, MP_NO_ARGS, NULL),
                MP_EINVAL);
    MP_CHECK_RC(mp_process_new(&p, NULL, MP_NO_ARGS, NULL), MP_EINVAL);
    CU_ASSERT_PTR_NULL(p);
    MP_CHECK_RC(mp_process_new(&p, t_return_arg, MP_NO_ARGS,
                               &(mp_process_options){.name = longname}),
                MP_EINVAL);
    MP_CHECK_RC(mp_process_new(&p, t_return_arg, MP_NO_ARGS,
                               &(mp_process_options){.start_method = 42}),
                MP_EINVAL);
    MP_CHECK_RC(mp_process_new(&p, t_return_arg, MP_NO_ARGS,
                               &(mp_process_options){.start_method =
                                                         MP_START_FORKSERVER}),
                MP_ENOTSUP);
    MP_CHECK_RC(
        mp_process_new(&p, t_return_arg, mp_args_borrow(NULL, 2), NULL),
        MP_EINVAL);
    mp_arg bad = mp_int(1);
    bad.type = (mp_arg_type)77;
    MP_CHECK_RC(
        mp_process_new(&p, t_return_arg, mp_args_borrow(&bad, 1), NULL),
        MP_EINVAL);
    MP_CHECK_RC(mp_process_new(&p, t_return_arg,
                               MP_ARGS(mp__obj_arg(MP_OBJ_QUEUE, NULL)), NULL),
                MP_EINVAL);
    MP_CHECK_RC(mp_process_start(NULL), MP_EINVAL);
    MP_CHECK_RC(mp_process_join(NULL, 0), MP_EINVAL);
    MP_CHECK_RC(mp_process_is_alive(NULL), MP_EINVAL);
    MP_CHECK_RC(mp_process_set_daemon(NULL, true), MP_EINVAL);
    MP_CHECK_RC(mp_process_exitcode(NULL, &code), MP_EINVAL);
    MP_CHECK_RC(mp_process_terminate(NULL), MP_EINVAL);
    MP_CHECK_RC(mp_process_kill(NULL), MP_EINVAL);
    MP_CHECK_RC(mp_process_close(NULL), MP_EINVAL);
    CU_ASSERT_EQUAL(mp_process_pid(NULL), 0);
    CU_ASSERT_PTR_NULL(mp_process_name(NULL));
    mp_process_free(NULL);
    MP_CHECK_OK(mp_process_new(&p, t_return_arg, MP_NO_ARGS, NULL));
    MP_CHECK_RC(mp_process_join(p, -2), MP_EINVAL);
    MP_CHECK_RC(mp_process_exitcode(p, NULL), MP_EINVAL);
    mp_process_free(p);
    MP_CHECK_RC(mp_set_start_method(MP_START_DEFAULT), MP_EINVAL);
    MP_CHECK_RC(mp_set_start_method((mp_start_method)9), MP_EINVAL);
    MP_CHECK_RC(mp_set_executable(""), MP_EINVAL);
    CU_ASSERT(mp_cpu_count() >= 1);
    CU_ASSERT_STRING_EQUAL(mp_strerror(MP_ETIMEDOUT), "timed out");
    CU_ASSERT_STRING_EQUAL(mp_err_name(MP_EINVAL), "MP_EINVAL");
    CU_ASSERT_STRING_EQUAL(mp_err_name(12345), "MP_EUNKNOWN");
    CU_ASSERT_EQUAL(mp_version(), (unsigned)MP_VERSION_HEX);
    CU_ASSERT_STRING_EQUAL(mp_version_string(), MP_VERSION_STRING);
}

/* After mp_shutdown a start is MP_ESTATE until mp_init is called again, and
 * the same process then starts. */
static void test_start_before_init(void) {
    mp_process *p = NULL;
    mp_shutdown();
    MP_CHECK_OK(mp_process_new(&p, t_return_arg, MP_NO_ARGS, NULL));
    MP_CHECK_RC(mp_process_start(p), MP_ESTATE);
    MP_CHECK_OK(mp_init(NULL, NULL));
    MP_CHECK_OK(mp_process_start(p));
    MP_CHECK_OK(mp_process_join(p, 30000));
    mp_process_free(p);
}

/* The default start method is fork on POSIX and spawn on Windows; setting
 * spawn makes MP_START_DEFAULT children spawn, and fork is MP_ENOTSUP on
 * Windows. */
static void test_start_method_setting(void) {
    mp_start_method was = mp_get_start_method();
#ifdef _WIN32
    CU_ASSERT_EQUAL(was, MP_START_SPAWN);
    MP_CHECK_RC(mp_set_start_method(MP_START_FORK), MP_ENOTSUP);
#else
    CU_ASSERT_EQUAL(was, MP_START_FORK);
    MP_CHECK_OK(mp_set_start_method(MP_START_SPAWN));
    CU_ASSERT_EQUAL(mp_get_start_method(), MP_START_SPAWN);
    CU_ASSERT_EQUAL(
        run_code(t_return_arg, MP_ARGS(mp_int(5)), MP_START_DEFAULT), 5);
    MP_CHECK_OK(mp_set_start_method(was));
#endif
}

/* A process freed while its child runs is still tracked, so that mp_shutdown
 * joins the child. */
static void test_free_running_child(void) {
    /* A freed running child is tracked, not lost: mp_shutdown joins it. */
    mp_process *p =
        mp_test_start(t_sleep, MP_ARGS(mp_int(50)), MP_START_DEFAULT);
    long pid = mp_process_pid(p);
    mp_process_free(p);
    mp_shutdown();
    CU_ASSERT_FALSE(mp_test_pid_alive(pid));
    MP_CHECK_OK(mp_init(NULL, NULL));
}

/* Another thread joins each child as soon as the child's queue item says
 * it has run, possibly before mp_process_start has returned here. */
typedef struct joiner {
    mp_queue *q;
    mp_process **ps;
    int n;
    int got, lost, bad_join, bad_code, bad_pid;
    int first_err;
} joiner;

THREAD_FN(joiner_main) {
    joiner *j = arg;
    mp_buf b = {0};
    for (int k = 0; k < j->n; k++) {
        int64_t i = -1;
        if (mp_queue_get(j->q, &b, 60000) || b.len != sizeof i) {
            j->lost++;
            break;
        }
        memcpy(&i, b.data, sizeof i);
        if (i < 0 || i >= j->n) {
            j->lost++;
            break;
        }
        int code = -1, rc = mp_process_join(j->ps[i], 60000);
        if (rc) {
            j->bad_join++;
            if (!j->first_err)
                j->first_err = rc;
        } else if (mp_process_exitcode(j->ps[i], &code) || code != i % 100) {
            j->bad_code++;
        }
        if (mp_process_pid(j->ps[i]) <= 0)
            j->bad_pid++;
        j->got++;
    }
    mp_buf_free(&b);
    THREAD_END;
}

/* Another thread may join each child as soon as it has run, even before
 * mp_process_start returned in this thread, and gets its exit code and pid. */
static void test_join_while_starting(void) {
#ifdef _WIN32
    enum { MAX = 20 };
    int n = MAX;
#else
    enum { MAX = 300 };
    int n = mp_test_method() == MP_START_FORK ? MAX : 50;
#endif
    mp_process *ps[MAX];
    mp_queue *q;
    MP_CHECK_OK(mp_queue_new(&q, 0, NULL));
    mp_process_options o = {.start_method = mp_test_method()};
    for (int i = 0; i < n; i++)
        MP_CHECK_OK(mp_process_new(&ps[i], t_put_index,
                                   MP_ARGS(mp_queue_arg(q), mp_int(i)), &o));
    joiner j = {q, ps, n, 0, 0, 0, 0, 0, 0};
    test_thread t;
    CU_ASSERT_EQUAL_FATAL(thread_start(&t, joiner_main, &j), 0);
    for (int i = 0; i < n; i++)
        MP_CHECK_OK(mp_process_start(ps[i]));
    CU_ASSERT_EQUAL(thread_join(t), 0);
    if (j.first_err)
        fprintf(stderr, "join while starting: %s\n", mp_err_name(j.first_err));
    CU_ASSERT_EQUAL(j.got, n);
    CU_ASSERT_EQUAL(j.lost, 0);
    CU_ASSERT_EQUAL(j.bad_join, 0);
    CU_ASSERT_EQUAL(j.bad_code, 0);
    CU_ASSERT_EQUAL(j.bad_pid, 0);
    for (int i = 0; i < n; i++) {
        MP_CHECK_OK(mp_process_join(ps[i], 30000));
        mp_process_free(ps[i]);
    }
    mp_queue_free(q);
}

/* Polls v (a real condition, bounded) until it is non-zero. */
static int64_t wait_value(mp_value *v, long timeout_ms) {
    int64_t end = mp_test_now_ms() + timeout_ms, x;
    while ((x = mp_value_get_int(v)) == 0 && mp_test_now_ms() < end)
        mp_test_sleep_ms(5);
    return x;
}

/* When a child's target returns, its exit terminates its daemonic
 * grandchildren at once and waits for its other grandchildren before the child
 * ends. */
static void test_child_exit_joins_grandchildren(void) {
    mp_event *e;
    mp_value *done, *dpid;
    MP_CHECK_OK(mp_event_new(&e, NULL));
    MP_CHECK_OK(mp_value_new(&done, MP_TYPE_LONGLONG, NULL, NULL));
    MP_CHECK_OK(mp_value_new(&dpid, MP_TYPE_LONGLONG, NULL, NULL));
    mp_process *p =
        mp_test_start(t_leave_grandchildren,
                      MP_ARGS(mp_event_arg(e), mp_value_arg(done),
                              mp_value_arg(dpid), mp_int(mp_test_method())),
                      mp_test_method());
    /* The target has returned once it stored the daemon's pid. */
    long d = (long)wait_value(dpid, 30000);
    CU_ASSERT_FATAL(d > 0);
    /* The daemonic grandchild is told to stop at once... */
    int64_t end = mp_test_now_ms() + 30000;
    while (mp_test_pid_alive(d) && mp_test_now_ms() < end)
        mp_test_sleep_ms(5);
    CU_ASSERT_FALSE(mp_test_pid_alive(d));
    /* ...while the child still waits for the other, which waits for
     * the event: the child cannot have ended. */
    MP_CHECK_RC(mp_process_join(p, 0), MP_EAGAIN);
    CU_ASSERT_EQUAL(mp_process_is_alive(p), 1);
    CU_ASSERT_EQUAL(mp_value_get_int(done), 0);
    MP_CHECK_OK(mp_event_set(e));
    MP_CHECK_OK(mp_process_join(p, 30000));
    /* The grandchild ended before the child did. */
    CU_ASSERT_EQUAL(mp_value_get_int(done), 1);
    int code = -1;
    MP_CHECK_OK(mp_process_exitcode(p, &code));
    CU_ASSERT_EQUAL(code, 0);
    mp_process_free(p);
    mp_value_free(done);
    mp_value_free(dpid);
    mp_event_free(e);
}

/* active_children lists the live children in start order, reaps those that
 * ended (and freed ones) without listing them, stores no more than asked, and
 * rejects NULL outputs. */
static void test_active_children(void) {
    mp_start_method sm = mp_test_method();
    mp_process *out[4] = {0};
    size_t n = 99;
    mp_event *e;
    MP_CHECK_OK(mp_event_new(&e, NULL));
    MP_CHECK_RC(mp_active_children(NULL, 1, &n), MP_EINVAL);
    MP_CHECK_RC(mp_active_children(out, 4, NULL), MP_EINVAL);
    MP_CHECK_OK(mp_active_children(NULL, 0, &n));
    CU_ASSERT_EQUAL(n, 0);
    mp_process *a = mp_test_start(t_wait_event, MP_ARGS(mp_event_arg(e)), sm);
    mp_process *quick = mp_test_start(t_return_arg, MP_ARGS(mp_int(3)), sm);
    mp_process *b = mp_test_start(t_wait_event, MP_ARGS(mp_event_arg(e)), sm);
    mp_process *freed =
        mp_test_start(t_wait_event, MP_ARGS(mp_event_arg(e)), sm);
    mp_process_free(freed); /* reaped, never listed */
    /* Once the quick one has ended, the call reaps it. */
    int64_t end = mp_test_now_ms() + 30000;
    do
        MP_CHECK_OK(mp_active_children(out, 1, &n));
    while (n != 2 && mp_test_now_ms() < end && (mp_test_sleep_ms(5), 1));
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_PTR_EQUAL(out[0], a);
    CU_ASSERT_PTR_NULL(out[1]); /* cap 1: only the first stored */
    MP_CHECK_OK(mp_active_children(out, 4, &n));
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_PTR_EQUAL(out[0], a);
    CU_ASSERT_PTR_EQUAL(out[1], b);
    CU_ASSERT_EQUAL(mp_process_is_alive(quick), 0);
    int code = -1;
    MP_CHECK_OK(mp_process_exitcode(quick, &code));
    CU_ASSERT_EQUAL(code, 3);
    MP_CHECK_OK(mp_event_set(e));
    CU_ASSERT_EQUAL(mp_test_finish(a, 30000), 0);
    CU_ASSERT_EQUAL(mp_test_finish(b, 30000), 0);
    mp_process_free(quick);
    MP_CHECK_OK(mp_active_children(out, 4, &n));
    CU_ASSERT_EQUAL(n, 0);
    mp_event_free(e);
}

THREAD_FN(method_flipper) {
    int *failed = arg;
    for (int i = 0; i < 2000; i++)
        *failed +=
            mp_set_start_method(mp_test_methods[i % mp_test_nmethods]) != 0;
    THREAD_END;
}

/* Setting the default start method from one thread while another reads it and
 * starts children is safe: every read is a valid method. */
static void test_start_method_threads(void) {
    /* Set from one thread while another reads it and starts children
     * with the default: every read is a valid method (and the race
     * detector presets see no race). */
    mp_start_method was = mp_get_start_method();
    test_thread t;
    int failed = 0, bad = 0;
    CU_ASSERT_EQUAL_FATAL(thread_start(&t, method_flipper, &failed), 0);
    for (int i = 0; i < 2000; i++) {
        mp_start_method m = mp_get_start_method();
        bad += m != MP_START_FORK && m != MP_START_SPAWN;
    }
    CU_ASSERT_EQUAL(
        run_code(t_return_arg, MP_ARGS(mp_int(4)), MP_START_DEFAULT), 4);
    CU_ASSERT_EQUAL(thread_join(t), 0);
    CU_ASSERT_EQUAL(failed, 0);
    CU_ASSERT_EQUAL(bad, 0);
    MP_CHECK_OK(mp_set_start_method(was));
}

/* Every error code from -1 down to MP_ERRNO_MIN has a name and a message of
 * its own, and codes outside that range are MP_EUNKNOWN. */
static void test_error_names(void) {
    CU_ASSERT_EQUAL(MP_OK, 0);
    CU_ASSERT_STRING_EQUAL(mp_err_name(0), "MP_OK");
    CU_ASSERT_STRING_EQUAL(mp_strerror(0), "success");
    /* MP_ERRNO_MIN is the last code of the list, and every value down to
     * it is a code with a name and a message. */
    CU_ASSERT_EQUAL(MP_ERRNO_MIN, MP_ESYS);
    for (int e = -1; e >= MP_ERRNO_MIN; e--) {
        CU_ASSERT_EQUAL(strncmp(mp_err_name(e), "MP_E", 4), 0);
        CU_ASSERT_STRING_NOT_EQUAL(mp_err_name(e), "MP_EUNKNOWN");
        CU_ASSERT_STRING_NOT_EQUAL(mp_strerror(e), "unknown error");
    }
    CU_ASSERT_STRING_EQUAL(mp_err_name(MP_ERRNO_MIN - 1), "MP_EUNKNOWN");
    CU_ASSERT_STRING_EQUAL(mp_err_name(1), "MP_EUNKNOWN");
    CU_ASSERT_STRING_EQUAL(mp_strerror(MP_ERRNO_MIN - 1), "unknown error");
}

/* A process closed before it started cannot be started, joined or made
 * daemonic, and has no pid. */
static void test_close_before_start(void) {
    mp_process *p = NULL;
    MP_CHECK_OK(mp_process_new(&p, t_return_arg, MP_NO_ARGS, NULL));
    MP_CHECK_OK(mp_process_close(p));
    MP_CHECK_RC(mp_process_start(p), MP_ESTATE);
    MP_CHECK_RC(mp_process_join(p, 0), MP_ESTATE);
    MP_CHECK_RC(mp_process_set_daemon(p, true), MP_ESTATE);
    CU_ASSERT_EQUAL(mp_process_pid(p), 0);
    mp_process_free(p);
}

/* ---- Windows: Ctrl-C and crash codes, error mode, paths ---- */

#include <signal.h>

/* Ends as Ctrl-C ends a console program. */
static int t_as_if_ctrl_c(mp_call *c) {
    (void)c;
    fflush(NULL);
#ifdef _WIN32
    ExitProcess(0xC000013Au); /* STATUS_CONTROL_C_EXIT */
#else
    signal(SIGINT, SIG_DFL);
    raise(SIGINT);
#endif
    return 1;
}

/* Ctrl-C reads as -2 on every platform. */
static void test_ctrl_c_exit_code(void) {
    CU_ASSERT_EQUAL(run_code(t_as_if_ctrl_c, MP_NO_ARGS, mp_test_method()),
                    -2);
}

#ifdef _WIN32
/* Ends with an exception's NTSTATUS (what a crash leaves). */
static int t_exit_ntstatus(mp_call *c) {
    fflush(NULL);
    ExitProcess((UINT)mp_arg_int(mp_call_arg(c, 0)));
    return 1;
}

/* A crash reports its NTSTATUS, as a negative int. */
static void test_crash_exit_code(void) {
    CU_ASSERT_EQUAL(run_code(t_exit_ntstatus,
                             MP_ARGS(mp_int((int64_t)0xC0000005u)),
                             MP_START_SPAWN),
                    (int)0xC0000005u);
}

#define QUIET_MODES (SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX)

#define WER_NO_UI 0x20u /* WER_FAULT_REPORTING_NO_UI */

/* 0 when this child raises no dialog on a crash: the error mode, Windows
 * Error Reporting's flags (where the system answers WerGetFlags: Wine does
 * not, Windows since Vista does), and, if it is daemonic (its argument),
 * it runs in a job that ends it on an unhandled exception. */
static int t_error_mode(mp_call *c) {
    if ((GetErrorMode() & QUIET_MODES) != QUIET_MODES)
        return 1;
    HMODULE k = GetModuleHandleW(L"kernel32.dll");
    FARPROC f = k ? GetProcAddress(k, "WerGetFlags") : NULL;
    DWORD wer = 0;
    if (f) {
        HRESULT(WINAPI * get_flags)(HANDLE, DWORD *);
        memcpy(&get_flags, &f, sizeof f);
        if (get_flags(GetCurrentProcess(), &wer) == S_OK && !(wer & WER_NO_UI))
            return 2;
    }
    if (!mp_arg_int(mp_call_arg(c, 0)))
        return 0;
    BOOL in_job = FALSE;
    if (!IsProcessInJob(GetCurrentProcess(), NULL, &in_job) || !in_job)
        return 3;
    /* Windows answers with the limits of the job we are in; Wine answers
     * 0 (it keeps no limits for this question), and there only the job
     * itself is checked. */
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
    memset(&li, 0, sizeof li);
    if (!QueryInformationJobObject(NULL, JobObjectExtendedLimitInformation,
                                   &li, sizeof li, NULL))
        return 4;
    DWORD got = li.BasicLimitInformation.LimitFlags;
    if (!(got & JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE))
        return 0;
    return got & JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION ? 0 : 5;
}

/* Children run without Windows Error Reporting's dialogs (a crashed
 * worker would wait behind one), daemonic ones in a job that ends them on
 * a crash; the parent's own mode is left alone. */
static void test_child_error_mode(void) {
    UINT before = GetErrorMode();
    CU_ASSERT_EQUAL(run_code(t_error_mode, MP_ARGS(mp_int(0)), MP_START_SPAWN),
                    0);
    mp_process *p = NULL;
    MP_CHECK_OK(mp_process_new(&p, t_error_mode, MP_ARGS(mp_int(1)), NULL));
    MP_CHECK_OK(mp_process_set_daemon(p, true));
    MP_CHECK_OK(mp_process_start(p));
    CU_ASSERT_EQUAL(mp_test_finish(p, 30000), 0);
    CU_ASSERT_EQUAL(GetErrorMode(), before);
}

/* In a child run from the copied program: starts a grandchild with the
 * default executable (the copy itself, a long path) and returns its code. */
static int t_spawn_from_copy(mp_call *c) {
    (void)c;
    mp_process *p = NULL;
    int code = -1000;
    if (mp_process_new(&p, t_return_arg, MP_ARGS(mp_int(5)), NULL) ||
        mp_process_start(p) || mp_process_join(p, 60000) ||
        mp_process_exitcode(p, &code))
        code = 1;
    mp_process_free(p);
    return code;
}

/* A directory named in CJK, as UTF-16. */
#define CJK_DIR L"\u591a\u8fdb\u7a0b\u6d4b\u8bd5\u76ee\u5f55"

/* Copies (or, with to NULL, deletes in `from`) every DLL of directory
 * `from` into directory `to`: a copy of this program built against shared
 * libraries (mproc's own, or MSVC's DLL runtime) would not start without
 * the ones beside it. 0, or -1. */
static int dlls_beside(const wchar_t *from, const wchar_t *to) {
    wchar_t pat[1024], src[1024], dst[1024];
    WIN32_FIND_DATAW fd;
    swprintf(pat, 1024, L"%ls\\*.dll", from);
    HANDLE f = FindFirstFileW(pat, &fd);
    if (f == INVALID_HANDLE_VALUE)
        return GetLastError() == ERROR_FILE_NOT_FOUND ? 0 : -1;
    int rc = 0;
    do {
        swprintf(src, 1024, L"%ls\\%ls", from, fd.cFileName);
        swprintf(dst, 1024, L"%ls\\%ls", to ? to : from, fd.cFileName);
        if (to ? !CopyFileW(src, dst, TRUE) : !DeleteFileW(src))
            rc = -1;
    } while (FindNextFileW(f, &fd));
    FindClose(f);
    return rc;
}

/* Copies this program into `<temp>\mproc-<pid>\<CJK>` and, when deep, on
 * through enough further CJK levels to pass MAX_PATH; returns the copy's
 * path (\\?\ form) and the directories made (for removal), or NULL. */
static wchar_t *copy_self(bool deep, wchar_t dirs[][1024], int *ndirs) {
    static wchar_t self[1024], path[1024];
    wchar_t tmp[MAX_PATH];
    if (!GetModuleFileNameW(NULL, self, 1024) || !GetTempPathW(MAX_PATH, tmp))
        return NULL;
    swprintf(path, 1024, L"\\\\?\\%lsmproc-%lu", tmp,
             (unsigned long)GetCurrentProcessId());
    *ndirs = 0;
    /* The _s forms: wcscpy and wcscat are C4996 errors under /W4 /WX. */
    for (int level = 0; level < (deep ? 12 : 1); level++) {
        if (!CreateDirectoryW(path, NULL))
            return NULL;
        wcscpy_s(dirs[(*ndirs)++], 1024, path);
        wcscat_s(path, 1024, L"\\" CJK_DIR L"-0123456789abcdef");
    }
    if (!CreateDirectoryW(path, NULL))
        return NULL;
    wcscpy_s(dirs[(*ndirs)++], 1024, path);
    wchar_t *slash = wcsrchr(self, L'\\');
    if (!slash)
        return NULL;
    *slash = 0;
    int rc = dlls_beside(self, path);
    *slash = L'\\';
    wcscat_s(path, 1024, L"\\mproc_tests_copy.exe");
    return rc == 0 && CopyFileW(self, path, TRUE) ? path : NULL;
}

/* A program whose path holds CJK characters and, deep, is longer than
 * MAX_PATH: mp_set_executable takes its UTF-8 path (with and without the
 * \\?\ prefix), and a child run from it spawns with the default, its own
 * path. */
static void test_executable_cjk_long_path(void) {
    for (int deep = 0; deep < 2; deep++) {
        wchar_t dirs[16][1024];
        int ndirs = 0;
        wchar_t *copy = copy_self(deep, dirs, &ndirs);
        CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
        CU_ASSERT(wcslen(copy) > (deep ? MAX_PATH + 4 : 20));
        char utf8[1024];
        for (int plain = 0; plain < 2; plain++) {
            /* plain: "C:\...", as a user would write it. */
            CU_ASSERT_FATAL(
                WideCharToMultiByte(CP_UTF8, 0, copy + (plain ? 4 : 0), -1,
                                    utf8, sizeof utf8, NULL, NULL) > 0);
            MP_CHECK_OK(mp_set_executable(utf8));
            CU_ASSERT_EQUAL(
                run_code(t_return_arg, MP_ARGS(mp_int(42)), MP_START_SPAWN),
                42);
            CU_ASSERT_EQUAL(
                run_code(t_spawn_from_copy, MP_NO_ARGS, MP_START_SPAWN), 5);
        }
        MP_CHECK_OK(mp_set_executable(NULL));
        CU_ASSERT(DeleteFileW(copy));
        CU_ASSERT_EQUAL(dlls_beside(dirs[ndirs - 1], NULL), 0);
        while (ndirs > 0)
            CU_ASSERT(RemoveDirectoryW(dirs[--ndirs]));
    }
}
#endif

/* The Windows-only cases, as a macro: a directive inside the arguments of
 * MP_TEST_SUITE is undefined behaviour (and an error in MSVC mode). */
#ifdef _WIN32
#define WIN32_CASES                                                           \
    {"crash_exit_code", test_crash_exit_code, MP_TEST_ONCE},                  \
        {"child_error_mode", test_child_error_mode, MP_TEST_ONCE},            \
        {"daemon_without_job", test_daemon_without_job, MP_TEST_ONCE},        \
        {"spawn_race_other_create", test_spawn_race_other_create,             \
         MP_TEST_ONCE},                                                       \
        {"executable_cjk_long_path", test_executable_cjk_long_path,           \
         MP_TEST_ONCE},
#else
#define WIN32_CASES
#endif

void mp_test_suite_process(void) {
    const mp_test_runs once = MP_TEST_ONCE, each = MP_TEST_PER_METHOD;
    MP_TEST_SUITE(
        "process", {"lifecycle", test_lifecycle, each},
        {"default_names", test_default_names, once},
        {"args_all_types", test_args_all_types, each},
        {"identity", test_identity, each},
        {"exit_codes", test_exit_codes, each},
        {"terminate", test_terminate, each}, {"kill", test_kill, each},
        {"join_timeout", test_join_timeout, each},
        {"join_returns_when_child_ends", test_join_returns_when_child_ends,
         each},
        {"many_processes", test_many_processes, each},
        {"daemon_dies_with_killed_parent", test_daemon_dies_with_killed_parent,
         each},
        {"spawn_inherits_nothing_else", test_spawn_inherits_nothing_else,
         once},
        {"spawn_received_private", test_spawn_received_private, once},
        {"no_fd_leak", test_no_fd_leak, each},
        {"replaced_program_is_reported", test_replaced_program_is_reported,
         once},
        {"fork_does_not_duplicate_stdio", test_fork_does_not_duplicate_stdio,
         each},
        {"missing_executable", test_missing_executable, once},
        {"bad_input", test_bad_input, once},
        {"start_before_init", test_start_before_init, once},
        {"start_method_setting", test_start_method_setting, once},
        {"free_running_child", test_free_running_child, once},
        {"join_while_starting", test_join_while_starting, each},
        {"child_exit_joins_grandchildren", test_child_exit_joins_grandchildren,
         each},
        {"active_children", test_active_children, each},
        {"start_method_threads", test_start_method_threads, once},
        {"error_names", test_error_names, once},
        {"close_before_start", test_close_before_start, once},
        WIN32_CASES{"ctrl_c_exit_code", test_ctrl_c_exit_code, each});
}
