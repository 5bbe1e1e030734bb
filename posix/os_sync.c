/* POSIX backend, synchronisation: semaphores and wait-on-address are
 * futexes on a word in the object's shared mapping (one atomic operation
 * when uncontended, and nothing a killed process can leave held); mutexes
 * are robust process-shared pthread mutexes. Linux only for the futex part:
 * other systems would need their own wait-on-address here. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../common/os_sync.h"
#include "os_posix.h"

typedef struct sem_state {
    _Atomic uint32_t value;
    _Atomic uint32_t waiters; /* may over-count after a waiter was killed */
    uint32_t max;
} sem_state;

typedef struct wait_state {
    _Atomic uint32_t waiters;
} wait_state;

_Static_assert(sizeof(sem_state) <= MP__OS_SEM_SIZE, "sem state too big");
_Static_assert(sizeof(pthread_mutex_t) <= MP__OS_MUTEX_SIZE, "mutex too big");
_Static_assert(sizeof(wait_state) <= MP__OS_WAIT_SIZE, "wait state too big");

/* ---- time ---- */

/* An absolute CLOCK_MONOTONIC deadline timeout_ms from now. */
static struct timespec deadline_of(long timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* ---- futex ---- */

/* Sleeps while *addr == val; deadline NULL is forever. 0 when woken or the
 * value differs, ETIMEDOUT, or EINTR. Shared (not PRIVATE) futexes: the
 * word lives in a mapping other processes see at other addresses. */
static int futex_wait(const void *addr, uint32_t val,
                      const struct timespec *deadline) {
    long r = syscall(SYS_futex, addr, FUTEX_WAIT_BITSET, val, deadline, NULL,
                     FUTEX_BITSET_MATCH_ANY);
    if (r == 0 || errno == EAGAIN)
        return 0;
    return errno;
}

static void futex_wake(const void *addr, int n) {
    syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);
}

/* ---- semaphore ---- */

int mp__os_sem_create(mp__os_sem *s, void *mem, unsigned value, unsigned max,
                      const char *name) {
    (void)name;
    if (value > INT32_MAX || max > INT32_MAX || (max && value > max))
        return MP_EINVAL;
    sem_state *st = mem;
    atomic_init(&st->value, value);
    atomic_init(&st->waiters, 0);
    st->max = max;
    s->mem = mem;
    s->h = MP__BAD_HANDLE;
    return 0;
}

int mp__os_sem_attach(mp__os_sem *s, void *mem, mp__handle h, const char *name) {
    (void)name;
    mp__os_close(h);
    s->mem = mem;
    s->h = MP__BAD_HANDLE;
    return 0;
}

static bool sem_try(sem_state *st) {
    uint32_t v = atomic_load_explicit(&st->value, memory_order_relaxed);
    while (v > 0)
        if (atomic_compare_exchange_weak(&st->value, &v, v - 1))
            return true;
    return false;
}

int mp__os_sem_wait(mp__os_sem *s, long timeout_ms) {
    sem_state *st = s->mem;
    if (sem_try(st))
        return 0;
    if (timeout_ms == 0)
        return MP_EAGAIN;
    struct timespec dl = deadline_of(timeout_ms > 0 ? timeout_ms : 0);
    int rc = 0;
    /* Announce ourselves before the last check, so a post either sees us
     * (and wakes) or happens before the check (and we see its value). */
    atomic_fetch_add(&st->waiters, 1);
    while (!sem_try(st)) {
        int e = futex_wait(&st->value, 0, timeout_ms > 0 ? &dl : NULL);
        if (e == ETIMEDOUT) {
            rc = sem_try(st) ? 0 : MP_ETIMEDOUT;
            break;
        }
    }
    atomic_fetch_sub(&st->waiters, 1);
    return rc;
}

int mp__os_sem_post(mp__os_sem *s) {
    sem_state *st = s->mem;
    uint32_t lim = st->max ? st->max : INT32_MAX;
    uint32_t v = atomic_load_explicit(&st->value, memory_order_relaxed);
    do {
        if (v >= lim)
            return MP_EOVERFLOW;
    } while (!atomic_compare_exchange_weak(&st->value, &v, v + 1));
    if (atomic_load(&st->waiters))
        futex_wake(&st->value, 1);
    return 0;
}

int mp__os_sem_value(mp__os_sem *s, int *value) {
    *value = (int)atomic_load(&((sem_state *)s->mem)->value);
    return 0;
}

void mp__os_sem_close(mp__os_sem *s) { s->mem = NULL; }

/* ---- robust mutex ---- */

int mp__os_mutex_create(mp__os_mutex *m, void *mem, const char *name) {
    (void)name;
    pthread_mutexattr_t a;
    int e = pthread_mutexattr_init(&a);
    if (e)
        return mp__posix_err(e);
    /* Error-checking gives MP_ESTATE for a foreign unlock and a relock by
     * the owner; robust gives EOWNERDEAD when the owner dies. */
    e = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!e)
        e = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (!e)
        e = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    if (!e)
        e = pthread_mutex_init((pthread_mutex_t *)mem, &a);
    pthread_mutexattr_destroy(&a);
    if (e)
        return mp__posix_err(e);
    m->mem = mem;
    m->h = MP__BAD_HANDLE;
    return 0;
}

int mp__os_mutex_attach(mp__os_mutex *m, void *mem, mp__handle h,
                        const char *name) {
    (void)name;
    mp__os_close(h);
    m->mem = mem;
    m->h = MP__BAD_HANDLE;
    return 0;
}

int mp__os_mutex_lock(mp__os_mutex *m, long timeout_ms) {
    pthread_mutex_t *mx = m->mem;
    int e;
    if (timeout_ms == 0) {
        e = pthread_mutex_trylock(mx);
        if (e == EBUSY)
            return MP_EAGAIN;
    } else if (timeout_ms < 0) {
        e = pthread_mutex_lock(mx);
    } else {
        struct timespec dl = deadline_of(timeout_ms);
        e = pthread_mutex_clocklock(mx, CLOCK_MONOTONIC, &dl);
    }
    switch (e) {
    case 0:
        return 0;
    case EOWNERDEAD:
        /* We hold it now; mark it usable again and tell the caller once. */
        pthread_mutex_consistent(mx);
        return MP_EOWNERDEAD;
    case EDEADLK:
        return MP_ESTATE;
    default:
        return mp__posix_err(e);
    }
}

int mp__os_mutex_unlock(mp__os_mutex *m) {
    int e = pthread_mutex_unlock((pthread_mutex_t *)m->mem);
    return e == EPERM ? MP_ESTATE : mp__posix_err(e);
}

void mp__os_mutex_close(mp__os_mutex *m) { m->mem = NULL; }

/* ---- wait on address ---- */

int mp__os_wait_create(mp__os_wait *w, void *mem, const char *name) {
    (void)name;
    atomic_init(&((wait_state *)mem)->waiters, 0);
    w->mem = mem;
    w->h = MP__BAD_HANDLE;
    return 0;
}

int mp__os_wait_attach(mp__os_wait *w, void *mem, mp__handle h,
                       const char *name) {
    (void)name;
    mp__os_close(h);
    w->mem = mem;
    w->h = MP__BAD_HANDLE;
    return 0;
}

int mp__os_wait_on(mp__os_wait *w, const void *word, uint32_t expected,
                   long timeout_ms) {
    wait_state *st = w->mem;
    const _Atomic uint32_t *wd = word;
    if (atomic_load(wd) != expected)
        return 0;
    if (timeout_ms == 0)
        return MP_ETIMEDOUT;
    struct timespec dl = deadline_of(timeout_ms > 0 ? timeout_ms : 0);
    atomic_fetch_add(&st->waiters, 1);
    int e = futex_wait(word, expected, timeout_ms > 0 ? &dl : NULL);
    atomic_fetch_sub(&st->waiters, 1);
    return e == ETIMEDOUT ? MP_ETIMEDOUT : 0;
}

void mp__os_wake(mp__os_wait *w, const void *word, int n) {
    /* The waker changed the word before calling us (seq_cst), and a sleeper
     * counts itself before its futex re-checks the word, so skipping the
     * syscall when nobody is counted loses no wakeup. */
    if (atomic_load(&((wait_state *)w->mem)->waiters))
        futex_wake(word, n);
}

void mp__os_wait_close(mp__os_wait *w) { w->mem = NULL; }

/* The id is cached per thread; a forked child (whose one thread inherits
 * the forking thread's cache) must forget it, or it would pass for its
 * parent's thread as a lock owner. */
_Thread_local uint64_t mp__os_tid_cache;
static pthread_once_t tid_once = PTHREAD_ONCE_INIT;

static void tid_forget(void) { mp__os_tid_cache = 0; }
static void tid_register(void) { pthread_atfork(NULL, NULL, tid_forget); }

uint64_t mp__os_thread_id_slow(void) {
    pthread_once(&tid_once, tid_register);
    mp__os_tid_cache = (uint64_t)syscall(SYS_gettid);
    return mp__os_tid_cache;
}
