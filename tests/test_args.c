/* Argument lists as values (issue 16): a list built by MP_ARGS can be
 * stored, copied and returned, so the natural loop `items[i] =
 * MP_ARGS(...)` gives every item its own arguments; a borrowed list carries
 * more than MP_ARGS_INLINE_MAX; a list that is not valid is MP_EINVAL in
 * every call that takes one. Each case runs with every start method. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ---- targets (static on purpose: spawned children must find them) ---- */

static int t_square(mp_call *c) {
    int64_t x = mp_arg_int(mp_call_arg(c, 0));
    return mp_call_return_int(c, x * x);
}

/* Sum of the positional ints, plus the length of the keyword "s". */
static int t_sum(mp_call *c) {
    int64_t sum = 0;
    for (size_t i = 0; i < mp_call_nargs(c); i++)
        sum += mp_arg_int(mp_call_arg(c, i));
    const char *s = mp_arg_str(mp_call_kwarg(c, "s"));
    if (s)
        sum += (int64_t)strlen(s);
    return mp_call_return_int(c, sum);
}

/* As an exit code: the same sum, bounded to what an exit code carries. */
static int t_sum_exit(mp_call *c) {
    int64_t sum = 0;
    for (size_t i = 0; i < mp_call_nargs(c); i++)
        sum += mp_arg_int(mp_call_arg(c, i));
    const char *s = mp_arg_str(mp_call_kwarg(c, "s"));
    if (s)
        sum += (int64_t)strlen(s);
    return (int)(sum & 0x7f);
}

static int64_t init_value = -1;

static int t_init(mp_call *c) {
    init_value = mp_arg_int(mp_call_arg(c, 0)) + mp_arg_int(mp_call_arg(c, 1));
    return 0;
}

static int t_get_init(mp_call *c) { return mp_call_return_int(c, init_value); }

/* ---- helpers ---- */

static int64_t item_int(mp_result *r, size_t i) {
    const void *ptr;
    size_t len;
    int64_t v = -1;
    if (mp_result_item(r, i, &ptr, &len, NULL) == 0 && len == sizeof v)
        memcpy(&v, ptr, sizeof v);
    return v;
}

static int64_t apply_int(mp_pool *p, mp_target fn, mp_args args) {
    mp_buf b = {0};
    int64_t v = -1;
    MP_CHECK_OK(mp_pool_apply(p, fn, args, &b));
    if (b.len == sizeof v)
        memcpy(&v, b.data, sizeof v);
    mp_buf_free(&b);
    return v;
}

/* A list made in another function's frame, returned by value. */
static mp_args make_args(int64_t a, int64_t b, const char *s) {
    return MP_ARGS(mp_int(a), mp_int(b), mp_kw("s", mp_str(s)));
}

static int n_evaluated;

static mp_arg counted_int(int64_t v) {
    n_evaluated++;
    return mp_int(v);
}

/* ---- tests ---- */

/* The example from issue 16, written as a user writes it: the lists are
 * made in a loop and used after it. */
static void test_lists_made_in_a_loop(void) {
    mp_pool *pool = mp_test_pool(2, mp_test_method());
    mp_args items[10];
    for (int i = 0; i < 10; i++)
        items[i] = MP_ARGS(mp_int(i));
    mp_result *r = NULL;
    MP_CHECK_OK(mp_pool_map(pool, t_square, items, 10, 0, &r));
    CU_ASSERT_EQUAL(mp_result_count(r), 10);
    for (size_t i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(item_int(r, i), (int64_t)(i * i));
    mp_result_free(r);

    mp_imap *it = NULL;
    MP_CHECK_OK(mp_pool_imap(pool, t_square, items, 10, 3, &it));
    mp_buf b = {0};
    for (int64_t i = 0; i < 10; i++) {
        int64_t v = -1;
        MP_CHECK_OK(mp_imap_next(it, 30000, &b, NULL));
        if (b.len == sizeof v)
            memcpy(&v, b.data, sizeof v);
        CU_ASSERT_EQUAL(v, i * i);
    }
    mp_buf_free(&b);
    mp_imap_free(it);
    mp_test_pool_finish(pool);
}

/* Lists stored in an array in a loop, the processes started after it:
 * every child gets its own arguments. */
static void test_stored_lists_start_processes(void) {
    enum { N = 6 };
    static const char *const names[N] = {"",    "a",    "ab",
                                         "abc", "abcd", "abcde"};
    mp_args args[N];
    for (int i = 0; i < N; i++)
        args[i] =
            MP_ARGS(mp_int(i), mp_int(10 * i), mp_kw("s", mp_str(names[i])));
    mp_process *ps[N];
    for (int i = 0; i < N; i++)
        ps[i] = mp_test_start(t_sum_exit, args[i], mp_test_method());
    for (int i = 0; i < N; i++)
        CU_ASSERT_EQUAL(mp_test_finish(ps[i], 30000), 12 * i);
}

/* A list returned from a function, and a list copied by assignment, keep
 * their arguments; the copy is independent of the original. */
static void test_lists_are_values(void) {
    mp_pool *pool = mp_test_pool(1, MP_START_DEFAULT);
    mp_args a = make_args(3, 4, "hi");
    CU_ASSERT_EQUAL(a.n, 3);
    mp_args b = a;
    a = MP_ARGS(mp_int(100));
    CU_ASSERT_EQUAL(apply_int(pool, t_sum, b), 3 + 4 + 2);
    CU_ASSERT_EQUAL(apply_int(pool, t_sum, a), 100);
    CU_ASSERT_EQUAL(apply_int(pool, t_sum, MP_NO_ARGS), 0);
    n_evaluated = 0;
    mp_args c = MP_ARGS(counted_int(5), counted_int(6));
    CU_ASSERT_EQUAL(n_evaluated, 2); /* each argument once */
    CU_ASSERT_EQUAL(apply_int(pool, t_sum, c), 11);
    mp_args full = MP_ARGS(mp_int(1), mp_int(2), mp_int(3), mp_int(4),
                           mp_int(5), mp_int(6), mp_int(7), mp_int(8));
    CU_ASSERT_EQUAL(full.n, MP_ARGS_INLINE_MAX);
    CU_ASSERT_EQUAL(apply_int(pool, t_sum, full), 36);
    mp_test_pool_finish(pool);
}

/* Pool options made by a function keep their initargs. */
static mp_pool_options options_with_initargs(mp_start_method m) {
    mp_pool_options o = {.processes = 2,
                         .initializer = t_init,
                         .initargs = MP_ARGS(mp_int(40), mp_int(2)),
                         .start_method = m};
    return o;
}

/* Pool options returned by value from another function keep their initargs,
 * which every worker's initializer receives. */
static void test_initargs_made_elsewhere(void) {
    mp_pool_options o = options_with_initargs(mp_test_method());
    mp_pool *pool = NULL;
    MP_CHECK_OK(mp_pool_new(&pool, &o));
    CU_ASSERT_EQUAL(apply_int(pool, t_get_init, MP_NO_ARGS), 42);
    mp_test_pool_finish(pool);
}

/* A borrowed list carries more arguments than the inline form holds. */
static void test_borrowed_long_list(void) {
    enum { N = 3 * MP_ARGS_INLINE_MAX };
    mp_arg v[N];
    int64_t want = 0;
    for (int i = 0; i < N; i++) {
        v[i] = mp_int(i);
        want += i;
    }
    mp_pool *pool = mp_test_pool(1, mp_test_method());
    CU_ASSERT_EQUAL(apply_int(pool, t_sum, mp_args_borrow(v, N)), want);
    mp_args items[2] = {mp_args_borrow(v, N), mp_args_borrow(v + 1, 1)};
    mp_result *r = NULL;
    MP_CHECK_OK(mp_pool_map(pool, t_sum, items, 2, 1, &r));
    CU_ASSERT_EQUAL(item_int(r, 0), want);
    CU_ASSERT_EQUAL(item_int(r, 1), 1);
    mp_result_free(r);
    mp_test_pool_finish(pool);
    mp_process *p =
        mp_test_start(t_sum_exit, mp_args_borrow(v, N), mp_test_method());
    CU_ASSERT_EQUAL(mp_test_finish(p, 30000), (int)(want & 0x7f));
}

/* Lists that are not valid: a borrowed NULL array, an inline list longer
 * than its storage (only a hand-filled list can be), an argument left
 * empty. Each is MP_EINVAL wherever a list is taken, never truncated. */
static void test_invalid_lists(void) {
    mp_args too_long = MP_ARGS(mp_int(1));
    too_long.n = MP_ARGS_INLINE_MAX + 1;
    mp_args unset = MP_ARGS(mp_int(1));
    unset.n = 2; /* its second argument was never given */
    const mp_args bad[] = {mp_args_borrow(NULL, 1), too_long, unset};
    mp_pool *pool = mp_test_pool(1, MP_START_DEFAULT);
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        mp_process *p = NULL;
        MP_CHECK_RC(mp_process_new(&p, t_sum_exit, bad[k], NULL), MP_EINVAL);
        CU_ASSERT_PTR_NULL(p);
        mp_result *r = NULL;
        MP_CHECK_RC(mp_pool_apply_async(pool, t_sum, bad[k], &r), MP_EINVAL);
        mp_args items[2] = {MP_ARGS(mp_int(1)), bad[k]};
        MP_CHECK_RC(mp_pool_map(pool, t_sum, items, 2, 0, &r), MP_EINVAL);
        mp_pool *q = NULL;
        mp_pool_options o = {
            .processes = 1, .initializer = t_init, .initargs = bad[k]};
        MP_CHECK_RC(mp_pool_new(&q, &o), MP_EINVAL);
    }
    CU_ASSERT_EQUAL(apply_int(pool, t_sum, mp_args_borrow(NULL, 0)), 0);
    mp_test_pool_finish(pool);
}

void mp_test_suite_args(void) {
    const mp_test_runs once = MP_TEST_ONCE, each = MP_TEST_PER_METHOD;
    MP_TEST_SUITE(
        "args", {"lists_made_in_a_loop", test_lists_made_in_a_loop, each},
        {"stored_lists_start_processes", test_stored_lists_start_processes,
         each},
        {"lists_are_values", test_lists_are_values, once},
        {"initargs_made_elsewhere", test_initargs_made_elsewhere, each},
        {"borrowed_long_list", test_borrowed_long_list, each},
        {"invalid_lists", test_invalid_lists, once});
}
