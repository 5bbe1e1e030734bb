/* MSVC-mode compile check: <time.h> with the CRT's C4996 marks (see
 * msvc_crt.h). */
#include_next <time.h>
#include "msvc_crt.h"

MP_SHIM_INSECURE(ctime_s) char *__cdecl ctime(const time_t *);
MP_SHIM_INSECURE(asctime_s) char *__cdecl asctime(const struct tm *);
MP_SHIM_INSECURE(localtime_s) struct tm *__cdecl localtime(const time_t *);
MP_SHIM_INSECURE(gmtime_s) struct tm *__cdecl gmtime(const time_t *);
