/* Helpers shared by the win32 backend's files. Free of <windows.h> so that
 * each file chooses its own include order (APR's headers, when used, must
 * come before <windows.h>). */
#ifndef MP_WIN32_OS_WIN32_H
#define MP_WIN32_OS_WIN32_H

#include <stddef.h>
#include <wchar.h>

/* A GetLastError() value -> MP_E*. 0 stays 0. */
int mp__win32_err(unsigned long e);

/* UTF-8 -> a malloc'd UTF-16 string. NULL when out of memory or when s is
 * not valid UTF-8 (then *rc says which: MP_ENOMEM or MP_EINVAL). */
wchar_t *mp__win32_wide(const char *s, int *rc);

/* UTF-16 -> UTF-8 into out[cap], NUL-terminated. MP_EOVERFLOW when it does
 * not fit, MP_EINVAL for an unpaired surrogate. */
int mp__win32_utf8(const wchar_t *s, char *out, size_t cap);

/* A security descriptor that grants this process's user full access and
 * nobody else anything, for every object we create by name (pipes,
 * mappings, semaphores, mutexes). It fails closed: when the user's SID
 * cannot be read the caller's create fails with the error, rather than
 * falling back to the default DACL, which may let other users in. The
 * owner is set to the user too (mp__win32_check_owner). *sd is
 * freed with LocalFree. */
int mp__win32_owner_sd(void **sd);

/* Whether the kernel object h (opened with READ_CONTROL) belongs to this
 * process's user: 0, or MP_EACCES when its owner is another SID (neither
 * our user nor our token's default owner), or the error of reading it.
 * Every named object we create or open passes it before use: CreateX of
 * a name another user made first returns theirs (ERROR_ALREADY_EXISTS),
 * with their DACL, not ours. */
int mp__win32_check_owner(void *h);

/* Whether process pid (the other end of a pipe) runs as this process's
 * user: 0, MP_EACCES (another user, or one whose token we may not read),
 * MP_ECLOSED when it is gone, or an error. */
int mp__win32_check_process(unsigned long pid);

/* The directory that holds this user's files of ours (queue segments,
 * os_shm.h): "<temp path>mproc-<user SID>", into out[cap]. Made with the
 * owner-only descriptor (mp__win32_owner_sd); one that exists must be a
 * directory (not a link) owned by our user, else MP_EACCES: another user
 * who made it first would see and change what we put there. */
int mp__win32_user_dir(wchar_t *out, size_t cap);

/* "Local\mproc-<name>" as a malloc'd UTF-16 string; NULL with *rc set
 * (MP_EINVAL for an empty or too long name or one holding '\'). */
wchar_t *mp__win32_kname(const char *name, int *rc);

#endif
