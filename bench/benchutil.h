/* Shared by the benchmark programs: timing, repetitions, and the Markdown
 * rows every program prints. Each row compares mproc with the raw OS
 * equivalent and with Python's multiprocessing measured in the same run. */
#ifndef MP_BENCHUTIL_H
#define MP_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic nanoseconds. */
uint64_t bench_now_ns(void);

/* Runs fn(arg) `reps` times, interleaved by the caller as it wishes, and
 * keeps the per-run values (e.g. ns per operation). */
typedef struct bench_stats {
    double med, min, max;
} bench_stats;

/* Median, min and max of n values (sorts a copy). */
bench_stats bench_summarise(const double *v, int n);

/* Runs a Python snippet file bench/py_<area>.py with `args`, which prints one
 * number (the same unit as the C side) per line for each repetition;
 * returns the median, or -1 when python3 is absent or fails. */
double bench_python(const char *script, const char *args, bench_stats *out);

/* Prints the table header once, then one row per measurement:
 * | operation | mproc | raw | python | mproc/raw | python/mproc | target | */
void bench_header(const char *title, const char *unit);
void bench_row(const char *op, bench_stats mproc, bench_stats raw,
               double python, const char *target);

/* Writes all n bytes to fd; on an error, _exits the process with 1 (a
 * benchmark's raw side has nothing sensible to do then). */
void bench_write_all(int fd, const void *p, size_t n);
/* Reads exactly n bytes from fd: 0, or -1 at end of file or on an error. */
int bench_read_all(int fd, void *p, size_t n);

/* Pins the calling process to one CPU (and its future children). */
void bench_pin_cpu(int cpu);

#endif
