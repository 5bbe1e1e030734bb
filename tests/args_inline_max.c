/* MP_ARGS holds at most MP_ARGS_INLINE_MAX arguments: with
 * MP_ARGS_INLINE_MAX of them this compiles without a warning, with one
 * more (ONE_TOO_MANY) it must not compile at all (tests/CMakeLists.txt). */
#include "mproc.h"

_Static_assert(MP_ARGS_INLINE_MAX == 8, "list MP_ARGS_INLINE_MAX args below");

#ifdef ONE_TOO_MANY
#define MORE , mp_int(9)
#else
#define MORE
#endif

mp_args full_list(void);

mp_args full_list(void) {
    return MP_ARGS(mp_int(1), mp_int(2), mp_int(3), mp_int(4), mp_int(5),
                   mp_int(6), mp_int(7), mp_int(8) MORE);
}
