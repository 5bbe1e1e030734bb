/* Pool throughput and latency: mproc's Pool(2) against hand-made 2-worker
 * pools in plain C (one pipe pair per worker; one shared-memory SPSC ring
 * pair per worker that spins, then yields) and Python's Pool(2), in one
 * run, interleaved. The task squares an integer. Every figure is
 * nanoseconds per task (lower is better); tasks/s are printed under the
 * table. Workers are started before timing, as Python's are. The ring
 * pool's workers never sleep, so they exist only while that pool is
 * measured: left running, they would take the CPUs from the other runs
 * (and, on a VM, keep idle CPUs from halting, which flatters every
 * blocking wake-up measured beside them). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <poll.h>
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
#define NW 2
#define TASKS 20000
#define RTT_TASKS 2000

/* ---- mproc ---- */

static int t_square(mp_call *c) {
    int64_t x = mp_arg_int(mp_call_arg(c, 0));
    return mp_call_return_int(c, x * x);
}

enum mode { M_APPLY, M_MAP1, M_MAP, M_RTT };

static double mproc_run(mp_pool *p, enum mode m, int n) {
    static mp_result *r[TASKS];
    static mp_arg a[TASKS];
    static mp_args items[TASKS];
    mp_buf b = {0};
    for (int i = 0; i < n; i++) {
        a[i] = mp_int(i);
        items[i] = mp_args_borrow(&a[i], 1);
    }
    uint64_t t0 = bench_now_ns();
    if (m == M_APPLY) {
        for (int i = 0; i < n; i++)
            mp_pool_apply_async(p, t_square, items[i], &r[i]);
        for (int i = 0; i < n; i++) {
            mp_result_get(r[i], MP_INFINITE, &b);
            mp_result_free(r[i]);
        }
    } else if (m == M_RTT) {
        for (int i = 0; i < n; i++)
            mp_pool_apply(p, t_square, items[i], &b);
    } else {
        mp_result *res;
        mp_pool_map(p, t_square, items, (size_t)n, m == M_MAP1 ? 1 : 0, &res);
        mp_result_free(res);
    }
    uint64_t dt = bench_now_ns() - t0;
    mp_buf_free(&b);
    return (double)dt / n;
}

/* ---- raw: pipes (one write per batch of tasks, one read per batch) ---- */

typedef struct pipe_pool {
    int task[NW], res[NW];
    pid_t pid[NW];
} pipe_pool;

static void pipe_worker(int in, int out) {
    int64_t buf[512];
    ssize_t got;
    while ((got = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < got / 8; i++)
            buf[i] *= buf[i];
        if (write(out, buf, (size_t)got) != got)
            break;
    }
    _exit(0);
}

static void pipe_pool_start(pipe_pool *pp) {
    for (int w = 0; w < NW; w++) {
        int t[2], r[2];
        if (pipe(t) || pipe(r))
            exit(1);
        if ((pp->pid[w] = fork()) == 0) {
            /* Earlier workers' ends must not stay open here, or they would
             * never see end of file. */
            for (int j = 0; j < w; j++) {
                close(pp->task[j]);
                close(pp->res[j]);
            }
            close(t[1]);
            close(r[0]);
            pipe_worker(t[0], r[1]);
        }
        close(t[0]);
        close(r[1]);
        pp->task[w] = t[1];
        pp->res[w] = r[0];
    }
}

static void pipe_pool_stop(pipe_pool *pp) {
    for (int w = 0; w < NW; w++) {
        close(pp->task[w]);
        close(pp->res[w]);
        waitpid(pp->pid[w], NULL, 0);
    }
}

/* n tasks, `batch` per write, at most 256 outstanding per worker. */
static double pipe_run(pipe_pool *pp, int n, int batch, bool rtt) {
    int64_t buf[256];
    int sent[NW] = {0}, got[NW] = {0}, total = 0, next = 0;
    uint64_t t0 = bench_now_ns();
    while (total < n) {
        for (int w = 0; w < NW; w++) {
            int room = 256 - (sent[w] - got[w]);
            int k = batch < room ? batch : room;
            if (rtt && sent[0] + sent[1] > total)
                k = 0;
            if (k > n - next)
                k = n - next;
            if (k <= 0)
                continue;
            for (int i = 0; i < k; i++)
                buf[i] = next++;
            if (write(pp->task[w], buf, (size_t)k * 8) != k * 8)
                exit(1);
            sent[w] += k;
        }
        struct pollfd pf[NW];
        for (int w = 0; w < NW; w++)
            pf[w] = (struct pollfd){pp->res[w], POLLIN, 0};
        poll(pf, NW, -1);
        for (int w = 0; w < NW; w++) {
            if (!(pf[w].revents & POLLIN))
                continue;
            ssize_t r = read(pp->res[w], buf, sizeof buf);
            got[w] += (int)(r / 8);
            total += (int)(r / 8);
        }
    }
    return (double)(bench_now_ns() - t0) / n;
}

/* ---- raw: shared-memory SPSC rings ---- */

#define RING 4096
typedef struct ring {
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) int64_t slot[RING];
} ring;

typedef struct shm_pool {
    ring *task, *res; /* NW of each, in one shared mapping */
    pid_t pid[NW];
} shm_pool;

static bool ring_push(ring *r, int64_t v) {
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (h - atomic_load_explicit(&r->tail, memory_order_acquire) == RING)
        return false;
    r->slot[h % RING] = v;
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    return true;
}

static bool ring_pop(ring *r, int64_t *v) {
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (t == atomic_load_explicit(&r->head, memory_order_acquire))
        return false;
    *v = r->slot[t % RING];
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    return true;
}

static void shm_worker(ring *in, ring *out) {
    for (unsigned idle = 0;;) {
        int64_t v;
        if (!ring_pop(in, &v)) {
            if (++idle > 200)
                sched_yield();
            continue;
        }
        idle = 0;
        if (v < 0)
            _exit(0);
        while (!ring_push(out, v * v))
            sched_yield();
    }
}

static void shm_pool_start(shm_pool *sp) {
    size_t size = 2 * NW * sizeof(ring);
    ring *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        exit(1);
    sp->task = m;
    sp->res = m + NW;
    for (int w = 0; w < NW; w++)
        if ((sp->pid[w] = fork()) == 0) {
            for (int fd = 3; fd < 1024; fd++) /* not the pipe pool's ends */
                close(fd);
            shm_worker(&sp->task[w], &sp->res[w]);
        }
}

static void shm_pool_stop(shm_pool *sp) {
    for (int w = 0; w < NW; w++) {
        while (!ring_push(&sp->task[w], -1))
            sched_yield();
        waitpid(sp->pid[w], NULL, 0);
    }
    munmap(sp->task, 2 * NW * sizeof(ring));
}

static double shm_run(shm_pool *sp, int n, bool rtt) {
    int next = 0, total = 0;
    uint64_t t0 = bench_now_ns();
    while (total < n) {
        for (int w = 0; w < NW && next < n; w++) {
            if (rtt && next > total)
                break;
            if (ring_push(&sp->task[w], next))
                next++;
        }
        int64_t v;
        bool any = false;
        for (int w = 0; w < NW; w++)
            while (ring_pop(&sp->res[w], &v))
                total++, any = true;
        if (!any && next == n)
            sched_yield();
    }
    return (double)(bench_now_ns() - t0) / n;
}

/* ---- the table ---- */

typedef struct row {
    const char *op, *py_mode, *target;
    enum mode mode;
    int n, pipe_batch;
} row;

static void run_row(const row *w, mp_pool *p, pipe_pool *pp, shm_pool *sp) {
    double v[3][REPS];
    bool rtt = w->mode == M_RTT;
    for (int r = 0; r < REPS; r++) { /* interleaved */
        v[0][r] = mproc_run(p, w->mode, w->n);
        v[1][r] = pipe_run(pp, w->n, w->pipe_batch, rtt);
        /* Its workers poll for ever: they run only while measured, or
         * they would take the CPUs from the others' runs. */
        shm_pool_start(sp);
        v[2][r] = shm_run(sp, w->n, rtt);
        shm_pool_stop(sp);
    }
    bench_stats m = bench_summarise(v[0], REPS);
    char args[64], op[160];
    snprintf(args, sizeof args, "%s %d %d", w->py_mode, rtt ? w->n / 5 : w->n,
             REPS);
    double py = bench_python("py_pool.py", args, NULL);
    snprintf(op, sizeof op, "%s (raw: pipe pool, %d/write)", w->op,
             w->pipe_batch);
    bench_row(op, m, bench_summarise(v[1], REPS), py, w->target);
    snprintf(op, sizeof op, "%s (raw: shm ring pool)", w->op);
    bench_row(op, m, bench_summarise(v[2], REPS), py, "");
    printf("<!-- %s: mproc %.2f M tasks/s -->\n", w->op, 1e3 / m.med);
}

int main(int argc, char **argv) {
    if (mp_init(&argc, &argv))
        return 1;
    static const row rows[] = {
        {"20k tiny tasks, apply_async", "apply",
         "≥ 1 M/s (≤ 1000 ns), ≥ 20× Python", M_APPLY, TASKS, 1},
        {"20k tiny tasks, map chunksize 1", "map1", "", M_MAP1, TASKS, 1},
        {"20k tiny tasks, map default chunksize", "map", "", M_MAP, TASKS, 64},
        {"apply_async + get round trip", "rtt", "≤ 10 µs", M_RTT, RTT_TASKS,
         1},
    };
    mp_pool *p;
    if (mp_pool_new(&p, &(mp_pool_options){.processes = NW}))
        return 1;
    mproc_run(p, M_MAP, 1000); /* warm: workers have resolved the task */
    pipe_pool pp;
    shm_pool sp;
    pipe_pool_start(&pp);
    bench_header("Pool(2)", "ns per task");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        run_row(&rows[i], p, &pp, &sp);
    pipe_pool_stop(&pp);
    mp_pool_close(p);
    mp_pool_join(p, MP_INFINITE);
    mp_pool_free(p);
    return 0;
}
