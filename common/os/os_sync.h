/* os layer, synchronisation primitives shared between processes. Their
 * state lives in caller-provided shared memory (`mem`, at least the _SIZE
 * bytes below, 8-byte aligned; 64-byte alignment keeps unrelated
 * primitives off each other's cache lines) and, on backends that need kernel
 * objects, in a handle that is exported with the object. Implemented by
 * posix/os_sync.c (futexes, mutexes on the kernel robust list) and
 * win32/os_sync.c (Win32 semaphores and mutexes). Lock, RLock, Event,
 * Condition, Barrier and the queue are built in common/ from these three.
 *
 * Every primitive may be used by several threads of several processes at
 * once. A process that dies inside any call leaves the primitive usable by
 * the others (a dead mutex owner is reported once, see below). */
#ifndef MP_COMMON_OS_SYNC_H
#define MP_COMMON_OS_SYNC_H

#include "base/atomics.h"
#include "os/os_base.h"

#define MP__OS_SEM_SIZE 64
#define MP__OS_MUTEX_SIZE 64
#define MP__OS_WAIT_SIZE 64

/* Longest name accepted by the named variants below and by os_shm.h (bytes,
 * without NUL): a public name (MP_NAME_MAX) plus room for a primitive's
 * "/<suffix>". */
#define MP__OS_NAME_MAX (MP_NAME_MAX + 40)

/* A counting semaphore with an optional bound (max 0 = none). Values are
 * at most INT32_MAX. */
typedef struct mp__os_sem {
    void *mem;
    mp__handle h; /* MP__BAD_HANDLE on backends that need none */
} mp__os_sem;

/* Creates in mem. name: a named kernel object where the backend has one
 * (NULL: anonymous). MP_EINVAL when value > max > 0. */
int mp__os_sem_create(mp__os_sem *s, void *mem, unsigned value, unsigned max,
                      const char *name);
/* Attaches to a semaphore created by another process in mem (opened by name
 * or received as h, which it takes; h may be MP__BAD_HANDLE). */
int mp__os_sem_attach(mp__os_sem *s, void *mem, mp__handle h,
                      const char *name);
/* 0, MP_EAGAIN (d is MP__DL_NOW), MP_ETIMEDOUT. */
int mp__os_sem_wait(mp__os_sem *s, mp__deadline d);
/* MP_EOVERFLOW past the bound. */
int mp__os_sem_post(mp__os_sem *s);
int mp__os_sem_value(mp__os_sem *s, int *value);
/* Releases this process's handle; the state in mem is left as is. */
void mp__os_sem_close(mp__os_sem *s);

/* A non-recursive mutex that survives its owner's death: the next lock
 * returns MP_EOWNERDEAD (and holds it) once. Ownership is per thread. */
typedef struct mp__os_mutex {
    void *mem;
    mp__handle h;
    unsigned spin; /* this process's spin before sleeping; 0 after create */
    /* POSIX: while a thread of ours holds it through this mapping, its
     * place on that thread's list of held mutexes, kept here in process
     * memory (never in the mapping, which other processes can write):
     * held_tid is that thread's mp__os_thread_id (which a forked child's
     * thread never shares), 0 when not held by us. */
    struct mp__os_mutex *held_prev, *held_next;
    uint64_t held_tid;
} mp__os_mutex;

/* A contended lock first polls the mutex this many rounds (a CPU pause
 * each) before sleeping in the kernel, where the backend can. For locks
 * held for a few dozen instructions by peers on other CPUs (the queue's),
 * a sleep and a wake-up cost far more than the wait. Locks that guard the
 * caller's own code keep 0: a spinner pulls the lock's cache line away from
 * its holder. */
static inline void mp__os_mutex_set_spin(mp__os_mutex *m, unsigned rounds) {
    m->spin = rounds;
}

int mp__os_mutex_create(mp__os_mutex *m, void *mem, const char *name);
int mp__os_mutex_attach(mp__os_mutex *m, void *mem, mp__handle h,
                        const char *name);
/* 0, MP_EOWNERDEAD (acquired; the state it guards may be inconsistent),
 * MP_EAGAIN (d is MP__DL_NOW), MP_ETIMEDOUT, MP_ESTATE when the calling thread
 * already holds it (instead of deadlocking), MP_ENOTSUP when the thread
 * cannot take part in owner-death detection (POSIX: a C library whose
 * robust list has another layout). */
int mp__os_mutex_lock(mp__os_mutex *m, mp__deadline d);
/* MP_ESTATE when the calling thread does not hold it. */
int mp__os_mutex_unlock(mp__os_mutex *m);
/* Closing a mutex the calling thread holds abandons it (the next lock in
 * any process gets MP_EOWNERDEAD), at once or when the thread ends. */
void mp__os_mutex_close(mp__os_mutex *m);

/* Wait-on-address between processes (a futex on Linux, a semaphore plus a
 * waiter count elsewhere): sleep while a 32-bit word in shared memory holds
 * an expected value, and wake sleepers after changing it. Wakeups may be
 * spurious; callers re-check their word. Condition, Event and Barrier are
 * built on it. */
typedef struct mp__os_wait {
    void *mem;
    mp__handle h;
} mp__os_wait;

int mp__os_wait_create(mp__os_wait *w, void *mem, const char *name);
int mp__os_wait_attach(mp__os_wait *w, void *mem, mp__handle h,
                       const char *name);
/* Sleeps while *word (a 32-bit atomic in shared memory) == expected, until
 * woken, or d passes. 0 (woken, changed or spurious), MP_ETIMEDOUT (also
 * for a passed d while the word is unchanged). */
int mp__os_wait_on(mp__os_wait *w, const void *word, uint32_t expected,
                   mp__deadline d);
/* Wakes up to n sleepers waiting on word through w (INT32_MAX: all). Call
 * it after changing the word. */
void mp__os_wake(mp__os_wait *w, const void *word, int n);
void mp__os_wait_close(mp__os_wait *w);

/* An id of the calling thread, never 0: its OS id (Linux tid, Windows
 * thread id) in the low 32 bits, which is what a kernel object may hold
 * (the futex word on Linux), and a generation in the high 32 bits. OS ids
 * are recycled (Windows within a few hundred thread creations) while a
 * lock's owner field outlives a dead owner, so the OS id alone would let a
 * new thread pass for a dead one. The generation counts the threads of a
 * process that asked, from a start drawn at random per process (again in a
 * forked child): two threads of one process never share an id, and
 * threads of two processes share one only if they share the OS id and the
 * generation (odds of 2^-32 for each thread that reuses a dead owner's
 * OS id). Inline, because every lock acquire and release asks for it: a
 * per-thread cache that the backend's mp__os_thread_id_slow fills (and a
 * forked child clears). */
extern MP__TLS uint64_t mp__os_tid_cache;
uint64_t mp__os_thread_id_slow(void);
/* The random start of the generations, from anything that differs between
 * processes (their own pid, clocks, the address of a local under ASLR):
 * it only has to make two processes' ranges unlikely to meet. */
static inline uint32_t mp__os_thread_gen_seed(uint64_t a, uint64_t b,
                                              uint64_t c) {
    uint64_t z = a * 0x9e3779b97f4a7c15u ^ b;
    z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9u ^ c;
    z = (z ^ z >> 27) * 0x94d049bb133111ebu;
    return (uint32_t)(z ^ z >> 31);
}
static inline uint64_t mp__os_thread_id(void) {
    uint64_t t = mp__os_tid_cache;
    return t ? t : mp__os_thread_id_slow();
}

#endif
