/* OS handles as arguments (issue 16): a descriptor, HANDLE or SOCKET given
 * with mp_handle reaches the child as its own handle to the same pipe or
 * socket, with every start method; the parent's stays as it was; a spawned
 * child holds nothing else; a handle that is not open is MP_EINVAL; a pool
 * task refuses handles (MP_ENOTSUP) while its initargs carry them. */
#ifndef _WIN32
#define _DEFAULT_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
typedef SOCKET sock_t;
#define sock_close closesocket
#else
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
typedef int sock_t;
#define sock_close close
#endif

#include "testutil.h"

/* How long any one wait of this suite may take. */
#define WAIT_MS 30000

/* ---- a byte pipe, in each platform's own calls ---- */

static int os_pipe(mp_os_handle *rd, mp_os_handle *wr) {
#ifdef _WIN32
    HANDLE r, w;
    if (!CreatePipe(&r, &w, NULL, 0))
        return -1;
    *rd = (mp_os_handle)r;
    *wr = (mp_os_handle)w;
#else
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    *rd = fds[0];
    *wr = fds[1];
#endif
    return 0;
}

static void os_close(mp_os_handle h) {
#ifdef _WIN32
    CloseHandle((HANDLE)h);
#else
    close((int)h);
#endif
}

static int os_write(mp_os_handle h, const char *s) {
    size_t n = strlen(s);
#ifdef _WIN32
    DWORD put;
    return WriteFile((HANDLE)h, s, (DWORD)n, &put, NULL) && put == n ? 0 : -1;
#else
    return write((int)h, s, n) == (ssize_t)n ? 0 : -1;
#endif
}

/* Reads until end of stream (every writer closed) into buf, NUL-terminated:
 * 0, or -1 on an error or when WAIT_MS passes first. */
static int os_read_to_end(mp_os_handle h, char *buf, size_t cap) {
    size_t len = 0;
    int64_t end = mp_test_now_ms() + WAIT_MS;
    for (;;) {
        if (mp_test_now_ms() > end || len + 1 >= cap)
            return -1;
#ifdef _WIN32
        DWORD avail = 0, got = 0;
        if (!PeekNamedPipe((HANDLE)h, NULL, 0, NULL, &avail, NULL))
            break; /* ERROR_BROKEN_PIPE: every writer closed */
        if (!avail) {
            mp_test_sleep_ms(1); /* anonymous pipes cannot be waited on */
            continue;
        }
        if (avail > cap - 1 - len)
            avail = (DWORD)(cap - 1 - len);
        if (!ReadFile((HANDLE)h, buf + len, avail, &got, NULL))
            return -1;
#else
        struct pollfd p = {(int)h, POLLIN, 0};
        if (poll(&p, 1, 100) == 0)
            continue;
        ssize_t got = read((int)h, buf + len, cap - 1 - len);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
#endif
        len += (size_t)got;
    }
    buf[len] = '\0';
    return 0;
}

/* Whether h is open in this process, and whether it would pass to a
 * program this process starts (not close-on-exec / inheritable). */
static bool os_is_open(mp_os_handle h) {
#ifdef _WIN32
    DWORD flags;
    return GetHandleInformation((HANDLE)h, &flags) != 0;
#else
    return fcntl((int)h, F_GETFD) != -1;
#endif
}

static bool os_inheritable(mp_os_handle h) {
#ifdef _WIN32
    DWORD flags = 0;
    GetHandleInformation((HANDLE)h, &flags);
    return (flags & HANDLE_FLAG_INHERIT) != 0;
#else
    return !(fcntl((int)h, F_GETFD) & FD_CLOEXEC);
#endif
}

/* ---- local sockets: AF_UNIX on POSIX, loopback TCP on Windows (where
 * AF_UNIX is missing from Wine and older systems) ---- */

static int net_init(void) {
#ifdef _WIN32
    WSADATA wd;
    return WSAStartup(MAKEWORD(2, 2), &wd) == 0 ? 0 : -1;
#else
    return 0;
#endif
}

/* A connected pair through a listener: *client connected to *served,
 * which the listener accepted. The listener is closed again. */
static int accepted_pair(sock_t *client, sock_t *served) {
    int rc = -1;
#ifdef _WIN32
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int alen = (int)sizeof a;
    sock_t l = socket(AF_INET, SOCK_STREAM, 0);
    if (l == INVALID_SOCKET)
        return -1;
    if (bind(l, (struct sockaddr *)&a, alen) == 0 &&
        getsockname(l, (struct sockaddr *)&a, &alen) == 0 &&
        listen(l, 4) == 0 &&
        (*client = socket(AF_INET, SOCK_STREAM, 0)) != INVALID_SOCKET) {
#else
    static int n;
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof a.sun_path, "%s/h%d.sock", mp_test_tmpdir(),
             n++);
    socklen_t alen = (socklen_t)sizeof a;
    sock_t l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l < 0)
        return -1;
    if (bind(l, (struct sockaddr *)&a, alen) == 0 && listen(l, 4) == 0 &&
        (*client = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0) {
#endif
        /* The listener's backlog completes the connection: no accept is
         * needed before connect returns. */
        if (connect(*client, (struct sockaddr *)&a, alen) == 0 &&
            (*served = accept(l, NULL, NULL)) != (sock_t)-1)
            rc = 0;
        else
            sock_close(*client);
    }
    sock_close(l);
#ifndef _WIN32
    unlink(a.sun_path);
#endif
    return rc;
}

/* Receives until the peer closes: 0 with buf NUL-terminated, or -1 (also
 * when WAIT_MS passes first). */
static int sock_read_to_end(sock_t s, char *buf, size_t cap) {
    size_t len = 0;
    int64_t end = mp_test_now_ms() + WAIT_MS;
    for (;;) {
        if (mp_test_now_ms() > end || len + 1 >= cap)
            return -1;
#ifdef _WIN32
        WSAPOLLFD p = {s, POLLRDNORM, 0};
        if (WSAPoll(&p, 1, 100) == 0)
            continue;
#else
        struct pollfd p = {s, POLLIN, 0};
        if (poll(&p, 1, 100) == 0)
            continue;
#endif
        int got = (int)recv(s, buf + len, (int)(cap - 1 - len), 0);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        len += (size_t)got;
    }
    buf[len] = '\0';
    return 0;
}

/* ---- targets (static on purpose: spawned children must find them) ---- */

/* Writes the string argument 1 through the handle argument 0, then closes
 * it: the child's handle is its own to close. */
static int t_write(mp_call *c) {
    mp_os_handle h = mp_arg_handle(mp_call_arg(c, 0));
    const char *s = mp_arg_str(mp_call_arg(c, 1));
    if (h == MP_BAD_HANDLE || !s)
        return 10;
    int rc = os_write(h, s) ? 11 : 0;
    os_close(h);
    return rc;
}

/* The same through the keyword argument "out", left for the child's exit
 * to close. */
static int t_write_kw(mp_call *c) {
    mp_os_handle h = mp_arg_handle(mp_call_kwarg(c, "out"));
    if (mp_call_nargs(c) != 0 || h == MP_BAD_HANDLE)
        return 10;
    return os_write(h, "kw") ? 11 : 0;
}

/* A spawned child's view of its handles: the one it was given (argument 0)
 * is open and private to it (close-on-exec, not inheritable), and it holds
 * nothing else: on POSIX exactly 0, 1, 2 and that one; on Windows not the
 * inheritable handle whose value is argument 1, which the parent did not
 * give. Each failure has its own bit. */
static int t_inventory(mp_call *c) {
    mp_os_handle h = mp_arg_handle(mp_call_arg(c, 0));
    int bad = 0;
    if (!os_is_open(h))
        bad |= 1;
    if (os_inheritable(h))
        bad |= 2;
#ifdef _WIN32
    if (os_is_open((mp_os_handle)mp_arg_int(mp_call_arg(c, 1))))
        bad |= 4;
#else
    if (mp_test_count_fds() != 4)
        bad |= 4;
#endif
    return bad;
}

/* Serves one request on the accepted socket it was given: "ping" is
 * answered "pong <name>"; then the socket is closed. */
static int t_serve(mp_call *c) {
    sock_t s = (sock_t)mp_arg_handle(mp_call_arg(c, 0));
    char req[8] = "", reply[64];
    size_t got = 0;
    if (net_init())
        return 10;
    while (got < 4) {
        int n = (int)recv(s, req + got, (int)(4 - got), 0);
        if (n <= 0)
            return 11;
        got += (size_t)n;
    }
    if (memcmp(req, "ping", 4) != 0)
        return 12;
    int len = snprintf(reply, sizeof reply, "pong %s", mp_current_name());
    if (send(s, reply, len, 0) != len)
        return 13;
    sock_close(s);
    return 0;
}

static mp_os_handle pool_out = MP_BAD_HANDLE;

static int t_pool_init(mp_call *c) {
    pool_out = mp_arg_handle(mp_call_arg(c, 0));
    return pool_out == MP_BAD_HANDLE;
}

static int t_pool_task(mp_call *c) {
    return os_write(pool_out, mp_arg_str(mp_call_arg(c, 0))) ? 1 : 0;
}

static int t_unreached(mp_call *c) {
    (void)c;
    return 99;
}

/* ---- tests ---- */

/* Starts fn(args) with method m; the exit code after a bounded join, or
 * -1000 (the child killed) when it does not end in time. */
static int run(mp_target fn, mp_args args, mp_start_method m) {
    mp_process *p = mp_test_start(fn, args, m);
    if (p && mp_process_join(p, WAIT_MS) != 0) {
        CU_FAIL("the child did not end in time");
        mp_test_kill(p);
        return -1000;
    }
    return mp_test_finish(p, WAIT_MS);
}

/* A pipe's write end given with mp_handle reaches the child as its own handle,
 * so that what the child writes arrives after the parent has closed its end,
 * and no descriptor or handle is left open. */
static void test_pipe_to_child(void) {
    mp_test_warm_up();
    mp_test_fdset *before = mp_test_fds_take();
    mp_os_handle rd = 0, wr = 0;
    char text[64] = "";
    CU_ASSERT_EQUAL_FATAL(os_pipe(&rd, &wr), 0);
    mp_process *p = mp_test_start(
        t_write, MP_ARGS(mp_handle(wr), mp_str("from the child")),
        mp_test_method());
    /* Ours may go once the child has started: it holds its own. */
    os_close(wr);
    CU_ASSERT_EQUAL(mp_test_finish(p, WAIT_MS), 0);
    CU_ASSERT_EQUAL(os_read_to_end(rd, text, sizeof text), 0);
    CU_ASSERT_STRING_EQUAL(text, "from the child");
    os_close(rd);
    CU_ASSERT_EQUAL(mp_test_fds_check(before), 0);
}

/* A handle passed as a keyword argument reaches the child as a usable handle,
 * as a positional one does. */
static void test_keyword_handle(void) {
    mp_os_handle rd = 0, wr = 0;
    char text[64] = "";
    CU_ASSERT_EQUAL_FATAL(os_pipe(&rd, &wr), 0);
    CU_ASSERT_EQUAL(run(t_write_kw, MP_ARGS(mp_kw("out", mp_handle(wr))),
                        mp_test_method()),
                    0);
    os_close(wr);
    CU_ASSERT_EQUAL(os_read_to_end(rd, text, sizeof text), 0);
    CU_ASSERT_STRING_EQUAL(text, "kw");
    os_close(rd);
}

/* The child closing its handle leaves the parent's open and unchanged. */
static void test_parent_keeps_its_handle(void) {
    mp_os_handle rd = 0, wr = 0;
    char text[64] = "";
    CU_ASSERT_EQUAL_FATAL(os_pipe(&rd, &wr), 0);
    bool inh = os_inheritable(wr);
    CU_ASSERT_EQUAL(run(t_write, MP_ARGS(mp_handle(wr), mp_str("child,")),
                        mp_test_method()),
                    0);
    CU_ASSERT(os_is_open(wr));
    CU_ASSERT_EQUAL(os_inheritable(wr), inh);
    CU_ASSERT_EQUAL(os_write(wr, "parent"), 0);
    os_close(wr);
    CU_ASSERT_EQUAL(os_read_to_end(rd, text, sizeof text), 0);
    CU_ASSERT_STRING_EQUAL(text, "child,parent");
    os_close(rd);
}

/* A spawned child holds the handle it was given and none of the parent's other
 * inheritable ones (on POSIX, a descriptor opened without O_CLOEXEC stays
 * behind, and the one given arrives close-on-exec). */
static void test_spawn_child_holds_only_its_handles(void) {
    mp_os_handle rd = 0, wr = 0;
    CU_ASSERT_EQUAL_FATAL(os_pipe(&rd, &wr), 0);
#ifdef _WIN32
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    HANDLE ev = CreateEventW(&sa, TRUE, FALSE, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_EQUAL(run(t_inventory,
                        MP_ARGS(mp_handle(wr), mp_int((intptr_t)ev)),
                        MP_START_SPAWN),
                    0);
    CloseHandle(ev);
#else
    /* A descriptor opened without O_CLOEXEC does not go with it, and the
     * one it is given arrives close-on-exec although ours is not. */
    FILE *f = fopen(mp_test_argv0, "r");
    CU_ASSERT_PTR_NOT_NULL(f);
    fcntl((int)wr, F_SETFD, 0);
    CU_ASSERT_EQUAL(run(t_inventory, MP_ARGS(mp_handle(wr)), MP_START_SPAWN),
                    0);
    CU_ASSERT(os_inheritable(wr));
    if (f)
        fclose(f);
#endif
    os_close(rd);
    os_close(wr);
}

/* The tutorial's server, handing each accepted connection to a child:
 * the child serves it, and the client sees the end of the stream once
 * the child has closed its copy (the parent closed its own at once). */
static void test_accepted_socket_served_by_child(void) {
    sock_t client, served;
    CU_ASSERT_EQUAL_FATAL(net_init(), 0);
    /* Winsock keeps objects of its own from the first connection on (one
     * handle under Wine): count from after one. */
    CU_ASSERT_EQUAL_FATAL(accepted_pair(&client, &served), 0);
    sock_close(client);
    sock_close(served);
    mp_test_fdset *before = mp_test_fds_take();
    char text[64] = "";
    CU_ASSERT_EQUAL_FATAL(accepted_pair(&client, &served), 0);
    mp_process *p = NULL;
    mp_process_options o = {.name = "server",
                            .start_method = mp_test_method()};
    MP_CHECK_OK(mp_process_new(&p, t_serve,
                               MP_ARGS(mp_handle((mp_os_handle)served)), &o));
    MP_CHECK_OK(mp_process_start(p));
    sock_close(served);
    CU_ASSERT_EQUAL(send(client, "ping", 4, 0), 4);
    CU_ASSERT_EQUAL(sock_read_to_end(client, text, sizeof text), 0);
    CU_ASSERT_STRING_EQUAL(text, "pong server");
    CU_ASSERT_EQUAL(mp_test_finish(p, WAIT_MS), 0);
    sock_close(client);
    CU_ASSERT_EQUAL(mp_test_fds_check(before), 0);
#ifdef _WIN32
    WSACleanup();
#endif
}

/* A handle that is not open is MP_EINVAL, at mp_process_new or (closed in
 * between) at mp_process_start, which then starts nothing. */
static void test_bad_handles(void) {
    mp_os_handle rd = 0, wr = 0;
    CU_ASSERT_EQUAL_FATAL(os_pipe(&rd, &wr), 0);
    os_close(rd);
    os_close(wr);
    const mp_arg bad[] = {mp_handle(MP_BAD_HANDLE), mp_handle(-7),
                          mp_handle(wr), mp_kw("out", mp_handle(rd))};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        mp_process *p = NULL;
        MP_CHECK_RC(
            mp_process_new(&p, t_unreached, MP_ARGS(mp_int(1), bad[k]), NULL),
            MP_EINVAL);
        CU_ASSERT_PTR_NULL(p);
        mp_pool *pool = NULL;
        mp_pool_options po = {.processes = 1,
                              .initializer = t_pool_init,
                              .initargs = MP_ARGS(bad[k])};
        MP_CHECK_RC(mp_pool_new(&pool, &po), MP_EINVAL);
        CU_ASSERT_PTR_NULL(pool);
    }
    mp_test_fdset *before = mp_test_fds_take();
    mp_process *p = NULL;
    mp_process_options o = {.start_method = mp_test_method()};
    CU_ASSERT_EQUAL_FATAL(os_pipe(&rd, &wr), 0);
    MP_CHECK_OK(mp_process_new(&p, t_unreached, MP_ARGS(mp_handle(wr)), &o));
    os_close(wr);
    MP_CHECK_RC(mp_process_start(p), MP_EINVAL);
    MP_CHECK_RC(mp_process_join(p, 0), MP_ESTATE);
    mp_process_free(p);
    os_close(rd);
    CU_ASSERT_EQUAL(mp_test_fds_check(before), 0);
}

/* A pool task's arguments cross by value: a handle is MP_ENOTSUP there,
 * open or not, as an mproc object is; initargs carry one to every
 * worker, which keeps it for its tasks. */
static void test_pool_handles(void) {
    mp_os_handle rd = 0, wr = 0;
    char text[64] = "";
    CU_ASSERT_EQUAL_FATAL(os_pipe(&rd, &wr), 0);
    mp_pool *pool = NULL;
    mp_pool_options po = {.processes = 1,
                          .initializer = t_pool_init,
                          .initargs = MP_ARGS(mp_handle(wr)),
                          .start_method = mp_test_method()};
    MP_CHECK_OK(mp_pool_new(&pool, &po));
    CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
    mp_buf b = {0};
    mp_result *r = NULL;
    MP_CHECK_RC(mp_pool_apply(pool, t_pool_task,
                              MP_ARGS(mp_str("x"), mp_handle(wr)), &b),
                MP_ENOTSUP);
    MP_CHECK_RC(mp_pool_apply_async(pool, t_pool_task,
                                    MP_ARGS(mp_handle(MP_BAD_HANDLE)), &r),
                MP_ENOTSUP);
    CU_ASSERT_PTR_NULL(r);
    mp_args items[2] = {MP_ARGS(mp_str("x")),
                        MP_ARGS(mp_kw("h", mp_handle(wr)))};
    MP_CHECK_RC(mp_pool_map(pool, t_pool_task, items, 2, 0, &r), MP_ENOTSUP);
    CU_ASSERT_PTR_NULL(r);
    MP_CHECK_OK(mp_pool_apply(pool, t_pool_task, MP_ARGS(mp_str("a")), &b));
    MP_CHECK_OK(mp_pool_apply(pool, t_pool_task, MP_ARGS(mp_str("b")), &b));
    mp_buf_free(&b);
    MP_CHECK_OK(mp_pool_close(pool));
    MP_CHECK_OK(mp_pool_join(pool, WAIT_MS));
    mp_pool_free(pool);
    os_close(wr);
    CU_ASSERT_EQUAL(os_read_to_end(rd, text, sizeof text), 0);
    CU_ASSERT_STRING_EQUAL(text, "ab");
    os_close(rd);
}

/* The reader is NULL-safe and tells a handle from anything else. */
static void test_readers(void) {
    mp_arg h = mp_handle(5), i = mp_int(5);
    CU_ASSERT_EQUAL(h.type, MP_ARG_HANDLE);
    CU_ASSERT_EQUAL(mp_arg_handle(&h), 5);
    CU_ASSERT_EQUAL(mp_arg_handle(&i), MP_BAD_HANDLE);
    CU_ASSERT_EQUAL(mp_arg_handle(NULL), MP_BAD_HANDLE);
    CU_ASSERT_EQUAL(mp_arg_int(&h), 0);
    CU_ASSERT_PTR_NULL(mp_arg_str(&h));
    CU_ASSERT_PTR_NULL(mp_arg_obj(&h, MP_OBJ_CONN));
}

void mp_test_suite_handles(void) {
    const mp_test_runs once = MP_TEST_ONCE, each = MP_TEST_PER_METHOD;
    MP_TEST_SUITE(
        "handles", {"readers", test_readers, once},
        {"pipe_to_child", test_pipe_to_child, each},
        {"keyword_handle", test_keyword_handle, each},
        {"parent_keeps_its_handle", test_parent_keeps_its_handle, each},
        {"spawn_child_holds_only_its_handles",
         test_spawn_child_holds_only_its_handles, once},
        {"accepted_socket_served_by_child",
         test_accepted_socket_served_by_child, each},
        {"bad_handles", test_bad_handles, each},
        {"pool_handles", test_pool_handles, each});
}
