/* MSVC-mode compile check: <string.h> with the CRT's C4996 marks (see
 * msvc_crt.h). */
#include_next <string.h>
#include "msvc_crt.h"

MP_SHIM_INSECURE(strcpy_s) char *__cdecl strcpy(char *, const char *);
MP_SHIM_INSECURE(strcat_s) char *__cdecl strcat(char *, const char *);
MP_SHIM_INSECURE(strncpy_s) char *__cdecl strncpy(char *, const char *,
                                                  size_t);
MP_SHIM_INSECURE(strncat_s) char *__cdecl strncat(char *, const char *,
                                                  size_t);
MP_SHIM_INSECURE(strtok_s) char *__cdecl strtok(char *, const char *);
MP_SHIM_INSECURE(strerror_s) char *__cdecl strerror(int);
MP_SHIM_INSECURE(_strerror_s) char *__cdecl _strerror(const char *);
MP_SHIM_INSECURE(wcscpy_s) wchar_t *__cdecl wcscpy(wchar_t *,
                                                   const wchar_t *);
MP_SHIM_INSECURE(wcscat_s) wchar_t *__cdecl wcscat(wchar_t *,
                                                   const wchar_t *);
MP_SHIM_INSECURE(wcsncpy_s) wchar_t *__cdecl wcsncpy(wchar_t *,
                                                     const wchar_t *, size_t);
MP_SHIM_INSECURE(wcsncat_s) wchar_t *__cdecl wcsncat(wchar_t *,
                                                     const wchar_t *, size_t);
MP_SHIM_NONSTDC(_strdup) char *__cdecl strdup(const char *);
MP_SHIM_NONSTDC(_wcsdup) wchar_t *__cdecl wcsdup(const wchar_t *);
MP_SHIM_NONSTDC(_stricmp) int __cdecl stricmp(const char *, const char *);
MP_SHIM_NONSTDC(_strnicmp) int __cdecl strnicmp(const char *, const char *,
                                                size_t);
MP_SHIM_NONSTDC(_memccpy) void *__cdecl memccpy(void *, const void *, int,
                                                size_t);
