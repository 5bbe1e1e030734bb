/* How a spawned child begins: whatever happens to the child before it has
 * read its start data, the parent's start returns, and a program never
 * multiplies itself. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

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

void mp_test_suite_bootstrap(void) {
    MP_TEST_SUITE("bootstrap",
                  {"dead_reader_does_not_block_start",
                   test_dead_reader_does_not_block_start, MP_TEST_PER_METHOD});
}
