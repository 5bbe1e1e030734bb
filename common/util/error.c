#include "mproc/core.h"
#include "base/atomics.h"
#include "os/os_base.h"

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

/* The OS's code behind the calling thread's last mapped error. */
static MP__TLS long last_os_error;

void mp__note_os_error(long e) {
    if (e)
        last_os_error = e;
}

long mp_os_error(void) { return last_os_error; }

long mp__os_error_save(void) { return last_os_error; }

void mp__os_error_restore(long e) { last_os_error = e; }

unsigned mp_version(void) { return MP_VERSION_HEX; }

const char *mp_version_string(void) { return MP_VERSION_STRING; }
