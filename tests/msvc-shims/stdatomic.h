/* MSVC-mode compile check: MSVC's <stdatomic.h> stops the build unless
 * /experimental:c11atomics is given (Visual Studio 2022 17.5 and later),
 * and mproc must build without it. Only common/atomics.h may include it,
 * and only on its C11 branch, which MSVC never takes. */
#error "<stdatomic.h> with MSVC needs /experimental:c11atomics; use common/atomics.h"
