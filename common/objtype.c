#include <stdlib.h>

#include "objtype.h"
#include "sync_internal.h"

extern const mp__objtype mp__queue_objtype;
extern const mp__objtype mp__conn_objtype;

/* Each object kind that can be passed to a spawned child registers its
 * mp__objtype here. */
static const mp__objtype *const types[MP_OBJ_KIND_COUNT_] = {
    [MP_OBJ_NONE] = NULL,
    [MP_OBJ_CONN] = &mp__conn_objtype,
    [MP_OBJ_QUEUE] = &mp__queue_objtype,
    [MP_OBJ_VALUE] = &mp__value_type, [MP_OBJ_ARRAY] = &mp__array_type,
    [MP_OBJ_SEM] = &mp__sem_type,     [MP_OBJ_LOCK] = &mp__lock_type,
    [MP_OBJ_EVENT] = &mp__event_type, [MP_OBJ_COND] = &mp__cond_type,
    [MP_OBJ_BARRIER] = &mp__barrier_type,
};

const mp__objtype *mp__objtype_get(mp_obj_kind kind) {
    if ((int)kind <= 0 || kind >= MP_OBJ_KIND_COUNT_)
        return NULL;
    return types[kind];
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
