/* Lock and RLock: a robust os mutex plus the owning thread and recursion
 * depth, in a mapping of their own ([header][lock area]) or embedded in a
 * Value, Array or Condition (lock_state.h). */
#include <stdlib.h>

#include "obj/lock_state.h"
#include "util/wait_policy.h"

_Static_assert(sizeof(mp__lock_state) <= MP__LOCK_AREA, "lock area");

void mp__lock_bind(mp_lock *l, void *area, mp__os_mutex *m, bool embedded) {
    l->st = area;
    l->m = m;
    l->embedded = embedded;
}

void mp__lock_init(mp_lock *l, bool recursive) {
    mp__store64(&l->st->owner, 0, MP__RELAXED);
    l->st->count = 0;
    l->st->recursive = recursive;
}

static bool owned(mp_lock *l) {
    return mp__load64(&l->st->owner, MP__RELAXED) == mp__os_thread_id();
}

/* The holder takes an RLock again. */
static int relock(mp__lock_state *st) {
    if (!st->recursive)
        return MP_ESTATE;
    if (st->count == UINT32_MAX)
        return MP_EOVERFLOW;
    st->count++;
    return 0;
}

static int mutex_op(void *m, mp__deadline d) {
    return mp__os_mutex_lock(m, d);
}

/* The hot path is kept short on purpose (see PERFORMANCE.md, "Value += 1
 * under its lock"): one thread-id compare, the os mutex, two plain stores,
 * all on one cache line. Contended, it polls before sleeping
 * (mp__poll_then_block). */
int mp_lock_acquire(mp_lock *l, long timeout_ms) {
    if (!l || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    mp__lock_state *st = l->st;
    uint64_t me = mp__os_thread_id();
    if (mp__load64(&st->owner, MP__RELAXED) == me)
        return relock(st);
    int rc = mp__poll_then_block(mutex_op, l->m, mp__deadline_in(timeout_ms));
    if (rc == 0 || rc == MP_EOWNERDEAD) {
        /* After a dead owner its depth and id are stale: start afresh. */
        st->count = 1;
        mp__store64(&st->owner, me, MP__RELAXED);
    }
    return rc;
}

int mp_lock_release(mp_lock *l) {
    if (!l)
        return MP_EINVAL;
    mp__lock_state *st = l->st;
    if (mp__load64(&st->owner, MP__RELAXED) != mp__os_thread_id())
        return MP_ESTATE;
    if (--st->count > 0)
        return 0;
    mp__store64(&st->owner, 0, MP__RELAXED);
    return mp__os_mutex_unlock(l->m);
}

uint32_t mp__lock_save(mp_lock *l) {
    uint32_t depth = l->st->count;
    l->st->count = 1;
    mp_lock_release(l);
    return depth;
}

int mp__lock_restore(mp_lock *l, uint32_t depth) {
    int rc = mp_lock_acquire(l, MP_INFINITE);
    if (rc == 0 || rc == MP_EOWNERDEAD)
        l->st->count = depth;
    return rc;
}

int mp_lock_is_owned(mp_lock *l) { return l ? owned(l) : MP_EINVAL; }

int mp_lock_is_recursive(mp_lock *l) {
    return l ? (int)l->st->recursive : MP_EINVAL;
}

/* ---- standalone Lock: [header][lock area] ---- */

#define LOCK_OFF MP__SHOBJ_HDR

static size_t lock_size(const uint64_t param[MP__NPARAM]) {
    return param[0] <= 1 ? LOCK_OFF + MP__LOCK_AREA : 0;
}

static int lock_bind(void *obj) {
    mp_lock *l = obj;
    mp__lock_bind(l, mp__shobj_at(l, LOCK_OFF), &mp__shobj_prim(l, 0)->mx,
                  false);
    return 0;
}

static void lock_init(void *obj, const void *arg) {
    mp_lock *l = obj;
    (void)arg;
    mp__lock_init(l, mp__shobj_param(l, 0) != 0);
}

const mp__shkind mp__lock_kind = {
    .kind = MP_OBJ_LOCK,
    .obj_size = sizeof(mp_lock),
    .size = lock_size,
    .nprims = 1,
    .prims = {{MP__PRIM_MUTEX, MP__LOCK_MUTEX_AT(LOCK_OFF), "mtx"}},
    .bind = lock_bind,
    .init = lock_init,
};

int mp__ext_lock_export(mp_lock *l, mp__wbuf *w, mp__handles *hs) {
    mp__w_u8(w, l != NULL);
    if (l && !w->err)
        return mp__shobj_export(l, w, hs);
    return w->err;
}

int mp__ext_lock_import(mp_lock **l, mp__rbuf *r, mp__handle *hs, size_t nh) {
    uint8_t ext;
    void *got = NULL;
    int rc = mp__r_u8(r, &ext);
    if (!rc && ext)
        rc = mp__shobj_import(&got, &mp__lock_kind, r, hs, nh);
    *l = got;
    return rc;
}

int mp_lock_new_ex(mp_lock **out, bool recursive,
                   const mp_sync_options *opts) {
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    mp__shobj_req req = {
        .name = opts ? opts->name : NULL,
        .exclusive = opts && opts->exclusive,
        .param = {recursive},
    };
    return mp__shobj_new((void **)out, &mp__lock_kind, &req);
}

int mp_lock_new(mp_lock **l, bool recursive) {
    return mp_lock_new_ex(l, recursive, NULL);
}

void mp_lock_free(mp_lock *l) {
    if (l && !l->embedded)
        mp__shobj_free(l);
}
