/* Synchronisation and shared memory: mproc against the raw C equivalent
 * (process-shared pthread mutex, atomic_fetch_add, sem_post/sem_wait in a
 * shared mapping) and Python's multiprocessing, in one run, interleaved.
 * Every figure is nanoseconds per operation (per round trip for
 * ping-pong). POSIX only: the raw side is written with fork and mmap. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mproc.h>

#include "benchutil.h"

#define REPS 5

static int64_t n_mutex = 1000000, n_atomic = 10000000, n_sem = 10000000,
               n_pp = 100000;

/* ---- mproc side ---- */

static int m_locked(mp_call *c) {
    mp_value *v = mp_arg_value(mp_call_arg(c, 0));
    int64_t n = mp_arg_int(mp_call_arg(c, 1));
    mp_lock *l = mp_value_lock(v);
    long long *p = mp_value_ptr(v);
    for (int64_t i = 0; i < n; i++) {
        mp_lock_acquire(l, MP_INFINITE);
        *p += 1;
        mp_lock_release(l);
    }
    return 0;
}

static int m_atomic(mp_call *c) {
    mp_value *v = mp_arg_value(mp_call_arg(c, 0));
    int64_t n = mp_arg_int(mp_call_arg(c, 1));
    for (int64_t i = 0; i < n; i++)
        mp_value_add(v, 1, NULL);
    return 0;
}

/* The inline form on the storage (mp_atomic_add64). */
static int m_atomic_inline(mp_call *c) {
    mp_value *v = mp_arg_value(mp_call_arg(c, 0));
    int64_t n = mp_arg_int(mp_call_arg(c, 1));
    void *p = mp_value_ptr(v);
    for (int64_t i = 0; i < n; i++)
        mp_atomic_add64(p, 1);
    return 0;
}

/* The ping-pong partner's CPU: -1 wherever the scheduler puts it, else
 * pinned there (the parent pins itself to CPU 0 first). */
static int pp_cpu = -1;

static int m_pong(mp_call *c) {
    mp_sem *a = mp_arg_sem(mp_call_arg(c, 0)),
           *b = mp_arg_sem(mp_call_arg(c, 1));
    int64_t n = mp_arg_int(mp_call_arg(c, 2));
    if (mp_arg_int(mp_call_arg(c, 3)) >= 0)
        bench_pin_cpu((int)mp_arg_int(mp_call_arg(c, 3)));
    for (int64_t i = 0; i < n; i++) {
        mp_sem_acquire(a, MP_INFINITE);
        mp_sem_release(b);
    }
    return 0;
}

static double two_children(mp_target fn, mp_value *v, int64_t n) {
    mp_process *p[2];
    uint64_t t0 = bench_now_ns();
    for (int k = 0; k < 2; k++) {
        mp_process_new(&p[k], fn, MP_ARGS(mp_value_arg(v), mp_int(n)), NULL);
        mp_process_start(p[k]);
    }
    for (int k = 0; k < 2; k++) {
        mp_process_join(p[k], MP_INFINITE);
        mp_process_free(p[k]);
    }
    return (double)(bench_now_ns() - t0) / (double)(2 * n);
}

static double mp_mutex_run(void) {
    mp_value *v;
    mp_value_new(&v, MP_TYPE_LONGLONG, NULL, NULL);
    double r = two_children(m_locked, v, n_mutex);
    if (mp_value_get_int(v) != 2 * n_mutex)
        fprintf(stderr, "mproc mutex: wrong count\n");
    mp_value_free(v);
    return r;
}

static double atomic_run(mp_target fn) {
    mp_value *v;
    mp_value_new(&v, MP_TYPE_LONGLONG, NULL,
                 &(mp_shared_options){.raw = true});
    double r = two_children(fn, v, n_atomic);
    if (mp_value_get_int(v) != 2 * n_atomic)
        fprintf(stderr, "mproc atomic: wrong count\n");
    mp_value_free(v);
    return r;
}

static double mp_atomic_run(void) { return atomic_run(m_atomic); }
static double mp_atomic_inline_run(void) {
    return atomic_run(m_atomic_inline);
}

static double mp_sem_run(void) {
    mp_sem *s;
    mp_sem_new(&s, 1, 0);
    uint64_t t0 = bench_now_ns();
    for (int64_t i = 0; i < n_sem; i++) {
        mp_sem_acquire(s, MP_INFINITE);
        mp_sem_release(s);
    }
    double r = (double)(bench_now_ns() - t0) / (double)n_sem;
    mp_sem_free(s);
    return r;
}

static double mp_pp_run(void) {
    mp_sem *a, *b;
    mp_process *p;
    mp_sem_new(&a, 0, 0);
    mp_sem_new(&b, 0, 0);
    mp_process_new(
        &p, m_pong,
        MP_ARGS(mp_sem_arg(a), mp_sem_arg(b), mp_int(n_pp), mp_int(pp_cpu)),
        NULL);
    mp_process_start(p);
    uint64_t t0 = bench_now_ns();
    for (int64_t i = 0; i < n_pp; i++) {
        mp_sem_release(a);
        mp_sem_acquire(b, MP_INFINITE);
    }
    double r = (double)(bench_now_ns() - t0) / (double)n_pp;
    mp_process_join(p, MP_INFINITE);
    mp_process_free(p);
    mp_sem_free(a);
    mp_sem_free(b);
    return r;
}

/* ---- raw side ---- */

typedef struct raw_shared {
    pthread_mutex_t mx;
    _Alignas(64) pthread_mutex_t rmx; /* robust, error-checking, as mproc's */
    long long rcounter;
    long long counter;
    _Atomic long long acounter;
    sem_t a, b;
} raw_shared;

static raw_shared *raw_map(void) {
    raw_shared *r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_mutexattr_t at;
    pthread_mutexattr_init(&at);
    pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&r->mx, &at);
    pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_settype(&at, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&r->rmx, &at);
    sem_init(&r->a, 1, 0);
    sem_init(&r->b, 1, 0);
    return r;
}

/* kind 0: plain mutex, 1: atomic, 2: robust error-checking mutex (the
 * counter then sits on the mutex's line, as a locked Value's does). */
static double raw_two(raw_shared *r, int atomic, int64_t n) {
    uint64_t t0 = bench_now_ns();
    for (int k = 0; k < 2; k++)
        if (fork() == 0) {
            for (int64_t i = 0; i < n; i++) {
                if (atomic == 1) {
                    atomic_fetch_add(&r->acounter, 1);
                } else if (atomic == 2) {
                    pthread_mutex_lock(&r->rmx);
                    r->rcounter++;
                    pthread_mutex_unlock(&r->rmx);
                } else {
                    pthread_mutex_lock(&r->mx);
                    r->counter++;
                    pthread_mutex_unlock(&r->mx);
                }
            }
            _exit(0);
        }
    while (wait(NULL) > 0)
        ;
    return (double)(bench_now_ns() - t0) / (double)(2 * n);
}

static double raw_mutex_run(void) {
    raw_shared *r = raw_map();
    double x = raw_two(r, 0, n_mutex);
    munmap(r, sizeof *r);
    return x;
}

static double raw_robust_run(void) {
    raw_shared *r = raw_map();
    double x = raw_two(r, 2, n_mutex);
    munmap(r, sizeof *r);
    return x;
}

static double raw_atomic_run(void) {
    raw_shared *r = raw_map();
    double x = raw_two(r, 1, n_atomic);
    munmap(r, sizeof *r);
    return x;
}

static double raw_sem_run(void) {
    raw_shared *r = raw_map();
    sem_post(&r->a);
    uint64_t t0 = bench_now_ns();
    for (int64_t i = 0; i < n_sem; i++) {
        sem_wait(&r->a);
        sem_post(&r->a);
    }
    double x = (double)(bench_now_ns() - t0) / (double)n_sem;
    munmap(r, sizeof *r);
    return x;
}

static double raw_pp_run(void) {
    raw_shared *r = raw_map();
    if (fork() == 0) {
        if (pp_cpu >= 0)
            bench_pin_cpu(pp_cpu);
        for (int64_t i = 0; i < n_pp; i++) {
            sem_wait(&r->a);
            sem_post(&r->b);
        }
        _exit(0);
    }
    uint64_t t0 = bench_now_ns();
    for (int64_t i = 0; i < n_pp; i++) {
        sem_post(&r->a);
        sem_wait(&r->b);
    }
    double x = (double)(bench_now_ns() - t0) / (double)n_pp;
    while (wait(NULL) > 0)
        ;
    munmap(r, sizeof *r);
    return x;
}

/* ---- driver ---- */

typedef struct work {
    const char *op, *py_op, *target;
    double (*mp)(void), (*raw)(void);
    int64_t *n;
} work;

static void measure(const work *w) {
    double m[REPS], r[REPS];
    for (int i = 0; i < REPS; i++) { /* interleaved */
        m[i] = w->mp();
        r[i] = w->raw();
    }
    char args[64];
    /* Python is ~100x slower: give it fewer operations. */
    snprintf(args, sizeof args, "%s %lld %d", w->py_op ? w->py_op : "",
             (long long)(*w->n / 20 > 1000 ? *w->n / 20 : 1000), 3);
    /* No Python figure where it would not do the same thing (its partner
     * is not pinned apart). */
    double py = w->py_op ? bench_python("py_sync.py", args, NULL) : -1;
    bench_row(w->op, bench_summarise(m, REPS), bench_summarise(r, REPS), py,
              w->target);
}

int main(int argc, char **argv) {
    mp_init(&argc, &argv);
    if (getenv("MPROC_BENCH_QUICK")) {
        n_mutex /= 10, n_atomic /= 10, n_sem /= 10, n_pp /= 10;
    }
    const work ws[] = {
        {"Value += 1 under its lock, 2 processes", "mutex", "≥ 0.8× raw speed",
         mp_mutex_run, raw_mutex_run, &n_mutex},
        {"(same, raw = robust error-checking pshared mutex)", "mutex",
         "(for reference)", mp_mutex_run, raw_robust_run, &n_mutex},
        {"atomic add, 2 processes", "atomic", "≥ 0.8× raw speed",
         mp_atomic_run, raw_atomic_run, &n_atomic},
        {"atomic add, inline mp_atomic_add64, 2 processes", "atomic",
         "≥ 0.8× raw speed", mp_atomic_inline_run, raw_atomic_run, &n_atomic},
        {"Semaphore acquire+release, uncontended", "sem", "≤ 1.5× raw",
         mp_sem_run, raw_sem_run, &n_sem},
        {"two-semaphore ping-pong (round trip)", "pingpong", "≤ 1.2× raw",
         mp_pp_run, raw_pp_run, &n_pp},
    };
    /* MPROC_BENCH_ONLY=<text>: only the rows whose name contains it. */
    const char *only = getenv("MPROC_BENCH_ONLY");
    bench_header("Synchronisation", "ns per operation");
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
        if (!only || strstr(ws[i].op, only))
            measure(&ws[i]);
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
        if (ws[i].raw == raw_pp_run && (!only || strstr(ws[i].op, only)) &&
            mp_cpu_count() > 1) {
            /* Across two CPUs, without the scheduler's choice of where the
             * partner runs (which swings the unpinned row). */
            bench_pin_cpu(0);
            pp_cpu = 1;
            measure(&(work){"ping-pong, pinned to two CPUs", NULL,
                            "≤ 1.2× raw", mp_pp_run, raw_pp_run, &n_pp});
            pp_cpu = -1;
        }
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
        if (ws[i].raw == raw_pp_run && (!only || strstr(ws[i].op, only))) {
            bench_pin_cpu(
                0); /* round trips on one CPU, where noise is lowest */
            measure(&(work){"ping-pong, both on one CPU", "pingpong",
                            "≤ 1.2× raw", mp_pp_run, raw_pp_run, &n_pp});
        }
    return 0;
}
