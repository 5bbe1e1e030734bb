/* How cost grows with size: process start+join per process with 1, 10,
 * 100 and 1000 alive at once; queue put/get per item with 1x1, 4x4 and
 * 16x16 producers and consumers; pool map per task with 2, 16, 64 and 256
 * workers. Each row against a raw equivalent in plain C (fork + waitpid;
 * one pipe shared by all; a pool of forked workers reading task numbers
 * from one pipe) and Python's multiprocessing (py_scale.py), in one run,
 * interleaved. Every figure is microseconds per operation. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mproc.h>

#include "benchutil.h"

#define REPS 3

static void die(const char *what) {
    fprintf(stderr, "bench_scale: %s\n", what);
    exit(1);
}

/* ---- processes: start n, then join n ---- */

static int t_noop(mp_call *c) {
    (void)c;
    return 0;
}

static double mproc_procs(int n) {
    mp_process **ps = malloc((size_t)n * sizeof *ps);
    mp_process_options o = {.start_method = MP_START_FORK};
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < n; i++)
        if (mp_process_new(&ps[i], t_noop, MP_NO_ARGS, &o) ||
            mp_process_start(ps[i]))
            die("cannot start a process");
    for (int i = 0; i < n; i++) {
        mp_process_join(ps[i], MP_INFINITE);
        mp_process_free(ps[i]);
    }
    double us = (double)(bench_now_ns() - t0) / 1e3 / n;
    free(ps);
    return us;
}

static double raw_procs(int n) {
    pid_t *ps = malloc((size_t)n * sizeof *ps);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < n; i++)
        if ((ps[i] = fork()) == 0)
            _exit(0);
    for (int i = 0; i < n; i++)
        waitpid(ps[i], NULL, 0);
    double us = (double)(bench_now_ns() - t0) / 1e3 / n;
    free(ps);
    return us;
}

/* ---- queue: nprod producers -> ncons consumers, 8-byte items ---- */

static int t_produce(mp_call *c) {
    mp_queue *q = mp_arg_queue(mp_call_arg(c, 0));
    int64_t n = mp_arg_int(mp_call_arg(c, 1));
    for (int64_t i = 0; i < n; i++)
        if (mp_queue_put(q, &i, sizeof i, MP_INFINITE))
            return 1;
    return 0;
}

static int t_consume(mp_call *c) {
    mp_queue *q = mp_arg_queue(mp_call_arg(c, 0));
    int64_t n = mp_arg_int(mp_call_arg(c, 1));
    mp_buf b = {0};
    for (int64_t i = 0; i < n; i++)
        if (mp_queue_get(q, &b, MP_INFINITE))
            return 1;
    mp_buf_free(&b);
    return 0;
}

static double mproc_queue(int np, long items) {
    mp_queue *q;
    mp_process *ps[64];
    int n = 0;
    mp_process_options o = {.start_method = MP_START_FORK};
    if (mp_queue_new(&q, 0, NULL))
        die("queue");
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < 2 * np - 1; i++) {
        mp_target fn = i < np ? t_produce : t_consume;
        if (mp_process_new(&ps[n], fn,
                           MP_ARGS(mp_queue_arg(q), mp_int(items / np)), &o) ||
            mp_process_start(ps[n]))
            die("cannot start a process");
        n++;
    }
    mp_buf b = {0};
    for (long i = 0; i < items / np; i++)
        mp_queue_get(q, &b, MP_INFINITE);
    for (int i = 0; i < n; i++) {
        mp_process_join(ps[i], MP_INFINITE);
        mp_process_free(ps[i]);
    }
    double us = (double)(bench_now_ns() - t0) / 1e3 / (double)items;
    mp_buf_free(&b);
    mp_queue_free(q);
    return us;
}

/* One pipe, every producer writing and every consumer reading 8-byte
 * items (atomic under PIPE_BUF). */
static double raw_queue(int np, long items) {
    int fd[2];
    if (pipe(fd))
        die("pipe");
    uint64_t t0 = bench_now_ns(), x = 0;
    for (int i = 0; i < 2 * np - 1; i++) {
        if (fork() == 0) {
            for (long k = 0; k < items / np; k++) {
                if (i < np)
                    bench_write_all(fd[1], &k, sizeof k);
                else if (bench_read_all(fd[0], &x, sizeof x))
                    _exit(1);
            }
            _exit(0);
        }
    }
    for (long k = 0; k < items / np; k++)
        if (bench_read_all(fd[0], &x, sizeof x))
            die("read");
    while (wait(NULL) > 0)
        ;
    double us = (double)(bench_now_ns() - t0) / 1e3 / (double)items;
    close(fd[0]);
    close(fd[1]);
    return us;
}

/* ---- pool: map x -> x*x over `tasks` items on n workers (started) ---- */

static int t_square(mp_call *c) {
    int64_t x = mp_arg_int(mp_call_arg(c, 0));
    return mp_call_return_int(c, x * x);
}

static double mproc_pool(int n, long tasks) {
    mp_pool *pool;
    mp_result *r;
    if (mp_pool_new(&pool, &(mp_pool_options){.processes = n}))
        die("pool");
    if (mp_pool_map_items(pool, t_square, mp_items_range(0, n), 1, &r))
        die("map"); /* every worker up */
    mp_result_free(r);
    uint64_t t0 = bench_now_ns();
    if (mp_pool_map_items(pool, t_square, mp_items_range(0, tasks), 0, &r))
        die("map");
    double us = (double)(bench_now_ns() - t0) / 1e3 / (double)tasks;
    mp_result_free(r);
    mp_pool_free(pool);
    return us;
}

/* Workers read task numbers from one pipe and write (number, square) to
 * another; -1 stops them. */
static double raw_pool(int n, long tasks) {
    int task[2], res[2];
    if (pipe(task) || pipe(res))
        die("pipe");
    for (int i = 0; i < n; i++) {
        if (fork() == 0) {
            int64_t x, out[2];
            while (bench_read_all(task[0], &x, sizeof x) == 0 && x >= 0) {
                out[0] = x;
                out[1] = x * x;
                bench_write_all(res[1], out, sizeof out);
            }
            _exit(0);
        }
    }
    int64_t out[2], *sq = malloc((size_t)tasks * sizeof *sq);
    for (int64_t x = 0; x < n; x++) /* every worker up */
        bench_write_all(task[1], &x, sizeof x);
    for (int i = 0; i < n; i++)
        bench_read_all(res[0], out, sizeof out);
    uint64_t t0 = bench_now_ns();
    /* Fed in windows, so that neither pipe fills while the other waits. */
    long sent = 0, got = 0;
    while (got < tasks) {
        for (; sent < tasks && sent - got < 256; sent++)
            bench_write_all(task[1], &(int64_t){sent}, sizeof(int64_t));
        if (bench_read_all(res[0], out, sizeof out))
            die("read");
        sq[out[0]] = out[1];
        got++;
    }
    double us = (double)(bench_now_ns() - t0) / 1e3 / (double)tasks;
    for (int i = 0; i < n; i++)
        bench_write_all(task[1], &(int64_t){-1}, sizeof(int64_t));
    while (wait(NULL) > 0)
        ;
    free(sq);
    close(task[0]), close(task[1]), close(res[0]), close(res[1]);
    return us;
}

/* ---- the table ---- */

typedef struct row {
    const char *op;
    char kind; /* 'p' processes, 'q' queue, 'w' pool */
    int n;
    long work;
} row;

static double run(const row *w, bool raw) {
    fflush(NULL);
    switch (w->kind) {
    case 'p': return raw ? raw_procs(w->n) : mproc_procs(w->n);
    case 'q':
        return raw ? raw_queue(w->n, w->work) : mproc_queue(w->n, w->work);
    default: return raw ? raw_pool(w->n, w->work) : mproc_pool(w->n, w->work);
    }
}

int main(int argc, char **argv) {
    if (mp_init(&argc, &argv))
        return 1;
    struct rlimit rl; /* a pidfd per live child */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    static const row rows[] = {
        {"start+join per process, 1 alive (fork)", 'p', 1, 0},
        {"start+join per process, 10 alive (fork)", 'p', 10, 0},
        {"start+join per process, 100 alive (fork)", 'p', 100, 0},
        {"start+join per process, 1000 alive (fork)", 'p', 1000, 0},
        {"queue put→get per 8 B item, 1×1", 'q', 1, 400000},
        {"queue put→get per 8 B item, 4×4", 'q', 4, 400000},
        {"queue put→get per 8 B item, 16×16", 'q', 16, 400000},
        {"pool map per task, 2 workers", 'w', 2, 100000},
        {"pool map per task, 16 workers", 'w', 16, 100000},
        {"pool map per task, 64 workers", 'w', 64, 100000},
        {"pool map per task, 256 workers", 'w', 256, 100000},
    };
    bench_header("Scale: cost per operation as sizes grow "
                 "(raw: fork+waitpid / one shared pipe / pipe-fed forked "
                 "workers; python: multiprocessing, fork)",
                 "µs per operation");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row *w = &rows[i];
        double m[REPS], r[REPS];
        for (int k = 0; k < REPS; k++) { /* interleaved */
            m[k] = run(w, false);
            r[k] = run(w, true);
        }
        char args[128];
        long pywork = w->kind == 'p' ? 0 : w->work / (w->kind == 'q' ? 4 : 1);
        snprintf(args, sizeof args, "%s %d %ld %d",
                 w->kind == 'p'   ? "procs"
                 : w->kind == 'q' ? "queue"
                                  : "pool",
                 w->n, pywork, REPS);
        bench_row(w->op, bench_summarise(m, REPS), bench_summarise(r, REPS),
                  bench_python("py_scale.py", args, NULL), "");
    }
    return 0;
}
