/* Queue throughput and latency: mproc's queue against the raw C baselines
 * (a pipe with one write per item; a minimal shared-memory SPSC ring that
 * spins) and Python's Queue and SimpleQueue, in one run, interleaved.
 * Every figure is nanoseconds per item (lower is better); items/s and GB/s
 * are printed under the table. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <sched.h>
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
#define SMALL 8
#define BIG (64 * 1024)
#define RING_BYTES (1u << 20)

/* ---- mproc ---- */

static int t_produce(mp_call *c) {
    mp_queue *q = mp_arg_queue(mp_call_arg(c, 0));
    int64_t n = mp_arg_int(mp_call_arg(c, 1));
    size_t size = (size_t)mp_arg_int(mp_call_arg(c, 2));
    char *item = calloc(1, size);
    for (int64_t i = 0; i < n; i++)
        if (mp_queue_put(q, item, size, MP_INFINITE))
            return 1;
    free(item);
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

static int t_echo(mp_call *c) {
    mp_queue *a = mp_arg_queue(mp_call_arg(c, 0));
    mp_queue *b = mp_arg_queue(mp_call_arg(c, 1));
    int64_t n = mp_arg_int(mp_call_arg(c, 2));
    mp_buf buf = {0};
    for (int64_t i = 0; i < n; i++)
        if (mp_queue_get(a, &buf, MP_INFINITE) ||
            mp_queue_put(b, buf.data, buf.len, MP_INFINITE))
            return 1;
    mp_buf_free(&buf);
    return 0;
}

static mp_process *spawn_fork(mp_target fn, mp_args args) {
    mp_process *p = NULL;
    mp_process_options o = {.start_method = MP_START_FORK};
    if (mp_process_new(&p, fn, args, &o) || mp_process_start(p)) {
        fprintf(stderr, "bench_queue: cannot start a child\n");
        exit(1);
    }
    return p;
}

static void reap(mp_process *p) {
    mp_process_join(p, MP_INFINITE);
    mp_process_free(p);
}

/* nprod producers -> ncons consumers (the last consumer is this process). */
static double mproc_flow(int nprod, int ncons, long items, size_t size) {
    mp_queue *q;
    mp_process *ps[16];
    int np = 0;
    if (mp_queue_new(&q, 0, &(mp_queue_options){.capacity_bytes = RING_BYTES}))
        exit(1);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < nprod; i++)
        ps[np++] = spawn_fork(t_produce,
                              MP_ARGS(mp_queue_arg(q), mp_int(items / nprod),
                                      mp_int((int64_t)size)));
    for (int i = 0; i < ncons - 1; i++)
        ps[np++] = spawn_fork(t_consume,
                              MP_ARGS(mp_queue_arg(q), mp_int(items / ncons)));
    mp_buf b = {0};
    for (long i = 0; i < items / ncons; i++)
        mp_queue_get(q, &b, MP_INFINITE);
    for (int i = 0; i < np; i++)
        reap(ps[i]);
    double ns = (double)(bench_now_ns() - t0) / (double)items;
    mp_buf_free(&b);
    mp_queue_free(q);
    return ns;
}

static double mproc_lat(long trips, size_t size) {
    mp_queue *a, *b;
    if (mp_queue_new(&a, 0, NULL) || mp_queue_new(&b, 0, NULL))
        exit(1);
    mp_process *p = spawn_fork(
        t_echo, MP_ARGS(mp_queue_arg(a), mp_queue_arg(b), mp_int(trips + 1)));
    char *item = calloc(1, size);
    mp_buf buf = {0};
    mp_queue_put(a, item, size, MP_INFINITE);
    mp_queue_get(b, &buf, MP_INFINITE);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < trips; i++) {
        mp_queue_put(a, item, size, MP_INFINITE);
        mp_queue_get(b, &buf, MP_INFINITE);
    }
    double ns = (double)(bench_now_ns() - t0) / (double)trips / 2;
    reap(p);
    free(item);
    mp_buf_free(&buf);
    mp_queue_free(a);
    mp_queue_free(b);
    return ns;
}

/* ---- raw: one pipe, one write per item ---- */

/* Several writers and readers share the pipe: small writes are atomic. */
static double pipe_flow(int nprod, int ncons, long items, size_t size) {
    int fd[2];
    if (pipe(fd))
        exit(1);
    fcntl(fd[1], F_SETPIPE_SZ, RING_BYTES);
    char *item = calloc(1, size);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < nprod + ncons - 1; i++) {
        if (fork() == 0) {
            for (long k = 0; k < items / (i < nprod ? nprod : ncons); k++) {
                if (i < nprod)
                    bench_write_all(fd[1], item, size);
                else if (bench_read_all(fd[0], item, size))
                    _exit(1);
            }
            _exit(0);
        }
    }
    for (long k = 0; k < items / ncons; k++)
        if (bench_read_all(fd[0], item, size))
            _exit(1);
    while (wait(NULL) > 0)
        ;
    double ns = (double)(bench_now_ns() - t0) / (double)items;
    close(fd[0]);
    close(fd[1]);
    free(item);
    return ns;
}

static double pipe_lat(long trips, size_t size) {
    int a[2], b[2];
    if (pipe(a) || pipe(b))
        exit(1);
    char *item = calloc(1, size);
    if (fork() == 0) {
        for (long i = 0; i < trips + 1; i++) {
            if (bench_read_all(a[0], item, size))
                _exit(1);
            bench_write_all(b[1], item, size);
        }
        _exit(0);
    }
    bench_write_all(a[1], item, size);
    if (bench_read_all(b[0], item, size))
        _exit(1);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < trips; i++) {
        bench_write_all(a[1], item, size);
        if (bench_read_all(b[0], item, size))
            _exit(1);
    }
    double ns = (double)(bench_now_ns() - t0) / (double)trips / 2;
    wait(NULL);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    free(item);
    return ns;
}

/* ---- raw: a minimal shared-memory SPSC ring of [len | payload] records,
 * spinning (then yielding) when full or empty; no crash safety, no
 * sleeping, one producer and one consumer only ---- */

typedef struct ring {
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) unsigned char data[RING_BYTES];
} ring;

static void spin(unsigned *n) {
    if (++*n >= 1000)
        sched_yield();
#if defined(__x86_64__) || defined(__i386__)
    else
        __builtin_ia32_pause();
#endif
}

static void ring_copy_in(ring *r, uint64_t at, const void *p, size_t n) {
    size_t off = at % RING_BYTES,
           first = n < RING_BYTES - off ? n : RING_BYTES - off;
    memcpy(r->data + off, p, first);
    memcpy(r->data, (const char *)p + first, n - first);
}

static void ring_copy_out(ring *r, uint64_t at, void *p, size_t n) {
    size_t off = at % RING_BYTES,
           first = n < RING_BYTES - off ? n : RING_BYTES - off;
    memcpy(p, r->data + off, first);
    memcpy((char *)p + first, r->data, n - first);
}

static void ring_put(ring *r, const void *p, uint32_t len) {
    uint64_t need = 8 + ((len + 7) & ~7u), t = atomic_load(&r->tail);
    unsigned n = 0;
    while (RING_BYTES -
               (t - atomic_load_explicit(&r->head, memory_order_acquire)) <
           need)
        spin(&n);
    ring_copy_in(r, t, &len, 4);
    ring_copy_in(r, t + 8, p, len);
    atomic_store_explicit(&r->tail, t + need, memory_order_release);
}

static uint32_t ring_get(ring *r, void *out) {
    uint64_t h = atomic_load(&r->head);
    uint32_t len;
    unsigned n = 0;
    while (atomic_load_explicit(&r->tail, memory_order_acquire) == h)
        spin(&n);
    ring_copy_out(r, h, &len, 4);
    ring_copy_out(r, h + 8, out, len);
    atomic_store_explicit(&r->head, h + 8 + ((len + 7) & ~7u),
                          memory_order_release);
    return len;
}

static ring *ring_new(void) {
    ring *r = mmap(NULL, sizeof(ring), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        exit(1);
    return r;
}

static double ring_flow(long items, size_t size) {
    ring *r = ring_new();
    char *item = calloc(1, size);
    uint64_t t0 = bench_now_ns();
    if (fork() == 0) {
        for (long i = 0; i < items; i++)
            ring_put(r, item, (uint32_t)size);
        _exit(0);
    }
    for (long i = 0; i < items; i++)
        ring_get(r, item);
    wait(NULL);
    double ns = (double)(bench_now_ns() - t0) / (double)items;
    munmap(r, sizeof(ring));
    free(item);
    return ns;
}

static double ring_lat(long trips, size_t size) {
    ring *a = ring_new(), *b = ring_new();
    char *item = calloc(1, size);
    if (fork() == 0) {
        for (long i = 0; i < trips + 1; i++)
            ring_put(b, item, ring_get(a, item));
        _exit(0);
    }
    ring_put(a, item, (uint32_t)size);
    ring_get(b, item);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < trips; i++) {
        ring_put(a, item, (uint32_t)size);
        ring_get(b, item);
    }
    double ns = (double)(bench_now_ns() - t0) / (double)trips / 2;
    wait(NULL);
    munmap(a, sizeof(ring));
    munmap(b, sizeof(ring));
    free(item);
    return ns;
}

/* ---- the table ---- */

typedef struct row {
    const char *op, *target;
    int nprod, ncons; /* 0: latency */
    bool pinned;      /* every process on CPU 0 */
    long items;
    size_t size;
    bool ring_ok; /* the SPSC ring applies (1:1) */
} row;

static double run_one(const row *w, int which) {
    fflush(NULL);    /* children must not inherit unwritten output */
    if (w->pinned) { /* in a child, so the pin does not stick */
        int fd[2];
        double ns = 0;
        if (pipe(fd))
            exit(1);
        if (fork() == 0) {
            row u = *w;
            u.pinned = false;
            bench_pin_cpu(0);
            ns = run_one(&u, which);
            bench_write_all(fd[1], &ns, sizeof ns);
            _exit(0);
        }
        if (bench_read_all(fd[0], &ns, sizeof ns))
            _exit(1);
        wait(NULL);
        close(fd[0]);
        close(fd[1]);
        return ns;
    }
    if (w->nprod == 0) {
        return which == 0   ? mproc_lat(w->items, w->size)
               : which == 1 ? pipe_lat(w->items, w->size)
                            : ring_lat(w->items, w->size);
    }
    return which == 0   ? mproc_flow(w->nprod, w->ncons, w->items, w->size)
           : which == 1 ? pipe_flow(w->nprod, w->ncons, w->items, w->size)
                        : ring_flow(w->items, w->size);
}

/* Python's figure for the same work (ns per item), -1 when unavailable. */
static double python_ns(const row *w, const char *kind) {
    char args[128];
    long items = w->nprod ? (w->size > 1024 ? 4000 : 100000) : 2000;
    if (w->pinned)
        return -1;
    snprintf(args, sizeof args, "%s %s %d %d %ld %zu 3", kind,
             w->nprod ? "flow" : "lat", w->nprod ? w->nprod : 1,
             w->ncons ? w->ncons : 1, items, w->size);
    return bench_python("py_queue.py", args, NULL);
}

/* Rows: mproc against the pipe (python column: Queue) and, where it
 * applies, against the shm ring (python column: SimpleQueue). Throughput
 * in items/s and GB/s goes into `notes`, printed under the table. */
static void bench_table_row(const row *w, char *notes, size_t cap) {
    double v[3][REPS];
    for (int r = 0; r < REPS; r++) /* interleaved */
        for (int k = 0; k < 3; k++)
            v[k][r] = (k == 2 && !w->ring_ok) ? 0 : run_one(w, k);
    bench_stats m = bench_summarise(v[0], REPS),
                p = bench_summarise(v[1], REPS);
    bench_stats g = bench_summarise(v[2], REPS);
    char op[128];
    snprintf(op, sizeof op, "%s (raw: pipe; python: Queue)", w->op);
    bench_row(op, m, p, python_ns(w, "Queue"), w->target);
    snprintf(op, sizeof op, "%s (raw: shm ring; python: SimpleQueue)", w->op);
    if (w->ring_ok)
        bench_row(op, m, g, python_ns(w, "SimpleQueue"), w->target);
    size_t n = strlen(notes);
    if (w->nprod && n < cap)
        snprintf(notes + n, cap - n, "- %s: mproc %.2f M items/s, %.2f GB/s\n",
                 w->op, 1e3 / m.med, (double)w->size / m.med);
}

int main(int argc, char **argv) {
    if (mp_init(&argc, &argv))
        return 1;
    static const row rows[] = {
        {"8 B items 1:1", "≥ 5 M/s (≤ 200 ns), ≥ 25× Python", 1, 1, false,
         2000000, SMALL, true},
        {"8 B items 4:4", "", 4, 4, false, 2000000, SMALL, false},
        {"64 KiB items 1:1", "≥ 0.7× shm ring (ratio ≤ 1.43)", 1, 1, false,
         20000, BIG, true},
        {"put→get latency, 8 B", "", 0, 0, false, 20000, SMALL, true},
        {"put→get latency, 8 B, one CPU", "", 0, 0, true, 5000, SMALL, true},
    };
    char notes[1024] = "";
    bench_header("Queue", "ns per item");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        bench_table_row(&rows[i], notes, sizeof notes);
    printf("\n%s", notes);
    return 0;
}
