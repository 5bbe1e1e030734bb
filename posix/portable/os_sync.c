/* POSIX backend, portable path: semaphores, robust mutexes and
 * wait-on-address between processes with no futex, no robust pthread
 * mutex and no process-shared sem_t (macOS has none of the three).
 *
 * Every primitive is one word (or two) in the object's shared mapping,
 * changed by atomic operations, so that get_value is exact and a process
 * killed anywhere leaves nothing that only it could undo. A caller that
 * must wait polls its word with the wait policy's back-off
 * (MP__BACKOFF_WORD: a few yields, then sleeps from 20 us doubling up to
 * 1 ms): no spinning, and a wake-up is seen within a millisecond. A mutex's
 * word names its owner process (pid and a start-time token, so that a reused
 * pid is not taken for the owner); a waiter probes that process every few
 * milliseconds and takes the lock with MP_EOWNERDEAD once it is gone or a
 * zombie. The owning thread is kept beside the word: a thread that ends
 * holding a lock in a process that lives on is not detected (Linux's robust
 * list does that). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "base/atomics.h"
#include "os/os_sync.h"
#include "util/wait_policy.h"
#include "os_posix.h"

typedef struct sem_state {
    MP__ATOMIC(uint32_t) value;
    uint32_t max;
} sem_state;

typedef struct wait_state {
    MP__ATOMIC(uint32_t)
    waiters;                    /* may over-count after a waiter was killed */
    MP__ATOMIC(uint32_t) wakes; /* bumped by every wake with waiters */
} wait_state;

/* A mutex: `word` is 0 when free, else the owner process (pid in the low
 * 32 bits, its start token above; ABANDONED for one closed while held);
 * `tid` is the owning thread, written by it after taking the word and
 * cleared before it gives the word back. The owner thread keeps a list
 * of the mutexes it holds, in process memory (mp__os_mutex's held_*
 * fields; never in the mapping, which other processes can write): a thread
 * that ends abandons what it still holds, and closing one mapping of a
 * mutex abandons it only when it was locked through that mapping. */
#define ABANDONED ((uint64_t)1 << 32) /* pid 0: never a process's */
typedef struct pmutex {
    MP__ATOMIC(uint64_t) word;
    MP__ATOMIC(uint64_t) tid;
} pmutex;

_Static_assert(sizeof(sem_state) <= MP__OS_SEM_SIZE, "sem state too big");
_Static_assert(sizeof(wait_state) <= MP__OS_WAIT_SIZE, "wait state too big");
_Static_assert(sizeof(pmutex) <= MP__OS_MUTEX_SIZE, "mutex state too big");

/* This thread's held mutexes, most recent first; a thread-exit destructor
 * (registered with the first lock) abandons those left. */
static MP__TLS mp__os_mutex *tl_held;
static pthread_key_t held_key;
static void held_exit(void *arg);

/* ---- this process and thread ---- */

/* Cached per process (and cleared in a forked child): our pid and token,
 * packed as a mutex word. Thread ids: the generation (os_sync.h) above,
 * our pid below, for there is no portable kernel thread id: unique among
 * the machine's live threads and unlikely to repeat a dead process's. */
MP__TLS uint64_t mp__os_tid_cache;
static MP__ATOMIC(uint32_t) self_once;
static MP__ATOMIC(uint64_t) self_word;
static MP__ATOMIC(uint32_t) gen_next;

static void draw_gen(void) {
    int local;
    mp__store32(&gen_next,
                (uint32_t)mp__os_thread_gen_seed((uint64_t)getpid(),
                                                 mp__os_now_ns(),
                                                 (uint64_t)(uintptr_t)&local),
                MP__SEQ_CST);
}

static void self_forget(void) {
    mp__os_tid_cache = 0;
    tl_held = NULL; /* the parent's thread holds those */
    mp__store64(&self_word, 0, MP__SEQ_CST);
    draw_gen();
}

static void self_register(void) {
    pthread_key_create(&held_key, held_exit);
    draw_gen();
    pthread_atfork(NULL, NULL, self_forget);
}

uint64_t mp__os_thread_id_slow(void) {
    mp__posix_once(&self_once, self_register);
    uint32_t gen = mp__fetch_add32(&gen_next, 1, MP__SEQ_CST);
    mp__os_tid_cache = (uint64_t)gen << 32 | (uint32_t)getpid();
    return mp__os_tid_cache;
}

/* This process as a mutex word (pid and start token, os_posix.h). */
static uint64_t self_of(void) {
    uint64_t w = mp__load64(&self_word, MP__RELAXED);
    if (w)
        return w;
    mp__posix_once(&self_once, self_register);
    w = mp__posix_self_word();
    mp__store64(&self_word, w, MP__RELAXED);
    return w;
}

/* ---- semaphore ---- */

int mp__os_sem_create(mp__os_sem *s, void *mem, unsigned value, unsigned max,
                      const char *name) {
    (void)name;
    if (value > INT32_MAX || max > INT32_MAX || (max && value > max))
        return MP_EINVAL;
    sem_state *st = mem;
    mp__store32(&st->value, value, MP__RELAXED);
    st->max = max;
    s->mem = mem;
    s->h = MP__BAD_HANDLE;
    return 0;
}

int mp__os_sem_attach(mp__os_sem *s, void *mem, mp__handle h,
                      const char *name) {
    (void)name;
    mp__os_close(h);
    s->mem = mem;
    s->h = MP__BAD_HANDLE;
    return 0;
}

static bool sem_try(sem_state *st) { return mp__posix_sem_take(&st->value); }

int mp__os_sem_wait(mp__os_sem *s, mp__deadline d) {
    sem_state *st = s->mem;
    mp__backoff b = MP__BACKOFF_WORD;
    while (!sem_try(st))
        if (mp__backoff_wait(&b, d))
            return sem_try(st) ? 0 : mp__deadline_err(d);
    return 0;
}

int mp__os_sem_post(mp__os_sem *s) {
    sem_state *st = s->mem;
    return mp__posix_sem_give(&st->value, st->max);
}

int mp__os_sem_value(mp__os_sem *s, int *value) {
    *value = (int)mp__load32(&((sem_state *)s->mem)->value, MP__SEQ_CST);
    return 0;
}

void mp__os_sem_close(mp__os_sem *s) { s->mem = NULL; }

/* ---- robust mutex ---- */

static void abandon(pmutex *x) {
    mp__store64(&x->tid, 0, MP__RELAXED);
    mp__store64(&x->word, ABANDONED, MP__RELEASE);
}

static bool held_by(pmutex *x, uint64_t self, uint64_t tid) {
    return mp__load64(&x->word, MP__RELAXED) == self &&
           mp__load64(&x->tid, MP__RELAXED) == tid;
}

static uint64_t self_of(void);

static void held_exit(void *arg) {
    (void)arg;
    uint64_t self = self_of(), tid = mp__os_thread_id();
    for (mp__os_mutex *m = tl_held; m; m = m->held_next) {
        if (held_by(m->mem, self, tid))
            abandon(m->mem);
        m->held_tid = 0;
    }
    tl_held = NULL;
}

static void held_push(mp__os_mutex *m, uint64_t tid) {
    if (!pthread_getspecific(held_key))
        pthread_setspecific(held_key, &tl_held);
    m->held_tid = tid;
    m->held_prev = NULL;
    m->held_next = tl_held;
    if (tl_held)
        tl_held->held_prev = m;
    tl_held = m;
}

/* false when m (this mapping of it) is not on this thread's list. */
static bool held_remove(mp__os_mutex *m, uint64_t tid) {
    if (m->held_tid != tid)
        return false;
    if (m->held_prev)
        m->held_prev->held_next = m->held_next;
    else
        tl_held = m->held_next;
    if (m->held_next)
        m->held_next->held_prev = m->held_prev;
    m->held_prev = m->held_next = NULL;
    m->held_tid = 0;
    return true;
}

int mp__os_mutex_create(mp__os_mutex *m, void *mem, const char *name) {
    (void)name;
    memset(mem, 0, MP__OS_MUTEX_SIZE);
    pmutex *x = mem;
    mp__store64(&x->word, 0, MP__RELAXED);
    mp__store64(&x->tid, 0, MP__RELAXED);
    m->mem = mem;
    m->h = MP__BAD_HANDLE;
    m->spin = 0;
    m->held_prev = m->held_next = NULL;
    m->held_tid = 0;
    return 0;
}

int mp__os_mutex_attach(mp__os_mutex *m, void *mem, mp__handle h,
                        const char *name) {
    (void)name;
    mp__os_close(h);
    m->mem = mem;
    m->h = MP__BAD_HANDLE;
    m->spin = 0;
    m->held_prev = m->held_next = NULL;
    m->held_tid = 0;
    return 0;
}

/* Takes m when its word is still v (free, abandoned or a dead owner's). */
static bool take(mp__os_mutex *m, uint64_t v, uint64_t self, uint64_t tid) {
    pmutex *x = m->mem;
    if (!mp__cas64(&x->word, &v, self, MP__ACQUIRE))
        return false;
    mp__store64(&x->tid, tid, MP__RELAXED);
    held_push(m, tid);
    return true;
}

__attribute__((noinline)) static int
mutex_lock_slow(mp__os_mutex *m, uint64_t self, uint64_t tid, mp__deadline d) {
    pmutex *x = m->mem;
    unsigned spin = m->spin;
    if (held_by(x, self, tid))
        return MP_ESTATE;
    for (unsigned i = 0; i < spin && d != MP__DL_NOW; i++) {
        mp__cpu_relax();
        if (mp__load64(&x->word, MP__RELAXED) == 0 && take(m, 0, self, tid))
            return 0;
    }
    mp__backoff b = MP__BACKOFF_WORD;
    uint64_t next_probe = 0;
    for (;;) {
        uint64_t v = mp__load64(&x->word, MP__RELAXED);
        if (v == 0 || v == ABANDONED) {
            if (take(m, v, self, tid))
                return v ? MP_EOWNERDEAD : 0;
            continue;
        }
        /* The owner is probed at once when we may not wait, else every
         * MP__PROBE_OWNER_NS while we wait. */
        uint64_t now = mp__os_now_ns();
        if (now >= next_probe) {
            next_probe = now + MP__PROBE_OWNER_NS;
            if (v != self && mp__posix_gone(v)) {
                if (take(m, v, self, tid))
                    return MP_EOWNERDEAD;
                continue;
            }
        }
        int rc = mp__backoff_wait(&b, d);
        if (rc)
            return rc;
    }
}

int mp__os_mutex_lock(mp__os_mutex *m, mp__deadline d) {
    uint64_t self = self_of(), tid = mp__os_thread_id();
    if (take(m, 0, self, tid))
        return 0;
    return mutex_lock_slow(m, self, tid, d);
}

int mp__os_mutex_unlock(mp__os_mutex *m) {
    pmutex *x = m->mem;
    uint64_t self = self_of(), tid = mp__os_thread_id();
    if (!held_by(x, self, tid))
        return MP_ESTATE;
    bool listed = held_remove(m, tid);
    mp__store64(&x->tid, 0, MP__RELAXED);
    mp__store64(&x->word, 0, MP__RELEASE);
    /* Locked through another mapping of it: drop that mapping's entry,
     * the one no longer held (before anything can unmap it). */
    for (mp__os_mutex *o = tl_held; !listed && o; o = o->held_next)
        if (!held_by(o->mem, self, tid))
            listed = held_remove(o, tid);
    return 0;
}

/* Closing a mutex this thread holds, through this mapping, abandons it:
 * the next taker hears MP_EOWNERDEAD, as it would had we died. Held
 * through another mapping of the same object (a name opened twice), it is
 * left alone. */
void mp__os_mutex_close(mp__os_mutex *m) {
    pmutex *x = m->mem;
    uint64_t self = self_of(), tid = mp__os_thread_id();
    if (x && held_by(x, self, tid) && held_remove(m, tid))
        abandon(x);
    m->mem = NULL;
}

/* ---- wait on address ---- */

int mp__os_wait_create(mp__os_wait *w, void *mem, const char *name) {
    (void)name;
    wait_state *st = mem;
    mp__store32(&st->waiters, 0, MP__RELAXED);
    mp__store32(&st->wakes, 0, MP__RELAXED);
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

/* Returns once the word differs or a wake came after we counted ourselves
 * (so a word changed and changed back still wakes us, as with a futex). */
int mp__os_wait_on(mp__os_wait *w, const void *word, uint32_t expected,
                   mp__deadline d) {
    wait_state *st = w->mem;
    const MP__ATOMIC(uint32_t) *wd = word;
    if (mp__load32(wd, MP__SEQ_CST) != expected)
        return 0;
    if (mp__deadline_passed(d))
        return MP_ETIMEDOUT;
    mp__fetch_add32(&st->waiters, 1, MP__SEQ_CST);
    uint32_t wakes = mp__load32(&st->wakes, MP__SEQ_CST);
    mp__backoff b = MP__BACKOFF_WORD;
    int rc = 0;
    while (mp__load32(wd, MP__SEQ_CST) == expected &&
           mp__load32(&st->wakes, MP__SEQ_CST) == wakes)
        if (mp__backoff_wait(&b, d)) {
            rc = MP_ETIMEDOUT; /* d is not MP__DL_NOW here */
            break;
        }
    mp__fetch_sub32(&st->waiters, 1, MP__SEQ_CST);
    return rc;
}

void mp__os_wake(mp__os_wait *w, const void *word, int n) {
    (void)word;
    (void)n; /* every poller sees the change; callers re-check their word */
    wait_state *st = w->mem;
    if (mp__load32(&st->waiters, MP__SEQ_CST))
        mp__fetch_add32(&st->wakes, 1, MP__SEQ_CST);
}

void mp__os_wait_close(mp__os_wait *w) { w->mem = NULL; }
