/* Value and Array: every type code, get/set and typed helpers, locks, raw
 * objects, zeroed arrays, index checks, the atomic add, the tutorial's
 * child-writes-parent-reads, and names; cases that start children run once per
 * start method. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* memfd seals */
#endif
#include <stdlib.h>

#include "synctest.h"

#ifdef _WIN32
#define ADDS 20000
#else
#define ADDS 100000
#endif

static const mp_type all_types[] = {'c', 'b', 'B', 'h', 'H', 'i', 'I',
                                    'l', 'L', 'q', 'Q', 'f', 'd'};
#define NTYPES (sizeof all_types / sizeof all_types[0])

/* ---- targets ---- */

/* The tutorial: the child writes a Value and an Array. */
static int t_write(mp_call *c) {
    mp_value *v = mp_arg_value(mp_call_arg(c, 0));
    mp_array *a = mp_arg_array(mp_call_arg(c, 1));
    if (!v || !a || mp_array_len(a) != 5)
        return 1;
    mp_value_set_double(v, 3.1415927);
    for (size_t i = 0; i < mp_array_len(a); i++)
        mp_array_set_int(a, i, -mp_array_get_int(a, i));
    return 0;
}

static int t_add(mp_call *c) {
    mp_value *v = mp_arg_value(mp_call_arg(c, 0));
    int64_t n = mp_arg_int(mp_call_arg(c, 1));
    for (int64_t i = 0; i < n; i++)
        if (mp_value_add(v, 1, NULL))
            return 1;
    return 0;
}

/* Locked increments through the Value's own lock. */
static int t_locked_add(mp_call *c) {
    mp_value *v = mp_arg_value(mp_call_arg(c, 0));
    int64_t n = mp_arg_int(mp_call_arg(c, 1));
    mp_lock *l = mp_value_lock(v);
    if (!l)
        return 1;
    for (int64_t i = 0; i < n; i++) {
        mp_lock_acquire(l, MP_INFINITE);
        int *p = mp_value_ptr(v);
        *p = *p + 1;
        mp_lock_release(l);
    }
    return 0;
}

/* Under the lock a Value and an Array share (the caller's), adds 1 to the
 * value and to a[0]: the two stay equal only if it is one lock. */
static int t_shared_lock_add(mp_call *c) {
    mp_value *v = mp_arg_value(mp_call_arg(c, 0));
    mp_array *a = mp_arg_array(mp_call_arg(c, 1));
    int64_t n = mp_arg_int(mp_call_arg(c, 2));
    if (!v || !a || !mp_value_lock(v) || !mp_array_lock(a))
        return 1;
    for (int64_t i = 0; i < n; i++) {
        /* Alternate which object's lock is taken: the same lock. */
        mp_lock *l = i % 2 ? mp_value_lock(v) : mp_array_lock(a);
        if (mp_lock_acquire(l, MP_INFINITE))
            return 2;
        int *pv = mp_value_ptr(v), *pa = mp_array_data(a);
        if (*pv != pa[0]) {
            mp_lock_release(l);
            return 3;
        }
        *pv = *pv + 1;
        pa[0] = pa[0] + 1;
        mp_lock_release(l);
    }
    return 0;
}

/* Takes a Value's lock, stores 77 under it, says so, and waits to be
 * killed while holding it (or gives up after 10 s). */
static int t_hold_value(mp_call *c) {
    mp_value *v = mp_arg_value(mp_call_arg(c, 0));
    mp_event *e = mp_arg_event(mp_call_arg(c, 1));
    if (mp_lock_acquire(mp_value_lock(v), MP_INFINITE))
        return 1;
    mp_value_set_int(v, 77);
    mp_event_set(e);
    for (int i = 0; i < 100; i++) /* bounded: 10 s */
        mp_test_sleep_ms(100);
    return 99;
}

static int t_open_named(mp_call *c) {
    const char *name = mp_arg_str(mp_call_arg(c, 0));
    mp_array *a;
    if (mp_array_new(&a, 'i', 4, NULL, &(mp_shared_options){.name = name}))
        return 1;
    int rc = mp_array_get_int(a, 3) == 42 ? 0 : 2;
    mp_array_set_int(a, 0, 7);
    mp_array_free(a);
    return rc;
}

/* ---- tests ---- */

/* A Value of every type code starts at zero, converts between int and double
 * on get and set, has a lock unless raw, and a raw one starts from the C
 * object given. */
static void test_value_types(void) {
    for (size_t k = 0; k < NTYPES; k++) {
        mp_type t = all_types[k];
        unsigned char init[8] = {0}, out[8] = {0};
        mp_value *v;
        size_t sz = mp_type_size(t);
        CU_ASSERT(sz >= 1 && sz <= 8);
        MP_CHECK_OK(mp_value_new(&v, t, NULL, NULL));
        CU_ASSERT_EQUAL(mp_value_type(v), t);
        CU_ASSERT_EQUAL(mp_value_get_int(v), 0);
        MP_CHECK_OK(mp_value_set_int(v, 100));
        CU_ASSERT_EQUAL(mp_value_get_int(v), 100);
        CU_ASSERT_EQUAL(mp_value_get_double(v), 100.0);
        MP_CHECK_OK(mp_value_set_double(v, 7.0));
        CU_ASSERT_EQUAL(mp_value_get_int(v), 7);
        MP_CHECK_OK(mp_value_get(v, out));
        CU_ASSERT_PTR_NOT_NULL(mp_value_lock(v));
        mp_value_free(v);
        /* Raw, and initialised from a C object of the type. */
        MP_CHECK_RC(mp_value_set_int(NULL, 1), MP_EINVAL);
        memcpy(init, out, sz);
        MP_CHECK_OK(
            mp_value_new(&v, t, init, &(mp_shared_options){.raw = true}));
        CU_ASSERT_PTR_NULL(mp_value_lock(v));
        CU_ASSERT_EQUAL(mp_value_get_int(v), 7);
        CU_ASSERT_EQUAL(memcmp(mp_value_ptr(v), init, sz), 0);
        mp_value_free(v);
    }
}

/* A double Value keeps its bytes, integer adds wrap as the C type does and are
 * refused on floating types, the lock is recursive and owned by the Value, and
 * bad type codes or NULL objects are MP_EINVAL. */
static void test_value_specifics(void) {
    mp_value *v;
    double d = 2.5, dout = 0;
    MP_CHECK_OK(mp_value_new(&v, MP_TYPE_DOUBLE, &d, NULL));
    MP_CHECK_OK(mp_value_get(v, &dout));
    CU_ASSERT_EQUAL(dout, 2.5);
    d = -1.25;
    MP_CHECK_OK(mp_value_set(v, &d));
    CU_ASSERT_EQUAL(mp_value_get_double(v), -1.25);
    MP_CHECK_RC(mp_value_add(v, 1, NULL), MP_EINVAL); /* not an integer */
    mp_value_free(v);
    /* Wrapping as the C type does. */
    unsigned char b = 255;
    int64_t old = 0;
    MP_CHECK_OK(mp_value_new(&v, MP_TYPE_UBYTE, &b, NULL));
    MP_CHECK_OK(mp_value_add(v, 1, &old));
    CU_ASSERT_EQUAL(old, 255);
    CU_ASSERT_EQUAL(mp_value_get_int(v), 0);
    mp_value_free(v);
    MP_CHECK_OK(mp_value_new(&v, MP_TYPE_INT, NULL, NULL));
    MP_CHECK_OK(mp_value_add(v, -5, &old));
    CU_ASSERT_EQUAL(mp_value_get_int(v), -5);
    /* The lock is an RLock, as Python's get_lock(). */
    mp_lock *l = mp_value_lock(v);
    CU_ASSERT_EQUAL(mp_lock_is_recursive(l), 1);
    MP_CHECK_OK(mp_lock_acquire(l, 0));
    MP_CHECK_OK(mp_lock_acquire(l, 0));
    MP_CHECK_OK(mp_lock_release(l));
    MP_CHECK_OK(mp_lock_release(l));
    mp_lock_free(l); /* owned by v: no-op */
    mp_value_free(v);
    /* Bad input. */
    MP_CHECK_RC(mp_value_new(&v, (mp_type)'x', NULL, NULL), MP_EINVAL);
    CU_ASSERT_PTR_NULL(v);
    MP_CHECK_RC(mp_value_new(NULL, 'i', NULL, NULL), MP_EINVAL);
    MP_CHECK_RC(mp_value_get(NULL, &d), MP_EINVAL);
    MP_CHECK_RC(mp_value_add(NULL, 1, NULL), MP_EINVAL);
    CU_ASSERT_PTR_NULL(mp_value_ptr(NULL));
    CU_ASSERT_PTR_NULL(mp_value_lock(NULL));
    CU_ASSERT_EQUAL(mp_type_size((mp_type)'z'), 0);
    mp_value_free(NULL);
}

/* A locked Value keeps its number beside its lock's state: every bit of
 * the number may change without disturbing the lock, and the reverse. The
 * 8-byte integer types take mp_value_add's short path. */
static void test_value_beside_lock(void) {
    const mp_type t8[] = {MP_TYPE_LONGLONG, MP_TYPE_ULONGLONG, MP_TYPE_LONG,
                          MP_TYPE_ULONG};
    for (size_t k = 0; k < sizeof t8 / sizeof t8[0]; k++) {
        mp_value *v;
        long long all = -1;
        int64_t old = 0;
        if (mp_type_size(t8[k]) != 8)
            continue; /* long is 4 bytes on Windows */
        MP_CHECK_OK(mp_value_new(&v, t8[k], &all, NULL));
        mp_lock *l = mp_value_lock(v);
        MP_CHECK_OK(mp_lock_acquire(l, 0));
        MP_CHECK_OK(mp_lock_acquire(l, 0));
        CU_ASSERT_EQUAL(mp_value_get_int(v), -1);
        MP_CHECK_OK(mp_value_add(v, 1, &old));
        CU_ASSERT_EQUAL(old, -1);
        MP_CHECK_OK(mp_value_add(v, INT64_MIN, &old));
        CU_ASSERT_EQUAL(old, 0);
        CU_ASSERT_EQUAL(mp_value_get_int(v), INT64_MIN);
#ifndef __STDC_NO_ATOMICS__
        CU_ASSERT_EQUAL(mp_atomic_add64(mp_value_ptr(v), -1), INT64_MIN);
        CU_ASSERT_EQUAL(mp_value_get_int(v), INT64_MAX);
        MP_CHECK_OK(mp_value_add(v, 1, NULL));
#endif
        MP_CHECK_OK(mp_lock_release(l));
        MP_CHECK_OK(mp_lock_release(l));
        MP_CHECK_RC(mp_lock_release(l), MP_ESTATE);
        CU_ASSERT_EQUAL(mp_lock_is_owned(l), 0);
        CU_ASSERT_EQUAL(mp_value_get_int(v), INT64_MIN);
        mp_value_free(v);
    }
}

/* A process killed while it holds a Value's lock: the next taker hears of
 * it once, and the number it stored is still there. */
static void test_value_lock_owner_dead(void) {
    mp_value *v;
    mp_event *e;
    MP_CHECK_OK(mp_value_new(&v, MP_TYPE_LONGLONG, NULL, NULL));
    MP_CHECK_OK(mp_event_new(&e, NULL));
    mp_lock *l = mp_value_lock(v);
    mp_process *p =
        mp_test_start(t_hold_value, MP_ARGS(mp_value_arg(v), mp_event_arg(e)),
                      mp_test_method());
    MP_CHECK_OK(mp_event_wait(e, 30000));
    MP_CHECK_RC(mp_lock_acquire(l, 0), MP_EAGAIN);
    mp_test_kill(p);
    MP_CHECK_RC(mp_lock_acquire(l, 10000), MP_EOWNERDEAD);
    CU_ASSERT_EQUAL(mp_value_get_int(v), 77);
    CU_ASSERT_EQUAL(mp_lock_is_owned(l), 1);
    MP_CHECK_OK(mp_lock_release(l));
    MP_CHECK_OK(mp_lock_acquire(l, 0));
    MP_CHECK_OK(mp_lock_release(l));
    mp_event_free(e);
    mp_value_free(v);
}

/* An Array of every type code starts zeroed, reads and writes by index with
 * out-of-range indices refused, a raw one starts from the data given, and zero
 * or overflowing lengths are MP_EINVAL. */
static void test_array(void) {
    for (size_t k = 0; k < NTYPES; k++) {
        mp_array *a;
        MP_CHECK_OK(mp_array_new(&a, all_types[k], 10, NULL, NULL));
        CU_ASSERT_EQUAL(mp_array_len(a), 10);
        CU_ASSERT_EQUAL(mp_array_type(a), all_types[k]);
        for (size_t i = 0; i < 10; i++)
            CU_ASSERT_EQUAL(mp_array_get_int(a, i), 0); /* zeroed */
        for (size_t i = 0; i < 10; i++)
            MP_CHECK_OK(mp_array_set_int(a, i, (int64_t)i * 3));
        CU_ASSERT_EQUAL(mp_array_get_int(a, 9), 27);
        CU_ASSERT_EQUAL(mp_array_get_double(a, 4), 12.0);
        MP_CHECK_RC(mp_array_set_int(a, 10, 1), MP_EINVAL);
        MP_CHECK_RC(mp_array_set_double(a, 10, 1), MP_EINVAL);
        unsigned char buf[8];
        MP_CHECK_RC(mp_array_get(a, 10, buf), MP_EINVAL);
        MP_CHECK_RC(mp_array_set(a, (size_t)-1, buf), MP_EINVAL);
        MP_CHECK_OK(mp_array_get(a, 1, buf));
        MP_CHECK_OK(mp_array_set(a, 2, buf));
        CU_ASSERT_EQUAL(mp_array_get_int(a, 2), 3);
        mp_array_free(a);
    }
    int init[4] = {1, -2, 3, -4};
    mp_array *a;
    MP_CHECK_OK(mp_array_new(&a, MP_TYPE_INT, 4, init,
                             &(mp_shared_options){.raw = true}));
    CU_ASSERT_PTR_NULL(mp_array_lock(a));
    CU_ASSERT_EQUAL(memcmp(mp_array_data(a), init, sizeof init), 0);
    mp_array_free(a);
    MP_CHECK_RC(mp_array_new(&a, MP_TYPE_INT, 0, NULL, NULL), MP_EINVAL);
    MP_CHECK_RC(mp_array_new(&a, MP_TYPE_INT, SIZE_MAX / 2, NULL, NULL),
                MP_EINVAL);
    CU_ASSERT_EQUAL(mp_array_len(NULL), 0);
    CU_ASSERT_PTR_NULL(mp_array_data(NULL));
    mp_array_free(NULL);
}

/* The tutorial's case: what a child writes to a shared Value and Array is what
 * the parent reads after joining it. */
static void test_child_writes(void) {
    mp_value *v;
    mp_array *a;
    int init[5] = {0, 1, 2, 3, 4};
    MP_CHECK_OK(mp_value_new(&v, MP_TYPE_DOUBLE, NULL, NULL));
    MP_CHECK_OK(mp_array_new(&a, MP_TYPE_INT, 5, init, NULL));
    CU_ASSERT_EQUAL(
        mp_test_finish(mp_test_start(t_write,
                                     MP_ARGS(mp_value_arg(v), mp_array_arg(a)),
                                     mp_test_method()),
                       MP_TEST_CHILD_TIMEOUT_MS),
        0);
    CU_ASSERT_EQUAL(mp_value_get_double(v), 3.1415927);
    for (size_t k = 0; k < 5; k++)
        CU_ASSERT_EQUAL(mp_array_get_int(a, k), -(int64_t)k);
    mp_value_free(v);
    mp_array_free(a);
}

static void run_adds(mp_target fn, int nproc, mp_start_method m,
                     const mp_shared_options *o) {
    mp_value *v;
    mp_process *p[4];
    MP_CHECK_OK(mp_value_new(&v, MP_TYPE_INT, NULL, o));
    for (int k = 0; k < nproc; k++)
        p[k] = mp_test_start(fn, MP_ARGS(mp_value_arg(v), mp_int(ADDS)), m);
    for (int k = 0; k < nproc; k++)
        CU_ASSERT_EQUAL(mp_test_finish(p[k], MP_TEST_CHILD_TIMEOUT_MS), 0);
    CU_ASSERT_EQUAL(mp_value_get_int(v), (int64_t)nproc * ADDS);
    mp_value_free(v);
}

/* Raw (lock-free) adds from two and from four children at once lose no
 * increment. */
static void test_atomic_add(void) {
    mp_shared_options raw = {.raw = true};
    run_adds(t_add, 2, mp_test_method(), &raw);
    run_adds(t_add, 4, mp_test_method(), &raw);
}

/* Increments made under a Value's lock by two and by four children at once
 * lose none. */
static void test_locked_add(void) {
    run_adds(t_locked_add, 2, mp_test_method(), NULL);
    run_adds(t_locked_add, 4, mp_test_method(), NULL);
}

/* A named Array is opened again by the same name (type and length must agree,
 * else MP_EEXIST), shared with a spawned child, and leaves no name or
 * descriptor once freed. */
static void test_named(void) {
    char nm[64];
    mp_array *a, *b, *c;
    mp_value *v;
    /* A first named object lets the system load what it keeps (Windows
     * opens its security libraries' handles once). */
    st_name(nm, sizeof nm, "warm");
    MP_CHECK_OK(mp_value_new(&v, 'i', NULL, &(mp_shared_options){.name = nm}));
    mp_value_free(v);
    int before = mp_test_shm_entries();
    mp_test_fdset *fds = mp_test_fds_take();
    st_name(nm, sizeof nm, "arr");
    MP_CHECK_OK(
        mp_array_new(&a, 'i', 4, NULL, &(mp_shared_options){.name = nm}));
    mp_array_set_int(a, 3, 42);
    /* The same name opens the same memory (type and length must agree). */
    MP_CHECK_OK(
        mp_array_new(&b, 'i', 4, NULL, &(mp_shared_options){.name = nm}));
    CU_ASSERT_EQUAL(mp_array_get_int(b, 3), 42);
    MP_CHECK_RC(
        mp_array_new(&c, 'i', 5, NULL, &(mp_shared_options){.name = nm}),
        MP_EEXIST);
    MP_CHECK_RC(mp_value_new(&v, 'i', NULL, &(mp_shared_options){.name = nm}),
                MP_EEXIST);
    CU_ASSERT_EQUAL(
        mp_test_finish(
            mp_test_start(t_open_named, MP_ARGS(mp_str(nm)), MP_START_SPAWN),
            MP_TEST_CHILD_TIMEOUT_MS),
        0);
    CU_ASSERT_EQUAL(mp_array_get_int(a, 0), 7);
    mp_array_free(b);
    mp_array_free(a);
    CU_ASSERT_EQUAL(mp_test_shm_entries(), before);
    CU_ASSERT_EQUAL(mp_test_fds_check(fds), 0);
}

/* Python's Value(..., lock=L): a Value and an Array made with the caller's
 * lock use it (in children too); a named or raw object, or another
 * object's lock, is refused. */
static void test_shared_lock(void) {
    mp_lock *l = NULL;
    MP_CHECK_OK(mp_lock_new(&l, false));
    mp_shared_options o = {.lock = l};
    mp_value *v = NULL;
    mp_array *a = NULL;
    MP_CHECK_OK(mp_value_new(&v, MP_TYPE_INT, NULL, &o));
    MP_CHECK_OK(mp_array_new(&a, MP_TYPE_INT, 3, NULL, &o));
    CU_ASSERT_PTR_EQUAL(mp_value_lock(v), l);
    CU_ASSERT_PTR_EQUAL(mp_array_lock(a), l);
    mp_process *p[2];
    for (int k = 0; k < 2; k++)
        p[k] = mp_test_start(
            t_shared_lock_add,
            MP_ARGS(mp_value_arg(v), mp_array_arg(a), mp_int(ADDS / 10)),
            mp_test_method());
    for (int k = 0; k < 2; k++)
        CU_ASSERT_EQUAL(mp_test_finish(p[k], MP_TEST_CHILD_TIMEOUT_MS), 0);
    CU_ASSERT_EQUAL(mp_value_get_int(v), 2 * (ADDS / 10));
    CU_ASSERT_EQUAL(mp_array_get_int(a, 0), 2 * (ADDS / 10));
    /* The lock is the caller's: freeing the objects leaves it. */
    mp_value_free(v);
    mp_array_free(a);
    MP_CHECK_OK(mp_lock_acquire(l, 0));
    MP_CHECK_OK(mp_lock_release(l));
    mp_lock_free(l);
    /* Refused: a lock with a raw or named object, another object's lock. */
    l = NULL;
    v = NULL;
    mp_value *own = NULL;
    MP_CHECK_OK(mp_lock_new(&l, true));
    MP_CHECK_RC(mp_value_new(&v, MP_TYPE_INT, NULL,
                             &(mp_shared_options){.lock = l, .raw = true}),
                MP_EINVAL);
    MP_CHECK_RC(
        mp_value_new(&v, MP_TYPE_INT, NULL,
                     &(mp_shared_options){.lock = l, .name = "mp-t-shlock"}),
        MP_EINVAL);
    MP_CHECK_OK(mp_value_new(&own, MP_TYPE_INT, NULL, NULL));
    MP_CHECK_RC(mp_value_new(&v, MP_TYPE_INT, NULL,
                             &(mp_shared_options){.lock = mp_value_lock(own)}),
                MP_EINVAL);
    CU_ASSERT_PTR_NULL(v);
    mp_value_free(own);
    mp_lock_free(l);
}

#if defined(MP_STATIC) && defined(__linux__) && !defined(MPROC_TEST_PORTABLE)
#include <fcntl.h>
#include <unistd.h>

#include "obj/shobj.h" /* the mapping's descriptor */

/* An anonymous object's memfd is sealed: whoever holds it (a child it was
 * passed to included) can neither shrink nor grow it, so nobody can make
 * its other users fault; the value still works. */
static void test_anon_sealed(void) {
    mp_array *a = NULL;
    MP_CHECK_OK(mp_array_new(&a, 'i', 1024, NULL, NULL));
    int fd = (int)((mp__shobj *)a)->shm.h;
    int seals = fcntl(fd, F_GET_SEALS);
    CU_ASSERT(seals >= 0 && (seals & F_SEAL_SHRINK) && (seals & F_SEAL_GROW) &&
              (seals & F_SEAL_SEAL));
    CU_ASSERT_EQUAL(ftruncate(fd, 0), -1);
    CU_ASSERT_EQUAL(ftruncate(fd, 1 << 30), -1);
    int32_t x = 7;
    MP_CHECK_OK(mp_array_set(a, 1023, &x));
    CU_ASSERT_EQUAL(mp_array_get_int(a, 1023), 7);
    mp_array_free(a);
}
#define SEALED_CASE {"anon_sealed", test_anon_sealed, MP_TEST_ONCE},
#else
#define SEALED_CASE
#endif

void mp_test_suite_shared(void) {
    const mp_test_runs once = MP_TEST_ONCE, each = MP_TEST_PER_METHOD;
    MP_TEST_SUITE(
        "shared", {"value_types", test_value_types, once},
        {"value_specifics", test_value_specifics, once},
        {"value_beside_lock", test_value_beside_lock, once},
        {"value_lock_owner_dead", test_value_lock_owner_dead, each},
        {"array", test_array, once}, {"child_writes", test_child_writes, each},
        {"atomic_add", test_atomic_add, each},
        {"locked_add", test_locked_add, each}, {"named", test_named, once},
        SEALED_CASE{"shared_lock", test_shared_lock, each});
}
