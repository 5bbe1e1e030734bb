#include <stdlib.h>
#include <string.h>

#include "proc/fnloc.h"
#include "os/os_proc.h"

/* The OS layer takes and gives code addresses as data pointers (as dladdr
 * and GetModuleHandleEx do). ISO C has no conversion between function and
 * data pointers (MSVC warns C4152, gcc -Wpedantic too), but every platform
 * mproc runs on gives both one size and representation: the bits are
 * copied. */
_Static_assert(sizeof(mp_target) == sizeof(void *),
               "function and data pointers differ in size");

int mp__fnloc_write(mp__wbuf *w, mp_target fn) {
    /* On the heap: a location holds a path of up to MP__MODULE_MAX bytes. */
    mp__fnloc *loc = malloc(sizeof *loc);
    if (!loc)
        return MP_ENOMEM;
    const void *addr;
    memcpy(&addr, &fn, sizeof addr);
    int rc = mp__os_fn_locate(addr, loc);
    if (!rc) {
        mp__w_blob(w, loc->module, strlen(loc->module) + 1);
        mp__w_u64(w, loc->offset);
        mp__w_blob(w, loc->ident, loc->ident_len);
    }
    free(loc);
    return rc;
}

int mp__fnloc_read(mp__rbuf *r, mp_target *fn) {
    const void *mod, *ident;
    size_t mlen, ilen;
    mp__fnloc *loc = malloc(sizeof *loc);
    if (!loc)
        return MP_ENOMEM;
    int rc = mp__r_blob(r, &mod, &mlen, MP__MODULE_MAX);
    if (!rc && (mlen == 0 || ((const char *)mod)[mlen - 1]))
        rc = MP_EPROTO; /* the module path must be a C string */
    if (!rc)
        rc = mp__r_u64(r, &loc->offset);
    if (!rc)
        rc = mp__r_blob(r, &ident, &ilen, MP__IDENT_MAX);
    void *addr = NULL;
    if (!rc) {
        memcpy(loc->module, mod, mlen);
        memcpy(loc->ident, ident, ilen);
        loc->ident_len = (uint32_t)ilen;
        rc = mp__os_fn_resolve(loc, &addr);
    }
    free(loc);
    if (!rc)
        memcpy(fn, &addr, sizeof *fn);
    return rc;
}
