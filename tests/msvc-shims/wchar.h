/* MSVC-mode compile check: <wchar.h> with the CRT's C4996 marks (see
 * msvc_crt.h). */
#include_next <wchar.h>
#include "msvc_crt.h"

MP_SHIM_INSECURE(wcscpy_s) wchar_t *__cdecl wcscpy(wchar_t *,
                                                   const wchar_t *);
MP_SHIM_INSECURE(wcscat_s) wchar_t *__cdecl wcscat(wchar_t *,
                                                   const wchar_t *);
MP_SHIM_INSECURE(wcsncpy_s) wchar_t *__cdecl wcsncpy(wchar_t *,
                                                     const wchar_t *, size_t);
MP_SHIM_INSECURE(_snwprintf_s) int __cdecl _snwprintf(wchar_t *, size_t,
                                                      const wchar_t *, ...);
MP_SHIM_INSECURE(_vsnwprintf_s) int __cdecl _vsnwprintf(wchar_t *, size_t,
                                                        const wchar_t *,
                                                        va_list);
MP_SHIM_INSECURE(_wfopen_s) FILE *__cdecl _wfopen(const wchar_t *,
                                                  const wchar_t *);
MP_SHIM_INSECURE(_wdupenv_s) wchar_t *__cdecl _wgetenv(const wchar_t *);
MP_SHIM_NONSTDC(_wcsdup) wchar_t *__cdecl wcsdup(const wchar_t *);
