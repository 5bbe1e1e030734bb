/* MSVC-mode compile check: <io.h> with the CRT's C4996 marks (see
 * msvc_crt.h). */
#include_next <io.h>
#include "msvc_crt.h"

MP_SHIM_NONSTDC(_access) int __cdecl access(const char *, int);
MP_SHIM_NONSTDC(_close) int __cdecl close(int);
MP_SHIM_NONSTDC(_dup) int __cdecl dup(int);
MP_SHIM_NONSTDC(_dup2) int __cdecl dup2(int, int);
MP_SHIM_NONSTDC(_isatty) int __cdecl isatty(int);
MP_SHIM_NONSTDC(_open) int __cdecl open(const char *, int, ...);
MP_SHIM_NONSTDC(_read) int __cdecl read(int, void *, unsigned int);
MP_SHIM_NONSTDC(_write) int __cdecl write(int, const void *, unsigned int);
MP_SHIM_NONSTDC(_unlink) int __cdecl unlink(const char *);
