/* Security: what a name or an address leads to must belong to our user.
 * Another user who made a name first (mode 0666, or any owner but us on
 * Windows) is neither joined nor taken over (MP_EACCES); an object of ours
 * opened up to others, or a link planted at a name, is refused the same
 * way; a lock anyone may hold on a listener's directory costs
 * mp_listener_new a short bound, never a hang; and both ends of every
 * local connection check the other end's user.
 *
 * The cases with two users need root, which a child gives up to become
 * nobody (setgid/setuid 65534); without root they say so on stdout and
 * assert nothing. Under Wine every process runs as one user, so on Windows
 * a foreign owner is shown with objects created with another owner in
 * their security descriptor (Wine sets it as asked), and the pipe peer
 * check only with a peer of our own user (see each test). */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* flock, S_ISSOCK, fchmod under -std=c11 */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#else
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#include "named_kinds.h"
#include "testutil.h"

/* Says that a test asserted nothing, and why, where a run's log shows it. */
static void skipped(const char *test, const char *why) {
    printf("\n    %s: skipped: %s\n", test, why);
    fflush(stdout);
}

#ifndef _WIN32

#define NOBODY MP_TEST_NOBODY

/* A message from a child on c, as a string (empty when none came within
 * timeout_ms). */
static void recv_text(mp_conn *c, char *out, size_t cap, long timeout_ms) {
    mp_buf b = {0};
    out[0] = '\0';
    if (mp_conn_recv(c, &b, timeout_ms) == 0)
        snprintf(out, cap, "%.*s", (int)b.len, (const char *)b.data);
    mp_buf_free(&b);
}

/* Opens our name's shm object directly ("/mp-<name>"), -1 if none. */
static int raw_open(const char *name, int flags, mode_t mode) {
    char nm[300];
    snprintf(nm, sizeof nm, "/mp-%s", name);
    return shm_open(nm, flags, mode);
}

static void raw_unlink(const char *name) {
    char nm[300];
    snprintf(nm, sizeof nm, "/mp-%s", name);
    shm_unlink(nm);
}

/* Sets the mode of name's shm object. */
static void raw_chmod(const char *name, mode_t mode) {
    int fd = raw_open(name, O_RDWR, 0);
    CU_ASSERT(fd >= 0);
    if (fd >= 0) {
        CU_ASSERT(fchmod(fd, mode) == 0);
        close(fd);
    }
}

/* Every kind: an object of ours whose mode lets the group or others in
 * (chmod by some program of ours, or by the user) is refused on create and
 * on open with MP_EACCES, not joined; made private again, it opens. */
static void test_group_bits_refused(void) {
    static const mode_t modes[] = {0640, 0602};
    char nm[80];
    int shm_before = mp_test_shm_entries();
    mp_test_fdset *fds = mp_test_fds_take();
    for (int k = 0; k < NKINDS; k++)
        for (int m = 0; m < 2; m++) {
            void *o, *o2;
            /* Short: the macOS limit (31 bytes, macos-emu) would hash a
             * longer name, which raw_open could not find. */
            snprintf(nm, sizeof nm, "test-%ld-sb-%d-%d", mp_getpid(), k, m);
            MP_CHECK_OK(named_make(k, nm, 0, false, false, &o));
            raw_chmod(nm, modes[m]);
            int rc = named_make(k, nm, 0, false, k == K_QUEUE, &o2);
            MP_CHECK_RC(rc, MP_EACCES);
            if (rc == 0)
                named_drop(k, o2);
            if (k == K_QUEUE) {
                rc = named_make(k, nm, 0, false, false, &o2);
                MP_CHECK_RC(rc, MP_EACCES);
                if (rc == 0)
                    named_drop(k, o2);
            }
            raw_chmod(nm, 0600);
            MP_CHECK_OK(named_make(k, nm, 0, false, k == K_QUEUE, &o2));
            named_drop(k, o2);
            named_drop(k, o);
        }
    CU_ASSERT_EQUAL(mp_test_fds_check(fds), 0);
    CU_ASSERT_EQUAL(mp_test_shm_entries(), shm_before);
}

/* A half-made object (its creator died before publishing it, so a create
 * would take it over) whose mode lets others in is not taken over: create
 * and open give MP_EACCES, and the object is left as it was. */
static void test_half_made_bits_refused(void) {
    char nm[80];
    snprintf(nm, sizeof nm, "test-%ld-sec-half", mp_getpid());
    int fd = raw_open(nm, O_RDWR | O_CREAT | O_EXCL, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT(fchmod(fd, 0666) == 0);
    void *o;
    int rc = named_make(K_VALUE, nm, 0, false, false, &o);
    MP_CHECK_RC(rc, MP_EACCES);
    if (rc == 0)
        named_drop(K_VALUE, o);
    MP_CHECK_RC(named_make(K_QUEUE, nm, 0, false, true, &o), MP_EACCES);
    struct stat st;
    CU_ASSERT(fstat(fd, &st) == 0 && st.st_size == 0 &&
              (st.st_mode & 0777) == 0666);
    close(fd);
    raw_unlink(nm);
}

/* A symbolic link planted at a name (where names are files: Linux's
 * /dev/shm) is never followed: create and open give MP_EACCES and the
 * file it points to is neither truncated nor written. */
static void test_symlink_refused(void) {
    char nm[80], link[300], target[300], text[32];
    if (access("/dev/shm", W_OK) != 0) {
        skipped("symlink_refused", "shm names are no files here");
        return;
    }
    snprintf(nm, sizeof nm, "test-%ld-sec-link", mp_getpid());
    snprintf(link, sizeof link, "/dev/shm/mp-%s", nm);
    snprintf(target, sizeof target, "%s/link-target", mp_test_tmpdir());
    CU_ASSERT_FATAL(mp_test_write_file(target, "precious") == 0);
    CU_ASSERT_FATAL(symlink(target, link) == 0);
    void *o;
    for (int k = 0; k < NKINDS; k++) {
        int rc = named_make(k, nm, 0, false, false, &o);
        MP_CHECK_RC(rc, MP_EACCES);
        if (rc == 0)
            named_drop(k, o);
    }
    MP_CHECK_RC(named_make(K_QUEUE, nm, 0, false, true, &o), MP_EACCES);
    CU_ASSERT(mp_test_read_file(target, text, sizeof text) == 0 &&
              strcmp(text, "precious") == 0);
    struct stat st;
    CU_ASSERT(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    unlink(link);
    unlink(target);
}

/* As nobody: makes a Value named arg0 and opens it to everyone (0666), and
 * leaves arg1 half-made (unpublished, 0666, nobody holding its guard),
 * says "<rc>" on arg2 and waits there for "bye" before removing both. */
static int t_nobody_names(mp_call *call) {
    const char *pub = mp_arg_str(mp_call_arg(call, 0));
    const char *half = mp_arg_str(mp_call_arg(call, 1));
    mp_conn *to = mp_arg_conn(mp_call_arg(call, 2));
    if (mp_test_become_nobody() != 0)
        return 2;
    mp_value *v = NULL;
    int rc =
        mp_value_new(&v, MP_TYPE_INT, NULL, &(mp_shared_options){.name = pub});
    int fd = raw_open(pub, O_RDWR, 0);
    if (!rc && (fd == -1 || fchmod(fd, 0666) != 0))
        rc = -1000;
    if (fd != -1)
        close(fd);
    fd = raw_open(half, O_RDWR | O_CREAT | O_EXCL, 0666);
    if (!rc && (fd == -1 || fchmod(fd, 0666) != 0))
        rc = -1001;
    if (fd != -1)
        close(fd);
    char msg[16], bye[16];
    snprintf(msg, sizeof msg, "%d", rc);
    if (mp_conn_send(to, msg, strlen(msg)) == 0)
        recv_text(to, bye, sizeof bye, 60000);
    mp_value_free(v);
    raw_unlink(half);
    return rc ? 3 : 0;
}

/* Two users (as root, with a child that becomes nobody): another user's
 * Value, opened to everyone, is not joined by create-or-open, nor by a
 * queue open (MP_EACCES); another user's half-made name is not taken over
 * by a create (MP_EACCES), and stays theirs. */
static void test_foreign_names(void) {
    if (geteuid() != 0) {
        skipped("foreign_names", "needs root to switch to nobody");
        return;
    }
    char pub[80], half[80], msg[16];
    snprintf(pub, sizeof pub, "test-%ld-sec-theirs", mp_getpid());
    snprintf(half, sizeof half, "test-%ld-sec-theirs-half", mp_getpid());
    mp_conn *mine, *theirs;
    MP_CHECK_OK(mp_pipe(&mine, &theirs, true));
    mp_process *p =
        mp_test_start(t_nobody_names,
                      MP_ARGS(mp_str(pub), mp_str(half), mp_conn_arg(theirs)),
                      MP_START_FORK);
    mp_conn_free(theirs);
    recv_text(mine, msg, sizeof msg, 20000);
    CU_ASSERT_STRING_EQUAL(msg, "0");
    void *o;
    int rc = named_make(K_VALUE, pub, 0, false, false, &o);
    MP_CHECK_RC(rc, MP_EACCES);
    if (rc == 0)
        named_drop(K_VALUE, o);
    MP_CHECK_RC(named_make(K_QUEUE, pub, 0, false, true, &o), MP_EACCES);
    rc = named_make(K_VALUE, half, 0, false, false, &o);
    MP_CHECK_RC(rc, MP_EACCES);
    if (rc == 0)
        named_drop(K_VALUE, o);
    MP_CHECK_RC(named_make(K_QUEUE, half, 0, false, true, &o), MP_EACCES);
    struct stat st;
    int fd = raw_open(half, O_RDONLY, 0);
    CU_ASSERT(fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == NOBODY &&
              st.st_size == 0);
    if (fd >= 0)
        close(fd);
    MP_CHECK_OK(mp_conn_send(mine, "bye", 3));
    mp_conn_free(mine);
    CU_ASSERT_EQUAL(mp_test_finish(p, 30000), 0);
}

/* A socket file at path that nobody listens on (what a killed listener
 * leaves). */
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

static bool is_socket(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Holds an exclusive flock on directory arg0, says "held" on arg1, and
 * lets go at "bye" or after 5 s, so that a listener that blocks on the
 * lock fails its bound instead of hanging the run. */
static int t_hold_dir(mp_call *call) {
    mp_conn *to = mp_arg_conn(mp_call_arg(call, 1));
    int fd = open(mp_arg_str(mp_call_arg(call, 0)), O_RDONLY | O_DIRECTORY);
    if (fd == -1 || flock(fd, LOCK_EX) != 0)
        return 2;
    char bye[16];
    if (mp_conn_send(to, "held", 4) == 0)
        recv_text(to, bye, sizeof bye, 5000);
    close(fd);
    return 0;
}

/* How long mp_listener_new may take while its directory is locked: its
 * own bound is 100 ms; this leaves room for a loaded machine and stays far
 * below the 5 s the holder keeps the lock. */
#define LOCKED_NEW_MS 2000

/* Another process holding flock(LOCK_EX) on a listener's directory (any
 * user can, on /tmp) does not block mp_listener_new beyond its bound: a
 * leftover socket there is not taken over (MP_EEXIST, the file left as it
 * was) and a free path is listened on (0). */
static void test_locked_dir_bounded(void) {
    char dir[300], left[340], fresh[340], msg[16];
    snprintf(dir, sizeof dir, "%s/locked", mp_test_tmpdir());
    snprintf(left, sizeof left, "%s/left.sock", dir);
    snprintf(fresh, sizeof fresh, "%s/new.sock", dir);
    CU_ASSERT_FATAL(mkdir(dir, 0700) == 0);
    make_leftover(left);
    mp_conn *mine, *theirs;
    MP_CHECK_OK(mp_pipe(&mine, &theirs, true));
    mp_process *p = mp_test_start(
        t_hold_dir, MP_ARGS(mp_str(dir), mp_conn_arg(theirs)), MP_START_FORK);
    mp_conn_free(theirs);
    recv_text(mine, msg, sizeof msg, 20000);
    CU_ASSERT_STRING_EQUAL(msg, "held");
    mp_listener *l = NULL;
    int64_t t0 = mp_test_now_ms();
    int rc = mp_listener_new(&l, left, NULL);
    int64_t took = mp_test_now_ms() - t0;
    MP_CHECK_RC(rc, MP_EEXIST);
    CU_ASSERT(took < LOCKED_NEW_MS);
    if (rc == 0)
        mp_listener_free(l);
    CU_ASSERT(is_socket(left));
    t0 = mp_test_now_ms();
    rc = mp_listener_new(&l, fresh, NULL);
    took = mp_test_now_ms() - t0;
    MP_CHECK_OK(rc);
    CU_ASSERT(took < LOCKED_NEW_MS);
    if (rc == 0)
        mp_listener_free(l);
    mp_conn_send(mine, "bye", 3);
    mp_conn_free(mine);
    CU_ASSERT_EQUAL(mp_test_finish(p, 30000), 0);
    unlink(left);
    CU_ASSERT(rmdir(dir) == 0);
}

/* As nobody, in directory arg0 (ours): listens at arg0/theirs.sock, holds
 * the directory's flock, says "ready" on arg1 and waits for "go" (5 s at
 * most) before it lets the lock go; at "connect" connects to root's
 * arg0/ours.sock, whose accept must drop us: says "<connect rc> <recv
 * rc>", and waits for "bye". */
static int t_nobody_conns(mp_call *call) {
    const char *dir = mp_arg_str(mp_call_arg(call, 0));
    mp_conn *to = mp_arg_conn(mp_call_arg(call, 1));
    char path[400], msg[64], go[16];
    if (mp_test_become_nobody() != 0)
        return 2;
    mp_listener *l = NULL;
    snprintf(path, sizeof path, "%s/theirs.sock", dir);
    int rc = mp_listener_new(&l, path, NULL);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (rc || fd == -1 || flock(fd, LOCK_EX) != 0)
        return 3;
    if (mp_conn_send(to, "ready", 5) != 0)
        return 4;
    recv_text(to, go, sizeof go, 5000);
    close(fd);
    while (strcmp(go, "connect") != 0) {
        recv_text(to, go, sizeof go, 60000);
        if (!go[0])
            return 5;
    }
    mp_conn *c;
    mp_buf b = {0};
    snprintf(path, sizeof path, "%s/ours.sock", dir);
    int crc = mp_client(&c, path, NULL), rrc = -1;
    if (crc == 0) {
        rrc = mp_conn_recv(c, &b, 20000);
        mp_conn_free(c);
    }
    snprintf(msg, sizeof msg, "%d %d", crc, rrc);
    if (mp_conn_send(to, msg, strlen(msg)) == 0)
        recv_text(to, go, sizeof go, 60000);
    mp_buf_free(&b);
    mp_listener_free(l);
    return 0;
}

/* Two users (as root, with a child that becomes nobody), over socket
 * files: our client refuses another user's listener (MP_EACCES, although
 * root may connect to its 0600 socket); another user's lock on the
 * directory costs our mp_listener_new only its bound (a leftover there is
 * MP_EEXIST); and our listener, its socket opened to everyone, drops the
 * other user's client unanswered (accept never returns it; the client sees
 * the end). */
static void test_foreign_peers(void) {
    if (geteuid() != 0) {
        skipped("foreign_peers", "needs root to switch to nobody");
        return;
    }
    char dir[300], path[340], msg[64];
    snprintf(dir, sizeof dir, "/tmp/mproc-sec-%ld", mp_getpid());
    CU_ASSERT_FATAL(mkdir(dir, 0755) == 0);
    CU_ASSERT(chown(dir, NOBODY, NOBODY) == 0);
    mp_conn *mine, *theirs, *c;
    MP_CHECK_OK(mp_pipe(&mine, &theirs, true));
    mp_process *p = mp_test_start(t_nobody_conns,
                                  MP_ARGS(mp_str(dir), mp_conn_arg(theirs)),
                                  MP_START_FORK);
    mp_conn_free(theirs);
    recv_text(mine, msg, sizeof msg, 20000);
    CU_ASSERT_STRING_EQUAL(msg, "ready");
    snprintf(path, sizeof path, "%s/theirs.sock", dir);
    int rc = mp_client(&c, path, NULL);
    MP_CHECK_RC(rc, MP_EACCES);
    if (rc == 0)
        mp_conn_free(c);
    mp_listener *l = NULL;
    snprintf(path, sizeof path, "%s/left.sock", dir);
    make_leftover(path);
    int64_t t0 = mp_test_now_ms();
    rc = mp_listener_new(&l, path, NULL);
    CU_ASSERT(mp_test_now_ms() - t0 < LOCKED_NEW_MS);
    MP_CHECK_RC(rc, MP_EEXIST);
    if (rc == 0)
        mp_listener_free(l);
    unlink(path);
    MP_CHECK_OK(mp_conn_send(mine, "go", 2));
    snprintf(path, sizeof path, "%s/ours.sock", dir);
    MP_CHECK_OK(mp_listener_new(&l, path, NULL));
    CU_ASSERT(chmod(path, 0666) == 0);
    MP_CHECK_OK(mp_conn_send(mine, "connect", 7));
    /* Accept until the child reports (its own waits are bounded). */
    mp_buf b = {0};
    t0 = mp_test_now_ms();
    while ((rc = mp_conn_recv(mine, &b, 0)) == MP_EAGAIN &&
           mp_test_now_ms() - t0 < 60000) {
        int arc = mp_listener_accept(l, &c, 50);
        MP_CHECK_RC(arc, MP_ETIMEDOUT);
        if (arc == 0)
            mp_conn_free(c);
    }
    MP_CHECK_OK(rc);
    snprintf(msg, sizeof msg, "%.*s", (int)b.len, (const char *)b.data);
    char want[32];
    snprintf(want, sizeof want, "0 %d", MP_ECLOSED);
    CU_ASSERT_STRING_EQUAL(msg, want);
    mp_buf_free(&b);
    MP_CHECK_OK(mp_conn_send(mine, "bye", 3));
    mp_conn_free(mine);
    CU_ASSERT_EQUAL(mp_test_finish(p, 30000), 0);
    mp_listener_free(l);
    CU_ASSERT(rmdir(dir) == 0);
}

#else /* _WIN32 */

/* Creates kernel object `kname` ('m': a mutex, 'f': a 4 KiB mapping) as
 * another user would: owned by SYSTEM, open to everyone. Wine takes the
 * owner as given (Windows would want SeRestorePrivilege for it), which is
 * how a foreign owner is shown with one user. NULL if it cannot be made. */
static HANDLE make_foreign(char kind, const char *kname) {
    wchar_t w[300];
    PSECURITY_DESCRIPTOR sd = NULL;
    MultiByteToWideChar(CP_UTF8, 0, kname, -1, w, 300);
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(
            L"O:SYD:(A;;GA;;;WD)", SDDL_REVISION_1, &sd, NULL))
        return NULL;
    SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
    HANDLE h = kind == 'm' ? CreateMutexW(&sa, FALSE, w)
                           : CreateFileMappingW(INVALID_HANDLE_VALUE, &sa,
                                                PAGE_READWRITE, 0, 4096, w);
    LocalFree(sd);
    return h;
}

/* Whether h's owner is SYSTEM, as make_foreign asked. */
static bool owned_by_system(HANDLE h) {
    PSID owner = NULL, sys = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    bool yes = false;
    if (GetSecurityInfo(h, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION,
                        &owner, NULL, NULL, NULL, &sd) == ERROR_SUCCESS &&
        ConvertStringSidToSidW(L"S-1-5-18", &sys))
        yes = owner && EqualSid(owner, sys);
    LocalFree(sys);
    LocalFree(sd);
    return yes;
}

/* Objects another user made first under our names are never used: a
 * mapping at the name (unpublished, so a create would take it over), the
 * name's creation guard, and a Lock's mutex are each MP_EACCES for create
 * and open. Under Wine the foreign owner is SYSTEM, set at creation
 * (make_foreign); the test checks Wine kept it, and says so if not. */
static void test_foreign_names(void) {
    static const struct {
        char kind;
        const char *suffix; /* after "Local\mproc-<name>" */
        int k;              /* the kind then made under the name */
    } cases[] = {
        {'f', "", K_VALUE}, {'m', "/new", K_VALUE}, {'m', "/mtx", K_LOCK}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char nm[80], kname[300];
        snprintf(nm, sizeof nm, "test-%ld-sec-theirs-%u", mp_getpid(),
                 (unsigned)i);
        snprintf(kname, sizeof kname, "Local\\mproc-%s%s", nm,
                 cases[i].suffix);
        HANDLE h = make_foreign(cases[i].kind, kname);
        CU_ASSERT_PTR_NOT_NULL(h);
        if (!h)
            continue;
        if (!owned_by_system(h)) {
            skipped("foreign_names", "this system did not set the owner");
            CloseHandle(h);
            return;
        }
        void *o;
        int rc = named_make(cases[i].k, nm, 0, false, false, &o);
        MP_CHECK_RC(rc, MP_EACCES);
        if (rc == 0)
            named_drop(cases[i].k, o);
        if (i == 0)
            MP_CHECK_RC(named_make(K_QUEUE, nm, 0, false, true, &o),
                        MP_EACCES);
        CloseHandle(h);
    }
}

/* Serves one client: "hello" in, "hi" out. */
static int t_pipe_client(mp_call *call) {
    mp_conn *c;
    mp_buf b = {0};
    int rc = mp_client(&c, mp_arg_str(mp_call_arg(call, 0)),
                       &(mp_conn_options){.timeout_ms = 20000});
    if (rc)
        return 100 - rc;
    rc = mp_conn_send(c, "hello", 5);
    if (!rc)
        rc = mp_conn_recv(c, &b, 20000);
    int ok = rc == 0 && b.len == 2 && memcmp(b.data, "hi", 2) == 0;
    mp_buf_free(&b);
    mp_conn_free(c);
    return ok ? 0 : 1;
}

/* The pipe peer checks (the client asks for the server's process and its
 * user, accept for the client's) admit our own user across processes.
 * They fail closed (a process or token they cannot read is another
 * user's), so a check that did not work would refuse this child. Wine runs
 * every process as one user: a server or client of another user cannot be
 * shown here. */
static void test_pipe_peer_same_user(void) {
    mp_listener *l;
    mp_conn *c = NULL;
    mp_buf b = {0};
    MP_CHECK_OK(mp_listener_new(&l, NULL, NULL));
    mp_process *p =
        mp_test_start(t_pipe_client, MP_ARGS(mp_str(mp_listener_address(l))),
                      MP_START_DEFAULT);
    MP_CHECK_OK(mp_listener_accept(l, &c, 20000));
    if (c) {
        MP_CHECK_OK(mp_conn_recv(c, &b, 20000));
        MP_CHECK_OK(mp_conn_send(c, "hi", 2));
        mp_conn_free(c);
    }
    mp_buf_free(&b);
    CU_ASSERT_EQUAL(mp_test_finish(p, 30000), 0);
    mp_listener_free(l);
}

#endif

#ifndef _WIN32
#define PLATFORM_CASES                                                        \
    {"group_bits_refused", test_group_bits_refused, MP_TEST_ONCE},            \
        {"half_made_bits_refused", test_half_made_bits_refused,               \
         MP_TEST_ONCE},                                                       \
        {"symlink_refused", test_symlink_refused, MP_TEST_ONCE},              \
        {"locked_dir_bounded", test_locked_dir_bounded, MP_TEST_ONCE},        \
        {"foreign_peers", test_foreign_peers, MP_TEST_ONCE},
#else
#define PLATFORM_CASES                                                        \
    {"pipe_peer_same_user", test_pipe_peer_same_user, MP_TEST_ONCE},
#endif

void mp_test_suite_security(void) {
    const mp_test_runs once = MP_TEST_ONCE;
    MP_TEST_SUITE("security",
                  PLATFORM_CASES{"foreign_names", test_foreign_names, once});
}
