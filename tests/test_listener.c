/* Listener and Client: fresh private addresses, children as clients with
 * every start method, the authkey handshake (both forms, wrong keys),
 * timeouts, absent listeners, and hostile peers writing raw bytes. */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* S_ISSOCK, MSG_NOSIGNAL under -std=c11 */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
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
#else
typedef int raw_t;
static raw_t raw_connect(const char *addr) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", addr);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd != -1 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
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

static void test_fresh_address(void) {
    mp_listener *l;
    MP_CHECK_OK(mp_listener_new(&l, NULL, NULL));
    const char *a = mp_listener_address(l);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
#ifdef _WIN32
    CU_ASSERT(strncmp(a, "\\\\.\\pipe\\mproc-", 15) == 0);
    mp_listener_free(l);
#else
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
 * handshake forms, every start method. */
static void test_serve_child(void) {
    for (int m = 0; m < mp_test_nmethods; m++) {
        for (int k = 0; k < 3; k++) {
            mp_auth_digest dg = k == 2 ? MP_AUTH_MD5 : MP_AUTH_SHA256;
            mp_conn_options o = {.authkey = k ? KEY : NULL,
                                 .authkey_len = k ? strlen(KEY) : 0,
                                 .digest = dg};
            mp_listener *l;
            MP_CHECK_OK(mp_listener_new(&l, NULL, &o));
            mp_process *p =
                start_client(mp_listener_address(l), k ? KEY : NULL, dg,
                             mp_test_methods[m]);
            serve_one(l);
            CU_ASSERT_EQUAL(finish(p), 0);
            mp_listener_free(l);
        }
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

static void test_no_fd_leak(void) {
    int before = mp_test_count_fds();
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
    CU_ASSERT_EQUAL(mp_test_count_fds(), before);
}

void mp_test_suite_listener(void) {
    MP_TEST_SUITE("listener", {"fresh_address", test_fresh_address},
                  {"serve_child", test_serve_child},
                  {"wrong_key", test_wrong_key},
                  {"accept_timeout_and_close", test_accept_timeout_and_close},
                  {"bad_addresses", test_bad_addresses},
                  {"hostile_handshake", test_hostile_handshake},
#ifndef _WIN32
                  {"hostile_frames", test_hostile_frames},
#endif
                  {"no_fd_leak", test_no_fd_leak});
}
