/* win32 backend: initialisation, clock, ids, byte pipes, error mapping. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <tlhelp32.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#if defined(_MSC_VER) && defined(_DEBUG)
#include <crtdbg.h>
#endif

#include "os/os_base.h"
#include "os_win32.h"

/* The largest single ReadFile / WriteFile request: DWORD lengths. */
#define IO_CHUNK ((size_t)1 << 30)

int mp__win32_err(unsigned long e) {
    mp__note_os_error((long)e);
    switch (e) {
    case ERROR_SUCCESS: return 0;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY: return MP_ENOMEM;
    case ERROR_INVALID_PARAMETER:
    case ERROR_INVALID_HANDLE:
    case ERROR_INVALID_NAME:
    case ERROR_NO_UNICODE_TRANSLATION: return MP_EINVAL;
    case WAIT_TIMEOUT:
    case ERROR_TIMEOUT:
    case ERROR_SEM_TIMEOUT: return MP_ETIMEDOUT;
    case ERROR_BROKEN_PIPE:
    case ERROR_NO_DATA: /* writing to a pipe whose reader is gone */
    case ERROR_PIPE_NOT_CONNECTED:
    case ERROR_HANDLE_EOF: return MP_ECLOSED;
    case ERROR_MORE_DATA: return MP_EMSGSIZE;
    case ERROR_TOO_MANY_POSTS: return MP_EOVERFLOW;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_MOD_NOT_FOUND: return MP_ENOENT;
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS: return MP_EEXIST;
    case ERROR_ACCESS_DENIED:
    case ERROR_BAD_EXE_FORMAT: return MP_EACCES;
    case ERROR_TOO_MANY_OPEN_FILES:
    case ERROR_NO_SYSTEM_RESOURCES:
    case ERROR_NOT_ENOUGH_QUOTA:
    case ERROR_COMMITMENT_LIMIT:
    case ERROR_DISK_FULL: return MP_ELIMIT;
    case ERROR_PIPE_BUSY: return MP_EAGAIN;
    case ERROR_NOT_SUPPORTED:
    case ERROR_CALL_NOT_IMPLEMENTED: return MP_ENOTSUP;
    case ERROR_IO_DEVICE:
    case ERROR_CRC: return MP_EIO;
    default: return MP_ESYS;
    }
}

wchar_t *mp__win32_wide(const char *s, int *rc) {
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    if (n <= 0) {
        *rc = MP_EINVAL;
        return NULL;
    }
    wchar_t *w = malloc((size_t)n * sizeof *w);
    if (!w) {
        *rc = MP_ENOMEM;
        return NULL;
    }
    MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n);
    *rc = 0;
    return w;
}

int mp__win32_utf8(const wchar_t *s, char *out, size_t cap) {
    int n = WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, s, -1, NULL, 0,
                                NULL, NULL);
    if (n <= 0)
        return MP_EINVAL;
    if ((size_t)n > cap)
        return MP_EOVERFLOW;
    WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, s, -1, out, n, NULL,
                        NULL);
    return 0;
}

#define WIDEN_(s) L##s
#define WIDEN(s) WIDEN_(s)

/* The handle list of a child that mp__os_spawn started, whose command
 * line is `"<exe>" --mproc-spawn <handles>` (see command_line there); NULL
 * in any other process. */
static const wchar_t *spawned_child(void) {
    static const wchar_t flag[] = L" " WIDEN(MP__SPAWN_FLAG) L" ";
    const size_t n = sizeof flag / sizeof flag[0] - 1;
    const wchar_t *s = GetCommandLineW();
    if (*s != L'"' || !(s = wcschr(s + 1, L'"')))
        return NULL;
    return wcsncmp(s + 1, flag, n) == 0 ? s + 1 + n : NULL;
}

int mp__os_spawn_data(char **handles) {
    const wchar_t *w = spawned_child();
    *handles = NULL;
    if (!w)
        return 0;
    size_t n = wcslen(w);
    char *s = malloc(n + 1);
    if (!s)
        return MP_ENOMEM;
    /* Handle values are digits and commas: anything else is kept as a
     * character the parse refuses. */
    for (size_t i = 0; i <= n; i++)
        s[i] = w[i] < 0x80 ? (char)w[i] : '?';
    *handles = s;
    return 1;
}

/* A Windows process has the rights of the token its creator gave it: no
 * program raises them by being run. */
bool mp__os_secure_exec(void) { return false; }

/* WerSetFlags's WER_FAULT_REPORTING_NO_UI (werapi.h): no report dialog. */
#define WER_NO_UI 0x20u

/* Turns off, in a child of ours, every dialog a crash or a failed drive
 * access could raise: the system's (error mode), Windows Error
 * Reporting's (no UI; looked up, so that a system without it still loads
 * us), and the C runtime's abort() message and fault report (UCRT and
 * MSVC; msvcrt's abort() only writes to stderr and exits with 3), and the
 * debug CRT's assertion box (MSVC debug builds). An unhandled exception
 * ends the child at once with its code as the exit status, unless a
 * debugger is attached: no just-in-time debugger (AeDebug; winedbg under
 * Wine, which ignores the error mode) is started for it. The target may
 * set a filter of its own. */
static LONG WINAPI die_on_crash(EXCEPTION_POINTERS *e) {
    (void)e;
    return IsDebuggerPresent() ? EXCEPTION_CONTINUE_SEARCH
                               : EXCEPTION_EXECUTE_HANDLER;
}

static void quiet_crashes(void) {
    SetUnhandledExceptionFilter(die_on_crash);
    SetErrorMode(GetErrorMode() | SEM_FAILCRITICALERRORS |
                 SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX);
    HMODULE k = GetModuleHandleW(L"kernel32.dll");
    FARPROC f = k ? GetProcAddress(k, "WerSetFlags") : NULL;
    if (f) {
        HRESULT(WINAPI * set_flags)(DWORD);
        memcpy(&set_flags, &f, sizeof f);
        set_flags(WER_NO_UI);
    }
#if defined(_MSC_VER) || defined(_UCRT)
    _set_abort_behavior(0, _WRITE_ABORT_MSG | _CALL_REPORTFAULT);
#endif
#if defined(_MSC_VER) && defined(_DEBUG)
    _CrtSetReportMode(_CRT_ASSERT, _CRTDBG_MODE_FILE);
    _CrtSetReportFile(_CRT_ASSERT, _CRTDBG_FILE_STDERR);
    _CrtSetReportMode(_CRT_ERROR, _CRTDBG_MODE_FILE);
    _CrtSetReportFile(_CRT_ERROR, _CRTDBG_FILE_STDERR);
#endif
}

int mp__os_init(void) {
    /* No signals to tame: a write to a closed pipe is an error code on
     * Windows already. A crashed child, though, would wait behind Windows
     * Error Reporting's dialog (and a failed drive access behind another)
     * that nobody sees, with its parent, a pool perhaps, waiting for it:
     * our children turn both off. The user's own program keeps its mode. */
    if (spawned_child())
        quiet_crashes();
    return 0;
}

int mp__os_atfork(void (*prepare)(void), void (*parent)(void),
                  void (*child)(void)) {
    (void)prepare;
    (void)parent;
    (void)child;
    return 0;
}

uint64_t mp__os_now_ns(void) {
    static LARGE_INTEGER
        freq; /* constant since boot; a racy first read is harmless */
    LARGE_INTEGER c;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&c);
    uint64_t f = (uint64_t)freq.QuadPart, v = (uint64_t)c.QuadPart;
    /* Split to stay clear of overflow at high counter frequencies. */
    return v / f * 1000000000u + v % f * 1000000000u / f;
}

void mp__os_sleep_ns(uint64_t ns) {
    /* Sleep may wake a timer tick early; keep going until the time is up.
     * Any ns a caller passes is far from overflowing the clock (deadlines
     * are bounded, clock.h). */
    uint64_t end = mp__os_now_ns() + ns;
    for (;;) {
        uint64_t now = mp__os_now_ns();
        if (now >= end)
            return;
        Sleep((DWORD)((end - now + 999999) / 1000000));
    }
}

int mp__os_cpu_count(void) {
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    if (n == 0) {
        SYSTEM_INFO si;
        GetSystemInfo(&si);
        n = si.dwNumberOfProcessors;
    }
    return n > 0 ? (int)n : 1;
}

long mp__os_getpid(void) { return (long)GetCurrentProcessId(); }

/* The creator's pid, from a process snapshot; 0 if not found. It never
 * changes (Windows does not re-parent), so it is looked up once. */
static BOOL CALLBACK find_ppid(PINIT_ONCE once, PVOID arg, PVOID *ctx) {
    DWORD self = GetCurrentProcessId();
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
    (void)once;
    (void)ctx;
    if (snap == INVALID_HANDLE_VALUE)
        return TRUE;
    PROCESSENTRY32W pe = {.dwSize = sizeof pe};
    for (BOOL ok = Process32FirstW(snap, &pe); ok;
         ok = Process32NextW(snap, &pe))
        if (pe.th32ProcessID == self) {
            *(long *)arg = (long)pe.th32ParentProcessID;
            break;
        }
    CloseHandle(snap);
    return TRUE;
}

long mp__os_getppid(void) {
    static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
    static long ppid;
    InitOnceExecuteOnce(&once, find_ppid, &ppid, NULL);
    return ppid;
}

int mp__os_pipe(mp__handle *rd, mp__handle *wr) {
    HANDLE r, w;
    /* No SECURITY_ATTRIBUTES: neither end is inheritable; spawn makes
     * inheritable duplicates of exactly what a child receives. */
    if (!CreatePipe(&r, &w, NULL, 0))
        return mp__win32_err(GetLastError());
    *rd = (mp__handle)r;
    *wr = (mp__handle)w;
    return 0;
}

int mp__os_write_all(mp__handle h, const void *buf, size_t len) {
    const char *p = buf;
    while (len) {
        DWORD n = 0, want = (DWORD)(len < IO_CHUNK ? len : IO_CHUNK);
        if (!WriteFile((HANDLE)h, p, want, &n, NULL))
            return mp__win32_err(GetLastError());
        p += n;
        len -= n;
    }
    return 0;
}

int mp__os_read_all(mp__handle h, void *buf, size_t len) {
    char *p = buf;
    while (len) {
        DWORD n = 0, want = (DWORD)(len < IO_CHUNK ? len : IO_CHUNK);
        if (!ReadFile((HANDLE)h, p, want, &n, NULL))
            return mp__win32_err(GetLastError());
        if (n == 0)
            return MP_ECLOSED;
        p += n;
        len -= n;
    }
    return 0;
}

int mp__os_read_avail(mp__handle h, void *buf, size_t len, size_t *got) {
    DWORD avail = 0, n = 0;
    *got = 0;
    /* Anonymous pipes have no non-blocking mode: ask what is buffered and
     * read no more than that. A drained pipe whose writer is gone fails
     * with ERROR_BROKEN_PIPE, which maps to MP_ECLOSED. */
    if (!PeekNamedPipe((HANDLE)h, NULL, 0, NULL, &avail, NULL))
        return mp__win32_err(GetLastError());
    if (avail == 0 || len == 0)
        return 0;
    if (!ReadFile((HANDLE)h, buf, (DWORD)(len < avail ? len : avail), &n,
                  NULL))
        return mp__win32_err(GetLastError());
    *got = n;
    return 0;
}

void mp__os_close(mp__handle h) {
    if (h != MP__BAD_HANDLE)
        CloseHandle((HANDLE)h);
}

int mp__os_open_null(mp__handle *h) {
    HANDLE n =
        CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE,
                    NULL, OPEN_EXISTING, 0, NULL);
    if (n == INVALID_HANDLE_VALUE)
        return mp__win32_err(GetLastError());
    *h = (mp__handle)n;
    return 0;
}
