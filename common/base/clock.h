/* The one clock and deadline type of the library.
 *
 * Public calls take `long timeout_ms` (MP_INFINITE, 0 = never block, or a
 * bound); everything below them, the os contract included, takes an
 * absolute deadline made once at the top of the call, so that a wait made
 * of several steps (lock, sleep, retry) spends the caller's time only once.
 * A deadline is a value of the monotonic clock mp__os_now_ns(), with two
 * special values. */
#ifndef MP_COMMON_CLOCK_H
#define MP_COMMON_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "mproc/core.h"

/* The monotonic clock, in nanoseconds (a backend function, os_base.c). */
uint64_t mp__os_now_ns(void);

typedef uint64_t mp__deadline;
#define MP__DL_NOW ((mp__deadline)0) /* do not wait: MP_EAGAIN */
#define MP__DL_FOREVER ((mp__deadline)UINT64_MAX)

/* Longer bounds are cut to this (about 11.5 days), so that no arithmetic
 * on a deadline overflows, on any clock origin. */
#define MP__DL_MAX_MS 1000000000L

/* The deadline of a public timeout: MP_INFINITE (any negative) is forever,
 * 0 is now. */
static inline mp__deadline mp__deadline_in(long timeout_ms) {
    if (timeout_ms < 0)
        return MP__DL_FOREVER;
    if (timeout_ms == 0)
        return MP__DL_NOW;
    if (timeout_ms > MP__DL_MAX_MS)
        timeout_ms = MP__DL_MAX_MS;
    return mp__os_now_ns() + (uint64_t)timeout_ms * 1000000u;
}

/* The sooner of two deadlines. */
static inline mp__deadline mp__deadline_min(mp__deadline a, mp__deadline b) {
    return a < b ? a : b;
}

/* What a wait that ends at d without success returns: MP_EAGAIN for a call
 * that was not to block, MP_ETIMEDOUT for one whose bound ran out. */
static inline int mp__deadline_err(mp__deadline d) {
    return d == MP__DL_NOW ? MP_EAGAIN : MP_ETIMEDOUT;
}

/* Whether d allows no more waiting. */
static inline bool mp__deadline_passed(mp__deadline d) {
    return d != MP__DL_FOREVER && (d == MP__DL_NOW || mp__os_now_ns() >= d);
}

/* Nanoseconds left until d (0 once passed; UINT64_MAX for forever). */
static inline uint64_t mp__deadline_left_ns(mp__deadline d) {
    if (d == MP__DL_FOREVER)
        return UINT64_MAX;
    uint64_t now = d == MP__DL_NOW ? 0 : mp__os_now_ns();
    return d == MP__DL_NOW || now >= d ? 0 : d - now;
}

/* How long an OS wait for d may sleep: -1 forever, else milliseconds
 * rounded up (never cut short by rounding); 0 with *rc set to
 * mp__deadline_err(d) when d allows no more waiting, else *rc = 0. */
static inline long mp__deadline_left_ms(mp__deadline d, int *rc) {
    *rc = 0;
    if (d == MP__DL_FOREVER)
        return -1;
    uint64_t ns = mp__deadline_left_ns(d);
    if (ns == 0) {
        *rc = mp__deadline_err(d);
        return 0;
    }
    uint64_t ms = (ns + 999999u) / 1000000u;
    return ms > 0x7fffffff ? 0x7fffffffL : (long)ms;
}

#endif
