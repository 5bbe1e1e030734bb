/* MSVC-mode compile check: <process.h> with the CRT's C4996 marks (see
 * msvc_crt.h). */
#include_next <process.h>
#include "msvc_crt.h"

MP_SHIM_NONSTDC(_getpid) int __cdecl getpid(void);
