/* Helpers shared by the test suites. */
#ifndef MP_TESTUTIL_H
#define MP_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>

#include <CUnit/CUnit.h>
#ifdef _MSC_VER
/* CUnit.h makes snprintf MSVC's deprecated _snprintf (C4996 under /W4 /WX);
 * the UCRT has had the standard one since VS 2015. */
#undef snprintf
#endif

#include "mproc.h"

extern const char *mp_test_argv0;

/* How often a test runs: once, or once per start method this platform has
 * (as "<name>/fork", "<name>/spawn", so that a failure names the method; the
 * body asks mp_test_method() which one it is). */
typedef enum mp_test_runs {
    MP_TEST_ONCE = 0,
    MP_TEST_PER_METHOD
} mp_test_runs;

/* Registers a suite and its tests:
 * MP_TEST_SUITE("name", {"t", fn}, {"u", fn2, MP_TEST_PER_METHOD}, ...).
 * Only the tests chosen by mp_test_select are registered. */
typedef struct mp_test_case {
    const char *name;
    void (*fn)(void);
    mp_test_runs runs;
} mp_test_case;
void mp_test_register(const char *suite, const mp_test_case *cases, size_t n);
#define MP_TEST_SUITE(suite, ...)                                             \
    mp_test_register(suite, (const mp_test_case[]){__VA_ARGS__},              \
                     sizeof((const mp_test_case[]){__VA_ARGS__}) /            \
                         sizeof(mp_test_case))

/* Makes mp_test_register register only the test named `test`, where a test
 * run per method is named both "<name>" (every method) and
 * "<name>/<method>" (that one); NULL registers every test. */
void mp_test_select(const char *test);

/* The start method of the running MP_TEST_PER_METHOD test (it aborts the
 * run when called from any other, as a test registered wrongly). */
mp_start_method mp_test_method(void);

/* How long a test waits for a child to end before it fails. Alone a child
 * takes milliseconds, but a loaded Wine run once needed more than 60 s for
 * four children making 20 000 contended increments each; the bound stays
 * under a suite's ctest timeout (180 s), so that a hung child fails its own
 * test instead of the whole suite. */
#define MP_TEST_CHILD_TIMEOUT_MS 120000L

/* Asserts rc == expected and prints both names when not. */
#define MP_CHECK_RC(expr, expected)                                           \
    do {                                                                      \
        int rc_ = (expr);                                                     \
        if (rc_ != (expected))                                                \
            fprintf(stderr, "%s:%d: %s = %s (OS error %ld), expected %s\n",   \
                    __FILE__, __LINE__, #expr, mp_err_name(rc_),              \
                    mp_os_error(), mp_err_name(expected));                    \
        CU_ASSERT_EQUAL(rc_, (expected));                                     \
    } while (0)
#define MP_CHECK_OK(expr) MP_CHECK_RC(expr, 0)

/* A pool of n workers started with method m (asserted to succeed; NULL
 * when it did not), and its end: close, join (bounded), free. */
mp_pool *mp_test_pool(int n, mp_start_method m);
void mp_test_pool_finish(mp_pool *p);

/* A pool like mp_test_pool whose workers hold, in mp_test_gate, the event
 * made into *ev (for tasks that wait until the test releases them). */
extern mp_event *mp_test_gate;
mp_pool *mp_test_gated_pool(int n, mp_start_method m, mp_event **ev);

/* Makes, once per process, what the library makes once and keeps (on
 * Windows Winsock and the job of daemonic children; on the portable POSIX
 * path the pipe daemonic children watch): a queue and an array passed to a
 * child of each start method, and a pool of each. Leak checks take their
 * baseline after it, so that they count only what the test leaves and
 * pass when their test runs alone. */
void mp_test_warm_up(void);

/* Creates and starts a child running fn(args) with start method m
 * (asserting success); NULL when that failed. */
mp_process *mp_test_start(mp_target fn, mp_args args, mp_start_method m);

/* Joins p (bounded by timeout_ms, asserted), frees it and returns its exit
 * code; -1000 when p is NULL or the join failed. */
int mp_test_finish(mp_process *p, long timeout_ms);

/* Kills p, joins it (bounded) and frees it. NULL-safe. */
void mp_test_kill(mp_process *p);

#ifdef MP_STATIC /* the library's own mutexes are reachable in a static build \
                  */
/* A child that takes mutex `prim` of shared object obj (of kind `kind`) as
 * a call in progress does, and keeps it: a queue's producer side is prim
 * 0, its consumer side 1; a barrier's mutex 0. On POSIX the child is then
 * stopped with SIGSTOP (a holder stopped in mid-call); on Windows it hangs
 * on an event. mp_test_holder_end lets it go (SIGCONT, the event), and it
 * unlocks and exits. The start is asserted; h->p is NULL when it failed. */
typedef struct mp_test_holder {
    mp_process *p;
    mp_event *held, *release;
} mp_test_holder;
void mp_test_holder_start(mp_test_holder *h, mp_arg obj, mp_obj_kind kind,
                          unsigned prim);
void mp_test_holder_end(mp_test_holder *h);
#endif

/* fopen, or fopen_s where MSVC deprecates fopen (C4996, an error under
 * /W4 /WX). */
FILE *mp_test_fopen(const char *path, const char *mode);

#ifndef _WIN32
/* The user `nobody` (uid and gid 65534, Debian's). */
#define MP_TEST_NOBODY 65534
/* Drops this process (root) to nobody: no supplementary groups, then gid,
 * then uid. 0, or -1 with the reason on stderr. */
int mp_test_become_nobody(void);
#endif

/* Monotonic milliseconds. */
int64_t mp_test_now_ms(void);

/* Sleeps (only for making a child wait, never to let things settle). */
void mp_test_sleep_ms(long ms);

/* The start methods this platform has, and how many. */
extern const mp_start_method mp_test_methods[];
extern const int mp_test_nmethods;

/* Named shared-memory objects of this test run ("mp-*test-<pid>*" in
 * /dev/shm); 0 where names are not files. */
int mp_test_shm_entries(void);

/* Number of open descriptors (POSIX) or handles (Windows) of this process,
 * -1 where unknown. */
int mp_test_count_fds(void);

/* The descriptors (POSIX) or handles (Windows) open now, to compare with
 * later by mp_test_fds_check. */
typedef struct mp_test_fdset mp_test_fdset;
mp_test_fdset *mp_test_fds_take(void);

/* How many more descriptors or handles are open now than in `before`
 * (negative: fewer); prints each one that differs, with what it is, so
 * that a leak names itself. Frees `before`. */
int mp_test_fds_check(mp_test_fdset *before);

/* Whether a process id names a live (not zombie) process. */
int mp_test_pid_alive(long pid);

/* A fresh private directory for this test run (created once). */
const char *mp_test_tmpdir(void);

/* Removes that directory at the end of the run; it must be empty (a test
 * that leaves a file behind is reported). Returns 0 on success. */
int mp_test_tmpdir_remove(void);

/* Writes / reads a small text file atomically (write + rename). */
int mp_test_write_file(const char *path, const char *text);
int mp_test_read_file(const char *path, char *buf, size_t cap);

/* Waits until `path` exists, up to timeout_ms: 0 if it does. */
int mp_test_wait_file(const char *path, long timeout_ms);

#endif
