/* MSVC-mode compile check: <stdio.h> with the CRT's C4996 marks (see
 * msvc_crt.h). */
#include_next <stdio.h>
#include "msvc_crt.h"

MP_SHIM_INSECURE(fopen_s) FILE *__cdecl fopen(const char *, const char *);
MP_SHIM_INSECURE(freopen_s) FILE *__cdecl freopen(const char *,
                                                  const char *, FILE *);
MP_SHIM_INSECURE(sprintf_s) int __cdecl sprintf(char *, const char *, ...);
MP_SHIM_INSECURE(vsprintf_s) int __cdecl vsprintf(char *, const char *,
                                                  va_list);
MP_SHIM_INSECURE(_snprintf_s) int __cdecl _snprintf(char *, size_t,
                                                    const char *, ...);
MP_SHIM_INSECURE(_vsnprintf_s) int __cdecl _vsnprintf(char *, size_t,
                                                      const char *, va_list);
MP_SHIM_INSECURE(_snwprintf_s) int __cdecl _snwprintf(wchar_t *, size_t,
                                                      const wchar_t *, ...);
MP_SHIM_INSECURE(_vsnwprintf_s) int __cdecl _vsnwprintf(wchar_t *, size_t,
                                                        const wchar_t *,
                                                        va_list);
MP_SHIM_INSECURE(sscanf_s) int __cdecl sscanf(const char *, const char *,
                                              ...);
MP_SHIM_INSECURE(fscanf_s) int __cdecl fscanf(FILE *, const char *, ...);
MP_SHIM_INSECURE(scanf_s) int __cdecl scanf(const char *, ...);
MP_SHIM_INSECURE(tmpnam_s) char *__cdecl tmpnam(char *);
MP_SHIM_NONSTDC(_fdopen) FILE *__cdecl fdopen(int, const char *);
MP_SHIM_NONSTDC(_fileno) int __cdecl fileno(FILE *);
MP_SHIM_NONSTDC(_unlink) int __cdecl unlink(const char *);
