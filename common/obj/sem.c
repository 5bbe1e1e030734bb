/* Semaphore and BoundedSemaphore: an os semaphore in a shared mapping,
 * [header][os sem]. */
#include <stdlib.h>

#include "obj/shobj.h"
#include "util/wait_policy.h"

#define SEM_OFF MP__SHOBJ_HDR

struct mp_sem {
    mp__shobj obj;
    mp__os_sem *s;
};

static size_t sem_size(const uint64_t param[MP__NPARAM]) {
    return param[0] <= INT32_MAX ? SEM_OFF + MP__OS_SEM_SIZE : 0;
}

static int sem_bind(void *obj) {
    mp_sem *s = obj;
    s->s = &mp__shobj_prim(s, 0)->sem;
    return 0;
}

const mp__shkind mp__sem_kind = {
    .kind = MP_OBJ_SEM,
    .obj_size = sizeof(mp_sem),
    .size = sem_size,
    .nprims = 1,
    .prims = {{MP__PRIM_SEM, SEM_OFF, "sem"}},
    .bind = sem_bind,
};

int mp_sem_new_ex(mp_sem **out, unsigned value, unsigned max,
                  const mp_sync_options *opts) {
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    if (value > INT32_MAX || max > INT32_MAX || (max && value > max))
        return MP_EINVAL;
    mp__shobj_req req = {
        .name = opts ? opts->name : NULL,
        .exclusive = opts && opts->exclusive,
        .param = {max},
        .sem_value = value,
        .sem_max = max,
    };
    return mp__shobj_new((void **)out, &mp__sem_kind, &req);
}

int mp_sem_new(mp_sem **s, unsigned value, unsigned max) {
    return mp_sem_new_ex(s, value, max, NULL);
}

static int sem_op(void *s, mp__deadline d) { return mp__os_sem_wait(s, d); }

int mp_sem_acquire(mp_sem *s, long timeout_ms) {
    if (!s || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    return mp__poll_then_block(sem_op, s->s, mp__deadline_in(timeout_ms));
}

int mp_sem_release(mp_sem *s) { return s ? mp__os_sem_post(s->s) : MP_EINVAL; }

int mp_sem_get_value(mp_sem *s, int *value) {
    if (!s || !value)
        return MP_EINVAL;
    return mp__os_sem_value(s->s, value);
}

void mp_sem_free(mp_sem *s) { mp__shobj_free(s); }
