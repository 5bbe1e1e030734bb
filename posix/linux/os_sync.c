/* POSIX backend, synchronisation: semaphores and wait-on-address are
 * futexes on a word in the object's shared mapping (one atomic operation
 * when uncontended, and nothing a killed process can leave held); mutexes
 * are futex locks on the kernel's robust list. Linux only for the futex part:
 * other systems would need their own wait-on-address here. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/atomics.h"
#include "os/os_sync.h"
#include "util/wait_policy.h"
#include "os_posix.h"

typedef struct sem_state {
    MP__ATOMIC(uint32_t) value;
    MP__ATOMIC(uint32_t) waiters; /* may over-count after a waiter died */
    uint32_t max;
} sem_state;

typedef struct wait_state {
    MP__ATOMIC(uint32_t) waiters;
} wait_state;

_Static_assert(sizeof(sem_state) <= MP__OS_SEM_SIZE, "sem state too big");
_Static_assert(sizeof(wait_state) <= MP__OS_WAIT_SIZE, "wait state too big");

/* ---- time ---- */

/* A deadline as the absolute CLOCK_MONOTONIC time futex_wait takes (the
 * clock mp__os_now_ns reads); NULL for forever. */
static const struct timespec *ts_of(mp__deadline d, struct timespec *ts) {
    if (d == MP__DL_FOREVER)
        return NULL;
    ts->tv_sec = (time_t)(d / 1000000000u);
    ts->tv_nsec = (long)(d % 1000000000u);
    return ts;
}

/* ---- futex ---- */

/* Sleeps while *addr == val; deadline NULL is forever. 0 when woken or the
 * value differs, ETIMEDOUT, or EINTR. Shared (not PRIVATE) futexes: the
 * word lives in a mapping other processes see at other addresses. */
static int futex_wait(const volatile void *addr, uint32_t val,
                      const struct timespec *deadline) {
    long r = syscall(SYS_futex, addr, FUTEX_WAIT_BITSET, val, deadline, NULL,
                     FUTEX_BITSET_MATCH_ANY);
    if (r == 0 || errno == EAGAIN)
        return 0;
    return errno;
}

static void futex_wake(const volatile void *addr, int n) {
    syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);
}

/* ---- thread ids ---- */

/* The id is cached per thread; a forked child (whose one thread inherits
 * the forking thread's cache) must forget it, or it would pass for its
 * parent's thread as a lock owner. The generation (see mp__os_thread_id)
 * counts from a start drawn once per process, and again in a forked
 * child, whose count would otherwise run alongside its parent's. */
MP__TLS uint64_t mp__os_tid_cache;
static pthread_once_t tid_once = PTHREAD_ONCE_INIT;
static MP__ATOMIC(uint32_t) gen_next;

static MP__TLS struct robust_list_head *tl_head;

/* This thread's held mutexes of ours, in the order of their entries on its
 * robust list (after every entry of the C library's): links in process
 * memory, so that no walk or unlink of ours follows a pointer read from a
 * shared mapping. */
typedef struct held_list {
    mp__os_mutex *first, *last;
} held_list;
static MP__TLS held_list tl_held;

static void draw_gen(void) {
    struct timespec t;
    int local;
    clock_gettime(CLOCK_MONOTONIC, &t);
    mp__store32(&gen_next,
                mp__os_thread_gen_seed((uint64_t)getpid(),
                                       (uint64_t)t.tv_sec * 1000000000u +
                                           (uint64_t)t.tv_nsec,
                                       (uint64_t)(uintptr_t)&local),
                MP__SEQ_CST);
}

static void tid_forget(void) {
    mp__os_tid_cache = 0;
    tl_head = NULL; /* the kernel gave the child an empty robust list */
    tl_held.first = tl_held.last = NULL; /* the parent's thread holds them */
    draw_gen();
}
static void tid_register(void) {
    draw_gen();
    pthread_atfork(NULL, NULL, tid_forget);
}

/* The low 32 bits are the kernel's tid: the futex word and the robust
 * list hold it, and the owner checks below compare (uint32_t) ids. They
 * are safe with the tid alone because the kernel clears a dead owner's
 * tid from the word; the generation guards the owner fields of common/,
 * which nothing clears. */
uint64_t mp__os_thread_id_slow(void) {
    pthread_once(&tid_once, tid_register);
    uint32_t gen = mp__fetch_add32(&gen_next, 1, MP__SEQ_CST);
    mp__os_tid_cache = (uint64_t)gen << 32 | (uint32_t)syscall(SYS_gettid);
    return mp__os_tid_cache;
}

/* ---- semaphore ---- */

int mp__os_sem_create(mp__os_sem *s, void *mem, unsigned value, unsigned max,
                      const char *name) {
    (void)name;
    if (value > INT32_MAX || max > INT32_MAX || (max && value > max))
        return MP_EINVAL;
    sem_state *st = mem;
    mp__store32(&st->value, value, MP__RELAXED);
    mp__store32(&st->waiters, 0, MP__RELAXED);
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
    if (sem_try(st))
        return 0;
    if (d == MP__DL_NOW)
        return MP_EAGAIN;
    struct timespec ts;
    const struct timespec *dl = ts_of(d, &ts);
    int rc = 0;
    /* Announce ourselves before the last check, so a post either sees us
     * (and wakes) or happens before the check (and we see its value). */
    mp__fetch_add32(&st->waiters, 1, MP__SEQ_CST);
    while (!sem_try(st)) {
        int e = futex_wait(&st->value, 0, dl);
        if (e == ETIMEDOUT) {
            rc = sem_try(st) ? 0 : MP_ETIMEDOUT;
            break;
        }
    }
    mp__fetch_sub32(&st->waiters, 1, MP__SEQ_CST);
    return rc;
}

int mp__os_sem_post(mp__os_sem *s) {
    sem_state *st = s->mem;
    int rc = mp__posix_sem_give(&st->value, st->max);
    if (rc)
        return rc;
    if (mp__load32(&st->waiters, MP__SEQ_CST))
        futex_wake(&st->value, 1);
    return 0;
}

int mp__os_sem_value(mp__os_sem *s, int *value) {
    *value = (int)mp__load32(&((sem_state *)s->mem)->value, MP__SEQ_CST);
    return 0;
}

void mp__os_sem_close(mp__os_sem *s) { s->mem = NULL; }

/* ---- robust mutex ---- */

/* A futex lock in the style of the kernel's robust futexes
 * (Documentation/locking/robust-futex-ABI.rst): the word holds the owner's
 * thread id, FUTEX_WAITERS while someone may sleep on it, and
 * FUTEX_OWNER_DIED once the kernel has released it for a dead owner. A
 * held lock is linked on its owner thread's robust list, the one list per
 * thread that the kernel walks when the thread dies (by exit or by signal):
 * for each entry still holding the dying thread's id the kernel sets
 * FUTEX_OWNER_DIED, clears the id and wakes one waiter.
 *
 * That list is registered once per thread, by glibc at thread start (for
 * its own robust mutexes) or, where no one has, by us. We share glibc's:
 * glibc inserts its entries at the head and unlinks them through their
 * back links, so we append ours at the tail and unlink them by walking
 * from the head: glibc's entries then always precede ours, and no glibc
 * back link ever points at one of ours. An entry is a `next` pointer (the
 * kernel ABI) preceded by one pointer-sized slot that glibc may write as
 * its back link; the word sits `node_off` bytes before `next`, which must
 * equal minus the list's futex_offset (32 for glibc on 64-bit). Compared
 * with glibc's robust error-checking mutex this does the same work minus
 * its general-purpose branches. It spins before sleeping only when asked to
 * (mp__os_mutex_set_spin): with two CPUs taking turns on a user's lock, a
 * spinner keeps pulling the lock's line away from the holder (measured
 * slower in bench_sync). A user's Lock polls one level up instead
 * (common/sync_lock.c), yielding between tries. */
#define TID_MASK FUTEX_TID_MASK
#define NODE_OFF_DEFAULT 32

typedef struct rmutex {
    MP__ATOMIC(uint32_t) word;
    uint32_t node_off; /* written for the record; never read back: the
                        * offset is our thread's list's (per process) */
} rmutex;

/* The kernel walks at most this many entries of a robust list
 * (ROBUST_LIST_LIMIT); our walks over the C library's entries stop there
 * too. */
#define LIST_LIMIT 2048

_Static_assert(NODE_OFF_DEFAULT + sizeof(void *) <= MP__OS_MUTEX_SIZE,
               "robust list entry outside the mutex");

static MP__TLS struct robust_list_head tl_own_head;

/* Whether entries at this futex_offset fit in a mutex's bytes, after the
 * word and a back-link slot. */
static bool offset_fits(long futex_offset) {
    long off = -futex_offset, p = (long)sizeof(void *);
    return off >= 8 + p && off % p == 0 && off + p <= MP__OS_MUTEX_SIZE;
}

/* This thread's robust list (registering one when nobody has), or NULL
 * when the kernel refuses it or its layout does not fit ours. */
static struct robust_list_head *robust_head_slow(void) {
    struct robust_list_head *h = NULL;
    pthread_once(&tid_once, tid_register); /* forget it in a forked child */
    size_t len = 0;
    if (syscall(SYS_get_robust_list, 0, &h, &len) != 0 || !h) {
        h = &tl_own_head;
        h->list.next = &h->list;
        h->futex_offset = -(long)NODE_OFF_DEFAULT;
        h->list_op_pending = NULL;
        if (syscall(SYS_set_robust_list, h, sizeof *h) != 0)
            return NULL;
    }
    if (!offset_fits(h->futex_offset))
        return NULL; /* a C library with an unusual list layout */
    tl_head = h;
    return h;
}

static inline struct robust_list_head *robust_head(void) {
    struct robust_list_head *h = tl_head;
    return __builtin_expect(h != NULL, 1) ? h : robust_head_slow();
}

static inline void list_barrier(void) {
    /* The kernel reads the list only once this thread is dead, but it may
     * die between any two instructions: keep the stores in program order. */
    MP__COMPILER_BARRIER();
}

/* The list entry of mutex memory x, at the offset of h (checked by
 * robust_head_slow to fit the mutex's bytes). */
static inline struct robust_list *entry_of(struct robust_list_head *h,
                                           void *x) {
    return (struct robust_list *)((char *)x - h->futex_offset);
}

static inline struct robust_list *unmark(struct robust_list *e) {
    return (struct robust_list *)((uintptr_t)e & ~(uintptr_t)1); /* PI bit */
}

/* The entry whose `next` is `to`, walking from the head over the C
 * library's entries only (ours follow them, and are never walked: their
 * links are in shared mappings): NULL when not found within LIST_LIMIT. */
static struct robust_list *pred_of(struct robust_list_head *h,
                                   struct robust_list *to) {
    struct robust_list *p = &h->list;
    for (int i = 0; i <= LIST_LIMIT; i++) {
        struct robust_list *n = unmark(p->next);
        if (n == to)
            return p;
        if (n == &h->list)
            return NULL;
        p = n;
    }
    return NULL;
}

/* Where our first entry goes or sits: after the C library's last one. */
static struct robust_list *foreign_tail(struct robust_list_head *h) {
    return pred_of(h,
                   tl_held.first ? entry_of(h, tl_held.first->mem) : &h->list);
}

/* Links m, which this thread has just taken, at the end of the list: its
 * predecessor comes from our own list (or a bounded walk of the C
 * library's), never from a shared link. */
static void list_append(struct robust_list_head *h, mp__os_mutex *m,
                        struct robust_list *pred) {
    struct robust_list *e = entry_of(h, m->mem);
    e->next = &h->list;
    ((void **)e)[-1] = pred; /* the back-link slot, for glibc's sake */
    list_barrier();
    pred->next = e;
    list_barrier();
    m->held_tid = mp__os_thread_id();
    m->held_prev = tl_held.last;
    m->held_next = NULL;
    if (tl_held.last)
        tl_held.last->held_next = m;
    else
        tl_held.first = m;
    tl_held.last = m;
}

/* Unlinks m from this thread's lists; false when this thread does not hold
 * it through m (held through another mapping of the same object, or not
 * at all). */
static bool list_remove(struct robust_list_head *h, mp__os_mutex *m) {
    if (m->held_tid != mp__os_thread_id())
        return false;
    struct robust_list *pred =
        m->held_prev ? entry_of(h, m->held_prev->mem) : foreign_tail(h);
    struct robust_list *next =
        m->held_next ? entry_of(h, m->held_next->mem) : &h->list;
    list_barrier();
    if (pred) /* else the C library's part is past the kernel's limit */
        pred->next = next;
    list_barrier();
    if (m->held_prev)
        m->held_prev->held_next = m->held_next;
    else
        tl_held.first = m->held_next;
    if (m->held_next)
        m->held_next->held_prev = m->held_prev;
    else
        tl_held.last = m->held_prev;
    m->held_tid = 0;
    m->held_prev = m->held_next = NULL;
    return true;
}

static int mutex_init(mp__os_mutex *m, void *mem) {
    m->mem = mem;
    m->h = MP__BAD_HANDLE;
    m->spin = 0;
    m->held_prev = m->held_next = NULL;
    m->held_tid = 0;
    return 0;
}

int mp__os_mutex_create(mp__os_mutex *m, void *mem, const char *name) {
    (void)name;
    struct robust_list_head *h = robust_head();
    if (!h)
        return MP_ENOTSUP;
    rmutex *x = mem;
    memset(mem, 0, MP__OS_MUTEX_SIZE);
    x->node_off = (uint32_t)-h->futex_offset; /* checked by robust_head */
    mp__store32(&x->word, 0, MP__RELAXED);
    return mutex_init(m, mem);
}

int mp__os_mutex_attach(mp__os_mutex *m, void *mem, mp__handle h,
                        const char *name) {
    (void)name;
    mp__os_close(h);
    return mutex_init(m, mem);
}

/* The contended path: v is the word the fast path saw. Kept out of line so
 * the uncontended path stays a leaf without a stack frame to speak of. */
__attribute__((noinline)) static int mutex_lock_slow(rmutex *x, uint32_t tid,
                                                     uint32_t v,
                                                     mp__deadline d,
                                                     unsigned spin) {
    if ((v & TID_MASK) == tid)
        return MP_ESTATE;
    struct timespec ts;
    const struct timespec *dl = ts_of(d, &ts);
    if (d != MP__DL_NOW)
        for (unsigned i = 0; i < spin && (v & TID_MASK); i++) {
            mp__cpu_relax();
            v = mp__load32(&x->word, MP__RELAXED);
        }
    bool slept = false, last = d == MP__DL_NOW;
    for (;;) {
        v = mp__load32(&x->word, MP__RELAXED);
        if (!(v & TID_MASK)) {
            /* Free, perhaps released by the kernel for a dead owner. After
             * sleeping, others may still sleep: keep them announced. */
            uint32_t nv = tid | (slept ? FUTEX_WAITERS : (v & FUTEX_WAITERS));
            if (mp__cas32(&x->word, &v, nv, MP__ACQUIRE))
                return (v & FUTEX_OWNER_DIED) ? MP_EOWNERDEAD : 0;
            continue;
        }
        if (last)
            return mp__deadline_err(d);
        if (!(v & FUTEX_WAITERS)) {
            if (!mp__cas32(&x->word, &v, v | FUTEX_WAITERS, MP__RELAXED))
                continue;
            v |= FUTEX_WAITERS;
        }
        int e = futex_wait(&x->word, v, dl);
        slept = true;
        if (e == ETIMEDOUT)
            last = true; /* one more look, then give up */
    }
}

int mp__os_mutex_lock(mp__os_mutex *m, mp__deadline d) {
    rmutex *x = m->mem;
    uint32_t tid = (uint32_t)mp__os_thread_id();
    struct robust_list_head *h = robust_head();
    if (!h)
        return MP_ENOTSUP;
    /* Where the entry will go: found before the word is taken, so that a
     * C library list past the kernel's limit fails the call cleanly. */
    struct robust_list *pred =
        tl_held.last ? entry_of(h, tl_held.last->mem) : foreign_tail(h);
    if (!pred)
        return MP_ELIMIT;
    struct robust_list *e = entry_of(h, x);
    /* Announce the operation first: if we die between taking the word and
     * linking the entry, the kernel still finds it here. */
    h->list_op_pending = e;
    list_barrier();
    uint32_t v = 0;
    int rc = 0;
    if (!mp__cas32(&x->word, &v, tid, MP__ACQUIRE))
        rc = mutex_lock_slow(x, tid, v, d, m->spin);
    if (rc == 0 || rc == MP_EOWNERDEAD)
        list_append(h, m, pred);
    h->list_op_pending = NULL;
    return rc;
}

int mp__os_mutex_unlock(mp__os_mutex *m) {
    rmutex *x = m->mem;
    uint32_t tid = (uint32_t)mp__os_thread_id();
    if ((mp__load32(&x->word, MP__RELAXED) & TID_MASK) != tid)
        return MP_ESTATE;
    struct robust_list_head *h = robust_head();
    struct robust_list *e = entry_of(h, x);
    h->list_op_pending = e;
    list_remove(h, m);
    uint32_t v = mp__exchange32(&x->word, 0, MP__RELEASE);
    if (v & FUTEX_WAITERS)
        futex_wake(&x->word, 1);
    list_barrier();
    h->list_op_pending = NULL;
    return 0;
}

/* Closing a mutex this thread holds, through this mapping, abandons it:
 * its entry must leave our robust list before the memory is unmapped (the
 * list would point into nothing), and the next taker hears MP_EOWNERDEAD,
 * as it would had we died. Held through another mapping of the same object
 * (a name opened twice), it is left alone. */
void mp__os_mutex_close(mp__os_mutex *m) {
    rmutex *x = m->mem;
    if (x && (mp__load32(&x->word, MP__RELAXED) & TID_MASK) ==
                 (uint32_t)mp__os_thread_id()) {
        struct robust_list_head *h = robust_head();
        if (h) {
            h->list_op_pending = entry_of(h, x);
            list_barrier();
        }
        if (h && list_remove(h, m)) {
            uint32_t v =
                mp__exchange32(&x->word, FUTEX_OWNER_DIED, MP__SEQ_CST);
            if (v & FUTEX_WAITERS)
                futex_wake(&x->word, 1);
        }
        if (h) {
            list_barrier();
            h->list_op_pending = NULL;
        }
    }
    m->mem = NULL;
}

/* ---- wait on address ---- */

int mp__os_wait_create(mp__os_wait *w, void *mem, const char *name) {
    (void)name;
    mp__store32(&((wait_state *)mem)->waiters, 0, MP__RELAXED);
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
                   mp__deadline d) {
    wait_state *st = w->mem;
    const MP__ATOMIC(uint32_t) *wd = word;
    if (mp__load32(wd, MP__SEQ_CST) != expected)
        return 0;
    if (mp__deadline_passed(d))
        return MP_ETIMEDOUT;
    struct timespec ts;
    mp__fetch_add32(&st->waiters, 1, MP__SEQ_CST);
    int e = futex_wait(word, expected, ts_of(d, &ts));
    mp__fetch_sub32(&st->waiters, 1, MP__SEQ_CST);
    return e == ETIMEDOUT ? MP_ETIMEDOUT : 0;
}

void mp__os_wake(mp__os_wait *w, const void *word, int n) {
    /* The waker changed the word before calling us (seq_cst), and a sleeper
     * counts itself before its futex re-checks the word, so skipping the
     * syscall when nobody is counted loses no wakeup. */
    if (mp__load32(&((wait_state *)w->mem)->waiters, MP__SEQ_CST))
        futex_wake(word, n);
}

void mp__os_wait_close(mp__os_wait *w) { w->mem = NULL; }
