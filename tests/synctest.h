/* Helpers shared by the sync and shared suites: running children, and
 * counting our names in /dev/shm. */
#ifndef MP_SYNCTEST_H
#define MP_SYNCTEST_H

#include <stdio.h>
#include <string.h>

#ifndef _WIN32
#include <dirent.h>
#endif

#include "testutil.h"

static inline mp_process *st_start(mp_target fn, mp_args args,
                                   mp_start_method m) {
    mp_process *p = NULL;
    mp_process_options o = {.start_method = m};
    MP_CHECK_OK(mp_process_new(&p, fn, args, &o));
    if (p)
        MP_CHECK_OK(mp_process_start(p));
    return p;
}

/* Joins (bounded) and frees; returns the exit code (-1000 on failure). */
static inline int st_join(mp_process *p) {
    int code = -1000;
    if (!p)
        return code;
    MP_CHECK_OK(mp_process_join(p, 60000));
    MP_CHECK_OK(mp_process_exitcode(p, &code));
    mp_process_free(p);
    return code;
}

/* Kills and reaps. */
static inline void st_kill(mp_process *p) {
    if (!p)
        return;
    MP_CHECK_OK(mp_process_kill(p));
    MP_CHECK_OK(mp_process_join(p, 30000));
    mp_process_free(p);
}

/* Entries of ours ("mp-*") in /dev/shm; 0 where names are not files. */
static inline int st_shm_entries(void) {
#ifdef _WIN32
    return 0;
#else
    int n = 0;
    DIR *d = opendir("/dev/shm");
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, "mp-", 3) == 0;
    closedir(d);
    return n;
#endif
}

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

#endif
