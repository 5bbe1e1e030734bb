/* MSVC-mode compile check: <direct.h> with the CRT's C4996 marks (see
 * msvc_crt.h). */
#include_next <direct.h>
#include "msvc_crt.h"

MP_SHIM_NONSTDC(_getcwd) char *__cdecl getcwd(char *, int);
MP_SHIM_NONSTDC(_chdir) int __cdecl chdir(const char *);
MP_SHIM_NONSTDC(_mkdir) int __cdecl mkdir(const char *);
MP_SHIM_NONSTDC(_rmdir) int __cdecl rmdir(const char *);
