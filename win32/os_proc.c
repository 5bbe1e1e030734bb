/* win32 backend: processes (CreateProcessW with an explicit handle list,
 * a kill-on-close job object for daemonic children) and locating a function
 * in another run of the same program (module + offset, PE identity). */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os/os_base.h"
#include "os/os_proc.h"
#include "os_win32.h"

/* Exit codes TerminateProcess gives for terminate and kill, reported back
 * as MP__OS_EXIT_TERMINATED and MP__OS_EXIT_KILLED. "MP" in the high bytes
 * keeps them apart from the codes a target returns in practice. */
#define TERM_CODE 0x4D50000Fu
#define KILL_CODE 0x4D500009u

/* The exit code of a console process ended by Ctrl-C (or Ctrl-Break, or
 * its console closing), STATUS_CONTROL_C_EXIT: reported as POSIX reports
 * SIGINT, -2 (process.h promises it). */
#define CTRL_C_CODE 0xC000013Au
#define CTRL_C_EXIT (-2)

bool mp__os_can_fork(void) { return false; }

int mp__os_fork(mp__os_proc *out, bool daemon, bool *is_child) {
    (void)out;
    (void)daemon;
    *is_child = false;
    return MP_ENOTSUP;
}

/* In a daemonic child the parent could not put in its job (see
 * join_daemon_job): our copy of the parent's process handle, which
 * mp__os_handle_recv read in front of the first record; else NULL. */
static HANDLE watched_parent;

static DWORD WINAPI watch_parent(void *arg) {
    WaitForSingleObject(arg, INFINITE);
    /* At once, as the job's close would: no exit handlers, no flush. */
    TerminateProcess(GetCurrentProcess(), KILL_CODE);
    return 0;
}

/* Windows binds a daemonic child to us through the job object (see
 * daemon_job), with no window in which the parent's death goes unnoticed:
 * nothing to do here. When the parent could not (its own job forbids it),
 * a thread of ours ends us when the parent's process handle, duplicated
 * into us before we ran (so not a pid that could be reused), is signalled;
 * the parent's death before now is seen at once. */
int mp__os_child_bind_parent(long ppid) {
    (void)ppid;
    if (!watched_parent)
        return 0;
    HANDLE t = CreateThread(NULL, 64 * 1024, watch_parent, watched_parent,
                            STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
    if (!t)
        return mp__win32_err(GetLastError());
    CloseHandle(t);
    return 0;
}

/* ---- handles as arguments ---- */

/* Negative values are pseudo-handles (the current process or thread), which
 * name another object in the child. */
int mp__os_handle_check(mp__handle h) {
    DWORD flags;
    return h > 0 && GetHandleInformation((HANDLE)h, &flags) ? 0 : MP_EINVAL;
}

void mp__os_handle_adopt(mp__handle h) {
    SetHandleInformation((HANDLE)h, HANDLE_FLAG_INHERIT, 0);
}

/* How one handle crossed into a spawned child, as mp__os_spawn writes it
 * in req->sent: inherited (named on the command line); duplicated into the
 * suspended child (then its value there, u64); a socket (then the
 * WSAPROTOCOL_INFOW it is made from). SENT_WATCH, in front of the first
 * record only: a daemonic child outside the parent's job, then its value
 * of the parent's process handle (u64). */
enum sent_how {
    SENT_INHERITED = 0,
    SENT_SOCKET = 1,
    SENT_DUPLICATED = 2,
    SENT_WATCH = 0x80
};

/* A handle value the parent duplicated into us: open, or MP_EPROTO. */
static int read_value(mp__rbuf *r, HANDLE *h) {
    uint64_t v;
    DWORD flags;
    int rc = mp__r_u64(r, &v);
    if (rc)
        return rc;
    if (!v || v > UINTPTR_MAX || !GetHandleInformation((HANDLE)v, &flags))
        return MP_EPROTO;
    *h = (HANDLE)(uintptr_t)v;
    return 0;
}

/* Whether h is a socket, which crosses by WSADuplicateSocketW rather than
 * by inheritance. A process that never started Winsock has none (and the
 * call fails). */
static bool is_socket(HANDLE h) {
    int type, len = (int)sizeof type;
    return getsockopt((SOCKET)h, SOL_SOCKET, SO_TYPE, (char *)&type, &len) ==
           0;
}

/* What mp__os_spawn sent for one handle (enum sent_how). Winsock stays
 * started for the child's life: the socket is the target's. */
int mp__os_handle_recv(mp__handle *h, mp__rbuf *r) {
    uint8_t sent;
    const void *p;
    size_t n;
    HANDLE v;
    WSAPROTOCOL_INFOW info;
    WSADATA wd;
    int rc = mp__r_u8(r, &sent);
    if (!rc && sent == SENT_WATCH) {
        if (watched_parent || (rc = read_value(r, &watched_parent)))
            return rc ? rc : MP_EPROTO;
        rc = mp__r_u8(r, &sent);
    }
    if (rc || sent == SENT_INHERITED)
        return rc;
    if (sent == SENT_DUPLICATED) {
        if ((rc = read_value(r, &v)))
            return rc;
        *h = (mp__handle)v;
        return 0;
    }
    if ((rc = mp__r_blob(r, &p, &n, sizeof info)))
        return rc;
    if (sent != SENT_SOCKET || n != sizeof info)
        return MP_EPROTO;
    memcpy(&info, p, sizeof info);
    if (WSAStartup(MAKEWORD(2, 2), &wd) != 0)
        return MP_ESYS;
    SOCKET s = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                          FROM_PROTOCOL_INFO, &info, 0, WSA_FLAG_OVERLAPPED);
    if (s == INVALID_SOCKET)
        return mp__win32_err((unsigned long)WSAGetLastError());
    *h = (mp__handle)s;
    return 0;
}

/* ---- spawn ---- */

/* The job holding our daemonic children. It is never inheritable, so when
 * this process ends, however it ends, the last handle closes and
 * KILL_ON_JOB_CLOSE takes the children with it. */
static BOOL CALLBACK make_job(PINIT_ONCE once, PVOID arg, PVOID *ctx) {
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
    (void)once;
    (void)arg;
    HANDLE job = CreateJobObjectW(NULL, NULL);
    if (!job)
        return FALSE;
    memset(&li, 0, sizeof li);
    /* An unhandled exception ends the process at once, without the
     * debugger or report dialog a crashed child would otherwise wait in. */
    li.BasicLimitInformation.LimitFlags =
        JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE |
        JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
    if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation, &li,
                                 sizeof li)) {
        CloseHandle(job);
        return FALSE;
    }
    *ctx = job;
    return TRUE;
}

/* The variable that makes every daemon job assignment fail, as a parent in
 * a job that forbids nesting sees it (pre-Windows 8, or a job without
 * JOB_OBJECT_LIMIT_BREAKAWAY_OK on a CI runner or a service): no test
 * machine here is one, and Wine nests jobs freely, so the tests force the
 * fallback with it. Setting it weakens nothing a user relies on: the
 * fallback keeps the promise process.h makes. */
#define NO_JOB_ENV "MPROC_TEST_NO_DAEMON_JOB"

static HANDLE daemon_job(void) {
    static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
    PVOID job = NULL;
    if (!InitOnceExecuteOnce(&once, make_job, NULL, &job))
        return NULL;
    return job;
}

/* The 8.3 form of the `\\?\` path w, when the volume keeps one and it is
 * shorter than MAX_PATH without its prefix; else NULL. */
static wchar_t *short_form(const wchar_t *w) {
    DWORD k = GetShortPathNameW(w, NULL, 0);
    wchar_t *sh = k > 4 && k - 5 < MAX_PATH ? malloc(k * sizeof *sh) : NULL;
    if (sh && GetShortPathNameW(w, sh, k) + 1 != k) {
        free(sh);
        sh = NULL;
    }
    return sh;
}

/* A path CreateProcessW accepts at any length: one of MAX_PATH or more
 * becomes absolute and takes the `\\?\` form (`\\?\UNC\` for a share),
 * which lifts the limit of the file APIs. CreateProcessW itself may still
 * refuse it (Wine refuses anything past MAX_PATH, with ERROR_INVALID_NAME),
 * so the 8.3 form is taken instead where there is one (still prefixed:
 * Wine starts a program by a short path only in that form). Takes w (freed
 * or returned). */
static wchar_t *long_form(wchar_t *w, int *rc) {
    *rc = 0;
    if (wcslen(w) < MAX_PATH)
        return w;
    wchar_t *out = w;
    if (wcsncmp(w, L"\\\\?\\", 4) != 0) {
        DWORD n = GetFullPathNameW(w, 0, NULL, NULL);
        if (!n || !(out = malloc((n + 8) * sizeof *out)) ||
            GetFullPathNameW(w, n, out + 8, NULL) + 1 != n) {
            *rc = !n    ? mp__win32_err(GetLastError())
                  : out ? MP_ESYS
                        : MP_ENOMEM;
            *rc = *rc ? *rc : MP_ESYS;
            free(out);
            free(w);
            return NULL;
        }
        free(w);
        bool unc = out[8] == L'\\' && out[9] == L'\\';
        /* "\\?\" + "C:\..." or "\\?\UNC\" + "server\share\...". */
        const wchar_t *prefix = unc ? L"\\\\?\\UNC" : L"\\\\?\\";
        size_t pl = wcslen(prefix), skip = unc ? 1 : 0;
        memmove(out + pl, out + 8 + skip, (n - skip) * sizeof *out);
        memcpy(out, prefix, pl * sizeof *out);
    }
    wchar_t *sh = short_form(out);
    if (!sh)
        return out;
    free(out);
    return sh;
}

/* w with its 8.3 components spelled out, when it has any and exists:
 * Wine starts a program by its short path only in the `\\?\` form, so a
 * short path (which a child started by one gets from GetModuleFileNameW)
 * goes the way of a long one. Takes w (freed or returned). */
static wchar_t *full_names(wchar_t *w) {
    DWORD k = GetLongPathNameW(w, NULL, 0);
    wchar_t *l = k ? malloc(k * sizeof *l) : NULL;
    if (!l || GetLongPathNameW(w, l, k) + 1 != k) {
        free(l);
        return w;
    }
    free(w);
    return l;
}

/* The program to run, as UTF-16: exe (UTF-8), else this very program. */
static wchar_t *exe_path(const char *exe, int *rc) {
    if (exe) {
        wchar_t *w = mp__win32_wide(exe, rc);
        return w ? long_form(full_names(w), rc) : NULL;
    }
    for (DWORD cap = MAX_PATH;; cap *= 2) {
        wchar_t *w = malloc(cap * sizeof *w);
        if (!w) {
            *rc = MP_ENOMEM;
            return NULL;
        }
        DWORD n = GetModuleFileNameW(NULL, w, cap);
        if (n == 0) {
            *rc = mp__win32_err(GetLastError());
            free(w);
            return NULL;
        }
        if (n < cap) {
            *rc = 0;
            return long_form(full_names(w), rc);
        }
        free(w);
        if (cap >= 32768) {
            *rc = MP_EOVERFLOW;
            return NULL;
        }
    }
}

/* `"<exe>" --mproc-spawn v0,v1,...` with the child's handle values. A
 * Windows path holds no '"', so plain quoting is exact. */
static wchar_t *command_line(const wchar_t *exe, const HANDLE *hs, size_t n) {
    size_t cap = wcslen(exe) + sizeof MP__SPAWN_FLAG + 8 + n * 21;
    wchar_t *s = malloc(cap * sizeof *s);
    if (!s)
        return NULL;
    int at = swprintf(s, cap, L"\"%ls\" %hs ", exe, MP__SPAWN_FLAG);
    for (size_t i = 0; at > 0 && i < n; i++)
        at += swprintf(s + at, cap - (size_t)at, i ? L",%llu" : L"%llu",
                       (unsigned long long)(uintptr_t)hs[i]);
    if (at <= 0) {
        free(s);
        return NULL;
    }
    return s;
}

/* What one CreateProcessW call needs, freed by spawn_free. */
struct spawn_ctx {
    HANDLE *inh; /* inheritable duplicates: the bootstrap handles, then
                    stdin, stdout, stderr */
    size_t ninh;
    HANDLE *vals;  /* the child's value of each requested handle (inside
                      inh), NULL for one that is sent */
    HANDLE std[3]; /* the child's standard handles (inside inh, or NULL) */
    LPPROC_THREAD_ATTRIBUTE_LIST attrs;
    wchar_t *exe, *cmd;
};

static void spawn_free(struct spawn_ctx *c) {
    for (size_t i = 0; i < c->ninh; i++)
        CloseHandle(c->inh[i]);
    if (c->attrs)
        DeleteProcThreadAttributeList(c->attrs);
    free(c->attrs);
    free(c->inh);
    free(c->vals);
    free(c->exe);
    free(c->cmd);
}

static int dup_inheritable(struct spawn_ctx *c, HANDLE h) {
    HANDLE self = GetCurrentProcess(), d;
    if (!DuplicateHandle(self, h, self, &d, 0, TRUE, DUPLICATE_SAME_ACCESS))
        return mp__win32_err(GetLastError());
    c->inh[c->ninh++] = d;
    return 0;
}

/* The child's stdin is the null device; stdout and stderr are ours, when we
 * have them (a GUI program has none, and then neither does the child). */
static int std_handles(struct spawn_ctx *c) {
    mp__handle nul;
    int rc = mp__os_open_null(&nul);
    if (rc)
        return rc;
    rc = dup_inheritable(c, (HANDLE)nul);
    CloseHandle((HANDLE)nul);
    if (rc)
        return rc;
    c->std[0] = c->inh[c->ninh - 1];
    static const DWORD which[2] = {STD_OUTPUT_HANDLE, STD_ERROR_HANDLE};
    for (int i = 0; i < 2; i++) {
        HANDLE h = GetStdHandle(which[i]);
        if (h && h != INVALID_HANDLE_VALUE && dup_inheritable(c, h) == 0)
            c->std[1 + i] = c->inh[c->ninh - 1];
    }
    return 0;
}

/* The attribute list that restricts inheritance to c->inh exactly. */
static int handle_list(struct spawn_ctx *c) {
    SIZE_T size = 0;
    InitializeProcThreadAttributeList(NULL, 1, 0, &size);
    if (!(c->attrs = malloc(size)))
        return MP_ENOMEM;
    if (!InitializeProcThreadAttributeList(c->attrs, 1, 0, &size)) {
        free(c->attrs);
        c->attrs = NULL;
        return mp__win32_err(GetLastError());
    }
    if (!UpdateProcThreadAttribute(c->attrs, 0,
                                   PROC_THREAD_ATTRIBUTE_HANDLE_LIST, c->inh,
                                   c->ninh * sizeof(HANDLE), NULL, NULL))
        return mp__win32_err(GetLastError());
    return 0;
}

static int spawn_prepare(const mp__spawn_req *req, struct spawn_ctx *c) {
    int rc = 0;
    if (!(c->inh = calloc(req->nhandles + 3, sizeof(HANDLE))) ||
        !(c->vals = calloc(req->nhandles + 1, sizeof(HANDLE))))
        return MP_ENOMEM;
    /* Only the bootstrap handles are ever inheritable here, and only until
     * CreateProcessW returns; the others are duplicated into the child. */
    for (size_t i = 0; !rc && i < req->nboot && i < req->nhandles; i++) {
        if (is_socket((HANDLE)req->handles[i]))
            continue;
        if (!(rc = dup_inheritable(c, (HANDLE)req->handles[i])))
            c->vals[i] = c->inh[c->ninh - 1];
    }
    if (!rc)
        rc = std_handles(c);
    if (!rc)
        rc = handle_list(c);
    if (!rc && !(c->exe = exe_path(req->exe, &rc)))
        return rc;
    if (!rc && !(c->cmd = command_line(c->exe, c->vals, req->nhandles)))
        rc = MP_ENOMEM;
    return rc;
}

/* Puts a suspended daemonic child into the daemon job: it never executes
 * a single instruction outside it. When that cannot be (our own job
 * forbids a nested one: ERROR_ACCESS_DENIED before Windows 8, or no
 * breakaway allowed), the child runs all the same and watches our process
 * handle instead (mp__os_child_bind_parent): false then. */
static bool join_daemon_job(HANDLE proc) {
    /* Not getenv: MSVC flags it (C4996), and the variable may have been
     * set with SetEnvironmentVariable, which the CRT's copy misses. */
    bool forced = GetEnvironmentVariableA(NO_JOB_ENV, NULL, 0) != 0;
    HANDLE job = forced ? NULL : daemon_job();
    return job && AssignProcessToJobObject(job, proc);
}

/* A daemonic child outside our job gets our process handle (synchronize
 * only) duplicated into it, announced in front of the first record. */
static int send_watch(const mp__spawn_req *req, HANDLE child) {
    HANDLE v;
    if (!DuplicateHandle(GetCurrentProcess(), GetCurrentProcess(), child, &v,
                         SYNCHRONIZE, FALSE, 0))
        return mp__win32_err(GetLastError());
    mp__w_u8(req->sent, SENT_WATCH);
    mp__w_u64(req->sent, (uint64_t)(uintptr_t)v);
    return 0;
}

/* Makes the suspended child's copy of every requested handle it did not
 * inherit and writes one record per requested handle (enum sent_how). A
 * handle duplicated into the child was never inheritable here, so no
 * program another thread starts meanwhile can get it. */
static int send_handles(const mp__spawn_req *req, const struct spawn_ctx *c,
                        const PROCESS_INFORMATION *pi, bool watch) {
    int rc = watch ? send_watch(req, pi->hProcess) : 0;
    if (rc)
        return rc;
    for (size_t i = 0; i < req->nhandles; i++) {
        WSAPROTOCOL_INFOW info;
        HANDLE h = (HANDLE)req->handles[i], v;
        if (c->vals[i]) {
            mp__w_u8(req->sent, SENT_INHERITED);
        } else if (is_socket(h)) {
            if (WSADuplicateSocketW((SOCKET)h, pi->dwProcessId, &info) != 0)
                return mp__win32_err((unsigned long)WSAGetLastError());
            mp__w_u8(req->sent, SENT_SOCKET);
            mp__w_blob(req->sent, &info, sizeof info);
        } else {
            if (!DuplicateHandle(GetCurrentProcess(), h, pi->hProcess, &v, 0,
                                 FALSE, DUPLICATE_SAME_ACCESS))
                return mp__win32_err(GetLastError());
            mp__w_u8(req->sent, SENT_DUPLICATED);
            mp__w_u64(req->sent, (uint64_t)(uintptr_t)v);
        }
    }
    return req->sent->err;
}

int mp__os_spawn(const mp__spawn_req *req, mp__os_proc *out) {
    struct spawn_ctx c;
    memset(&c, 0, sizeof c);
    int rc = spawn_prepare(req, &c);
    if (rc)
        goto finish;
    /* The STARTUPINFOEXW itself goes to CreateProcessW: copied into a plain
     * STARTUPINFOW it would lose the attribute list. */
    STARTUPINFOEXW si;
    memset(&si, 0, sizeof si);
    si.StartupInfo.cb = sizeof si;
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = c.std[0];
    si.StartupInfo.hStdOutput = c.std[1];
    si.StartupInfo.hStdError = c.std[2];
    si.lpAttributeList = c.attrs;
    /* Suspended until it has its handles (and its job). */
    DWORD flags = EXTENDED_STARTUPINFO_PRESENT | CREATE_SUSPENDED;
    PROCESS_INFORMATION pi;
    if (!CreateProcessW(c.exe, c.cmd, NULL, NULL, TRUE, flags, NULL, NULL,
                        &si.StartupInfo, &pi)) {
        DWORD e = GetLastError();
        rc = e == ERROR_NOT_ENOUGH_QUOTA ? MP_ELIMIT : mp__win32_err(e);
        goto finish;
    }
    bool watch = req->daemon && !join_daemon_job(pi.hProcess);
    rc = send_handles(req, &c, &pi, watch);
    if (!rc && ResumeThread(pi.hThread) == (DWORD)-1)
        rc = mp__win32_err(GetLastError());
    if (rc) {
        TerminateProcess(pi.hProcess, KILL_CODE);
        WaitForSingleObject(pi.hProcess, INFINITE);
        CloseHandle(pi.hProcess);
        CloseHandle(pi.hThread);
        goto finish;
    }
    CloseHandle(pi.hThread);
    out->pid = (long)pi.dwProcessId;
    out->h = (mp__handle)pi.hProcess;
finish:
    spawn_free(&c);
    return rc;
}

/* ---- wait, reap, signal ---- */

int mp__os_proc_wait(mp__os_proc *p, mp__deadline d) {
    for (;;) {
        int rc;
        long left = mp__deadline_left_ms(d, &rc);
        DWORD ms = left < 0 ? INFINITE : (DWORD)left;
        DWORD w = WaitForSingleObject((HANDLE)p->h, ms);
        if (w == WAIT_OBJECT_0)
            return 0;
        if (w == WAIT_FAILED)
            return mp__win32_err(GetLastError());
        /* A timed wait may wake a tick early: time out only when due. */
        if (rc || mp__deadline_passed(d))
            return mp__deadline_err(d);
    }
}

int mp__os_proc_reap(mp__os_proc *p, int *code) {
    DWORD c;
    if (WaitForSingleObject((HANDLE)p->h, 0) != WAIT_OBJECT_0)
        return MP_ESTATE;
    if (!GetExitCodeProcess((HANDLE)p->h, &c))
        return mp__win32_err(GetLastError());
    *code = c == TERM_CODE     ? MP__OS_EXIT_TERMINATED
            : c == KILL_CODE   ? MP__OS_EXIT_KILLED
            : c == CTRL_C_CODE ? CTRL_C_EXIT
                               : (int)c;
    return 0;
}

int mp__os_proc_signal(mp__os_proc *p, enum mp__os_signal sig) {
    /* An ended child keeps its exit code: leave it alone. */
    if (WaitForSingleObject((HANDLE)p->h, 0) == WAIT_OBJECT_0)
        return 0;
    if (!TerminateProcess((HANDLE)p->h,
                          sig == MP__OS_KILL ? KILL_CODE : TERM_CODE)) {
        DWORD e = GetLastError();
        /* It may have ended between the check and the call. */
        if (WaitForSingleObject((HANDLE)p->h, 0) == WAIT_OBJECT_0)
            return 0;
        return mp__win32_err(e);
    }
    return 0;
}

void mp__os_proc_close(mp__os_proc *p) {
    mp__os_close(p->h);
    p->h = MP__BAD_HANDLE;
}

/* ---- functions across runs of one program ---- */

static const IMAGE_NT_HEADERS *nt_headers(HMODULE m) {
    const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)m;
    return (const IMAGE_NT_HEADERS *)((const char *)m + dos->e_lfanew);
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}

/* The module's identity, from its loaded PE headers: link time, checksum
 * and image size (the time and checksum may be zero in a reproducible
 * mingw build), plus a hash of the section table, which changes with any
 * change in the size of code or data. */
static void module_ident(HMODULE m, uint8_t *out, uint32_t *len) {
    const IMAGE_NT_HEADERS *nt = nt_headers(m);
    const IMAGE_SECTION_HEADER *s = IMAGE_FIRST_SECTION(nt);
    uint32_t v[4] = {nt->FileHeader.TimeDateStamp, nt->OptionalHeader.CheckSum,
                     nt->OptionalHeader.SizeOfImage,
                     nt->OptionalHeader.AddressOfEntryPoint};
    uint64_t h = 0xcbf29ce484222325u;
    for (WORD i = 0; i < nt->FileHeader.NumberOfSections; i++) {
        h = fnv1a(h, s[i].Name, sizeof s[i].Name);
        h = fnv1a(h, &s[i].Misc.VirtualSize, sizeof s[i].Misc.VirtualSize);
        h = fnv1a(h, &s[i].VirtualAddress, sizeof s[i].VirtualAddress);
        h = fnv1a(h, &s[i].SizeOfRawData, sizeof s[i].SizeOfRawData);
    }
    out[0] = 'P';
    memcpy(out + 1, v, sizeof v);
    memcpy(out + 1 + sizeof v, &h, sizeof h);
    *len = 1 + sizeof v + sizeof h;
}

/* Whether [off] lies in one of the module's executable sections. */
static bool in_exec_section(HMODULE m, uint64_t off) {
    const IMAGE_NT_HEADERS *nt = nt_headers(m);
    const IMAGE_SECTION_HEADER *s = IMAGE_FIRST_SECTION(nt);
    if (off >= nt->OptionalHeader.SizeOfImage)
        return false;
    for (WORD i = 0; i < nt->FileHeader.NumberOfSections; i++) {
        uint64_t lo = s[i].VirtualAddress;
        if ((s[i].Characteristics & IMAGE_SCN_MEM_EXECUTE) && off >= lo &&
            off < lo + s[i].Misc.VirtualSize)
            return true;
    }
    return false;
}

int mp__os_fn_locate(const void *fn, mp__fnloc *loc) {
    HMODULE m;
    memset(loc, 0, sizeof *loc);
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS |
                                GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            (LPCWSTR)fn, &m))
        return MP_ETARGET;
    uint64_t off = (uint64_t)((uintptr_t)fn - (uintptr_t)m);
    if (!in_exec_section(m, off))
        return MP_ETARGET;
    if (m != GetModuleHandleW(NULL)) {
        wchar_t path[MP__MODULE_MAX];
        DWORD n = GetModuleFileNameW(m, path, MP__MODULE_MAX);
        if (n == 0 || n >= MP__MODULE_MAX)
            return MP_ETARGET;
        if (mp__win32_utf8(path, loc->module, sizeof loc->module))
            return MP_ETARGET;
    }
    loc->offset = off;
    module_ident(m, loc->ident, &loc->ident_len);
    return 0;
}

int mp__os_fn_resolve(const mp__fnloc *loc, void **fn) {
    HMODULE m;
    if (!loc->module[0]) {
        m = GetModuleHandleW(NULL);
    } else {
        int rc;
        wchar_t *w = mp__win32_wide(loc->module, &rc);
        if (!w)
            return rc == MP_ENOMEM ? rc : MP_ETARGET;
        m = GetModuleHandleW(w);
        free(w);
    }
    if (!m)
        return MP_ETARGET;
    uint8_t ident[MP__IDENT_MAX];
    uint32_t len = 0;
    module_ident(m, ident, &len);
    if (len != loc->ident_len || memcmp(ident, loc->ident, len) != 0 ||
        !in_exec_section(m, loc->offset))
        return MP_ETARGET;
    *fn = (void *)((uintptr_t)m + (uintptr_t)loc->offset);
    return 0;
}
