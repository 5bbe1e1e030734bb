/* Semaphore, Lock/RLock, Event, Condition, Barrier: CPython's cases ported,
 * plus processes killed holding or waiting, named objects opened by an
 * unrelated process, and leak checks; cases that start children run once per
 * start method. */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* robust pthread mutexes, MAP_ANONYMOUS */
#endif
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "synctest.h"

#ifdef _WIN32
/* Every kernel wait is a wineserver round trip under Wine: fewer rounds. */
#define INCREMENTS 20000
#define ROUNDS 300
#else
#define INCREMENTS 100000
#define ROUNDS 1000
#endif

static void check_elapsed(int64_t t0, long lo, long hi) {
    int64_t dt = mp_test_now_ms() - t0;
    if (dt < lo || dt > hi)
        fprintf(stderr, "elapsed %lld ms, expected %ld..%ld\n", (long long)dt,
                lo, hi);
    CU_ASSERT(dt >= lo && dt <= hi);
}

/* ---- targets ---- */

/* Sleeps up to ten seconds (bounded), for children that get killed. */
static int sleep_long(void) {
    for (int i = 0; i < 100; i++)
        mp_test_sleep_ms(100);
    return 99;
}

static int t_sem_post(mp_call *c) {
    mp_sem *s = mp_arg_sem(mp_call_arg(c, 0));
    return s && mp_sem_release(s) == 0 ? 0 : 1;
}

/* Takes a lock, says so on the event, and waits to be killed. */
static int t_hold_lock(mp_call *c) {
    mp_lock *l = mp_arg_lock(mp_call_arg(c, 0));
    mp_event *e = mp_arg_event(mp_call_arg(c, 1));
    if (!l || !e || mp_lock_acquire(l, MP_INFINITE) != 0)
        return 1;
    mp_event_set(e);
    return sleep_long();
}

/* Holds locks 0, 3 and 1 of four (taken and released out of order, so a
 * backend's per-thread list of held locks is edited at its head, middle
 * and tail), says so, and waits to be killed. */
static int t_hold_many(mp_call *c) {
    mp_lock *l[4];
    for (int i = 0; i < 4; i++)
        if (!(l[i] = mp_arg_lock(mp_call_arg(c, i))))
            return 1;
    mp_event *e = mp_arg_event(mp_call_arg(c, 4));
    for (int i = 0; i < 4; i++)
        if (mp_lock_acquire(l[i], MP_INFINITE) != 0)
            return 2;
    if (mp_lock_release(l[2]) || mp_lock_release(l[1]) ||
        mp_lock_acquire(l[1], MP_INFINITE))
        return 3;
    mp_event_set(e);
    return sleep_long();
}

/* Opens a named lock, takes it, frees it without releasing it, and
 * exits. */
static int t_free_held(mp_call *c) {
    mp_lock *l;
    const char *nm = mp_arg_str(mp_call_arg(c, 0));
    if (mp_lock_new_ex(&l, false, &(mp_sync_options){.name = nm}))
        return 1;
    if (mp_lock_acquire(l, MP_INFINITE) != 0)
        return 2;
    mp_lock_free(l); /* a bug, but one that must not wedge the lock */
    return 0;
}

/* Blocks on a lock until its owner dies: exit 0 when told so. */
static int t_wait_owner_dead(mp_call *c) {
    mp_lock *l = mp_arg_lock(mp_call_arg(c, 0));
    mp_event *e = mp_arg_event(mp_call_arg(c, 1));
    if (!l || !e)
        return 1;
    mp_event_set(e);
    int rc = mp_lock_acquire(l, 30000);
    return rc == MP_EOWNERDEAD && mp_lock_release(l) == 0 ? 0 : 10 + (rc & 7);
}

/* A lock held by another process: not ours to release, not free to take. */
static int t_foreign_lock(mp_call *c) {
    mp_lock *l = mp_arg_lock(mp_call_arg(c, 0));
    if (!l || mp_lock_release(l) != MP_ESTATE || mp_lock_is_owned(l) != 0)
        return 1;
    if (mp_lock_acquire(l, 0) != MP_EAGAIN)
        return 2;
    return mp_lock_acquire(l, 50) == MP_ETIMEDOUT ? 0 : 3;
}

/* n locked increments of a plain (non-atomic) read-modify-write. */
static int t_increment(mp_call *c) {
    mp_lock *l = mp_arg_lock(mp_call_arg(c, 0));
    int64_t n = mp_arg_int(mp_call_arg(c, 1));
    volatile long long *counter =
        mp_value_ptr(mp_arg_value(mp_call_arg(c, 2)));
    if (!l || !counter)
        return 1;
    for (int64_t i = 0; i < n; i++) {
        if (mp_lock_acquire(l, MP_INFINITE))
            return 2;
        *counter = *counter + 1;
        if (mp_lock_release(l))
            return 3;
    }
    return 0;
}

static int t_sem_wait_forever(mp_call *c) {
    mp_sem *s = mp_arg_sem(mp_call_arg(c, 0));
    mp_event *e = mp_arg_event(mp_call_arg(c, 1));
    mp_event_set(e);
    mp_sem_acquire(s, MP_INFINITE);
    return sleep_long();
}

/* The partner of test_sem_pingpong: takes a, checks that the turns
 * alternate, bumps the count, gives b. */
static int t_pong(mp_call *c) {
    mp_sem *a = mp_arg_sem(mp_call_arg(c, 0)),
           *b = mp_arg_sem(mp_call_arg(c, 1));
    mp_value *v = mp_arg_value(mp_call_arg(c, 2));
    int64_t n = mp_arg_int(mp_call_arg(c, 3));
    if (!a || !b || !v)
        return 1;
    long long *count = mp_value_ptr(v);
    for (int64_t i = 0; i < n; i++) {
        if (mp_sem_acquire(a, 30000) != 0)
            return 2;
        if (*count != 2 * i + 1)
            return 3;
        ++*count;
        if (mp_sem_release(b) != 0)
            return 4;
    }
    return 0;
}

static int t_event_wait(mp_call *c) {
    mp_event *e = mp_arg_event(mp_call_arg(c, 0));
    return e && mp_event_wait(e, 30000) == 0 && mp_event_is_set(e) == 1 ? 0
                                                                        : 1;
}

/* Condition waiter: counts itself asleep, waits, counts itself woken. */
static int t_cond_waiter(mp_call *c) {
    mp_cond *cv = mp_arg_cond(mp_call_arg(c, 0));
    mp_value *sleeping = mp_arg_value(mp_call_arg(c, 1));
    mp_value *woken = mp_arg_value(mp_call_arg(c, 2));
    if (!cv || !sleeping || !woken || mp_cond_acquire(cv, MP_INFINITE))
        return 1;
    mp_value_add(sleeping, 1, NULL);
    int rc = mp_cond_wait(cv, 30000);
    mp_value_add(woken, 1, NULL);
    if (mp_lock_is_owned(mp_cond_lock(cv)) != 1 || mp_cond_release(cv))
        return 2;
    return rc == 0 ? 0 : 3;
}

/* Waits on a condition forever, to be killed there. */
static int t_cond_wait_forever(mp_call *c) {
    mp_cond *cv = mp_arg_cond(mp_call_arg(c, 0));
    mp_value *sleeping = mp_arg_value(mp_call_arg(c, 1));
    mp_cond_acquire(cv, MP_INFINITE);
    mp_value_add(sleeping, 1, NULL);
    mp_cond_wait(cv, MP_INFINITE);
    return sleep_long();
}

/* Barrier rounds; counts[index] += 1 under the array's lock each round. */
static int t_barrier_rounds(mp_call *c) {
    mp_barrier *b = mp_arg_barrier(mp_call_arg(c, 0));
    mp_array *counts = mp_arg_array(mp_call_arg(c, 1));
    int64_t rounds = mp_arg_int(mp_call_arg(c, 2));
    for (int64_t r = 0; r < rounds; r++) {
        int idx = mp_barrier_wait(b, 30000);
        if (idx < 0)
            return 1;
        mp_lock_acquire(mp_array_lock(counts), MP_INFINITE);
        mp_array_set_int(counts, (size_t)idx,
                         mp_array_get_int(counts, (size_t)idx) + 1);
        mp_lock_release(mp_array_lock(counts));
    }
    return 0;
}

static int t_barrier_expect_broken(mp_call *c) {
    mp_barrier *b = mp_arg_barrier(mp_call_arg(c, 0));
    return mp_barrier_wait(b, 30000) == MP_EBROKEN ? 0 : 1;
}

/* An unrelated process: opens objects by name only. */
static int t_open_named(mp_call *c) {
    const char *base = mp_arg_str(mp_call_arg(c, 0));
    char nm[128];
    mp_sem *s = NULL;
    mp_lock *l = NULL;
    mp_event *e = NULL;
    snprintf(nm, sizeof nm, "%s-sem", base);
    if (mp_sem_new_ex(&s, 0, 0, &(mp_sync_options){.name = nm}))
        return 1;
    snprintf(nm, sizeof nm, "%s-lock", base);
    if (mp_lock_new_ex(&l, false, &(mp_sync_options){.name = nm}))
        return 2;
    snprintf(nm, sizeof nm, "%s-ev", base);
    if (mp_event_new(&e, &(mp_sync_options){.name = nm}))
        return 3;
    int rc = 0;
    if (mp_lock_acquire(l, 0) != MP_EAGAIN) /* the parent holds it */
        rc = 4;
    else if (mp_sem_release(s) || mp_event_wait(e, 30000))
        rc = 5;
    mp_sem_free(s);
    mp_lock_free(l);
    mp_event_free(e);
    return rc;
}

/* Makes one of each anonymous object, says so, and waits to be killed. */
static int t_make_and_die(mp_call *c) {
    mp_event *ready = mp_arg_event(mp_call_arg(c, 0));
    mp_sem *s;
    mp_lock *l;
    mp_event *e;
    mp_cond *cv;
    mp_barrier *b;
    if (mp_sem_new(&s, 1, 0) || mp_lock_new(&l, true) ||
        mp_event_new(&e, NULL) || mp_cond_new(&cv, NULL, NULL) ||
        mp_barrier_new(&b, 2, NULL) || mp_lock_acquire(l, 0))
        return 1;
    mp_event_set(ready);
    return sleep_long();
}

/* ---- Semaphore ---- */

/* A semaphore starts at its value, acquire takes one until MP_EAGAIN at zero,
 * and an unbounded one counts releases past its initial value. */
static void test_sem_values(void) {
    mp_sem *s;
    int v = -1;
    MP_CHECK_OK(mp_sem_new(&s, 2, 0));
    MP_CHECK_OK(mp_sem_get_value(s, &v));
    CU_ASSERT_EQUAL(v, 2);
    MP_CHECK_OK(mp_sem_acquire(s, MP_INFINITE));
    MP_CHECK_OK(mp_sem_acquire(s, 0));
    MP_CHECK_RC(mp_sem_acquire(s, 0), MP_EAGAIN);
    MP_CHECK_OK(mp_sem_get_value(s, &v));
    CU_ASSERT_EQUAL(v, 0);
    MP_CHECK_OK(mp_sem_release(s));
    MP_CHECK_OK(mp_sem_release(s));
    MP_CHECK_OK(mp_sem_release(s)); /* unbounded */
    MP_CHECK_OK(mp_sem_get_value(s, &v));
    CU_ASSERT_EQUAL(v, 3);
    mp_sem_free(s);
}

/* An acquire on a zero semaphore returns MP_EAGAIN at once with timeout 0 and
 * MP_ETIMEDOUT after about its timeout. */
static void test_sem_timeout(void) {
    mp_sem *s;
    MP_CHECK_OK(mp_sem_new(&s, 0, 0));
    int64_t t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_sem_acquire(s, 0), MP_EAGAIN);
    check_elapsed(t0, 0, 1000);
    t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_sem_acquire(s, 200), MP_ETIMEDOUT);
    check_elapsed(t0, 195, 5000);
    mp_sem_free(s);
}

/* A bounded semaphore refuses a release past its bound with MP_EOVERFLOW and
 * keeps its value. */
static void test_sem_bounded(void) {
    mp_sem *s;
    int v;
    MP_CHECK_OK(mp_sem_new(&s, 2, 2));
    MP_CHECK_RC(mp_sem_release(s), MP_EOVERFLOW);
    MP_CHECK_OK(mp_sem_get_value(s, &v));
    CU_ASSERT_EQUAL(v, 2);
    MP_CHECK_OK(mp_sem_acquire(s, 0));
    MP_CHECK_OK(mp_sem_release(s));
    MP_CHECK_RC(mp_sem_release(s), MP_EOVERFLOW);
    mp_sem_free(s);
}

/* NULL semaphores and outputs, a value above the bound or past the maximum, a
 * negative timeout and bad names are MP_EINVAL, and a NULL free is harmless.
 * */
static void test_sem_bad_input(void) {
    mp_sem *s = (mp_sem *)1;
    int v;
    MP_CHECK_RC(mp_sem_new(NULL, 0, 0), MP_EINVAL);
    MP_CHECK_RC(mp_sem_new(&s, 3, 2), MP_EINVAL);
    CU_ASSERT_PTR_NULL(s);
    MP_CHECK_RC(mp_sem_new(&s, 0x80000000u, 0), MP_EINVAL);
    MP_CHECK_RC(mp_sem_acquire(NULL, 0), MP_EINVAL);
    MP_CHECK_RC(mp_sem_release(NULL), MP_EINVAL);
    MP_CHECK_RC(mp_sem_get_value(NULL, &v), MP_EINVAL);
    MP_CHECK_OK(mp_sem_new(&s, 0, 0));
    MP_CHECK_RC(mp_sem_acquire(s, -5), MP_EINVAL);
    mp_sem_free(s);
    MP_CHECK_RC(mp_sem_new_ex(&s, 0, 0, &(mp_sync_options){.name = "a/b"}),
                MP_EINVAL);
    MP_CHECK_RC(mp_sem_new_ex(&s, 0, 0, &(mp_sync_options){.name = ""}),
                MP_EINVAL);
    mp_sem_free(NULL);
}

/* Releases by three children each wake one acquire in the parent, and no more.
 * */
static void test_sem_children(void) {
    mp_sem *s;
    MP_CHECK_OK(mp_sem_new(&s, 0, 0));
    mp_process *p[3];
    for (int k = 0; k < 3; k++)
        p[k] = mp_test_start(t_sem_post, MP_ARGS(mp_sem_arg(s)),
                             mp_test_method());
    for (int k = 0; k < 3; k++)
        MP_CHECK_OK(mp_sem_acquire(s, 30000));
    for (int k = 0; k < 3; k++)
        CU_ASSERT_EQUAL(mp_test_finish(p[k], MP_TEST_CHILD_TIMEOUT_MS), 0);
    MP_CHECK_RC(mp_sem_acquire(s, 0), MP_EAGAIN);
    mp_sem_free(s);
}

/* Round trips between two processes: each side polls for a while before
 * sleeping, so both the polled hand-over and (when the partner is slow to
 * be scheduled) the sleep and wake-up are exercised; the turns must
 * strictly alternate and none may be lost. */
static void test_sem_pingpong(void) {
    mp_sem *a, *b;
    mp_value *v;
    int64_t n = 10 * ROUNDS;
    MP_CHECK_OK(mp_sem_new(&a, 0, 0));
    MP_CHECK_OK(mp_sem_new(&b, 0, 0));
    MP_CHECK_OK(mp_value_new(&v, MP_TYPE_LONGLONG, NULL,
                             &(mp_shared_options){.raw = true}));
    long long *count = mp_value_ptr(v);
    mp_process *p = mp_test_start(
        t_pong,
        MP_ARGS(mp_sem_arg(a), mp_sem_arg(b), mp_value_arg(v), mp_int(n)),
        mp_test_method());
    int64_t k = 0;
    for (; k < n; k++) {
        if (*count != 2 * k)
            break;
        ++*count;
        if (mp_sem_release(a) != 0 || mp_sem_acquire(b, 30000) != 0)
            break;
    }
    CU_ASSERT_EQUAL(k, n);
    CU_ASSERT_EQUAL(mp_test_finish(p, MP_TEST_CHILD_TIMEOUT_MS), 0);
    CU_ASSERT_EQUAL(*count, 2 * n);
    int val;
    MP_CHECK_OK(mp_sem_get_value(a, &val));
    CU_ASSERT_EQUAL(val, 0);
    MP_CHECK_OK(mp_sem_get_value(b, &val));
    CU_ASSERT_EQUAL(val, 0);
    mp_value_free(v);
    mp_sem_free(a);
    mp_sem_free(b);
}

/* A waiter killed while blocked in acquire takes nothing: the next release is
 * there for the next taker, once. */
static void test_sem_killed_waiter(void) {
    mp_sem *s;
    mp_event *e;
    int v;
    MP_CHECK_OK(mp_sem_new(&s, 0, 0));
    MP_CHECK_OK(mp_event_new(&e, NULL));
    mp_process *p = mp_test_start(t_sem_wait_forever,
                                  MP_ARGS(mp_sem_arg(s), mp_event_arg(e)),
                                  mp_test_method());
    MP_CHECK_OK(mp_event_wait(e, 30000));
    mp_test_kill(p);
    /* The dead waiter took nothing: a post is there for us. */
    MP_CHECK_OK(mp_sem_release(s));
    MP_CHECK_OK(mp_sem_get_value(s, &v));
    CU_ASSERT_EQUAL(v, 1);
    MP_CHECK_OK(mp_sem_acquire(s, 0));
    MP_CHECK_RC(mp_sem_acquire(s, 50), MP_ETIMEDOUT);
    mp_event_free(e);
    mp_sem_free(s);
}

/* ---- Lock / RLock ---- */

/* A Lock is not recursive (a second acquire by its owner is MP_ESTATE),
 * releasing it unowned is MP_ESTATE, and NULL locks or negative timeouts are
 * MP_EINVAL. */
static void test_lock(void) {
    mp_lock *l;
    MP_CHECK_OK(mp_lock_new(&l, false));
    CU_ASSERT_EQUAL(mp_lock_is_recursive(l), 0);
    CU_ASSERT_EQUAL(mp_lock_is_owned(l), 0);
    MP_CHECK_RC(mp_lock_release(l), MP_ESTATE);
    MP_CHECK_OK(mp_lock_acquire(l, MP_INFINITE));
    CU_ASSERT_EQUAL(mp_lock_is_owned(l), 1);
    MP_CHECK_RC(mp_lock_acquire(l, 0), MP_ESTATE); /* not recursive */
    MP_CHECK_OK(mp_lock_release(l));
    MP_CHECK_RC(mp_lock_release(l), MP_ESTATE);
    MP_CHECK_OK(mp_lock_acquire(l, 0));
    MP_CHECK_OK(mp_lock_release(l));
    MP_CHECK_RC(mp_lock_new(NULL, false), MP_EINVAL);
    MP_CHECK_RC(mp_lock_acquire(NULL, 0), MP_EINVAL);
    MP_CHECK_RC(mp_lock_acquire(l, -2), MP_EINVAL);
    MP_CHECK_RC(mp_lock_release(NULL), MP_EINVAL);
    mp_lock_free(l);
    mp_lock_free(NULL);
}

/* An RLock is taken again by its owner and stays owned until released as often
 * as it was acquired. */
static void test_rlock(void) {
    mp_lock *l;
    MP_CHECK_OK(mp_lock_new(&l, true));
    CU_ASSERT_EQUAL(mp_lock_is_recursive(l), 1);
    MP_CHECK_OK(mp_lock_acquire(l, MP_INFINITE));
    MP_CHECK_OK(mp_lock_acquire(l, 0));
    MP_CHECK_OK(mp_lock_acquire(l, 10));
    MP_CHECK_OK(mp_lock_release(l));
    MP_CHECK_OK(mp_lock_release(l));
    CU_ASSERT_EQUAL(mp_lock_is_owned(l), 1);
    MP_CHECK_OK(mp_lock_release(l));
    CU_ASSERT_EQUAL(mp_lock_is_owned(l), 0);
    MP_CHECK_RC(mp_lock_release(l), MP_ESTATE);
    mp_lock_free(l);
}

/* A Lock or RLock held by the parent cannot be taken by a child (MP_EAGAIN,
 * MP_ETIMEDOUT) nor released by it (MP_ESTATE). */
static void test_lock_foreign(void) {
    for (int rec = 0; rec < 2; rec++) {
        mp_lock *l;
        MP_CHECK_OK(mp_lock_new(&l, rec));
        MP_CHECK_OK(mp_lock_acquire(l, MP_INFINITE));
        CU_ASSERT_EQUAL(mp_test_finish(mp_test_start(t_foreign_lock,
                                                     MP_ARGS(mp_lock_arg(l)),
                                                     mp_test_method()),
                                       MP_TEST_CHILD_TIMEOUT_MS),
                        0);
        MP_CHECK_OK(mp_lock_release(l));
        mp_lock_free(l);
    }
}

static void run_increments(int nproc, mp_start_method m) {
    mp_lock *l;
    mp_value *v;
    mp_process *p[4];
    MP_CHECK_OK(mp_lock_new(&l, false));
    MP_CHECK_OK(mp_value_new(&v, MP_TYPE_LONGLONG, NULL,
                             &(mp_shared_options){.raw = true}));
    for (int k = 0; k < nproc; k++)
        p[k] = mp_test_start(
            t_increment,
            MP_ARGS(mp_lock_arg(l), mp_int(INCREMENTS), mp_value_arg(v)), m);
    for (int k = 0; k < nproc; k++)
        CU_ASSERT_EQUAL(mp_test_finish(p[k], MP_TEST_CHILD_TIMEOUT_MS), 0);
    CU_ASSERT_EQUAL(mp_value_get_int(v), (int64_t)nproc * INCREMENTS);
    mp_value_free(v);
    mp_lock_free(l);
}

/* Increments made under the lock by two and by four children at once lose
 * none. */
static void test_lock_increments(void) {
    run_increments(2, mp_test_method());
    run_increments(4, mp_test_method());
}

/* A Lock or RLock whose owner was killed holding it is given to the next taker
 * with MP_EOWNERDEAD, once; then it is an ordinary lock again. */
static void test_lock_owner_dead(void) {
    for (int rec = 0; rec < 2; rec++) {
        mp_lock *l;
        mp_event *e;
        MP_CHECK_OK(mp_lock_new(&l, rec));
        MP_CHECK_OK(mp_event_new(&e, NULL));
        mp_process *p = mp_test_start(t_hold_lock,
                                      MP_ARGS(mp_lock_arg(l), mp_event_arg(e)),
                                      mp_test_method());
        MP_CHECK_OK(mp_event_wait(e, 30000));
        MP_CHECK_RC(mp_lock_acquire(l, 0), MP_EAGAIN);
        mp_test_kill(p);
        MP_CHECK_RC(mp_lock_acquire(l, 10000), MP_EOWNERDEAD);
        CU_ASSERT_EQUAL(mp_lock_is_owned(l), 1);
        MP_CHECK_OK(mp_lock_release(l));
        /* Reported once; then it is an ordinary lock again. */
        MP_CHECK_OK(mp_lock_acquire(l, 0));
        MP_CHECK_OK(mp_lock_release(l));
        MP_CHECK_RC(mp_lock_release(l), MP_ESTATE);
        mp_event_free(e);
        mp_lock_free(l);
    }
}

/* A process dies holding three locks of four while another process sleeps
 * on one of them: that sleeper is woken with MP_EOWNERDEAD, the other two
 * report it to the next taker, and the lock it had released is clean. */
static void test_lock_owner_dead_many(void) {
    mp_lock *l[4];
    mp_event *e, *e2;
    for (int k = 0; k < 4; k++)
        MP_CHECK_OK(mp_lock_new(&l[k], k & 1));
    MP_CHECK_OK(mp_event_new(&e, NULL));
    MP_CHECK_OK(mp_event_new(&e2, NULL));
    mp_process *p = mp_test_start(t_hold_many,
                                  MP_ARGS(mp_lock_arg(l[0]), mp_lock_arg(l[1]),
                                          mp_lock_arg(l[2]), mp_lock_arg(l[3]),
                                          mp_event_arg(e)),
                                  mp_test_method());
    MP_CHECK_OK(mp_event_wait(e, 30000));
    mp_process *w = mp_test_start(t_wait_owner_dead,
                                  MP_ARGS(mp_lock_arg(l[3]), mp_event_arg(e2)),
                                  mp_test_method());
    MP_CHECK_OK(mp_event_wait(e2, 30000));
    MP_CHECK_RC(mp_lock_acquire(l[0], 0), MP_EAGAIN);
    MP_CHECK_RC(mp_lock_acquire(l[1], 0), MP_EAGAIN);
    mp_test_kill(p);
    CU_ASSERT_EQUAL(mp_test_finish(w, MP_TEST_CHILD_TIMEOUT_MS), 0);
    MP_CHECK_RC(mp_lock_acquire(l[0], 10000), MP_EOWNERDEAD);
    MP_CHECK_RC(mp_lock_acquire(l[1], 10000), MP_EOWNERDEAD);
    MP_CHECK_OK(mp_lock_acquire(l[2], 0));
    MP_CHECK_OK(mp_lock_acquire(l[3], 0));
    for (int k = 0; k < 4; k++) {
        MP_CHECK_OK(mp_lock_release(l[k]));
        mp_lock_free(l[k]);
    }
    mp_event_free(e2);
    mp_event_free(e);
}

/* A process that frees a lock it holds and exits has abandoned it. */
static void test_lock_freed_held(void) {
    mp_lock *l;
    char nm[64];
    st_name(nm, sizeof nm, "freed");
    MP_CHECK_OK(mp_lock_new_ex(&l, false, &(mp_sync_options){.name = nm}));
    mp_process *p =
        mp_test_start(t_free_held, MP_ARGS(mp_str(nm)), mp_test_method());
    CU_ASSERT_EQUAL(mp_test_finish(p, MP_TEST_CHILD_TIMEOUT_MS), 0);
    MP_CHECK_RC(mp_lock_acquire(l, 10000), MP_EOWNERDEAD);
    MP_CHECK_OK(mp_lock_release(l));
    mp_lock_free(l);
}

/* A name opened twice in one process: freeing the handle we did not lock
 * through leaves the lock held (and usable) through the other. */
static void test_lock_free_other_handle(void) {
    char nm[64];
    mp_lock *l1, *l2;
    st_name(nm, sizeof nm, "twice");
    MP_CHECK_OK(mp_lock_new_ex(&l1, false, &(mp_sync_options){.name = nm}));
    MP_CHECK_OK(mp_lock_new_ex(&l2, false, &(mp_sync_options){.name = nm}));
    MP_CHECK_OK(mp_lock_acquire(l1, MP_INFINITE));
    mp_lock_free(l2);
    mp_process *p = mp_test_start(t_foreign_lock, MP_ARGS(mp_lock_arg(l1)),
                                  mp_test_methods[0]);
    CU_ASSERT_EQUAL(mp_test_finish(p, MP_TEST_CHILD_TIMEOUT_MS),
                    0); /* still held: MP_EAGAIN, MP_ETIMEDOUT */
    MP_CHECK_OK(mp_lock_release(l1));
    MP_CHECK_OK(mp_lock_acquire(l1, 0)); /* not abandoned either */
    MP_CHECK_OK(mp_lock_release(l1));
    mp_lock_free(l1);
}

#ifndef _WIN32
/* POSIX: locks share each thread's kernel robust list with the C library's
 * robust mutexes. Interleave the two kinds, in a thread that then exits
 * (thread death counts too) and in a child that is killed. */
#include <pthread.h>
#include <sys/mman.h>

typedef struct mix {
    pthread_mutex_t m[3];
    mp_lock *l[2];
} mix;

static void mix_hold(mix *x) {
    /* glibc, ours, glibc, ours; drop the first glibc one and re-take it. */
    pthread_mutex_lock(&x->m[0]);
    mp_lock_acquire(x->l[0], MP_INFINITE);
    pthread_mutex_lock(&x->m[1]);
    mp_lock_acquire(x->l[1], MP_INFINITE);
    pthread_mutex_unlock(&x->m[0]);
    mp_lock_release(x->l[0]);
    pthread_mutex_lock(&x->m[2]);
    mp_lock_acquire(x->l[0], MP_INFINITE);
    pthread_mutex_lock(&x->m[0]);
}

static void *mix_thread(void *arg) {
    mix_hold(arg);
    return NULL; /* exits holding all five */
}

static int t_mix_hold(mp_call *c) {
    mix *x = (mix *)(uintptr_t)mp_arg_int(mp_call_arg(c, 0));
    x->l[0] = mp_arg_lock(mp_call_arg(c, 1));
    x->l[1] = mp_arg_lock(mp_call_arg(c, 2));
    mp_event *e = mp_arg_event(mp_call_arg(c, 3));
    mix_hold(x);
    mp_event_set(e);
    return sleep_long();
}

static void mix_check_dead(mix *x) {
    for (int k = 0; k < 3; k++) {
        CU_ASSERT_EQUAL(pthread_mutex_lock(&x->m[k]), EOWNERDEAD);
        pthread_mutex_consistent(&x->m[k]);
        pthread_mutex_unlock(&x->m[k]);
    }
    for (int k = 0; k < 2; k++) {
        MP_CHECK_RC(mp_lock_acquire(x->l[k], 10000), MP_EOWNERDEAD);
        MP_CHECK_OK(mp_lock_release(x->l[k]));
    }
}

/* mproc locks and the C library's robust mutexes, interleaved, are all
 * reported dead when their owner is a thread that exits or a child that is
 * killed, and still work after that. */
static void test_lock_robust_mix(void) {
    mix *x = mmap(NULL, sizeof *x, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(x != MAP_FAILED);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    for (int k = 0; k < 3; k++)
        pthread_mutex_init(&x->m[k], &a);
    pthread_mutexattr_destroy(&a);
    MP_CHECK_OK(mp_lock_new(&x->l[0], false));
    MP_CHECK_OK(mp_lock_new(&x->l[1], true));

    /* A thread of ours exits holding them. */
    pthread_t t;
    CU_ASSERT_FATAL(pthread_create(&t, NULL, mix_thread, x) == 0);
    pthread_join(t, NULL);
    mix_check_dead(x);

    /* A forked child is killed holding them. */
    mp_event *e;
    MP_CHECK_OK(mp_event_new(&e, NULL));
    mp_process *p = mp_test_start(
        t_mix_hold,
        MP_ARGS(mp_int((int64_t)(uintptr_t)x), mp_lock_arg(x->l[0]),
                mp_lock_arg(x->l[1]), mp_event_arg(e)),
        MP_START_FORK);
    MP_CHECK_OK(mp_event_wait(e, 30000));
    mp_test_kill(p);
    mix_check_dead(x);

    /* And this thread, after all that, still keeps both kinds straight. */
    mix_hold(x);
    pthread_mutex_unlock(&x->m[1]);
    MP_CHECK_OK(mp_lock_release(x->l[1]));
    MP_CHECK_OK(mp_lock_release(x->l[0]));
    for (int k = 0; k < 3; k += 2)
        CU_ASSERT_EQUAL(pthread_mutex_unlock(&x->m[k]), 0);
    for (int k = 0; k < 2; k++)
        MP_CHECK_OK(mp_lock_acquire(x->l[k], 0));
    for (int k = 0; k < 2; k++) {
        MP_CHECK_OK(mp_lock_release(x->l[k]));
        mp_lock_free(x->l[k]);
    }
    for (int k = 0; k < 3; k++)
        pthread_mutex_destroy(&x->m[k]);
    mp_event_free(e);
    munmap(x, sizeof *x);
}
#endif

/* ---- Event ---- */

/* An event starts clear, waits time out until it is set, stays set for every
 * waiter (three children included) until cleared, and NULL events are
 * MP_EINVAL. */
static void test_event(void) {
    mp_event *e;
    MP_CHECK_OK(mp_event_new(&e, NULL));
    CU_ASSERT_EQUAL(mp_event_is_set(e), 0);
    MP_CHECK_RC(mp_event_wait(e, 0), MP_EAGAIN);
    int64_t t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_event_wait(e, 150), MP_ETIMEDOUT);
    check_elapsed(t0, 145, 5000);
    MP_CHECK_OK(mp_event_set(e));
    CU_ASSERT_EQUAL(mp_event_is_set(e), 1);
    MP_CHECK_OK(mp_event_wait(e, 0));
    MP_CHECK_OK(mp_event_wait(e, MP_INFINITE));
    MP_CHECK_OK(mp_event_clear(e));
    CU_ASSERT_EQUAL(mp_event_is_set(e), 0);
    MP_CHECK_RC(mp_event_wait(NULL, 0), MP_EINVAL);
    MP_CHECK_RC(mp_event_new(NULL, NULL), MP_EINVAL);
    mp_process *p[3];
    for (int k = 0; k < 3; k++)
        p[k] = mp_test_start(t_event_wait, MP_ARGS(mp_event_arg(e)),
                             mp_test_method());
    MP_CHECK_OK(mp_event_set(e));
    for (int k = 0; k < 3; k++)
        CU_ASSERT_EQUAL(mp_test_finish(p[k], MP_TEST_CHILD_TIMEOUT_MS), 0);
    MP_CHECK_OK(mp_event_clear(e));
    mp_event_free(e);
}

/* ---- Condition ---- */

static bool value_is(void *arg) {
    void **a = arg;
    return mp_value_get_int(a[0]) == *(int64_t *)a[1];
}

/* wait and notify without the lock are MP_ESTATE, a wait times out after about
 * its timeout with the lock held again, a named condition with a caller's lock
 * is MP_EINVAL, and a condition's own RLock is released at every level while
 * it waits. */
static void test_cond_basic(void) {
    mp_cond *c;
    mp_lock *l;
    MP_CHECK_OK(mp_lock_new(&l, false));
    MP_CHECK_OK(mp_cond_new(&c, l, NULL));
    CU_ASSERT_PTR_EQUAL(mp_cond_lock(c), l);
    MP_CHECK_RC(mp_cond_wait(c, 0), MP_ESTATE);
    MP_CHECK_RC(mp_cond_notify(c, 1), MP_ESTATE);
    MP_CHECK_RC(mp_cond_notify_all(c), MP_ESTATE);
    MP_CHECK_OK(mp_cond_acquire(c, MP_INFINITE));
    int64_t t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_cond_wait(c, 150), MP_ETIMEDOUT);
    check_elapsed(t0, 145, 5000);
    CU_ASSERT_EQUAL(mp_lock_is_owned(l), 1);
    MP_CHECK_RC(mp_cond_wait(c, 0), MP_EAGAIN); /* timeout 0, as everywhere */
    CU_ASSERT_EQUAL(mp_lock_is_owned(l), 1);
    MP_CHECK_OK(mp_cond_notify(c, 0));
    MP_CHECK_RC(mp_cond_notify(c, -1), MP_EINVAL);
    MP_CHECK_OK(mp_cond_release(c));
    mp_cond_free(c);
    mp_lock_free(l);
    MP_CHECK_RC(mp_cond_new(&c, l, &(mp_sync_options){.name = "x"}),
                MP_EINVAL);
    /* Its own lock is an RLock: the wait releases every level. */
    MP_CHECK_OK(mp_cond_new(&c, NULL, NULL));
    CU_ASSERT_EQUAL(mp_lock_is_recursive(mp_cond_lock(c)), 1);
    MP_CHECK_OK(mp_cond_acquire(c, MP_INFINITE));
    MP_CHECK_OK(mp_cond_acquire(c, MP_INFINITE));
    MP_CHECK_RC(mp_cond_wait(c, 20), MP_ETIMEDOUT);
    MP_CHECK_OK(mp_cond_release(c));
    MP_CHECK_OK(mp_cond_release(c));
    MP_CHECK_RC(mp_cond_release(c), MP_ESTATE);
    mp_lock_free(mp_cond_lock(c)); /* owned by c: a no-op */
    mp_cond_free(c);
}

/* CPython's test_notify / test_notify_all with waiting processes. */
static void test_cond_notify(void) {
    mp_cond *c;
    mp_value *sleeping, *woken;
    mp_process *p[3];
    MP_CHECK_OK(mp_cond_new(&c, NULL, NULL));
    MP_CHECK_OK(mp_value_new(&sleeping, MP_TYPE_INT, NULL, NULL));
    MP_CHECK_OK(mp_value_new(&woken, MP_TYPE_INT, NULL, NULL));
    for (int k = 0; k < 3; k++)
        p[k] = mp_test_start(t_cond_waiter,
                             MP_ARGS(mp_cond_arg(c), mp_value_arg(sleeping),
                                     mp_value_arg(woken)),
                             mp_test_method());
    ST_WAIT_UNTIL(mp_value_get_int(sleeping) == 3, 30000);
    /* Counted under the lock: once we hold it, all three wait. */
    MP_CHECK_OK(mp_cond_acquire(c, MP_INFINITE));
    CU_ASSERT_EQUAL(mp_value_get_int(woken), 0);
    MP_CHECK_OK(mp_cond_notify(c, 1));
    MP_CHECK_OK(mp_cond_release(c));
    ST_WAIT_UNTIL(mp_value_get_int(woken) >= 1, 30000);
    /* One notify, one waiter: the other two stay asleep (a Windows
     * waiter re-checks its word every 50 ms; that must not wake it). */
    ST_HOLDS_FOR(mp_value_get_int(woken) == 1, 300);
    MP_CHECK_OK(mp_cond_acquire(c, MP_INFINITE));
    MP_CHECK_OK(mp_cond_notify_all(c));
    MP_CHECK_OK(mp_cond_release(c));
    for (int k = 0; k < 3; k++)
        CU_ASSERT_EQUAL(mp_test_finish(p[k], MP_TEST_CHILD_TIMEOUT_MS), 0);
    CU_ASSERT_EQUAL(mp_value_get_int(woken), 3);
    mp_value_free(sleeping);
    mp_value_free(woken);
    mp_cond_free(c);
}

/* wait_for returns once the predicate holds, MP_ETIMEDOUT or MP_EAGAIN while
 * it does not, MP_EINVAL without a predicate and MP_ESTATE without the lock.
 * */
static void test_cond_wait_for(void) {
    mp_cond *c;
    mp_value *v;
    int64_t want = 1;
    MP_CHECK_OK(mp_cond_new(&c, NULL, NULL));
    MP_CHECK_OK(mp_value_new(&v, MP_TYPE_INT, NULL, NULL));
    void *args[2] = {v, &want};
    MP_CHECK_OK(mp_cond_acquire(c, MP_INFINITE));
    int64_t t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_cond_wait_for(c, value_is, args, 100), MP_ETIMEDOUT);
    check_elapsed(t0, 95, 5000);
    MP_CHECK_RC(mp_cond_wait_for(c, value_is, args, 0), MP_EAGAIN);
    mp_value_set_int(v, 1);
    MP_CHECK_OK(mp_cond_wait_for(c, value_is, args, 0));
    MP_CHECK_RC(mp_cond_wait_for(c, NULL, args, 0), MP_EINVAL);
    MP_CHECK_OK(mp_cond_release(c));
    MP_CHECK_RC(mp_cond_wait_for(c, value_is, args, 0), MP_ESTATE);
    mp_value_free(v);
    mp_cond_free(c);
}

/* A waiter killed while waiting on a condition leaves its lock free and the
 * next waiter is notified as usual. */
static void test_cond_killed_waiter(void) {
    mp_cond *c;
    mp_value *sleeping, *woken;
    MP_CHECK_OK(mp_cond_new(&c, NULL, NULL));
    MP_CHECK_OK(mp_value_new(&sleeping, MP_TYPE_INT, NULL, NULL));
    MP_CHECK_OK(mp_value_new(&woken, MP_TYPE_INT, NULL, NULL));
    mp_process *p = mp_test_start(
        t_cond_wait_forever, MP_ARGS(mp_cond_arg(c), mp_value_arg(sleeping)),
        mp_test_method());
    ST_WAIT_UNTIL(mp_value_get_int(sleeping) == 1, 30000);
    MP_CHECK_OK(mp_cond_acquire(c, MP_INFINITE)); /* it is asleep */
    MP_CHECK_OK(mp_cond_release(c));
    mp_test_kill(p);
    /* A new waiter is notified as usual, and the lock is free. */
    mp_value_set_int(sleeping, 0);
    p = mp_test_start(
        t_cond_waiter,
        MP_ARGS(mp_cond_arg(c), mp_value_arg(sleeping), mp_value_arg(woken)),
        mp_test_method());
    ST_WAIT_UNTIL(mp_value_get_int(sleeping) == 1, 30000);
    MP_CHECK_OK(mp_cond_acquire(c, 10000));
    MP_CHECK_OK(mp_cond_notify(c, 1));
    MP_CHECK_OK(mp_cond_release(c));
    CU_ASSERT_EQUAL(mp_test_finish(p, MP_TEST_CHILD_TIMEOUT_MS), 0);
    mp_value_free(sleeping);
    mp_value_free(woken);
    mp_cond_free(c);
}

/* ---- Barrier ---- */

/* Three children passing a barrier round after round each get every index
 * exactly once, and the barrier never breaks. */
static void test_barrier_rounds(void) {
    enum { PARTIES = 3 };
    mp_barrier *b;
    mp_array *counts;
    MP_CHECK_OK(mp_barrier_new(&b, PARTIES, NULL));
    MP_CHECK_OK(mp_array_new(&counts, MP_TYPE_LONGLONG, PARTIES, NULL, NULL));
    CU_ASSERT_EQUAL(mp_barrier_parties(b), PARTIES);
    CU_ASSERT_EQUAL(mp_barrier_n_waiting(b), 0);
    mp_process *p[PARTIES];
    for (int k = 0; k < PARTIES; k++)
        p[k] = mp_test_start(
            t_barrier_rounds,
            MP_ARGS(mp_barrier_arg(b), mp_array_arg(counts), mp_int(ROUNDS)),
            mp_test_method());
    for (int k = 0; k < PARTIES; k++)
        CU_ASSERT_EQUAL(mp_test_finish(p[k], MP_TEST_CHILD_TIMEOUT_MS), 0);
    /* Each round gave out each index exactly once. */
    for (int k = 0; k < PARTIES; k++)
        CU_ASSERT_EQUAL(mp_array_get_int(counts, (size_t)k), ROUNDS);
    CU_ASSERT_EQUAL(mp_barrier_broken(b), 0);
    mp_array_free(counts);
    mp_barrier_free(b);
}

/* A barrier of no parties is MP_EINVAL and of one never waits; a wait that
 * times out breaks it for the others, abort breaks it for a waiting child, and
 * reset mends it (breaking only the wait in progress). */
static void test_barrier_abort_timeout_reset(void) {
    mp_barrier *b;
    MP_CHECK_RC(mp_barrier_new(&b, 0, NULL), MP_EINVAL);
    MP_CHECK_OK(mp_barrier_new(&b, 1, NULL));
    CU_ASSERT_EQUAL(mp_barrier_wait(b, 0), 0); /* one party: never waits */
    mp_barrier_free(b);
    MP_CHECK_OK(mp_barrier_new(&b, 2, NULL));
    int64_t t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_barrier_wait(b, 100), MP_ETIMEDOUT);
    check_elapsed(t0, 95, 5000);
    CU_ASSERT_EQUAL(mp_barrier_broken(b), 1);
    MP_CHECK_RC(mp_barrier_wait(b, 100), MP_EBROKEN);
    MP_CHECK_OK(mp_barrier_reset(b));
    CU_ASSERT_EQUAL(mp_barrier_broken(b), 0);
    mp_process *p = mp_test_start(
        t_barrier_expect_broken, MP_ARGS(mp_barrier_arg(b)), mp_test_method());
    ST_WAIT_UNTIL(mp_barrier_n_waiting(b) == 1, 30000);
    MP_CHECK_OK(mp_barrier_abort(b));
    CU_ASSERT_EQUAL(mp_test_finish(p, MP_TEST_CHILD_TIMEOUT_MS), 0);
    MP_CHECK_RC(mp_barrier_wait(b, 0), MP_EBROKEN);
    MP_CHECK_OK(mp_barrier_reset(b));
    /* A reset while one waits breaks that wait only. */
    p = mp_test_start(t_barrier_expect_broken, MP_ARGS(mp_barrier_arg(b)),
                      mp_test_method());
    ST_WAIT_UNTIL(mp_barrier_n_waiting(b) == 1, 30000);
    MP_CHECK_OK(mp_barrier_reset(b));
    CU_ASSERT_EQUAL(mp_test_finish(p, MP_TEST_CHILD_TIMEOUT_MS), 0);
    CU_ASSERT_EQUAL(mp_barrier_broken(b), 0);
    mp_barrier_free(b);
    /* A timeout among several waiters: the one whose time ran out gets
     * MP_ETIMEDOUT, the one it broke the barrier for MP_EBROKEN (Python
     * raises BrokenBarrierError in both; the code says which it was). */
    MP_CHECK_OK(mp_barrier_new(&b, 3, NULL));
    p = mp_test_start(t_barrier_expect_broken, MP_ARGS(mp_barrier_arg(b)),
                      MP_START_DEFAULT);
    ST_WAIT_UNTIL(mp_barrier_n_waiting(b) == 1, 30000);
    MP_CHECK_RC(mp_barrier_wait(b, 50), MP_ETIMEDOUT);
    CU_ASSERT_EQUAL(mp_test_finish(p, MP_TEST_CHILD_TIMEOUT_MS), 0);
    CU_ASSERT_EQUAL(mp_barrier_broken(b), 1);
    mp_barrier_free(b);
}

#ifdef MP_STATIC
#include "obj/shobj.h" /* a mutex's memory, to play a writer into it */

/* Waits on the barrier (argument 0) for argument 1 ms; exits with 0 when
 * that timed out. */
static int t_barrier_times_out(mp_call *c) {
    mp_barrier *b = mp_arg_barrier(mp_call_arg(c, 0));
    long ms = (long)mp_arg_int(mp_call_arg(c, 1));
    return mp_barrier_wait(b, ms) == MP_ETIMEDOUT ? 0 : 1;
}

/* A party stopped while it holds the barrier's mutex (SIGSTOP on POSIX)
 * blocks no wait beyond its deadline: timeout 0 is MP_EAGAIN at once, a
 * timeout MP_ETIMEDOUT on time, and those calls, never counted in, leave
 * the barrier whole. A waiter already in whose time runs out while the
 * mutex is held leaves with MP_ETIMEDOUT all the same, and the barrier is
 * broken for the others, as its timeout breaks it when nothing is held. */
static void test_barrier_stopped_holder(void) {
    mp_barrier *b;
    MP_CHECK_OK(mp_barrier_new(&b, 2, NULL));
    mp_test_holder h;
    mp_test_holder_start(&h, mp_barrier_arg(b), MP_OBJ_BARRIER, 0);
    int64_t t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_barrier_wait(b, 0), MP_EAGAIN);
    check_elapsed(t0, 0, 1000);
    t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_barrier_wait(b, 300), MP_ETIMEDOUT);
    check_elapsed(t0, 290, 5000);
    mp_test_holder_end(&h);
    CU_ASSERT_EQUAL(mp_barrier_broken(b), 0);
    CU_ASSERT_EQUAL(mp_barrier_n_waiting(b), 0);
    /* A waiter in, then the mutex held until after its deadline. */
    mp_process *p = mp_test_start(t_barrier_times_out,
                                  MP_ARGS(mp_barrier_arg(b), mp_int(1000)),
                                  MP_START_DEFAULT);
    ST_WAIT_UNTIL(mp_barrier_n_waiting(b) == 1, 30000);
    mp_test_holder_start(&h, mp_barrier_arg(b), MP_OBJ_BARRIER, 0);
    CU_ASSERT_EQUAL(mp_test_finish(p, MP_TEST_CHILD_TIMEOUT_MS), 0);
    mp_test_holder_end(&h);
    CU_ASSERT_EQUAL(mp_barrier_broken(b), 1);
    CU_ASSERT_EQUAL(mp_barrier_n_waiting(b), 0);
    MP_CHECK_OK(mp_barrier_reset(b));
    CU_ASSERT_EQUAL(mp_barrier_broken(b), 0);
    mp_barrier_free(b);
}
#if defined(__linux__) && !defined(MPROC_TEST_PORTABLE)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A held mutex's robust-list entry lives in its mapping (the kernel's ABI
 * wants it there), where another process can rewrite it. Rewritten into a
 * loop, with a wild node offset beside it, it neither loops nor crashes
 * its owner: taking a second mutex, and letting go of both, walk only the
 * owner's private list (they hung in the walk before), and both can be
 * taken again. The queues' producer-side mutexes serve as the mutexes. */
static void test_mutex_links_untrusted(void) {
    mp_queue *q1 = NULL, *q2 = NULL;
    MP_CHECK_OK(mp_queue_new(&q1, 0, NULL));
    MP_CHECK_OK(mp_queue_new(&q2, 0, NULL));
    mp__os_mutex *a = &mp__shobj_prim(q1, 0)->mx;
    mp__os_mutex *b = &mp__shobj_prim(q2, 0)->mx;
    MP_CHECK_OK(mp__os_mutex_lock(a, MP__DL_FOREVER));
    struct robust_list_head *h = NULL;
    size_t len = 0;
    CU_ASSERT_FATAL(syscall(SYS_get_robust_list, 0, &h, &len) == 0 && h);
    char *mem = a->mem;
    struct robust_list *e = (struct robust_list *)(mem - h->futex_offset);
    e->next = e;                               /* a loop */
    ((volatile uint32_t *)mem)[1] = 0x7ffffff; /* a wild node offset */
    MP_CHECK_OK(mp__os_mutex_lock(b, mp__deadline_in(1000)));
    MP_CHECK_OK(mp__os_mutex_unlock(b));
    MP_CHECK_OK(mp__os_mutex_unlock(a));
    MP_CHECK_OK(mp__os_mutex_lock(a, mp__deadline_in(1000)));
    MP_CHECK_OK(mp__os_mutex_lock(b, mp__deadline_in(1000)));
    MP_CHECK_OK(mp__os_mutex_unlock(a));
    MP_CHECK_OK(mp__os_mutex_unlock(b));
    mp_queue_free(q1);
    mp_queue_free(q2);
}
#define LINKS_CASE                                                            \
    {"mutex_links_untrusted", test_mutex_links_untrusted, MP_TEST_ONCE},
#else
#define LINKS_CASE
#endif
#define BARRIER_HOLDER_CASE                                                   \
    {"barrier_stopped_holder", test_barrier_stopped_holder, MP_TEST_ONCE},
#else
#define BARRIER_HOLDER_CASE
#define LINKS_CASE
#endif

/* ---- names and leaks ---- */

/* Named objects are found by name by a spawned child that inherits nothing, a
 * second create with another bound, kind or exclusive flag is MP_EEXIST, and
 * the names go with the last user. */
static void test_named_unrelated(void) {
    char base[64], nm[128];
    int before = mp_test_shm_entries();
    mp_sem *s, *s2;
    mp_lock *l;
    mp_event *e;
    st_name(base, sizeof base, "named");
    snprintf(nm, sizeof nm, "%s-sem", base);
    MP_CHECK_OK(mp_sem_new_ex(&s, 0, 0, &(mp_sync_options){.name = nm}));
    MP_CHECK_RC(
        mp_sem_new_ex(&s2, 0, 0,
                      &(mp_sync_options){.name = nm, .exclusive = true}),
        MP_EEXIST);
    MP_CHECK_RC(mp_sem_new_ex(&s2, 0, 5, &(mp_sync_options){.name = nm}),
                MP_EEXIST); /* another bound */
    MP_CHECK_RC(mp_lock_new_ex(&l, false, &(mp_sync_options){.name = nm}),
                MP_EEXIST); /* another kind */
    snprintf(nm, sizeof nm, "%s-lock", base);
    MP_CHECK_OK(mp_lock_new_ex(&l, false, &(mp_sync_options){.name = nm}));
    snprintf(nm, sizeof nm, "%s-ev", base);
    MP_CHECK_OK(mp_event_new(&e, &(mp_sync_options){.name = nm}));
    MP_CHECK_OK(mp_lock_acquire(l, 0));
    /* Spawned: the child inherits nothing and finds them by name. */
    mp_process *p =
        mp_test_start(t_open_named, MP_ARGS(mp_str(base)), MP_START_SPAWN);
    MP_CHECK_OK(mp_sem_acquire(s, 30000));
    MP_CHECK_OK(mp_event_set(e));
    CU_ASSERT_EQUAL(mp_test_finish(p, MP_TEST_CHILD_TIMEOUT_MS), 0);
    MP_CHECK_OK(mp_lock_release(l));
    mp_sem_free(s);
    mp_lock_free(l);
    mp_event_free(e);
    CU_ASSERT_EQUAL(mp_test_shm_entries(), before);
#ifdef _WIN32
    MP_CHECK_OK(mp_unlink(nm)); /* names go with their last handle */
#else
    MP_CHECK_RC(mp_unlink(nm), MP_ENOENT); /* the last user removed it */
#endif
}

/* mp_unlink removes a name at once while the object stays usable by those who
 * have it open, and a bad or NULL name is MP_EINVAL. */
static void test_named_stale(void) {
    char nm[64];
    mp_sem *s;
    int before = mp_test_shm_entries();
    st_name(nm, sizeof nm, "stale");
    MP_CHECK_OK(mp_sem_new_ex(&s, 1, 0, &(mp_sync_options){.name = nm}));
    /* As if every user had been killed: mp_unlink removes the name; the
     * object stays usable by those who have it open. */
    MP_CHECK_OK(mp_unlink(nm));
    CU_ASSERT_EQUAL(mp_test_shm_entries(), before);
    MP_CHECK_OK(mp_sem_acquire(s, 0));
    mp_sem_free(s);
    MP_CHECK_RC(mp_unlink("bad/name"), MP_EINVAL);
    MP_CHECK_RC(mp_unlink(NULL), MP_EINVAL);
}

/* Every process using a set of objects is killed: nothing remains. */
static void test_no_leak_after_kill(void) {
    int before = mp_test_shm_entries();
    int fds = mp_test_count_fds();
    mp_event *ready;
    MP_CHECK_OK(mp_event_new(&ready, NULL));
    mp_process *p = mp_test_start(t_make_and_die, MP_ARGS(mp_event_arg(ready)),
                                  mp_test_method());
    MP_CHECK_OK(mp_event_wait(ready, 30000));
    mp_test_kill(p);
    mp_event_free(ready);
    CU_ASSERT_EQUAL(mp_test_shm_entries(), before);
    CU_ASSERT_EQUAL(mp_test_count_fds(), fds);
}

/* Making and freeing every kind of synchronisation object twenty times leaves
 * the descriptor or handle count where it was. */
static void test_no_fd_leak(void) {
    int fds = mp_test_count_fds();
    mp_sem *s;
    mp_lock *l;
    mp_event *e;
    mp_cond *c;
    mp_barrier *b;
    for (int k = 0; k < 20; k++) {
        MP_CHECK_OK(mp_sem_new(&s, 1, 1));
        MP_CHECK_OK(mp_lock_new(&l, k & 1));
        MP_CHECK_OK(mp_event_new(&e, NULL));
        MP_CHECK_OK(mp_cond_new(&c, l, NULL));
        MP_CHECK_OK(mp_barrier_new(&b, 2, NULL));
        mp_barrier_free(b);
        mp_cond_free(c);
        mp_event_free(e);
        mp_lock_free(l);
        mp_sem_free(s);
    }
    CU_ASSERT_EQUAL(mp_test_count_fds(), fds);
}

/* ---- a dead owner's thread id given to a new thread ---- */

#ifdef _WIN32
#include <windows.h>
typedef HANDLE reuse_thread;
#define REUSE_FN(name) static DWORD WINAPI name(LPVOID arg)
#define REUSE_RET return 0
static uint64_t os_thread_id(void) { return GetCurrentThreadId(); }
static int reuse_run(DWORD(WINAPI *fn)(LPVOID), void *arg) {
    HANDLE t = CreateThread(NULL, 0, fn, arg, 0, NULL);
    if (!t)
        return -1;
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t); /* the id is free for reuse once no handle names it */
    return 0;
}
/* Wine gave a dead thread's id back within ~500 creations; Windows
 * similarly within hundreds. */
#define REUSE_TRIES 5000
#else
#include <sys/syscall.h>
#include <unistd.h>
#define REUSE_FN(name) static void *name(void *arg)
#define REUSE_RET return NULL
static uint64_t os_thread_id(void) { return (uint64_t)syscall(SYS_gettid); }
static int reuse_run(void *(*fn)(void *), void *arg) {
    pthread_t t;
    if (pthread_create(&t, NULL, fn, arg) != 0)
        return -1;
    return pthread_join(t, NULL);
}
/* Linux hands a tid out again only after pid_max creations: the checks
 * below then run in a thread with another tid (no reuse to wait for). */
#define REUSE_TRIES 1
#endif

typedef struct reuse_ctx {
    mp_lock *l;
    uint64_t dead_id; /* the OS id of the thread that died holding l */
    bool hit;         /* a probe ran with that id (or, on POSIX, any) */
    int acquire, owned, release;
} reuse_ctx;

REUSE_FN(reuse_holder) {
    reuse_ctx *x = arg;
    x->dead_id = os_thread_id();
    x->acquire = mp_lock_acquire(x->l, 0);
    REUSE_RET; /* ends holding the lock */
}

REUSE_FN(reuse_probe) {
    reuse_ctx *x = arg;
#ifdef _WIN32
    if (os_thread_id() != x->dead_id)
        REUSE_RET;
#endif
    x->hit = true;
    x->acquire = mp_lock_acquire(x->l, 0);
    x->owned = mp_lock_is_owned(x->l);
    x->release = mp_lock_release(x->l);
    REUSE_RET;
}

/* A thread that takes a Lock or RLock and dies holding it; then threads
 * are made until one has the dead one's OS id. That one must take the lock
 * as any other thread would (MP_EOWNERDEAD), not find it "already held"
 * (a Lock: MP_ESTATE) or take it again as the owner (an RLock, which the
 * next taker would then also get: two holders). */
static void test_lock_thread_id_reused(void) {
    for (int rec = 0; rec < 2; rec++) {
        reuse_ctx x = {0};
        MP_CHECK_OK(mp_lock_new(&x.l, rec));
        CU_ASSERT_EQUAL_FATAL(reuse_run(reuse_holder, &x), 0);
        MP_CHECK_OK(x.acquire);
        x.acquire = -1;
        for (int i = 0; i < REUSE_TRIES && !x.hit; i++)
            CU_ASSERT_EQUAL_FATAL(reuse_run(reuse_probe, &x), 0);
        CU_ASSERT_FATAL(x.hit);
        MP_CHECK_RC(x.acquire, MP_EOWNERDEAD);
        CU_ASSERT_EQUAL(x.owned, 1);
        MP_CHECK_OK(x.release);
        /* Released by its one holder: free, and reported dead only once. */
        CU_ASSERT_EQUAL(mp_lock_is_owned(x.l), 0);
        MP_CHECK_OK(mp_lock_acquire(x.l, 0));
        MP_CHECK_OK(mp_lock_release(x.l));
        mp_lock_free(x.l);
    }
}

#ifndef _WIN32
#define ROBUST_MIX_CASE                                                       \
    {"lock_robust_mix", test_lock_robust_mix, MP_TEST_ONCE},
#else
#define ROBUST_MIX_CASE
#endif

void mp_test_suite_sync(void) {
    const mp_test_runs once = MP_TEST_ONCE, each = MP_TEST_PER_METHOD;
    MP_TEST_SUITE(
        "sync", {"sem_values", test_sem_values, once},
        {"sem_timeout", test_sem_timeout, once},
        {"sem_bounded", test_sem_bounded, once},
        {"sem_bad_input", test_sem_bad_input, once},
        {"sem_children", test_sem_children, each},
        {"sem_pingpong", test_sem_pingpong, each},
        {"sem_killed_waiter", test_sem_killed_waiter, each},
        {"lock", test_lock, once}, {"rlock", test_rlock, once},
        {"lock_foreign", test_lock_foreign, each},
        {"lock_increments", test_lock_increments, each},
        {"lock_owner_dead", test_lock_owner_dead, each},
        {"lock_owner_dead_many", test_lock_owner_dead_many, each},
        {"lock_freed_held", test_lock_freed_held, each},
        {"lock_free_other_handle", test_lock_free_other_handle, once},
        ROBUST_MIX_CASE{"event", test_event, each},
        {"cond_basic", test_cond_basic, once},
        {"cond_notify", test_cond_notify, each},
        {"cond_wait_for", test_cond_wait_for, once},
        {"cond_killed_waiter", test_cond_killed_waiter, each},
        {"barrier_rounds", test_barrier_rounds, each},
        {"barrier_abort_timeout_reset", test_barrier_abort_timeout_reset,
         each},
        BARRIER_HOLDER_CASE LINKS_CASE{"named_unrelated", test_named_unrelated,
                                       once},
        {"named_stale", test_named_stale, once},
        {"no_leak_after_kill", test_no_leak_after_kill, each},
        {"no_fd_leak", test_no_fd_leak, once},
        {"lock_thread_id_reused", test_lock_thread_id_reused, once});
}
