/* MSVC-mode compile check: MSVC's CRT has no pid_t, so APR's apr.h
 * typedefs one (as int) for non-GNU compilers, which conflicts with
 * mingw-w64's. mingw-w64's pid_t is left out, as in the real CRT; its
 * _pid_t, which other mingw-w64 headers use, is kept. */
#ifndef _PID_T_
#define _PID_T_
#ifdef _WIN64
typedef __int64 _pid_t;
#else
typedef int _pid_t;
#endif
#endif
#include_next <sys/types.h>
