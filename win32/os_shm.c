/* win32 backend, shared memory: pagefile-backed file mappings. Anonymous
 * ones have no name (a spawned child gets an inherited duplicate of the
 * handle); named ones are "Local\mproc-<name>" with an owner-only DACL and
 * vanish with their last handle, so nothing outlives its users. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <sddl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/os_shm.h"
#include "../common/os_sync.h"
#include "os_win32.h"

/* Fills *sa with an owner-only security descriptor (freed with LocalFree on
 * *sd); false when the system cannot make one (the default DACL is used). */
bool mp__win32_private_sa(SECURITY_ATTRIBUTES *sa, void **sd);

/* "D:P(A;;GA;;;<our user's SID>)": full access for this user, nobody else.
 * (The OWNER RIGHTS SID would be shorter but Wine does not grant it.) */
static bool user_sddl(wchar_t *out, size_t cap) {
    HANDLE tok;
    union {
        TOKEN_USER tu;
        char buf[256];
    } u;
    DWORD len;
    wchar_t *sid = NULL;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
        return false;
    BOOL ok = GetTokenInformation(tok, TokenUser, &u, sizeof u, &len) &&
              ConvertSidToStringSidW(u.tu.User.Sid, &sid);
    CloseHandle(tok);
    if (!ok)
        return false;
    ok = _snwprintf(out, cap, L"D:P(A;;GA;;;%ls)", sid) > 0;
    LocalFree(sid);
    return ok;
}

bool mp__win32_private_sa(SECURITY_ATTRIBUTES *sa, void **sd) {
    wchar_t sddl[256];
    *sd = NULL;
    if (!user_sddl(sddl, sizeof sddl / sizeof sddl[0]) ||
        !ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl, SDDL_REVISION_1, (PSECURITY_DESCRIPTOR *)sd, NULL))
        return false;
    sa->nLength = sizeof *sa;
    sa->lpSecurityDescriptor = *sd;
    sa->bInheritHandle = FALSE;
    return true;
}

/* "Local\mproc-<name>" as UTF-16. */
wchar_t *mp__win32_kname(const char *name, int *rc);

wchar_t *mp__win32_kname(const char *name, int *rc) {
    char buf[MP__OS_NAME_MAX + 32];
    size_t n = strlen(name);
    if (n == 0 || n > MP__OS_NAME_MAX || strchr(name, '\\')) {
        *rc = MP_EINVAL;
        return NULL;
    }
    snprintf(buf, sizeof buf, "Local\\mproc-%s", name);
    return mp__win32_wide(buf, rc);
}

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

int mp__os_shm_create(mp__shm *s, size_t size, const char *name) {
    SECURITY_ATTRIBUTES sa;
    void *sd = NULL;
    wchar_t *wn = NULL;
    int rc = 0;
    s->addr = NULL;
    s->h = MP__BAD_HANDLE;
    if (size == 0)
        return MP_EINVAL;
    if (name && !(wn = mp__win32_kname(name, &rc)))
        return rc;
    bool priv = wn && mp__win32_private_sa(&sa, &sd);
    HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, priv ? &sa : NULL,
                                  PAGE_READWRITE, (DWORD)((uint64_t)size >> 32),
                                  (DWORD)size, wn);
    DWORD e = GetLastError();
    if (sd)
        LocalFree(sd);
    free(wn);
    if (!h)
        return mp__win32_err(e);
    if (name && e == ERROR_ALREADY_EXISTS) {
        CloseHandle(h);
        return MP_EEXIST;
    }
    if ((rc = map_view(s, h, size)))
        CloseHandle(h);
    return rc;
}

int mp__os_shm_open(mp__shm *s, const char *name) {
    int rc = MP_EINVAL;
    s->addr = NULL;
    s->h = MP__BAD_HANDLE;
    wchar_t *wn = name ? mp__win32_kname(name, &rc) : NULL;
    if (!wn)
        return rc;
    HANDLE h = OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, wn);
    DWORD e = GetLastError();
    free(wn);
    if (!h)
        return e == ERROR_FILE_NOT_FOUND ? MP_ENOENT : mp__win32_err(e);
    if ((rc = map_view(s, h, 0)))
        CloseHandle(h);
    return rc;
}

int mp__os_shm_import(mp__shm *s, mp__handle h, size_t size) {
    s->addr = NULL;
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
    if (s->addr)
        UnmapViewOfFile(s->addr);
    mp__os_close(s->h);
    s->addr = NULL;
    s->h = MP__BAD_HANDLE;
}
