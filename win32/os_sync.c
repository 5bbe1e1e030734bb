/* win32 backend, synchronisation: Win32 semaphores (value read with
 * NtQuerySemaphore) and mutexes (WAIT_ABANDONED is a dead owner), and
 * wait-on-address between processes as a semaphore plus a waiter count in
 * shared memory. Named objects are "Local\mproc-<name>" with an owner-only
 * DACL, gone with their last handle; one made before us is used only when
 * our user owns it (mp__win32_check_owner), else MP_EACCES. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <stdlib.h>

#include "base/atomics.h"
#include "os/os_sync.h"
#include "util/wait_policy.h"
#include "os_win32.h"

typedef struct mutex_state {
    MP__ATOMIC(uint64_t) owner; /* Win32 mutexes are recursive: we are not */
} mutex_state;

typedef struct wait_state {
    MP__ATOMIC(uint32_t)
    waiters; /* may over-count after a waiter was killed */
} wait_state;

/* A deadline as a relative wait (INFINITE for forever, 0 once passed). */
static DWORD ms_of(mp__deadline d) {
    int rc;
    long ms = mp__deadline_left_ms(d, &rc);
    return ms < 0 ? INFINITE : (DWORD)ms;
}

/* Creates (kind 's': semaphore, 'm': mutex) a kernel object, named or not. */
static int kcreate(char kind, LONG value, LONG max, const char *name,
                   mp__handle *out) {
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
    wchar_t *wn = NULL;
    int rc = 0;
    if (name && !(wn = mp__win32_kname(name, &rc)))
        return rc;
    if (wn && (rc = mp__win32_owner_sd(&sa.lpSecurityDescriptor))) {
        free(wn);
        return rc;
    }
    SECURITY_ATTRIBUTES *psa = wn ? &sa : NULL;
    HANDLE h = kind == 's' ? CreateSemaphoreW(psa, value, max, wn)
                           : CreateMutexW(psa, FALSE, wn);
    DWORD e = GetLastError();
    LocalFree(sa.lpSecurityDescriptor);
    free(wn);
    if (!h)
        return mp__win32_err(e);
    /* Made before us: ours only if our user owns it (os_win32.h). */
    int rc2 = e == ERROR_ALREADY_EXISTS ? mp__win32_check_owner(h) : 0;
    if (rc2) {
        CloseHandle(h);
        return rc2;
    }
    *out = (mp__handle)h;
    return 0;
}

/* Uses h when given, else opens the named object. */
static int kattach(char kind, mp__handle h, const char *name,
                   mp__handle *out) {
    int rc = MP_EINVAL;
    if (h != MP__BAD_HANDLE) {
        *out = h;
        return 0;
    }
    wchar_t *wn = name ? mp__win32_kname(name, &rc) : NULL;
    if (!wn)
        return rc;
    HANDLE k = kind == 's' ? OpenSemaphoreW(SEMAPHORE_ALL_ACCESS, FALSE, wn)
                           : OpenMutexW(MUTEX_ALL_ACCESS, FALSE, wn);
    DWORD e = GetLastError();
    free(wn);
    if (!k)
        return e == ERROR_FILE_NOT_FOUND ? MP_ENOENT : mp__win32_err(e);
    if ((rc = mp__win32_check_owner(k))) {
        CloseHandle(k);
        return rc;
    }
    *out = (mp__handle)k;
    return 0;
}

/* ---- semaphore ---- */

int mp__os_sem_create(mp__os_sem *s, void *mem, unsigned value, unsigned max,
                      const char *name) {
    if (value > INT32_MAX || max > INT32_MAX || (max && value > max))
        return MP_EINVAL;
    s->mem = mem;
    return kcreate('s', (LONG)value, max ? (LONG)max : INT32_MAX, name, &s->h);
}

int mp__os_sem_attach(mp__os_sem *s, void *mem, mp__handle h,
                      const char *name) {
    s->mem = mem;
    return kattach('s', h, name, &s->h);
}

int mp__os_sem_wait(mp__os_sem *s, mp__deadline d) {
    DWORD r = WaitForSingleObject((HANDLE)s->h, ms_of(d));
    if (r == WAIT_OBJECT_0)
        return 0;
    if (r == WAIT_TIMEOUT)
        return mp__deadline_err(d);
    return mp__win32_err(GetLastError());
}

int mp__os_sem_post(mp__os_sem *s) {
    if (ReleaseSemaphore((HANDLE)s->h, 1, NULL))
        return 0;
    DWORD e = GetLastError();
    return e == ERROR_TOO_MANY_POSTS ? MP_EOVERFLOW : mp__win32_err(e);
}

typedef LONG(NTAPI *query_sem_fn)(HANDLE, int, void *, ULONG, ULONG *);

int mp__os_sem_value(mp__os_sem *s, int *value) {
    /* NtQuerySemaphore, class 0: { LONG current; LONG maximum; }. */
    static query_sem_fn query;
    struct {
        LONG current, maximum;
    } info;
    if (!query) {
        FARPROC f =
            GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "NtQuerySemaphore");
        if (!f)
            return MP_ENOTSUP;
        query = (query_sem_fn)(void (*)(void))f;
    }
    if (query((HANDLE)s->h, 0, &info, sizeof info, NULL) != 0)
        return MP_ESYS;
    *value = (int)info.current;
    return 0;
}

void mp__os_sem_close(mp__os_sem *s) {
    mp__os_close(s->h);
    s->h = MP__BAD_HANDLE;
}

/* ---- mutex ---- */

int mp__os_mutex_create(mp__os_mutex *m, void *mem, const char *name) {
    mp__store64(&((mutex_state *)mem)->owner, 0, MP__RELAXED);
    m->mem = mem;
    m->spin = 0; /* a kernel mutex: nothing to poll in user space */
    return kcreate('m', 0, 0, name, &m->h);
}

int mp__os_mutex_attach(mp__os_mutex *m, void *mem, mp__handle h,
                        const char *name) {
    m->mem = mem;
    m->spin = 0;
    return kattach('m', h, name, &m->h);
}

int mp__os_mutex_lock(mp__os_mutex *m, mp__deadline d) {
    mutex_state *st = m->mem;
    uint64_t me = mp__os_thread_id();
    if (mp__load64(&st->owner, MP__SEQ_CST) == me)
        return MP_ESTATE;
    DWORD r = WaitForSingleObject((HANDLE)m->h, ms_of(d));
    if (r == WAIT_OBJECT_0 || r == WAIT_ABANDONED) {
        mp__store64(&st->owner, me, MP__SEQ_CST);
        return r == WAIT_ABANDONED ? MP_EOWNERDEAD : 0;
    }
    if (r == WAIT_TIMEOUT)
        return mp__deadline_err(d);
    return mp__win32_err(GetLastError());
}

int mp__os_mutex_unlock(mp__os_mutex *m) {
    mutex_state *st = m->mem;
    if (mp__load64(&st->owner, MP__SEQ_CST) != mp__os_thread_id())
        return MP_ESTATE;
    mp__store64(&st->owner, 0, MP__SEQ_CST);
    return ReleaseMutex((HANDLE)m->h) ? 0 : MP_ESTATE;
}

void mp__os_mutex_close(mp__os_mutex *m) {
    mp__os_close(m->h);
    m->h = MP__BAD_HANDLE;
}

/* ---- wait on address ---- */

int mp__os_wait_create(mp__os_wait *w, void *mem, const char *name) {
    mp__store32(&((wait_state *)mem)->waiters, 0, MP__RELAXED);
    w->mem = mem;
    return kcreate('s', 0, INT32_MAX, name, &w->h);
}

int mp__os_wait_attach(mp__os_wait *w, void *mem, mp__handle h,
                       const char *name) {
    w->mem = mem;
    return kattach('s', h, name, &w->h);
}

int mp__os_wait_on(mp__os_wait *w, const void *word, uint32_t expected,
                   mp__deadline d) {
    wait_state *st = w->mem;
    const MP__ATOMIC(uint32_t) *wd = word;
    if (mp__load32(wd, MP__SEQ_CST) != expected)
        return 0;
    if (mp__deadline_passed(d))
        return MP_ETIMEDOUT;
    /* Count ourselves, then re-check: a waker that changed the word after
     * our check sees the count and posts a token for us. But a token is
     * not tied to a waiter: one that starts waiting after the post (a
     * party back at a barrier already) can take it, and leave us asleep
     * with our word changed. So we sleep in slices (MP__SLICE_WAIT_ON_MS)
     * and look at the word between them: such a theft costs one slice. */
    mp__fetch_add32(&st->waiters, 1, MP__SEQ_CST);
    int rc = 0;
    while (mp__load32(wd, MP__SEQ_CST) == expected) {
        if (mp__deadline_passed(d)) {
            rc = MP_ETIMEDOUT;
            break;
        }
        DWORD slice = ms_of(mp__slice_end(d, MP__SLICE_WAIT_ON_MS));
        if (WaitForSingleObject((HANDLE)w->h, slice) != WAIT_TIMEOUT)
            break; /* a token: woken (or spuriously: the caller re-checks) */
    }
    mp__fetch_sub32(&st->waiters, 1, MP__SEQ_CST);
    return rc;
}

void mp__os_wake(mp__os_wait *w, const void *word, int n) {
    (void)word;
    uint32_t k = mp__load32(&((wait_state *)w->mem)->waiters, MP__SEQ_CST);
    if (k > (uint32_t)n)
        k = (uint32_t)n;
    /* A token left over (its waiter timed out or died) only causes one
     * spurious wakeup later; callers re-check their word. */
    if (k)
        ReleaseSemaphore((HANDLE)w->h, (LONG)k, NULL);
}

void mp__os_wait_close(mp__os_wait *w) {
    mp__os_close(w->h);
    w->h = MP__BAD_HANDLE;
}

/* Windows has no fork: a thread's cached id never goes stale. The
 * generation (see mp__os_thread_id) counts on from a start that the first
 * thread to ask draws. */
MP__TLS uint64_t mp__os_tid_cache;
static MP__ATOMIC(uint32_t) gen_next;
static INIT_ONCE gen_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK draw_gen(PINIT_ONCE once, PVOID arg, PVOID *ctx) {
    LARGE_INTEGER t;
    int local;
    (void)once;
    (void)arg;
    (void)ctx;
    QueryPerformanceCounter(&t);
    mp__store32(&gen_next,
                mp__os_thread_gen_seed(GetCurrentProcessId(),
                                       (uint64_t)t.QuadPart,
                                       (uint64_t)(uintptr_t)&local),
                MP__SEQ_CST);
    return TRUE;
}

uint64_t mp__os_thread_id_slow(void) {
    InitOnceExecuteOnce(&gen_once, draw_gen, NULL, NULL);
    uint32_t gen = mp__fetch_add32(&gen_next, 1, MP__SEQ_CST);
    mp__os_tid_cache = (uint64_t)gen << 32 | GetCurrentThreadId();
    return mp__os_tid_cache;
}
