/* MSVC-mode compile check (cmake/msvc-check/run.sh): mingw-w64's _mingw.h
 * read by clang --target=x86_64-pc-windows-msvc, which defines _MSC_VER and
 * not __GNUC__. mingw-w64 then spells its attributes the MSVC way
 * (__declspec(noreturn), __declspec(deprecated), ...) but puts them after
 * the declarator, where only GNU attributes may stand, so clang stops in
 * stdlib.h. They are respelled here as the GNU attributes clang takes in
 * that position; project code never sees a __GNUC__. */
#include_next <_mingw.h>

/* Without __GNUC__, _mingw.h defines __attribute__(x) away, and clang's own
 * intrinsic headers (mmintrin.h, reached from winnt.h) then lose their
 * vector types. clang in MSVC mode understands __attribute__, so it is
 * given back. (Project code could then use __attribute__ unnoticed: it
 * never does outside __GNUC__ / __clang__ guards.) */
#undef __attribute__

#undef __MINGW_ATTRIB_NORETURN
#define __MINGW_ATTRIB_NORETURN __attribute__((__noreturn__))
#undef __MINGW_ATTRIB_CONST
#define __MINGW_ATTRIB_CONST __attribute__((__const__))
#undef __MINGW_ATTRIB_MALLOC
#define __MINGW_ATTRIB_MALLOC __attribute__((__malloc__))
#undef __MINGW_ATTRIB_PURE
#define __MINGW_ATTRIB_PURE __attribute__((__pure__))
#undef __MINGW_NOTHROW
#define __MINGW_NOTHROW __attribute__((__nothrow__))
#undef __MINGW_ATTRIB_DEPRECATED
#define __MINGW_ATTRIB_DEPRECATED __attribute__((__deprecated__))
#undef __MINGW_ATTRIB_DEPRECATED_MSG
#define __MINGW_ATTRIB_DEPRECATED_MSG(x) __attribute__((__deprecated__(x)))
