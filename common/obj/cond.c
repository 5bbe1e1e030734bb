/* Condition: a sequence word and the os wait-on-address primitive in a
 * shared mapping, with its own RLock embedded or a Lock given by the
 * caller, [header][own lock][state][wait]. Not CPython's semaphore
 * counting: a waiter killed in its sleep leaves no token behind. */
#include <stdlib.h>

#include "obj/lock_state.h"

/* A waiter sleeps on seq, which every notify bumps. That alone would let a
 * notify(n) wake more than n: a Windows waiter re-checks the word every
 * 50 ms (see win32/os_sync.c), and any waiter may wake spuriously. So a
 * notify also hands out credits, at most one per waiter not yet served,
 * and only a waiter that finds seq moved and takes a credit returns as
 * notified; the others sleep again. Everything here changes under the
 * condition's lock. A waiter killed in its sleep stays counted: it can
 * cost at most one spurious return per notify later, never a lost one. */
typedef struct cv_state {
    MP__ATOMIC(uint32_t) seq;
    uint32_t credits; /* notifications not yet taken */
    uint32_t waiters; /* waiting, and not yet served */
} cv_state;

#define CV_LOCK MP__SHOBJ_HDR
#define CV_SEQ (CV_LOCK + MP__LOCK_AREA)
#define CV_WAIT (CV_SEQ + 64)

struct mp_cond {
    mp__shobj obj;
    mp_lock own; /* the lock in our mapping, used when lock == &own */
    mp_lock *lock;
    bool free_lock; /* an imported external lock we must free */
    cv_state *st;
    mp__os_wait *w;
};

static size_t cond_size(const uint64_t param[MP__NPARAM]) {
    (void)param;
    return CV_WAIT + MP__OS_WAIT_SIZE;
}

static int cond_bind(void *obj) {
    mp_cond *c = obj;
    mp__lock_bind(&c->own, mp__shobj_at(c, CV_LOCK), &mp__shobj_prim(c, 0)->mx,
                  true);
    c->lock = &c->own;
    c->st = mp__shobj_at(c, CV_SEQ);
    c->w = &mp__shobj_prim(c, 1)->wt;
    return 0;
}

static void cond_init(void *obj, const void *arg) {
    (void)arg;
    mp__lock_init(&((mp_cond *)obj)->own, true);
}

/* A condition made with the caller's lock carries that lock along. */
static int cond_export_lock(void *obj, mp__wbuf *w, mp__handles *hs) {
    mp_cond *c = obj;
    return mp__ext_lock_export(c->lock != &c->own ? c->lock : NULL, w, hs);
}

static int cond_import_lock(void *obj, mp__rbuf *r, mp__handle *hs,
                            size_t nh) {
    mp_cond *c = obj;
    mp_lock *l;
    int rc = mp__ext_lock_import(&l, r, hs, nh);
    if (!rc && l) {
        c->lock = l;
        c->free_lock = true;
    }
    return rc;
}

static void cond_free_lock(void *obj) {
    mp_cond *c = obj;
    if (c->free_lock)
        mp_lock_free(c->lock);
}

const mp__shkind mp__cond_kind = {
    .kind = MP_OBJ_COND,
    .obj_size = sizeof(mp_cond),
    .size = cond_size,
    .nprims = 2,
    .prims = {{MP__PRIM_MUTEX, MP__LOCK_MUTEX_AT(CV_LOCK), "mtx"},
              {MP__PRIM_WAIT, CV_WAIT, "wait"}},
    .bind = cond_bind,
    .init = cond_init,
    .export_extra = cond_export_lock,
    .import_extra = cond_import_lock,
    .free_extra = cond_free_lock,
};

int mp_cond_new(mp_cond **out, mp_lock *lock, const mp_sync_options *opts) {
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    const char *name = opts ? opts->name : NULL;
    if (name && lock)
        return MP_EINVAL;
    if (lock && !mp__ext_lock_ok(lock))
        return MP_EINVAL;
    mp__shobj_req req = {.name = name, .exclusive = opts && opts->exclusive};
    int rc = mp__shobj_new((void **)out, &mp__cond_kind, &req);
    if (!rc && lock)
        (*out)->lock = lock;
    return rc;
}

mp_lock *mp_cond_lock(mp_cond *c) { return c ? c->lock : NULL; }

int mp_cond_acquire(mp_cond *c, long timeout_ms) {
    return c ? mp_lock_acquire(c->lock, timeout_ms) : MP_EINVAL;
}

int mp_cond_release(mp_cond *c) {
    return c ? mp_lock_release(c->lock) : MP_EINVAL;
}

/* mp_cond_wait until dl, the caller holding the lock. */
static int cond_wait(mp_cond *c, mp__deadline dl) {
    cv_state *st = c->st;
    /* Read under the lock: any notify after this point changes it. */
    uint32_t s = mp__load32(&st->seq, MP__SEQ_CST);
    st->waiters++;
    for (;;) {
        uint32_t depth = mp__lock_save(c->lock);
        int rc = mp__os_wait_on(c->w, (const void *)&st->seq, s, dl);
        int lrc = mp__lock_restore(c->lock, depth);
        if (lrc && lrc != MP_EOWNERDEAD)
            return lrc; /* the lock is not ours: leave the counts alone */
        uint32_t now = mp__load32(&st->seq, MP__SEQ_CST);
        if (now != s && st->credits > 0) {
            st->credits--; /* notified (perhaps as the time ran out) */
            st->waiters--;
            return lrc;
        }
        if (rc == MP_ETIMEDOUT || lrc) {
            st->waiters--;
            return lrc ? lrc : mp__deadline_err(dl);
        }
        s = now; /* the notifications so far were others' */
    }
}

int mp_cond_wait(mp_cond *c, long timeout_ms) {
    if (!c || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    if (mp_lock_is_owned(c->lock) != 1)
        return MP_ESTATE;
    return cond_wait(c, mp__deadline_in(timeout_ms));
}

int mp_cond_wait_for(mp_cond *c, bool (*pred)(void *), void *arg,
                     long timeout_ms) {
    if (!c || !pred || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    if (mp_lock_is_owned(c->lock) != 1)
        return MP_ESTATE;
    mp__deadline dl = mp__deadline_in(timeout_ms);
    while (!pred(arg)) {
        if (mp__deadline_passed(dl))
            return mp__deadline_err(dl);
        int rc = cond_wait(c, dl);
        if (rc && rc != MP_ETIMEDOUT && rc != MP_EAGAIN && rc != MP_EOWNERDEAD)
            return rc;
    }
    return 0;
}

int mp_cond_notify(mp_cond *c, int n) {
    if (!c || n < 0)
        return MP_EINVAL;
    if (mp_lock_is_owned(c->lock) != 1)
        return MP_ESTATE;
    cv_state *st = c->st;
    uint32_t idle = st->waiters > st->credits ? st->waiters - st->credits : 0;
    uint32_t k = (uint32_t)n < idle ? (uint32_t)n : idle;
    if (k > 0) {
        st->credits += k;
        mp__fetch_add32(&st->seq, 1, MP__SEQ_CST);
        mp__os_wake(c->w, (const void *)&st->seq, (int)k);
    }
    return 0;
}

int mp_cond_notify_all(mp_cond *c) { return mp_cond_notify(c, INT32_MAX); }

void mp_cond_free(mp_cond *c) { mp__shobj_free(c); }
