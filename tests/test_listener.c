/* Listener and Client: fresh private addresses, children as clients with
 * every start method, the authkey handshake (both forms, wrong keys),
 * timeouts, absent listeners, hostile peers writing raw bytes, stalled
 * clients that must not hold up honest ones, and listeners killed or
 * racing for one address. */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* S_ISSOCK, MSG_NOSIGNAL under -std=c11 */
#endif
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#include "testutil.h"

static const char KEY[] = "secret key";

/* ---- a raw peer that writes whatever it likes ---- */

#ifdef _WIN32
typedef HANDLE raw_t;
static raw_t raw_connect(const char *addr) {
    wchar_t w[300];
    MultiByteToWideChar(CP_UTF8, 0, addr, -1, w, 300);
    HANDLE h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                           OPEN_EXISTING, 0, NULL);
    DWORD mode = PIPE_READMODE_MESSAGE;
    if (h != INVALID_HANDLE_VALUE)
        SetNamedPipeHandleState(h, &mode, NULL, NULL);
    return h;
}
static int raw_ok(raw_t h) { return h != INVALID_HANDLE_VALUE; }
static void raw_write(raw_t h, const void *p, size_t n) {
    DWORD done;
    CU_ASSERT(WriteFile(h, p, (DWORD)n, &done, NULL) && done == n);
}
static void raw_close(raw_t h) { CloseHandle(h); }
/* Whether the listener has closed its end: what it sent is read, then the
 * pipe is broken (never waits: the drop happened before this is asked). */
static int raw_dropped(raw_t h) {
    char buf[512];
    DWORD avail, n;
    while (PeekNamedPipe(h, NULL, 0, NULL, &avail, NULL) && avail)
        if (!ReadFile(h, buf, sizeof buf, &n, NULL) &&
            GetLastError() != ERROR_MORE_DATA)
            break;
    return !PeekNamedPipe(h, NULL, 0, NULL, &avail, NULL) &&
           GetLastError() == ERROR_BROKEN_PIPE;
}
#else
typedef int raw_t;
static raw_t raw_connect(const char *addr) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", addr);
    socklen_t len = sizeof sa;
    if (addr[0] == '@') { /* Linux's abstract namespace */
        sa.sun_path[0] = '\0';
        len =
            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(addr));
    }
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd != -1 && connect(fd, (struct sockaddr *)&sa, len) == -1) {
        close(fd);
        fd = -1;
    }
    return fd;
}
static int raw_ok(raw_t h) { return h != -1; }
static void raw_write(raw_t h, const void *p, size_t n) {
    CU_ASSERT(send(h, p, n, MSG_NOSIGNAL) == (ssize_t)n);
}
static void raw_close(raw_t h) { close(h); }
static int raw_dropped(raw_t h) {
    char buf[512];
    ssize_t n;
    while ((n = recv(h, buf, sizeof buf, MSG_DONTWAIT)) > 0)
        ;
    return n == 0;
}
#endif

/* ---- child clients ---- */

/* Connects (key arg1 or none, digest arg2), sends "hello", expects "hi",
 * exits 0; on a failed connect exits 100 + (-error). */
static int t_client(mp_call *call) {
    size_t klen = 0;
    const void *key = mp_arg_bytes(mp_call_arg(call, 1), &klen);
    mp_conn_options o = {.authkey = klen ? key : NULL,
                         .authkey_len = klen,
                         .digest =
                             (mp_auth_digest)mp_arg_int(mp_call_arg(call, 2)),
                         .timeout_ms = 20000};
    mp_conn *c;
    int rc = mp_client(&c, mp_arg_str(mp_call_arg(call, 0)), &o);
    if (rc)
        return 100 - rc;
    mp_buf b = {0};
    rc = mp_conn_send(c, "hello", 5);
    if (!rc)
        rc = mp_conn_recv(c, &b, 20000);
    int ok = rc == 0 && b.len == 2 && memcmp(b.data, "hi", 2) == 0;
    mp_buf_free(&b);
    mp_conn_free(c);
    return ok ? 0 : 1;
}

static mp_process *start_client(const char *addr, const char *key,
                                mp_auth_digest dg, mp_start_method m) {
    mp_process *p = NULL;
    mp_process_options o = {.start_method = m};
    MP_CHECK_OK(mp_process_new(&p, t_client,
                               MP_ARGS(mp_str(addr),
                                       mp_bytes(key, key ? strlen(key) : 0),
                                       mp_int(dg)),
                               &o));
    MP_CHECK_OK(mp_process_start(p));
    return p;
}

static int finish(mp_process *p) {
    int code = -1000;
    MP_CHECK_OK(mp_process_join(p, 30000));
    MP_CHECK_OK(mp_process_exitcode(p, &code));
    mp_process_free(p);
    return code;
}

static void serve_one(mp_listener *l) {
    mp_conn *c = NULL;
    mp_buf b = {0};
    MP_CHECK_OK(mp_listener_accept(l, &c, 20000));
    if (!c)
        return;
    MP_CHECK_OK(mp_conn_recv(c, &b, 20000));
    CU_ASSERT(b.len == 5 && memcmp(b.data, "hello", 5) == 0);
    MP_CHECK_OK(mp_conn_send(c, "hi", 2));
    mp_buf_free(&b);
    mp_conn_free(c);
}

/* ---- tests ---- */

/* A listener made without an address gets a fresh, unique one (an abstract
 * name on Linux, a 0600 socket in a 0700 directory elsewhere, a named pipe on
 * Windows), and nothing of it remains once the listener is freed. */
static void test_fresh_address(void) {
    mp_listener *l;
    MP_CHECK_OK(mp_listener_new(&l, NULL, NULL));
    const char *a = mp_listener_address(l);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
#ifdef _WIN32
    CU_ASSERT(strncmp(a, "\\\\.\\pipe\\mproc-", 15) == 0);
    mp_listener_free(l);
#else
    if (a[0] == '@') {
        /* Linux: no file at all; unique; gone with the listener. */
        CU_ASSERT(strncmp(a, "@mproc-", 7) == 0 && strlen(a) == 7 + 32);
        mp_listener *l2;
        MP_CHECK_OK(mp_listener_new(&l2, NULL, NULL));
        CU_ASSERT(strcmp(a, mp_listener_address(l2)) != 0);
        mp_listener_free(l2);
        char addr[64];
        snprintf(addr, sizeof addr, "%s", a);
        mp_listener_free(l);
        mp_conn *c;
        MP_CHECK_RC(mp_client(&c, addr, NULL), MP_ECONNREFUSED);
        return;
    }
    struct stat st;
    char dir[256];
    snprintf(dir, sizeof dir, "%s", a);
    *strrchr(dir, '/') = '\0';
    CU_ASSERT(stat(a, &st) == 0 && S_ISSOCK(st.st_mode) &&
              (st.st_mode & 0777) == 0600);
    CU_ASSERT(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    mp_listener *l2;
    MP_CHECK_OK(mp_listener_new(&l2, NULL, NULL));
    CU_ASSERT(strcmp(a, mp_listener_address(l2)) != 0);
    mp_listener_free(l2);
    mp_listener_free(l);
    CU_ASSERT(stat(a, &st) == -1 && stat(dir, &st) == -1);
#endif
}

/* A Listener serving a client in a child, with and without a key, both
 * handshake forms. */
static void test_serve_child(void) {
    for (int k = 0; k < 3; k++) {
        mp_auth_digest dg = k == 2 ? MP_AUTH_MD5 : MP_AUTH_SHA256;
        mp_conn_options o = {.authkey = k ? KEY : NULL,
                             .authkey_len = k ? strlen(KEY) : 0,
                             .digest = dg};
        mp_listener *l;
        MP_CHECK_OK(mp_listener_new(&l, NULL, &o));
        mp_process *p = start_client(mp_listener_address(l), k ? KEY : NULL,
                                     dg, mp_test_method());
        serve_one(l);
        CU_ASSERT_EQUAL(finish(p), 0);
        mp_listener_free(l);
    }
}

/* A wrong key fails on both sides; the listener goes on serving. */
static void test_wrong_key(void) {
    mp_conn_options o = {.authkey = KEY, .authkey_len = strlen(KEY)};
    mp_listener *l;
    mp_conn *c = NULL;
    MP_CHECK_OK(mp_listener_new(&l, NULL, &o));
    for (int dg = 0; dg < 2; dg++) {
        mp_process *p = start_client(mp_listener_address(l), "wrong",
                                     (mp_auth_digest)dg, MP_START_DEFAULT);
        MP_CHECK_RC(mp_listener_accept(l, &c, 20000), MP_EAUTH);
        CU_ASSERT_EQUAL(finish(p), 100 - MP_EAUTH);
    }
    /* A client without a key talking to a keyed listener. */
    mp_process *p =
        start_client(mp_listener_address(l), NULL, 0, MP_START_DEFAULT);
    MP_CHECK_RC(mp_listener_accept(l, &c, 20000), MP_EAUTH);
    CU_ASSERT(finish(p) != 0);
    p = start_client(mp_listener_address(l), KEY, 0, MP_START_DEFAULT);
    serve_one(l);
    CU_ASSERT_EQUAL(finish(p), 0);
    mp_listener_free(l);
}

/* accept polls with MP_EAGAIN and times out after about its timeout; after
 * close (idempotent) it is MP_ECLOSED and a client is refused promptly. */
static void test_accept_timeout_and_close(void) {
    mp_listener *l;
    mp_conn *c = NULL;
    MP_CHECK_OK(mp_listener_new(&l, NULL, NULL));
    MP_CHECK_RC(mp_listener_accept(l, &c, 0), MP_EAGAIN);
    int64_t t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_listener_accept(l, &c, 150), MP_ETIMEDOUT);
    int64_t dt = mp_test_now_ms() - t0;
    CU_ASSERT(dt >= 140 && dt < 2000);
    mp_listener_close(l);
    mp_listener_close(l);
    MP_CHECK_RC(mp_listener_accept(l, &c, 0), MP_ECLOSED);
    /* Nobody listens any more: refused promptly. */
    t0 = mp_test_now_ms();
    int rc = mp_client(&c, mp_listener_address(l), NULL);
    CU_ASSERT(rc == MP_ECONNREFUSED || rc == MP_ENOENT);
    CU_ASSERT(mp_test_now_ms() - t0 < 2000);
    mp_listener_free(l);
    mp_listener_free(NULL);
    mp_listener_close(NULL);
}

/* An absent address is MP_ENOENT for a client, an over-long, empty or NULL
 * address and an unknown digest are MP_EINVAL, and an explicit address in use
 * is MP_EEXIST and removed on free. */
static void test_bad_addresses(void) {
    mp_listener *l;
    mp_conn *c;
    char path[600];
#ifdef _WIN32
    snprintf(path, sizeof path, "\\\\.\\pipe\\mproc-absent-%ld", mp_getpid());
    MP_CHECK_RC(mp_client(&c, path, NULL), MP_ENOENT);
#else
    snprintf(path, sizeof path, "%s/absent.sock", mp_test_tmpdir());
    MP_CHECK_RC(mp_client(&c, path, NULL), MP_ENOENT);
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    MP_CHECK_RC(mp_listener_new(&l, path, NULL), MP_EINVAL);
    MP_CHECK_RC(mp_client(&c, path, NULL), MP_EINVAL);
    /* An explicit address, in use by another listener. */
    snprintf(path, sizeof path, "%s/explicit.sock", mp_test_tmpdir());
    MP_CHECK_OK(mp_listener_new(&l, path, NULL));
    CU_ASSERT_STRING_EQUAL(mp_listener_address(l), path);
    mp_listener *l2;
    MP_CHECK_RC(mp_listener_new(&l2, path, NULL), MP_EEXIST);
    mp_listener_free(l);
    CU_ASSERT(access(path, F_OK) == -1); /* removed on free */
#endif
    MP_CHECK_RC(mp_listener_new(NULL, NULL, NULL), MP_EINVAL);
    MP_CHECK_RC(mp_listener_new(&l, "", NULL), MP_EINVAL);
    mp_conn_options bad = {.digest = (mp_auth_digest)7};
    MP_CHECK_RC(mp_listener_new(&l, NULL, &bad), MP_EINVAL);
    MP_CHECK_RC(mp_client(&c, NULL, NULL), MP_EINVAL);
    MP_CHECK_RC(mp_listener_accept(NULL, &c, 0), MP_EINVAL);
    CU_ASSERT_PTR_NULL(mp_listener_address(NULL));
}

/* Garbage, an oversized message or silence instead of a handshake: clean
 * MP_EAUTH / MP_ETIMEDOUT, no crash, no huge allocation. */
static void test_hostile_handshake(void) {
    mp_conn_options o = {.authkey = KEY, .authkey_len = strlen(KEY)};
    mp_listener *l;
    mp_conn *c = NULL;
    MP_CHECK_OK(mp_listener_new(&l, NULL, &o));
    raw_t r = raw_connect(mp_listener_address(l));
    CU_ASSERT_FATAL(raw_ok(r));
#ifdef _WIN32
    raw_write(r, "garbage answer of some length", 29);
#else
    raw_write(r, "\x00\x00\x00\x05junk!", 9);
#endif
    MP_CHECK_RC(mp_listener_accept(l, &c, 5000), MP_EAUTH);
    raw_close(r);
#ifndef _WIN32
    r = raw_connect(mp_listener_address(l));
    raw_write(r, "\x7f\xff\xff\xff", 4); /* 2 GiB "answer" */
    MP_CHECK_RC(mp_listener_accept(l, &c, 5000), MP_EAUTH);
    raw_close(r);
#endif
    /* A client that connects and says nothing costs only the timeout. */
    r = raw_connect(mp_listener_address(l));
    int64_t t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_listener_accept(l, &c, 300), MP_ETIMEDOUT);
    CU_ASSERT(mp_test_now_ms() - t0 < 3000);
    raw_close(r);
    mp_listener_free(l);
    /* A listener that never challenges: the client's bound holds. */
    mp_listener *quiet;
    MP_CHECK_OK(mp_listener_new(&quiet, NULL, NULL));
    o.timeout_ms = 300;
    t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_client(&c, mp_listener_address(quiet), &o), MP_ETIMEDOUT);
    CU_ASSERT(mp_test_now_ms() - t0 < 3000);
    mp_listener_free(quiet);
}

#ifndef _WIN32
/* Raw frames into a connection: bounds, malformed lengths, truncation,
 * and a peer that stalls half-way (the message is still delivered whole
 * once the rest arrives). */
static void test_hostile_frames(void) {
    mp_listener *l;
    mp_conn *c;
    mp_buf b = {0};
    MP_CHECK_OK(mp_listener_new(&l, NULL, NULL));
    static const struct {
        const char *bytes;
        size_t n;
        int want;
    } cases[] = {
        {"\x7f\xff\xff\xff", 4, MP_EMSGSIZE},
        {"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12, MP_EMSGSIZE},
        {"\x80\x00\x00\x00", 4, MP_EPROTO},
        {"\xff\xff\xff\xfe", 4, MP_EPROTO},
        {"\x00\x00\x00\x10short", 9, MP_ECLOSED},
        {"\x00\x00", 2, MP_ECLOSED},
        {"\xff\xff\xff\xff\x00\x00", 6, MP_ECLOSED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        raw_t r = raw_connect(mp_listener_address(l));
        MP_CHECK_OK(mp_listener_accept(l, &c, 5000));
        raw_write(r, cases[i].bytes, cases[i].n);
        raw_close(r);
        MP_CHECK_RC(mp_conn_recv(c, &b, 5000), cases[i].want);
        CU_ASSERT(b.cap < 4096); /* never allocated for the claimed size */
        mp_conn_free(c);
    }
    /* Half a header, then half a large body: timeouts, then the rest. */
    static uint8_t msg[100004];
    msg[0] = 0, msg[1] = 1, msg[2] = 0x86, msg[3] = 0xa0; /* 100000 */
    for (size_t i = 4; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7);
    raw_t r = raw_connect(mp_listener_address(l));
    MP_CHECK_OK(mp_listener_accept(l, &c, 5000));
    raw_write(r, msg, 2);
    int64_t t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_conn_recv(c, &b, 150), MP_ETIMEDOUT);
    CU_ASSERT(mp_test_now_ms() - t0 >= 140);
    raw_write(r, msg + 2, 50000);
    MP_CHECK_RC(mp_conn_recv(c, &b, 150), MP_ETIMEDOUT);
    raw_write(r, msg + 50002, sizeof msg - 50002);
    MP_CHECK_OK(mp_conn_recv(c, &b, 5000));
    CU_ASSERT(b.len == 100000 && memcmp(b.data, msg + 4, 100000) == 0);
    raw_close(r);
    mp_conn_free(c);
    mp_buf_free(&b);
    mp_listener_free(l);
}
#endif

/* Listening, accepting a keyed client from a child and freeing the listener,
 * three times over, leaves the descriptor or handle count where it was. */
static void test_no_fd_leak(void) {
    mp_test_fdset *before = mp_test_fds_take();
    mp_conn_options o = {.authkey = KEY, .authkey_len = strlen(KEY)};
    for (int i = 0; i < 3; i++) {
        mp_listener *l;
        MP_CHECK_OK(mp_listener_new(&l, NULL, &o));
        mp_process *p =
            start_client(mp_listener_address(l), KEY, 0, MP_START_DEFAULT);
        serve_one(l);
        CU_ASSERT_EQUAL(finish(p), 0);
        mp_listener_free(l);
    }
    CU_ASSERT_EQUAL(mp_test_fds_check(before), 0);
}

/* ---- stalled clients ---- */

/* Makes arg2 clients of the keyed listener at arg0, one after the other,
 * each timed from connect to its reply; exits 0 when every one took less
 * than arg1 ms, 3 when one did not, 100 - error when one failed. */
static int t_honest(mp_call *call) {
    const char *addr = mp_arg_str(mp_call_arg(call, 0));
    int64_t bound = mp_arg_int(mp_call_arg(call, 1));
    int64_t n = mp_arg_int(mp_call_arg(call, 2));
    mp_conn_options o = {
        .authkey = KEY, .authkey_len = strlen(KEY), .timeout_ms = 20000};
    mp_buf b = {0};
    int slow = 0, rc = 0;
    for (int64_t i = 0; i < n && !rc; i++) {
        int64_t t0 = mp_test_now_ms();
        mp_conn *c;
        if ((rc = mp_client(&c, addr, &o)) != 0)
            break;
        rc = mp_conn_send(c, "hello", 5);
        if (!rc)
            rc = mp_conn_recv(c, &b, 20000);
        mp_conn_free(c);
        slow += mp_test_now_ms() - t0 >= bound;
    }
    mp_buf_free(&b);
    return rc ? 100 - rc : slow ? 3 : 0;
}

/* Connects a client that says nothing. On POSIX it waits in the backlog,
 * ahead of every later client; on Windows accept takes it into its
 * handshake at once, since the next client needs the pipe instance that
 * accept makes. */
static raw_t add_staller(mp_listener *l) {
    raw_t r = raw_connect(mp_listener_address(l));
    CU_ASSERT(raw_ok(r));
#ifdef _WIN32
    mp_conn *c = NULL;
    MP_CHECK_RC(mp_listener_accept(l, &c, 1), MP_ETIMEDOUT);
#endif
    return r;
}

/* Eight clients that connect and stall do not delay a hundred honest ones:
 * each is served within the handshake bound (it was 431 ms behind one
 * staller and seconds behind eight when handshakes ran one at a time). */
static void test_stallers(void) {
    enum { STALLERS = 8, CHILDREN = 4, EACH = 25, BOUND = 3000 };
    mp_test_fdset *fds = mp_test_fds_take();
    mp_conn_options o = {.authkey = KEY,
                         .authkey_len = strlen(KEY),
                         .handshake_timeout_ms = BOUND};
    mp_listener *l;
    MP_CHECK_OK(mp_listener_new(&l, NULL, &o));
    const char *a = mp_listener_address(l);
    raw_t st[STALLERS];
    for (int i = 0; i < STALLERS; i++)
        st[i] = add_staller(l);
    int64_t t0 = mp_test_now_ms(), worst = 0;
    mp_process *p[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        p[i] = mp_test_start(t_honest,
                             MP_ARGS(mp_str(a), mp_int(BOUND), mp_int(EACH)),
                             MP_START_DEFAULT);
    for (int served = 0; served < CHILDREN * EACH; served++) {
        int64_t t1 = mp_test_now_ms();
        serve_one(l);
        int64_t dt = mp_test_now_ms() - t1;
        worst = dt > worst ? dt : worst;
    }
    fprintf(stderr,
            "listener: %d honest clients behind %d stallers served in %lld ms "
            "(longest accept %lld ms)\n",
            CHILDREN * EACH, STALLERS, (long long)(mp_test_now_ms() - t0),
            (long long)worst);
    for (int i = 0; i < CHILDREN; i++)
        CU_ASSERT_EQUAL(mp_test_finish(p[i], 30000), 0);
    for (int i = 0; i < STALLERS; i++)
        raw_close(st[i]);
    mp_listener_free(l);
    CU_ASSERT_EQUAL(mp_test_fds_check(fds), 0);
}

/* A staller is dropped once its own bound passes, whatever the accept's
 * timeout; MP_INFINITE accepts return honest clients past a staller; a
 * zero-timeout accept waits for a client in its handshake only up to a
 * second from its arrival. */
static void test_staller_bound(void) {
    mp_test_fdset *fds = mp_test_fds_take();
    mp_conn_options o = {.authkey = KEY,
                         .authkey_len = strlen(KEY),
                         .handshake_timeout_ms = 200};
    mp_listener *l;
    mp_conn *c = NULL;
    MP_CHECK_OK(mp_listener_new(&l, NULL, &o));
    raw_t r = add_staller(l);
    int64_t t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_listener_accept(l, &c, 1000), MP_ETIMEDOUT);
    CU_ASSERT(mp_test_now_ms() - t0 >= 990);
    CU_ASSERT(raw_dropped(r));
    raw_close(r);
    mp_listener_free(l);

    o.handshake_timeout_ms = MP_INFINITE;
    MP_CHECK_OK(mp_listener_new(&l, NULL, &o));
    r = add_staller(l);
    mp_process *p = mp_test_start(
        t_honest,
        MP_ARGS(mp_str(mp_listener_address(l)), mp_int(20000), mp_int(1)),
        MP_START_DEFAULT);
    MP_CHECK_OK(mp_listener_accept(l, &c, MP_INFINITE));
    mp_buf b = {0};
    MP_CHECK_OK(mp_conn_recv(c, &b, 20000));
    MP_CHECK_OK(mp_conn_send(c, "hi", 2));
    mp_buf_free(&b);
    mp_conn_free(c);
    CU_ASSERT_EQUAL(mp_test_finish(p, 30000), 0);
    raw_close(r);
    r = raw_connect(mp_listener_address(l));
    t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_listener_accept(l, &c, 0), MP_EAGAIN);
    int64_t dt = mp_test_now_ms() - t0;
    CU_ASSERT(dt >= 900 && dt < 3000);
    t0 = mp_test_now_ms();
    MP_CHECK_RC(mp_listener_accept(l, &c, 0), MP_EAGAIN);
    CU_ASSERT(mp_test_now_ms() - t0 < 500);
    raw_close(r);
    mp_listener_free(l);
    o.handshake_timeout_ms = -2;
    MP_CHECK_RC(mp_listener_new(&l, NULL, &o), MP_EINVAL);
    CU_ASSERT_EQUAL(mp_test_fds_check(fds), 0);
}

/* ---- killed listeners, and rivals for one address ---- */

/* Listens at arg0 ("" for a fresh address), reports "<rc> <address>" on the
 * connection arg1, and waits there until the parent says goodbye or closes
 * its end (or kills us). */
static int t_listen_wait(mp_call *call) {
    const char *addr = mp_arg_str(mp_call_arg(call, 0));
    mp_conn *to = mp_arg_conn(mp_call_arg(call, 1));
    mp_listener *l = NULL;
    int rc = mp_listener_new(&l, *addr ? addr : NULL, NULL);
    char msg[400];
    snprintf(msg, sizeof msg, "%d %s", rc, rc ? "" : mp_listener_address(l));
    mp_buf b = {0};
    if (mp_conn_send(to, msg, strlen(msg)) == 0)
        mp_conn_recv(to, &b, 60000);
    mp_buf_free(&b);
    mp_listener_free(l);
    return 0;
}

/* A child listening at addr; *rc and address[] are what it reported, *to
 * is our end of its connection (closing it lets the child go). */
static mp_process *start_listener(const char *addr, int *rc, char *address,
                                  size_t cap, mp_conn **to) {
    mp_conn *mine = NULL, *theirs = NULL;
    mp_buf b = {0};
    *rc = -1000;
    address[0] = '\0';
    MP_CHECK_OK(mp_pipe(&mine, &theirs, true));
    mp_process *p = mp_test_start(t_listen_wait,
                                  MP_ARGS(mp_str(addr), mp_conn_arg(theirs)),
                                  MP_START_DEFAULT);
    mp_conn_free(theirs);
    if (mp_conn_recv(mine, &b, 20000) == 0 && b.len < cap) {
        char msg[400];
        snprintf(msg, sizeof msg, "%.*s", (int)b.len, (const char *)b.data);
        *rc = atoi(msg);
        const char *sp = strchr(msg, ' ');
        snprintf(address, cap, "%s", sp ? sp + 1 : "");
    }
    mp_buf_free(&b);
    *to = mine;
    return p;
}

/* The address of a listener killed by SIGKILL / TerminateProcess is free
 * again at once: a new listener at it works, while a live one still says
 * MP_EEXIST. */
static void test_killed_explicit(void) {
    char path[300], got[400];
    int rc;
    mp_conn *to;
#ifdef _WIN32
    snprintf(path, sizeof path, "\\\\.\\pipe\\mproc-test-killed-%ld",
             mp_getpid());
#else
    snprintf(path, sizeof path, "%s/killed.sock", mp_test_tmpdir());
#endif
    mp_process *p = start_listener(path, &rc, got, sizeof got, &to);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(got, path);
    mp_listener *l;
    MP_CHECK_RC(mp_listener_new(&l, path, NULL), MP_EEXIST);
    mp_test_kill(p);
    mp_conn_free(to);
    MP_CHECK_OK(mp_listener_new(&l, path, NULL));
    mp_process *c = start_client(path, NULL, 0, MP_START_DEFAULT);
    serve_one(l);
    CU_ASSERT_EQUAL(finish(c), 0);
    mp_listener_free(l);
#ifndef _WIN32
    CU_ASSERT(access(path, F_OK) == -1);
#endif
}

/* A killed listener's fresh address leaves nothing (Linux, Windows) or a
 * directory the next fresh listener removes (other POSIX systems). */
static void test_killed_fresh(void) {
    char got[400];
    int rc;
    mp_conn *to, *c;
#ifndef _WIN32
    /* A TMPDIR of our own, so that no other test process reclaims what the
     * child leaves before we look. */
    char *was = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    setenv("TMPDIR", mp_test_tmpdir(), 1);
#endif
    mp_process *p = start_listener("", &rc, got, sizeof got, &to);
    CU_ASSERT_EQUAL(rc, 0);
    mp_test_kill(p);
    mp_conn_free(to);
#ifdef _WIN32
    MP_CHECK_RC(mp_client(&c, got, NULL), MP_ENOENT);
#else
    if (got[0] == '@') {
        MP_CHECK_RC(mp_client(&c, got, NULL), MP_ECONNREFUSED);
    } else {
        char dir[400];
        struct stat st;
        snprintf(dir, sizeof dir, "%s", got);
        *strrchr(dir, '/') = '\0';
        CU_ASSERT(stat(dir, &st) == 0); /* what SIGKILL left */
        mp_listener *l;
        MP_CHECK_OK(mp_listener_new(&l, NULL, NULL));
        CU_ASSERT(stat(dir, &st) == -1 && errno == ENOENT);
        mp_listener_free(l);
    }
    if (was)
        setenv("TMPDIR", was, 1);
    else
        unsetenv("TMPDIR");
    free(was);
#endif
}

#ifndef _WIN32
/* A socket file nobody listens on, as a killed listener leaves. */
static void make_leftover(const char *path) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    CU_ASSERT_FATAL(n < sizeof sa.sun_path);
    memcpy(sa.sun_path, path, n + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CU_ASSERT(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    close(fd);
}

/* Rivals taking over one leftover at once: exactly one wins, the others
 * get MP_EEXIST. Anything but a socket is never taken over. */
static void test_takeover_race(void) {
    enum { RIVALS = 6 };
    char path[300], got[400];
    snprintf(path, sizeof path, "%s/race.sock", mp_test_tmpdir());
    for (int round = 0; round < 3; round++) {
        make_leftover(path);
        mp_process *p[RIVALS];
        mp_conn *to[RIVALS];
        int rc[RIVALS], won = 0, lost = 0;
        /* All start before any reports, so their attempts overlap. */
        mp_conn *mine[RIVALS], *theirs[RIVALS];
        for (int i = 0; i < RIVALS; i++) {
            MP_CHECK_OK(mp_pipe(&mine[i], &theirs[i], true));
            p[i] = mp_test_start(t_listen_wait,
                                 MP_ARGS(mp_str(path), mp_conn_arg(theirs[i])),
                                 MP_START_FORK);
            mp_conn_free(theirs[i]);
        }
        for (int i = 0; i < RIVALS; i++) {
            mp_buf b = {0};
            rc[i] = -1000;
            if (mp_conn_recv(mine[i], &b, 20000) == 0 && b.len < sizeof got) {
                snprintf(got, sizeof got, "%.*s", (int)b.len,
                         (const char *)b.data);
                rc[i] = atoi(got);
            }
            mp_buf_free(&b);
            won += rc[i] == 0;
            lost += rc[i] == MP_EEXIST;
            to[i] = mine[i];
        }
        CU_ASSERT_EQUAL(won, 1);
        CU_ASSERT_EQUAL(lost, RIVALS - 1);
        /* Forked rivals hold each other's pipes: say goodbye, not EOF. */
        for (int i = 0; i < RIVALS; i++) {
            MP_CHECK_OK(mp_conn_send(to[i], "bye", 3));
            mp_conn_free(to[i]);
            CU_ASSERT_EQUAL(mp_test_finish(p[i], 30000), 0);
        }
        CU_ASSERT(access(path, F_OK) == -1);
    }
    /* A regular file, and a symbolic link to a leftover, stay as they are. */
    mp_listener *l;
    CU_ASSERT(mp_test_write_file(path, "not a socket") == 0);
    MP_CHECK_RC(mp_listener_new(&l, path, NULL), MP_EEXIST);
    CU_ASSERT(access(path, F_OK) == 0);
    unlink(path);
    char target[320];
    snprintf(target, sizeof target, "%s/target.sock", mp_test_tmpdir());
    make_leftover(target);
    CU_ASSERT(symlink(target, path) == 0);
    MP_CHECK_RC(mp_listener_new(&l, path, NULL), MP_EEXIST);
    struct stat st;
    CU_ASSERT(lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
    unlink(path);
    unlink(target);
}

/* Linux's abstract namespace: explicit "@name" addresses, free again when
 * their listener goes; another user can neither connect to ours nor pose
 * as one we connect to (checked when running as root, with a child that
 * drops to nobody). */
static int t_as_nobody(mp_call *call) {
    const char *addr = mp_arg_str(mp_call_arg(call, 0));
    mp_conn *to = mp_arg_conn(mp_call_arg(call, 1));
    if (mp_test_become_nobody() != 0)
        return 2;
    mp_conn *c;
    mp_buf b = {0};
    /* Our client is turned away by the listener (root's is not ours). */
    int rc = mp_client(&c, addr, NULL);
    if (rc)
        return 100 - rc;
    rc = mp_conn_recv(c, &b, 20000);
    mp_conn_free(c);
    if (rc != MP_ECLOSED)
        return 3;
    /* And our own listener is refused by root's client. */
    mp_listener *l;
    char name[64];
    snprintf(name, sizeof name, "@mproc-test-nobody-%ld", mp_getpid());
    if ((rc = mp_listener_new(&l, name, NULL)) != 0)
        return 100 - rc;
    if (mp_conn_send(to, name, strlen(name)) == 0)
        mp_conn_recv(to, &b, 20000);
    mp_buf_free(&b);
    mp_listener_free(l);
    return 0;
}

/* An explicit abstract address serves a client and is MP_EEXIST while in use,
 * or is MP_ENOTSUP where the platform has none; as root, a client running as
 * nobody is refused (MP_EACCES) and never comes out of accept. */
static void test_abstract(void) {
    mp_listener *l, *l2;
    mp_conn *c;
    if (mp_listener_new(&l, NULL, NULL) == 0) {
        bool abs = mp_listener_address(l)[0] == '@';
        mp_listener_free(l);
        if (!abs) {
            MP_CHECK_RC(mp_listener_new(&l, "@mproc-test", NULL), MP_ENOTSUP);
            return;
        }
    }
    char name[64];
    snprintf(name, sizeof name, "@mproc-test-%ld", mp_getpid());
    MP_CHECK_OK(mp_listener_new(&l, name, NULL));
    MP_CHECK_RC(mp_listener_new(&l2, name, NULL), MP_EEXIST);
    mp_process *p = start_client(name, NULL, 0, MP_START_DEFAULT);
    serve_one(l);
    CU_ASSERT_EQUAL(finish(p), 0);
    mp_listener_free(l);
    MP_CHECK_OK(mp_listener_new(&l, name, NULL));
    if (geteuid() != 0) {
        mp_listener_free(l);
        return;
    }
    mp_conn *mine, *theirs;
    MP_CHECK_OK(mp_pipe(&mine, &theirs, true));
    p = mp_test_start(t_as_nobody, MP_ARGS(mp_str(name), mp_conn_arg(theirs)),
                      MP_START_FORK);
    mp_conn_free(theirs);
    /* Its connection never comes out of accept; it sees the end. */
    mp_buf b = {0};
    int rc;
    while ((rc = mp_conn_recv(mine, &b, 0)) == MP_EAGAIN)
        MP_CHECK_RC(mp_listener_accept(l, &c, 50), MP_ETIMEDOUT);
    MP_CHECK_OK(rc);
    if (rc == 0) {
        char other[64];
        snprintf(other, sizeof other, "%.*s", (int)b.len,
                 (const char *)b.data);
        MP_CHECK_RC(mp_client(&c, other, NULL), MP_EACCES);
        MP_CHECK_OK(mp_conn_send(mine, "bye", 3)); /* it holds mine too */
    }
    mp_buf_free(&b);
    mp_conn_free(mine);
    CU_ASSERT_EQUAL(mp_test_finish(p, 30000), 0);
    mp_listener_free(l);
}
#endif

#ifndef _WIN32
#define POSIX_LISTENER_CASES                                                  \
    {"hostile_frames", test_hostile_frames, MP_TEST_ONCE},                    \
        {"takeover_race", test_takeover_race, MP_TEST_ONCE},                  \
        {"abstract", test_abstract, MP_TEST_ONCE},
#else
#define POSIX_LISTENER_CASES
#endif

void mp_test_suite_listener(void) {
    const mp_test_runs once = MP_TEST_ONCE, each = MP_TEST_PER_METHOD;
    MP_TEST_SUITE(
        "listener", {"fresh_address", test_fresh_address, once},
        {"serve_child", test_serve_child, each},
        {"wrong_key", test_wrong_key, once},
        {"accept_timeout_and_close", test_accept_timeout_and_close, once},
        {"bad_addresses", test_bad_addresses, once},
        {"hostile_handshake", test_hostile_handshake, once},
        POSIX_LISTENER_CASES{"stallers", test_stallers, once},
        {"staller_bound", test_staller_bound, once},
        {"killed_explicit", test_killed_explicit, once},
        {"killed_fresh", test_killed_fresh, once},
        {"no_fd_leak", test_no_fd_leak, once});
}
