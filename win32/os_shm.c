/* win32 backend, shared memory: pagefile-backed file mappings, and
 * file-backed ones for segments (os_shm.h), which outlive their holders.
 * Anonymous ones have no name (a spawned child gets an inherited duplicate of
 * the handle); named ones are "Local\mproc-<name>" with an owner-only DACL and
 * vanish with their last handle, so nothing outlives its users. One of
 * that name that we did not make is used only when our user owns it
 * (mp__win32_check_owner): another user's is MP_EACCES. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/atomics.h"
#include "os/os_shm.h"
#include "os/os_sync.h"
#include "os_win32.h"

static int map_view(mp__shm *s, HANDLE h, size_t size) {
    void *p = MapViewOfFile(h, FILE_MAP_ALL_ACCESS, 0, 0, size);
    if (!p)
        return mp__win32_err(GetLastError());
    if (size == 0) { /* opened by name: the region tells the size */
        MEMORY_BASIC_INFORMATION mi;
        if (!VirtualQuery(p, &mi, sizeof mi)) {
            UnmapViewOfFile(p);
            return mp__win32_err(GetLastError());
        }
        size = mi.RegionSize;
    }
    s->addr = p;
    s->size = size;
    s->h = (mp__handle)h;
    return 0;
}

/* The creation guard of a named mapping (os_shm.h): a mutex named
 * "Local\mproc-<name>/new" ('/' cannot occur in a name, so it names no
 * user object), owned by the creator until it publishes. A creator that
 * dies abandons it. */
static wchar_t *guard_name(const char *name, int *rc) {
    char buf[MP__OS_NAME_MAX + 8];
    if (strlen(name) > MP__OS_NAME_MAX) {
        *rc = MP_EINVAL;
        return NULL;
    }
    snprintf(buf, sizeof buf, "%s/new", name);
    return mp__win32_kname(buf, rc);
}

/* Takes the guard of `name`: 0 (held, in *g), MP_EEXIST while another
 * process holds it. */
static int guard_take(const char *name, HANDLE *g) {
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
    int rc = 0;
    wchar_t *wn = guard_name(name, &rc);
    if (!wn)
        return rc;
    if ((rc = mp__win32_owner_sd(&sa.lpSecurityDescriptor))) {
        free(wn);
        return rc;
    }
    *g = CreateMutexW(&sa, FALSE, wn);
    DWORD e = GetLastError();
    LocalFree(sa.lpSecurityDescriptor);
    free(wn);
    if (!*g)
        return mp__win32_err(e);
    /* Another user's mutex of that name would let them hold our name. */
    int orc = e == ERROR_ALREADY_EXISTS ? mp__win32_check_owner(*g) : 0;
    if (orc) {
        CloseHandle(*g);
        *g = NULL;
        return orc;
    }
    DWORD w = WaitForSingleObject(*g, 0);
    if (w == WAIT_OBJECT_0 || w == WAIT_ABANDONED)
        return 0;
    CloseHandle(*g);
    *g = NULL;
    return w == WAIT_TIMEOUT ? MP_EEXIST : mp__win32_err(GetLastError());
}

static void guard_drop(mp__shm *s) {
    if (s->guard == MP__BAD_HANDLE)
        return;
    ReleaseMutex((HANDLE)s->guard);
    CloseHandle((HANDLE)s->guard);
    s->guard = MP__BAD_HANDLE;
}

static bool published(const mp__shm *s) {
    return s->size >= sizeof(uint32_t) &&
           mp__load32((MP__ATOMIC(uint32_t) *)s->addr, MP__ACQUIRE) != 0;
}

/* With the guard held: creates the mapping, or takes over an unpublished
 * one of at least `size` bytes (its creator died: nobody else can be
 * making it while we hold the guard). */
static int make(mp__shm *s, size_t size, const char *name) {
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
    int rc = 0;
    wchar_t *wn = mp__win32_kname(name, &rc);
    if (!wn)
        return rc;
    if ((rc = mp__win32_owner_sd(&sa.lpSecurityDescriptor))) {
        free(wn);
        return rc;
    }
    HANDLE h =
        CreateFileMappingW(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE,
                           (DWORD)((uint64_t)size >> 32), (DWORD)size, wn);
    DWORD e = GetLastError();
    LocalFree(sa.lpSecurityDescriptor);
    free(wn);
    if (!h)
        return mp__win32_err(e);
    bool existed = e == ERROR_ALREADY_EXISTS;
    if (existed && (rc = mp__win32_check_owner(h))) {
        CloseHandle(h); /* another user's: never taken over */
        return rc;
    }
    if ((rc = map_view(s, h, existed ? 0 : size))) {
        CloseHandle(h);
        return rc;
    }
    if (existed && (published(s) || s->size < size)) {
        mp__os_shm_close(s);
        return MP_EEXIST;
    }
    if (existed) {
        memset(s->addr, 0, size);
        s->size = size;
    }
    return 0;
}

int mp__os_shm_create(mp__shm *s, size_t size, const char *name) {
    s->addr = NULL;
    s->h = s->guard = MP__BAD_HANDLE;
    if (size == 0)
        return MP_EINVAL;
    if (!name) {
        HANDLE h = CreateFileMappingW(
            INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
            (DWORD)((uint64_t)size >> 32), (DWORD)size, NULL);
        if (!h)
            return mp__win32_err(GetLastError());
        int rc = map_view(s, h, size);
        if (rc)
            CloseHandle(h);
        return rc;
    }
    HANDLE g;
    int rc = guard_take(name, &g);
    if (rc)
        return rc;
    s->guard = (mp__handle)g;
    if ((rc = make(s, size, name)))
        guard_drop(s);
    return rc;
}

void mp__os_shm_publish(mp__shm *s, uint32_t word) {
    mp__store32((MP__ATOMIC(uint32_t) *)s->addr, word, MP__RELEASE);
    guard_drop(s);
}

int mp__os_shm_open(mp__shm *s, const char *name) {
    int rc = MP_EINVAL;
    s->addr = NULL;
    s->h = s->guard = MP__BAD_HANDLE;
    wchar_t *wn = name ? mp__win32_kname(name, &rc) : NULL;
    if (!wn)
        return rc;
    HANDLE h = OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, wn);
    DWORD e = GetLastError();
    free(wn);
    if (!h)
        return e == ERROR_FILE_NOT_FOUND ? MP_ENOENT : mp__win32_err(e);
    if ((rc = mp__win32_check_owner(h)) || (rc = map_view(s, h, 0))) {
        CloseHandle(h);
        return rc;
    }
    /* Unpublished: MP_EAGAIN while its creator holds the guard. Holding
     * the guard ourselves means the creator is gone (or just published). */
    HANDLE g;
    if (!published(s)) {
        rc = guard_take(name, &g);
        if (rc == 0) {
            rc = published(s) ? 0 : MP_ENOENT;
            ReleaseMutex(g);
            CloseHandle(g);
        } else if (rc == MP_EEXIST) {
            rc = MP_EAGAIN;
        }
    }
    if (rc)
        mp__os_shm_close(s);
    return rc;
}

int mp__os_shm_import(mp__shm *s, mp__handle h, size_t size) {
    s->addr = NULL;
    s->guard = MP__BAD_HANDLE;
    if (h == MP__BAD_HANDLE || size == 0) {
        mp__os_close(h);
        return MP_EINVAL;
    }
    int rc = map_view(s, (HANDLE)h, size);
    if (rc)
        CloseHandle((HANDLE)h);
    return rc;
}

int mp__os_shm_unlink(const char *name) {
    (void)name; /* a name lives exactly as long as its handles */
    return 0;
}

void mp__os_shm_close(mp__shm *s) {
    guard_drop(s);
    if (s->addr)
        UnmapViewOfFile(s->addr);
    mp__os_close(s->h);
    s->addr = NULL;
    s->h = MP__BAD_HANDLE;
}

/* ---- segments (os_shm.h) ----
 * Files in the user's private directory, so that they outlive their
 * holders. FILE_ATTRIBUTE_TEMPORARY keeps their pages in memory while
 * there is memory. Every handle shares delete, so a name can be removed
 * while others use it. A file mapped anywhere cannot be deleted on
 * Windows, only renamed: a removed name is first renamed aside (with a
 * '~' in front, which no segment's name has), freeing the name at once,
 * and a file aside that is still mapped then is deleted by a later
 * create once nobody has it mapped. */

#define SEG_SHARE (FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
/* The directory's path and "\~" and a name. */
#define SEG_PATH_MAX (MAX_PATH + 256 + MP__OS_NAME_MAX)

/* "<dir>\<prefix><name>" into out (SEG_PATH_MAX); dir_len: the length of
 * "<dir>\". */
static int seg_path(wchar_t *out, const char *name, const wchar_t *prefix,
                    size_t *dir_len) {
    int rc = 0;
    if (!name || !*name || strlen(name) > MP__OS_NAME_MAX ||
        strpbrk(name, "\\/:~"))
        return MP_EINVAL;
    if ((rc = mp__win32_user_dir(out, SEG_PATH_MAX - MP__OS_NAME_MAX - 2)))
        return rc;
    wchar_t *wn = mp__win32_wide(name, &rc);
    if (!wn)
        return rc;
    size_t n = wcslen(out);
    if (dir_len)
        *dir_len = n + 1;
    swprintf(out + n, SEG_PATH_MAX - n, L"\\%ls%ls", prefix, wn);
    free(wn);
    return 0;
}

/* Deletes the files set aside that nobody maps any more. */
static void seg_sweep(wchar_t *path, size_t dir_len) {
    WIN32_FIND_DATAW fd;
    size_t room = SEG_PATH_MAX - dir_len;
    swprintf(path + dir_len, room, L"~*");
    HANDLE f = FindFirstFileW(path, &fd);
    if (f == INVALID_HANDLE_VALUE)
        return;
    do {
        if (swprintf(path + dir_len, room, L"%ls", fd.cFileName) > 0)
            DeleteFileW(path);
    } while (FindNextFileW(f, &fd));
    FindClose(f);
}

/* Maps the file f (takes it) of `size` bytes (0: its size, which must
 * hold a published word). */
static int seg_map(mp__shm *s, HANDLE f, size_t size) {
    LARGE_INTEGER fsz = {0};
    if (size == 0) {
        int rc = mp__win32_check_owner(f);
        if (rc || !GetFileSizeEx(f, &fsz)) {
            rc = rc ? rc : mp__win32_err(GetLastError());
            CloseHandle(f);
            return rc;
        }
        /* Made but not yet sized by its creator. */
        if ((uint64_t)fsz.QuadPart < sizeof(uint32_t) ||
            (uint64_t)fsz.QuadPart > SIZE_MAX) {
            CloseHandle(f);
            return fsz.QuadPart ? MP_EOVERFLOW : MP_EAGAIN;
        }
        size = (size_t)fsz.QuadPart;
    }
    HANDLE m =
        CreateFileMappingW(f, NULL, PAGE_READWRITE,
                           (DWORD)((uint64_t)size >> 32), (DWORD)size, NULL);
    DWORD e = GetLastError();
    CloseHandle(f); /* the mapping keeps the file open */
    if (!m)
        return mp__win32_err(e);
    int rc = map_view(s, m, size);
    if (rc)
        CloseHandle(m);
    return rc;
}

int mp__os_seg_create(mp__shm *s, size_t size, const char *name) {
    wchar_t path[SEG_PATH_MAX];
    size_t dir_len;
    s->addr = NULL;
    s->h = s->guard = MP__BAD_HANDLE;
    int rc = size ? seg_path(path, name, L"", &dir_len) : MP_EINVAL;
    if (rc)
        return rc;
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
    if ((rc = mp__win32_owner_sd(&sa.lpSecurityDescriptor)))
        return rc;
    HANDLE f = CreateFileW(path, GENERIC_READ | GENERIC_WRITE, SEG_SHARE, &sa,
                           CREATE_NEW, FILE_ATTRIBUTE_TEMPORARY, NULL);
    DWORD e = GetLastError();
    LocalFree(sa.lpSecurityDescriptor);
    if (f == INVALID_HANDLE_VALUE)
        return mp__win32_err(e);
    if ((rc = seg_map(s, f, size))) {
        DeleteFileW(path);
        return rc;
    }
    seg_sweep(path, dir_len);
    return 0;
}

int mp__os_seg_open(mp__shm *s, const char *name) {
    wchar_t path[SEG_PATH_MAX];
    s->addr = NULL;
    s->h = s->guard = MP__BAD_HANDLE;
    int rc = seg_path(path, name, L"", NULL);
    if (rc)
        return rc;
    HANDLE f = CreateFileW(path, GENERIC_READ | GENERIC_WRITE, SEG_SHARE, NULL,
                           OPEN_EXISTING, FILE_ATTRIBUTE_TEMPORARY, NULL);
    if (f == INVALID_HANDLE_VALUE)
        return mp__win32_err(GetLastError());
    if ((rc = seg_map(s, f, 0)))
        return rc;
    if (!published(s)) {
        mp__os_shm_close(s);
        return MP_EAGAIN;
    }
    return 0;
}

int mp__os_seg_unlink(const char *name) {
    wchar_t path[SEG_PATH_MAX], aside[SEG_PATH_MAX];
    int rc = seg_path(path, name, L"", NULL);
    if (rc || (rc = seg_path(aside, name, L"~", NULL)))
        return rc;
    if (MoveFileExW(path, aside, MOVEFILE_REPLACE_EXISTING)) {
        /* Still mapped (ERROR_ACCESS_DENIED), or deleted by a sweep. */
        DWORD e = DeleteFileW(aside) ? 0 : GetLastError();
        return e == 0 || e == ERROR_ACCESS_DENIED || e == ERROR_FILE_NOT_FOUND
                   ? 0
                   : mp__win32_err(e);
    }
    DWORD e = GetLastError();
    if (DeleteFileW(path)) /* the one aside is still mapped */
        return 0;
    return mp__win32_err(e);
}

/* ---- reclaiming (os_shm.h) ----
 * A named mapping lives exactly as long as its handles: one that can be
 * opened is held by a live process, so no name is removed by us and a
 * sweep has nothing to visit. Who is alive still matters to a queue,
 * whose last live user removes its segments. */

/* A token of process p's creation time (0 when it cannot be read): with
 * the pid, it tells a process from a later one given the same pid. */
static uint32_t start_token(HANDLE p) {
    FILETIME c, x, k, u;
    if (!GetProcessTimes(p, &c, &x, &k, &u))
        return 0;
    uint64_t t = (uint64_t)c.dwHighDateTime << 32 | c.dwLowDateTime;
    uint32_t tok = (uint32_t)(t ^ (t >> 32));
    return tok ? tok : 1;
}

static MP__ATOMIC(uint64_t) self_word;

uint64_t mp__os_user_self(void) {
    uint64_t w = mp__load64(&self_word, MP__RELAXED);
    if (!w) {
        w = (uint64_t)start_token(GetCurrentProcess()) << 32 |
            GetCurrentProcessId();
        mp__store64(&self_word, w, MP__RELAXED);
    }
    return w;
}

bool mp__os_user_dead(uint64_t user) {
    HANDLE p = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE,
                           FALSE, (DWORD)user);
    if (!p) /* no such pid; one we may not probe counts as alive */
        return GetLastError() == ERROR_INVALID_PARAMETER;
    uint32_t tok = (uint32_t)(user >> 32), now = start_token(p);
    bool dead = WaitForSingleObject(p, 0) == WAIT_OBJECT_0 ||
                (tok && now && now != tok);
    CloseHandle(p);
    return dead;
}

int mp__os_shm_lock(mp__shm *s, const char *name, mp__deadline d) {
    (void)s;
    (void)name;
    (void)d;
    return MP_ENOTSUP;
}

void mp__os_shm_unlock(mp__shm *s) { (void)s; }

int mp__os_shm_each(size_t map_bytes, bool (*visit)(void *arg, mp__shm *s),
                    void *arg, size_t *removed) {
    (void)map_bytes;
    (void)visit;
    (void)arg;
    *removed = 0;
    return 0;
}
