/* MSVC-mode compile check: <stdlib.h> with the CRT's C4996 marks (see
 * msvc_crt.h). */
#include_next <stdlib.h>
#include "msvc_crt.h"

MP_SHIM_INSECURE(_dupenv_s) char *__cdecl getenv(const char *);
MP_SHIM_INSECURE(_wdupenv_s) wchar_t *__cdecl _wgetenv(const wchar_t *);
MP_SHIM_INSECURE(mbstowcs_s) size_t __cdecl mbstowcs(wchar_t *,
                                                     const char *, size_t);
MP_SHIM_INSECURE(wcstombs_s) size_t __cdecl wcstombs(char *,
                                                     const wchar_t *, size_t);
MP_SHIM_INSECURE(_itoa_s) char *__cdecl _itoa(int, char *, int);
MP_SHIM_INSECURE(_ltoa_s) char *__cdecl _ltoa(long, char *, int);
MP_SHIM_INSECURE(_ultoa_s) char *__cdecl _ultoa(unsigned long, char *, int);
MP_SHIM_NONSTDC(_putenv) int __cdecl putenv(const char *);
MP_SHIM_NONSTDC(_itoa) char *__cdecl itoa(int, char *, int);
