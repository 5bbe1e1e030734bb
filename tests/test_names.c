/* Names: one rule and one namespace for every kind of named object, and a
 * creator killed while making an object never blocks its name. */
#ifndef _WIN32
#define _DEFAULT_SOURCE /* flock */
#define _XOPEN_SOURCE 700
#endif
#include <stdio.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "named_kinds.h"
#include "synctest.h"
#include "testutil.h"

static int make(int kind, const char *name, int variant, void **out) {
    return named_make(kind, name, variant, false, false, out);
}

/* Uses a made object once, to show it works. */
static void use(int kind, void *o) {
    int v;
    switch (kind) {
    case K_SEM:
        MP_CHECK_OK(mp_sem_acquire(o, 0));
        MP_CHECK_OK(mp_sem_release(o));
        MP_CHECK_OK(mp_sem_get_value(o, &v));
        CU_ASSERT_EQUAL(v, 1);
        break;
    case K_LOCK:
        MP_CHECK_OK(mp_lock_acquire(o, 0));
        MP_CHECK_OK(mp_lock_release(o));
        break;
    case K_EVENT:
        MP_CHECK_OK(mp_event_set(o));
        MP_CHECK_OK(mp_event_wait(o, 0));
        break;
    case K_COND:
        MP_CHECK_OK(mp_cond_acquire(o, 0));
        MP_CHECK_OK(mp_cond_notify_all(o));
        MP_CHECK_OK(mp_cond_release(o));
        break;
    case K_BARRIER: CU_ASSERT_EQUAL(mp_barrier_parties(o), 2); break;
    case K_VALUE:
        MP_CHECK_OK(mp_value_set_int(o, 41));
        MP_CHECK_OK(mp_value_add(o, 1, NULL));
        CU_ASSERT_EQUAL(mp_value_get_int(o), 42);
        break;
    case K_ARRAY:
        MP_CHECK_OK(mp_array_set_int(o, 3, 7));
        CU_ASSERT_EQUAL(mp_array_get_int(o, 3), 7);
        break;
    default: {
        mp_buf b = {0};
        MP_CHECK_OK(mp_queue_put(o, "x", 1, 0));
        MP_CHECK_OK(mp_queue_get(o, &b, 0));
        CU_ASSERT_EQUAL(b.len, 1);
        mp_buf_free(&b);
    }
    }
}

/* A name held by one kind is MP_EEXIST for every other kind, at once (a
 * mismatch never waits for a creator), and for the same kind with other
 * parameters. */
static void test_mismatch_every_pair(void) {
    char nm[80];
    int shm_before = mp_test_shm_entries();
    for (int a = 0; a < NKINDS; a++) {
        void *held, *other;
        snprintf(nm, sizeof nm, "test-%ld-pair-%s", mp_getpid(),
                 kind_names[a]);
        MP_CHECK_OK(make(a, nm, 0, &held));
        for (int b = 0; b < NKINDS; b++) {
            /* The same kind: other parameters, where it has any (an
             * Event and a Condition have none: they open the same). */
            int want = b == a && (a == K_EVENT || a == K_COND) ? 0 : MP_EEXIST;
            int64_t t0 = mp_test_now_ms();
            int rc = make(b, nm, b == a, &other);
            if (rc != want)
                fprintf(stderr, "%s over %s: %s\n", kind_names[b],
                        kind_names[a], mp_err_name(rc));
            CU_ASSERT_EQUAL(rc, want);
            if (rc == 0)
                named_drop(b, other);
            /* At once: the old rule waited 2 s for a queue's header. */
            CU_ASSERT(mp_test_now_ms() - t0 < 1000);
        }
        mp_queue *q;
        MP_CHECK_RC(mp_queue_open(&q, nm), a == K_QUEUE ? 0 : MP_EEXIST);
        if (a == K_QUEUE)
            mp_queue_free(q);
        named_drop(a, held);
    }
    CU_ASSERT_EQUAL(mp_test_shm_entries(), shm_before);
}

/* The same kind and parameters open the same object; the name rule is the
 * same for every kind. */
static void test_name_rule(void) {
    char nm[MP_NAME_MAX + 2];
    for (int k = 0; k < NKINDS; k++) {
        void *o, *o2;
        memset(nm, 'n', sizeof nm);
        nm[MP_NAME_MAX + 1] = '\0';
        MP_CHECK_RC(make(k, nm, 0, &o), MP_EINVAL); /* one byte too long */
        MP_CHECK_RC(make(k, "", 0, &o), MP_EINVAL);
        MP_CHECK_RC(make(k, "a/b", 0, &o), MP_EINVAL);
        MP_CHECK_RC(make(k, "a\\b", 0, &o), MP_EINVAL);
        snprintf(nm, 24, "test-%ld-", mp_getpid());
        memset(nm + strlen(nm), 'a' + k, MP_NAME_MAX - strlen(nm));
        nm[MP_NAME_MAX] = '\0'; /* the longest name */
        MP_CHECK_OK(make(k, nm, 0, &o));
        if (k == K_QUEUE)
            MP_CHECK_OK(mp_queue_open((mp_queue **)&o2, nm));
        else
            MP_CHECK_OK(make(k, nm, 0, &o2));
        use(k, o2);
        named_drop(k, o2);
        named_drop(k, o);
    }
    mp_queue *q;
    MP_CHECK_RC(mp_queue_open(&q, "test-absent-queue"), MP_ENOENT);
    MP_CHECK_RC(mp_queue_open(&q, NULL), MP_EINVAL);
}

/* ---- half-made objects ---- */

/* Leaves `name` as a creator killed while making it would: stage 0 before
 * it sized the object, stage 1 after sizing and part of the header, never
 * published. The killed creator's guard died with it, so none is held.
 * Returns what keeps the remains alive (Windows: a handle some other
 * process still holds; nothing on POSIX, where names outlive handles). */
static intptr_t plant(const char *name, int stage) {
#ifdef _WIN32
    wchar_t wn[300], wg[300];
    swprintf(wn, 300, L"Local\\mproc-%hs", name);
    swprintf(wg, 300, L"Local\\mproc-%hs/new", name);
    /* The guard, taken and abandoned by a thread that ends holding it. */
    HANDLE g = CreateMutexW(NULL, TRUE, wg);
    HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                                  0, 4u << 20, wn);
    CU_ASSERT_PTR_NOT_NULL(h);
    if (stage) {
        uint32_t *p = MapViewOfFile(h, FILE_MAP_ALL_ACCESS, 0, 0, 64);
        p[1] = 6; /* a kind, but no magic */
        UnmapViewOfFile(p);
    }
    /* Abandon the guard as a dying owner does: close it while held. The
     * mutex lives on through no handle, so it is simply gone. */
    CloseHandle(g);
    return (intptr_t)h;
#else
    char nm[300];
    snprintf(nm, sizeof nm, "/mp-%s", name);
    int fd = shm_open(nm, O_RDWR | O_CREAT | O_EXCL, 0600);
    CU_ASSERT(fd >= 0);
    if (fd >= 0 && stage) {
        uint32_t hdr[4] = {0, 6, 1, 0}; /* a kind and a user, no magic */
        CU_ASSERT_EQUAL(ftruncate(fd, 4096), 0);
        CU_ASSERT_EQUAL(pwrite(fd, hdr, sizeof hdr, 0), (ssize_t)sizeof hdr);
    }
    if (fd >= 0)
        close(fd);
    return 0;
#endif
}

static void unplant(intptr_t keep) {
#ifdef _WIN32
    CloseHandle((HANDLE)keep);
#else
    (void)keep;
#endif
}

/* Each kind takes over a half-made object of its name at once, and works;
 * a queue open of it says there is none. */
static void test_half_made_taken_over(void) {
    char nm[80];
    int shm_before = mp_test_shm_entries();
    for (int stage = 0; stage < 2; stage++)
        for (int k = 0; k < NKINDS; k++) {
            void *o;
            snprintf(nm, sizeof nm, "test-%ld-half-%d-%s", mp_getpid(), stage,
                     kind_names[k]);
            intptr_t keep = plant(nm, stage);
            if (k == K_QUEUE) {
                mp_queue *q;
                MP_CHECK_RC(mp_queue_open(&q, nm), MP_ENOENT);
            }
            int64_t t0 = mp_test_now_ms();
            MP_CHECK_OK(make(k, nm, 0, &o));
            CU_ASSERT(mp_test_now_ms() - t0 < 1000); /* not a 2 s wait */
            unplant(keep);
            use(k, o);
            named_drop(k, o);
        }
    CU_ASSERT_EQUAL(mp_test_shm_entries(), shm_before);
}

#ifndef _WIN32
/* A creator that is alive but does not publish (stopped, say) makes a
 * create-or-open give up with MP_ETIMEDOUT after the documented 2 s. */
static void test_half_made_live_creator(void) {
    char nm[80], path[300];
    mp_lock *l;
    snprintf(nm, sizeof nm, "test-%ld-live", mp_getpid());
    snprintf(path, sizeof path, "/mp-%s", nm);
    int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(flock(fd, LOCK_EX), 0); /* the creator's guard */
    int64_t t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_lock_new_ex(&l, false, &(mp_sync_options){.name = nm}),
                MP_ETIMEDOUT);
    int64_t took = mp_test_now_ms() - t0;
    CU_ASSERT(took >= 1900 && took < 10000);
    close(fd); /* the creator dies: its guard goes with it */
    MP_CHECK_OK(mp_lock_new_ex(&l, false, &(mp_sync_options){.name = nm}));
    use(K_LOCK, l);
    mp_lock_free(l);
    MP_CHECK_RC(mp_unlink(nm), MP_ENOENT);
}
#else
/* Windows: a creator thread holds the guard mutex and an unpublished
 * mapping until told to end. */
typedef struct creator {
    const char *name;
    HANDLE ready, die;
} creator;

static DWORD WINAPI creator_thread(void *arg) {
    creator *c = arg;
    wchar_t wn[300], wg[300];
    swprintf(wn, 300, L"Local\\mproc-%hs", c->name);
    swprintf(wg, 300, L"Local\\mproc-%hs/new", c->name);
    HANDLE g = CreateMutexW(NULL, TRUE, wg);
    HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                                  0, 1u << 20, wn);
    SetEvent(c->ready);
    WaitForSingleObject(c->die, INFINITE);
    CloseHandle(h);
    CloseHandle(g); /* ends holding it: abandoned, then gone */
    return g && h ? 0 : 1;
}

static void test_half_made_live_creator(void) {
    char nm[80];
    mp_lock *l;
    snprintf(nm, sizeof nm, "test-%ld-live", mp_getpid());
    creator c = {nm, CreateEventW(NULL, TRUE, FALSE, NULL),
                 CreateEventW(NULL, TRUE, FALSE, NULL)};
    HANDLE t = CreateThread(NULL, 0, creator_thread, &c, 0, NULL);
    CU_ASSERT_FATAL(t != NULL);
    WaitForSingleObject(c.ready, INFINITE);
    int64_t t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_lock_new_ex(&l, false, &(mp_sync_options){.name = nm}),
                MP_ETIMEDOUT);
    int64_t took = mp_test_now_ms() - t0;
    CU_ASSERT(took >= 1900 && took < 10000);
    SetEvent(c.die);
    WaitForSingleObject(t, INFINITE);
    DWORD code = 1;
    GetExitCodeThread(t, &code);
    CU_ASSERT_EQUAL(code, 0);
    CloseHandle(t);
    CloseHandle(c.ready);
    CloseHandle(c.die);
    MP_CHECK_OK(mp_lock_new_ex(&l, false, &(mp_sync_options){.name = nm}));
    use(K_LOCK, l);
    mp_lock_free(l);
}
#endif

void mp_test_suite_names(void) {
    const mp_test_runs once = MP_TEST_ONCE;
    MP_TEST_SUITE(
        "names", {"mismatch_every_pair", test_mismatch_every_pair, once},
        {"name_rule", test_name_rule, once},
        {"half_made_taken_over", test_half_made_taken_over, once},
        {"half_made_live_creator", test_half_made_live_creator, once});
}
