#include "mproc/core.h"

const char *mp_strerror(int err) {
    switch (err) {
#define MP__ERR_MSG(name, val, msg)                                           \
    case MP_##name:                                                           \
        return msg;
        MP_ERRNO_MAP(MP__ERR_MSG)
#undef MP__ERR_MSG
    case 0:
        return "success";
    default:
        return "unknown error";
    }
}

const char *mp_err_name(int err) {
    switch (err) {
#define MP__ERR_NAME(name, val, msg)                                          \
    case MP_##name:                                                           \
        return "MP_" #name;
        MP_ERRNO_MAP(MP__ERR_NAME)
#undef MP__ERR_NAME
    case 0:
        return "MP_OK";
    default:
        return "MP_EUNKNOWN";
    }
}

unsigned mp_version(void) { return MP_VERSION_HEX; }

const char *mp_version_string(void) { return MP_VERSION_STRING; }
