#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

uint64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

bench_stats bench_summarise(const double *v, int n) {
    bench_stats s = {0, 0, 0};
    if (n <= 0)
        return s;
    double *c = malloc((size_t)n * sizeof *c);
    if (!c)
        return s;
    memcpy(c, v, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, cmp_double);
    s.min = c[0];
    s.max = c[n - 1];
    s.med = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    free(c);
    return s;
}

double bench_python(const char *script, const char *args, bench_stats *out) {
    const char *py = getenv("PYTHON");
    const char *dir = getenv("MPROC_BENCH_DIR");
    /* The portable path's run (run.sh) reuses the first run's Python. */
    const char *skip = getenv("MPROC_BENCH_NO_PYTHON");
    if (skip && *skip)
        return -1;
    char cmd[2048];
    double v[64];
    int n = 0;
    if (!py || !*py)
        py = "python3";
    snprintf(cmd, sizeof cmd, "%s %s/%s %s 2>/dev/null", py,
             dir ? dir : "bench", script, args ? args : "");
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    while (n < 64 && fscanf(f, "%lf", &v[n]) == 1)
        n++;
    if (pclose(f) != 0 || n == 0)
        return -1;
    bench_stats s = bench_summarise(v, n);
    if (out)
        *out = s;
    return s.med;
}

static const char *unit_name = "";

void bench_header(const char *title, const char *unit) {
    unit_name = unit;
    printf("\n### %s (%s, median of runs; min–max)\n\n", title, unit);
    printf("| operation | mproc | raw | python | mproc/raw | python/mproc | "
           "target |\n");
    printf("|---|---|---|---|---|---|---|\n");
}

void bench_row(const char *op, bench_stats m, bench_stats r, double py,
               const char *target) {
    char pys[64] = "n/a", pyr[32] = "n/a";
    if (py > 0) {
        snprintf(pys, sizeof pys, "%.3g", py);
        snprintf(pyr, sizeof pyr, "%.2f", m.med > 0 ? py / m.med : 0);
    }
    printf(
        "| %s | %.3g (%.3g–%.3g) | %.3g (%.3g–%.3g) | %s | %.2f | %s | %s |\n",
        op, m.med, m.min, m.max, r.med, r.min, r.max, pys,
        r.med > 0 ? m.med / r.med : 0, pyr, target ? target : "");
    fflush(stdout);
}

void bench_pin_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

void bench_write_all(int fd, const void *p, size_t n) {
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k <= 0)
            _exit(1);
        p = (const char *)p + k;
        n -= (size_t)k;
    }
}

int bench_read_all(int fd, void *p, size_t n) {
    while (n) {
        ssize_t k = read(fd, p, n);
        if (k <= 0)
            return -1;
        p = (char *)p + k;
        n -= (size_t)k;
    }
    return 0;
}
