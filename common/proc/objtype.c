/* Every kind that can be an argument of a spawned child: the shared-memory
 * kinds by their descriptor, the others by their mp__objtype. */
#include "proc/objtype.h"
#include "obj/shobj.h"

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
