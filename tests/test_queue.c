/* Queue and JoinableQueue: CPython's queue cases (block, timeout, Full and
 * Empty, full(), qsize, task_done/join, closed queues, items of many sizes),
 * exactly-once delivery with 4 producers x 4 consumers, nothing lost when a
 * producer exits right after put, producers and consumers SIGKILLed at
 * random moments, prompt cross-process wake-ups, named queues and leaks. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef _WIN32
#include <unistd.h>
#endif

#include "testutil.h"

#ifdef MP_STATIC /* the internal gather put is reachable in a static build */
#include "obj/queue_internal.h"
#endif

#define BIG_TIMEOUT 30000L

/* Segments left behind: the names a queue used that still exist (static
 * builds reach the internal probe; the others check less). */
#ifdef MP_STATIC
typedef mp__queue_segs segs_t;
#define SEGS_OF(q, s) mp__queue_segs_of(q, s)
#define SEGS_ALIVE(s) mp__queue_segs_alive(s)
#else
typedef int segs_t;
#define SEGS_OF(q, s) ((void)(q), (void)(s))
#define SEGS_ALIVE(s) ((void)(s), (size_t)0)
#endif

/* ---- items: a header and a payload derived from it, so a torn or mixed
 * item is detected wherever it is read ---- */

typedef struct item_hdr {
    uint32_t id;
    uint32_t len;
} item_hdr;

static size_t make_item(unsigned char *out, uint32_t id, uint32_t len) {
    item_hdr h = {id, len};
    memcpy(out, &h, sizeof h);
    for (uint32_t j = 0; j < len; j++)
        out[sizeof h + j] = (unsigned char)(id * 31u + j * 7u + (id >> 11));
    return sizeof h + len;
}

/* The item's id, or -1 when it is malformed. */
static int64_t check_item(const mp_buf *b) {
    item_hdr h;
    if (b->len < sizeof h)
        return -1;
    memcpy(&h, b->data, sizeof h);
    if (b->len != sizeof h + h.len)
        return -1;
    const unsigned char *p = (const unsigned char *)b->data + sizeof h;
    for (uint32_t j = 0; j < h.len; j++)
        if (p[j] != (unsigned char)(h.id * 31u + j * 7u + (h.id >> 11)))
            return -1;
    return h.id;
}

/* ---- running children ---- */

static int finish(mp_process *p) {
    return mp_test_finish(p, MP_TEST_CHILD_TIMEOUT_MS);
}

static mp_queue *new_queue(size_t maxsize, size_t cap) {
    mp_queue *q = NULL;
    mp_queue_options o = {.capacity_bytes = cap};
    MP_CHECK_OK(mp_queue_new(&q, maxsize, &o));
    return q;
}

/* ---- targets (static on purpose: spawn must find them too) ---- */

/* Puts n items (ids from base; payloads of arg 3 bytes, or id % 300 when
 * absent) and returns at once. */
static int t_put_n(mp_call *c) {
    mp_queue *q = mp_arg_queue(mp_call_arg(c, 0));
    uint32_t base = (uint32_t)mp_arg_int(mp_call_arg(c, 1));
    int64_t n = mp_arg_int(mp_call_arg(c, 2));
    uint32_t len = (uint32_t)mp_arg_int(mp_call_arg(c, 3));
    unsigned char *buf = malloc(sizeof(item_hdr) + (len > 300 ? len : 300));
    int rc = buf ? 0 : 1;
    for (int64_t i = 0; i < n && !rc; i++) {
        uint32_t id = base + (uint32_t)i;
        size_t sz = make_item(buf, id, len ? len : id % 300);
        rc = mp_queue_put(q, buf, sz, BIG_TIMEOUT) ? 1 : 0;
    }
    free(buf);
    return rc;
}

/* Takes items until the queue is closed and sends their ids to `out` in
 * batches; returns the number of malformed items (capped at 50), or 100
 * minus the error code that stopped it. */
static int t_consume(mp_call *c) {
    mp_queue *q = mp_arg_queue(mp_call_arg(c, 0));
    mp_queue *out = mp_arg_queue(mp_call_arg(c, 1));
    uint32_t ids[1024];
    size_t n = 0;
    int bad = 0, rc;
    mp_buf b = {0};
    while ((rc = mp_queue_get(q, &b, BIG_TIMEOUT)) == 0) {
        int64_t id = check_item(&b);
        if (id < 0 && bad < 50)
            bad++;
        ids[n++] = (uint32_t)id;
        if (n == 1024) {
            if (mp_queue_put(out, ids, n * sizeof ids[0], BIG_TIMEOUT))
                bad = 100;
            n = 0;
        }
    }
    if (n && mp_queue_put(out, ids, n * sizeof ids[0], BIG_TIMEOUT))
        bad = 100;
    mp_buf_free(&b);
    return rc == MP_ECLOSED ? bad : 100 - rc;
}

/* Gets items and forwards each to `out` as it is, forever (until killed). */
static int t_forward(mp_call *c) {
    mp_queue *q = mp_arg_queue(mp_call_arg(c, 0));
    mp_queue *out = mp_arg_queue(mp_call_arg(c, 1));
    mp_buf b = {0};
    for (int i = 0; i < 10000000; i++) {
        if (mp_queue_get(q, &b, BIG_TIMEOUT) ||
            mp_queue_put(out, b.data, b.len, BIG_TIMEOUT))
            break;
    }
    mp_buf_free(&b);
    return 1;
}

/* Sleeps, then puts the time it put at. */
static int t_put_time_later(mp_call *c) {
    mp_queue *q = mp_arg_queue(mp_call_arg(c, 0));
    mp_test_sleep_ms((long)mp_arg_int(mp_call_arg(c, 1)));
    int64_t t = mp_test_now_ms();
    return mp_queue_put(q, &t, sizeof t, BIG_TIMEOUT) ? 1 : 0;
}

/* Sleeps, takes one item from q, then puts into r the time it took it. */
static int t_get_time_later(mp_call *c) {
    mp_queue *q = mp_arg_queue(mp_call_arg(c, 0));
    mp_queue *r = mp_arg_queue(mp_call_arg(c, 1));
    mp_buf b = {0};
    mp_test_sleep_ms((long)mp_arg_int(mp_call_arg(c, 2)));
    int rc = mp_queue_get(q, &b, BIG_TIMEOUT);
    int64_t t = mp_test_now_ms();
    mp_buf_free(&b);
    return rc || mp_queue_put(r, &t, sizeof t, BIG_TIMEOUT) ? 1 : 0;
}

/* Blocks in get (or put, when arg 1 is set) and returns the code negated. */
static int t_block(mp_call *c) {
    mp_queue *q = mp_arg_queue(mp_call_arg(c, 0));
    mp_queue *ready = mp_arg_queue(mp_call_arg(c, 2));
    mp_buf b = {0};
    if (mp_queue_put(ready, "r", 1, BIG_TIMEOUT))
        return 1;
    int rc = mp_arg_int(mp_call_arg(c, 1))
                 ? mp_queue_put(q, "x", 1, BIG_TIMEOUT)
                 : mp_queue_get(q, &b, BIG_TIMEOUT);
    mp_buf_free(&b);
    return -rc;
}

/* Gets n items and marks each done. */
static int t_get_done(mp_call *c) {
    mp_queue *q = mp_arg_queue(mp_call_arg(c, 0));
    int64_t n = mp_arg_int(mp_call_arg(c, 1));
    mp_buf b = {0};
    int rc = 0;
    for (int64_t i = 0; i < n && !rc; i++)
        if (!(rc = mp_queue_get(q, &b, BIG_TIMEOUT)))
            rc = mp_queue_task_done(q);
    mp_buf_free(&b);
    return -rc;
}

/* Gets n items, which must be ids 0..n-1 in order, and then finds the
 * queue empty: 0, or 1 + the index of the first item that was not. */
static int t_drain_in_order(mp_call *c) {
    mp_queue *q = mp_arg_queue(mp_call_arg(c, 0));
    int64_t n = mp_arg_int(mp_call_arg(c, 1));
    mp_buf b = {0};
    int64_t i = 0;
    for (; i < n; i++)
        if (mp_queue_get(q, &b, BIG_TIMEOUT) || check_item(&b) != i)
            break;
    if (i == n && mp_queue_get(q, &b, 0) != MP_EAGAIN)
        i = n + 1;
    mp_buf_free(&b);
    return i == n ? 0 : (int)(1 + i % 100);
}

/* Takes one item from `in`, checks it, and puts it into `out` as it is. */
static int t_echo_checked(mp_call *c) {
    mp_queue *in = mp_arg_queue(mp_call_arg(c, 0));
    mp_queue *out = mp_arg_queue(mp_call_arg(c, 1));
    mp_buf b = {0};
    int rc = mp_queue_get(in, &b, BIG_TIMEOUT);
    if (!rc && check_item(&b) < 0)
        rc = 1;
    if (!rc)
        rc = mp_queue_put(out, b.data, b.len, BIG_TIMEOUT) ? 2 : 0;
    mp_buf_free(&b);
    return rc < 0 ? 3 : rc;
}

/* Opens a named queue and puts its name into it. */
static int t_open_named(mp_call *c) {
    const char *name = mp_arg_str(mp_call_arg(c, 0));
    mp_queue *q;
    int rc = mp_queue_open(&q, name);
    if (rc)
        return -rc;
    rc = mp_queue_put(q, name, strlen(name), BIG_TIMEOUT);
    mp_queue_free(q);
    return -rc;
}

/* ---- CPython's cases ---- */

/* The largest item (mp_queue_max_item): any length a record's u32 holds. */
#define ITEM_MAX ((size_t)UINT32_MAX - 15)

/* Items of every size, from empty to several times the ring (those larger
 * than the ring go through a segment of their own), come out intact, and
 * order stays first-in first-out while the ring wraps many times. */
static void test_fifo_many_sizes(void) {
    static const size_t sizes[] = {
        0,     1,     7,     8,     9,     63,    64,    65,     1000,  4095,
        30000, 65512, 65520, 65528, 65536, 65544, 99999, 131072, 250000};
    const size_t nsizes = sizeof sizes / sizeof sizes[0];
    mp_queue *q = new_queue(0, 64 * 1024);
    mp_buf b = {0};
    unsigned char *buf = malloc(300000);
    CU_ASSERT_FATAL(q != NULL && buf != NULL);
    CU_ASSERT_EQUAL(mp_queue_max_item(q), ITEM_MAX);
    /* Every size, alone. */
    for (size_t i = 0; i < nsizes; i++) {
        size_t n = make_item(buf, (uint32_t)i, (uint32_t)sizes[i]);
        MP_CHECK_OK(mp_queue_put(q, buf, n, 0));
        CU_ASSERT_EQUAL(mp_queue_qsize(q), 1);
        MP_CHECK_OK(mp_queue_get(q, &b, 0));
        CU_ASSERT_EQUAL(check_item(&b), (int64_t)i);
    }
    /* Every size, all queued before the first is taken. */
    for (size_t i = 0; i < nsizes; i++)
        MP_CHECK_OK(mp_queue_put(
            q, buf, make_item(buf, (uint32_t)i, (uint32_t)sizes[i]), 0));
    CU_ASSERT_EQUAL(mp_queue_qsize(q), nsizes);
    for (size_t i = 0; i < nsizes; i++) {
        MP_CHECK_OK(mp_queue_get(q, &b, 0));
        CU_ASSERT_EQUAL(check_item(&b), (int64_t)i);
    }
    MP_CHECK_OK(mp_queue_put(q, NULL, 0, 0)); /* the empty item */
    MP_CHECK_OK(mp_queue_get(q, &b, 0));
    CU_ASSERT_EQUAL(b.len, 0);
    /* FIFO order while the ring wraps many times, in batches. */
    uint32_t next_put = 0, next_get = 0;
    for (int round = 0; round < 200; round++) {
        for (int k = 0; k < 37; k++, next_put++)
            MP_CHECK_OK(mp_queue_put(
                q, buf, make_item(buf, next_put, next_put % 700), 0));
        CU_ASSERT_EQUAL(mp_queue_qsize(q), 37);
        for (int k = 0; k < 37; k++, next_get++) {
            MP_CHECK_OK(mp_queue_get(q, &b, 0));
            CU_ASSERT_EQUAL(check_item(&b), (int64_t)next_get);
        }
    }
    CU_ASSERT(mp_queue_empty(q));
    MP_CHECK_RC(mp_queue_get(q, &b, 0), MP_EAGAIN);
    free(buf);
    mp_buf_free(&b);
    mp_queue_free(q);
}

/* A call that must fail with `want` after about `ms`. */
#define CHECK_TIMED(call, want, ms)                                           \
    do {                                                                      \
        int64_t t0_ = mp_test_now_ms();                                       \
        MP_CHECK_RC(call, want);                                              \
        int64_t dt_ = mp_test_now_ms() - t0_;                                 \
        CU_ASSERT(dt_ >= (ms)-20);                                            \
        CU_ASSERT(dt_ < (ms) + 2000);                                         \
    } while (0)

/* empty, full and qsize follow the items held, and get on an empty queue or
 * put on a full one is MP_EAGAIN without a timeout and MP_ETIMEDOUT after
 * about the timeout given. */
static void test_full_empty_timeouts(void) {
    mp_queue *q = new_queue(2, 0);
    mp_buf b = {0};
    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT(mp_queue_empty(q));
    CU_ASSERT(!mp_queue_full(q));
    MP_CHECK_RC(mp_queue_get(q, &b, 0), MP_EAGAIN);
    CHECK_TIMED(mp_queue_get(q, &b, 150), MP_ETIMEDOUT, 150);
    CHECK_TIMED(mp_queue_get(q, &b, 400), MP_ETIMEDOUT, 400);
    MP_CHECK_OK(mp_queue_put(q, "a", 1, 0));
    CU_ASSERT(!mp_queue_empty(q));
    CU_ASSERT(!mp_queue_full(q));
    MP_CHECK_OK(mp_queue_put(q, "bb", 2, MP_INFINITE));
    CU_ASSERT(mp_queue_full(q));
    CU_ASSERT_EQUAL(mp_queue_qsize(q), 2);
    MP_CHECK_RC(mp_queue_put(q, "c", 1, 0), MP_EAGAIN);
    CHECK_TIMED(mp_queue_put(q, "c", 1, 150), MP_ETIMEDOUT, 150);
    MP_CHECK_OK(mp_queue_get(q, &b, MP_INFINITE));
    CU_ASSERT(b.len == 1 && memcmp(b.data, "a", 1) == 0);
    CU_ASSERT(!mp_queue_full(q));
    MP_CHECK_OK(mp_queue_put(q, "c", 1, 0));
    MP_CHECK_OK(mp_queue_get(q, &b, 100));
    CU_ASSERT(b.len == 2 && memcmp(b.data, "bb", 2) == 0);
    MP_CHECK_OK(mp_queue_get(q, &b, 0));
    CU_ASSERT(b.len == 1 && memcmp(b.data, "c", 1) == 0);
    CU_ASSERT_EQUAL(mp_queue_qsize(q), 0);
    mp_buf_free(&b);
    mp_queue_free(q);
}

/* The ring's bytes never block a put: a full ring grows into segments,
 * without waiting even with timeout 0, while the count (maxsize) still
 * does. Only a length past the record's bound is MP_EMSGSIZE. Drained, the
 * queue goes back to its ring and lets its segments go. */
static void test_grows(void) {
    segs_t s1, s2;
    mp_queue *q = new_queue(0, 1000); /* rounded up to 4096 */
    mp_buf b = {0};
    CU_ASSERT_FATAL(q != NULL);
    char *big = calloc(1, 5000);
    MP_CHECK_RC(mp_queue_put(q, big, ITEM_MAX + 1, MP_INFINITE), MP_EMSGSIZE);
    MP_CHECK_RC(mp_queue_put(q, big, (size_t)-1, MP_INFINITE), MP_EMSGSIZE);
    for (uint32_t i = 0; i < 3000; i++) {
        memcpy(big, &i, sizeof i);
        MP_CHECK_OK(mp_queue_put(q, big, 16 + i % 4000, 0));
    }
    CU_ASSERT_EQUAL(mp_queue_qsize(q), 3000);
    SEGS_OF(q, &s1);
#ifdef MP_STATIC
    CU_ASSERT(SEGS_ALIVE(&s1) > 0); /* it grew into segments */
#endif
    for (uint32_t i = 0; i < 3000; i++) {
        uint32_t id = UINT32_MAX;
        MP_CHECK_OK(mp_queue_get(q, &b, 0));
        if (b.len >= sizeof id)
            memcpy(&id, b.data, sizeof id);
        CU_ASSERT(id == i && b.len == 16 + i % 4000);
    }
    /* Drained: the next put goes back to the ring, the next get leaves the
     * last segment, which is removed. */
    MP_CHECK_OK(mp_queue_put(q, "x", 1, 0));
    MP_CHECK_OK(mp_queue_get(q, &b, 0));
    CU_ASSERT(b.len == 1 && ((char *)b.data)[0] == 'x');
    SEGS_OF(q, &s1);
    CU_ASSERT_EQUAL(SEGS_ALIVE(&s1), 0);
    /* A bounded queue grows for bytes and blocks for its count. */
    mp_queue *q2 = new_queue(3, 4096);
    CU_ASSERT_FATAL(q2 != NULL);
    MP_CHECK_OK(mp_queue_put(q2, big, 4088, 0));
    MP_CHECK_OK(mp_queue_put(q2, big, 4089, 0));
    MP_CHECK_OK(mp_queue_put(q2, big, 5000, 0));
    MP_CHECK_RC(mp_queue_put(q2, NULL, 0, 0), MP_EAGAIN);
    CHECK_TIMED(mp_queue_put(q2, NULL, 0, 100), MP_ETIMEDOUT, 100);
    for (size_t len = 4088; len <= 4089; len++) {
        MP_CHECK_OK(mp_queue_get(q2, &b, 0));
        CU_ASSERT_EQUAL(b.len, len);
    }
    MP_CHECK_OK(mp_queue_get(q2, &b, 0));
    CU_ASSERT_EQUAL(b.len, 5000);
    SEGS_OF(q2, &s2);
    free(big);
    mp_buf_free(&b);
    mp_queue_free(q);
    mp_queue_free(q2);
    CU_ASSERT_EQUAL(SEGS_ALIVE(&s2), 0);
}
#define BYTES_CASE {"grows", test_grows, MP_TEST_ONCE},

#ifdef MP_STATIC
/* The pool's gather put: pieces land as one item, across the ring's end. */
static void test_gather_put(void) {
    mp_queue *q = new_queue(0, 4096);
    mp_buf b = {0};
    char big[3000];
    CU_ASSERT_FATAL(q != NULL);
    memset(big, 'z', sizeof big);
    for (int round = 0; round < 20; round++) {
        mp__qvec v[4] = {
            {"head:", 5}, {NULL, 0}, {big, sizeof big}, {":tail", 5}};
        MP_CHECK_OK(mp__queue_putv(q, v, 4, 0));
        MP_CHECK_OK(mp_queue_get(q, &b, 0));
        CU_ASSERT_EQUAL(b.len, 3010);
        if (b.len == 3010) {
            const char *d = b.data;
            CU_ASSERT(memcmp(d, "head:", 5) == 0 &&
                      memcmp(d + 3005, ":tail", 5) == 0);
            CU_ASSERT(d[5] == 'z' && d[3004] == 'z');
        }
    }
    mp__qvec bad[2] = {{NULL, 3}, {"x", 1}};
    MP_CHECK_RC(mp__queue_putv(q, bad, 2, 0), MP_EINVAL);
    /* Larger than the ring: a segment of its own (not on Windows). */
    mp__qvec two[2] = {{big, 3000}, {big, 3000}};
    MP_CHECK_OK(mp__queue_putv(q, two, 2, 0));
    MP_CHECK_OK(mp_queue_get(q, &b, 0));
    CU_ASSERT_EQUAL(b.len, 6000);
    mp__qvec huge[2] = {{big, 3000}, {big, (size_t)-1 - 100}};
    MP_CHECK_RC(mp__queue_putv(q, huge, 2, 0), MP_EMSGSIZE);
    MP_CHECK_OK(mp__queue_putv(q, NULL, 0, 0)); /* the empty item */
    MP_CHECK_OK(mp_queue_get(q, &b, 0));
    CU_ASSERT_EQUAL(b.len, 0);
    mp_buf_free(&b);
    mp_queue_free(q);
}
#define GATHER_CASE {"gather_put", test_gather_put, MP_TEST_ONCE},

/* Runs call and returns how long it took, in ms; *rc is its result. */
#define TIMED(rc, call)                                                       \
    (t0_ = mp_test_now_ms(), (rc) = (call), mp_test_now_ms() - t0_)

/* A producer stopped while it holds the producer side (SIGSTOP on POSIX)
 * blocks no call beyond its deadline: put with timeout 0 is MP_EAGAIN at
 * once, put with a timeout MP_ETIMEDOUT on time, get and qsize go on, and
 * close returns MP_ETIMEDOUT within its bound with the queue closed (a new
 * put is MP_ECLOSED at once; a get waits for that producer, which may
 * still publish). Once the producer lets go, the close completes: get says
 * MP_ECLOSED. */
static void test_stopped_producer(void) {
    mp_queue *q = NULL;
    MP_CHECK_OK(mp_queue_new(&q, 0, NULL));
    MP_CHECK_OK(mp_queue_put(q, "a", 1, 0));
    mp_test_holder h;
    mp_test_holder_start(&h, mp_queue_arg(q), MP_OBJ_QUEUE, 0);
    int64_t t0_;
    int rc;
    CU_ASSERT(TIMED(rc, mp_queue_put(q, "b", 1, 0)) < 1000);
    MP_CHECK_RC(rc, MP_EAGAIN);
    int64_t dt = TIMED(rc, mp_queue_put(q, "b", 1, 300));
    MP_CHECK_RC(rc, MP_ETIMEDOUT);
    CU_ASSERT(dt >= 290 && dt < 5000);
    CU_ASSERT_EQUAL(mp_queue_qsize(q), 1);
    mp_buf b = {0};
    MP_CHECK_OK(mp_queue_get(q, &b, 0));
    CU_ASSERT(b.len == 1 && memcmp(b.data, "a", 1) == 0);
    dt = TIMED(rc, mp_queue_close(q));
    MP_CHECK_RC(rc, MP_ETIMEDOUT);
    CU_ASSERT(dt < 10000);
    CU_ASSERT(TIMED(rc, mp_queue_put(q, "c", 1, MP_INFINITE)) < 1000);
    MP_CHECK_RC(rc, MP_ECLOSED);
    MP_CHECK_RC(mp_queue_get(q, &b, 100), MP_ETIMEDOUT);
    mp_test_holder_end(&h);
    MP_CHECK_RC(mp_queue_get(q, &b, 10000), MP_ECLOSED);
    mp_buf_free(&b);
    mp_queue_free(q);
}

/* A consumer stopped while it holds the consumer side: get with timeout 0
 * is MP_EAGAIN at once, get with a timeout MP_ETIMEDOUT on time; puts,
 * qsize and close go on. */
static void test_stopped_consumer(void) {
    mp_queue *q = NULL;
    MP_CHECK_OK(mp_queue_new(&q, 0, NULL));
    MP_CHECK_OK(mp_queue_put(q, "a", 1, 0));
    mp_test_holder h;
    mp_test_holder_start(&h, mp_queue_arg(q), MP_OBJ_QUEUE, 1);
    int64_t t0_;
    int rc;
    mp_buf b = {0};
    CU_ASSERT(TIMED(rc, mp_queue_get(q, &b, 0)) < 1000);
    MP_CHECK_RC(rc, MP_EAGAIN);
    int64_t dt = TIMED(rc, mp_queue_get(q, &b, 300));
    MP_CHECK_RC(rc, MP_ETIMEDOUT);
    CU_ASSERT(dt >= 290 && dt < 5000);
    MP_CHECK_OK(mp_queue_put(q, "b", 1, 0));
    CU_ASSERT_EQUAL(mp_queue_qsize(q), 2);
    MP_CHECK_OK(mp_queue_close(q));
    mp_test_holder_end(&h);
    MP_CHECK_OK(mp_queue_get(q, &b, 10000));
    MP_CHECK_OK(mp_queue_get(q, &b, 10000));
    MP_CHECK_RC(mp_queue_get(q, &b, 10000), MP_ECLOSED);
    mp_buf_free(&b);
    mp_queue_free(q);
}
#define HOLDER_CASES                                                          \
    {"stopped_producer", test_stopped_producer, MP_TEST_ONCE},                \
        {"stopped_consumer", test_stopped_consumer, MP_TEST_ONCE},
#else
#define GATHER_CASE
#define HOLDER_CASES
#endif

/* NULL queues and outputs, out-of-range sizes, bad names and negative timeouts
 * are MP_EINVAL, an absent name is MP_ENOENT, the largest timeout is a bound
 * and not an overflow, and only a queue argument reads as a queue. */
static void test_bad_input(void) {
    mp_queue *q = NULL;
    mp_buf b = {0};
    MP_CHECK_RC(mp_queue_new(NULL, 0, NULL), MP_EINVAL);
    MP_CHECK_RC(mp_queue_new(&q, (size_t)INT32_MAX + 1, NULL), MP_EINVAL);
    CU_ASSERT_PTR_NULL(q);
    mp_queue_options o = {.capacity_bytes = (size_t)1 << 31};
    MP_CHECK_RC(mp_queue_new(&q, 0, &o), MP_EINVAL);
    o = (mp_queue_options){.name = "a/b"};
    MP_CHECK_RC(mp_queue_new(&q, 0, &o), MP_EINVAL);
    o = (mp_queue_options){.name = ""};
    MP_CHECK_RC(mp_queue_new(&q, 0, &o), MP_EINVAL);
    MP_CHECK_RC(mp_queue_open(&q, NULL), MP_EINVAL);
    MP_CHECK_RC(mp_queue_open(&q, "mpq-surely-absent-4f1c"), MP_ENOENT);
    MP_CHECK_RC(mp_queue_put(NULL, "x", 1, 0), MP_EINVAL);
    MP_CHECK_RC(mp_queue_get(NULL, &b, 0), MP_EINVAL);
    MP_CHECK_RC(mp_queue_close(NULL), MP_EINVAL);
    MP_CHECK_RC(mp_queue_task_done(NULL), MP_EINVAL);
    MP_CHECK_RC(mp_queue_join(NULL, 0), MP_EINVAL);
    CU_ASSERT_EQUAL(mp_queue_qsize(NULL), 0);
    CU_ASSERT_EQUAL(mp_queue_max_item(NULL), 0);
    CU_ASSERT(!mp_queue_full(NULL));
    mp_queue_free(NULL);
    q = new_queue(0, 0);
    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT_EQUAL(mp_queue_max_item(q), ITEM_MAX);
    MP_CHECK_RC(mp_queue_put(q, NULL, 5, 0), MP_EINVAL);
    MP_CHECK_RC(mp_queue_put(q, "x", 1, -2), MP_EINVAL);
    MP_CHECK_RC(mp_queue_get(q, NULL, 0), MP_EINVAL);
    MP_CHECK_RC(mp_queue_get(q, &b, -5), MP_EINVAL);
    MP_CHECK_RC(mp_queue_join(q, -3), MP_EINVAL);
    CU_ASSERT_EQUAL(mp_queue_qsize(q), 0);
    /* The largest bounds are bounds, not overflows. */
    MP_CHECK_OK(mp_queue_put(q, "x", 1, LONG_MAX));
    MP_CHECK_OK(mp_queue_get(q, &b, LONG_MAX));
    MP_CHECK_RC(mp_queue_get(q, &b, 0), MP_EAGAIN);
    mp_buf_free(&b);
    /* Argument readers: a queue is a queue, nothing else is. */
    mp_arg a = mp_queue_arg(q);
    CU_ASSERT_PTR_EQUAL(mp_arg_queue(&a), q);
    mp_arg i = mp_int(3);
    CU_ASSERT_PTR_NULL(mp_arg_queue(&i));
    CU_ASSERT_PTR_NULL(mp_arg_queue(NULL));
    mp_queue_free(q);
}

/* After close (idempotent) put is MP_ECLOSED while the items already in the
 * queue can still be got, and then get is MP_ECLOSED even when it would block.
 * */
static void test_close(void) {
    mp_queue *q = new_queue(0, 0);
    mp_buf b = {0};
    CU_ASSERT_FATAL(q != NULL);
    MP_CHECK_OK(mp_queue_put(q, "1", 1, 0));
    MP_CHECK_OK(mp_queue_put(q, "2", 1, 0));
    MP_CHECK_OK(mp_queue_close(q));
    MP_CHECK_OK(mp_queue_close(q));
    MP_CHECK_RC(mp_queue_put(q, "3", 1, MP_INFINITE), MP_ECLOSED);
    CU_ASSERT_EQUAL(mp_queue_qsize(q), 2);
    MP_CHECK_OK(mp_queue_get(q, &b, MP_INFINITE));
    CU_ASSERT(b.len == 1 && ((char *)b.data)[0] == '1');
    MP_CHECK_OK(mp_queue_get(q, &b, 0));
    CU_ASSERT(b.len == 1 && ((char *)b.data)[0] == '2');
    MP_CHECK_RC(mp_queue_get(q, &b, 0), MP_ECLOSED);
    MP_CHECK_RC(mp_queue_get(q, &b, MP_INFINITE), MP_ECLOSED);
    mp_buf_free(&b);
    mp_queue_free(q);
}

/* Another process blocked in get (or in put on a full queue) wakes with
 * MP_ECLOSED when the queue is closed. */
static void test_close_wakes_blocked(void) {
    mp_buf b = {0};
    for (int put = 0; put <= 1; put++) {
        mp_queue *q = new_queue(1, 0), *ready = new_queue(0, 0);
        CU_ASSERT_FATAL(q && ready);
        if (put)
            MP_CHECK_OK(mp_queue_put(q, "full", 4, 0));
        mp_process *p = mp_test_start(
            t_block,
            MP_ARGS(mp_queue_arg(q), mp_int(put), mp_queue_arg(ready)),
            mp_test_method());
        MP_CHECK_OK(mp_queue_get(ready, &b, BIG_TIMEOUT));
        int64_t t0 = mp_test_now_ms();
        MP_CHECK_OK(mp_queue_close(q));
        CU_ASSERT_EQUAL(finish(p), -MP_ECLOSED);
        /* Woken by the close, not by any timeout (the child blocks
         * without one): a generous bound, as a loaded machine takes
         * seconds to schedule a child's exit and its reaping. */
        CU_ASSERT(mp_test_now_ms() - t0 < 20000);
        mp_queue_free(q);
        mp_queue_free(ready);
    }
    mp_buf_free(&b);
}

/* join waits until task_done has been called once per item put (a task_done
 * too many is MP_EOVERFLOW), including when a child does the work. */
static void test_task_done_join(void) {
    mp_buf b = {0};
    mp_queue *q = new_queue(0, 0);
    CU_ASSERT_FATAL(q != NULL);
    MP_CHECK_RC(mp_queue_task_done(q), MP_EOVERFLOW);
    MP_CHECK_OK(mp_queue_join(q, 0));
    MP_CHECK_OK(mp_queue_put(q, "a", 1, 0));
    MP_CHECK_OK(mp_queue_put(q, "b", 1, 0));
    MP_CHECK_RC(mp_queue_join(q, 0), MP_EAGAIN);
    CHECK_TIMED(mp_queue_join(q, 120), MP_ETIMEDOUT, 120);
    MP_CHECK_OK(mp_queue_get(q, &b, 0));
    MP_CHECK_OK(mp_queue_task_done(q));
    MP_CHECK_RC(mp_queue_join(q, 0), MP_EAGAIN);
    MP_CHECK_OK(mp_queue_get(q, &b, 0));
    MP_CHECK_OK(mp_queue_task_done(q));
    MP_CHECK_OK(mp_queue_join(q, 0));
    MP_CHECK_RC(mp_queue_task_done(q), MP_EOVERFLOW);
    /* A child does the work; join returns when it is done. */
    for (int k = 0; k < 5; k++)
        MP_CHECK_OK(mp_queue_put(q, "w", 1, 0));
    mp_process *p = mp_test_start(
        t_get_done, MP_ARGS(mp_queue_arg(q), mp_int(5)), mp_test_method());
    MP_CHECK_OK(mp_queue_join(q, BIG_TIMEOUT));
    CU_ASSERT(mp_queue_empty(q));
    CU_ASSERT_EQUAL(finish(p), 0);
    mp_queue_free(q);
    mp_buf_free(&b);
}

/* A producer that exits right after its last put loses nothing. */
static void test_producer_exits_after_put(void) {
    mp_buf b = {0};
    mp_queue *q = new_queue(0, 4 << 20);
    CU_ASSERT_FATAL(q != NULL);
    mp_process *p = mp_test_start(
        t_put_n, MP_ARGS(mp_queue_arg(q), mp_int(0), mp_int(5000)),
        mp_test_method());
    CU_ASSERT_EQUAL(finish(p), 0);
    CU_ASSERT_EQUAL(mp_queue_qsize(q), 5000);
    for (int64_t k = 0; k < 5000; k++) {
        MP_CHECK_OK(mp_queue_get(q, &b, 0));
        CU_ASSERT_EQUAL(check_item(&b), k);
    }
    MP_CHECK_RC(mp_queue_get(q, &b, 0), MP_EAGAIN);
    mp_queue_free(q);
    mp_buf_free(&b);
}

/* A consumer blocked in get wakes promptly on a put from another process:
 * well within the sleep slice that would hide a lost wake-up. */
static void test_blocked_get_wakes(void) {
    mp_buf b = {0};
    mp_queue *q = new_queue(0, 0);
    CU_ASSERT_FATAL(q != NULL);
    mp_process *p =
        mp_test_start(t_put_time_later, MP_ARGS(mp_queue_arg(q), mp_int(300)),
                      mp_test_method());
    MP_CHECK_OK(mp_queue_get(q, &b, BIG_TIMEOUT));
    int64_t now = mp_test_now_ms(), sent;
    CU_ASSERT_FATAL(b.len == sizeof sent);
    memcpy(&sent, b.data, sizeof sent);
    CU_ASSERT(now - sent < 100);
    CU_ASSERT_EQUAL(finish(p), 0);
    mp_queue_free(q);
    mp_buf_free(&b);
}

/* A producer blocked on a full queue wakes promptly when another process
 * takes an item. */
static void test_blocked_put_wakes(void) {
    mp_buf b = {0};
    mp_queue *q = new_queue(1, 0), *r = new_queue(0, 0);
    CU_ASSERT_FATAL(q && r);
    MP_CHECK_OK(mp_queue_put(q, "a", 1, 0));
    mp_process *p =
        mp_test_start(t_get_time_later,
                      MP_ARGS(mp_queue_arg(q), mp_queue_arg(r), mp_int(300)),
                      mp_test_method());
    MP_CHECK_OK(mp_queue_put(q, "b", 1, BIG_TIMEOUT));
    int64_t now = mp_test_now_ms(), took;
    MP_CHECK_OK(mp_queue_get(r, &b, BIG_TIMEOUT));
    CU_ASSERT_FATAL(b.len == sizeof took);
    memcpy(&took, b.data, sizeof took);
    CU_ASSERT(now - took < 100);
    CU_ASSERT_EQUAL(finish(p), 0);
    CU_ASSERT_EQUAL(mp_queue_qsize(q), 1);
    mp_queue_free(q);
    mp_queue_free(r);
    mp_buf_free(&b);
}

/* ---- growth and large items ---- */

/* Python's "fill the queue, then start the consumers": 100 000 items go
 * into a Queue() with default options before any consumer exists, none of
 * the puts waiting (timeout 0), and a child then reads them all in order.
 * The segments the queue grew into are gone with it. */
static void test_fill_then_drain(void) {
    enum { N = 100000 };
    segs_t segs;
    mp_queue *q = NULL;
    MP_CHECK_OK(mp_queue_new(&q, 0, NULL));
    unsigned char *buf = malloc(sizeof(item_hdr) + 300);
    CU_ASSERT_FATAL(q != NULL && buf != NULL);
    int failed = 0;
    for (uint32_t i = 0; i < N && !failed; i++)
        failed = mp_queue_put(q, buf, make_item(buf, i, i % 300), 0);
    MP_CHECK_OK(failed);
    CU_ASSERT_EQUAL(mp_queue_qsize(q), N);
    SEGS_OF(q, &segs);
    mp_process *p =
        mp_test_start(t_drain_in_order, MP_ARGS(mp_queue_arg(q), mp_int(N)),
                      mp_test_method());
    CU_ASSERT_EQUAL(finish(p), 0);
    CU_ASSERT(mp_queue_empty(q));
    free(buf);
    mp_queue_free(q);
    CU_ASSERT_EQUAL(SEGS_ALIVE(&segs), 0);
}

/* A producer that exits with its items in segments no consumer has opened
 * yet loses none of them: 2000 small items that outgrow a 4 KiB ring, then
 * items each larger than it, each time with nobody reading until the
 * producer is gone. (Windows made segments that died with their last
 * handle, the producer's, before they were files.) */
static void test_segments_outlive_producer(void) {
    segs_t segs;
    mp_buf b = {0};
    mp_queue *q = new_queue(0, 4096);
    CU_ASSERT_FATAL(q != NULL);
    const int64_t counts[2] = {2000, 4}, lens[2] = {0, 50000};
    for (int r = 0; r < 2; r++) {
        mp_process *p =
            mp_test_start(t_put_n,
                          MP_ARGS(mp_queue_arg(q), mp_int(0),
                                  mp_int(counts[r]), mp_int(lens[r])),
                          mp_test_method());
        CU_ASSERT_EQUAL(finish(p), 0);
        CU_ASSERT_EQUAL(mp_queue_qsize(q), (size_t)counts[r]);
        for (int64_t k = 0; k < counts[r]; k++) {
            MP_CHECK_OK(mp_queue_get(q, &b, 0));
            CU_ASSERT_EQUAL(check_item(&b), k);
        }
        MP_CHECK_RC(mp_queue_get(q, &b, 0), MP_EAGAIN);
    }
    SEGS_OF(q, &segs);
    mp_queue_free(q);
    mp_buf_free(&b);
    CU_ASSERT_EQUAL(SEGS_ALIVE(&segs), 0);
}

/* A 100 MB item goes to a child and comes back intact, each way through a
 * segment made for it; nothing is left afterwards. */
static void test_large_items(void) {
    const uint32_t len = 100u * 1000 * 1000;
    segs_t s1, s2;
    mp_queue *in = new_queue(0, 0), *out = new_queue(0, 0);
    unsigned char *big = malloc(sizeof(item_hdr) + len);
    mp_buf b = {0};
    CU_ASSERT_FATAL(in && out && big);
    size_t n = make_item(big, 77, len);
    MP_CHECK_OK(mp_queue_put(in, big, n, 0));
    free(big);
    mp_process *p = mp_test_start(t_echo_checked,
                                  MP_ARGS(mp_queue_arg(in), mp_queue_arg(out)),
                                  mp_test_method());
    MP_CHECK_OK(mp_queue_get(out, &b, BIG_TIMEOUT));
    CU_ASSERT_EQUAL(b.len, n);
    CU_ASSERT_EQUAL(check_item(&b), 77);
    CU_ASSERT_EQUAL(finish(p), 0);
    SEGS_OF(in, &s1);
    SEGS_OF(out, &s2);
    mp_buf_free(&b);
    mp_queue_free(in);
    mp_queue_free(out);
    CU_ASSERT_EQUAL(SEGS_ALIVE(&s1) + SEGS_ALIVE(&s2), 0);
}

/* ---- many producers and consumers ---- */

#define NPROD 4
#define NCONS 4
/* Exactly-once is what is checked, not speed: under Wine, where each wait
 * is a round trip through wineserver, a quarter as many items keep a busy
 * machine well inside the join bound. */
#ifdef _WIN32
#define PER_PROD 25000
#else
#define PER_PROD 100000
#endif

/* Marks id in seen; counts duplicates and ids out of range in *bad. */
static void mark(unsigned char *seen, uint32_t id, uint32_t limit, int *bad) {
    if (id >= limit || (seen[id / 8] & (1u << (id % 8))))
        (*bad)++;
    else
        seen[id / 8] |= (unsigned char)(1u << (id % 8));
}

/* 4 producers x 4 consumers x 100k items: every item arrives exactly once,
 * intact (each consumer checks every byte). */
static void test_mpmc_exactly_once(void) {
    const uint32_t limit = NPROD << 20;
    mp_queue *q = new_queue(1000, 64 * 1024), *out = new_queue(0, 16 << 20);
    unsigned char *seen = calloc(limit / 8, 1);
    mp_process *ps[NPROD], *cs[NCONS];
    mp_buf b = {0};
    CU_ASSERT_FATAL(q && out && seen);
    int64_t t0 = mp_test_now_ms();
    for (int k = 0; k < NCONS; k++)
        cs[k] = mp_test_start(t_consume,
                              MP_ARGS(mp_queue_arg(q), mp_queue_arg(out)),
                              MP_START_DEFAULT);
    for (int k = 0; k < NPROD; k++)
        ps[k] =
            mp_test_start(t_put_n,
                          MP_ARGS(mp_queue_arg(q), mp_int((int64_t)k << 20),
                                  mp_int(PER_PROD)),
                          MP_START_DEFAULT);
    for (int k = 0; k < NPROD; k++)
        CU_ASSERT_EQUAL(finish(ps[k]), 0);
    MP_CHECK_OK(mp_queue_close(q));
    for (int k = 0; k < NCONS; k++)
        CU_ASSERT_EQUAL(finish(cs[k]), 0);
    int bad = 0;
    size_t total = 0;
    while (mp_queue_get(out, &b, 0) == 0) {
        const uint32_t *ids = b.data;
        for (size_t j = 0; j < b.len / 4; j++)
            mark(seen, ids[j], limit, &bad);
        total += b.len / 4;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(total, (size_t)NPROD * PER_PROD);
    for (uint32_t k = 0; k < NPROD; k++)
        for (uint32_t s = 0; s < PER_PROD; s++)
            if (!(seen[((k << 20) | s) / 8] & (1u << (s % 8))))
                bad++;
    CU_ASSERT_EQUAL(bad, 0);
    fprintf(stderr, "    (%d x %d x %d items in %lld ms)\n", NPROD, NCONS,
            PER_PROD, (long long)(mp_test_now_ms() - t0));
    free(seen);
    mp_buf_free(&b);
    mp_queue_free(q);
    mp_queue_free(out);
}

/* ---- processes killed at random moments ---- */

/* Drains q without blocking, marking each item's sequence number (items of
 * this round only); returns the number of malformed / foreign / duplicate
 * items. */
static int drain_round(mp_queue *q, mp_buf *b, uint32_t round,
                       unsigned char *seen, uint32_t *maxseq) {
    int bad = 0;
    while (mp_queue_get(q, b, 0) == 0) {
        int64_t id = check_item(b);
        if (id < 0 || (uint32_t)id >> 20 != round) {
            bad++;
            continue;
        }
        uint32_t s = (uint32_t)id & 0xfffff;
        mark(seen, s, 1u << 20, &bad);
        if (s + 1 > *maxseq)
            *maxseq = s + 1;
    }
    return bad;
}

/* One round: a producer streams into q, a forwarder moves items from q to
 * out, both are SIGKILLed at random moments; then every item found is
 * intact, none is duplicated or from an earlier round, at most one (the one
 * the forwarder held) is missing, and both queues still work. */
static int kill_round(mp_queue *q, mp_queue *out, uint32_t round,
                      unsigned char *seen, mp_start_method m, long *moved,
                      uint32_t len) {
    mp_buf b = {0};
    uint32_t maxseq = 0;
    int bad = 0;
    memset(seen, 0, (1u << 20) / 8);
    mp_process *prod =
        mp_test_start(t_put_n,
                      MP_ARGS(mp_queue_arg(q), mp_int((int64_t)round << 20),
                              mp_int(1 << 19), mp_int(len)),
                      m);
    mp_process *fwd = mp_test_start(
        t_forward, MP_ARGS(mp_queue_arg(q), mp_queue_arg(out)), m);
    mp_process *first = rand() % 2 ? prod : fwd;
    /* Both are at work once an item came through (a spawned child takes
     * longer to start than the kill delays below). */
    if (mp_queue_get(out, &b, BIG_TIMEOUT) == 0) {
        int64_t id = check_item(&b);
        if (id < 0 || (uint32_t)id >> 20 != round)
            bad++;
        else
            mark(seen, (uint32_t)id & 0xfffff, 1u << 20, &bad);
        maxseq = id < 0 ? 0 : ((uint32_t)id & 0xfffff) + 1;
    } else {
        bad++;
    }
    mp_test_sleep_ms(rand() % 4);
    MP_CHECK_OK(mp_process_kill(first));
    mp_test_sleep_ms(rand() % 3);
    MP_CHECK_OK(mp_process_kill(first == prod ? fwd : prod));
    finish(prod);
    finish(fwd);
    bad += drain_round(out, &b, round, seen, &maxseq);
    bad += drain_round(q, &b, round, seen, &maxseq);
    uint32_t missing = 0;
    *moved += maxseq;
    for (uint32_t s = 0; s < maxseq; s++)
        missing += !(seen[s / 8] & (1u << (s % 8)));
    if (missing > 1)
        bad += (int)missing;
    /* Both queues still work for everyone. */
    unsigned char probe[64];
    for (int k = 0; k < 2; k++) {
        mp_queue *x = k ? out : q;
        size_t n = make_item(probe, 0xfffffu, 40);
        if (mp_queue_put(x, probe, n, 5000) || mp_queue_get(x, &b, 5000) ||
            check_item(&b) != 0xfffff || !mp_queue_empty(x))
            bad++;
    }
    mp_buf_free(&b);
    return bad;
}

/* Rounds of kill_round with the test's start method; len 0: small items of
 * many sizes, else items of len bytes (so the kills land mid-copy). */
static void kill_rounds(uint32_t len, size_t cap, int fork_rounds,
                        int spawn_rounds) {
    mp_queue *q = new_queue(0, cap), *out = new_queue(0, cap);
    unsigned char *seen = malloc((1u << 20) / 8);
    CU_ASSERT_FATAL(q && out && seen);
    srand(12345);
    int64_t t0 = mp_test_now_ms();
    int rounds = 0, bad = 0;
    long moved = 0;
    mp_start_method m = mp_test_method();
    /* A spawned child costs far more (and is all Windows has). */
    int want = m == MP_START_SPAWN ? spawn_rounds : fork_rounds;
    int64_t until = mp_test_now_ms() + 40000;
    for (; rounds < want && mp_test_now_ms() < until; rounds++)
        bad += kill_round(q, out, (uint32_t)rounds, seen, m, &moved, len);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(rounds >= want / 4);
    CU_ASSERT(moved > rounds); /* the children did run before the kills */
    fprintf(stderr, "    (%d kill rounds, %ld items, %lld ms)\n", rounds,
            moved, (long long)(mp_test_now_ms() - t0));
    segs_t s1, s2;
    SEGS_OF(q, &s1);
    SEGS_OF(out, &s2);
    free(seen);
    mp_queue_free(q);
    mp_queue_free(out);
    /* The segments the children made, and those they were killed making,
     * are gone with the last user. */
    CU_ASSERT_EQUAL(SEGS_ALIVE(&s1) + SEGS_ALIVE(&s2), 0);
}

/* A producer and a forwarder killed at random moments lose at most the one
 * item the forwarder held, duplicate none, and leave both queues working. */
static void test_kill_at_random(void) { kill_rounds(0, 16 * 1024, 300, 40); }

/* 256 KiB items: the producer and the forwarder spend most of their time
 * copying, with a queue's mutex held, when they are killed. */
static void test_kill_mid_copy(void) {
    kill_rounds(256 * 1024, 1 << 20, 60, 10);
}

/* The same with a 4 KiB ring, which the producer outruns: the queue grows
 * into segments (and back) while both are killed. */
static void test_kill_growing(void) { kill_rounds(0, 4096, 200, 30); }

/* 100 KiB items on a 16 KiB ring: every item is larger than the ring and
 * goes into a segment made for it, while both are killed. */
static void test_kill_large(void) { kill_rounds(100 * 1024, 16384, 60, 10); }

#define GROWTH_CASES                                                          \
    {"kill_growing", test_kill_growing, MP_TEST_PER_METHOD},                  \
        {"kill_large", test_kill_large, MP_TEST_PER_METHOD},                  \
        {"fill_then_drain", test_fill_then_drain, MP_TEST_PER_METHOD},        \
        {"large_items", test_large_items, MP_TEST_PER_METHOD},                \
        {"segments_outlive_producer", test_segments_outlive_producer,         \
         MP_TEST_PER_METHOD},

/* ---- names, arguments and leaks ---- */

/* A named queue is MP_EEXIST to a second create, found by name from this
 * process and from a child, kept alive by any of its users, and removed with
 * the last one. */
static void test_named(void) {
    char name[64];
    mp_buf b = {0};
    snprintf(name, sizeof name, "mpq-test-%ld", mp_getpid());
    mp_queue *q = NULL, *q2 = NULL, *dup = NULL;
    mp_queue_options o = {.name = name, .capacity_bytes = 8192};
    MP_CHECK_OK(mp_queue_new(&q, 3, &o));
    CU_ASSERT_FATAL(q != NULL);
    MP_CHECK_RC(mp_queue_new(&dup, 0, &o), MP_EEXIST);
    MP_CHECK_OK(mp_queue_open(&q2, name));
    CU_ASSERT_FATAL(q2 != NULL);
    CU_ASSERT_EQUAL(mp_queue_max_item(q2), ITEM_MAX);
    /* An unrelated process finds it by name. */
    mp_process *p =
        mp_test_start(t_open_named, MP_ARGS(mp_str(name)), mp_test_method());
    CU_ASSERT_EQUAL(finish(p), 0);
    MP_CHECK_OK(mp_queue_put(q, "x", 1, 0));
    CU_ASSERT_EQUAL(mp_queue_qsize(q2), 2);
    MP_CHECK_OK(mp_queue_put(q2, "y", 1, 0));
    CU_ASSERT(mp_queue_full(q));
    MP_CHECK_OK(mp_queue_get(q2, &b, 0));
    CU_ASSERT(b.len == strlen(name) && memcmp(b.data, name, b.len) == 0);
    MP_CHECK_OK(mp_queue_get(q, &b, 0));
    CU_ASSERT(b.len == 1 && ((char *)b.data)[0] == 'x');
    mp_queue_free(q); /* the creator leaves first; q2 keeps it alive */
    MP_CHECK_OK(mp_queue_get(q2, &b, 0));
    CU_ASSERT(b.len == 1 && ((char *)b.data)[0] == 'y');
    mp_queue_free(q2); /* the last user removes the name */
    MP_CHECK_RC(mp_queue_open(&q2, name), MP_ENOENT);
    mp_buf_free(&b);
}

/* An anonymous queue passed to a child leaves no descriptor / handle and
 * nothing in /dev/shm behind. */
static void test_no_leaks(void) {
    mp_buf b = {0};
    mp_test_fdset *fds = mp_test_fds_take();
#ifndef _WIN32
    int shm = mp_test_shm_entries();
#endif
    mp_queue *q = new_queue(0, 0);
    CU_ASSERT_FATAL(q != NULL);
    mp_process *p =
        mp_test_start(t_put_n, MP_ARGS(mp_queue_arg(q), mp_int(7), mp_int(3)),
                      mp_test_method());
    CU_ASSERT_EQUAL(finish(p), 0);
    for (int k = 0; k < 3; k++) {
        MP_CHECK_OK(mp_queue_get(q, &b, 0));
        CU_ASSERT_EQUAL(check_item(&b), 7 + k);
    }
    mp_queue_free(q);
    CU_ASSERT_EQUAL(mp_test_fds_check(fds), 0);
#ifndef _WIN32
    CU_ASSERT_EQUAL(mp_test_shm_entries(), shm);
#endif
    mp_buf_free(&b);
}

void mp_test_suite_queue(void) {
    const mp_test_runs once = MP_TEST_ONCE, each = MP_TEST_PER_METHOD;
    MP_TEST_SUITE(
        "queue", {"fifo_many_sizes", test_fifo_many_sizes, once},
        {"full_empty_timeouts", test_full_empty_timeouts, once},
        BYTES_CASE GATHER_CASE HOLDER_CASES{"bad_input", test_bad_input, once},
        {"close", test_close, once},
        {"close_wakes_blocked", test_close_wakes_blocked, each},
        {"task_done_join", test_task_done_join, each},
        {"producer_exits_after_put", test_producer_exits_after_put, each},
        {"blocked_get_wakes", test_blocked_get_wakes, each},
        {"blocked_put_wakes", test_blocked_put_wakes, each},
        {"mpmc_exactly_once", test_mpmc_exactly_once, once},
        {"kill_at_random", test_kill_at_random, each},
        {"kill_mid_copy", test_kill_mid_copy, each},
        GROWTH_CASES{"named", test_named, each},
        {"no_leaks", test_no_leaks, each});
}
