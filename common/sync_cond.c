/* Event, Condition and Barrier, built on the os wait-on-address primitive:
 * a waiter sleeps on a word (a flag or a sequence number) of the object's
 * mapping and re-checks it, so a waiter killed in its sleep leaves no count
 * or token behind that could block or confuse the others (unlike CPython's
 * semaphore-counting Condition). */
#include <stdlib.h>
#include <string.h>

#include "sync_internal.h"

#define NAME_BUF (MP__OS_NAME_MAX + 16)

static bool bad_timeout(long t) { return t < 0 && t != MP_INFINITE; }

/* ---- Event: [header][flag][wait] ---- */

#define EV_FLAG MP__SHOBJ_HDR
#define EV_WAIT (EV_FLAG + 64)
#define EV_SIZE (EV_WAIT + MP__OS_WAIT_SIZE)

struct mp_event {
    mp__shobj obj;
    _Atomic uint32_t *flag;
    mp__os_wait w;
};

static void event_bind(mp_event *e) {
    e->flag = mp__shobj_at(&e->obj, EV_FLAG);
}

int mp_event_new(mp_event **out, const mp_sync_options *opts) {
    char buf[NAME_BUF];
    bool created;
    uint64_t param[MP__NPARAM] = {0};
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    const char *name = opts ? opts->name : NULL;
    mp_event *e = calloc(1, sizeof *e);
    if (!e)
        return MP_ENOMEM;
    int rc = mp__shobj_new(&e->obj, MP_OBJ_EVENT, EV_SIZE, param, name,
                           opts && opts->exclusive, &created);
    if (!rc) {
        event_bind(e);
        void *mem = mp__shobj_at(&e->obj, EV_WAIT);
        const char *pn = mp__subname(buf, sizeof buf, name, "wait");
        rc = created ? mp__os_wait_create(&e->w, mem, pn)
                     : mp__os_wait_attach(&e->w, mem, MP__BAD_HANDLE, pn);
        if (rc)
            mp__shobj_free(&e->obj);
    }
    if (rc) {
        free(e);
        return rc;
    }
    if (created)
        mp__shobj_ready(&e->obj);
    *out = e;
    return 0;
}

int mp_event_set(mp_event *e) {
    if (!e)
        return MP_EINVAL;
    if (atomic_exchange(e->flag, 1) == 0)
        mp__os_wake(&e->w, e->flag, INT32_MAX);
    return 0;
}

int mp_event_clear(mp_event *e) {
    if (!e)
        return MP_EINVAL;
    atomic_store(e->flag, 0);
    return 0;
}

int mp_event_is_set(mp_event *e) {
    return e ? (int)atomic_load(e->flag) : MP_EINVAL;
}

int mp_event_wait(mp_event *e, long timeout_ms) {
    if (!e || bad_timeout(timeout_ms))
        return MP_EINVAL;
    mp__deadline dl = mp__deadline_in(timeout_ms);
    while (!atomic_load(e->flag))
        if (mp__os_wait_on(&e->w, e->flag, 0, dl) == MP_ETIMEDOUT)
            return atomic_load(e->flag) ? 0 : mp__deadline_err(dl);
    return 0;
}

void mp_event_free(mp_event *e) {
    if (!e)
        return;
    mp__os_wait_close(&e->w);
    mp__shobj_free(&e->obj);
    free(e);
}

static int event_export(void *obj, mp__wbuf *w, mp__handles *hs) {
    mp_event *e = obj;
    mp__shobj_export(&e->obj, w, hs);
    mp__put_opt_handle(hs, w, e->w.h);
    return w->err;
}

static int event_import(void **out, mp__rbuf *r, mp__handle *hs, size_t nh) {
    mp__handle h;
    mp_event *e = calloc(1, sizeof *e);
    if (!e)
        return MP_ENOMEM;
    int rc = mp__shobj_import(&e->obj, MP_OBJ_EVENT, r, hs, nh);
    if (!rc && (rc = mp__take_opt_handle(r, hs, nh, &h)))
        mp__shobj_free(&e->obj);
    if (!rc) {
        event_bind(e);
        rc = mp__os_wait_attach(&e->w, mp__shobj_at(&e->obj, EV_WAIT), h, NULL);
        if (rc)
            mp__shobj_free(&e->obj);
    }
    if (rc) {
        free(e);
        return rc;
    }
    *out = e;
    return 0;
}

static void event_release_(void *obj) { mp_event_free(obj); }

const mp__objtype mp__event_type = {event_export, event_import,
                                    event_release_};

/* ---- Condition: [header][own lock][state][wait] ---- */

/* A waiter sleeps on seq, which every notify bumps. That alone would let a
 * notify(n) wake more than n: a Windows waiter re-checks the word every
 * 50 ms (see win32/os_sync.c), and any waiter may wake spuriously. So a
 * notify also hands out credits, at most one per waiter not yet served,
 * and only a waiter that finds seq moved and takes a credit returns as
 * notified; the others sleep again. Everything here changes under the
 * condition's lock. A waiter killed in its sleep stays counted: it can
 * cost at most one spurious return per notify later, never a lost one. */
typedef struct cv_state {
    _Atomic uint32_t seq;
    uint32_t credits; /* notifications not yet taken */
    uint32_t waiters; /* waiting, and not yet served */
} cv_state;

#define CV_LOCK MP__SHOBJ_HDR
#define CV_SEQ (CV_LOCK + MP__LOCK_AREA)
#define CV_WAIT (CV_SEQ + 64)
#define CV_SIZE (CV_WAIT + MP__OS_WAIT_SIZE)

struct mp_cond {
    mp__shobj obj;
    mp_lock own;      /* the lock in our mapping, used when lock == &own */
    mp_lock *lock;
    bool free_lock;   /* an imported external lock we must free */
    cv_state *st;
    mp__os_wait w;
};

static int cond_setup(mp_cond *c, bool create, const char *name, mp__handle lh,
                      mp__handle wh) {
    char buf[NAME_BUF];
    c->st = mp__shobj_at(&c->obj, CV_SEQ);
    c->own.embedded = true;
    int rc = mp__lock_init(&c->own, mp__shobj_at(&c->obj, CV_LOCK), create,
                           true, mp__subname(buf, sizeof buf, name, "mtx"), lh);
    if (rc) {
        mp__os_close(wh);
        return rc;
    }
    void *mem = mp__shobj_at(&c->obj, CV_WAIT);
    const char *pn = mp__subname(buf, sizeof buf, name, "wait");
    rc = create ? mp__os_wait_create(&c->w, mem, pn)
                : mp__os_wait_attach(&c->w, mem, wh, pn);
    if (rc)
        mp__lock_fini(&c->own);
    return rc;
}

int mp_cond_new(mp_cond **out, mp_lock *lock, const mp_sync_options *opts) {
    bool created;
    uint64_t param[MP__NPARAM] = {0};
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    const char *name = opts ? opts->name : NULL;
    if (name && lock)
        return MP_EINVAL;
    mp_cond *c = calloc(1, sizeof *c);
    if (!c)
        return MP_ENOMEM;
    int rc = mp__shobj_new(&c->obj, MP_OBJ_COND, CV_SIZE, param, name,
                           opts && opts->exclusive, &created);
    if (!rc && (rc = cond_setup(c, created, name, MP__BAD_HANDLE,
                                MP__BAD_HANDLE)))
        mp__shobj_free(&c->obj);
    if (rc) {
        free(c);
        return rc;
    }
    c->lock = lock ? lock : &c->own;
    if (created)
        mp__shobj_ready(&c->obj);
    *out = c;
    return 0;
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
    uint32_t s = atomic_load(&st->seq);
    st->waiters++;
    for (;;) {
        uint32_t depth = mp__lock_save(c->lock);
        int rc = mp__os_wait_on(&c->w, &st->seq, s, dl);
        int lrc = mp__lock_restore(c->lock, depth);
        if (lrc && lrc != MP_EOWNERDEAD)
            return lrc; /* the lock is not ours: leave the counts alone */
        uint32_t now = atomic_load(&st->seq);
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
    if (!c || bad_timeout(timeout_ms))
        return MP_EINVAL;
    if (mp_lock_is_owned(c->lock) != 1)
        return MP_ESTATE;
    return cond_wait(c, mp__deadline_in(timeout_ms));
}

int mp_cond_wait_for(mp_cond *c, bool (*pred)(void *), void *arg,
                     long timeout_ms) {
    if (!c || !pred || bad_timeout(timeout_ms))
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
        atomic_fetch_add(&st->seq, 1);
        mp__os_wake(&c->w, &st->seq, (int)k);
    }
    return 0;
}

int mp_cond_notify_all(mp_cond *c) { return mp_cond_notify(c, INT32_MAX); }

void mp_cond_free(mp_cond *c) {
    if (!c)
        return;
    if (c->free_lock)
        mp_lock_free(c->lock);
    mp__os_wait_close(&c->w);
    mp__lock_fini(&c->own);
    mp__shobj_free(&c->obj);
    free(c);
}

static int cond_export(void *obj, mp__wbuf *w, mp__handles *hs) {
    mp_cond *c = obj;
    mp__shobj_export(&c->obj, w, hs);
    mp__put_opt_handle(hs, w, c->own.m.h);
    mp__put_opt_handle(hs, w, c->w.h);
    mp__w_u8(w, c->lock != &c->own);
    if (c->lock != &c->own && !w->err)
        return mp__lock_type.export_(c->lock, w, hs);
    return w->err;
}

static int cond_import_lock(mp_cond *c, mp__rbuf *r, mp__handle *hs,
                            size_t nh) {
    uint8_t ext;
    void *l;
    int rc = mp__r_u8(r, &ext);
    c->lock = &c->own;
    if (rc || !ext)
        return rc;
    if ((rc = mp__lock_type.import_(&l, r, hs, nh)))
        return rc;
    c->lock = l;
    c->free_lock = true;
    return 0;
}

static int cond_import(void **out, mp__rbuf *r, mp__handle *hs, size_t nh) {
    mp__handle lh = MP__BAD_HANDLE, wh = MP__BAD_HANDLE;
    mp_cond *c = calloc(1, sizeof *c);
    if (!c)
        return MP_ENOMEM;
    int rc = mp__shobj_import(&c->obj, MP_OBJ_COND, r, hs, nh);
    if (rc) {
        free(c);
        return rc;
    }
    rc = mp__take_opt_handle(r, hs, nh, &lh);
    if (!rc && (rc = mp__take_opt_handle(r, hs, nh, &wh)))
        mp__os_close(lh);
    if (!rc && !(rc = cond_setup(c, false, NULL, lh, wh)) &&
        (rc = cond_import_lock(c, r, hs, nh))) {
        mp__os_wait_close(&c->w);
        mp__lock_fini(&c->own);
    }
    if (rc) {
        mp__shobj_free(&c->obj);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void cond_release_(void *obj) { mp_cond_free(obj); }

const mp__objtype mp__cond_type = {cond_export, cond_import, cond_release_};
