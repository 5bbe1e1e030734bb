#ifndef _WIN32
#define _DEFAULT_SOURCE
#endif
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#include <direct.h>
#include <io.h>
#else
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#endif

#include "testutil.h"

#ifdef MP_STATIC
#include "obj/shobj.h"
#endif
#ifndef _WIN32
#include <errno.h>
#include <grp.h>
#include <signal.h>
#endif

const char *mp_test_argv0;

#ifdef _WIN32
const mp_start_method mp_test_methods[] = {MP_START_SPAWN};
#else
const mp_start_method mp_test_methods[] = {MP_START_FORK, MP_START_SPAWN};
#endif
const int mp_test_nmethods =
    (int)(sizeof mp_test_methods / sizeof mp_test_methods[0]);

static const char *method_name(mp_start_method m) {
    return m == MP_START_FORK ? "fork" : m == MP_START_SPAWN ? "spawn" : "?";
}

static const char *selected; /* mp_test_select's test, NULL for all */

void mp_test_select(const char *test) { selected = test; }

/* Whether the test `base` (named `full` when run per method) is selected. */
static bool is_selected(const char *base, const char *full) {
    return !selected || strcmp(selected, base) == 0 ||
           strcmp(selected, full) == 0;
}

void mp_test_register(const char *suite, const mp_test_case *cases, size_t n) {
    CU_pSuite s = NULL;
    for (size_t i = 0; i < n; i++) {
        int runs = cases[i].runs == MP_TEST_PER_METHOD ? mp_test_nmethods : 1;
        for (int m = 0; m < runs; m++) {
            char name[128];
            if (cases[i].runs == MP_TEST_PER_METHOD)
                snprintf(name, sizeof name, "%s/%s", cases[i].name,
                         method_name(mp_test_methods[m]));
            else
                snprintf(name, sizeof name, "%s", cases[i].name);
            if (!is_selected(cases[i].name, name))
                continue;
            if (!s && !(s = CU_add_suite(suite, NULL, NULL)))
                return;
            CU_add_test(s, name, cases[i].fn);
        }
    }
}

mp_start_method mp_test_method(void) {
    CU_pTest t = CU_get_current_test();
    const char *slash = t ? strrchr(t->pName, '/') : NULL;
    for (int m = 0; slash && m < mp_test_nmethods; m++)
        if (strcmp(slash + 1, method_name(mp_test_methods[m])) == 0)
            return mp_test_methods[m];
    fprintf(stderr, "mp_test_method: test %s is not run per start method\n",
            t ? t->pName : "(none)");
    abort();
}

mp_pool *mp_test_pool(int n, mp_start_method m) {
    mp_pool *p = NULL;
    mp_pool_options o = {.processes = n, .start_method = m};
    MP_CHECK_OK(mp_pool_new(&p, &o));
    return p;
}

mp_event *mp_test_gate;

static int init_gate(mp_call *c) {
    mp_test_gate = mp_arg_obj(mp_call_arg(c, 0), MP_OBJ_EVENT);
    return mp_test_gate ? 0 : 1;
}

mp_pool *mp_test_gated_pool(int n, mp_start_method m, mp_event **ev) {
    *ev = NULL;
    MP_CHECK_OK(mp_event_new(ev, NULL));
    mp_pool *p = NULL;
    mp_pool_options o = {.processes = n,
                         .start_method = m,
                         .initializer = init_gate,
                         .initargs = MP_ARGS(mp_event_arg(*ev))};
    MP_CHECK_OK(mp_pool_new(&p, &o));
    return p;
}

void mp_test_pool_finish(mp_pool *p) {
    MP_CHECK_OK(mp_pool_close(p));
    MP_CHECK_OK(mp_pool_join(p, 60000));
    mp_pool_free(p);
}

mp_process *mp_test_start(mp_target fn, mp_args args, mp_start_method m) {
    mp_process *p = NULL;
    mp_process_options o = {.start_method = m};
    MP_CHECK_OK(mp_process_new(&p, fn, args, &o));
    int rc = p ? mp_process_start(p) : 0;
    if (rc) {
        fprintf(stderr, "mp_process_start: %s (OS error %ld)\n",
                mp_err_name(rc), mp_os_error());
        CU_FAIL("mp_process_start");
        mp_process_free(p);
        p = NULL;
    }
    return p;
}

int mp_test_finish(mp_process *p, long timeout_ms) {
    int code = -1000;
    if (!p)
        return code;
    MP_CHECK_OK(mp_process_join(p, timeout_ms));
    MP_CHECK_OK(mp_process_exitcode(p, &code));
    mp_process_free(p);
    return code;
}

static int t_warm(mp_call *c) {
    (void)c;
    return 0;
}

void mp_test_warm_up(void) {
    static bool done;
    if (done)
        return;
    done = true;
    mp_queue *q = NULL;
    mp_array *a = NULL;
    MP_CHECK_OK(mp_queue_new(&q, 0, NULL));
    MP_CHECK_OK(mp_array_new(&a, MP_TYPE_LONGLONG, 4, NULL, NULL));
    for (int m = 0; m < mp_test_nmethods; m++) {
        mp_process *p =
            mp_test_start(t_warm, MP_ARGS(mp_queue_arg(q), mp_array_arg(a)),
                          mp_test_methods[m]);
        CU_ASSERT_EQUAL(mp_test_finish(p, MP_TEST_CHILD_TIMEOUT_MS), 0);
        mp_pool_free(mp_test_pool(1, mp_test_methods[m]));
    }
    mp_array_free(a);
    mp_queue_free(q);
}

void mp_test_kill(mp_process *p) {
    if (!p)
        return;
    MP_CHECK_OK(mp_process_kill(p));
    MP_CHECK_OK(mp_process_join(p, 30000));
    mp_process_free(p);
}

int64_t mp_test_now_ms(void) {
#ifdef _WIN32
    /* The performance counter, as the library's deadlines read it:
     * GetTickCount64 moves in 15.6 ms steps on Windows, more than the
     * slack of the timing checks (Wine hides it, its ticks are 1 ms). */
    static LARGE_INTEGER freq;
    LARGE_INTEGER c;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&c);
    return (int64_t)(c.QuadPart / freq.QuadPart * 1000 +
                     c.QuadPart % freq.QuadPart * 1000 / freq.QuadPart);
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#endif
}

void mp_test_sleep_ms(long ms) {
#ifdef _WIN32
    Sleep((DWORD)ms);
#else
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
#endif
}

#ifdef _WIN32
/* One entry of NtQuerySystemInformation(SystemHandleInformation). */
typedef struct sys_handle {
    ULONG pid;
    BYTE type, flags;
    USHORT value;
    PVOID object;
    ACCESS_MASK access;
} sys_handle;
typedef LONG(WINAPI *query_system_fn)(ULONG, PVOID, ULONG, PULONG);

#endif

int mp_test_shm_entries(void) {
#ifdef _WIN32
    return 0;
#else
    /* Only this run's names ("...test-<pid>..."): suites run in parallel,
     * and another suite's live objects are none of this one's business. */
    char mine[32];
    snprintf(mine, sizeof mine, "test-%ld", mp_getpid());
    DIR *d = opendir("/dev/shm");
    int n = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strncmp(e->d_name, "mp-", 3) == 0 && strstr(e->d_name, mine);
    closedir(d);
    return n;
#endif
}

/* ---- which descriptors or handles are open ---- */

enum { FDSET_MAX = 8192 };

struct mp_test_fdset {
    int n;
    unsigned long v[FDSET_MAX]; /* ascending */
};

#ifdef _WIN32
typedef LONG(WINAPI *query_object_fn)(HANDLE, ULONG, PVOID, ULONG, PULONG);

/* Our handles' values, from the system handle table (Wine has no per-process
 * enumeration either). */
static int take_handles(mp_test_fdset *s) {
    query_system_fn q = (query_system_fn)(void (*)(void))GetProcAddress(
        GetModuleHandleW(L"ntdll.dll"), "NtQuerySystemInformation");
    if (!q)
        return -1;
    for (ULONG cap = 1 << 16; cap < (1u << 28); cap *= 2) {
        ULONG *b = malloc(cap), need = 0;
        if (!b)
            return -1;
        LONG st = q(16 /* SystemHandleInformation */, b, cap, &need);
        if (st == 0) {
            const sys_handle *e = (const sys_handle *)(b + 2);
            for (ULONG i = 0; i < b[0] && s->n < FDSET_MAX; i++)
                if (e[i].pid == GetCurrentProcessId())
                    s->v[s->n++] = e[i].value;
            free(b);
            return 0;
        }
        free(b);
        if (st != (LONG)0xC0000004) /* STATUS_INFO_LENGTH_MISMATCH */
            return -1;
    }
    return -1;
}

/* Prints a handle's kind (ObjectTypeInformation); names are not asked for,
 * since asking a pipe's name may block. */
static void describe(unsigned long v) {
    query_object_fn q = (query_object_fn)(void (*)(void))GetProcAddress(
        GetModuleHandleW(L"ntdll.dll"), "NtQueryObject");
    union {
        struct { /* UNICODE_STRING, which windows.h does not declare */
            USHORT Length, MaximumLength;
            PWSTR Buffer;
        } s;
        char raw[1024];
    } info;
    ULONG got = 0;
    if (q && q((HANDLE)(uintptr_t)v, 2, &info, sizeof info, &got) == 0)
        fprintf(stderr, "%.*ls", (int)(info.s.Length / sizeof(WCHAR)),
                info.s.Buffer);
    else
        fprintf(stderr, "?");
}
#else
static int take_handles(mp_test_fdset *s) {
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) && s->n < FDSET_MAX)
        if (e->d_name[0] != '.' && atoi(e->d_name) != self)
            s->v[s->n++] = strtoul(e->d_name, NULL, 10);
    closedir(d);
    return 0;
}

static void describe(unsigned long v) {
    char path[64], target[256];
    snprintf(path, sizeof path, "/proc/self/fd/%lu", v);
    ssize_t n = readlink(path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    fprintf(stderr, "%s", n > 0 ? target : "?");
}
#endif

int mp_test_count_fds(void) {
#ifdef _WIN32
    DWORD got = 0; /* Wine's GetProcessHandleCount reports 0 */
    if (GetProcessHandleCount(GetCurrentProcess(), &got) && got > 0)
        return (int)got;
#endif
    mp_test_fdset *s = calloc(1, sizeof *s);
    int n = s && take_handles(s) == 0 ? s->n : -1;
    free(s);
    return n;
}

static int cmp_ulong(const void *a, const void *b) {
    unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
    return (x > y) - (x < y);
}

mp_test_fdset *mp_test_fds_take(void) {
    mp_test_fdset *s = calloc(1, sizeof *s);
    if (s && take_handles(s) == 0)
        qsort(s->v, (size_t)s->n, sizeof s->v[0], cmp_ulong);
    return s;
}

static bool fdset_has(const mp_test_fdset *s, unsigned long v) {
    return bsearch(&v, s->v, (size_t)s->n, sizeof v, cmp_ulong) != NULL;
}

int mp_test_fds_check(mp_test_fdset *before) {
    mp_test_fdset *now = mp_test_fds_take();
    if (!before || !now) {
        free(before);
        free(now);
        return -1000000; /* fails any comparison with 0 */
    }
    int diff = now->n - before->n;
    for (int i = 0; i < now->n; i++)
        if (!fdset_has(before, now->v[i])) {
            fprintf(stderr, "  opened since: %lu (", now->v[i]);
            describe(now->v[i]);
            fprintf(stderr, ")\n");
        }
    for (int i = 0; i < before->n; i++)
        if (!fdset_has(now, before->v[i]))
            fprintf(stderr, "  closed since: %lu\n", before->v[i]);
    free(before);
    free(now);
    return diff;
}

int mp_test_pid_alive(long pid) {
#ifdef _WIN32
    HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)pid);
    if (!h)
        return 0;
    DWORD w = WaitForSingleObject(h, 0);
    CloseHandle(h);
    return w == WAIT_TIMEOUT;
#else
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
#endif
}

static char dir[512];

int mp_test_tmpdir_remove(void) {
    if (!dir[0])
        return 0;
#ifdef _WIN32
    int rc = RemoveDirectoryA(dir) ? 0 : -1;
#else
    int rc = rmdir(dir);
#endif
    if (rc)
        fprintf(stderr,
                "test directory %s is not empty: a test leaked a file\n", dir);
    dir[0] = '\0';
    return rc;
}

const char *mp_test_tmpdir(void) {
    if (dir[0])
        return dir;
#ifdef _WIN32
    char base[MAX_PATH];
    GetTempPathA(sizeof base, base);
    snprintf(dir, sizeof dir, "%smproc-test-%lu", base,
             (unsigned long)GetCurrentProcessId());
    _mkdir(dir);
#else
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mproc-test-XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(dir))
        dir[0] = '\0';
#endif
    return dir;
}

#ifndef _WIN32
int mp_test_become_nobody(void) {
    if (setgroups(0, NULL) != 0 || setgid(MP_TEST_NOBODY) != 0 ||
        setuid(MP_TEST_NOBODY) != 0) {
        fprintf(stderr, "cannot become nobody: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}
#endif

FILE *mp_test_fopen(const char *path, const char *mode) {
#ifdef _MSC_VER
    FILE *f = NULL;
    return fopen_s(&f, path, mode) == 0 ? f : NULL;
#else
    return fopen(path, mode);
#endif
}

int mp_test_write_file(const char *path, const char *text) {
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = mp_test_fopen(tmp, "w");
    if (!f)
        return -1;
    fputs(text, f);
    if (fclose(f) != 0)
        return -1;
#ifdef _WIN32
    return MoveFileExA(tmp, path, MOVEFILE_REPLACE_EXISTING) ? 0 : -1;
#else
    return rename(tmp, path);
#endif
}

int mp_test_read_file(const char *path, char *buf, size_t cap) {
    FILE *f = mp_test_fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return 0;
}

int mp_test_wait_file(const char *path, long timeout_ms) {
    int64_t end = mp_test_now_ms() + timeout_ms;
    for (;;) {
        FILE *f = mp_test_fopen(path, "r");
        if (f) {
            fclose(f);
            return 0;
        }
        if (mp_test_now_ms() >= end)
            return -1;
        mp_test_sleep_ms(5);
    }
}

#ifdef MP_STATIC
/* The holder's side: take the mutex, say so, wait to be let go (bounded),
 * let go. */
static int t_hold(mp_call *c) {
    void *obj = mp_arg_obj(mp_call_arg(c, 0),
                           (mp_obj_kind)mp_arg_int(mp_call_arg(c, 1)));
    unsigned prim = (unsigned)mp_arg_int(mp_call_arg(c, 2));
    mp_event *held = mp_arg_event(mp_call_arg(c, 3));
    mp_event *release = mp_arg_event(mp_call_arg(c, 4));
    if (!obj || !held || !release)
        return 2;
    mp__os_mutex *m = &mp__shobj_prim(obj, prim)->mx;
    int rc = mp__os_mutex_lock(m, MP__DL_FOREVER);
    if (rc && rc != MP_EOWNERDEAD)
        return 3;
    rc = mp_event_set(held) || mp_event_wait(release, 60000) ? 4 : 0;
    mp__os_mutex_unlock(m);
    return rc;
}

void mp_test_holder_start(mp_test_holder *h, mp_arg obj, mp_obj_kind kind,
                          unsigned prim) {
    memset(h, 0, sizeof *h);
    MP_CHECK_OK(mp_event_new(&h->held, NULL));
    MP_CHECK_OK(mp_event_new(&h->release, NULL));
    h->p =
        mp_test_start(t_hold,
                      MP_ARGS(obj, mp_int(kind), mp_int(prim),
                              mp_event_arg(h->held), mp_event_arg(h->release)),
                      MP_START_DEFAULT);
    if (h->p && mp_event_wait(h->held, 30000) != 0) {
        CU_FAIL("the holder did not take the mutex");
        mp_test_kill(h->p);
        h->p = NULL;
    }
#ifndef _WIN32
    if (h->p)
        CU_ASSERT_EQUAL(kill((pid_t)mp_process_pid(h->p), SIGSTOP), 0);
#endif
}

void mp_test_holder_end(mp_test_holder *h) {
    if (h->p) {
#ifndef _WIN32
        kill((pid_t)mp_process_pid(h->p), SIGCONT);
#endif
        MP_CHECK_OK(mp_event_set(h->release));
        CU_ASSERT_EQUAL(mp_test_finish(h->p, 30000), 0);
    }
    mp_event_free(h->held);
    mp_event_free(h->release);
    memset(h, 0, sizeof *h);
}
#endif
