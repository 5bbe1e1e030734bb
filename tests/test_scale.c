/* Scale: many processes alive at once, 16 producers x 16 consumers on one
 * queue (exactly once, every payload checked), 1 GiB through a queue and
 * through a pipe with checksums, a pool of 256 workers on a 2-CPU machine
 * that survives kills; nothing leaks (descriptors or handles, /dev/shm).
 *
 * Sizes are bounded for CI (the suite takes seconds natively). Under
 * Windows they are smaller: the suite runs under Wine, where every process
 * start and every wait is a round trip through wineserver (tens of ms per
 * start, and a Windows process costs far more memory than a fork), so
 * 1000 processes or 1 GiB would take minutes there, and would measure Wine
 * rather than the library. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#endif

#include "testutil.h"

#ifdef _WIN32
#define FORK_ALIVE 0    /* no fork */
#define SPAWN_ALIVE 24  /* processes alive at once, spawned */
#define MPMC_ITEMS 4096 /* over 16 x 16 */
#define BULK_MIB 64     /* through a queue and a pipe */
#define POOL_FORK 0     /* no fork */
#define POOL_SPAWN 32   /* workers */
#define POOL_TASKS 2000 /* per map */
#else
#if defined(MPROC_TEST_PORTABLE)
/* The portable path's waiters poll (back-off capped at 1 ms): each costs
 * about 1000 wake-ups a second, so 1000 of them saturate a 2-CPU machine
 * and starve the starts (measured: over 300 s, waits timing out). */
#define FORK_ALIVE 200
#else
#define FORK_ALIVE 1000
#endif
#define SPAWN_ALIVE 100
#define MPMC_ITEMS 160000
#define BULK_MIB 1024
#define POOL_FORK 256
#define POOL_SPAWN 64
#define POOL_TASKS 20000
#endif

#define NPROD 16
#define NCONS 16

/* The descriptors (handles) and /dev/shm names of this process before a
 * test, checked again after it: a descriptor or handle that differs is
 * named. */
typedef struct baseline {
    mp_test_fdset *fds;
    int shm;
} baseline;

static baseline baseline_take(void) {
    mp_test_warm_up();
    baseline b = {mp_test_fds_take(), mp_test_shm_entries()};
    return b;
}

static void baseline_check(baseline b) {
    CU_ASSERT_EQUAL(mp_test_fds_check(b.fds), 0);
    CU_ASSERT_EQUAL(mp_test_shm_entries(), b.shm);
}

/* A word-wise checksum, order-sensitive (64-bit FNV-1a over words). */
static uint64_t sum_words(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
    }
    for (size_t i = n & ~(size_t)7; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

#define SUM_SEED 0xcbf29ce484222325ull

/* ---- many processes alive at once ---- */

/* Bounded, but generously: on the portable path every waiter polls its
 * word (1 ms back-off), so 1000 of them slow the starts of the last ones
 * down, and on a loaded 2-CPU machine the first waited over 60 s. */
static int t_wait_event(mp_call *c) {
    return mp_event_wait(mp_arg_event(mp_call_arg(c, 0)), 300000) ? 1 : 5;
}

/* Enough descriptors for a pidfd per child (CI's soft limit may be 1024). */
static void raise_nofile(void) {
#ifndef _WIN32
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
#endif
}

static void alive_at_once(mp_start_method m, int n) {
    raise_nofile();
    baseline b = baseline_take();
    mp_event *e = NULL;
    MP_CHECK_OK(mp_event_new(&e, NULL));
    mp_process **ps = calloc((size_t)n, sizeof *ps);
    mp_process_options o = {.start_method = m};
    int started = 0;
    for (int i = 0; i < n; i++, started++) {
        int rc =
            mp_process_new(&ps[i], t_wait_event, MP_ARGS(mp_event_arg(e)), &o);
        if (!rc)
            rc = mp_process_start(ps[i]);
        if (rc) {
            fprintf(stderr, "process %d of %d: %s\n", i, n, mp_err_name(rc));
            CU_FAIL("start");
            mp_process_free(ps[i]);
            break;
        }
    }
    int alive = 0;
    for (int i = 0; i < started; i++)
        alive += mp_process_is_alive(ps[i]) == 1;
    CU_ASSERT_EQUAL(alive, n);
    MP_CHECK_OK(mp_event_set(e));
    int ok = 0;
    for (int i = 0; i < started; i++)
        ok += mp_test_finish(ps[i], MP_TEST_CHILD_TIMEOUT_MS) == 5;
    CU_ASSERT_EQUAL(ok, n);
    free(ps);
    mp_event_free(e);
    baseline_check(b);
}

/* FORK_ALIVE forked children are all alive at once, each exits with its code
 * once released, and no descriptor or /dev/shm name is left. */
static void test_alive_fork(void) {
    if (FORK_ALIVE)
        alive_at_once(MP_START_FORK, FORK_ALIVE);
}

/* SPAWN_ALIVE spawned children are all alive at once, each exits with its code
 * once released, and no descriptor or /dev/shm name is left. */
static void test_alive_spawn(void) {
    alive_at_once(MP_START_SPAWN, SPAWN_ALIVE);
}

/* ---- 16 producers x 16 consumers, exactly once ---- */

static size_t item_fill(unsigned char *out, uint32_t id) {
    uint32_t len = 8 + id % 120;
    memcpy(out, &id, 4);
    memcpy(out + 4, &len, 4);
    for (uint32_t j = 8; j < len; j++)
        out[j] = (unsigned char)(id * 2654435761u >> (j % 24));
    return len;
}

/* The item's id, or -1 when its payload is not the one its id makes. */
static int64_t item_check(const mp_buf *b) {
    unsigned char want[128];
    uint32_t id;
    if (b->len < 8)
        return -1;
    memcpy(&id, b->data, 4);
    size_t n = item_fill(want, id);
    return n == b->len && memcmp(want, b->data, n) == 0 ? (int64_t)id : -1;
}

/* Puts ids base, base + step, ... below total. */
static int t_produce(mp_call *c) {
    mp_queue *q = mp_arg_queue(mp_call_arg(c, 0));
    int64_t base = mp_arg_int(mp_call_arg(c, 1)),
            step = mp_arg_int(mp_call_arg(c, 2)),
            total = mp_arg_int(mp_call_arg(c, 3));
    unsigned char item[128];
    for (int64_t id = base; id < total; id += step) {
        size_t n = item_fill(item, (uint32_t)id);
        if (mp_queue_put(q, item, n, MP_TEST_CHILD_TIMEOUT_MS))
            return 1;
    }
    return 0;
}

/* Gets items until an empty one (the stop), counting each id in the shared
 * array; returns 2 on a malformed item or an id out of range. */
static int t_consume(mp_call *c) {
    mp_queue *q = mp_arg_queue(mp_call_arg(c, 0));
    mp_array *seen = mp_arg_array(mp_call_arg(c, 1));
    int64_t *count = mp_array_data(seen);
    size_t n = mp_array_len(seen);
    mp_buf b = {0};
    int rc = 0;
    for (;;) {
        if (mp_queue_get(q, &b, MP_TEST_CHILD_TIMEOUT_MS)) {
            rc = 1;
            break;
        }
        if (b.len == 0)
            break;
        int64_t id = item_check(&b);
        if (id < 0 || (size_t)id >= n) {
            rc = 2;
            continue;
        }
        mp_atomic_add64(&count[id], 1);
    }
    mp_buf_free(&b);
    return rc;
}

/* Sixteen producers and sixteen consumers on one queue deliver every item
 * exactly once with its payload intact, and leak nothing. */
static void test_mpmc_16x16(void) {
    baseline b = baseline_take();
    mp_start_method m = mp_test_methods[0];
    mp_queue *q = NULL;
    mp_array *seen = NULL;
    MP_CHECK_OK(
        mp_queue_new(&q, 0, &(mp_queue_options){.capacity_bytes = 1 << 16}));
    MP_CHECK_OK(mp_array_new(&seen, MP_TYPE_LONGLONG, MPMC_ITEMS, NULL,
                             &(mp_shared_options){.raw = true}));
    if (!q || !seen)
        return;
    mp_process *ps[NPROD + NCONS];
    for (int i = 0; i < NCONS; i++)
        ps[NPROD + i] = mp_test_start(
            t_consume, MP_ARGS(mp_queue_arg(q), mp_array_arg(seen)), m);
    for (int i = 0; i < NPROD; i++)
        ps[i] = mp_test_start(t_produce,
                              MP_ARGS(mp_queue_arg(q), mp_int(i),
                                      mp_int(NPROD), mp_int(MPMC_ITEMS)),
                              m);
    for (int i = 0; i < NPROD; i++)
        CU_ASSERT_EQUAL(mp_test_finish(ps[i], MP_TEST_CHILD_TIMEOUT_MS), 0);
    for (int i = 0; i < NCONS; i++)
        MP_CHECK_OK(mp_queue_put(q, "", 0, MP_TEST_CHILD_TIMEOUT_MS));
    for (int i = 0; i < NCONS; i++)
        CU_ASSERT_EQUAL(
            mp_test_finish(ps[NPROD + i], MP_TEST_CHILD_TIMEOUT_MS), 0);
    const int64_t *count = mp_array_data(seen);
    long missing = 0, dup = 0;
    for (long i = 0; i < MPMC_ITEMS; i++) {
        missing += count[i] == 0;
        dup += count[i] > 1;
    }
    if (missing || dup)
        fprintf(stderr, "16x16: %ld missing, %ld twice or more\n", missing,
                dup);
    CU_ASSERT_EQUAL(missing, 0);
    CU_ASSERT_EQUAL(dup, 0);
    CU_ASSERT_EQUAL(mp_queue_qsize(q), 0);
    mp_array_free(seen);
    mp_queue_free(q);
    baseline_check(b);
}

/* ---- bulk: BULK_MIB through a queue and through a pipe ---- */

#define QCHUNK (64 * 1024)
#define PCHUNK (1024 * 1024)

/* Chunk i of the stream: pseudo-random words from a seed made of i, so a
 * lost, repeated or reordered chunk changes the checksum. */
static void chunk_fill(uint64_t *w, size_t bytes, uint64_t i) {
    uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;
    for (size_t k = 0; k < bytes / 8; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w[k] = x;
    }
}

/* Sends `chunks` chunks of `size` bytes, then the checksum of all of them
 * as a last 8-byte message. Arg 0 a queue or a connection. */
static int t_bulk_send(mp_call *c) {
    mp_queue *q = mp_arg_queue(mp_call_arg(c, 0));
    mp_conn *conn = mp_arg_conn(mp_call_arg(c, 0));
    int64_t chunks = mp_arg_int(mp_call_arg(c, 1));
    size_t size = (size_t)mp_arg_int(mp_call_arg(c, 2));
    uint64_t *w = malloc(size), h = SUM_SEED;
    int rc = w ? 0 : 1;
    for (int64_t i = 0; i < chunks && !rc; i++) {
        chunk_fill(w, size, (uint64_t)i);
        h = sum_words(h, w, size);
        rc = q ? mp_queue_put(q, w, size, MP_TEST_CHILD_TIMEOUT_MS)
               : mp_conn_send(conn, w, size);
    }
    if (!rc)
        rc = q ? mp_queue_put(q, &h, sizeof h, MP_TEST_CHILD_TIMEOUT_MS)
               : mp_conn_send(conn, &h, sizeof h);
    free(w);
    return rc ? 1 : 0;
}

static void bulk(bool queue) {
    baseline b = baseline_take();
    size_t size = queue ? QCHUNK : PCHUNK;
    int64_t chunks = (int64_t)BULK_MIB * 1024 * 1024 / (int64_t)size;
    mp_queue *q = NULL;
    mp_conn *rd = NULL, *wr = NULL;
    if (queue)
        MP_CHECK_OK(mp_queue_new(
            &q, 0, &(mp_queue_options){.capacity_bytes = 1 << 20}));
    else
        MP_CHECK_OK(mp_pipe(&rd, &wr, false));
    if (!q && !rd)
        return;
    mp_process *p =
        mp_test_start(t_bulk_send,
                      MP_ARGS(queue ? mp_queue_arg(q) : mp_conn_arg(wr),
                              mp_int(chunks), mp_int((int64_t)size)),
                      mp_test_methods[0]);
    mp_conn_free(wr); /* the child's copy is the writer now */
    mp_buf buf = {0};
    uint64_t h = SUM_SEED, theirs = 0;
    int64_t got = 0, bytes = 0;
    for (;;) {
        int rc = queue ? mp_queue_get(q, &buf, MP_TEST_CHILD_TIMEOUT_MS)
                       : mp_conn_recv(rd, &buf, MP_TEST_CHILD_TIMEOUT_MS);
        MP_CHECK_OK(rc);
        if (rc)
            break;
        if (got == chunks) { /* the checksum */
            CU_ASSERT_EQUAL(buf.len, sizeof theirs);
            if (buf.len == sizeof theirs)
                memcpy(&theirs, buf.data, sizeof theirs);
            break;
        }
        CU_ASSERT_EQUAL(buf.len, size);
        h = sum_words(h, buf.data, buf.len);
        bytes += (int64_t)buf.len;
        got++;
    }
    CU_ASSERT_EQUAL(bytes, (int64_t)BULK_MIB * 1024 * 1024);
    CU_ASSERT_EQUAL(h, theirs);
    CU_ASSERT_EQUAL(mp_test_finish(p, MP_TEST_CHILD_TIMEOUT_MS), 0);
    mp_buf_free(&buf);
    mp_conn_free(rd);
    mp_queue_free(q);
    baseline_check(b);
}

/* BULK_MIB sent by a child through a queue arrive whole and in order
 * (checksummed), and nothing leaks. */
static void test_bulk_queue(void) { bulk(true); }
/* BULK_MIB sent by a child through a pipe arrive whole and in order
 * (checksummed), and nothing leaks. */
static void test_bulk_pipe(void) { bulk(false); }

/* ---- a pool of many workers ---- */

static int t_square(mp_call *c) {
    int64_t x = mp_arg_int(mp_call_arg(c, 0));
    return mp_call_return_int(c, x * x);
}

/* Task i of a map; a few of them last a little, so kills land mid-task. */
static int t_square_slow(mp_call *c) {
    int64_t x = mp_arg_int(mp_call_arg(c, 0));
    if (x % 97 == 0)
        mp_test_sleep_ms(2);
    return mp_call_return_int(c, x * x);
}

static void kill_pid(long pid) {
#ifdef _WIN32
    HANDLE h = OpenProcess(PROCESS_TERMINATE, FALSE, (DWORD)pid);
    if (h) {
        TerminateProcess(h, 9);
        CloseHandle(h);
    }
#else
    kill((pid_t)pid, SIGKILL);
#endif
}

/* Maps x -> x*x over POOL_TASKS items: every item must be right. */
static void map_checked(mp_pool *pool) {
    mp_result *r = NULL;
    MP_CHECK_OK(mp_pool_map_items(pool, t_square,
                                  mp_items_range(0, POOL_TASKS), 0, &r));
    if (!r)
        return;
    long bad = 0;
    for (size_t i = 0; i < POOL_TASKS; i++) {
        int64_t v = -1;
        bad += mp_result_item_int(r, i, &v) != 0 || v != (int64_t)(i * i);
    }
    CU_ASSERT_EQUAL(bad, 0);
    mp_result_free(r);
}

static void many_workers(mp_start_method m, int n) {
    raise_nofile();
    baseline b = baseline_take();
    mp_pool *pool = NULL;
    MP_CHECK_OK(mp_pool_new(
        &pool, &(mp_pool_options){.processes = n, .start_method = m}));
    if (!pool)
        return;
    CU_ASSERT_EQUAL(mp_pool_size(pool), n);
    long *pids = calloc((size_t)n, sizeof *pids);
    map_checked(pool);
    /* Kill an eighth of the workers while a map runs on them: only the
     * tasks they were running fail, and they are replaced. */
    mp_result *r = NULL;
    MP_CHECK_OK(mp_pool_map_items_async(
        pool, t_square_slow, mp_items_range(0, POOL_TASKS), 1, NULL, &r));
    size_t np = mp_pool_worker_pids(pool, pids, (size_t)n);
    for (size_t i = 0; i < np; i += 8)
        kill_pid(pids[i]);
    MP_CHECK_OK(mp_result_wait(r, MP_TEST_CHILD_TIMEOUT_MS));
    long died = 0;
    for (size_t i = 0; i < POOL_TASKS; i++) {
        int64_t v = -1;
        int st = mp_result_item_int(r, i, &v);
        died += st == MP_EWORKER;
        CU_ASSERT(st == MP_EWORKER || (st == 0 && v == (int64_t)(i * i)));
    }
    CU_ASSERT(died <= (long)(np + 7) / 8);
    mp_result_free(r);
    /* Then everything works again, on a full set of workers. */
    map_checked(pool);
    CU_ASSERT_EQUAL(mp_pool_worker_pids(pool, pids, (size_t)n), (size_t)n);
    MP_CHECK_OK(mp_pool_close(pool));
    MP_CHECK_OK(mp_pool_join(pool, MP_TEST_CHILD_TIMEOUT_MS));
    mp_pool_free(pool);
    free(pids);
    baseline_check(b);
}

/* A pool of POOL_FORK forked workers maps correctly, fails only the tasks of
 * the eighth of its workers killed mid-map, replaces them, and leaks nothing.
 * */
static void test_pool_fork(void) {
    if (POOL_FORK)
        many_workers(MP_START_FORK, POOL_FORK);
}

/* A pool of POOL_SPAWN spawned workers maps correctly, fails only the tasks of
 * the eighth of its workers killed mid-map, replaces them, and leaks nothing.
 * */
static void test_pool_spawn(void) { many_workers(MP_START_SPAWN, POOL_SPAWN); }

void mp_test_suite_scale(void) {
    const mp_test_runs once = MP_TEST_ONCE;
    MP_TEST_SUITE("scale", {"alive_fork", test_alive_fork, once},
                  {"alive_spawn", test_alive_spawn, once},
                  {"mpmc_16x16", test_mpmc_16x16, once},
                  {"bulk_queue", test_bulk_queue, once},
                  {"bulk_pipe", test_bulk_pipe, once},
                  {"pool_fork", test_pool_fork, once},
                  {"pool_spawn", test_pool_spawn, once});
}
