/* Every kind that can be an argument of a spawned child: the shared-memory
 * kinds by their descriptor, the others by their mp__objtype. */
#include <stdlib.h>

#include "objtype.h"
#include "shobj.h"

extern const mp__objtype mp__conn_objtype;
extern const mp__shkind mp__queue_kind, mp__value_kind, mp__array_kind,
    mp__sem_kind, mp__lock_kind, mp__event_kind, mp__cond_kind,
    mp__barrier_kind;

static const mp__shkind *const shared_kinds[MP__OBJ_KIND_COUNT] = {
    [MP_OBJ_QUEUE] = &mp__queue_kind, [MP_OBJ_VALUE] = &mp__value_kind,
    [MP_OBJ_ARRAY] = &mp__array_kind, [MP_OBJ_SEM] = &mp__sem_kind,
    [MP_OBJ_LOCK] = &mp__lock_kind,   [MP_OBJ_EVENT] = &mp__event_kind,
    [MP_OBJ_COND] = &mp__cond_kind,   [MP_OBJ_BARRIER] = &mp__barrier_kind,
};

static const mp__objtype *const other_kinds[MP__OBJ_KIND_COUNT] = {
    [MP_OBJ_CONN] = &mp__conn_objtype,
};

static bool known(mp_obj_kind kind) {
    return (int)kind > 0 && kind < MP__OBJ_KIND_COUNT;
}

int mp__obj_export(mp_obj_kind kind, void *obj, mp__wbuf *w, mp__handles *hs) {
    if (!known(kind))
        return MP_ENOTSUP;
    if (shared_kinds[kind])
        return mp__shobj_export(obj, w, hs);
    return other_kinds[kind] ? other_kinds[kind]->export_(obj, w, hs)
                             : MP_ENOTSUP;
}

int mp__obj_import(mp_obj_kind kind, void **obj, mp__rbuf *r, mp__handle *hs,
                   size_t nh) {
    if (!known(kind))
        return MP_EPROTO;
    if (shared_kinds[kind])
        return mp__shobj_import(obj, shared_kinds[kind], r, hs, nh);
    return other_kinds[kind] ? other_kinds[kind]->import_(obj, r, hs, nh)
                             : MP_EPROTO;
}

void mp__obj_release(mp_obj_kind kind, void *obj) {
    if (!known(kind) || !obj)
        return;
    if (shared_kinds[kind])
        mp__shobj_free(obj);
    else if (other_kinds[kind])
        other_kinds[kind]->release(obj);
}

void mp__handles_put(mp__handles *hs, mp__wbuf *w, mp__handle h) {
    if (w->err)
        return;
    if (hs->n == hs->cap) {
        size_t cap = hs->cap ? hs->cap * 2 : 8;
        mp__handle *v = realloc(hs->v, cap * sizeof *v);
        if (!v) {
            w->err = MP_ENOMEM;
            return;
        }
        hs->v = v;
        hs->cap = cap;
    }
    mp__w_u32(w, (uint32_t)hs->n);
    hs->v[hs->n++] = h;
}

int mp__handles_take(mp__rbuf *r, mp__handle *hs, size_t nh, mp__handle *out) {
    uint32_t i;
    int rc = mp__r_u32(r, &i);
    if (rc)
        return rc;
    if (i >= nh || hs[i] == MP__BAD_HANDLE)
        return MP_EPROTO;
    *out = hs[i];
    hs[i] = MP__BAD_HANDLE;
    return 0;
}

void mp__handles_free(mp__handles *hs) {
    free(hs->v);
    hs->v = NULL;
    hs->n = hs->cap = 0;
}
