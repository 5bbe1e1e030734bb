/* How an mproc object crosses into a spawned child: each object kind that
 * can be an argument provides one of these. A forked child needs none of
 * it: it shares the parent's mappings and descriptors as they are. */
#ifndef MP_COMMON_OBJTYPE_H
#define MP_COMMON_OBJTYPE_H

#include "mproc/args.h"
#include "base/codec.h"
#include "util/handles.h"
#include "os/os_base.h"

/* How a kind crosses, for a kind that does not live in shared memory (a
 * Connection); the shared-memory kinds all cross through shobj.c. */
typedef struct mp__objtype {
    /* Parent: writes the object's state to w and its OS handles to hs (which
     * borrows them: the parent keeps its own). */
    int (*export_)(void *obj, mp__wbuf *w, mp__handles *hs);
    /* Child: rebuilds the object from r, taking ownership of the handles it
     * takes from hs. On error it releases what it took. */
    int (*import_)(void **obj, mp__rbuf *r, mp__handle *hs, size_t nh);
    /* Child: releases an imported object once the target has returned. */
    void (*release)(void *obj);
} mp__objtype;

/* An object argument crossing into a spawned child, whatever its kind:
 * export (parent; MP_ENOTSUP for a kind that cannot cross), import (child;
 * MP_EPROTO for an unknown kind), release (child, after the target). */
int mp__obj_export(mp_obj_kind kind, void *obj, mp__wbuf *w, mp__handles *hs);
int mp__obj_import(mp_obj_kind kind, void **obj, mp__rbuf *r, mp__handle *hs,
                   size_t nh);
void mp__obj_release(mp_obj_kind kind, void *obj);

#endif
