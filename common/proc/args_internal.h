/* Owned argument lists: the deep copy a process or task keeps, their wire
 * form for spawned children, and the mp_call a target receives. */
#ifndef MP_COMMON_ARGS_INTERNAL_H
#define MP_COMMON_ARGS_INTERNAL_H

#include "mproc/args.h"
#include "util/handles.h"

/* Total bytes of one argument list (strings, bytes, objects' state). */
#define MP__ARGS_MAX ((size_t)1 << 30)
#define MP__ARGS_COUNT_MAX 4096u

/* An argument list that owns its strings and bytes (one allocation). For
 * an imported list, `imported` marks the objects to release. */
typedef struct mp__argv {
    mp_arg *v;
    size_t n;
    void *mem;
    bool imported;
} mp__argv;

/* The arguments of a list: the caller's array, or the ones held inline
 * (v NULL). NULL for an inline list longer than its storage, which only a
 * hand-filled list can be. */
static inline const mp_arg *mp__args_items(const mp_args *args) {
    if (args->v)
        return args->v;
    return args->n <= MP_ARGS_INLINE_MAX ? args->mp__in : NULL;
}

/* Deep-copies args. MP_EINVAL for an unknown type, a NULL object, a handle
 * not open in this process or an inline list longer than
 * MP_ARGS_INLINE_MAX, MP_EMSGSIZE past the bounds, MP_ENOMEM. OS handles
 * are borrowed, not duplicated: the caller's stay theirs. */
int mp__argv_copy(mp_args args, mp__argv *out);
/* Frees the list. An imported list releases its objects, never its OS
 * handles: those belong to the target (args.h, mp_handle). */
void mp__argv_free(mp__argv *a);

/* MP_EINVAL when a handle of the list is no longer open in this process
 * (closed since the list was copied), checked by both start methods before
 * the child exists. */
int mp__argv_check_handles(const mp__argv *a);

/* Wire form (for spawned children). Objects are exported through their
 * mp__objtype; MP_ENOTSUP for a kind that cannot cross. */
int mp__argv_encode(const mp__argv *a, mp__wbuf *w, mp__handles *hs);
/* The same wire form straight from the caller's list, checked as
 * mp__argv_copy checks it, without the copy, for a pool task's list:
 * MP_ENOTSUP for an mproc object or an OS handle, which a pool task's list
 * cannot carry (mp__argv_decode_in takes no handles). */
int mp__args_encode(mp_args args, mp__wbuf *w, mp__handles *hs);
/* Decodes from r; objects are imported taking handles from hs. On error
 * everything taken is released. */
int mp__argv_decode(mp__rbuf *r, mp__handle *hs, size_t nh, mp__argv *out);
/* The same for a list without objects (a pool task's), into store when it
 * has room for cap arguments (no allocation), else into the heap. Release
 * with mp__argv_free as usual. */
int mp__argv_decode_in(mp__rbuf *r, mp_arg *store, size_t cap, mp__argv *out);

struct mp_call {
    const mp_arg *v;
    size_t n;
    mp_buf ret; /* bytes set by mp_call_return */
    bool has_ret;
};

#endif
