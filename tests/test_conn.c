/* Pipe and Connection: CPython's connection test cases ported (sizes, empty
 * messages, boundaries, recv_into, poll, EOF, simplex direction, wait),
 * children on both ends with every start method, bounds and timeouts. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* A pattern that differs at every offset and between messages. */
static void fill(uint8_t *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31 + seed + (i >> 8));
}

static int check(const uint8_t *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)(i * 31 + seed + (i >> 8)))
            return 0;
    return 1;
}

/* ---- child targets ---- */

/* Echoes every message back until the peer closes; returns 0 then. The
 * parent's end, when passed too, is closed first: a forked child holds a
 * copy of it, and would otherwise never see the end of the stream. */
static int t_echo(mp_call *call) {
    mp_conn *c = mp_arg_conn(mp_call_arg(call, 0));
    mp_conn_close(mp_arg_conn(mp_call_arg(call, 1)));
    mp_buf b = {0};
    int rc;
    while ((rc = mp_conn_recv(c, &b, MP_INFINITE)) == 0)
        if (mp_conn_send(c, b.data, b.len) != 0)
            break;
    mp_buf_free(&b);
    return rc == MP_ECLOSED ? 0 : 1;
}

/* Sends one message of arg1 bytes (pattern seed arg2) and exits. */
static int t_send_one(mp_call *call) {
    mp_conn *c = mp_arg_conn(mp_call_arg(call, 0));
    size_t n = (size_t)mp_arg_int(mp_call_arg(call, 1));
    uint8_t *p = malloc(n ? n : 1);
    fill(p, n, (unsigned)mp_arg_int(mp_call_arg(call, 2)));
    int rc = mp_conn_send(c, p, n);
    free(p);
    return rc ? 1 : 0;
}

static int t_sleep_then_exit(mp_call *call) {
    mp_test_sleep_ms((long)mp_arg_int(mp_call_arg(call, 0)));
    return 7;
}

static void finish(mp_process *p, int want) {
    int code = -1000;
    MP_CHECK_OK(mp_process_join(p, 30000));
    MP_CHECK_OK(mp_process_exitcode(p, &code));
    CU_ASSERT_EQUAL(code, want);
    mp_process_free(p);
}

/* ---- tests ---- */

/* CPython's test_connection: messages of many sizes, empty to 3 MB and
 * around every power of two, come back intact from an echoing child. */
static void test_echo_sizes(void) {
    static const size_t sizes[] = {0,    1,     7,     8,       2047,
                                   2048, 2049,  4095,  4096,    4097,
                                   8192, 65536, 65537, 1 << 20, 3000000};
    mp_conn *a, *b;
    MP_CHECK_OK(mp_pipe(&a, &b, true));
    mp_process *p = mp_test_start(
        t_echo, MP_ARGS(mp_conn_arg(b), mp_conn_arg(a)), mp_test_method());
    mp_conn_free(b); /* the child holds its own end now */
    mp_buf buf = {0};
    uint8_t *msg = malloc(3000000);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        fill(msg, sizes[i], (unsigned)i);
        MP_CHECK_OK(mp_conn_send(a, msg, sizes[i]));
        MP_CHECK_OK(mp_conn_recv(a, &buf, 30000));
        CU_ASSERT_EQUAL(buf.len, sizes[i]);
        CU_ASSERT(check(buf.data, buf.len, (unsigned)i));
    }
    free(msg);
    mp_buf_free(&buf);
    mp_conn_free(a); /* the child sees end of stream and exits 0 */
    finish(p, 0);
}

/* A 16 MiB message goes to an echoing child and comes back intact. */
static void test_large_message(void) {
    size_t n = (size_t)16 << 20;
    uint8_t *msg = malloc(n);
    fill(msg, n, 5);
    mp_conn *a, *b;
    MP_CHECK_OK(mp_pipe(&a, &b, true));
    mp_process *p = mp_test_start(
        t_echo, MP_ARGS(mp_conn_arg(b), mp_conn_arg(a)), mp_test_method());
    mp_conn_free(b);
    mp_buf buf = {0};
    MP_CHECK_OK(mp_conn_send(a, msg, n));
    MP_CHECK_OK(mp_conn_recv(a, &buf, 60000));
    CU_ASSERT_EQUAL(buf.len, n);
    CU_ASSERT(buf.len == n && memcmp(buf.data, msg, n) == 0);
    mp_buf_free(&buf);
    mp_conn_free(a);
    finish(p, 0);
    free(msg);
}

/* Message boundaries are kept, an empty message arrives as an empty message,
 * nothing more is MP_EAGAIN, and a duplex pair carries messages both ways. */
static void test_boundaries_and_empty(void) {
    mp_conn *a, *b;
    MP_CHECK_OK(mp_pipe(&a, &b, true));
    MP_CHECK_OK(mp_conn_send(b, "abc", 3));
    MP_CHECK_OK(mp_conn_send(b, NULL, 0));
    MP_CHECK_OK(mp_conn_send(b, "de", 2));
    mp_buf buf = {0};
    MP_CHECK_OK(mp_conn_recv(a, &buf, 1000));
    CU_ASSERT(buf.len == 3 && memcmp(buf.data, "abc", 3) == 0);
    MP_CHECK_OK(mp_conn_recv(a, &buf, 1000));
    CU_ASSERT_EQUAL(buf.len, 0);
    MP_CHECK_OK(mp_conn_recv(a, &buf, 1000));
    CU_ASSERT(buf.len == 2 && memcmp(buf.data, "de", 2) == 0);
    MP_CHECK_RC(mp_conn_recv(a, &buf, 0), MP_EAGAIN);
    /* And the other direction of a duplex pair. */
    MP_CHECK_OK(mp_conn_send(a, "x", 1));
    MP_CHECK_OK(mp_conn_recv(b, &buf, 1000));
    CU_ASSERT(buf.len == 1 && ((char *)buf.data)[0] == 'x');
    mp_buf_free(&buf);
    mp_conn_free(a);
    mp_conn_free(b);
}

/* recv_into: too small is MP_EMSGSIZE and the message waits for a buffer
 * that fits, for small and large messages. */
static void test_recv_into(void) {
    mp_conn *a, *b;
    MP_CHECK_OK(mp_pipe(&a, &b, false));
    static uint8_t big[100000], out[100000];
    fill(big, sizeof big, 9);
    MP_CHECK_OK(mp_conn_send(b, "hello", 5));
    MP_CHECK_OK(mp_conn_send(b, big, 60000));
    char small[4];
    size_t len = 0;
    MP_CHECK_RC(mp_conn_recv_into(a, small, sizeof small, &len, 1000),
                MP_EMSGSIZE);
    CU_ASSERT_EQUAL(len, 5);
    MP_CHECK_OK(mp_conn_recv_into(a, out, 5, &len, 1000));
    CU_ASSERT(len == 5 && memcmp(out, "hello", 5) == 0);
    MP_CHECK_RC(mp_conn_recv_into(a, out, 59999, &len, 1000), MP_EMSGSIZE);
    CU_ASSERT_EQUAL(len, 60000);
    MP_CHECK_OK(mp_conn_recv_into(a, out, sizeof out, &len, 1000));
    CU_ASSERT(len == 60000 && check(out, len, 9));
    mp_conn_free(a);
    mp_conn_free(b);
}

/* Timed calls return on time; 0 never blocks. */
static void test_poll_and_timeouts(void) {
    mp_conn *a, *b;
    MP_CHECK_OK(mp_pipe(&a, &b, true));
    MP_CHECK_RC(mp_conn_poll(a, 0), MP_EAGAIN);
    int64_t t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_conn_poll(a, 150), MP_ETIMEDOUT);
    int64_t dt = mp_test_now_ms() - t0;
    CU_ASSERT(dt >= 140 && dt < 2000);
    mp_buf buf = {0};
    t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_conn_recv(a, &buf, 120), MP_ETIMEDOUT);
    dt = mp_test_now_ms() - t0;
    CU_ASSERT(dt >= 110 && dt < 2000);
    MP_CHECK_OK(mp_conn_send(b, "z", 1));
    MP_CHECK_OK(mp_conn_poll(a, 0));
    MP_CHECK_OK(mp_conn_poll(a, MP_INFINITE)); /* poll consumes nothing */
    MP_CHECK_OK(mp_conn_recv(a, &buf, 0));
    CU_ASSERT_EQUAL(buf.len, 1);
    MP_CHECK_RC(mp_conn_poll(a, 0), MP_EAGAIN);
    mp_buf_free(&buf);
    mp_conn_free(a);
    mp_conn_free(b);
}

/* The peer closing is MP_ECLOSED (poll says ready first); a write to a
 * closed peer is MP_ECLOSED and never kills us with SIGPIPE. */
static void test_eof_after_close(void) {
    for (int duplex = 0; duplex < 2; duplex++) {
        mp_conn *a, *b;
        MP_CHECK_OK(mp_pipe(&a, &b, duplex));
        MP_CHECK_OK(mp_conn_send(b, "last", 4));
        mp_conn_close(b);
        mp_buf buf = {0};
        MP_CHECK_OK(mp_conn_recv(a, &buf, 1000)); /* data before EOF */
        MP_CHECK_OK(mp_conn_poll(a, 1000));
        MP_CHECK_RC(mp_conn_recv(a, &buf, 1000), MP_ECLOSED);
        MP_CHECK_RC(mp_conn_recv(a, &buf, MP_INFINITE), MP_ECLOSED);
        MP_CHECK_RC(mp_conn_send(b, "x", 1), MP_ECLOSED); /* b itself */
        mp_conn_close(b);                                 /* idempotent */
        mp_buf_free(&buf);
        mp_conn_free(a);
        mp_conn_free(b);
        /* Now the reader goes away and the writer writes. */
        MP_CHECK_OK(mp_pipe(&a, &b, duplex));
        mp_conn_free(a);
        MP_CHECK_RC(mp_conn_send(b, "x", 1), MP_ECLOSED);
        mp_conn_free(b);
    }
}

/* A peer that dies mid-conversation, or before sending the end of a
 * message, is MP_ECLOSED. */
static void test_peer_killed(void) {
    mp_conn *a, *b;
    mp_buf buf = {0};
    MP_CHECK_OK(mp_pipe(&a, &b, true));
    mp_process *p = mp_test_start(
        t_echo, MP_ARGS(mp_conn_arg(b), mp_conn_arg(a)), MP_START_DEFAULT);
    mp_conn_free(b);
    MP_CHECK_OK(mp_conn_send(a, "ping", 4));
    MP_CHECK_OK(mp_conn_recv(a, &buf, 10000));
    MP_CHECK_OK(mp_process_kill(p));
    MP_CHECK_RC(mp_conn_recv(a, &buf, 10000), MP_ECLOSED);
    finish(p, -9);
    mp_buf_free(&buf);
    mp_conn_free(a);
}

/* A simplex pipe's read end cannot send and its write end cannot receive, poll
 * or recv_into (MP_ESTATE), while the right direction works. */
static void test_simplex_direction(void) {
    mp_conn *r, *w;
    MP_CHECK_OK(mp_pipe(&r, &w, false));
    CU_ASSERT(mp_conn_readable(r) && !mp_conn_writable(r));
    CU_ASSERT(!mp_conn_readable(w) && mp_conn_writable(w));
    mp_buf buf = {0};
    size_t len;
    char x[4];
    MP_CHECK_RC(mp_conn_send(r, "x", 1), MP_ESTATE);
    MP_CHECK_RC(mp_conn_recv(w, &buf, 0), MP_ESTATE);
    MP_CHECK_RC(mp_conn_recv_into(w, x, sizeof x, &len, 0), MP_ESTATE);
    MP_CHECK_RC(mp_conn_poll(w, 0), MP_ESTATE);
    MP_CHECK_OK(mp_conn_send(w, "ok", 2));
    MP_CHECK_OK(mp_conn_recv(r, &buf, 1000));
    CU_ASSERT(buf.len == 2 && memcmp(buf.data, "ok", 2) == 0);
    mp_buf_free(&buf);
    mp_conn_free(r);
    mp_conn_free(w);
}

/* max_message bounds what a peer's length makes us allocate; the message
 * stays readable with recv_into. */
static void test_max_message(void) {
    mp_conn *a, *b;
    MP_CHECK_OK(mp_pipe(&a, &b, true));
    MP_CHECK_OK(mp_conn_set_max_message(a, 1000));
    static uint8_t big[5000];
    fill(big, sizeof big, 3);
    MP_CHECK_OK(mp_conn_send(b, big, sizeof big));
    mp_buf buf = {0};
    MP_CHECK_RC(mp_conn_recv(a, &buf, 1000), MP_EMSGSIZE);
    CU_ASSERT_EQUAL(buf.cap, 0); /* nothing allocated */
    size_t len;
    MP_CHECK_OK(mp_conn_recv_into(a, big, sizeof big, &len, 1000));
    CU_ASSERT(len == sizeof big && check(big, len, 3));
    /* A message of exactly max_message bytes costs that and its NUL, not
     * the next power of two. */
    MP_CHECK_OK(mp_conn_set_max_message(a, 4100));
    MP_CHECK_OK(mp_conn_send(b, big, 4100));
    MP_CHECK_OK(mp_conn_recv(a, &buf, 1000));
    CU_ASSERT(buf.len == 4100 && buf.cap == 4101 && check(buf.data, 4100, 3));
    mp_buf_free(&buf);
    MP_CHECK_OK(mp_conn_set_max_message(a, 0));
    mp_conn_free(a);
    mp_conn_free(b);
}

/* Python's connection.wait: several connections and a process sentinel. */
static void test_wait(void) {
    mp_conn *a1, *b1, *a2, *b2;
    MP_CHECK_OK(mp_pipe(&a1, &b1, false));
    MP_CHECK_OK(mp_pipe(&a2, &b2, true));
    mp_process *p = mp_test_start(t_sleep_then_exit, MP_ARGS(mp_int(300)),
                                  MP_START_DEFAULT);
    mp_wait_item w[3] = {mp_wait_conn(a1), mp_wait_conn(a2),
                         mp_wait_process(p)};
    MP_CHECK_RC(mp_wait(w, 3, 0), MP_EAGAIN);
    int64_t t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_wait(w, 2, 100), MP_ETIMEDOUT);
    CU_ASSERT(mp_test_now_ms() - t0 >= 90);
    MP_CHECK_OK(mp_conn_send(b2, "m", 1));
    MP_CHECK_OK(mp_wait(w, 3, 5000));
    CU_ASSERT(!w[0].ready && w[1].ready && !w[2].ready);
    mp_buf buf = {0};
    MP_CHECK_OK(mp_conn_recv(a2, &buf, 0));
    /* The process's end wakes the wait, on time. */
    t0 = mp_test_now_ms();
    MP_CHECK_OK(mp_wait(w, 3, 10000));
    CU_ASSERT(!w[0].ready && !w[1].ready && w[2].ready);
    CU_ASSERT(mp_test_now_ms() - t0 < 5000);
    /* A closed peer makes its connection ready. */
    mp_conn_close(b1);
    MP_CHECK_OK(mp_wait(w, 2, 5000));
    CU_ASSERT(w[0].ready && !w[1].ready);
    finish(p, 7);
    mp_buf_free(&buf);
    mp_conn_free(a1);
    mp_conn_free(b1);
    mp_conn_free(a2);
    mp_conn_free(b2);
}

/* Sends "late" on its connection after arg1 ms, while the parent is
 * blocked in mp_wait, and "more" right behind it. */
static int t_send_late(mp_call *call) {
    mp_conn *c = mp_arg_conn(mp_call_arg(call, 0));
    long ms = (long)mp_arg_int(mp_call_arg(call, 1));
    mp_test_sleep_ms(ms);
    if (mp_conn_send(c, "late", 4))
        return 1;
    return mp_conn_send(c, "more", 4) ? 1 : 0;
}

/* The same connection and the same process listed twice: each entry is
 * reported ready, once per entry, with no error and no hang. On Windows
 * the two entries once started two overlapped reads on the connection's
 * one OVERLAPPED (and its process twice in one WaitForMultipleObjects,
 * which Windows refuses), whether or not Wine lets it show. */
static void test_wait_same_twice(void) {
    mp_conn *a, *b;
    MP_CHECK_OK(mp_pipe(&a, &b, true));
    mp_process *p = mp_test_start(t_sleep_then_exit, MP_ARGS(mp_int(300)),
                                  MP_START_DEFAULT);
    mp_wait_item w[4] = {mp_wait_conn(a), mp_wait_conn(a), mp_wait_process(p),
                         mp_wait_process(p)};
    MP_CHECK_RC(mp_wait(w, 2, 0), MP_EAGAIN);
    MP_CHECK_RC(mp_wait(w, 2, 50), MP_ETIMEDOUT);
    /* Data that arrives during the wait wakes both entries. */
    mp_process *s = mp_test_start(
        t_send_late, MP_ARGS(mp_conn_arg(b), mp_int(150)), MP_START_DEFAULT);
    MP_CHECK_OK(mp_wait(w, 2, 30000));
    CU_ASSERT(w[0].ready && w[1].ready);
    /* Data already there: both ready at once, and the message is whole. */
    MP_CHECK_OK(mp_wait(w, 2, 0));
    CU_ASSERT(w[0].ready && w[1].ready);
    mp_buf buf = {0};
    MP_CHECK_OK(mp_conn_recv(a, &buf, 0));
    CU_ASSERT(buf.len == 4 && memcmp(buf.data, "late", 4) == 0);
    /* The next message is not lost: a second read left in flight on
     * Windows took it into the buffer behind our back, and the next read
     * started over it. */
    MP_CHECK_OK(mp_conn_recv(a, &buf, 10000));
    CU_ASSERT(buf.len == 4 && memcmp(buf.data, "more", 4) == 0);
    finish(s, 0);
    MP_CHECK_RC(mp_conn_poll(a, 0), MP_EAGAIN);
    /* The process twice, with the connection twice (not ready). */
    MP_CHECK_OK(mp_wait(w, 4, 10000));
    CU_ASSERT(!w[0].ready && !w[1].ready && w[2].ready && w[3].ready);
    finish(p, 7);
    mp_buf_free(&buf);
    mp_conn_free(a);
    mp_conn_free(b);
}

/* A connection passed to a child with data already buffered on our side:
 * the child gets the buffered messages too. */
static int t_recv_two(mp_call *call) {
    mp_conn *c = mp_arg_conn(mp_call_arg(call, 0));
    mp_buf b = {0};
    int rc = mp_conn_recv(c, &b, 10000);
    int ok = rc == 0 && b.len == 2 && memcmp(b.data, "m2", 2) == 0;
    rc = mp_conn_recv(c, &b, 10000);
    ok = ok && rc == 0 && b.len == 2 && memcmp(b.data, "m3", 2) == 0;
    mp_buf_free(&b);
    return ok ? 0 : 1;
}

/* A connection handed to a child after the parent has read ahead from it still
 * delivers the messages already buffered on the parent's side to the child. */
static void test_child_gets_buffered(void) {
    mp_conn *a, *b;
    MP_CHECK_OK(mp_pipe(&a, &b, false));
    MP_CHECK_OK(mp_conn_send(b, "m1", 2));
    MP_CHECK_OK(mp_conn_send(b, "m2", 2));
    MP_CHECK_OK(mp_conn_send(b, "m3", 2));
    mp_buf buf = {0};
    MP_CHECK_OK(mp_conn_recv(a, &buf, 1000)); /* m2, m3 now buffered */
    mp_process *p =
        mp_test_start(t_recv_two, MP_ARGS(mp_conn_arg(a)), mp_test_method());
    finish(p, 0);
    mp_buf_free(&buf);
    mp_conn_free(a);
    mp_conn_free(b);
}

/* A child's 100 000-byte message arrives intact through a simplex pipe,
 * followed by MP_ECLOSED once the child has exited. */
static void test_child_sends(void) {
    mp_conn *r, *w;
    MP_CHECK_OK(mp_pipe(&r, &w, false));
    mp_process *p = mp_test_start(
        t_send_one, MP_ARGS(mp_conn_arg(w), mp_int(100000), mp_int(4)),
        mp_test_method());
    mp_conn_free(w);
    mp_buf buf = {0};
    MP_CHECK_OK(mp_conn_recv(r, &buf, 30000));
    CU_ASSERT(buf.len == 100000 && check(buf.data, buf.len, 4));
    MP_CHECK_RC(mp_conn_recv(r, &buf, 30000), MP_ECLOSED);
    finish(p, 0);
    mp_buf_free(&buf);
    mp_conn_free(r);
}

/* NULL connections, buffers and outputs, negative timeouts and unknown wait
 * kinds are MP_EINVAL, waiting on an unstarted process is MP_ESTATE, and every
 * call on a closed connection is MP_ECLOSED. */
static void test_closed_and_bad_input(void) {
    mp_conn *a, *b;
    mp_buf buf = {0};
    size_t len;
    MP_CHECK_RC(mp_pipe(NULL, &b, true), MP_EINVAL);
    MP_CHECK_RC(mp_pipe(&a, NULL, true), MP_EINVAL);
    MP_CHECK_RC(mp_conn_send(NULL, "x", 1), MP_EINVAL);
    MP_CHECK_RC(mp_conn_recv(NULL, &buf, 0), MP_EINVAL);
    MP_CHECK_RC(mp_conn_poll(NULL, 0), MP_EINVAL);
    MP_CHECK_RC(mp_wait(NULL, 1, 0), MP_EINVAL);
    MP_CHECK_RC(mp_conn_set_max_message(NULL, 1), MP_EINVAL);
    MP_CHECK_OK(mp_pipe(&a, &b, true));
    MP_CHECK_RC(mp_conn_send(a, NULL, 1), MP_EINVAL);
    MP_CHECK_RC(mp_conn_recv(a, NULL, 0), MP_EINVAL);
    MP_CHECK_RC(mp_conn_recv(a, &buf, -2), MP_EINVAL);
    MP_CHECK_RC(mp_conn_recv_into(a, NULL, 1, &len, 0), MP_EINVAL);
    MP_CHECK_RC(mp_conn_recv_into(a, &len, 1, NULL, 0), MP_EINVAL);
    mp_wait_item bad = {(mp_wait_kind)9, a, false};
    MP_CHECK_RC(mp_wait(&bad, 1, 0), MP_EINVAL);
    mp_process *p = NULL;
    MP_CHECK_OK(mp_process_new(&p, t_sleep_then_exit, MP_NO_ARGS, NULL));
    mp_wait_item unstarted = mp_wait_process(p);
    MP_CHECK_RC(mp_wait(&unstarted, 1, 0), MP_ESTATE);
    mp_process_free(p);
    mp_conn_close(a);
    mp_wait_item closed = mp_wait_conn(a);
    MP_CHECK_RC(mp_wait(&closed, 1, 0), MP_ECLOSED);
    MP_CHECK_RC(mp_conn_send(a, "x", 1), MP_ECLOSED);
    MP_CHECK_RC(mp_conn_recv(a, &buf, 0), MP_ECLOSED);
    MP_CHECK_RC(mp_conn_poll(a, 0), MP_ECLOSED);
    mp_conn_free(a);
    mp_conn_free(b);
    mp_conn_close(NULL);
    mp_conn_free(NULL);
}

/* Making, using and freeing twenty simplex and duplex pipes leaves the
 * descriptor or handle count where it was. */
static void test_no_fd_leak(void) {
    mp_test_fdset *before = mp_test_fds_take();
    for (int i = 0; i < 20; i++) {
        mp_conn *a, *b;
        MP_CHECK_OK(mp_pipe(&a, &b, i & 1));
        MP_CHECK_OK(mp_conn_send(b, "x", 1));
        mp_conn_free(a);
        mp_conn_free(b);
    }
    CU_ASSERT_EQUAL(mp_test_fds_check(before), 0);
}

/* ---- mp_wait past 64 handles ---- */

static int t_wait_event(mp_call *call) {
    mp_event *e = mp_arg_event(mp_call_arg(call, 0));
    /* Bounded, but long: starting all 100 children under Wine on a busy
     * machine can take minutes, and the event releases them anyway. */
    return e && mp_event_wait(e, 600000) == 0 ? 0 : 1;
}

static int t_recv_then_exit(mp_call *call) {
    mp_conn *c = mp_arg_conn(mp_call_arg(call, 0));
    mp_buf b = {0};
    int rc = mp_conn_recv(c, &b, 60000);
    mp_buf_free(&b);
    return rc ? 1 : 7;
}

/* Which items are ready, as a count and the one index when only one is. */
static int ready_count(const mp_wait_item *w, size_t n, size_t *only) {
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (w[i].ready) {
            *only = i;
            k++;
        }
    return k;
}

/* Windows waits on at most 64 handles at once: 200 connections and 100
 * processes in one mp_wait, woken by items far past the first 64. */
static void test_wait_many(void) {
    enum { NC = 200, NP = 100, N = NC + NP };
    mp_conn *rd[NC], *wr[NC], *ctl_rd, *ctl_wr;
    mp_process *p[NP];
    mp_wait_item w[N];
    mp_event *e;
    MP_CHECK_OK(mp_event_new(&e, NULL));
    MP_CHECK_OK(mp_pipe(&ctl_rd, &ctl_wr, false));
    for (int i = 0; i < NC; i++) {
        MP_CHECK_OK(mp_pipe(&rd[i], &wr[i], false));
        w[i] = mp_wait_conn(rd[i]);
    }
    for (int i = 0; i < NP; i++) {
        p[i] =
            i == NP - 1
                ? mp_test_start(t_recv_then_exit, MP_ARGS(mp_conn_arg(ctl_rd)),
                                MP_START_DEFAULT)
                : mp_test_start(t_wait_event, MP_ARGS(mp_event_arg(e)),
                                MP_START_DEFAULT);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
        w[NC + i] = mp_wait_process(p[i]);
    }
    size_t only = 0;
    MP_CHECK_RC(mp_wait(w, N, 0), MP_EAGAIN);
    int64_t t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_wait(w, N, 150), MP_ETIMEDOUT);
    CU_ASSERT(mp_test_now_ms() - t0 >= 140);
    CU_ASSERT_EQUAL(ready_count(w, N, &only), 0);
    /* A connection in a helper's group. */
    MP_CHECK_OK(mp_conn_send(wr[150], "m", 1));
    MP_CHECK_OK(mp_wait(w, N, 10000));
    CU_ASSERT(ready_count(w, N, &only) == 1 && only == 150);
    mp_buf b = {0};
    MP_CHECK_OK(mp_conn_recv(rd[150], &b, 0));
    mp_buf_free(&b);
    /* The last process, ending while we wait. */
    MP_CHECK_OK(mp_conn_send(ctl_wr, "x", 1));
    MP_CHECK_OK(mp_wait(w, N, 30000));
    CU_ASSERT(ready_count(w, N, &only) == 1 && only == N - 1);
    /* A killed one, with the ended one still ready. */
    MP_CHECK_OK(mp_process_kill(p[70]));
    MP_CHECK_OK(mp_process_join(p[70], 30000));
    MP_CHECK_OK(mp_wait(w, N, 10000));
    CU_ASSERT_EQUAL(ready_count(w, N, &only), 2);
    CU_ASSERT(w[NC + 70].ready && w[N - 1].ready);
    MP_CHECK_OK(mp_event_set(e));
    finish(p[NP - 1], 7);
    mp_process_free(p[70]);
    for (int i = 0; i < NP - 1; i++)
        if (i != 70)
            finish(p[i], 0);
    for (int i = 0; i < NC; i++) {
        mp_conn_free(rd[i]);
        mp_conn_free(wr[i]);
    }
    mp_conn_free(ctl_rd);
    mp_conn_free(ctl_wr);
    mp_event_free(e);
}

/* The OS's code behind a failure is there to read: a client of an address
 * nobody made fails with MP_ENOENT, and mp_os_error gives ENOENT on POSIX
 * and ERROR_FILE_NOT_FOUND on Windows, both 2. Calls that succeed leave it
 * alone: joining a spawned child reads its status pipe to the end (on
 * Windows an ERROR_BROKEN_PIPE the library expects), which once replaced
 * the code, and so hid the cause of a failure whose cleanup joined
 * children (a pool's creation stopping the workers it had started). */
static void test_os_error(void) {
    mp_conn *c = NULL;
#ifdef _WIN32
    const char *addr = "\\\\.\\pipe\\mproc-test-nobody-made-this";
#else
    char addr[512];
    snprintf(addr, sizeof addr, "%s/nobody-made-this.sock", mp_test_tmpdir());
#endif
    MP_CHECK_RC(mp_client(&c, addr, NULL), MP_ENOENT);
    CU_ASSERT_EQUAL(mp_os_error(), 2);
    CU_ASSERT_PTR_NULL(c);
    mp_process *p =
        mp_test_start(t_sleep_then_exit, MP_ARGS(mp_int(0)), mp_test_method());
    if (p)
        finish(p, 7);
    CU_ASSERT_EQUAL(mp_os_error(), 2);
}

void mp_test_suite_conn(void) {
    const mp_test_runs once = MP_TEST_ONCE, each = MP_TEST_PER_METHOD;
    MP_TEST_SUITE("conn", {"echo_sizes", test_echo_sizes, each},
                  {"large_message", test_large_message, each},
                  {"boundaries_and_empty", test_boundaries_and_empty, once},
                  {"recv_into", test_recv_into, once},
                  {"poll_and_timeouts", test_poll_and_timeouts, once},
                  {"eof_after_close", test_eof_after_close, once},
                  {"peer_killed", test_peer_killed, once},
                  {"simplex_direction", test_simplex_direction, once},
                  {"max_message", test_max_message, once},
                  {"wait", test_wait, once},
                  {"wait_same_twice", test_wait_same_twice, once},
                  {"child_gets_buffered", test_child_gets_buffered, each},
                  {"child_sends", test_child_sends, each},
                  {"closed_and_bad_input", test_closed_and_bad_input, once},
                  {"no_fd_leak", test_no_fd_leak, once},
                  {"wait_many", test_wait_many, once},
                  {"os_error", test_os_error, each});
}
