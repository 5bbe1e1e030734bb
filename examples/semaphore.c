/* The tutorial's Semaphore program: five workers, at most two inside the
 * critical section at once. Each worker acquires the semaphore, reports how
 * many are inside (a shared Value, changed with its atomic add), works a
 * little, and releases. The parent checks the bound was never passed. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#endif
#include <stdio.h>
#ifdef _WIN32
#include <windows.h>
#define nap_ms(ms) Sleep(ms)
#else
#include <time.h>
static void nap_ms(long ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}
#endif

#include <mproc.h>

#define WORKERS 5
#define INSIDE_MAX 2

static int worker(mp_call *call) {
    mp_sem *sem = mp_arg_sem(mp_call_arg(call, 0));
    mp_value *inside = mp_arg_value(mp_call_arg(call, 1));
    mp_value *most = mp_arg_value(mp_call_arg(call, 2));
    int64_t now;
    if (mp_sem_acquire(sem, MP_INFINITE))
        return 1;
    mp_value_add(inside, 1, &now);
    now += 1;
    /* Record the largest count seen (under its lock: read, compare, write). */
    mp_lock_acquire(mp_value_lock(most), MP_INFINITE);
    if (now > mp_value_get_int(most))
        mp_value_set_int(most, now);
    mp_lock_release(mp_value_lock(most));
    int v = -1;
    mp_sem_get_value(sem, &v);
    printf("  %s in: %lld inside, semaphore value %d\n", mp_current_name(),
           (long long)now, v);
    fflush(stdout);
    nap_ms(100);
    mp_value_add(inside, -1, NULL);
    printf("  %s out\n", mp_current_name());
    fflush(stdout);
    return mp_sem_release(sem) ? 2 : 0;
}

static int check(int rc, const char *what) {
    if (rc)
        fprintf(stderr, "%s: %s\n", what, mp_strerror(rc));
    return rc;
}

int main(int argc, char **argv) {
    if (check(mp_init(&argc, &argv), "mp_init"))
        return 1;
    mp_sem *sem = NULL;
    mp_value *inside = NULL, *most = NULL;
    mp_process *p[WORKERS] = {0};
    int failed = 0;
    if (check(mp_sem_new(&sem, INSIDE_MAX, INSIDE_MAX), "Semaphore") ||
        check(mp_value_new(&inside, MP_TYPE_INT, NULL, NULL), "Value") ||
        check(mp_value_new(&most, MP_TYPE_INT, NULL, NULL), "Value"))
        return 1;
    printf("%d workers, at most %d inside at once\n", WORKERS, INSIDE_MAX);
    for (int i = 0; i < WORKERS; i++) {
        char name[32];
        snprintf(name, sizeof name, "worker-%d", i);
        mp_process_options o = {.name = name};
        if (check(mp_process_new(&p[i], worker,
                                 MP_ARGS(mp_sem_arg(sem), mp_value_arg(inside),
                                         mp_value_arg(most)),
                                 &o),
                  "Process") ||
            check(mp_process_start(p[i]), "start"))
            return 1;
    }
    for (int i = 0; i < WORKERS; i++) {
        int code = -1;
        failed |= check(mp_process_join(p[i], MP_INFINITE), "join") ||
                  mp_process_exitcode(p[i], &code) || code != 0;
        mp_process_free(p[i]);
    }
    int64_t peak = mp_value_get_int(most);
    printf("most inside at once: %lld (bound %d)\n", (long long)peak,
           INSIDE_MAX);
    mp_value_free(most);
    mp_value_free(inside);
    mp_sem_free(sem);
    return failed || peak < 1 || peak > INSIDE_MAX ? 1 : 0;
}
