/* Helpers shared by the suites of named and shared objects (sync, shared,
 * names, reclaim): names unique to this run, and bounded polls. */
#ifndef MP_SYNCTEST_H
#define MP_SYNCTEST_H

#include <stdio.h>
#include <string.h>

#include "testutil.h"

/* A name unique to this run. */
static inline const char *st_name(char *buf, size_t cap, const char *what) {
    snprintf(buf, cap, "test-%ld-%s", mp_getpid(), what);
    return buf;
}

/* Bounded poll of a shared counter: waits until get() == want. */
#define ST_WAIT_UNTIL(cond, ms)                                               \
    do {                                                                      \
        int64_t until_ = mp_test_now_ms() + (ms);                             \
        while (!(cond) && mp_test_now_ms() < until_)                          \
            mp_test_sleep_ms(1);                                              \
        CU_ASSERT(cond);                                                      \
    } while (0)

/* Asserts that cond stays true for ms (something that must not happen
 * does not, within a bound long enough for it to have shown). */
#define ST_HOLDS_FOR(cond, ms)                                                \
    do {                                                                      \
        int64_t until_ = mp_test_now_ms() + (ms);                             \
        while ((cond) && mp_test_now_ms() < until_)                           \
            mp_test_sleep_ms(1);                                              \
        CU_ASSERT(cond);                                                      \
    } while (0)

#endif
