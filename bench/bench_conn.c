/* Pipe / Connection: 8-byte round trips and 64 KiB one-way throughput,
 * mproc against raw socketpair / pipe and Python's Pipe, in one run,
 * unpinned and with everything on one CPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mproc.h>

#include "benchutil.h"

#define REPS 5
#define RT_N 20000
#define TP_N 20000
#define TP_SIZE 65536

/* The parent's end arrives too, to be closed: a forked child holds a copy,
 * which would keep the stream open forever. */
static int echo(mp_call *call) {
    mp_conn *c = mp_arg_conn(mp_call_arg(call, 0));
    mp_conn_close(mp_arg_conn(mp_call_arg(call, 1)));
    char b[8];
    size_t len;
    while (mp_conn_recv_into(c, b, sizeof b, &len, MP_INFINITE) == 0)
        if (mp_conn_send(c, b, len))
            break;
    return 0;
}

static int sender(mp_call *call) {
    mp_conn *c = mp_arg_conn(mp_call_arg(call, 0));
    mp_conn_close(mp_arg_conn(mp_call_arg(call, 1)));
    static char block[TP_SIZE];
    for (int i = 0; i < TP_N; i++)
        if (mp_conn_send(c, block, sizeof block))
            return 1;
    return 0;
}

/* Runs target in a forked child over one end of a pair; returns µs per
 * round trip (rt) or GB/s (throughput). */
static double run_mproc(bool rt) {
    mp_conn *a, *b;
    mp_process *p;
    mp_process_options o = {.start_method = MP_START_FORK};
    if (mp_pipe(&a, &b, true) ||
        mp_process_new(&p, rt ? echo : sender,
                       MP_ARGS(mp_conn_arg(b), mp_conn_arg(a)), &o) ||
        mp_process_start(p))
        abort();
    mp_conn_close(b);
    uint64_t t0 = bench_now_ns();
    double r;
    if (rt) {
        char m[8] = "12345678";
        size_t len;
        for (int i = 0; i < RT_N; i++)
            if (mp_conn_send(a, m, 8) ||
                mp_conn_recv_into(a, m, 8, &len, MP_INFINITE))
                abort();
        r = (double)(bench_now_ns() - t0) / 1e3 / RT_N;
    } else {
        static char block[TP_SIZE];
        size_t len;
        for (int i = 0; i < TP_N; i++)
            if (mp_conn_recv_into(a, block, sizeof block, &len, MP_INFINITE))
                abort();
        r = (double)TP_N * TP_SIZE / (double)(bench_now_ns() - t0);
    }
    mp_conn_free(a);
    mp_process_join(p, MP_INFINITE);
    mp_process_free(p);
    mp_conn_free(b);
    return r;
}

static void full(ssize_t (*op)(int, void *, size_t), int fd, char *p,
                 size_t n) {
    while (n) {
        ssize_t k = op(fd, p, n);
        if (k <= 0)
            _exit(0);
        p += k;
        n -= (size_t)k;
    }
}
static ssize_t rd(int fd, void *p, size_t n) { return read(fd, p, n); }
static ssize_t wr(int fd, void *p, size_t n) { return write(fd, p, n); }

/* The same with raw descriptors: a socketpair, or two pipes (rt only). */
static double run_raw(bool rt, bool use_pipes) {
    int p1[2], p2[2]; /* parent->child, child->parent */
    if (use_pipes ? pipe(p1) || pipe(p2)
                  : socketpair(AF_UNIX, SOCK_STREAM, 0, p1))
        abort();
    if (!use_pipes)
        p2[0] = p1[0], p2[1] = p1[1];
    int cin = use_pipes ? p1[0] : p1[1], cout = use_pipes ? p2[1] : p1[1];
    int pin = use_pipes ? p2[0] : p1[0], pout = use_pipes ? p1[1] : p1[0];
    static char block[TP_SIZE];
    pid_t pid = fork();
    if (pid == 0) {
        char m[8];
        for (int i = 0; i < (rt ? RT_N : TP_N); i++) {
            if (rt) {
                full(rd, cin, m, 8);
                full(wr, cout, m, 8);
            } else {
                full(wr, cout, block, sizeof block);
            }
        }
        _exit(0);
    }
    uint64_t t0 = bench_now_ns();
    double r;
    if (rt) {
        char m[8] = "12345678";
        for (int i = 0; i < RT_N; i++) {
            full(wr, pout, m, 8);
            full(rd, pin, m, 8);
        }
        r = (double)(bench_now_ns() - t0) / 1e3 / RT_N;
    } else {
        for (int i = 0; i < TP_N; i++)
            full(rd, pin, block, sizeof block);
        r = (double)TP_N * TP_SIZE / (double)(bench_now_ns() - t0);
    }
    waitpid(pid, NULL, 0);
    close(p1[0]), close(p1[1]);
    if (use_pipes)
        close(p2[0]), close(p2[1]);
    return r;
}

static void measure(const char *op, bool rt, bool use_pipes,
                    const char *pyargs, const char *target) {
    double a[REPS], b[REPS];
    for (int r = 0; r < REPS; r++) { /* interleaved */
        a[r] = run_mproc(rt);
        b[r] = run_raw(rt, use_pipes);
    }
    double py = pyargs ? bench_python("py_conn.py", pyargs, NULL) : -1;
    bench_row(op, bench_summarise(a, REPS), bench_summarise(b, REPS), py,
              target);
}

int main(int argc, char **argv) {
    if (mp_init(&argc, &argv))
        return 1;
    bench_header("Pipe: 8-byte round trip", "µs per round trip");
    measure("round trip vs socketpair", true, false, "rt 20000 5",
            "≤ 1.3× raw");
    measure("round trip vs two pipes", true, true, NULL, "≤ 1.3× raw");
    bench_header("Pipe: 64 KiB messages one way", "GB/s");
    measure("64 KiB throughput vs socketpair", false, false, "tp 20000 5",
            "≥ 0.9× raw socketpair");
    bench_pin_cpu(0);
    bench_header("Pipe, both processes on one CPU", "µs per round trip");
    measure("round trip vs socketpair, one CPU", true, false, "rt1 20000 5",
            "≤ 1.3× raw");
    bench_header("Pipe, both processes on one CPU", "GB/s");
    measure("64 KiB throughput, one CPU", false, false, "tp1 20000 5",
            "≥ 0.9× raw socketpair");
    return 0;
}
