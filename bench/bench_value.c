/* Values: encode + decode against Python's pickle, and values against the
 * same bytes through a Connection and a Queue, in one run. The small dict
 * is py_value.py's (493 bytes of pickle); "raw" is, for the codec rows, a
 * memcpy of the pickle, and for the transport rows the same pickle's bytes
 * sent as bytes (mp_conn_send, mp_queue_put), so mproc/raw is the cost the
 * values add. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mproc.h>

#include "benchutil.h"

#define REPS 5

static mp_val *small_dict(void) {
    mp_val *d = mp_val_new(MP_VAL_DICT), *l, *t, *m;
    static const char blob[64];
    static const char *tags[] = {"alpha", "beta", "gamma", "delta"};
    static const double hist[] = {1.5, 2.25, 3.0, 4.75, 5.5};
    char notes[101];
    memset(notes, 'x', 100);
    notes[100] = 0;
    int rc = !d;
    rc |= mp_val_put_int(d, "id", 12345);
    rc |= mp_val_put_str(d, "name", "worker-7");
    rc |= mp_val_put_str(d, "path", "/data/input/part-00042.csv");
    rc |= mp_val_put_bool(d, "ok", true);
    rc |= mp_val_put_float(d, "score", 0.875);
    rc |= mp_val_set_empty(l = mp_val_put(d, "tags"), MP_VAL_LIST);
    for (int i = 0; i < 4; i++)
        rc |= mp_val_push_str(l, tags[i]);
    rc |= mp_val_set_empty(t = mp_val_put(d, "dims"), MP_VAL_TUPLE);
    rc |= mp_val_push_int(t, 1920) | mp_val_push_int(t, 1080) |
          mp_val_push_int(t, 3);
    rc |= mp_val_put_none(d, "owner");
    rc |= mp_val_set_empty(m = mp_val_put(d, "meta"), MP_VAL_DICT);
    rc |= mp_val_put_int(m, "created", 1700000000);
    rc |= mp_val_put_int(m, "size", 1048576);
    rc |= mp_val_put_str(m, "host", "node17.cluster.local");
    rc |= mp_val_put_int(m, "retries", 2);
    rc |= mp_val_put_bytes(d, "blob", blob, sizeof blob);
    rc |= mp_val_set_empty(l = mp_val_put(d, "history"), MP_VAL_LIST);
    for (int i = 0; i < 5; i++)
        rc |= mp_val_push_float(l, hist[i]);
    rc |= mp_val_put_str(d, "notes", notes);
    if (rc)
        abort();
    return d;
}

static mp_val *ints(void) {
    mp_val *l = mp_val_new(MP_VAL_LIST);
    for (int i = 0; i < 10000; i++)
        if (!l || mp_val_push_int(l, i))
            abort();
    return l;
}

/* µs per dumps + loads of v, and per memcpy of its pickle. */
static double codec(const mp_val *v, int n, bool raw) {
    mp_buf b = {0};
    if (mp_val_dumps(v, 4, &b))
        abort();
    char *copy = malloc(b.len);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        if (raw) {
            memcpy(copy, b.data, b.len);
            __asm__ volatile("" : : "r"(copy) : "memory");
            continue;
        }
        mp_val *back;
        if (mp_val_dumps(v, 4, &b) || mp_val_loads(&back, b.data, b.len, NULL))
            abort();
        mp_val_free(back);
    }
    double r = (double)(bench_now_ns() - t0) / 1e3 / n;
    free(copy);
    mp_buf_free(&b);
    return r;
}

static void measure_codec(const char *op, const mp_val *v, int n,
                          const char *pyargs) {
    double a[REPS], b[REPS];
    for (int r = 0; r < REPS; r++) {
        a[r] = codec(v, n, false);
        b[r] = codec(v, n, true);
    }
    bench_row(op, bench_summarise(a, REPS), bench_summarise(b, REPS),
              bench_python("py_value.py", pyargs, NULL), "python/mproc ≥ 5");
}

static int echo_val(mp_call *call) {
    mp_conn *c = mp_arg_conn(mp_call_arg(call, 0));
    mp_conn_close(mp_arg_conn(mp_call_arg(call, 1)));
    mp_val *v;
    while (mp_conn_recv_val(c, &v, MP_INFINITE) == 0) {
        int rc = mp_conn_send_val(c, v);
        mp_val_free(v);
        if (rc)
            break;
    }
    return 0;
}

static int echo_bytes(mp_call *call) {
    mp_conn *c = mp_arg_conn(mp_call_arg(call, 0));
    mp_conn_close(mp_arg_conn(mp_call_arg(call, 1)));
    char b[1024];
    size_t len;
    while (mp_conn_recv_into(c, b, sizeof b, &len, MP_INFINITE) == 0)
        if (mp_conn_send(c, b, len))
            break;
    return 0;
}

#define RT_N 20000

/* µs per round trip of the small dict as a value, or of its pickle as
 * bytes (a receiver that decodes nothing). */
static double conn_rt(const mp_val *v, bool as_val) {
    mp_conn *a, *b;
    mp_process *p;
    mp_process_options o = {.start_method = MP_START_FORK};
    if (mp_pipe(&a, &b, true) ||
        mp_process_new(&p, as_val ? echo_val : echo_bytes,
                       MP_ARGS(mp_conn_arg(b), mp_conn_arg(a)), &o) ||
        mp_process_start(p))
        abort();
    mp_conn_close(b);
    mp_buf pk = {0};
    if (mp_val_dumps(v, 4, &pk))
        abort();
    char back[1024];
    size_t len;
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < RT_N; i++) {
        if (as_val) {
            mp_val *r;
            if (mp_conn_send_val(a, v) || mp_conn_recv_val(a, &r, MP_INFINITE))
                abort();
            mp_val_free(r);
        } else if (mp_conn_send(a, pk.data, pk.len) ||
                   mp_conn_recv_into(a, back, sizeof back, &len,
                                     MP_INFINITE)) {
            abort();
        }
    }
    double r = (double)(bench_now_ns() - t0) / 1e3 / RT_N;
    mp_buf_free(&pk);
    mp_conn_free(a);
    mp_process_join(p, MP_INFINITE);
    mp_process_free(p);
    mp_conn_free(b);
    return r;
}

#define Q_N 200000

/* µs per put + get in one process, as a value or as its pickle's bytes. */
static double queue_pair(mp_queue *q, const mp_val *v, bool as_val) {
    mp_buf pk = {0}, out = {0};
    if (mp_val_dumps(v, 4, &pk))
        abort();
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < Q_N; i++) {
        if (as_val) {
            mp_val *r;
            if (mp_queue_put_val(q, v, MP_INFINITE) ||
                mp_queue_get_val(q, &r, MP_INFINITE))
                abort();
            mp_val_free(r);
        } else if (mp_queue_put(q, pk.data, pk.len, MP_INFINITE) ||
                   mp_queue_get(q, &out, MP_INFINITE)) {
            abort();
        }
    }
    double r = (double)(bench_now_ns() - t0) / 1e3 / Q_N;
    mp_buf_free(&pk);
    mp_buf_free(&out);
    return r;
}

/* ---- 64 MiB items: a Queue and a pool result against a raw copy through
 * shared memory between two processes ---------------------------------- */

#define BIG ((size_t)64 << 20)

/* A receive buffer already the size of an item, its pages touched, as a
 * program receiving items in a loop has it. */
static int mp__bench_reserve(mp_buf *b) {
    b->data = malloc(BIG + 1);
    if (!b->data)
        return -1;
    memset(b->data, 0, BIG + 1);
    b->cap = BIG + 1;
    return 0;
}

static int big_putter(mp_call *call) {
    mp_queue *q = mp_arg_queue(mp_call_arg(call, 0));
    int n = (int)mp_arg_int(mp_call_arg(call, 1));
    char *block = malloc(BIG);
    if (!block)
        return 1;
    memset(block, 7, BIG);
    for (int i = 0; i < n; i++)
        if (mp_queue_put(q, block, BIG, MP_INFINITE))
            return 1;
    free(block);
    return 0;
}

/* GB/s of n 64 MiB items from a child to this process through a Queue
 * with default options. */
static double big_queue(int n) {
    mp_queue *q;
    mp_process *p;
    mp_process_options o = {.start_method = MP_START_FORK};
    if (mp_queue_new(&q, 0, NULL) ||
        mp_process_new(&p, big_putter, MP_ARGS(mp_queue_arg(q), mp_int(n)),
                       &o))
        abort();
    mp_buf b = {0};
    if (mp__bench_reserve(&b))
        abort();
    uint64_t t0 = bench_now_ns();
    if (mp_process_start(p))
        abort();
    for (int i = 0; i < n; i++)
        if (mp_queue_get(q, &b, MP_INFINITE) || b.len != BIG)
            abort();
    double r = (double)n * BIG / (double)(bench_now_ns() - t0);
    mp_process_join(p, MP_INFINITE);
    mp_process_free(p);
    mp_queue_free(q);
    mp_buf_free(&b);
    return r;
}

static int big_result(mp_call *call) {
    char *block = malloc(BIG);
    if (!block)
        return 1;
    memset(block, 7, BIG);
    int rc = mp_call_return(call, block, BIG);
    free(block);
    return rc;
}

/* GB/s of n 64 MiB pool results, one worker. */
static double big_pool(int n) {
    mp_pool *pool;
    mp_pool_options o = {.processes = 1, .start_method = MP_START_FORK};
    if (mp_pool_new(&pool, &o))
        abort();
    mp_buf b = {0};
    if (mp__bench_reserve(&b))
        abort();
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        mp_result *r;
        if (mp_pool_apply_async(pool, big_result, MP_NO_ARGS, &r) ||
            mp_result_get(r, MP_INFINITE, &b) || b.len != BIG)
            abort();
        mp_result_free(r);
    }
    double rate = (double)n * BIG / (double)(bench_now_ns() - t0);
    mp_pool_close(pool);
    mp_pool_join(pool, MP_INFINITE);
    mp_pool_free(pool);
    mp_buf_free(&b);
    return rate;
}

/* The floor: a child fills its block and copies it into a fresh shared
 * mapping, the parent copies it out into its own buffer; GB/s. */
static double big_raw(int n) {
    char *out = malloc(BIG);
    int done[2];
    if (!out || pipe(done))
        abort();
    memset(out, 0, BIG);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        char *shm = mmap(NULL, BIG, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shm == MAP_FAILED)
            abort();
        pid_t pid = fork();
        if (pid == 0) {
            char *block = malloc(BIG);
            if (!block)
                _exit(1);
            memset(block, 7, BIG);
            memcpy(shm, block, BIG);
            bench_write_all(done[1], "x", 1);
            _exit(0);
        }
        char c;
        if (bench_read_all(done[0], &c, 1))
            abort();
        memcpy(out, shm, BIG);
        waitpid(pid, NULL, 0);
        munmap(shm, BIG);
    }
    double r = (double)n * BIG / (double)(bench_now_ns() - t0);
    close(done[0]);
    close(done[1]);
    free(out);
    return r;
}

int main(int argc, char **argv) {
    if (mp_init(&argc, &argv))
        return 1;
    mp_val *d = small_dict(), *l = ints();
    bench_header("Values: pickle encode + decode (raw: memcpy of the pickle)",
                 "µs per dumps + loads");
    measure_codec("small mixed dict (493 bytes)", d, 200000, "dict 100000 5");
    measure_codec("list of 10 000 ints", l, 2000, "ints 1000 5");

    bench_header("Values over a Pipe (raw: the same pickle as bytes)",
                 "µs per round trip");
    double a[REPS], b[REPS];
    for (int r = 0; r < REPS; r++) {
        a[r] = conn_rt(d, true);
        b[r] = conn_rt(d, false);
    }
    bench_row("small dict round trip", bench_summarise(a, REPS),
              bench_summarise(b, REPS),
              bench_python("py_value.py", "rt 20000 5", NULL), "≤ 1.3× raw");

    bench_header("Values through a Queue (raw: the same pickle as bytes)",
                 "µs per put + get");
    mp_queue *q;
    if (mp_queue_new(&q, 0, NULL))
        abort();
    for (int r = 0; r < REPS; r++) {
        a[r] = queue_pair(q, d, true);
        b[r] = queue_pair(q, d, false);
    }
    bench_row("small dict put + get", bench_summarise(a, REPS),
              bench_summarise(b, REPS),
              bench_python("py_value.py", "queue 20000 5", NULL),
              "(informative)");
    mp_val *t = mp_val_new(MP_VAL_TUPLE);
    if (!t || mp_val_push_int(t, 12345) || mp_val_push_str(t, "done") ||
        mp_val_push_float(t, 0.5))
        abort();
    for (int r = 0; r < REPS; r++) {
        a[r] = queue_pair(q, t, true);
        b[r] = queue_pair(q, t, false);
    }
    bench_row("small tuple (12345, \"done\", 0.5) put + get",
              bench_summarise(a, REPS), bench_summarise(b, REPS),
              bench_python("py_value.py", "qsmall 20000 5", NULL),
              "≤ 1.5× raw");
    mp_val_free(t);
    mp_queue_free(q);

    bench_header("64 MiB items from a child (raw: a fresh shared mapping, "
                 "copied in and out)",
                 "GB/s");
    double c[REPS];
    for (int r = 0; r < 3; r++) {
        a[r] = big_queue(4);
        b[r] = big_raw(4);
        c[r] = big_pool(4);
    }
    bench_row("Queue() item", bench_summarise(a, 3), bench_summarise(b, 3), -1,
              "≥ 0.7× raw");
    bench_row("pool result", bench_summarise(c, 3), bench_summarise(b, 3), -1,
              "≥ 0.7× raw");
    mp_val_free(d);
    mp_val_free(l);
    return 0;
}
