/* Process start+join: mproc (fork, spawn) beside raw fork+waitpid, raw
 * posix_spawn of this same program, and Python's multiprocessing, at 1 and
 * 500 processes. Prints a Markdown table of microseconds per process. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mproc.h>

#include "benchutil.h"

extern char **environ;

enum { REPS = 7 };

static int noop(mp_call *c) {
    (void)c;
    return 0;
}

/* Microseconds per process to start n children, then join them all. */
static double run_mproc(mp_start_method m, int n) {
    mp_process **ps = calloc((size_t)n, sizeof *ps);
    mp_process_options o = {.start_method = m};
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < n; i++)
        if (mp_process_new(&ps[i], noop, MP_NO_ARGS, &o) ||
            mp_process_start(ps[i]))
            abort();
    for (int i = 0; i < n; i++) {
        if (mp_process_join(ps[i], MP_INFINITE))
            abort();
        mp_process_free(ps[i]);
    }
    double us = (double)(bench_now_ns() - t0) / 1e3 / n;
    free(ps);
    return us;
}

static double run_raw_fork(int n) {
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < n; i++)
        if ((pids[i] = fork()) == 0)
            _exit(0);
    for (int i = 0; i < n; i++)
        waitpid(pids[i], NULL, 0);
    double us = (double)(bench_now_ns() - t0) / 1e3 / n;
    free(pids);
    return us;
}

static double run_raw_spawn(int n) {
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    char *argv[] = {"/proc/self/exe", "--noop", NULL};
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < n; i++)
        if (posix_spawn(&pids[i], "/proc/self/exe", NULL, NULL, argv, environ))
            abort();
    for (int i = 0; i < n; i++)
        waitpid(pids[i], NULL, 0);
    double us = (double)(bench_now_ns() - t0) / 1e3 / n;
    free(pids);
    return us;
}

static void measure(const char *op, mp_start_method m, int n, int reps,
                    const char *pyargs, const char *target) {
    double a[REPS], b[REPS];
    for (int r = 0; r < reps; r++) { /* interleaved */
        a[r] = run_mproc(m, n);
        b[r] = m == MP_START_FORK ? run_raw_fork(n) : run_raw_spawn(n);
    }
    double py = bench_python("py_process.py", pyargs, NULL);
    bench_row(op, bench_summarise(a, reps), bench_summarise(b, reps), py,
              target);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--noop") == 0)
        return 0; /* the raw posix_spawn baseline's child */
    if (mp_init(&argc, &argv))
        return 1;
    bench_header("Process start + join", "µs per process");
    measure("1 no-op child, fork", MP_START_FORK, 1, REPS, "fork 1 5",
            "≤ 1.5× raw fork");
    measure("1 no-op child, spawn", MP_START_SPAWN, 1, REPS, "spawn 1 3",
            "≤ 1.5× raw posix_spawn of self");
    measure("500 started then 500 joined, fork", MP_START_FORK, 500, 3,
            "fork 500 3", "≤ 1.5× raw");
    measure("500 started then 500 joined, spawn", MP_START_SPAWN, 500, 3,
            "spawn 100 1", "(python: 100)");
    return 0;
}
