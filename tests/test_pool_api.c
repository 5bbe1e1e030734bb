/* Pool, the forms a program ported from Python uses: maps over integers,
 * doubles, strings, a range or a callback without an array of argument
 * lists; argument lists stored in a loop; typed result readers; a task's
 * code and message (and a dead worker's account of how it ended) wherever
 * a result is read; imap's default chunk size; 64 MiB arguments and
 * results. Every case that depends on how workers start runs once per
 * start method the platform has. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ---- tasks (static on purpose: spawned workers must find them too) ---- */

static int t_square(mp_call *c) {
    int64_t x = mp_arg_int(mp_call_arg(c, 0));
    return mp_call_return_int(c, x * x);
}

static int t_half(mp_call *c) {
    return mp_call_return_float(c, mp_arg_float(mp_call_arg(c, 0)) / 2);
}

/* "<s>!" for a string argument, with the call's second argument (if any)
 * appended: the callback form passes two. */
static int t_shout(mp_call *c) {
    char out[128];
    const char *extra = mp_arg_str(mp_call_arg(c, 1));
    snprintf(out, sizeof out, "%s!%s", mp_arg_str(mp_call_arg(c, 0)),
             extra ? extra : "");
    return mp_call_return_str(c, out);
}

/* Fails with code x and a message when x is odd; returns x otherwise. */
static int t_odd_fails(mp_call *c) {
    int64_t x = mp_arg_int(mp_call_arg(c, 0));
    if (x % 2)
        return mp_call_fail(c, (int)x, "odd input %lld", (long long)x);
    return mp_call_return_int(c, x);
}

/* Leaves a message longer than MP_TASK_MESSAGE_MAX, then succeeds. */
static int t_long_message(mp_call *c) {
    char big[1000];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    return mp_call_fail(c, 0, "%s", big);
}

/* Exits with the code it is given, without returning (returns 0 for 0). */
static int t_exit(mp_call *c) {
    int code = (int)mp_arg_int(mp_call_arg(c, 0));
    if (code) {
        fflush(NULL);
        _Exit(code);
    }
    return 0;
}

#ifndef _WIN32
/* Dies of SIGKILL. */
static int t_kill_self(mp_call *c) {
    (void)c;
    raise(SIGKILL);
    return 0;
}
#endif

/* Returns 3 bytes: no typed reader of 8 bytes can take them. */
static int t_three_bytes(mp_call *c) { return mp_call_return(c, "abc", 3); }

/* For the imap chunk size case: task 1 waits for the gate. */
static int t_gated(mp_call *c) {
    int64_t x = mp_arg_int(mp_call_arg(c, 0));
    if (x == 1 && mp_event_wait(mp_test_gate, 60000) != 0)
        return 99;
    return mp_call_return_int(c, x);
}

/* A byte pattern for the large payloads: 4 KiB blocks, block k all of one
 * byte that depends on k and the seed (filled and checked with memset and
 * memcmp, so that 64 MiB costs little even unoptimised). */
#define BLOCK 4096

static unsigned char block_byte(size_t k, unsigned seed) {
    return (unsigned char)(k * 37 + seed);
}

static void pattern_fill(unsigned char *p, size_t len, unsigned seed) {
    for (size_t at = 0; at < len; at += BLOCK)
        memset(p + at, block_byte(at / BLOCK, seed),
               len - at < BLOCK ? len - at : BLOCK);
}

static int pattern_ok(const unsigned char *p, size_t len, unsigned seed) {
    unsigned char want[BLOCK];
    for (size_t at = 0; at < len; at += BLOCK) {
        size_t n = len - at < BLOCK ? len - at : BLOCK;
        memset(want, block_byte(at / BLOCK, seed), n);
        if (memcmp(p + at, want, n) != 0)
            return 0;
    }
    return 1;
}

/* Checks its bytes argument against the pattern of seed 1 and returns as
 * many bytes of the pattern of seed 2; 1 or 2 when the argument is wrong. */
static int t_big_echo(mp_call *c) {
    size_t len = 0;
    const unsigned char *p = mp_arg_bytes(mp_call_arg(c, 0), &len);
    if (!p || len != (size_t)mp_arg_int(mp_call_arg(c, 1)))
        return 1;
    if (!pattern_ok(p, len, 1))
        return 2;
    unsigned char *out = malloc(len ? len : 1);
    if (!out)
        return 3;
    pattern_fill(out, len, 2);
    int rc = mp_call_return(c, out, len);
    free(out);
    return rc;
}

/* Returns n bytes (its argument) of zeros. */
static int t_zeros(mp_call *c) {
    size_t n = (size_t)mp_arg_int(mp_call_arg(c, 0));
    void *z = calloc(1, n ? n : 1);
    int rc = z ? mp_call_return(c, z, n) : 3;
    free(z);
    return rc;
}

/* ---- helpers ---- */

/* Every item i of r is the int want[i]. */
static void check_ints(mp_result *r, const int64_t *want, size_t n) {
    CU_ASSERT_EQUAL(mp_result_count(r), n);
    size_t good = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t v = -1;
        good += mp_result_item_int(r, i, &v) == 0 && v == want[i];
    }
    CU_ASSERT_EQUAL(good, n);
}

/* The callback form: item i is (s, tag) where s lives in a buffer the
 * callback overwrites each time (the map copies each list at once). */
typedef struct cb_state {
    char buf[32];
    size_t calls;
} cb_state;

static mp_args item_for(size_t i, void *user) {
    cb_state *s = user;
    s->calls++;
    snprintf(s->buf, sizeof s->buf, "w%zu", i);
    return MP_ARGS(mp_str(s->buf), mp_str(i % 2 ? "odd" : "even"));
}

/* ---- cases ---- */

/* Python's pool.map(f, range(10)) and friends: maps over a range, ints,
 * doubles, strings and a callback return every item's result in order, and
 * an empty source gives an empty result at once. */
static void test_map_sources(void) {
    mp_pool *p = mp_test_pool(2, mp_test_method());
    mp_result *r = NULL;
    int64_t want[10];
    for (int64_t i = 0; i < 10; i++)
        want[i] = i * i;
    MP_CHECK_OK(mp_pool_map_items(p, t_square, mp_items_range(0, 10), 0, &r));
    check_ints(r, want, 10);
    mp_result_free(r);

    int64_t in[5] = {-3, 0, 7, 1 << 20, 12};
    int64_t sq[5];
    for (int i = 0; i < 5; i++)
        sq[i] = in[i] * in[i];
    MP_CHECK_OK(mp_pool_map_items(p, t_square, mp_items_ints(in, 5), 2, &r));
    check_ints(r, sq, 5);
    mp_result_free(r);

    double d[3] = {1.0, -5.0, 0.25};
    MP_CHECK_OK(mp_pool_map_items(p, t_half, mp_items_doubles(d, 3), 0, &r));
    size_t good = 0;
    for (size_t i = 0; i < 3; i++) {
        double v = 0;
        good += mp_result_item_float(r, i, &v) == 0 && v == d[i] / 2;
    }
    CU_ASSERT_EQUAL(good, 3);
    mp_result_free(r);

    const char *words[4] = {"spam", "", NULL, "héllo"};
    const char *shouted[4] = {"spam!", "!", "!", "héllo!"};
    MP_CHECK_OK(mp_pool_map_items(p, t_shout, mp_items_strs(words, 4), 1, &r));
    good = 0;
    for (size_t i = 0; i < 4; i++) {
        const char *s = NULL;
        good += mp_result_item_str(r, i, &s) == 0 && s &&
                strcmp(s, shouted[i]) == 0;
    }
    CU_ASSERT_EQUAL(good, 4);
    mp_result_free(r);

    cb_state st = {{0}, 0};
    MP_CHECK_OK(
        mp_pool_map_items(p, t_shout, mp_items_fn(item_for, &st, 6), 4, &r));
    CU_ASSERT_EQUAL(st.calls, 6); /* once per item, chunk breaks or not */
    good = 0;
    for (size_t i = 0; i < 6; i++) {
        char want_s[32];
        snprintf(want_s, sizeof want_s, "w%zu!%s", i, i % 2 ? "odd" : "even");
        const char *s = NULL;
        good += mp_result_item_str(r, i, &s) == 0 && strcmp(s, want_s) == 0;
    }
    CU_ASSERT_EQUAL(good, 6);
    mp_result_free(r);

    /* Empty sources: a result that is ready at once. */
    MP_CHECK_OK(mp_pool_map_items(p, t_square, mp_items_range(5, 5), 0, &r));
    CU_ASSERT_EQUAL(mp_result_count(r), 0);
    mp_result_free(r);
    MP_CHECK_OK(mp_pool_map_items(p, t_square, mp_items_range(5, -5), 0, &r));
    CU_ASSERT_EQUAL(mp_result_count(r), 0);
    mp_result_free(r);
    MP_CHECK_OK(mp_pool_map_items(p, t_square, mp_items_ints(NULL, 0), 0, &r));
    mp_result_free(r);
    mp_test_pool_finish(p);
}

/* The trap of issue 16, as a user writes it: each item assigned in a loop
 * from MP_ARGS. Lists hold their arguments, so every item keeps its own. */
static void test_args_stored_in_loop(void) {
    mp_pool *p = mp_test_pool(2, MP_START_DEFAULT);
    mp_args items[10];
    int64_t want[10];
    for (int i = 0; i < 10; i++) {
        items[i] = MP_ARGS(mp_int(i));
        want[i] = (int64_t)i * i;
    }
    mp_result *r = NULL;
    MP_CHECK_OK(mp_pool_map(p, t_square, items, 10, 0, &r));
    check_ints(r, want, 10);
    mp_result_free(r);
    mp_test_pool_finish(p);
}

/* A zeroed item source, a NULL array, string list or callback behind a count,
 * a NULL pool, target or output are MP_EINVAL for map_items and imap_items,
 * and leave the output NULL. */
static void test_map_items_bad_input(void) {
    mp_pool *p = mp_test_pool(1, MP_START_DEFAULT);
    mp_result *r = (mp_result *)&r;
    mp_imap *it = (mp_imap *)&it;
    mp_items zero;
    memset(&zero, 0, sizeof zero);
    MP_CHECK_RC(mp_pool_map_items(p, t_square, zero, 0, &r), MP_EINVAL);
    CU_ASSERT_PTR_NULL(r);
    MP_CHECK_RC(mp_pool_map_items(p, t_square, mp_items_ints(NULL, 3), 0, &r),
                MP_EINVAL);
    MP_CHECK_RC(mp_pool_map_items(p, t_square, mp_items_strs(NULL, 1), 0, &r),
                MP_EINVAL);
    MP_CHECK_RC(
        mp_pool_map_items(p, t_square, mp_items_fn(NULL, NULL, 2), 0, &r),
        MP_EINVAL);
    MP_CHECK_RC(mp_pool_map_items(NULL, t_square, mp_items_range(0, 2), 0, &r),
                MP_EINVAL);
    MP_CHECK_RC(mp_pool_map_items(p, NULL, mp_items_range(0, 2), 0, &r),
                MP_EINVAL);
    MP_CHECK_RC(mp_pool_map_items(p, t_square, mp_items_range(0, 2), 0, NULL),
                MP_EINVAL);
    MP_CHECK_RC(mp_pool_imap_items(p, t_square, zero, 0, &it), MP_EINVAL);
    CU_ASSERT_PTR_NULL(it);
    MP_CHECK_RC(mp_pool_imap_items(p, t_square, mp_items_range(0, 2), 0, NULL),
                MP_EINVAL);
    mp_test_pool_finish(p);
}

/* imap and imap_unordered over a range, and imap's default chunk size of 1
 * (Python's): with one worker, result 0 arrives while task 1 still runs;
 * a map-sized chunk (8 of 32) would hold it until the chunk ends. */
static void test_imap_items(void) {
    mp_event *ev;
    mp_pool *p = mp_test_gated_pool(1, mp_test_method(), &ev);
    mp_imap *it = NULL;
    MP_CHECK_OK(mp_pool_imap_items(p, t_gated, mp_items_range(0, 32), 0, &it));
    mp_buf b = {0};
    size_t idx = 99;
    int64_t v = -1;
    MP_CHECK_OK(mp_imap_next(it, 60000, &b, &idx));
    CU_ASSERT_EQUAL(idx, 0);
    MP_CHECK_OK(mp_buf_int(&b, &v));
    CU_ASSERT_EQUAL(v, 0);
    MP_CHECK_RC(mp_imap_next(it, 0, &b, &idx), MP_EAGAIN); /* task 1 */
    MP_CHECK_OK(mp_event_set(ev));
    size_t good = 0;
    for (size_t i = 1; i < 32; i++)
        good += mp_imap_next(it, 60000, &b, &idx) == 0 && idx == i &&
                mp_buf_int(&b, &v) == 0 && v == (int64_t)i;
    CU_ASSERT_EQUAL(good, 31);
    MP_CHECK_RC(mp_imap_next(it, 0, &b, &idx), MP_ENOENT);
    mp_imap_free(it);

    /* Unordered: every index once. */
    MP_CHECK_OK(mp_pool_imap_unordered_items(p, t_square,
                                             mp_items_range(0, 20), 3, &it));
    int seen[20] = {0};
    good = 0;
    for (int i = 0; i < 20; i++)
        if (mp_imap_next(it, 60000, &b, &idx) == 0 && idx < 20 &&
            mp_buf_int(&b, &v) == 0 && v == (int64_t)(idx * idx) &&
            !seen[idx]++)
            good++;
    CU_ASSERT_EQUAL(good, 20);
    mp_imap_free(it);
    mp_buf_free(&b);
    mp_test_pool_finish(p);
    mp_event_free(ev);
}

/* The typed readers take what the typed returns give, and say when the
 * bytes are of another kind; a buffer always ends with a NUL. */
static void test_typed_readers(void) {
    mp_pool *p = mp_test_pool(2, mp_test_method());
    mp_result *r = NULL;
    int64_t v = 0;
    double d = 0;
    const char *s = NULL;
    MP_CHECK_OK(mp_pool_apply_async(p, t_square, MP_ARGS(mp_int(-9)), &r));
    MP_CHECK_OK(mp_result_get_int(r, 60000, &v));
    CU_ASSERT_EQUAL(v, 81);
    MP_CHECK_RC(mp_result_get_int(r, 0, NULL), MP_EINVAL);
    mp_result_free(r);

    MP_CHECK_OK(mp_pool_apply_async(p, t_half, MP_ARGS(mp_float(3)), &r));
    MP_CHECK_OK(mp_result_get_float(r, 60000, &d));
    CU_ASSERT_EQUAL(d, 1.5);
    mp_result_free(r);

    MP_CHECK_OK(mp_pool_apply_async(p, t_shout, MP_ARGS(mp_str("hi")), &r));
    MP_CHECK_OK(mp_result_get_str(r, 60000, &s));
    CU_ASSERT_STRING_EQUAL(s, "hi!");
    mp_result_free(r);

    /* 3 bytes: not an int nor a float, but text. */
    MP_CHECK_OK(mp_pool_apply_async(p, t_three_bytes, MP_NO_ARGS, &r));
    MP_CHECK_RC(mp_result_get_int(r, 60000, &v), MP_EPROTO);
    MP_CHECK_RC(mp_result_get_float(r, 0, &d), MP_EPROTO);
    MP_CHECK_OK(mp_result_get_str(r, 0, &s));
    CU_ASSERT_STRING_EQUAL(s, "abc");
    mp_result_free(r);

    /* A failed task: the readers give its status. */
    MP_CHECK_OK(mp_pool_apply_async(p, t_odd_fails, MP_ARGS(mp_int(3)), &r));
    MP_CHECK_RC(mp_result_get_int(r, 60000, &v), MP_ETASK);
    MP_CHECK_RC(mp_result_get_str(r, 0, &s), MP_ETASK);
    mp_result_free(r);

    /* Map items, and a map result given to an apply reader. */
    MP_CHECK_RC(mp_pool_map_items(p, t_odd_fails, mp_items_range(0, 4), 1, &r),
                MP_ETASK);
    MP_CHECK_RC(mp_result_get_int(r, 0, &v), MP_EINVAL);
    MP_CHECK_OK(mp_result_item_int(r, 2, &v));
    CU_ASSERT_EQUAL(v, 2);
    MP_CHECK_RC(mp_result_item_int(r, 1, &v), MP_ETASK);
    MP_CHECK_RC(mp_result_item_float(r, 3, &d), MP_ETASK);
    MP_CHECK_RC(mp_result_item_int(r, 4, &v), MP_EINVAL);
    MP_CHECK_RC(mp_result_item_str(r, 0, NULL), MP_EINVAL);
    MP_CHECK_RC(mp_result_item_int(NULL, 0, &v), MP_EINVAL);
    mp_result_free(r);

    /* mp_pool_apply's buffer: typed, and text ends with a NUL even
     * where a longer payload was before. */
    mp_buf b = {0};
    MP_CHECK_OK(mp_pool_apply(p, t_square, MP_ARGS(mp_int(5)), &b));
    MP_CHECK_OK(mp_buf_int(&b, &v));
    CU_ASSERT_EQUAL(v, 25);
    MP_CHECK_RC(mp_buf_float(&b, NULL), MP_EINVAL);
    MP_CHECK_OK(mp_pool_apply(p, t_three_bytes, MP_NO_ARGS, &b));
    MP_CHECK_RC(mp_buf_int(&b, &v), MP_EPROTO);
    CU_ASSERT_EQUAL(b.len, 3);
    CU_ASSERT_STRING_EQUAL((const char *)b.data, "abc");
    mp_buf_free(&b);
    mp_test_pool_finish(p);
}

/* The rule holds for queues and connections too: text ends with a NUL. */
static void test_buf_nul(void) {
    mp_queue *q = NULL;
    MP_CHECK_OK(mp_queue_new(&q, 0, NULL));
    mp_buf b = {0};
    MP_CHECK_OK(mp_queue_put(q, "a long first item", 17, 1000));
    MP_CHECK_OK(mp_queue_put(q, "ab", 2, 1000));
    MP_CHECK_OK(mp_queue_put(q, "", 0, 1000));
    MP_CHECK_OK(mp_queue_get(q, &b, 1000));
    MP_CHECK_OK(mp_queue_get(q, &b, 1000));
    CU_ASSERT_STRING_EQUAL((const char *)b.data, "ab");
    MP_CHECK_OK(mp_queue_get(q, &b, 1000));
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_STRING_EQUAL((const char *)b.data, "");
    mp_queue_free(q);
    mp_conn *a = NULL, *c = NULL;
    MP_CHECK_OK(mp_pipe(&a, &c, true));
    MP_CHECK_OK(mp_conn_send(a, "xyz-long", 8));
    MP_CHECK_OK(mp_conn_send(a, "xy", 2));
    MP_CHECK_OK(mp_conn_recv(c, &b, 1000));
    MP_CHECK_OK(mp_conn_recv(c, &b, 1000));
    CU_ASSERT_STRING_EQUAL((const char *)b.data, "xy");
    mp_conn_free(a);
    mp_conn_free(c);
    mp_buf_free(&b);
}

/* A failing task's code and message reach every reader: apply, apply_info,
 * map items, imap. */
static void test_task_messages(void) {
    mp_pool *p = mp_test_pool(2, mp_test_method());
    mp_result *r = NULL;
    mp_task_info info;
    MP_CHECK_OK(mp_pool_apply_async(p, t_odd_fails, MP_ARGS(mp_int(5)), &r));
    MP_CHECK_RC(mp_result_get(r, 60000, NULL), MP_ETASK);
    MP_CHECK_OK(mp_result_info(r, &info));
    CU_ASSERT_EQUAL(info.status, MP_ETASK);
    CU_ASSERT_EQUAL(info.task_code, 5);
    CU_ASSERT_STRING_EQUAL(info.message, "odd input 5");
    mp_result_free(r);

    memset(&info, 0x55, sizeof info);
    MP_CHECK_RC(
        mp_pool_apply_info(p, t_odd_fails, MP_ARGS(mp_int(7)), NULL, &info),
        MP_ETASK);
    CU_ASSERT_EQUAL(info.task_code, 7);
    CU_ASSERT_STRING_EQUAL(info.message, "odd input 7");
    MP_CHECK_OK(
        mp_pool_apply_info(p, t_odd_fails, MP_ARGS(mp_int(2)), NULL, &info));
    CU_ASSERT_EQUAL(info.status, 0);
    CU_ASSERT_STRING_EQUAL(info.message, "");

    /* A message past the bound is cut, and kept by a task that
     * succeeds. */
    MP_CHECK_OK(
        mp_pool_apply_info(p, t_long_message, MP_NO_ARGS, NULL, &info));
    CU_ASSERT_EQUAL(strlen(info.message), MP_TASK_MESSAGE_MAX - 1);
    CU_ASSERT_EQUAL(info.message[0], 'm');

    MP_CHECK_RC(mp_pool_map_items(p, t_odd_fails, mp_items_range(0, 8), 3, &r),
                MP_ETASK);
    MP_CHECK_OK(mp_result_info(r, &info)); /* the first failure */
    CU_ASSERT_EQUAL(info.task_code, 1);
    CU_ASSERT_STRING_EQUAL(info.message, "odd input 1");
    size_t good = 0;
    for (size_t i = 0; i < 8; i++) {
        char want[32] = "";
        if (i % 2)
            snprintf(want, sizeof want, "odd input %zu", i);
        int rc = mp_result_item(r, i, NULL, NULL, &info);
        good +=
            rc == (i % 2 ? MP_ETASK : 0) && strcmp(info.message, want) == 0;
    }
    CU_ASSERT_EQUAL(good, 8);
    mp_result_free(r);

    mp_imap *it = NULL;
    MP_CHECK_OK(
        mp_pool_imap_items(p, t_odd_fails, mp_items_range(0, 6), 0, &it));
    MP_CHECK_RC(mp_imap_info(it, &info), MP_ESTATE);
    good = 0;
    for (size_t i = 0; i < 6; i++) {
        size_t idx = 99;
        int rc = mp_imap_next(it, 60000, NULL, &idx);
        MP_CHECK_OK(mp_imap_info(it, &info));
        good += idx == i && rc == info.status &&
                (i % 2 ? rc == MP_ETASK && info.task_code == (int)i &&
                             strncmp(info.message, "odd input", 9) == 0
                       : rc == 0 && info.message[0] == '\0');
    }
    CU_ASSERT_EQUAL(good, 6);
    MP_CHECK_RC(mp_imap_info(NULL, &info), MP_EINVAL);
    mp_imap_free(it);
    MP_CHECK_RC(mp_result_info(NULL, &info), MP_EINVAL);
    mp_test_pool_finish(p);
}

/* An initializer that leaves a message and succeeds. */
static int t_init_says(mp_call *c) {
    return mp_call_fail(c, 0, "initializer message");
}

/* Outside a pool task mp_call_fail drops the message and returns the code:
 * a process target exits with it, an initializer's message reaches no
 * task. */
static void test_fail_outside_task(void) {
    mp_process *pr = NULL;
    mp_process_options po = {.start_method = mp_test_method()};
    MP_CHECK_OK(mp_process_new(&pr, t_odd_fails, MP_ARGS(mp_int(3)), &po));
    MP_CHECK_OK(mp_process_start(pr));
    CU_ASSERT_EQUAL(mp_test_finish(pr, 60000), 3);

    mp_pool *p = NULL;
    mp_pool_options o = {.processes = 1,
                         .start_method = mp_test_method(),
                         .initializer = t_init_says};
    MP_CHECK_OK(mp_pool_new(&p, &o));
    mp_task_info info;
    memset(&info, 0x55, sizeof info);
    MP_CHECK_OK(
        mp_pool_apply_info(p, t_odd_fails, MP_ARGS(mp_int(4)), NULL, &info));
    CU_ASSERT_EQUAL(info.status, 0);
    CU_ASSERT_STRING_EQUAL(info.message, "");
    mp_test_pool_finish(p);
    CU_ASSERT_EQUAL(mp_call_fail(NULL, 9, "no call"), 9);
}

/* A worker that dies says how, wherever the result is read. */
static void test_worker_death_message(void) {
    mp_pool *p = mp_test_pool(2, mp_test_method());
    mp_task_info info;
    MP_CHECK_RC(mp_pool_apply_info(p, t_exit, MP_ARGS(mp_int(3)), NULL, &info),
                MP_EWORKER);
    char want[96];
    snprintf(want, sizeof want, "worker %ld exited with code 3",
             info.worker_pid);
    CU_ASSERT(info.worker_pid > 0);
    CU_ASSERT_EQUAL(info.worker_exit, 3);
    CU_ASSERT_STRING_EQUAL(info.message, want);

    mp_imap *it = NULL;
    mp_args items[3] = {MP_ARGS(mp_int(0)), MP_ARGS(mp_int(4)),
                        MP_ARGS(mp_int(0))};
    MP_CHECK_OK(mp_pool_imap(p, t_exit, items, 3, 0, &it));
    size_t idx;
    MP_CHECK_OK(mp_imap_next(it, 60000, NULL, &idx));
    MP_CHECK_RC(mp_imap_next(it, 60000, NULL, &idx), MP_EWORKER);
    MP_CHECK_OK(mp_imap_info(it, &info));
    CU_ASSERT_EQUAL(info.worker_exit, 4);
    snprintf(want, sizeof want, "worker %ld exited with code 4",
             info.worker_pid);
    CU_ASSERT_STRING_EQUAL(info.message, want);
    MP_CHECK_OK(mp_imap_next(it, 60000, NULL, &idx));
    mp_imap_free(it);
#ifndef _WIN32
    MP_CHECK_RC(mp_pool_apply_info(p, t_kill_self, MP_NO_ARGS, NULL, &info),
                MP_EWORKER);
    CU_ASSERT_EQUAL(info.worker_exit, -SIGKILL);
    snprintf(want, sizeof want, "worker %ld was killed by signal %d",
             info.worker_pid, SIGKILL);
    CU_ASSERT_STRING_EQUAL(info.message, want);
#endif
    mp_test_pool_finish(p);
}

/* 64 MiB arguments and results, with a pool sized for them; the default
 * pool takes large ones too (its queues grow); the bounds of the size
 * hints are checked. */
static void test_large_payloads(void) {
    const size_t big = (size_t)64 << 20;
    unsigned char *arg = malloc(big);
    CU_ASSERT_PTR_NOT_NULL_FATAL(arg);
    pattern_fill(arg, big, 1);
    mp_pool *p = NULL;
    mp_pool_options o = {.processes = 2,
                         .start_method = mp_test_method(),
                         .max_task_bytes = big,
                         .max_result_bytes = big};
    MP_CHECK_OK(mp_pool_new(&p, &o));
    mp_buf b = {0};
    MP_CHECK_OK(mp_pool_apply(
        p, t_big_echo, MP_ARGS(mp_bytes(arg, big), mp_int((int64_t)big)), &b));
    CU_ASSERT_EQUAL_FATAL(b.len, big);
    CU_ASSERT(pattern_ok(b.data, big, 2));
    mp_buf_free(&b);
    /* With the first method only (the copies cost, not the sizes, on a slow
     * VM): several in flight at once, each whole (8, 4, 2 MiB). */
    if (mp_test_method() == mp_test_methods[0]) {
        mp_args items[3];
        for (int i = 0; i < 3; i++)
            items[i] = MP_ARGS(mp_bytes(arg, big >> (3 + i)),
                               mp_int((int64_t)(big >> (3 + i))));
        mp_imap *it = NULL;
        MP_CHECK_OK(mp_pool_imap(p, t_big_echo, items, 3, 1, &it));
        size_t good = 0;
        for (int i = 0; i < 3; i++) {
            size_t idx = 0;
            if (mp_imap_next(it, MP_TEST_CHILD_TIMEOUT_MS, &b, &idx) == 0 &&
                b.len == big >> (3 + idx))
                good += pattern_ok(b.data, b.len, 2);
        }
        CU_ASSERT_EQUAL(good, 3);
        mp_imap_free(it);
        mp_buf_free(&b);
    }
    mp_test_pool_finish(p);
    /* The defaults: rings of 1 MiB for arguments, 4 MiB for results, which
     * larger ones go past. */
    p = mp_test_pool(1, MP_START_DEFAULT);
    MP_CHECK_OK(mp_pool_apply(
        p, t_big_echo,
        MP_ARGS(mp_bytes(arg, (size_t)2 << 20), mp_int((int64_t)2 << 20)),
        &b));
    CU_ASSERT(b.len == (size_t)2 << 20 && pattern_ok(b.data, b.len, 2));
    MP_CHECK_OK(
        mp_pool_apply(p, t_zeros, MP_ARGS(mp_int((int64_t)8 << 20)), &b));
    CU_ASSERT_EQUAL(b.len, (size_t)8 << 20);
    MP_CHECK_OK(
        mp_pool_apply(p, t_zeros, MP_ARGS(mp_int((int64_t)3 << 20)), &b));
    CU_ASSERT_EQUAL(b.len, (size_t)3 << 20);
    mp_buf_free(&b);
    mp_test_pool_finish(p);
    free(arg);
    p = NULL;
    o = (mp_pool_options){.processes = 1,
                          .max_task_bytes = MP_POOL_ITEM_MAX + 1};
    MP_CHECK_RC(mp_pool_new(&p, &o), MP_EINVAL);
    o.max_task_bytes = 0;
    o.max_result_bytes = MP_POOL_ITEM_MAX + 1;
    MP_CHECK_RC(mp_pool_new(&p, &o), MP_EINVAL);
    CU_ASSERT_PTR_NULL(p);
}

void mp_test_suite_pool_api(void) {
    const mp_test_runs once = MP_TEST_ONCE, each = MP_TEST_PER_METHOD;
    MP_TEST_SUITE("pool_api", {"map_sources", test_map_sources, each},
                  {"args_stored_in_loop", test_args_stored_in_loop, once},
                  {"map_items_bad_input", test_map_items_bad_input, once},
                  {"imap_items", test_imap_items, each},
                  {"typed_readers", test_typed_readers, each},
                  {"buf_nul", test_buf_nul, once},
                  {"task_messages", test_task_messages, each},
                  {"fail_outside_task", test_fail_outside_task, each},
                  {"worker_death_message", test_worker_death_message, each},
                  {"large_payloads", test_large_payloads, each});
}
