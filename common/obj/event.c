/* Event: a flag in a shared mapping and the os wait-on-address primitive,
 * [header][flag][wait]. A waiter sleeps on the flag and re-checks it, so a
 * waiter killed in its sleep leaves nothing behind that could block or
 * confuse the others. */
#include <stdlib.h>

#include "obj/shobj.h"

#define EV_FLAG MP__SHOBJ_HDR
#define EV_WAIT (EV_FLAG + 64)

struct mp_event {
    mp__shobj obj;
    MP__ATOMIC(uint32_t) * flag;
    mp__os_wait *w;
};

static size_t event_size(const uint64_t param[MP__NPARAM]) {
    (void)param;
    return EV_WAIT + MP__OS_WAIT_SIZE;
}

static int event_bind(void *obj) {
    mp_event *e = obj;
    e->flag = mp__shobj_at(e, EV_FLAG);
    e->w = &mp__shobj_prim(e, 0)->wt;
    return 0;
}

const mp__shkind mp__event_kind = {
    .kind = MP_OBJ_EVENT,
    .obj_size = sizeof(mp_event),
    .size = event_size,
    .nprims = 1,
    .prims = {{MP__PRIM_WAIT, EV_WAIT, "wait"}},
    .bind = event_bind,
};

int mp_event_new(mp_event **out, const mp_sync_options *opts) {
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    mp__shobj_req req = {
        .name = opts ? opts->name : NULL,
        .exclusive = opts && opts->exclusive,
    };
    return mp__shobj_new((void **)out, &mp__event_kind, &req);
}

int mp_event_set(mp_event *e) {
    if (!e)
        return MP_EINVAL;
    if (mp__exchange32(e->flag, 1, MP__SEQ_CST) == 0)
        mp__os_wake(e->w, (const void *)e->flag, INT32_MAX);
    return 0;
}

int mp_event_clear(mp_event *e) {
    if (!e)
        return MP_EINVAL;
    mp__store32(e->flag, 0, MP__SEQ_CST);
    return 0;
}

int mp_event_is_set(mp_event *e) {
    return e ? (int)mp__load32(e->flag, MP__SEQ_CST) : MP_EINVAL;
}

int mp_event_wait(mp_event *e, long timeout_ms) {
    if (!e || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    mp__deadline dl = mp__deadline_in(timeout_ms);
    while (!mp__load32(e->flag, MP__SEQ_CST))
        if (mp__os_wait_on(e->w, (const void *)e->flag, 0, dl) == MP_ETIMEDOUT)
            return mp__load32(e->flag, MP__SEQ_CST) ? 0 : mp__deadline_err(dl);
    return 0;
}

void mp_event_free(mp_event *e) { mp__shobj_free(e); }
