/* MSVC-mode compile check: how the Microsoft CRT marks the functions that
 * MSVC warns about (C4996). The shims of string.h, stdio.h, stdlib.h,
 * wchar.h, time.h, io.h, process.h and direct.h include the real mingw-w64
 * header, then redeclare those functions with these marks, so that clang
 * flags each use (-Wdeprecated-declarations) as MSVC would. mingw-w64's
 * own marks are not used: they are off without __GNUC__, and once turned
 * on they also mark functions the real CRT leaves alone (memcpy). As in the
 * CRT, _CRT_SECURE_NO_WARNINGS and _CRT_NONSTDC_NO_DEPRECATE turn them off.
 */
#ifndef MP_SHIM_MSVC_CRT_H
#define MP_SHIM_MSVC_CRT_H

/* The "secure" replacements: _CRT_INSECURE_DEPRECATE in the CRT. */
#ifdef _CRT_SECURE_NO_WARNINGS
#define MP_SHIM_INSECURE(repl)
#else
#define MP_SHIM_INSECURE(repl)                                                \
    __declspec(deprecated("This function or variable may be unsafe. "         \
                          "Consider using " #repl " instead. To disable "     \
                          "deprecation, use _CRT_SECURE_NO_WARNINGS."))
#endif

/* The POSIX names: _CRT_NONSTDC_DEPRECATE in the CRT. */
#ifdef _CRT_NONSTDC_NO_DEPRECATE
#define MP_SHIM_NONSTDC(repl)
#else
#define MP_SHIM_NONSTDC(repl)                                                 \
    __declspec(deprecated("The POSIX name for this item is deprecated. "      \
                          "Instead, use the ISO C and C++ conformant name: "  \
                          #repl "."))
#endif

#endif
