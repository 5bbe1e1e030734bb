#include "mproc/core.h"

/* The codes are exactly -1 .. MP_ERRNO_MIN: each lies in that range, and
 * the switches below refuse duplicates, so none is missing. */
#define MP__ERR_IN_RANGE(name, val, msg)                                      \
    _Static_assert(MP_##name < 0 && MP_##name >= MP_ERRNO_MIN,                \
                   "MP_" #name " outside -1 .. MP_ERRNO_MIN");
MP_ERRNO_MAP(MP__ERR_IN_RANGE)
#undef MP__ERR_IN_RANGE

const char *mp_strerror(int err) {
    switch (err) {
#define MP__ERR_MSG(name, val, msg)                                           \
    case MP_##name: return msg;
        MP_ERRNO_MAP(MP__ERR_MSG)
#undef MP__ERR_MSG
    case MP_OK: return "success";
    default: return "unknown error";
    }
}

const char *mp_err_name(int err) {
    switch (err) {
#define MP__ERR_NAME(name, val, msg)                                          \
    case MP_##name: return "MP_" #name;
        MP_ERRNO_MAP(MP__ERR_NAME)
#undef MP__ERR_NAME
    case MP_OK: return "MP_OK";
    default: return "MP_EUNKNOWN";
    }
}

unsigned mp_version(void) { return MP_VERSION_HEX; }

const char *mp_version_string(void) { return MP_VERSION_STRING; }
