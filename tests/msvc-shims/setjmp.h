/* MSVC-mode compile check: mingw-w64's <setjmp.h> declares a two-argument
 * _setjmp, which conflicts with the one clang's <intrin.h> declares as
 * MSVC's does. mingw-w64's one-argument form is MSVC's. */
#ifndef USE_NO_MINGW_SETJMP_TWO_ARGS
#define USE_NO_MINGW_SETJMP_TWO_ARGS 1
#endif
#include_next <setjmp.h>
