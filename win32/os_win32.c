/* win32 backend: what every named kernel object needs, its name and its
 * owner-only security descriptor. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <aclapi.h>
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

/* A token's user (TokenUser) or default owner (TokenOwner) into u. */
typedef union token_sid {
    TOKEN_USER user;
    TOKEN_OWNER owner;
    char buf[256]; /* a SID is at most 68 bytes */
} token_sid;

static int token_query(HANDLE proc, TOKEN_INFORMATION_CLASS what,
                       token_sid *u) {
    HANDLE tok;
    DWORD len;
    if (!OpenProcessToken(proc, TOKEN_QUERY, &tok))
        return last_err();
    int rc =
        GetTokenInformation(tok, what, u, sizeof *u, &len) ? 0 : last_err();
    CloseHandle(tok);
    return rc;
}

/* "O:<SID>D:P(A;;GA;;;<SID>)", SID our user's: owned by this user (not by
 * the Administrators group, an elevated administrator's default owner) and
 * a protected DACL with one entry, full access for this user. (The OWNER
 * RIGHTS SID would be shorter, but Wine does not grant it.) */
int mp__win32_owner_sd(void **sd) {
    token_sid u;
    wchar_t *sid = NULL, sddl[SDDL_MAX];
    *sd = NULL;
    int rc = token_query(GetCurrentProcess(), TokenUser, &u);
    if (rc)
        return rc;
    if (!ConvertSidToStringSidW(u.user.User.Sid, &sid))
        return last_err();
    int n = swprintf(sddl, SDDL_MAX, L"O:%lsD:P(A;;GA;;;%ls)", sid, sid);
    LocalFree(sid);
    if (n < 0)
        return MP_ESYS;
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl, SDDL_REVISION_1, (PSECURITY_DESCRIPTOR *)sd, NULL))
        return last_err();
    return 0;
}

/* Ours are owned by our user (mp__win32_owner_sd); an object this user
 * made without it is owned by the token's default owner. One with no owner
 * at all passes: Windows always records one (the creator's default owner
 * when its descriptor names none), and only Wine, whose processes are all
 * one user, leaves it out (for an object made without a descriptor). */
int mp__win32_check_owner(void *h) {
    PSID owner = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    token_sid u, o;
    DWORD e = GetSecurityInfo(h, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION,
                              &owner, NULL, NULL, NULL, &sd);
    if (e != ERROR_SUCCESS) {
        int rc = mp__win32_err(e);
        return rc ? rc : MP_ESYS;
    }
    int rc = token_query(GetCurrentProcess(), TokenUser, &u);
    if (!rc)
        rc = token_query(GetCurrentProcess(), TokenOwner, &o);
    if (!rc && owner && !EqualSid(owner, u.user.User.Sid) &&
        !EqualSid(owner, o.owner.Owner))
        rc = MP_EACCES;
    LocalFree(sd);
    return rc;
}

int mp__win32_check_process(unsigned long pid) {
    if (pid == GetCurrentProcessId())
        return 0;
    HANDLE p = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
    if (!p) /* gone (then so is the pipe's other end), or not ours to see */
        return GetLastError() == ERROR_INVALID_PARAMETER ? MP_ECLOSED
                                                         : MP_EACCES;
    token_sid them, us;
    int rc = token_query(p, TokenUser, &them);
    CloseHandle(p);
    if (rc) /* a token we may not read is not our user's */
        return rc == MP_EACCES ? MP_EACCES : rc;
    if ((rc = token_query(GetCurrentProcess(), TokenUser, &us)))
        return rc;
    return EqualSid(them.user.User.Sid, us.user.User.Sid) ? 0 : MP_EACCES;
}

int mp__win32_user_dir(wchar_t *out, size_t cap) {
    token_sid u;
    wchar_t *sid = NULL, tmp[MAX_PATH + 1];
    int rc = token_query(GetCurrentProcess(), TokenUser, &u);
    if (rc)
        return rc;
    DWORD n = GetTempPathW(MAX_PATH + 1, tmp);
    if (n == 0 || n > MAX_PATH)
        return n ? MP_EOVERFLOW : last_err();
    if (!ConvertSidToStringSidW(u.user.User.Sid, &sid))
        return last_err();
    int len = swprintf(out, cap, L"%lsmproc-%ls", tmp, sid);
    LocalFree(sid);
    if (len < 0)
        return MP_EOVERFLOW;
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
    if ((rc = mp__win32_owner_sd(&sa.lpSecurityDescriptor)))
        return rc;
    BOOL made = CreateDirectoryW(out, &sa);
    DWORD e = GetLastError();
    LocalFree(sa.lpSecurityDescriptor);
    if (made)
        return 0;
    if (e != ERROR_ALREADY_EXISTS)
        return mp__win32_err(e);
    /* Opened as itself, not followed if it is a link: a junction to a
     * place of another user's would pass an owner check of its target. */
    HANDLE d = CreateFileW(
        out, READ_CONTROL,
        FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
        OPEN_EXISTING,
        FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    if (d == INVALID_HANDLE_VALUE)
        return last_err();
    BY_HANDLE_FILE_INFORMATION fi;
    if (!GetFileInformationByHandle(d, &fi))
        rc = last_err();
    else if (!(fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) ||
             (fi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT))
        rc = MP_EACCES;
    else
        rc = mp__win32_check_owner(d);
    CloseHandle(d);
    return rc;
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
