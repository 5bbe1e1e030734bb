/* Values (mproc/value.h): building and reading every kind, Python's key
 * and equality rules, copies and ownership; pickles written by mp_val_dumps
 * read back (protocols 4 and 5, up to 100 MB); pickles as CPython 3.6 to
 * 3.13 write them (protocols 2 to 5); hostile pickles refused with the
 * documented code and nothing run; and values through pipes, queues, pool
 * tasks and process arguments, once per start method. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define BIG_TIMEOUT 60000L
#define LEN(lit) (sizeof(lit) - 1)

/* ---- helpers ---- */

/* mp_val_loads of a string literal (its terminating NUL not included). */
static int loads_lit(mp_val **out, const char *p, size_t n) {
    return mp_val_loads(out, p, n, NULL);
}
#define LOADS(out, lit) loads_lit((out), (lit), LEN(lit))
#define LOADS_LIM(out, lit, lim) mp_val_loads((out), (lit), LEN(lit), (lim))

/* Asserts that the literal pickle is refused with `code`, and *out NULL
 * (it starts as a pointer no tree has, which is never freed). */
#define REFUSED(lit, code)                                                    \
    do {                                                                      \
        mp_val *r_ = (mp_val *)&r_;                                           \
        MP_CHECK_RC(LOADS(&r_, lit), (code));                                 \
        CU_ASSERT_PTR_NULL(r_);                                               \
        if (r_ != (mp_val *)&r_)                                              \
            mp_val_free(r_);                                                  \
    } while (0)

/* dumps then loads, asserting both succeed; the new tree or NULL. */
static mp_val *round_trip(const mp_val *v, int protocol) {
    mp_buf b = {0};
    mp_val *out = NULL;
    MP_CHECK_OK(mp_val_dumps(v, protocol, &b));
    MP_CHECK_OK(mp_val_loads(&out, b.data, b.len, NULL));
    mp_buf_free(&b);
    return out;
}

static int64_t int_of(const mp_val *v) {
    int64_t i = -999;
    CU_ASSERT_EQUAL(mp_val_to_int(v, &i), 0);
    return i;
}

static bool str_is(const mp_val *v, const char *s) {
    size_t n = 0;
    const char *p = mp_val_to_str(v, &n);
    return p && n == strlen(s) && memcmp(p, s, n) == 0;
}

static bool bytes_are(const mp_val *v, const void *s, size_t len) {
    size_t n = 0;
    const void *p = mp_val_to_bytes(v, &n);
    return p && n == len && (len == 0 || memcmp(p, s, n) == 0);
}

/* A new tree of a scalar kind, set by the caller's setter. */
static mp_val *new_int(int64_t i) {
    mp_val *v = mp_val_new(MP_VAL_INT);
    MP_CHECK_OK(mp_val_set_int(v, i));
    return v;
}
static mp_val *new_float(double f) {
    mp_val *v = mp_val_new(MP_VAL_FLOAT);
    MP_CHECK_OK(mp_val_set_float(v, f));
    return v;
}
static mp_val *new_bool(bool b) {
    mp_val *v = mp_val_new(MP_VAL_BOOL);
    MP_CHECK_OK(mp_val_set_bool(v, b));
    return v;
}
static mp_val *new_str(const char *s) {
    mp_val *v = mp_val_new(MP_VAL_STR);
    MP_CHECK_OK(mp_val_set_str(v, s));
    return v;
}

/* A tree with every kind, nested: what the transports carry. Children
 * build it too, so it reports failure (NULL) instead of asserting. */
static mp_val *sample(void) {
    mp_val *d = mp_val_new(MP_VAL_DICT);
    mp_val *one = mp_val_new(MP_VAL_INT), *two = mp_val_new(MP_VAL_STR);
    int rc = !d || !one || !two ? MP_ENOMEM : 0;
    rc = rc ? rc : mp_val_put_none(d, "none");
    rc = rc ? rc : mp_val_put_bool(d, "yes", true);
    rc = rc ? rc : mp_val_put_int(d, "int", -1234567890123LL);
    rc = rc ? rc : mp_val_put_float(d, "pi", 3.25);
    rc = rc ? rc : mp_val_put_str(d, "str", "h\xc3\xa9llo \xf0\x9f\x98\x80");
    rc = rc ? rc : mp_val_put_bytes(d, "bytes", "\x00\x01\xff", 3);
    mp_val *l = rc ? NULL : mp_val_put(d, "list");
    rc = rc ? rc : mp_val_set_empty(l, MP_VAL_LIST);
    for (int i = 0; i < 5 && !rc; i++) {
        mp_val *t = mp_val_push(l);
        rc = mp_val_set_empty(t, MP_VAL_TUPLE);
        rc = rc ? rc : mp_val_push_int(t, i);
        rc = rc ? rc : mp_val_push_str(t, "x");
    }
    rc = rc ? rc : mp_val_set_int(one, 1);
    rc = rc ? rc : mp_val_set_str(two, "two");
    mp_val *set = rc ? NULL : mp_val_put(d, "set");
    rc = rc ? rc : mp_val_set_empty(set, MP_VAL_SET);
    rc = rc ? rc : mp_val_add(set, one);
    rc = rc ? rc : mp_val_add(set, two);
    mp_val *fs = rc ? NULL : mp_val_put(d, "frozen");
    rc = rc ? rc : mp_val_set_empty(fs, MP_VAL_FROZENSET);
    rc = rc ? rc : mp_val_add(fs, one);
    rc = rc ? rc : mp_val_set_empty(mp_val_put(d, "empty_list"), MP_VAL_LIST);
    rc = rc ? rc : mp_val_set_empty(mp_val_put(d, "empty_dict"), MP_VAL_DICT);
    rc =
        rc ? rc : mp_val_set_empty(mp_val_put(d, "empty_tuple"), MP_VAL_TUPLE);
    mp_val_free(one);
    mp_val_free(two);
    if (rc) {
        mp_val_free(d);
        return NULL;
    }
    return d;
}

/* ---- building and reading ---- */

static void test_kinds(void) {
    static const mp_val_kind kinds[] = {
        MP_VAL_NONE, MP_VAL_BOOL,  MP_VAL_INT,      MP_VAL_FLOAT,
        MP_VAL_STR,  MP_VAL_BYTES, MP_VAL_TUPLE,    MP_VAL_LIST,
        MP_VAL_DICT, MP_VAL_SET,   MP_VAL_FROZENSET};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        mp_val *v = mp_val_new(kinds[k]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(v);
        CU_ASSERT_EQUAL(mp_val_kind_of(v), kinds[k]);
        CU_ASSERT_EQUAL(mp_val_len(v), 0);
        mp_val_free(v);
    }
    CU_ASSERT_PTR_NULL(mp_val_new((mp_val_kind)11));
    CU_ASSERT_EQUAL(mp_val_kind_of(NULL), MP_VAL_NONE);
    CU_ASSERT_EQUAL(mp_val_len(NULL), 0);

    mp_val *v = mp_val_new(MP_VAL_NONE);
    int64_t i = 7;
    double f = 0;
    bool b = false;
    size_t n = 99;
    MP_CHECK_OK(mp_val_set_int(v, INT64_MIN));
    CU_ASSERT_EQUAL(mp_val_kind_of(v), MP_VAL_INT);
    CU_ASSERT_EQUAL(int_of(v), INT64_MIN);
    CU_ASSERT_EQUAL(mp_val_len(v), 0);
    MP_CHECK_OK(mp_val_to_float(v, &f));
    CU_ASSERT_EQUAL(f, -9223372036854775808.0);
    MP_CHECK_RC(mp_val_to_bool(v, &b), MP_EINVAL);
    CU_ASSERT_PTR_NULL(mp_val_to_str(v, &n));
    CU_ASSERT_PTR_NULL(mp_val_to_bytes(v, &n));
    CU_ASSERT_EQUAL(n, 99); /* untouched */
    MP_CHECK_OK(mp_val_set_bool(v, true));
    MP_CHECK_OK(mp_val_to_bool(v, &b));
    CU_ASSERT(b);
    CU_ASSERT_EQUAL(int_of(v), 1); /* a bool reads as an int */
    MP_CHECK_OK(mp_val_set_float(v, -0.5));
    MP_CHECK_OK(mp_val_to_float(v, &f));
    CU_ASSERT_EQUAL(f, -0.5);
    i = 7;
    MP_CHECK_RC(mp_val_to_int(v, &i), MP_EINVAL);
    CU_ASSERT_EQUAL(i, 7);
    MP_CHECK_OK(mp_val_set_str(v, "abc"));
    CU_ASSERT(str_is(v, "abc"));
    CU_ASSERT_EQUAL(mp_val_len(v), 3);
    MP_CHECK_RC(mp_val_to_float(v, &f), MP_EINVAL);
    MP_CHECK_OK(mp_val_set_str(v, NULL));
    CU_ASSERT(str_is(v, ""));
    MP_CHECK_OK(mp_val_set_strn(v, "a\0b", 3)); /* NULs kept */
    CU_ASSERT(mp_val_to_str(v, &n) && n == 3 &&
              memcmp(mp_val_to_str(v, NULL), "a\0b", 4) == 0);
    MP_CHECK_OK(mp_val_set_bytes(v, "\x00\xff", 2));
    CU_ASSERT(bytes_are(v, "\x00\xff", 2));
    CU_ASSERT_EQUAL(((const char *)mp_val_to_bytes(v, NULL))[2], 0);
    MP_CHECK_OK(mp_val_set_bytes(v, NULL, 0));
    CU_ASSERT(bytes_are(v, "", 0));
    MP_CHECK_OK(mp_val_set_none(v));
    CU_ASSERT_EQUAL(mp_val_kind_of(v), MP_VAL_NONE);
    /* An empty str and bytes of a new tree read as "" too. */
    mp_val *s = mp_val_new(MP_VAL_STR);
    CU_ASSERT(str_is(s, ""));
    mp_val_free(s);
    mp_val_free(v);
}

static void test_nested(void) {
    mp_val *d = sample();
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL(mp_val_len(d), 12);
    CU_ASSERT_EQUAL(mp_val_kind_of(mp_val_get(d, "none")), MP_VAL_NONE);
    CU_ASSERT_PTR_NOT_NULL(mp_val_get(d, "none"));
    CU_ASSERT_EQUAL(int_of(mp_val_get(d, "int")), -1234567890123LL);
    CU_ASSERT(str_is(mp_val_get(d, "str"), "h\xc3\xa9llo \xf0\x9f\x98\x80"));
    CU_ASSERT(bytes_are(mp_val_get(d, "bytes"), "\x00\x01\xff", 3));
    mp_val *l = mp_val_get(d, "list");
    CU_ASSERT_EQUAL(mp_val_kind_of(l), MP_VAL_LIST);
    CU_ASSERT_EQUAL(mp_val_len(l), 5);
    CU_ASSERT_EQUAL(int_of(mp_val_at(mp_val_at(l, 3), 0)), 3);
    CU_ASSERT(str_is(mp_val_at(mp_val_at(l, 4), 1), "x"));
    CU_ASSERT_PTR_NULL(mp_val_at(l, 5));
    CU_ASSERT_PTR_NULL(mp_val_at(d, 0)); /* a dict has no items by index */
    /* Insertion order. */
    CU_ASSERT(str_is(mp_val_key_at(d, 0), "none"));
    CU_ASSERT(str_is(mp_val_key_at(d, 11), "empty_tuple"));
    CU_ASSERT_EQUAL(mp_val_kind_of(mp_val_value_at(d, 11)), MP_VAL_TUPLE);
    CU_ASSERT_PTR_NULL(mp_val_key_at(d, 12));
    CU_ASSERT_PTR_NULL(mp_val_value_at(d, 12));
    CU_ASSERT_PTR_NULL(mp_val_key_at(l, 0));
    CU_ASSERT_PTR_NULL(mp_val_get(d, "missing"));
    CU_ASSERT_PTR_NULL(mp_val_get(l, "list"));
    CU_ASSERT_PTR_NULL(mp_val_get(d, NULL));
    /* A slot's address stays valid while the tree grows. */
    mp_val *first = mp_val_at(l, 0);
    for (int i = 0; i < 1000; i++)
        MP_CHECK_OK(mp_val_push_int(l, i));
    CU_ASSERT_PTR_EQUAL(mp_val_at(l, 0), first);
    CU_ASSERT_EQUAL(int_of(mp_val_at(l, 1004)), 999);
    /* mp_val_put on an existing key gives its value, as it is. */
    CU_ASSERT_PTR_EQUAL(mp_val_put(d, "list"), l);
    CU_ASSERT_EQUAL(mp_val_len(l), 1005);
    /* Replacing a container's content drops its items. */
    MP_CHECK_OK(mp_val_set_int(l, 5));
    CU_ASSERT_EQUAL(mp_val_len(l), 0);
    CU_ASSERT_PTR_NULL(mp_val_at(l, 0));
    mp_val_free(d);
}

static void test_empty_containers(void) {
    static const mp_val_kind kinds[] = {MP_VAL_TUPLE, MP_VAL_LIST, MP_VAL_DICT,
                                        MP_VAL_SET, MP_VAL_FROZENSET};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        mp_val *v = mp_val_new(kinds[k]);
        CU_ASSERT_PTR_NULL(mp_val_at(v, 0));
        CU_ASSERT_PTR_NULL(mp_val_key_at(v, 0));
        mp_val *e = mp_val_new(kinds[k]);
        CU_ASSERT(mp_val_equal(v, e));
        for (int proto = 4; proto <= 5; proto++) {
            mp_val *r = round_trip(v, proto);
            CU_ASSERT_EQUAL(mp_val_kind_of(r), kinds[k]);
            CU_ASSERT_EQUAL(mp_val_len(r), 0);
            mp_val_free(r);
        }
        mp_val_free(e);
        mp_val_free(v);
    }
}

static void test_dict_keys(void) {
    mp_val *d = mp_val_new(MP_VAL_DICT);
    mp_val *k1 = new_int(1), *kf = new_float(1.0), *kt = new_bool(true);
    mp_val *slot = mp_val_put_key(d, k1);
    MP_CHECK_OK(mp_val_set_str(slot, "one"));
    /* 1, 1.0 and True are one key. */
    CU_ASSERT_PTR_EQUAL(mp_val_get_key(d, kf), slot);
    CU_ASSERT_PTR_EQUAL(mp_val_get_key(d, kt), slot);
    CU_ASSERT_PTR_EQUAL(mp_val_put_key(d, kt), slot);
    CU_ASSERT_EQUAL(mp_val_len(d), 1);
    /* The first key stays (as in Python: {1: 'a', True: 'b'} == {1: 'b'}). */
    CU_ASSERT_EQUAL(mp_val_kind_of(mp_val_key_at(d, 0)), MP_VAL_INT);
    /* "1" (str) and b"1" are other keys. */
    mp_val *ks = new_str("1"), *kb = mp_val_new(MP_VAL_BYTES);
    MP_CHECK_OK(mp_val_set_bytes(kb, "1", 1));
    CU_ASSERT_PTR_NULL(mp_val_get_key(d, ks));
    CU_ASSERT_PTR_NULL(mp_val_get_key(d, kb));
    MP_CHECK_OK(mp_val_set_int(mp_val_put_key(d, ks), 10));
    MP_CHECK_OK(mp_val_set_int(mp_val_put_key(d, kb), 11));
    CU_ASSERT_EQUAL(int_of(mp_val_get(d, "1")), 10);
    CU_ASSERT_EQUAL(int_of(mp_val_get_key(d, kb)), 11);
    /* 0.0 and -0.0 and 0 and False are one key; 1.5 is not 1. */
    mp_val *z = new_float(-0.0), *zf = new_bool(false), *h = new_float(1.5);
    MP_CHECK_OK(mp_val_set_int(mp_val_put_key(d, z), 0));
    CU_ASSERT_PTR_NOT_NULL(mp_val_get_key(d, zf));
    CU_ASSERT_PTR_NULL(mp_val_get_key(d, h));
    /* None and tuples are keys; a list is not. */
    mp_val *kn = mp_val_new(MP_VAL_NONE), *tup = mp_val_new(MP_VAL_TUPLE);
    MP_CHECK_OK(mp_val_push_int(tup, 1));
    MP_CHECK_OK(mp_val_push_str(tup, "a"));
    MP_CHECK_OK(mp_val_set_int(mp_val_put_key(d, kn), 20));
    MP_CHECK_OK(mp_val_set_int(mp_val_put_key(d, tup), 21));
    CU_ASSERT_EQUAL(int_of(mp_val_get_key(d, kn)), 20);
    mp_val *tup2 = mp_val_new(MP_VAL_TUPLE);
    MP_CHECK_OK(mp_val_push_float(tup2, 1.0));
    MP_CHECK_OK(mp_val_push_str(tup2, "a"));
    CU_ASSERT_EQUAL(int_of(mp_val_get_key(d, tup2)), 21);
    mp_val *lst = mp_val_new(MP_VAL_LIST);
    CU_ASSERT_PTR_NULL(mp_val_put_key(d, lst));
    CU_ASSERT_PTR_NULL(mp_val_get_key(d, lst));
    MP_CHECK_OK(mp_val_push_int(tup2, 0));
    MP_CHECK_OK(mp_val_set_empty(mp_val_push(tup2), MP_VAL_LIST));
    CU_ASSERT_PTR_NULL(mp_val_put_key(d, tup2)); /* a tuple holding a list */
    CU_ASSERT_EQUAL(mp_val_len(d), 6);
    mp_val_free(k1);
    mp_val_free(kf);
    mp_val_free(kt);
    mp_val_free(ks);
    mp_val_free(kb);
    mp_val_free(z);
    mp_val_free(zf);
    mp_val_free(h);
    mp_val_free(kn);
    mp_val_free(tup);
    mp_val_free(tup2);
    mp_val_free(lst);
    mp_val_free(d);
}

/* Past 8 entries a dict has an index: every key is still found, also
 * through the index by another kind, and a duplicate replaces the value in
 * place. */
static void test_dict_index(void) {
    enum { N = 1000 };
    mp_val *d = mp_val_new(MP_VAL_DICT);
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%d", i);
        MP_CHECK_OK(mp_val_put_int(d, key, i));
    }
    mp_val *ik = mp_val_new(MP_VAL_INT);
    for (int i = 0; i < 40; i++) {
        MP_CHECK_OK(mp_val_set_int(ik, i));
        MP_CHECK_OK(mp_val_set_int(mp_val_put_key(d, ik), -i));
    }
    CU_ASSERT_EQUAL(mp_val_len(d), N + 40);
    size_t bad = 0;
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%d", i);
        int64_t x = -1;
        bad += mp_val_to_int(mp_val_get(d, key), &x) != 0 || x != i;
        bad += !str_is(mp_val_key_at(d, (size_t)i), key);
    }
    CU_ASSERT_EQUAL(bad, 0);
    mp_val *fk = mp_val_new(MP_VAL_FLOAT), *bk = mp_val_new(MP_VAL_BOOL);
    MP_CHECK_OK(mp_val_set_float(fk, 17.0));
    CU_ASSERT_EQUAL(int_of(mp_val_get_key(d, fk)), -17);
    MP_CHECK_OK(mp_val_set_bool(bk, true));
    CU_ASSERT_EQUAL(int_of(mp_val_get_key(d, bk)), -1);
    MP_CHECK_OK(mp_val_set_float(fk, 17.5));
    CU_ASSERT_PTR_NULL(mp_val_get_key(d, fk));
    /* Duplicates: the value changes, the order and the count do not. */
    MP_CHECK_OK(mp_val_put_int(d, "k500", 99));
    MP_CHECK_OK(mp_val_set_float(fk, 3.0));
    MP_CHECK_OK(mp_val_set_str(mp_val_put_key(d, fk), "three"));
    CU_ASSERT_EQUAL(mp_val_len(d), N + 40);
    CU_ASSERT_EQUAL(int_of(mp_val_get(d, "k500")), 99);
    CU_ASSERT(str_is(mp_val_key_at(d, 500), "k500"));
    CU_ASSERT(str_is(mp_val_value_at(d, N + 3), "three"));
    CU_ASSERT_EQUAL(mp_val_kind_of(mp_val_key_at(d, N + 3)), MP_VAL_INT);
    CU_ASSERT_PTR_NULL(mp_val_get(d, "k1000"));
    /* The index survives a copy and a round trip. */
    mp_val *c = mp_val_copy(d);
    CU_ASSERT(mp_val_equal(c, d));
    CU_ASSERT_EQUAL(int_of(mp_val_get(c, "k999")), 999);
    MP_CHECK_OK(mp_val_put_int(c, "new", 1));
    CU_ASSERT_EQUAL(int_of(mp_val_get(c, "new")), 1);
    CU_ASSERT_EQUAL(mp_val_len(c), N + 41);
    mp_val *r = round_trip(d, 4);
    CU_ASSERT(mp_val_equal(r, d));
    CU_ASSERT_EQUAL(int_of(mp_val_get(r, "k777")), 777);
    mp_val_free(r);
    mp_val_free(c);
    mp_val_free(fk);
    mp_val_free(bk);
    mp_val_free(ik);
    mp_val_free(d);
}

static void test_sets(void) {
    mp_val *s = mp_val_new(MP_VAL_SET);
    mp_val *one = new_int(1), *onef = new_float(1.0), *t = new_bool(true);
    MP_CHECK_OK(mp_val_add(s, one));
    MP_CHECK_OK(mp_val_add(s, onef));
    MP_CHECK_OK(mp_val_add(s, t));
    CU_ASSERT_EQUAL(mp_val_len(s), 1);
    CU_ASSERT(mp_val_has(s, t));
    /* Past the index threshold. */
    mp_val *x = mp_val_new(MP_VAL_INT);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 100; i++) {
            MP_CHECK_OK(mp_val_set_int(x, i));
            MP_CHECK_OK(mp_val_add(s, x));
        }
    CU_ASSERT_EQUAL(mp_val_len(s), 100);
    MP_CHECK_OK(mp_val_set_int(x, 99));
    CU_ASSERT(mp_val_has(s, x));
    MP_CHECK_OK(mp_val_set_int(x, 100));
    CU_ASSERT(!mp_val_has(s, x));
    mp_val *s2 = new_str("a");
    CU_ASSERT(!mp_val_has(s, s2));
    /* Insertion order. */
    CU_ASSERT_EQUAL(int_of(mp_val_at(s, 0)), 1);
    CU_ASSERT_EQUAL(int_of(mp_val_at(s, 1)), 0);
    CU_ASSERT_EQUAL(int_of(mp_val_at(s, 99)), 99);
    /* Unhashable items and wrong kinds. */
    mp_val *l = mp_val_new(MP_VAL_LIST);
    MP_CHECK_RC(mp_val_add(s, l), MP_EINVAL);
    CU_ASSERT(!mp_val_has(s, l));
    MP_CHECK_RC(mp_val_add(l, one), MP_EINVAL);
    CU_ASSERT(!mp_val_has(l, one));
    MP_CHECK_RC(mp_val_add(NULL, one), MP_EINVAL);
    MP_CHECK_RC(mp_val_add(s, NULL), MP_EINVAL);
    /* A frozenset item, a tuple item. */
    mp_val *fs = mp_val_new(MP_VAL_FROZENSET);
    MP_CHECK_OK(mp_val_add(fs, one));
    MP_CHECK_OK(mp_val_add(fs, s2));
    MP_CHECK_OK(mp_val_add(s, fs));
    mp_val *fs2 = mp_val_new(MP_VAL_FROZENSET);
    MP_CHECK_OK(mp_val_add(fs2, s2));
    MP_CHECK_OK(mp_val_add(fs2, t));
    CU_ASSERT(mp_val_has(s, fs2)); /* {1, "a"} == {"a", True} */
    CU_ASSERT_EQUAL(mp_val_len(s), 101);
    /* A set equals a frozenset of the same items. */
    mp_val *plain = mp_val_new(MP_VAL_SET);
    MP_CHECK_OK(mp_val_add(plain, s2));
    MP_CHECK_OK(mp_val_add(plain, one));
    CU_ASSERT(mp_val_equal(plain, fs));
    CU_ASSERT(!mp_val_has(s, plain)); /* a set is not hashable */
    mp_val_free(plain);
    mp_val_free(fs2);
    mp_val_free(fs);
    mp_val_free(l);
    mp_val_free(s2);
    mp_val_free(x);
    mp_val_free(one);
    mp_val_free(onef);
    mp_val_free(t);
    mp_val_free(s);
}

static void test_equal(void) {
    mp_val *i = new_int(1), *f = new_float(1.0), *b = new_bool(true);
    CU_ASSERT(mp_val_equal(i, f) && mp_val_equal(f, b) && mp_val_equal(b, i));
    mp_val *nan1 = new_float(NAN), *nan2 = new_float(NAN);
    CU_ASSERT(!mp_val_equal(nan1, nan2));
    CU_ASSERT(!mp_val_equal(nan1, nan1));
    CU_ASSERT(mp_val_equal(NULL, NULL));
    CU_ASSERT(!mp_val_equal(NULL, i));
    /* 2**53 + 1 is no double: not equal to the nearest one. */
    mp_val *big = new_int(((int64_t)1 << 53) + 1);
    mp_val *bigf = new_float(9007199254740992.0);
    CU_ASSERT(!mp_val_equal(big, bigf));
    mp_val *maxi = new_int(INT64_MAX),
           *two63 = new_float(9223372036854775808.0);
    CU_ASSERT(!mp_val_equal(maxi, two63));
    /* A list is never a tuple; str is never bytes. */
    mp_val *l = mp_val_new(MP_VAL_LIST), *t = mp_val_new(MP_VAL_TUPLE);
    CU_ASSERT(!mp_val_equal(l, t));
    MP_CHECK_OK(mp_val_push_int(l, 1));
    MP_CHECK_OK(mp_val_push_int(t, 1));
    CU_ASSERT(!mp_val_equal(l, t));
    mp_val *s = new_str("a"), *by = mp_val_new(MP_VAL_BYTES);
    MP_CHECK_OK(mp_val_set_bytes(by, "a", 1));
    CU_ASSERT(!mp_val_equal(s, by));
    mp_val *none = mp_val_new(MP_VAL_NONE);
    mp_val *fal = new_bool(false), *zero = new_int(0);
    CU_ASSERT(!mp_val_equal(none, fal));
    CU_ASSERT(mp_val_equal(fal, zero));
    /* Lists of 1 and 1.0 are equal; a NaN item makes them differ. */
    mp_val *l2 = mp_val_new(MP_VAL_LIST);
    MP_CHECK_OK(mp_val_push_float(l2, 1.0));
    CU_ASSERT(mp_val_equal(l, l2));
    MP_CHECK_OK(mp_val_push_float(l, NAN));
    MP_CHECK_OK(mp_val_push_float(l2, NAN));
    CU_ASSERT(!mp_val_equal(l, l2));
    /* Dicts regardless of order. */
    mp_val *d1 = mp_val_new(MP_VAL_DICT), *d2 = mp_val_new(MP_VAL_DICT);
    MP_CHECK_OK(mp_val_put_int(d1, "a", 1));
    MP_CHECK_OK(mp_val_put_int(d1, "b", 2));
    MP_CHECK_OK(mp_val_put_int(d2, "b", 2));
    MP_CHECK_OK(mp_val_put_float(d2, "a", 1.0));
    CU_ASSERT(mp_val_equal(d1, d2));
    MP_CHECK_OK(mp_val_put_int(d2, "a", 3));
    CU_ASSERT(!mp_val_equal(d1, d2));
    MP_CHECK_OK(mp_val_put_int(d2, "a", 1));
    MP_CHECK_OK(mp_val_put_int(d2, "c", 1));
    CU_ASSERT(!mp_val_equal(d1, d2));
    mp_val *objs[] = {i, f, b,  nan1, nan2, big,  bigf, maxi, two63, l,
                      t, s, by, none, fal,  zero, l2,   d1,   d2};
    for (size_t k = 0; k < sizeof objs / sizeof *objs; k++)
        mp_val_free(objs[k]);
}

static void test_copy(void) {
    mp_val *d = sample();
    mp_val *c = mp_val_copy(d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT(mp_val_equal(c, d));
    /* Independent: changing the original leaves the copy. */
    MP_CHECK_OK(mp_val_put_int(d, "int", 5));
    MP_CHECK_OK(mp_val_push_int(mp_val_get(d, "list"), 5));
    CU_ASSERT_EQUAL(int_of(mp_val_get(c, "int")), -1234567890123LL);
    CU_ASSERT_EQUAL(mp_val_len(mp_val_get(c, "list")), 5);
    CU_ASSERT(!mp_val_equal(c, d));
    /* A copy of a borrowed subtree is a root of its own. */
    mp_val *sub = mp_val_copy(mp_val_get(c, "list"));
    CU_ASSERT_EQUAL(mp_val_len(sub), 5);
    mp_val_free(c);
    CU_ASSERT_EQUAL(int_of(mp_val_at(mp_val_at(sub, 2), 0)), 2);
    MP_CHECK_OK(mp_val_push_none(sub));
    /* set_copy of a value of its own tree (an ancestor too). */
    mp_val *l = mp_val_get(d, "list");
    mp_val *slot = mp_val_push(l);
    MP_CHECK_OK(mp_val_set_copy(slot, d)); /* d as it was: slot None */
    CU_ASSERT_EQUAL(mp_val_kind_of(slot), MP_VAL_DICT);
    CU_ASSERT_EQUAL(mp_val_len(mp_val_get(slot, "list")), 7);
    CU_ASSERT_EQUAL(mp_val_kind_of(mp_val_at(mp_val_get(slot, "list"), 6)),
                    MP_VAL_NONE);
    MP_CHECK_OK(mp_val_set_copy(d, mp_val_get(d, "set")));
    CU_ASSERT_EQUAL(mp_val_kind_of(d), MP_VAL_SET);
    CU_ASSERT_EQUAL(mp_val_len(d), 2);
    MP_CHECK_RC(mp_val_set_copy(d, NULL), MP_EINVAL);
    CU_ASSERT_PTR_NULL(mp_val_copy(NULL));
    mp_val_free(sub);
    mp_val_free(d);
}

/* A dict key, a set item and whatever a key tuple holds refuse changes. */
static void test_frozen(void) {
    mp_val *d = mp_val_new(MP_VAL_DICT);
    mp_val *t = mp_val_new(MP_VAL_TUPLE);
    MP_CHECK_OK(mp_val_push_int(t, 1));
    MP_CHECK_OK(mp_val_set_empty(mp_val_push(t), MP_VAL_TUPLE));
    MP_CHECK_OK(mp_val_set_none(mp_val_put_key(d, t)));
    mp_val *key = (mp_val *)mp_val_key_at(d, 0);
    MP_CHECK_RC(mp_val_set_int(key, 2), MP_EINVAL);
    MP_CHECK_RC(mp_val_set_str(mp_val_at(key, 0), "x"), MP_EINVAL);
    MP_CHECK_RC(mp_val_set_empty(mp_val_at(key, 1), MP_VAL_LIST), MP_EINVAL);
    MP_CHECK_RC(mp_val_set_copy(key, t), MP_EINVAL);
    CU_ASSERT_PTR_NULL(mp_val_push(key));
    MP_CHECK_RC(mp_val_push_int(key, 3), MP_EINVAL);
    MP_CHECK_RC(mp_val_push_none(key), MP_EINVAL);
    MP_CHECK_RC(mp_val_push_bytes(key, "a", 1), MP_EINVAL);
    CU_ASSERT_EQUAL(mp_val_len(key), 2);
    CU_ASSERT(mp_val_equal(key, t));
    /* The caller's tuple was copied and stays free to change. */
    MP_CHECK_OK(mp_val_push_int(t, 3));
    /* So is a copy of a key, items included; a dict's copy keeps its keys
     * frozen. */
    mp_val *kc = mp_val_copy(key);
    MP_CHECK_OK(mp_val_set_str(mp_val_at(kc, 0), "x"));
    MP_CHECK_OK(mp_val_push_int(mp_val_at(kc, 1), 1));
    MP_CHECK_OK(mp_val_push_int(kc, 1));
    mp_val_free(kc);
    mp_val *dc = mp_val_copy(d);
    MP_CHECK_RC(mp_val_set_int((mp_val *)mp_val_key_at(dc, 0), 2), MP_EINVAL);
    MP_CHECK_RC(mp_val_set_str(mp_val_at(mp_val_key_at(dc, 0), 0), "x"),
                MP_EINVAL);
    mp_val_free(dc);
    /* A memo reference to a key, ({(1, 2): 0}, (1, 2)), is no key. */
    mp_val *v = NULL;
    MP_CHECK_OK(LOADS(&v, "\x80\x04}K\x01K\x02\x86\x94K\x00sh\x00\x86."));
    CU_ASSERT_EQUAL(int_of(mp_val_get_key(mp_val_at(v, 0), mp_val_at(v, 1))),
                    0);
    MP_CHECK_OK(mp_val_set_int(mp_val_at(mp_val_at(v, 1), 0), 5));
    MP_CHECK_RC(
        mp_val_set_int(mp_val_at(mp_val_key_at(mp_val_at(v, 0), 0), 0), 5),
        MP_EINVAL);
    mp_val_free(v);
    mp_val *s = mp_val_new(MP_VAL_SET), *fs = mp_val_new(MP_VAL_FROZENSET);
    mp_val *one = new_int(1);
    MP_CHECK_OK(mp_val_add(fs, one));
    MP_CHECK_OK(mp_val_add(s, fs));
    mp_val *item = mp_val_at(s, 0);
    MP_CHECK_RC(mp_val_add(item, t), MP_EINVAL);
    MP_CHECK_RC(mp_val_set_float(mp_val_at(item, 0), 2.0), MP_EINVAL);
    MP_CHECK_RC(mp_val_set_none(item), MP_EINVAL);
    CU_ASSERT_EQUAL(mp_val_len(item), 1);
    /* The value of a key is not frozen. */
    MP_CHECK_OK(mp_val_set_int(mp_val_value_at(d, 0), 5));
    mp_val_free(one);
    mp_val_free(fs);
    mp_val_free(s);
    mp_val_free(t);
    mp_val_free(d);
}

static void test_utf8(void) {
    static const char *bad[] = {"\xff",
                                "\xc0\x80",
                                "\xc1\xbf", /* overlong */
                                "\xe0\x80\x80",
                                "\xf0\x80\x80\x80", /* overlong */
                                "\xe2\x82",
                                "\xf0\x9f\x98", /* truncated */
                                "\x80",
                                "a\xbf", /* lone continuation */
                                "\xf4\x90\x80\x80",
                                "\xf8\x88\x80\x80\x80", /* past U+10FFFF */
                                "\xe2\x28\xa1"};
    mp_val *v = mp_val_new(MP_VAL_STR);
    mp_val *l = mp_val_new(MP_VAL_LIST), *d = mp_val_new(MP_VAL_DICT);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        MP_CHECK_RC(mp_val_set_str(v, bad[i]), MP_EINVAL);
        MP_CHECK_RC(mp_val_set_strn(v, bad[i], strlen(bad[i])), MP_EINVAL);
        MP_CHECK_RC(mp_val_push_str(l, bad[i]), MP_EINVAL);
        CU_ASSERT_PTR_NULL(mp_val_put(d, bad[i]));
        MP_CHECK_RC(mp_val_put_int(d, bad[i], 1), MP_EINVAL);
        MP_CHECK_RC(mp_val_put_str(d, bad[i], "x"), MP_EINVAL);
        MP_CHECK_RC(mp_val_put_none(d, bad[i]), MP_EINVAL);
        MP_CHECK_RC(mp_val_put_bytes(d, bad[i], "x", 1), MP_EINVAL);
        /* A value that is no UTF-8 adds no key either. */
        MP_CHECK_RC(mp_val_put_str(d, "k", bad[i]), MP_EINVAL);
    }
    CU_ASSERT(str_is(v, "")); /* untouched */
    CU_ASSERT_EQUAL(mp_val_len(l), 0);
    CU_ASSERT_EQUAL(mp_val_len(d), 0);
    /* Lone surrogates (Python's surrogatepass), the extremes, NUL. */
    static const char *good[] = {"\xed\xa0\x80",
                                 "\xed\xbf\xbf",
                                 "\xf4\x8f\xbf\xbf",
                                 "\xc2\x80",
                                 "\xef\xbf\xbf",
                                 "\x7f",
                                 ""};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        MP_CHECK_OK(mp_val_set_str(v, good[i]));
        MP_CHECK_OK(mp_val_push_str(l, good[i]));
        MP_CHECK_OK(mp_val_put_int(d, good[i], (int64_t)i));
    }
    MP_CHECK_OK(mp_val_set_strn(v, "\0", 1));
    CU_ASSERT_EQUAL(mp_val_len(v), 1);
    mp_val *r = round_trip(l, 4);
    CU_ASSERT(mp_val_equal(r, l));
    mp_val_free(r);
    mp_val_free(v);
    mp_val_free(l);
    mp_val_free(d);
}

static void test_ownership(void) {
    mp_val *d = sample();
    mp_val *l = mp_val_get(d, "list");
    mp_val_free(l); /* borrowed: left alone */
    mp_val_free(mp_val_at(l, 0));
    mp_val_free((mp_val *)mp_val_key_at(d, 0));
    mp_val_free(NULL);
    CU_ASSERT_EQUAL(mp_val_len(l), 5);
    CU_ASSERT_EQUAL(int_of(mp_val_at(mp_val_at(l, 1), 0)), 1);
    MP_CHECK_OK(mp_val_push_int(l, 1));
    mp_val *c = mp_val_copy(d);
    CU_ASSERT(mp_val_equal(c, d));
    mp_val_free(c);
    mp_val_free(d);
}

static void test_bad_input(void) {
    mp_val *l = mp_val_new(MP_VAL_LIST), *i = new_int(3);
    MP_CHECK_RC(mp_val_set_int(NULL, 1), MP_EINVAL);
    MP_CHECK_RC(mp_val_set_none(NULL), MP_EINVAL);
    MP_CHECK_RC(mp_val_set_str(NULL, "a"), MP_EINVAL);
    MP_CHECK_RC(mp_val_set_bytes(i, NULL, 3), MP_EINVAL);
    MP_CHECK_RC(mp_val_set_strn(i, NULL, 3), MP_EINVAL);
    MP_CHECK_RC(mp_val_set_empty(i, (mp_val_kind)11), MP_EINVAL);
    MP_CHECK_RC(mp_val_set_empty(i, (mp_val_kind)-1), MP_EINVAL);
    CU_ASSERT_EQUAL(int_of(i), 3);
    MP_CHECK_RC(mp_val_to_int(NULL, NULL), MP_EINVAL);
    MP_CHECK_RC(mp_val_to_int(i, NULL), MP_EINVAL);
    CU_ASSERT_PTR_NULL(mp_val_push(i));
    CU_ASSERT_PTR_NULL(mp_val_push(NULL));
    MP_CHECK_RC(mp_val_push_int(i, 1), MP_EINVAL);
    MP_CHECK_RC(mp_val_push_none(i), MP_EINVAL);
    MP_CHECK_RC(mp_val_push_bytes(l, NULL, 1), MP_EINVAL);
    MP_CHECK_RC(mp_val_push_int(NULL, 1), MP_EINVAL);
    CU_ASSERT_PTR_NULL(mp_val_put(l, "a"));
    CU_ASSERT_PTR_NULL(mp_val_put(NULL, "a"));
    MP_CHECK_RC(mp_val_put_int(l, "a", 1), MP_EINVAL);
    MP_CHECK_RC(mp_val_put_none(l, "a"), MP_EINVAL);
    MP_CHECK_RC(mp_val_put_int(l, NULL, 1), MP_EINVAL);
    CU_ASSERT_EQUAL(mp_val_len(l), 0);
    mp_buf b = {0};
    MP_CHECK_RC(mp_val_dumps(NULL, 4, &b), MP_EINVAL);
    MP_CHECK_RC(mp_val_dumps(l, 4, NULL), MP_EINVAL);
    static const int protos[] = {-1, 1, 2, 3, 6, 255};
    for (size_t k = 0; k < sizeof protos / sizeof *protos; k++)
        MP_CHECK_RC(mp_val_dumps(l, protos[k], &b), MP_EINVAL);
    CU_ASSERT_PTR_NULL(b.data);
    MP_CHECK_OK(mp_val_dumps(l, 0, &b)); /* 0 is 4 */
    CU_ASSERT(b.len >= 2 && memcmp(b.data, "\x80\x04", 2) == 0);
    mp_val *out = l;
    MP_CHECK_RC(mp_val_loads(NULL, b.data, b.len, NULL), MP_EINVAL);
    MP_CHECK_RC(mp_val_loads(&out, NULL, 5, NULL), MP_EINVAL);
    CU_ASSERT_PTR_NULL(out);
    MP_CHECK_RC(mp_buf_val(NULL, &out), MP_EINVAL);
    MP_CHECK_OK(mp_buf_val(&b, &out));
    CU_ASSERT(mp_val_equal(out, l));
    mp_val_free(out);
    mp_buf_free(&b);
    mp_val_free(i);
    mp_val_free(l);
}

/* A tree nested deeper than the depth any tree may have cannot be encoded
 * (the encoder recurses) and is no value. */
/* `levels` lists nested in each other, the innermost holding `item`. */
static mp_val *nested_lists(int levels, bool item) {
    mp_val *root = mp_val_new(MP_VAL_LIST), *at = root;
    for (int i = 1; i < levels; i++) {
        at = mp_val_push(at);
        MP_CHECK_OK(mp_val_set_empty(at, MP_VAL_LIST));
    }
    if (item)
        MP_CHECK_OK(mp_val_push_int(at, 7));
    return root;
}

static void test_build_too_deep(void) {
    mp_val *root = nested_lists(1500, false);
    mp_buf b = {0};
    MP_CHECK_RC(mp_val_dumps(root, 4, &b), MP_EMSGSIZE);
    CU_ASSERT_PTR_NULL(b.data);
    mp_val_free(root);
    /* 1000 levels, the decoder's limit, come back equal and copy, with an
     * item in the innermost or without; 1001 are refused by the encoder as
     * by the decoder (a peer would refuse what it sent). */
    for (int item = 0; item < 2; item++) {
        root = nested_lists(1000, item);
        mp_val *r = round_trip(root, 5);
        CU_ASSERT(mp_val_equal(r, root));
        mp_val *c = mp_val_copy(r);
        CU_ASSERT(mp_val_equal(c, r));
        mp_val_free(c);
        mp_val_free(r);
        mp_val_free(root);
        root = nested_lists(1001, item);
        MP_CHECK_RC(mp_val_dumps(root, 4, &b), MP_EMSGSIZE);
        CU_ASSERT_PTR_NULL(b.data);
        /* Nor copied, nor equal to itself but by identity. */
        CU_ASSERT_PTR_NULL(mp_val_copy(root));
        mp_val *slot = mp_val_new(MP_VAL_NONE);
        MP_CHECK_RC(mp_val_set_copy(slot, root), MP_EMSGSIZE);
        CU_ASSERT_EQUAL(mp_val_kind_of(slot), MP_VAL_NONE);
        mp_val *other = nested_lists(1001, item);
        CU_ASSERT(!mp_val_equal(root, other));
        CU_ASSERT(mp_val_equal(root, root));
        mp_val_free(other);
        mp_val_free(slot);
        mp_val_free(root);
    }
}

/* ---- round trips ---- */

static void test_round_trip_kinds(void) {
    static const int64_t ints[] = {0,
                                   1,
                                   -1,
                                   255,
                                   256,
                                   65535,
                                   65536,
                                   -256,
                                   INT32_MAX,
                                   INT32_MIN,
                                   (int64_t)INT32_MAX + 1,
                                   (int64_t)INT32_MIN - 1,
                                   (int64_t)1 << 40,
                                   -((int64_t)1 << 40),
                                   INT64_MAX,
                                   INT64_MIN,
                                   0x7fffffffffLL,
                                   -0x8000000000LL};
    /* INFINITY is no constant expression everywhere (MSVC's math.h). */
    double floats[] = {0.0, -0.0, 1.5, -1e308, 5e-324, 0.0, 0.0};
    floats[5] = INFINITY;
    floats[6] = -INFINITY;
    for (int proto = 4; proto <= 5; proto++) {
        mp_val *l = mp_val_new(MP_VAL_LIST);
        for (size_t k = 0; k < sizeof ints / sizeof *ints; k++)
            MP_CHECK_OK(mp_val_push_int(l, ints[k]));
        for (size_t k = 0; k < sizeof floats / sizeof *floats; k++)
            MP_CHECK_OK(mp_val_push_float(l, floats[k]));
        MP_CHECK_OK(mp_val_push_float(l, NAN));
        MP_CHECK_OK(mp_val_push_bool(l, false));
        MP_CHECK_OK(mp_val_push_none(l));
        mp_val *r = round_trip(l, proto);
        CU_ASSERT_EQUAL(mp_val_len(r), mp_val_len(l));
        size_t n = sizeof ints / sizeof *ints;
        for (size_t k = 0; k < n; k++) {
            CU_ASSERT_EQUAL(mp_val_kind_of(mp_val_at(r, k)), MP_VAL_INT);
            CU_ASSERT_EQUAL(int_of(mp_val_at(r, k)), ints[k]);
        }
        for (size_t k = 0; k < sizeof floats / sizeof *floats; k++) {
            double f = 0;
            MP_CHECK_OK(mp_val_to_float(mp_val_at(r, n + k), &f));
            CU_ASSERT(memcmp(&f, &floats[k], sizeof f) == 0); /* -0.0 too */
        }
        double nan = 0;
        MP_CHECK_OK(mp_val_to_float(mp_val_at(r, n + 7), &nan));
        CU_ASSERT(isnan(nan));
        CU_ASSERT_EQUAL(mp_val_kind_of(mp_val_at(r, n + 8)), MP_VAL_BOOL);
        CU_ASSERT_EQUAL(mp_val_kind_of(mp_val_at(r, n + 9)), MP_VAL_NONE);
        mp_val_free(r);
        mp_val_free(l);

        mp_val *d = sample();
        r = round_trip(d, proto);
        CU_ASSERT(mp_val_equal(r, d));
        CU_ASSERT_EQUAL(mp_val_kind_of(mp_val_get(r, "frozen")),
                        MP_VAL_FROZENSET);
        CU_ASSERT_EQUAL(mp_val_kind_of(mp_val_get(r, "set")), MP_VAL_SET);
        CU_ASSERT(str_is(mp_val_key_at(r, 5), "bytes")); /* order kept */
        mp_val_free(r);
        /* Each value alone, as the top of a pickle. */
        for (size_t k = 0; k < mp_val_len(d); k++) {
            r = round_trip(mp_val_value_at(d, k), proto);
            CU_ASSERT(mp_val_equal(r, mp_val_value_at(d, k)));
            CU_ASSERT_EQUAL(mp_val_kind_of(r),
                            mp_val_kind_of(mp_val_value_at(d, k)));
            mp_val_free(r);
        }
        /* Strings and bytes on each length form's edges; tuples of each
         * length form (TUPLE1-3, MARK TUPLE), a one-item dict, list, set. */
        static const size_t lens[] = {0, 1, 255, 256, 65536, 70000};
        mp_val *t = mp_val_new(MP_VAL_TUPLE);
        for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
            char *s = malloc(lens[k] + 1);
            memset(s, 'a' + (int)k, lens[k]);
            s[lens[k]] = 0;
            MP_CHECK_OK(mp_val_push_str(t, s));
            MP_CHECK_OK(mp_val_push_bytes(t, s, lens[k]));
            free(s);
            for (size_t m = 1; m <= 5; m++) {
                mp_val *tm = mp_val_push(t);
                MP_CHECK_OK(mp_val_set_empty(tm, MP_VAL_TUPLE));
                for (size_t j = 0; j < m; j++)
                    MP_CHECK_OK(mp_val_push_int(tm, (int64_t)j));
            }
        }
        mp_val *one = mp_val_push(t);
        MP_CHECK_OK(mp_val_set_empty(one, MP_VAL_DICT));
        MP_CHECK_OK(mp_val_put_int(one, "k", 1));
        one = mp_val_push(t);
        MP_CHECK_OK(mp_val_set_empty(one, MP_VAL_SET));
        mp_val *x = new_int(1);
        MP_CHECK_OK(mp_val_add(one, x));
        mp_val_free(x);
        one = mp_val_push(t);
        MP_CHECK_OK(mp_val_set_empty(one, MP_VAL_LIST));
        MP_CHECK_OK(mp_val_push_int(one, 1));
        r = round_trip(t, proto);
        CU_ASSERT(mp_val_equal(r, t));
        mp_val_free(r);
        mp_val_free(t);
        mp_val_free(d);
    }
}

/* An mp_buf that already holds bytes is reused or grown by dumps. */
static void test_dumps_buffer_reuse(void) {
    mp_val *d = sample();
    mp_buf b = {0};
    MP_CHECK_OK(mp_val_dumps(d, 4, &b));
    size_t len = b.len;
    MP_CHECK_OK(mp_val_dumps(d, 5, &b));
    CU_ASSERT_EQUAL(b.len, len);
    CU_ASSERT_EQUAL(((unsigned char *)b.data)[1], 5);
    CU_ASSERT_EQUAL(((unsigned char *)b.data)[b.len - 1], '.');
    mp_val *big = mp_val_new(MP_VAL_BYTES);
    char *p = calloc(1, 100000);
    MP_CHECK_OK(mp_val_set_bytes(big, p, 100000));
    free(p);
    MP_CHECK_OK(mp_val_dumps(big, 4, &b));
    CU_ASSERT(b.cap > b.len);
    mp_val *r = NULL;
    MP_CHECK_OK(mp_buf_val(&b, &r));
    CU_ASSERT(mp_val_equal(r, big));
    mp_val_free(r);
    mp_val_free(big);
    mp_buf_free(&b);
    mp_val_free(d);
}

static void test_round_trip_large(void) {
    /* 100 MB of bytes. */
    size_t n = (size_t)100 << 20;
    char *p = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(i * 7 + (i >> 12));
    mp_val *v = mp_val_new(MP_VAL_BYTES);
    MP_CHECK_OK(mp_val_set_bytes(v, p, n));
    mp_val *r = round_trip(v, 5);
    CU_ASSERT(bytes_are(r, p, n));
    mp_val_free(r);
    mp_val_free(v);
    free(p);

    /* A list of 1 000 000 ints. */
    mp_val *l = mp_val_new(MP_VAL_LIST);
    for (int64_t i = 0; i < 1000000; i++)
        MP_CHECK_OK(mp_val_push_int(l, i * 4099 - 2000000000LL));
    r = round_trip(l, 4);
    CU_ASSERT_EQUAL(mp_val_len(r), 1000000);
    size_t bad = 0;
    for (size_t i = 0; i < 1000000; i++) {
        int64_t x = 0;
        bad += mp_val_to_int(mp_val_at(r, i), &x) != 0 ||
               x != (int64_t)i * 4099 - 2000000000LL;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(mp_val_equal(r, l));
    mp_val_free(r);
    mp_val_free(l);

    /* A dict of 100 000 str keys. */
    mp_val *d = mp_val_new(MP_VAL_DICT);
    char key[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        MP_CHECK_OK(mp_val_put_int(d, key, i));
    }
    r = round_trip(d, 4);
    CU_ASSERT_EQUAL(mp_val_len(r), 100000);
    bad = 0;
    for (int i = 0; i < 100000; i += 7) {
        snprintf(key, sizeof key, "key-%d", i);
        int64_t x = -1;
        bad += mp_val_to_int(mp_val_get(r, key), &x) != 0 || x != i;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(mp_val_equal(r, d));
    mp_val_free(r);
    mp_val_free(d);
}

/* ---- pickles as CPython writes them ---- */

/* b'ab\xff', protocol 2: _codecs.encode('ab\xff', 'latin1') */
static const char P2_BYTES[] =
    "\x80\x02\x63\x5f\x63\x6f\x64\x65\x63\x73\x0a\x65\x6e\x63\x6f\x64\x65"
    "\x0a\x71\x00\x58\x04\x00\x00\x00\x61\x62\xc3\xbf\x71\x01\x58\x06\x00"
    "\x00\x00\x6c\x61\x74\x69\x6e\x31\x71\x02\x86\x71\x03\x52\x71\x04\x2e";
/* b'', protocol 2: __builtin__.bytes() */
static const char P2_EMPTY_BYTES[] =
    "\x80\x02\x63\x5f\x5f\x62\x75\x69\x6c\x74\x69\x6e\x5f\x5f\x0a\x62\x79"
    "\x74\x65\x73\x0a\x71\x00\x29\x52\x71\x01\x2e";
/* b'ab', protocol 3 */
static const char P3_BYTES[] = "\x80\x03\x43\x02\x61\x62\x71\x00\x2e";
/* bytearray(b'a\xff'), protocol 2 (Python 3.8+) */
static const char P2_BYTEARRAY[] =
    "\x80\x02\x63\x5f\x5f\x62\x75\x69\x6c\x74\x69\x6e\x5f\x5f\x0a\x62\x79"
    "\x74\x65\x61\x72\x72\x61\x79\x0a\x71\x00\x63\x5f\x63\x6f\x64\x65\x63"
    "\x73\x0a\x65\x6e\x63\x6f\x64\x65\x0a\x71\x01\x58\x03\x00\x00\x00\x61"
    "\xc3\xbf\x71\x02\x58\x06\x00\x00\x00\x6c\x61\x74\x69\x6e\x31\x71\x03"
    "\x86\x71\x04\x52\x71\x05\x85\x71\x06\x52\x71\x07\x2e";
/* bytearray(), protocol 2 (Python 3.8+) */
static const char P2_EMPTY_BYTEARRAY[] =
    "\x80\x02\x63\x5f\x5f\x62\x75\x69\x6c\x74\x69\x6e\x5f\x5f\x0a\x62\x79"
    "\x74\x65\x61\x72\x72\x61\x79\x0a\x71\x00\x29\x52\x71\x01\x2e";
/* bytearray(b'a\xff'), protocol 2, as Python 3.6 and 3.7 write it:
 * bytearray('a\xff', 'latin-1') */
static const char P2_BYTEARRAY_PY36[] =
    "\x80\x02\x63\x5f\x5f\x62\x75\x69\x6c\x74\x69\x6e\x5f\x5f\x0a\x62\x79"
    "\x74\x65\x61\x72\x72\x61\x79\x0a\x71\x00\x58\x03\x00\x00\x00\x61\xc3"
    "\xbf\x71\x01\x58\x07\x00\x00\x00\x6c\x61\x74\x69\x6e\x2d\x31\x71\x02"
    "\x86\x71\x03\x52\x71\x04\x2e";
/* bytearray(), protocol 2, Python 3.6 and 3.7 */
static const char P2_EMPTY_BYTEARRAY_PY36[] =
    "\x80\x02\x63\x5f\x5f\x62\x75\x69\x6c\x74\x69\x6e\x5f\x5f\x0a\x62\x79"
    "\x74\x65\x61\x72\x72\x61\x79\x0a\x71\x00\x58\x00\x00\x00\x00\x71\x01"
    "\x58\x07\x00\x00\x00\x6c\x61\x74\x69\x6e\x2d\x31\x71\x02\x86\x71\x03"
    "\x52\x71\x04\x2e";
/* bytearray(b'ab'), protocol 3 */
static const char P3_BYTEARRAY[] =
    "\x80\x03\x63\x62\x75\x69\x6c\x74\x69\x6e\x73\x0a\x62\x79\x74\x65\x61"
    "\x72\x72\x61\x79\x0a\x71\x00\x43\x02\x61\x62\x71\x01\x85\x71\x02\x52"
    "\x71\x03\x2e";
/* bytearray(b'ab'), protocol 4 (STACK_GLOBAL) */
static const char P4_BYTEARRAY[] =
    "\x80\x04\x95\x23\x00\x00\x00\x00\x00\x00\x00\x8c\x08\x62\x75\x69\x6c"
    "\x74\x69\x6e\x73\x94\x8c\x09\x62\x79\x74\x65\x61\x72\x72\x61\x79\x94"
    "\x93\x94\x43\x02\x61\x62\x94\x85\x94\x52\x94\x2e";
/* bytearray(b'ab'), protocol 5 (BYTEARRAY8) */
static const char P5_BYTEARRAY[] =
    "\x80\x05\x95\x0d\x00\x00\x00\x00\x00\x00\x00\x96\x02\x00\x00\x00\x00"
    "\x00\x00\x00\x61\x62\x94\x2e";
/* {1, 2}, protocol 2 */
static const char P2_SET[] =
    "\x80\x02\x63\x5f\x5f\x62\x75\x69\x6c\x74\x69\x6e\x5f\x5f\x0a\x73\x65"
    "\x74\x0a\x71\x00\x5d\x71\x01\x28\x4b\x01\x4b\x02\x65\x85\x71\x02\x52"
    "\x71\x03\x2e";
/* {1, 2}, protocol 3 */
static const char P3_SET[] =
    "\x80\x03\x63\x62\x75\x69\x6c\x74\x69\x6e\x73\x0a\x73\x65\x74\x0a\x71"
    "\x00\x5d\x71\x01\x28\x4b\x01\x4b\x02\x65\x85\x71\x02\x52\x71\x03\x2e";
/* frozenset({1, 2}), protocol 2 */
static const char P2_FROZENSET[] =
    "\x80\x02\x63\x5f\x5f\x62\x75\x69\x6c\x74\x69\x6e\x5f\x5f\x0a\x66\x72"
    "\x6f\x7a\x65\x6e\x73\x65\x74\x0a\x71\x00\x5d\x71\x01\x28\x4b\x01\x4b"
    "\x02\x65\x85\x71\x02\x52\x71\x03\x2e";
/* frozenset(), protocol 2 */
static const char P2_EMPTY_FROZENSET[] =
    "\x80\x02\x63\x5f\x5f\x62\x75\x69\x6c\x74\x69\x6e\x5f\x5f\x0a\x66\x72"
    "\x6f\x7a\x65\x6e\x73\x65\x74\x0a\x71\x00\x5d\x71\x01\x85\x71\x02\x52"
    "\x71\x03\x2e";
/* {1, 2}, protocol 4 (EMPTY_SET, ADDITEMS) */
static const char P4_SET[] =
    "\x80\x04\x95\x09\x00\x00\x00\x00\x00\x00\x00\x8f\x94\x28\x4b\x01\x4b"
    "\x02\x90\x2e";
/* frozenset({1, 2}), protocol 4 (FROZENSET) */
static const char P4_FROZENSET[] =
    "\x80\x04\x95\x08\x00\x00\x00\x00\x00\x00\x00\x28\x4b\x01\x4b\x02\x91"
    "\x94\x2e";
/* x = [1, 2]; [x, x], protocol 2 */
static const char P2_MEMO[] =
    "\x80\x02\x5d\x71\x00\x28\x5d\x71\x01\x28\x4b\x01\x4b\x02\x65\x68\x01"
    "\x65\x2e";
/* x = [1, 2]; [x, x], protocol 4 */
static const char P4_MEMO[] =
    "\x80\x04\x95\x0f\x00\x00\x00\x00\x00\x00\x00\x5d\x94\x28\x5d\x94\x28"
    "\x4b\x01\x4b\x02\x65\x68\x01\x65\x2e";
/* [2**40, -2**63, 2**63-1, -1, 255, 65535, 65536, -2**31], protocol 4 */
static const char P4_INTS[] =
    "\x80\x04\x95\x35\x00\x00\x00\x00\x00\x00\x00\x5d\x94\x28\x8a\x06\x00"
    "\x00\x00\x00\x00\x01\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80\x8a\x08"
    "\xff\xff\xff\xff\xff\xff\xff\x7f\x4a\xff\xff\xff\xff\x4b\xff\x4d\xff"
    "\xff\x4a\x00\x00\x01\x00\x4a\x00\x00\x00\x80\x65\x2e";
/* 2**63, protocol 2 (LONG1, 9 bytes) */
static const char P2_INT_2_63[] =
    "\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\x00\x2e";
/* -2**63 - 1, protocol 2 */
static const char P2_INT_MINUS_2_63_1[] =
    "\x80\x02\x8a\x09\xff\xff\xff\xff\xff\xff\xff\x7f\xff\x2e";
/* (1, 'a', None, True, 2.5), protocol 2 (MARK TUPLE) */
static const char P2_TUPLE5[] =
    "\x80\x02\x28\x4b\x01\x58\x01\x00\x00\x00\x61\x71\x00\x4e\x88\x47\x40"
    "\x04\x00\x00\x00\x00\x00\x00\x74\x71\x01\x2e";
/* {'a': 1, 'b': [1.5, 'x'], 'c': (1, 2)}, protocol 3 */
static const char P3_DICT[] =
    "\x80\x03\x7d\x71\x00\x28\x58\x01\x00\x00\x00\x61\x71\x01\x4b\x01\x58"
    "\x01\x00\x00\x00\x62\x71\x02\x5d\x71\x03\x28\x47\x3f\xf8\x00\x00\x00"
    "\x00\x00\x00\x58\x01\x00\x00\x00\x78\x71\x04\x65\x58\x01\x00\x00\x00"
    "\x63\x71\x05\x4b\x01\x4b\x02\x86\x71\x06\x75\x2e";
/* {'k': [None, True, False, -5, 1e100, 'h\u00e9\U0001f600', b'\x00\x01',
 * (), [], {}, frozenset()]}, protocol 5 */
static const char P5_MIX[] =
    "\x80\x05\x95\x34\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x8c\x01\x6b\x94"
    "\x5d\x94\x28\x4e\x88\x89\x4a\xfb\xff\xff\xff\x47\x54\xb2\x49\xad\x25"
    "\x94\xc3\x7d\x8c\x07\x68\xc3\xa9\xf0\x9f\x98\x80\x94\x43\x02\x00\x01"
    "\x94\x29\x5d\x94\x7d\x94\x28\x91\x94\x65\x73\x2e";
/* l = []; l.append(l), protocol 4 */
static const char P4_CYCLE_LIST[] =
    "\x80\x04\x95\x06\x00\x00\x00\x00\x00\x00\x00\x5d\x94\x68\x00\x61\x2e";
/* d = {}; d['a'] = d, protocol 4 */
static const char P4_CYCLE_DICT[] =
    "\x80\x04\x95\x0a\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x8c\x01\x61\x94"
    "\x68\x00\x73\x2e";
/* [1], protocol 0 and protocol 1 */
static const char P0_LIST[] = "\x28\x6c\x70\x30\x0a\x49\x31\x0a\x61\x2e";
static const char P1_LIST[] = "\x5d\x71\x00\x4b\x01\x61\x2e";

/* Every pickle above that decodes, for the prefix and trailing cases. */
static const struct {
    const char *p;
    size_t n;
} GOOD[] = {
#define G(x)                                                                  \
    { x, sizeof(x) - 1 }
    G(P2_BYTES),
    G(P2_EMPTY_BYTES),
    G(P3_BYTES),
    G(P2_BYTEARRAY),
    G(P2_EMPTY_BYTEARRAY),
    G(P2_BYTEARRAY_PY36),
    G(P2_EMPTY_BYTEARRAY_PY36),
    G(P3_BYTEARRAY),
    G(P4_BYTEARRAY),
    G(P5_BYTEARRAY),
    G(P2_SET),
    G(P3_SET),
    G(P2_FROZENSET),
    G(P2_EMPTY_FROZENSET),
    G(P4_SET),
    G(P4_FROZENSET),
    G(P2_MEMO),
    G(P4_MEMO),
    G(P4_INTS),
    G(P2_TUPLE5),
    G(P3_DICT),
    G(P5_MIX),
#undef G
};

static void test_python_bytes(void) {
    mp_val *v = NULL;
    MP_CHECK_OK(LOADS(&v, P2_BYTES));
    CU_ASSERT(bytes_are(v, "ab\xff", 3));
    mp_val_free(v);
    MP_CHECK_OK(LOADS(&v, P2_EMPTY_BYTES));
    CU_ASSERT(bytes_are(v, "", 0));
    mp_val_free(v);
    MP_CHECK_OK(LOADS(&v, P3_BYTES));
    CU_ASSERT(bytes_are(v, "ab", 2));
    mp_val_free(v);
    /* bytearray decodes to bytes, whichever form. */
    MP_CHECK_OK(LOADS(&v, P2_BYTEARRAY));
    CU_ASSERT(bytes_are(v, "a\xff", 2));
    mp_val_free(v);
    MP_CHECK_OK(LOADS(&v, P2_EMPTY_BYTEARRAY));
    CU_ASSERT(bytes_are(v, "", 0));
    mp_val_free(v);
    MP_CHECK_OK(LOADS(&v, P3_BYTEARRAY));
    CU_ASSERT(bytes_are(v, "ab", 2));
    mp_val_free(v);
    MP_CHECK_OK(LOADS(&v, P4_BYTEARRAY));
    CU_ASSERT(bytes_are(v, "ab", 2));
    mp_val_free(v);
    MP_CHECK_OK(LOADS(&v, P5_BYTEARRAY));
    CU_ASSERT(bytes_are(v, "ab", 2));
    mp_val_free(v);
}

/* Python 3.6 and 3.7 write a bytearray at protocol 2 as bytearray(str,
 * 'latin-1'), where 3.8 and later nest _codecs.encode. */
static void test_python36_bytearray(void) {
    mp_val *v = NULL;
    MP_CHECK_OK(LOADS(&v, P2_BYTEARRAY_PY36));
    CU_ASSERT(bytes_are(v, "a\xff", 2));
    mp_val_free(v);
    v = NULL;
    MP_CHECK_OK(LOADS(&v, P2_EMPTY_BYTEARRAY_PY36));
    CU_ASSERT(bytes_are(v, "", 0));
    mp_val_free(v);
    /* Any other encoding, or a code point past U+00FF, is refused. */
    REFUSED("\x80\x02\x63__builtin__\nbytearray\nX\x01\x00\x00\x00"
            "aX\x05\x00\x00\x00utf-8\x86R.",
            MP_EPROTO);
    REFUSED("\x80\x02\x63__builtin__\nbytearray\nX\x02\x00\x00\x00"
            "\xc4\x80X\x07\x00\x00\x00latin-1\x86R.",
            MP_EPROTO);
}

static mp_val *int_set(int a, int b) {
    mp_val *s = mp_val_new(MP_VAL_SET);
    mp_val *x = new_int(a);
    MP_CHECK_OK(mp_val_add(s, x));
    MP_CHECK_OK(mp_val_set_int(x, b));
    MP_CHECK_OK(mp_val_add(s, x));
    mp_val_free(x);
    return s;
}

static void test_python_sets(void) {
    mp_val *want = int_set(1, 2), *v = NULL;
    static const struct {
        const char *p;
        size_t n;
        mp_val_kind kind;
    } cases[] = {{P2_SET, LEN(P2_SET), MP_VAL_SET},
                 {P3_SET, LEN(P3_SET), MP_VAL_SET},
                 {P4_SET, LEN(P4_SET), MP_VAL_SET},
                 {P2_FROZENSET, LEN(P2_FROZENSET), MP_VAL_FROZENSET},
                 {P4_FROZENSET, LEN(P4_FROZENSET), MP_VAL_FROZENSET}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        MP_CHECK_OK(mp_val_loads(&v, cases[k].p, cases[k].n, NULL));
        CU_ASSERT_EQUAL(mp_val_kind_of(v), cases[k].kind);
        CU_ASSERT(mp_val_equal(v, want));
        mp_val_free(v);
    }
    MP_CHECK_OK(LOADS(&v, P2_EMPTY_FROZENSET));
    CU_ASSERT_EQUAL(mp_val_kind_of(v), MP_VAL_FROZENSET);
    CU_ASSERT_EQUAL(mp_val_len(v), 0);
    mp_val_free(v);
    /* Duplicates in ADDITEMS and in the REDUCE list are one item. */
    MP_CHECK_OK(LOADS(&v, "\x80\x04\x8f(K\x01G?\xf0\x00\x00\x00\x00\x00"
                          "\x00\x88K\x02\x90."));
    CU_ASSERT(mp_val_equal(v, want));
    mp_val_free(v);
    MP_CHECK_OK(LOADS(&v, "\x80\x02\x63__builtin__\nset\n](K\x01K\x02K\x01"
                          "e\x85R."));
    CU_ASSERT(mp_val_equal(v, want));
    mp_val_free(v);
    /* An unhashable item. */
    REFUSED("\x80\x04\x8f(]\x90.", MP_EPROTO);
    REFUSED("\x80\x04(]\x91.", MP_EPROTO);
    REFUSED("\x80\x02\x63__builtin__\nset\n](]e\x85R.", MP_EPROTO);
    /* set(x) for anything but a list, and ADDITEMS into a frozenset. */
    REFUSED("\x80\x02\x63__builtin__\nset\nK\x01\x85R.", MP_EPROTO);
    REFUSED("\x80\x04(\x91(K\x01\x90.", MP_EPROTO);
    mp_val_free(want);
}

/* x = [1, 2]; [x, x]: a memo reference decodes as an equal list. */
static void test_python_memo(void) {
    const char *p[] = {P2_MEMO, P4_MEMO};
    size_t n[] = {LEN(P2_MEMO), LEN(P4_MEMO)};
    for (int k = 0; k < 2; k++) {
        mp_val *v = NULL;
        MP_CHECK_OK(mp_val_loads(&v, p[k], n[k], NULL));
        CU_ASSERT_EQUAL(mp_val_len(v), 2);
        CU_ASSERT(mp_val_equal(mp_val_at(v, 0), mp_val_at(v, 1)));
        CU_ASSERT_EQUAL(mp_val_len(mp_val_at(v, 1)), 2);
        CU_ASSERT_EQUAL(int_of(mp_val_at(mp_val_at(v, 1), 1)), 2);
        /* Two values: changing one leaves the other. */
        MP_CHECK_OK(mp_val_push_int(mp_val_at(v, 0), 3));
        CU_ASSERT_EQUAL(mp_val_len(mp_val_at(v, 1)), 2);
        mp_val_free(v);
    }
}

static void test_python_ints(void) {
    static const int64_t want[] = {
        (int64_t)1 << 40, INT64_MIN, INT64_MAX, -1, 255, 65535, 65536,
        INT32_MIN};
    mp_val *v = NULL;
    MP_CHECK_OK(LOADS(&v, P4_INTS));
    CU_ASSERT_EQUAL(mp_val_len(v), 8);
    for (size_t k = 0; k < 8; k++)
        CU_ASSERT_EQUAL(int_of(mp_val_at(v, k)), want[k]);
    mp_val_free(v);
    REFUSED(P2_INT_2_63, MP_EOVERFLOW);
    REFUSED(P2_INT_MINUS_2_63_1, MP_EOVERFLOW);
    /* LONG1 of 0 bytes is 0; a long form of a small value is that value. */
    MP_CHECK_OK(LOADS(&v, "\x80\x02\x8a\x00."));
    CU_ASSERT_EQUAL(int_of(v), 0);
    mp_val_free(v);
    MP_CHECK_OK(LOADS(&v, "\x80\x02\x8a\x0c\xfe\xff\xff\xff\xff\xff\xff\xff"
                          "\xff\xff\xff\xff."));
    CU_ASSERT_EQUAL(int_of(v), -2);
    mp_val_free(v);
    /* LONG4: a small value, 2**2400 (as Python writes it), a length past
     * the end and a negative length. */
    MP_CHECK_OK(LOADS(&v, "\x80\x02\x8b\x02\x00\x00\x00\x00\x01."));
    CU_ASSERT_EQUAL(int_of(v), 256);
    mp_val_free(v);
    unsigned char big[2 + 1 + 4 + 301 + 1];
    memcpy(big, "\x80\x04\x8b\x2d\x01\x00\x00", 7);
    memset(big + 7, 0, 300);
    big[7 + 300] = 1;
    big[7 + 301] = '.';
    v = (mp_val *)big;
    MP_CHECK_RC(mp_val_loads(&v, big, sizeof big, NULL), MP_EOVERFLOW);
    CU_ASSERT_PTR_NULL(v);
    REFUSED("\x80\x02\x8b\xff\xff\xff\x7f\x00.", MP_EPROTO);
    REFUSED("\x80\x02\x8b\xff\xff\xff\xff\x00.", MP_EPROTO);
    /* A LONG1 whose length runs past the end. */
    REFUSED("\x80\x02\x8a\x09\x00\x00.", MP_EPROTO);
}

static void test_python_containers(void) {
    mp_val *v = NULL;
    MP_CHECK_OK(LOADS(&v, P2_TUPLE5));
    CU_ASSERT_EQUAL(mp_val_kind_of(v), MP_VAL_TUPLE);
    CU_ASSERT_EQUAL(mp_val_len(v), 5);
    CU_ASSERT_EQUAL(int_of(mp_val_at(v, 0)), 1);
    CU_ASSERT(str_is(mp_val_at(v, 1), "a"));
    CU_ASSERT_EQUAL(mp_val_kind_of(mp_val_at(v, 2)), MP_VAL_NONE);
    CU_ASSERT_EQUAL(mp_val_kind_of(mp_val_at(v, 3)), MP_VAL_BOOL);
    double f = 0;
    MP_CHECK_OK(mp_val_to_float(mp_val_at(v, 4), &f));
    CU_ASSERT_EQUAL(f, 2.5);
    mp_val_free(v);

    MP_CHECK_OK(LOADS(&v, P3_DICT));
    CU_ASSERT_EQUAL(mp_val_len(v), 3);
    CU_ASSERT_EQUAL(int_of(mp_val_get(v, "a")), 1);
    CU_ASSERT(str_is(mp_val_at(mp_val_get(v, "b"), 1), "x"));
    CU_ASSERT_EQUAL(mp_val_kind_of(mp_val_get(v, "c")), MP_VAL_TUPLE);
    CU_ASSERT_EQUAL(int_of(mp_val_at(mp_val_get(v, "c"), 1)), 2);
    mp_val_free(v);

    MP_CHECK_OK(LOADS(&v, P5_MIX));
    mp_val *l = mp_val_get(v, "k");
    CU_ASSERT_EQUAL(mp_val_len(l), 11);
    CU_ASSERT_EQUAL(int_of(mp_val_at(l, 3)), -5);
    MP_CHECK_OK(mp_val_to_float(mp_val_at(l, 4), &f));
    CU_ASSERT_EQUAL(f, 1e100);
    CU_ASSERT(str_is(mp_val_at(l, 5), "h\xc3\xa9\xf0\x9f\x98\x80"));
    CU_ASSERT(bytes_are(mp_val_at(l, 6), "\x00\x01", 2));
    CU_ASSERT_EQUAL(mp_val_kind_of(mp_val_at(l, 7)), MP_VAL_TUPLE);
    CU_ASSERT_EQUAL(mp_val_kind_of(mp_val_at(l, 8)), MP_VAL_LIST);
    CU_ASSERT_EQUAL(mp_val_kind_of(mp_val_at(l, 9)), MP_VAL_DICT);
    CU_ASSERT_EQUAL(mp_val_kind_of(mp_val_at(l, 10)), MP_VAL_FROZENSET);
    mp_val_free(v);

    /* BINUNICODE8, BINBYTES8, BINUNICODE, BINBYTES, SHORT_BINUNICODE,
     * EMPTY_DICT + SETITEM, LIST and DICT (the MARK forms), POP,
     * POP_MARK, LONG_BINPUT / LONG_BINGET. */
    MP_CHECK_OK(LOADS(&v, "\x80\x04(\x8d\x02\x00\x00\x00\x00\x00\x00\x00"
                          "ab"
                          "\x8e\x01\x00\x00\x00\x00\x00\x00\x00z"
                          "X\x00\x00\x00\x00"
                          "B\x01\x00\x00\x00y\x8c\x00"
                          "}\x8c\x01kK\x07s(K\x01l(\x8c\x01"
                          "aK\x01"
                          "d"
                          "K\x09"
                          "0(K\x01K\x02"
                          "1"
                          "r\x00\x00\x00\x00j\x00\x00\x00\x00t."));
    CU_ASSERT_EQUAL(mp_val_len(v), 9);
    CU_ASSERT(str_is(mp_val_at(v, 0), "ab"));
    CU_ASSERT(bytes_are(mp_val_at(v, 1), "z", 1));
    CU_ASSERT(str_is(mp_val_at(v, 2), ""));
    CU_ASSERT(bytes_are(mp_val_at(v, 3), "y", 1));
    CU_ASSERT(str_is(mp_val_at(v, 4), ""));
    CU_ASSERT_EQUAL(int_of(mp_val_get(mp_val_at(v, 5), "k")), 7);
    CU_ASSERT_EQUAL(int_of(mp_val_at(mp_val_at(v, 6), 0)), 1);
    CU_ASSERT_EQUAL(int_of(mp_val_get(mp_val_at(v, 7), "a")), 1);
    CU_ASSERT(mp_val_equal(mp_val_at(v, 8), mp_val_at(v, 7)));
    mp_val_free(v);
}

/* Python batches APPENDS, SETITEMS and ADDITEMS by 1000: a tuple of a
 * list, a dict and a set of 2500 items each, written as Python 3.11 does at
 * protocol 4 (without FRAME and MEMOIZE, which change nothing here). */
static size_t put_batches(unsigned char *p, size_t at, unsigned char empty,
                          unsigned char op, int n, bool pairs) {
    p[at++] = empty;
    for (int b = 0; b < n; b += 1000) {
        p[at++] = '(';
        for (int i = b; i < n && i < b + 1000; i++) {
            p[at++] = 'M';
            p[at++] = (unsigned char)i;
            p[at++] = (unsigned char)(i >> 8);
            if (pairs) {
                p[at++] = 'K';
                p[at++] = (unsigned char)(i & 0x7f);
            }
        }
        p[at++] = op;
    }
    return at;
}

static void test_python_batches(void) {
    enum { N = 2500 };
    unsigned char *p = malloc(16 + (size_t)N * 12);
    size_t at = 0;
    p[at++] = 0x80;
    p[at++] = 4;
    at = put_batches(p, at, ']', 'e', N, false);
    at = put_batches(p, at, '}', 'u', N, true);
    at = put_batches(p, at, 0x8f, 0x90, N, false);
    p[at++] = 0x87; /* TUPLE3 */
    p[at++] = '.';
    mp_val *v = NULL;
    MP_CHECK_OK(mp_val_loads(&v, p, at, NULL));
    CU_ASSERT_EQUAL(mp_val_len(v), 3);
    mp_val *l = mp_val_at(v, 0), *d = mp_val_at(v, 1), *s = mp_val_at(v, 2);
    CU_ASSERT_EQUAL(mp_val_len(l), N);
    CU_ASSERT_EQUAL(mp_val_len(d), N);
    CU_ASSERT_EQUAL(mp_val_len(s), N);
    CU_ASSERT_EQUAL(int_of(mp_val_at(l, N - 1)), N - 1);
    CU_ASSERT_EQUAL(int_of(mp_val_value_at(d, 1999)), 1999 & 0x7f);
    mp_val *x = new_int(2222);
    CU_ASSERT(mp_val_has(s, x));
    CU_ASSERT_EQUAL(int_of(mp_val_get_key(d, x)), 2222 & 0x7f);
    mp_val_free(x);
    /* What dumps writes for them (its own batches) reads back the same. */
    mp_val *r = round_trip(v, 4);
    CU_ASSERT(mp_val_equal(r, v));
    mp_val_free(r);
    mp_val_free(v);
    free(p);
}

/* ---- hostile pickles ---- */

/* A pickle calling os.system("touch <marker>") (GLOBAL, protocol 2, and
 * STACK_GLOBAL, protocol 4) is refused and the marker never appears. */
static void test_hostile_system(void) {
    char marker[512], cmd[600];
    snprintf(marker, sizeof marker, "%s/value-pwned", mp_test_tmpdir());
    snprintf(cmd, sizeof cmd, "touch %s", marker);
    size_t cl = strlen(cmd);
    unsigned char p[1024];
    for (int form = 0; form < 4; form++) {
        size_t at = 0;
        const char *mod = form < 2 ? "os" : "builtins";
        const char *fn = form < 2 ? "system" : "eval";
        p[at++] = 0x80;
        p[at++] = form % 2 ? 4 : 2;
        if (form % 2 == 0) {
            at += (size_t)snprintf((char *)p + at, 64, "c%s\n%s\n", mod, fn);
        } else {
            p[at++] = 0x8c;
            p[at++] = (unsigned char)strlen(mod);
            memcpy(p + at, mod, strlen(mod));
            at += strlen(mod);
            p[at++] = 0x8c;
            p[at++] = (unsigned char)strlen(fn);
            memcpy(p + at, fn, strlen(fn));
            at += strlen(fn);
            p[at++] = 0x93;
        }
        p[at++] = 'X';
        p[at++] = (unsigned char)cl;
        p[at++] = (unsigned char)(cl >> 8);
        p[at++] = 0;
        p[at++] = 0;
        memcpy(p + at, cmd, cl);
        at += cl;
        p[at++] = 0x85;
        p[at++] = 'R';
        p[at++] = '.';
        mp_val *v = (mp_val *)p;
        MP_CHECK_RC(mp_val_loads(&v, p, at, NULL), MP_EPROTO);
        CU_ASSERT_PTR_NULL(v);
    }
    FILE *f = mp_test_fopen(marker, "r");
    CU_ASSERT_PTR_NULL(f);
    if (f) {
        fclose(f);
        remove(marker);
    }
    /* Near misses of the allowed globals. */
    REFUSED("\x80\x02\x63__builtin__\nbytesx\n).", MP_EPROTO);
    REFUSED("\x80\x02\x63_codecs\nencode\n\x63_codecs\ndecode\n.", MP_EPROTO);
    REFUSED("\x80\x02\x63"
            "builtins\nset",
            MP_EPROTO);
    REFUSED("\x80\x02\x63__builtin__\nset\n.", MP_EPROTO); /* a global alone */
    REFUSED("\x80\x02](\x63__builtin__\nset\ne.", MP_EPROTO);
    REFUSED("\x80\x02}(K\x01\x63__builtin__\nset\nu.", MP_EPROTO);
    REFUSED("\x80\x04\x8c\x08"
            "builtins\x8c\x03setK\x01\x93.",
            MP_EPROTO);
    /* REDUCE of a non-global, of encode with another codec or a wide
     * char, of bytes with two arguments. */
    REFUSED("\x80\x02K\x01)R.", MP_EPROTO);
    REFUSED("\x80\x02\x63_codecs\nencode\nX\x01\x00\x00\x00"
            "aX\x05\x00\x00\x00"
            "utf-8\x86R.",
            MP_EPROTO);
    REFUSED("\x80\x02\x63_codecs\nencode\nX\x02\x00\x00\x00\xc4\x80X\x06\x00"
            "\x00\x00latin1\x86R.",
            MP_EPROTO);
    REFUSED("\x80\x03\x63\x62uiltins\nbytes\nC\x01\x61"
            "C\x01\x62\x86R.",
            MP_EPROTO);
    REFUSED("\x80\x03\x63\x62uiltins\nbytes\nK\x01\x85R.", MP_EPROTO);
    REFUSED("\x80\x03\x63\x62uiltins\nbytes\n]R.", MP_EPROTO);
}

static void test_hostile_opcodes(void) {
    /* BUILD, INST, OBJ, NEWOBJ, NEWOBJ_EX, PERSID, BINPERSID, EXT1/2/4,
     * NEXT_BUFFER, READONLY_BUFFER, DUP, and the text forms. */
    REFUSED("\x80\x02}}b.", MP_EPROTO);
    REFUSED("\x80\x02(ios\nsystem\n.", MP_EPROTO);
    REFUSED("\x80\x02(\x63__builtin__\nset\no.", MP_EPROTO);
    REFUSED("\x80\x02\x63__builtin__\nset\n)\x81.", MP_EPROTO);
    REFUSED("\x80\x04\x63__builtin__\nset\n)}\x92.", MP_EPROTO);
    REFUSED("\x80\x02Pabc\n.", MP_EPROTO);
    REFUSED("\x80\x02K\x01Q.", MP_EPROTO);
    REFUSED("\x80\x02\x82\x01.", MP_EPROTO);
    REFUSED("\x80\x02\x83\x01\x00.", MP_EPROTO);
    REFUSED("\x80\x02\x84\x01\x00\x00\x00.", MP_EPROTO);
    REFUSED("\x80\x05\x97.", MP_EPROTO);
    REFUSED("\x80\x05\x97\x98.", MP_EPROTO);
    REFUSED("\x80\x02K\x01\x32\x86.", MP_EPROTO);
    REFUSED("\x80\x02I1\n.", MP_EPROTO);
    REFUSED("\x80\x02S'a'\n.", MP_EPROTO);
    REFUSED("\x80\x02V\x61\n.", MP_EPROTO);
    REFUSED("\x80\x02\x46\x31.0\n.", MP_EPROTO);
    REFUSED("\x80\x02L1L\n.", MP_EPROTO);
    REFUSED("\x80\x02g0\n.", MP_EPROTO);
    REFUSED("\x80\x02p0\n.", MP_EPROTO);
    REFUSED("\x80\x02U\x01\x61.", MP_EPROTO); /* SHORT_BINSTRING */
    REFUSED("\x80\x02T\x01\x00\x00\x00\x61.", MP_EPROTO);
    REFUSED("\x80\x02\xff.", MP_EPROTO);
    REFUSED("\x80\x02\x00.", MP_EPROTO);
}

static void test_hostile_framing(void) {
    REFUSED("", MP_EPROTO);
    REFUSED("\x80", MP_EPROTO);
    REFUSED(".", MP_EPROTO);
    REFUSED("N.", MP_EPROTO);          /* no PROTO */
    REFUSED("\x80\x04", MP_EPROTO);    /* no STOP */
    REFUSED("\x80\x04.", MP_EPROTO);   /* nothing */
    REFUSED("\x80\x04NN.", MP_EPROTO); /* two values */
    REFUSED("\x80\x04N.N", MP_EPROTO); /* trailing bytes */
    REFUSED("\x80\x04N.\x00", MP_EPROTO);
    REFUSED("\x80\x04(N.", MP_EPROTO); /* a mark left */
    REFUSED("\x80\x04(.", MP_EPROTO);
    REFUSED("\x80\x01N.", MP_EPROTO);
    REFUSED("\x80\x00N.", MP_EPROTO);
    REFUSED("\x80\x06N.", MP_EPROTO);
    REFUSED(P0_LIST, MP_EPROTO);
    REFUSED(P1_LIST, MP_EPROTO);
    REFUSED("\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xffN.", MP_EPROTO);
    REFUSED("\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00N.", MP_EPROTO);
    /* Stack underflow everywhere. */
    REFUSED("\x80\x04"
            "a.",
            MP_EPROTO);
    REFUSED("\x80\x04]a.", MP_EPROTO);
    REFUSED("\x80\x04Ns.", MP_EPROTO);
    REFUSED("\x80\x04}Ns.", MP_EPROTO);
    REFUSED("\x80\x04"
            "e.",
            MP_EPROTO);
    REFUSED("\x80\x04(e.", MP_EPROTO);
    REFUSED("\x80\x04u.", MP_EPROTO);
    REFUSED("\x80\x04}(Nu.", MP_EPROTO); /* odd SETITEMS */
    REFUSED("\x80\x04(Nd.", MP_EPROTO);  /* odd DICT */
    REFUSED("\x80\x04\x85.", MP_EPROTO);
    REFUSED("\x80\x04N\x86.", MP_EPROTO);
    REFUSED("\x80\x04N(\x85.", MP_EPROTO); /* TUPLE1 across a mark */
    REFUSED("\x80\x04t.", MP_EPROTO);
    REFUSED("\x80\x04R.", MP_EPROTO);
    REFUSED("\x80\x04\x93.", MP_EPROTO);
    REFUSED("\x80\x04"
            "0.",
            MP_EPROTO);
    REFUSED("\x80\x04"
            "1.",
            MP_EPROTO);
    REFUSED("\x80\x04\x94.", MP_EPROTO);
    REFUSED("\x80\x04]N(e.", MP_EPROTO); /* APPENDS into None */
    REFUSED("\x80\x04K\x01(K\x02"
            "e.",
            MP_EPROTO);
    REFUSED("\x80\x04](K\x02\x90.", MP_EPROTO); /* ADDITEMS into a list */
    REFUSED("\x80\x04\x8f(K\x02"
            "e.",
            MP_EPROTO);                        /* APPENDS into a set */
    REFUSED("\x80\x04)K\x01\x61.", MP_EPROTO); /* APPEND to a tuple */
    REFUSED("\x80\x04](K\x01\x8f\x90.", MP_EPROTO);
    /* STACK_GLOBAL of non-strings. */
    REFUSED("\x80\x04K\x01K\x02\x93.", MP_EPROTO);
    /* Invalid UTF-8 in a str; a str of one surrogate is fine. */
    REFUSED("\x80\x04\x8c\x01\xff.", MP_EPROTO);
    REFUSED("\x80\x04X\x02\x00\x00\x00\xc0\x80.", MP_EPROTO);
    mp_val *v = NULL;
    MP_CHECK_OK(LOADS(&v, "\x80\x04\x8c\x03\xed\xb2\x80."));
    CU_ASSERT_EQUAL(mp_val_len(v), 3);
    mp_val_free(v);
}

/* Lengths past the end are refused before anything is allocated for them
 * (a 2^62-byte allocation would fail or, worse, succeed). */
static void test_hostile_lengths(void) {
    REFUSED("\x80\x04X\xff\xff\xff\xff\x61.", MP_EPROTO);
    REFUSED("\x80\x04X\x05\x00\x00\x00\x61.", MP_EPROTO);
    REFUSED("\x80\x04\x8d\x00\x00\x00\x00\x00\x00\x00\x40\x61.", MP_EPROTO);
    REFUSED("\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff\x61.", MP_EPROTO);
    REFUSED("\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x00\x40\x61.", MP_EPROTO);
    REFUSED("\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\xff.", MP_EPROTO);
    REFUSED("\x80\x05\x96\x00\x00\x00\x00\x00\x00\x00\x40\x61.", MP_EPROTO);
    REFUSED("\x80\x04\x42\xff\xff\xff\xff\x61.", MP_EPROTO);
    REFUSED("\x80\x04\x43\x05\x61.", MP_EPROTO);
    REFUSED("\x80\x04\x8c\x05\x61.", MP_EPROTO);
    REFUSED("\x80\x04\x8a\xff\x61.", MP_EPROTO);
    REFUSED("\x80\x04\x8b\x00\x00\x00\x40\x61.", MP_EPROTO);
    REFUSED("\x80\x02\x63os", MP_EPROTO); /* a GLOBAL line without end */
}

static void test_hostile_memo(void) {
    REFUSED("\x80\x04h\x00.", MP_EPROTO);          /* empty memo */
    REFUSED("\x80\x04K\x01\x94h\x01.", MP_EPROTO); /* out of range */
    REFUSED("\x80\x04K\x01\x94j\xff\xff\xff\xff.", MP_EPROTO);
    REFUSED("\x80\x02K\x01q\x05.", MP_EPROTO); /* sparse BINPUT */
    REFUSED("\x80\x02K\x01r\x00\x00\x00\x10.", MP_EPROTO);
    REFUSED("\x80\x04\x94.", MP_EPROTO);   /* nothing to memo */
    REFUSED("\x80\x04(q\x00.", MP_EPROTO); /* memo of a mark */
    /* BINPUT over an index already set is fine (CPython can write it). */
    mp_val *v = NULL;
    MP_CHECK_OK(LOADS(&v, "\x80\x02K\x01q\x00K\x02q\x00h\x00\x87."));
    CU_ASSERT_EQUAL(int_of(mp_val_at(v, 2)), 2);
    mp_val_free(v);
}

static void test_hostile_cycles(void) {
    REFUSED(P4_CYCLE_LIST, MP_EPROTO);
    REFUSED(P4_CYCLE_DICT, MP_EPROTO);
    /* Through a tuple: l = []; l.append((l,)) as Python 3.11 writes it. */
    REFUSED("\x80\x04]\x94h\x00\x85\x94"
            "a.",
            MP_EPROTO);
    /* A set's self-reference, within ADDITEMS. */
    REFUSED("\x80\x04\x8f\x94(h\x00\x90.", MP_EPROTO);
    /* A list or dict made by the MARK forms (LIST, DICT) that changes
     * after a reference copied it: a cycle too. */
    REFUSED("\x80\x02(lq\x00h\x00"
            "a.",
            MP_EPROTO);
    REFUSED("\x80\x02(dq\x00\x8c\x01"
            "ah\x00s.",
            MP_EPROTO);
    REFUSED("\x80\x02(lq\x00(h\x00"
            "e.",
            MP_EPROTO);
}

/* 10 000 nested lists, the nesting depth limit and the item and byte
 * limits; a memo reference copied past them. */
static void test_hostile_limits(void) {
    enum { DEEP = 10000 };
    unsigned char *p = malloc(2 * DEEP + 8);
    size_t at = 0;
    p[at++] = 0x80;
    p[at++] = 4;
    for (int i = 0; i < DEEP; i++)
        p[at++] = ']';
    for (int i = 1; i < DEEP; i++)
        p[at++] = 'a';
    p[at++] = '.';
    mp_val *v = (mp_val *)p;
    MP_CHECK_RC(mp_val_loads(&v, p, at, NULL), MP_EMSGSIZE);
    CU_ASSERT_PTR_NULL(v);
    /* The same with tuples (MARK ... TUPLE) and dicts (SETITEM). */
    at = 2;
    for (int i = 0; i < DEEP; i++)
        p[at++] = '(';
    for (int i = 0; i < DEEP; i++)
        p[at++] = 't';
    p[at++] = '.';
    MP_CHECK_RC(mp_val_loads(&v, p, at, NULL), MP_EMSGSIZE);
    /* Exactly the limit: [[[1]]] is 3 deep. */
    mp_val_limits lim = {3, 0, 0};
    MP_CHECK_OK(LOADS_LIM(&v, "\x80\x04]]]K\x01\x61\x61\x61.", &lim));
    mp_val_free(v);
    MP_CHECK_RC(LOADS_LIM(&v, "\x80\x04]]]]K\x01\x61\x61\x61\x61.", &lim),
                MP_EMSGSIZE);
    MP_CHECK_RC(LOADS_LIM(&v, "\x80\x04((((tttt.", &lim), MP_EMSGSIZE);
    MP_CHECK_RC(LOADS_LIM(&v,
                          "\x80\x04}\x8c\x01k}\x8c\x01k}\x8c\x01k]"
                          "sss.",
                          &lim),
                MP_EMSGSIZE);
    /* Deep through the memo: ((()),) memoized, then put in two lists. */
    MP_CHECK_RC(LOADS_LIM(&v,
                          "\x80\x04(((ttt\x94]]h\x00"
                          "aa0h\x00.",
                          &lim),
                MP_EMSGSIZE);
    lim.max_depth = 1;
    MP_CHECK_OK(LOADS_LIM(&v, "\x80\x04K\x01.", &lim));
    mp_val_free(v);
    MP_CHECK_OK(LOADS_LIM(&v, "\x80\x04].", &lim));
    mp_val_free(v);
    MP_CHECK_RC(LOADS_LIM(&v, "\x80\x04]]a.", &lim), MP_EMSGSIZE);
    free(p);

    /* Items: one tuple of 4 items referenced 300 times is 1 500 values. */
    enum { REFS = 300 };
    p = malloc(32 + 2 * REFS);
    at = 0;
    static const char head[] = "\x80\x04(K\x01K\x02K\x03K\x04t\x94(";
    memcpy(p, head, LEN(head));
    at = LEN(head);
    for (int i = 0; i < REFS; i++) {
        p[at++] = 'h';
        p[at++] = 0;
    }
    p[at++] = 'l';
    p[at++] = '0'; /* POP the list of copies */
    p[at++] = '.';
    mp_val_limits items = {0, 1000, 0};
    MP_CHECK_RC(mp_val_loads(&v, p, at, &items), MP_EMSGSIZE);
    CU_ASSERT_PTR_NULL(v);
    items.max_items = 2000;
    MP_CHECK_OK(mp_val_loads(&v, p, at, &items));
    CU_ASSERT_EQUAL(mp_val_kind_of(v), MP_VAL_TUPLE);
    CU_ASSERT_EQUAL(mp_val_len(v), 4);
    mp_val_free(v);
    free(p);
    /* Bytes: 1000 bytes referenced 10 times is 11 000 bytes. */
    p = malloc(2000);
    memcpy(p, "\x80\x04\x42\xe8\x03\x00\x00", 7);
    memset(p + 7, 'b', 1000);
    at = 1007;
    p[at++] = 0x94;
    p[at++] = '(';
    for (int i = 0; i < 10; i++) {
        p[at++] = 'h';
        p[at++] = 0;
    }
    p[at++] = 't';
    p[at++] = 0x86;
    p[at++] = '.';
    mp_val_limits bytes = {0, 0, 10000};
    MP_CHECK_RC(mp_val_loads(&v, p, at, &bytes), MP_EMSGSIZE);
    bytes.max_bytes = 11000;
    MP_CHECK_OK(mp_val_loads(&v, p, at, &bytes));
    CU_ASSERT_EQUAL(mp_val_len(mp_val_at(v, 1)), 10);
    mp_val_free(v);
    /* A single string past the byte limit, and one at it. */
    p[1007] = '.';
    bytes.max_bytes = 999;
    MP_CHECK_RC(mp_val_loads(&v, p, 1008, &bytes), MP_EMSGSIZE);
    bytes.max_bytes = 1000;
    MP_CHECK_OK(mp_val_loads(&v, p, 1008, &bytes));
    mp_val_free(v);
    free(p);
    /* Marks count as items: many marks cannot grow without bound. */
    p = malloc(5000);
    p[0] = 0x80;
    p[1] = 4;
    memset(p + 2, '(', 4000);
    p[4002] = '.';
    mp_val_limits few = {0, 100, 0};
    MP_CHECK_RC(mp_val_loads(&v, p, 4003, &few), MP_EMSGSIZE);
    free(p);
}

/* NaN keys: each NaN is a key of its own (NaN equals nothing), and 60 000
 * of them in a dict or a set decode in linear time, not quadratic (as
 * Python since 3.10, which hashes a NaN by its identity). */
static void test_hostile_nan_keys(void) {
    enum { N = 60000 };
    static const unsigned char nan[9] = {'G', 0x7f, 0xf8, 0, 0, 0, 0, 0, 0};
    unsigned char *p = malloc(8 + (size_t)N * 11);
    for (int form = 0; form < 2; form++) {
        size_t at = 0;
        p[at++] = 0x80;
        p[at++] = 4;
        p[at++] = form ? 0x8f : '}';
        p[at++] = '(';
        for (int i = 0; i < N; i++) {
            memcpy(p + at, nan, sizeof nan);
            at += sizeof nan;
            if (!form) {
                p[at++] = 'K';
                p[at++] = 1;
            }
        }
        p[at++] = form ? 0x90 : 'u';
        p[at++] = '.';
        int64_t t0 = mp_test_now_ms();
        mp_val *v = NULL;
        MP_CHECK_OK(mp_val_loads(&v, p, at, NULL));
        int64_t ms = mp_test_now_ms() - t0;
        CU_ASSERT_EQUAL(mp_val_len(v), N);
        /* Quadratic took 15 s here; linear, milliseconds. */
        if (ms > 8000)
            fprintf(stderr, "%d NaN keys took %lld ms\n", N, (long long)ms);
        CU_ASSERT(ms <= 8000);
        /* The same NaN is found; another NaN is not. */
        mp_val *first = form ? mp_val_at(v, 0) : (mp_val *)mp_val_key_at(v, 0);
        mp_val *other = new_float(NAN);
        if (form) {
            CU_ASSERT(mp_val_has(v, first));
            CU_ASSERT(!mp_val_has(v, other));
        } else {
            CU_ASSERT_PTR_EQUAL(mp_val_get_key(v, first),
                                mp_val_value_at(v, 0));
            CU_ASSERT_PTR_NULL(mp_val_get_key(v, other));
        }
        mp_val_free(other);
        mp_val_free(v);
    }
    free(p);
}

/* The inverse of value.c's mix (splitmix64's finalizer), to choose ints
 * whose hashes share their low bits. */
static uint64_t unshift(uint64_t y, unsigned s) {
    uint64_t x = y;
    for (unsigned i = 0; i < 64 / s + 1; i++)
        x = y ^ (x >> s);
    return x;
}
static uint64_t inverse(uint64_t a) { /* of an odd a, modulo 2^64 */
    uint64_t x = a;
    for (int i = 0; i < 6; i++)
        x *= 2 - a * x;
    return x;
}
static uint64_t unmix(uint64_t z) {
    z = unshift(z, 31) * inverse(0x94d049bb133111ebull);
    z = unshift(z, 27) * inverse(0xbf58476d1ce4e5b9ull);
    return unshift(z, 30);
}

/* 60 000 int keys whose hashes share their low 24 bits decode in linear
 * time: the index's probes use every bit of the hash. */
static void test_hostile_int_keys(void) {
    enum { N = 60000 };
    unsigned char *p = malloc(8 + (size_t)N * 12);
    size_t at = 0;
    p[at++] = 0x80;
    p[at++] = 4;
    p[at++] = '}';
    p[at++] = '(';
    for (uint64_t j = 1; j <= N; j++) {
        uint64_t i = unmix(j << 24);
        p[at++] = 0x8a; /* LONG1, 8 bytes */
        p[at++] = 8;
        for (int b = 0; b < 8; b++)
            p[at++] = (unsigned char)(i >> (8 * b));
        p[at++] = 'K';
        p[at++] = 1;
    }
    p[at++] = 'u';
    p[at++] = '.';
    int64_t t0 = mp_test_now_ms();
    mp_val *v = NULL;
    MP_CHECK_OK(mp_val_loads(&v, p, at, NULL));
    int64_t ms = mp_test_now_ms() - t0;
    CU_ASSERT_EQUAL(mp_val_len(v), N);
    /* Probing one run took 12 s here; now milliseconds. */
    if (ms > 8000)
        fprintf(stderr, "%d int keys took %lld ms\n", N, (long long)ms);
    CU_ASSERT(ms <= 8000);
    size_t bad = 0;
    for (size_t k = 0; k < N; k += 97)
        bad += mp_val_get_key(v, mp_val_key_at(v, k)) != mp_val_value_at(v, k);
    CU_ASSERT_EQUAL(bad, 0);
    mp_val_free(v);
    free(p);
}

/* 65 536 bytes keys that all shared two hashes under the hash str and
 * bytes had before SipHash (words w and w' with mix(w') = mix(w) ^ 2^63,
 * one of each pair per 8 bytes) decode in linear time. */
static uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void test_hostile_bytes_keys(void) {
    enum { WORDS = 16, N = 1 << WORDS, KEY = 8 * WORDS };
    uint64_t pair[WORDS][2];
    for (int k = 0; k < WORDS; k++) {
        pair[k][0] = 0x0101010101010101ull * (uint64_t)(k + 1);
        pair[k][1] = unmix(mix(pair[k][0]) ^ (1ull << 63));
    }
    unsigned char *p = malloc(8 + (size_t)N * (KEY + 3));
    size_t at = 0;
    p[at++] = 0x80;
    p[at++] = 4;
    p[at++] = '}';
    p[at++] = '(';
    for (unsigned bits = 0; bits < N; bits++) {
        p[at++] = 'C'; /* SHORT_BINBYTES */
        p[at++] = KEY;
        for (int k = 0; k < WORDS; k++)
            for (int b = 0; b < 8; b++)
                p[at++] = (unsigned char)(pair[k][(bits >> k) & 1] >> (8 * b));
        p[at++] = 'N';
    }
    p[at++] = 'u';
    p[at++] = '.';
    int64_t t0 = mp_test_now_ms();
    mp_val *v = NULL;
    MP_CHECK_OK(mp_val_loads(&v, p, at, NULL));
    int64_t ms = mp_test_now_ms() - t0;
    CU_ASSERT_EQUAL(mp_val_len(v), N);
    /* It took 42 s here; now 150 ms. */
    if (ms > 8000)
        fprintf(stderr, "%d bytes keys took %lld ms\n", N, (long long)ms);
    CU_ASSERT(ms <= 8000);
    size_t bad = 0;
    for (size_t k = 0; k < N; k += 61)
        bad += mp_val_get_key(v, mp_val_key_at(v, k)) != mp_val_value_at(v, k);
    CU_ASSERT_EQUAL(bad, 0);
    mp_val_free(v);
    free(p);
}

/* 30 000 tuple keys (a, b), and as many frozenset keys {a, b}, that all
 * shared one hash under the hashes before SipHash (b chosen for a) decode
 * in linear time (60 000 took 59 s and 133 s here; now milliseconds). */
static void test_hostile_tuple_keys(void) {
    enum { N = 30000 };
    const uint64_t target = 0x1234567890abcdefull;
    unsigned char *p = malloc(8 + (size_t)N * 23);
    for (int form = 0; form < 2; form++) {
        size_t at = 0;
        p[at++] = 0x80;
        p[at++] = 4;
        p[at++] = '}';
        p[at++] = '(';
        for (uint64_t a = 1; a <= N; a++) {
            uint64_t b;
            if (!form) { /* h = mix(mix(h0 ^ mix(a)) ^ mix(b)) + 1 */
                uint64_t h1 = mix((0x7475706c65ull + 2) ^ mix(a));
                b = unmix(unmix(target - 1) ^ h1);
            } else { /* h = mix(F + mix(mix(a)) + mix(mix(b))) */
                b = unmix(unmix(target - 0x66726f7aull - mix(mix(a))));
                p[at++] = '(';
            }
            uint64_t ab[2] = {a, b};
            for (int k = 0; k < 2; k++) {
                p[at++] = 0x8a; /* LONG1, 8 bytes */
                p[at++] = 8;
                for (int i = 0; i < 8; i++)
                    p[at++] = (unsigned char)(ab[k] >> (8 * i));
            }
            p[at++] = form ? 0x91 : 0x86; /* FROZENSET, TUPLE2 */
            p[at++] = 'N';
        }
        p[at++] = 'u';
        p[at++] = '.';
        int64_t t0 = mp_test_now_ms();
        mp_val *v = NULL;
        MP_CHECK_OK(mp_val_loads(&v, p, at, NULL));
        int64_t ms = mp_test_now_ms() - t0;
        CU_ASSERT_EQUAL(mp_val_len(v), N);
        if (ms > 8000)
            fprintf(stderr, "%d %s keys took %lld ms\n", N,
                    form ? "frozenset" : "tuple", (long long)ms);
        CU_ASSERT(ms <= 8000);
        size_t bad = 0;
        for (size_t k = 0; k < N; k += 61)
            bad += mp_val_get_key(v, mp_val_key_at(v, k)) !=
                   mp_val_value_at(v, k);
        CU_ASSERT_EQUAL(bad, 0);
        mp_val_free(v);
    }
    free(p);
}

static void test_hostile_unhashable(void) {
    REFUSED("\x80\x04}]K\x01s.", MP_EPROTO);  /* list key */
    REFUSED("\x80\x04}(}K\x01u.", MP_EPROTO); /* dict key */
    REFUSED("\x80\x04(\x8f\x94K\x01"
            "d.",
            MP_EPROTO);                               /* set key */
    REFUSED("\x80\x04}K\x01]\x85K\x01s.", MP_EPROTO); /* (list,) key */
    mp_val *v = NULL;
    /* A frozenset and a tuple of scalars are keys. */
    MP_CHECK_OK(LOADS(&v, "\x80\x04}((K\x01\x91K\x01K\x01K\x02\x86K\x02u."));
    CU_ASSERT_EQUAL(mp_val_len(v), 2);
    mp_val_free(v);
}

/* Every prefix of a valid pickle fails cleanly; every one of them with one
 * byte changed decodes or fails, but never crashes or leaks. */
static void test_truncated(void) {
    for (size_t k = 0; k < sizeof GOOD / sizeof *GOOD; k++) {
        size_t n = GOOD[k].n;
        unsigned char *copy = malloc(n);
        memcpy(copy, GOOD[k].p, n);
        mp_val *v = NULL;
        MP_CHECK_OK(mp_val_loads(&v, copy, n, NULL));
        mp_val_free(v);
        size_t bad = 0;
        for (size_t len = 0; len < n; len++) {
            /* A copy of just the prefix, so ASan sees any read past it. */
            unsigned char *pre = malloc(len ? len : 1);
            memcpy(pre, copy, len);
            v = (mp_val *)pre;
            int rc = mp_val_loads(&v, pre, len, NULL);
            bad += rc == 0 || v != NULL;
            free(pre);
        }
        CU_ASSERT_EQUAL(bad, 0);
        for (size_t at = 0; at < n; at++) {
            unsigned char keep = copy[at];
            copy[at] ^= 0x5a;
            v = NULL;
            if (mp_val_loads(&v, copy, n, NULL) == 0) {
                mp_buf b = {0};
                mp_val *again = NULL;
                CU_ASSERT_EQUAL(mp_val_dumps(v, 5, &b), 0);
                CU_ASSERT_EQUAL(mp_val_loads(&again, b.data, b.len, NULL), 0);
                mp_buf_free(&b);
                mp_val_free(again);
            }
            CU_ASSERT(v == NULL || mp_val_kind_of(v) <= MP_VAL_FROZENSET);
            mp_val_free(v);
            copy[at] = keep;
        }
        free(copy);
    }
}

/* ---- transports ---- */

/* Child: receives a value on conn 0, adds {"child": True}, sends it back;
 * exits 0 when all went well. */
static int t_conn_echo(mp_call *c) {
    mp_conn *conn = mp_arg_conn(mp_call_arg(c, 0));
    mp_val *v = NULL;
    int rc = mp_conn_recv_val(conn, &v, BIG_TIMEOUT);
    if (rc)
        return 10;
    if (mp_val_put_bool(v, "child", true)) {
        mp_val_free(v);
        return 11;
    }
    rc = mp_conn_send_val(conn, v);
    mp_val_free(v);
    if (rc)
        return 12;
    /* A message that is no pickle: the parent's recv_val is MP_EPROTO. */
    return mp_conn_send(conn, "not a pickle", 12) ? 13 : 0;
}

static void test_conn_val(void) {
    mp_conn *a, *b;
    MP_CHECK_OK(mp_pipe(&a, &b, true));
    mp_process *p =
        mp_test_start(t_conn_echo, MP_ARGS(mp_conn_arg(b)), mp_test_method());
    mp_conn_free(b);
    mp_val *d = sample();
    /* Some moderate bulk: a list of 20 000 small tuples (about 300 KB). */
    mp_val *l = mp_val_put(d, "bulk");
    MP_CHECK_OK(mp_val_set_empty(l, MP_VAL_LIST));
    for (int i = 0; i < 20000; i++) {
        mp_val *t = mp_val_push(l);
        MP_CHECK_OK(mp_val_set_empty(t, MP_VAL_TUPLE));
        MP_CHECK_OK(mp_val_push_int(t, i));
        MP_CHECK_OK(mp_val_push_str(t, "abcdef"));
    }
    MP_CHECK_OK(mp_conn_send_val(a, d));
    mp_val *back = NULL;
    MP_CHECK_OK(mp_conn_recv_val(a, &back, BIG_TIMEOUT));
    CU_ASSERT_EQUAL(mp_val_len(back), mp_val_len(d) + 1);
    bool yes = false;
    MP_CHECK_OK(mp_val_to_bool(mp_val_get(back, "child"), &yes));
    CU_ASSERT(yes);
    MP_CHECK_OK(mp_val_put_bool(d, "child", true));
    CU_ASSERT(mp_val_equal(back, d));
    mp_val_free(back);
    back = (mp_val *)a;
    MP_CHECK_RC(mp_conn_recv_val(a, &back, BIG_TIMEOUT), MP_EPROTO);
    CU_ASSERT_PTR_NULL(back);
    CU_ASSERT_EQUAL(mp_test_finish(p, MP_TEST_CHILD_TIMEOUT_MS), 0);
    mp_val_free(d);
    MP_CHECK_RC(mp_conn_send_val(a, NULL), MP_EINVAL);
    MP_CHECK_RC(mp_conn_send_val(NULL, d), MP_EINVAL);
    MP_CHECK_RC(mp_conn_recv_val(a, NULL, 0), MP_EINVAL);
    mp_conn_free(a);
}

/* In one process: a message past the connection's limit stays, refused. */
static void test_conn_val_local(void) {
    mp_conn *a, *b;
    MP_CHECK_OK(mp_pipe(&a, &b, true));
    mp_val *v = NULL;
    MP_CHECK_RC(mp_conn_recv_val(a, &v, 0), MP_EAGAIN);
    CU_ASSERT_PTR_NULL(v);
    mp_val *s = new_str("hello");
    MP_CHECK_OK(mp_conn_send_val(b, s));
    MP_CHECK_OK(mp_conn_recv_val(a, &v, 1000));
    CU_ASSERT(mp_val_equal(v, s));
    mp_val_free(v);
    /* A pickle that is hostile: refused, and the next message is read. */
    MP_CHECK_OK(mp_conn_send(b, P4_CYCLE_LIST, LEN(P4_CYCLE_LIST)));
    MP_CHECK_OK(mp_conn_send_val(b, s));
    MP_CHECK_RC(mp_conn_recv_val(a, &v, 1000), MP_EPROTO);
    MP_CHECK_OK(mp_conn_recv_val(a, &v, 1000));
    CU_ASSERT(mp_val_equal(v, s));
    mp_val_free(v);
    /* Past max_message: refused without allocating, and still there. */
    MP_CHECK_OK(mp_conn_set_max_message(a, 4));
    MP_CHECK_OK(mp_conn_send_val(b, s));
    v = s;
    MP_CHECK_RC(mp_conn_recv_val(a, &v, 1000), MP_EMSGSIZE);
    CU_ASSERT_PTR_NULL(v);
    MP_CHECK_OK(mp_conn_set_max_message(a, 0));
    MP_CHECK_OK(mp_conn_recv_val(a, &v, 1000));
    CU_ASSERT(mp_val_equal(v, s));
    mp_val_free(v);
    /* A bound runs out; then the peer goes. */
    MP_CHECK_RC(mp_conn_recv_val(a, &v, 50), MP_ETIMEDOUT);
    mp_conn_free(b);
    MP_CHECK_RC(mp_conn_recv_val(a, &v, 1000), MP_ECLOSED);
    CU_ASSERT_PTR_NULL(v);
    mp_val_free(s);
    mp_conn_free(a);
}

/* Child: gets a value from queue 0, puts [value, value] on queue 1. */
static int t_queue_double(mp_call *c) {
    mp_queue *in = mp_arg_queue(mp_call_arg(c, 0));
    mp_queue *out = mp_arg_queue(mp_call_arg(c, 1));
    mp_val *v = NULL;
    if (mp_queue_get_val(in, &v, BIG_TIMEOUT))
        return 10;
    mp_val *l = mp_val_new(MP_VAL_LIST);
    int rc = mp_val_set_copy(mp_val_push(l), v);
    if (!rc)
        rc = mp_val_set_copy(mp_val_push(l), v);
    if (!rc)
        rc = mp_queue_put_val(out, l, BIG_TIMEOUT);
    mp_val_free(l);
    mp_val_free(v);
    return rc ? 11 : 0;
}

/* Child: a value from `in` put back on `out` as it came. */
static int t_queue_echo(mp_call *c) {
    mp_queue *in = mp_arg_queue(mp_call_arg(c, 0));
    mp_queue *out = mp_arg_queue(mp_call_arg(c, 1));
    mp_val *v = NULL;
    if (mp_queue_get_val(in, &v, BIG_TIMEOUT))
        return 10;
    int rc = mp_queue_put_val(out, v, BIG_TIMEOUT);
    mp_val_free(v);
    return rc ? 11 : 0;
}

/* Task: [a 64 MiB bytes, the list of 1 000 000 ints] */
static int t_large_result(mp_call *c) {
    (void)c;
    mp_val *l = mp_val_new(MP_VAL_LIST), *ints;
    char *blob = malloc((size_t)64 << 20);
    int rc = l && blob ? 0 : MP_ENOMEM;
    if (!rc) {
        memset(blob, 0x5a, (size_t)64 << 20);
        rc = mp_val_push_bytes(l, blob, (size_t)64 << 20);
    }
    if (!rc)
        rc = mp_val_set_empty(ints = mp_val_push(l), MP_VAL_LIST);
    for (int64_t i = 0; !rc && i < 1000000; i++)
        rc = mp_val_push_int(ints, i * 7 - 3000000);
    if (!rc)
        rc = mp_call_return_val(c, l);
    free(blob);
    mp_val_free(l);
    return rc;
}

/* A 100 MB bytes and a list of 1 000 000 ints through a Queue() to a child
 * and back, as a task's argument and as a 64 MiB pool result. */
static void test_large_transports(void) {
    const size_t big = 100u * 1000 * 1000;
    char *blob = malloc(big);
    CU_ASSERT_FATAL(blob != NULL);
    for (size_t i = 0; i < big; i++)
        blob[i] = (char)(i * 31 + 7);
    mp_val *v = mp_val_new(MP_VAL_LIST), *ints;
    MP_CHECK_OK(mp_val_push_bytes(v, blob, big));
    MP_CHECK_OK(mp_val_set_empty(ints = mp_val_push(v), MP_VAL_LIST));
    for (int64_t i = 0; i < 1000000; i++)
        MP_CHECK_OK(mp_val_push_int(ints, i * 7 - 3000000));
    free(blob);

    mp_queue *q1 = NULL, *q2 = NULL;
    MP_CHECK_OK(mp_queue_new(&q1, 0, NULL));
    MP_CHECK_OK(mp_queue_new(&q2, 0, NULL));
    mp_process *p = mp_test_start(t_queue_echo,
                                  MP_ARGS(mp_queue_arg(q1), mp_queue_arg(q2)),
                                  mp_test_method());
    MP_CHECK_OK(mp_queue_put_val(q1, v, BIG_TIMEOUT));
    mp_val *back = NULL;
    MP_CHECK_OK(mp_queue_get_val(q2, &back, BIG_TIMEOUT));
    CU_ASSERT(mp_val_equal(back, v));
    mp_val_free(back);
    CU_ASSERT_EQUAL(mp_test_finish(p, MP_TEST_CHILD_TIMEOUT_MS), 0);
    mp_queue_free(q1);
    mp_queue_free(q2);

    mp_pool *pool = mp_test_pool(1, mp_test_method());
    if (pool) {
        mp_result *r = NULL;
        MP_CHECK_OK(mp_pool_apply_async(pool, t_large_result, MP_NO_ARGS, &r));
        MP_CHECK_OK(mp_result_get_val(r, BIG_TIMEOUT, &back));
        size_t n = 0;
        const unsigned char *b = mp_val_to_bytes(mp_val_at(back, 0), &n);
        CU_ASSERT_EQUAL(n, (size_t)64 << 20);
        CU_ASSERT(b && b[0] == 0x5a && b[n - 1] == 0x5a);
        CU_ASSERT(mp_val_equal(mp_val_at(back, 1), ints));
        mp_val_free(back);
        mp_result_free(r);
        mp_pool_close(pool);
        mp_pool_join(pool, BIG_TIMEOUT);
        mp_pool_free(pool);
    }
    mp_val_free(v);
}

static void test_queue_val(void) {
    mp_queue *q1 = NULL, *q2 = NULL;
    MP_CHECK_OK(mp_queue_new(&q1, 0, NULL));
    MP_CHECK_OK(mp_queue_new(&q2, 0, NULL));
    mp_process *p = mp_test_start(t_queue_double,
                                  MP_ARGS(mp_queue_arg(q1), mp_queue_arg(q2)),
                                  mp_test_method());
    mp_val *d = sample();
    MP_CHECK_OK(mp_queue_put_val(q1, d, BIG_TIMEOUT));
    mp_val *back = NULL;
    MP_CHECK_OK(mp_queue_get_val(q2, &back, BIG_TIMEOUT));
    CU_ASSERT_EQUAL(mp_val_len(back), 2);
    CU_ASSERT(mp_val_equal(mp_val_at(back, 0), d));
    CU_ASSERT(mp_val_equal(mp_val_at(back, 1), d));
    mp_val_free(back);
    CU_ASSERT_EQUAL(mp_test_finish(p, MP_TEST_CHILD_TIMEOUT_MS), 0);
    /* Bytes that are no pickle, and an empty queue. */
    MP_CHECK_OK(mp_queue_put(q1, "junk", 4, 1000));
    back = d;
    MP_CHECK_RC(mp_queue_get_val(q1, &back, 1000), MP_EPROTO);
    CU_ASSERT_PTR_NULL(back);
    MP_CHECK_RC(mp_queue_get_val(q1, &back, 0), MP_EAGAIN);
    MP_CHECK_RC(mp_queue_put_val(q1, NULL, 0), MP_EINVAL);
    MP_CHECK_RC(mp_queue_get_val(q1, NULL, 0), MP_EINVAL);
    mp_val_free(d);
    mp_queue_free(q1);
    mp_queue_free(q2);
}

/* Task: a list of (str, int) tuples in; {"count": n, "sum": s, "names":
 * [str ...]} out. */
static int t_sum_pairs(mp_call *c) {
    mp_val *in = NULL;
    int rc = mp_arg_val(mp_call_arg(c, 0), &in);
    if (rc)
        return mp_call_fail(c, rc, "mp_arg_val: %s", mp_err_name(rc));
    int64_t sum = 0;
    mp_val *out = mp_val_new(MP_VAL_DICT);
    mp_val *names = mp_val_put(out, "names");
    rc = mp_val_set_empty(names, MP_VAL_LIST);
    for (size_t i = 0; !rc && i < mp_val_len(in); i++) {
        mp_val *t = mp_val_at(in, i);
        int64_t x = 0;
        if (mp_val_kind_of(t) != MP_VAL_TUPLE ||
            mp_val_to_int(mp_val_at(t, 1), &x))
            rc = MP_EINVAL;
        sum += x;
        if (!rc)
            rc = mp_val_push_str(names, mp_val_to_str(mp_val_at(t, 0), NULL));
    }
    if (!rc)
        rc = mp_val_put_int(out, "count", (int64_t)mp_val_len(in));
    if (!rc)
        rc = mp_val_put_int(out, "sum", sum);
    if (!rc)
        rc = mp_call_return_val(c, out);
    mp_val_free(out);
    mp_val_free(in);
    return rc;
}

/* [("n<base>", base), ("n<base+1>", base + 1) ...]; NULL on failure. */
static mp_val *pairs(int n, int base) {
    mp_val *l = mp_val_new(MP_VAL_LIST);
    char name[32];
    int rc = l ? 0 : MP_ENOMEM;
    for (int i = 0; i < n && !rc; i++) {
        mp_val *t = mp_val_push(l);
        snprintf(name, sizeof name, "n%d", base + i);
        rc = mp_val_set_empty(t, MP_VAL_TUPLE);
        rc = rc ? rc : mp_val_push_str(t, name);
        rc = rc ? rc : mp_val_push_int(t, base + i);
    }
    if (rc) {
        mp_val_free(l);
        return NULL;
    }
    return l;
}

static void check_sums(const mp_val *d, int n, int base) {
    CU_ASSERT_EQUAL(mp_val_kind_of(d), MP_VAL_DICT);
    CU_ASSERT_EQUAL(int_of(mp_val_get(d, "count")), n);
    CU_ASSERT_EQUAL(int_of(mp_val_get(d, "sum")),
                    (int64_t)n * base + (int64_t)n * (n - 1) / 2);
    mp_val *names = mp_val_get(d, "names");
    CU_ASSERT_EQUAL(mp_val_len(names), (size_t)n);
    char name[32];
    snprintf(name, sizeof name, "n%d", base + n - 1);
    CU_ASSERT(n == 0 || str_is(mp_val_at(names, (size_t)n - 1), name));
}

/* Task: returns bytes that are no pickle. */
static int t_not_a_pickle(mp_call *c) { return mp_call_return(c, "junk", 4); }

static void test_pool_val(void) {
    mp_pool *p = mp_test_pool(2, mp_test_method());
    if (!p)
        return;
    /* apply: a list of 10 000 tuples (about 150 KB) in, a dict out. */
    mp_val *in = pairs(10000, 5);
    mp_result *r = NULL;
    MP_CHECK_OK(
        mp_pool_apply_async(p, t_sum_pairs, MP_ARGS(mp_val_arg(in)), &r));
    mp_val_free(in); /* encoded by the call */
    mp_val *out = NULL;
    MP_CHECK_OK(mp_result_get_val(r, BIG_TIMEOUT, &out));
    check_sums(out, 10000, 5);
    mp_val_free(out);
    MP_CHECK_OK(mp_result_item_val(r, 0, &out));
    check_sums(out, 10000, 5);
    mp_val_free(out);
    out = (mp_val *)r;
    MP_CHECK_RC(mp_result_item_val(r, 1, &out), MP_EINVAL);
    CU_ASSERT_PTR_NULL(out);
    mp_result_free(r);

    /* map: 6 tasks of different sizes, read as a list and per item. */
    enum { TASKS = 6 };
    mp_val *ins[TASKS];
    mp_arg args[TASKS];
    mp_args items[TASKS];
    for (int i = 0; i < TASKS; i++) {
        ins[i] = pairs(i * 100, i * 1000);
        args[i] = mp_val_arg(ins[i]);
        items[i] = mp_args_borrow(&args[i], 1);
    }
    MP_CHECK_OK(mp_pool_map_async(p, t_sum_pairs, items, TASKS, 2, NULL, &r));
    for (int i = 0; i < TASKS; i++)
        mp_val_free(ins[i]);
    MP_CHECK_OK(mp_result_get_val(r, BIG_TIMEOUT, &out));
    CU_ASSERT_EQUAL(mp_val_kind_of(out), MP_VAL_LIST);
    CU_ASSERT_EQUAL(mp_val_len(out), TASKS);
    for (int i = 0; i < TASKS; i++) {
        check_sums(mp_val_at(out, (size_t)i), i * 100, i * 1000);
        mp_val *one = NULL;
        MP_CHECK_OK(mp_result_item_val(r, (size_t)i, &one));
        CU_ASSERT(mp_val_equal(one, mp_val_at(out, (size_t)i)));
        mp_val_free(one);
    }
    mp_val_free(out);
    mp_result_free(r);

    /* A result that is no pickle. */
    MP_CHECK_OK(mp_pool_apply_async(p, t_not_a_pickle, MP_NO_ARGS, &r));
    out = (mp_val *)r;
    MP_CHECK_RC(mp_result_get_val(r, BIG_TIMEOUT, &out), MP_EPROTO);
    CU_ASSERT_PTR_NULL(out);
    mp_result_free(r);
    MP_CHECK_RC(mp_result_get_val(NULL, 0, NULL), MP_EINVAL);
    /* A task that fails (its argument is no value): its status, no tree. */
    MP_CHECK_OK(mp_pool_apply_async(p, t_sum_pairs, MP_ARGS(mp_int(1)), &r));
    out = (mp_val *)r;
    MP_CHECK_RC(mp_result_get_val(r, BIG_TIMEOUT, &out), MP_ETASK);
    CU_ASSERT_PTR_NULL(out);
    MP_CHECK_RC(mp_result_item_val(r, 0, &out), MP_ETASK);
    CU_ASSERT_PTR_NULL(out);
    mp_result_free(r);
    mp_test_pool_finish(p);
}

/* Process target: argument 0 must equal the sample tree with "extra"
 * added, argument 1 is an int; exits 0 when both are right. */
static int t_check_arg(mp_call *c) {
    mp_val *got = NULL;
    if (mp_arg_val(mp_call_arg(c, 0), &got))
        return 10;
    mp_val *want = sample();
    mp_val *extra = mp_val_put(want, "extra");
    mp_val *pl = pairs(500, 7);
    int rc = mp_val_set_copy(extra, pl);
    mp_val_free(pl);
    int code = rc                                    ? 11
               : !mp_val_equal(got, want)            ? 12
               : mp_arg_int(mp_call_arg(c, 1)) != 42 ? 13
                                                     : 0;
    /* Not a value argument. */
    mp_val *none = NULL;
    if (!code && mp_arg_val(mp_call_arg(c, 1), &none) != MP_EINVAL)
        code = 14;
    mp_val_free(want);
    mp_val_free(got);
    return code;
}

static void test_process_arg(void) {
    mp_val *d = sample();
    mp_val *pl = pairs(500, 7);
    MP_CHECK_OK(mp_val_set_copy(mp_val_put(d, "extra"), pl));
    mp_val_free(pl);
    mp_process *p = mp_test_start(
        t_check_arg, MP_ARGS(mp_val_arg(d), mp_int(42)), mp_test_method());
    mp_val_free(d); /* the arguments were copied */
    CU_ASSERT_EQUAL(mp_test_finish(p, MP_TEST_CHILD_TIMEOUT_MS), 0);
    /* A NULL value is refused where the list is taken. */
    mp_process *bad = NULL;
    MP_CHECK_RC(
        mp_process_new(&bad, t_check_arg, MP_ARGS(mp_val_arg(NULL)), NULL),
        MP_EINVAL);
    CU_ASSERT_PTR_NULL(bad);
    mp_val *out = NULL;
    MP_CHECK_RC(mp_arg_val(NULL, &out), MP_EINVAL);
}

void mp_test_suite_value(void) {
    const mp_test_runs once = MP_TEST_ONCE, each = MP_TEST_PER_METHOD;
    MP_TEST_SUITE(
        "value", {"kinds", test_kinds, once}, {"nested", test_nested, once},
        {"empty_containers", test_empty_containers, once},
        {"dict_keys", test_dict_keys, once},
        {"dict_index", test_dict_index, once}, {"sets", test_sets, once},
        {"equal", test_equal, once}, {"copy", test_copy, once},
        {"frozen", test_frozen, once}, {"utf8", test_utf8, once},
        {"ownership", test_ownership, once},
        {"bad_input", test_bad_input, once},
        {"build_too_deep", test_build_too_deep, once},
        {"round_trip_kinds", test_round_trip_kinds, once},
        {"dumps_buffer_reuse", test_dumps_buffer_reuse, once},
        {"round_trip_large", test_round_trip_large, once},
        {"python_bytes", test_python_bytes, once},
        {"python36_bytearray", test_python36_bytearray, once},
        {"python_sets", test_python_sets, once},
        {"python_memo", test_python_memo, once},
        {"python_ints", test_python_ints, once},
        {"python_containers", test_python_containers, once},
        {"python_batches", test_python_batches, once},
        {"hostile_system", test_hostile_system, once},
        {"hostile_opcodes", test_hostile_opcodes, once},
        {"hostile_framing", test_hostile_framing, once},
        {"hostile_lengths", test_hostile_lengths, once},
        {"hostile_memo", test_hostile_memo, once},
        {"hostile_cycles", test_hostile_cycles, once},
        {"hostile_limits", test_hostile_limits, once},
        {"hostile_nan_keys", test_hostile_nan_keys, once},
        {"hostile_int_keys", test_hostile_int_keys, once},
        {"hostile_bytes_keys", test_hostile_bytes_keys, once},
        {"hostile_tuple_keys", test_hostile_tuple_keys, once},
        {"hostile_unhashable", test_hostile_unhashable, once},
        {"truncated", test_truncated, once}, {"conn_val", test_conn_val, each},
        {"conn_val_local", test_conn_val_local, once},
        {"queue_val", test_queue_val, each}, {"pool_val", test_pool_val, each},
        {"large_transports", test_large_transports, each},
        {"process_arg", test_process_arg, each});
}
