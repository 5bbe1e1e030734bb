/* win32 backend: what every named kernel object needs, its name and its
 * owner-only security descriptor. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <sddl.h>

#include <stdio.h>
#include <string.h>

#include "os/os_sync.h"
#include "os_win32.h"

/* A SID's string form is at most ~190 characters (15 sub-authorities). */
#define SDDL_MAX 256

/* The last error as MP_E*, never 0: a failed call is a failure even when
 * it left no code behind. */
static int last_err(void) {
    int rc = mp__win32_err(GetLastError());
    return rc ? rc : MP_ESYS;
}

/* "D:P(A;;GA;;;<our user's SID>)": a protected DACL with one entry, full
 * access for this user. (The OWNER RIGHTS SID would be shorter, but Wine
 * does not grant it.) */
int mp__win32_owner_sd(void **sd) {
    HANDLE tok;
    union {
        TOKEN_USER tu;
        char buf[256];
    } u;
    DWORD len;
    wchar_t *sid = NULL, sddl[SDDL_MAX];
    *sd = NULL;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
        return last_err();
    int rc = 0;
    if (!GetTokenInformation(tok, TokenUser, &u, sizeof u, &len) ||
        !ConvertSidToStringSidW(u.tu.User.Sid, &sid))
        rc = last_err();
    CloseHandle(tok);
    if (rc)
        return rc;
    int n = swprintf(sddl, SDDL_MAX, L"D:P(A;;GA;;;%ls)", sid);
    LocalFree(sid);
    if (n < 0)
        return MP_ESYS;
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl, SDDL_REVISION_1, (PSECURITY_DESCRIPTOR *)sd, NULL))
        return last_err();
    return 0;
}

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
