/* Barrier: threading.Barrier's algorithm (filling, draining, resetting,
 * broken) on a robust mutex and a wait-on-address sequence number in one
 * shared mapping. */
#include <stdlib.h>

#include "obj/shobj.h"
#include "util/wait_policy.h"

enum { FILLING = 0, DRAINING = 1, RESETTING = 2, BROKEN = 3 };

typedef struct bar_state {
    MP__ATOMIC(uint32_t) seq; /* bumped on every state change, woken on */
    uint32_t state;
    uint32_t count; /* callers inside wait() */
    uint32_t parties;
    /* Parties that timed out inside wait() and could not take the mutex
     * back to leave (its holder stopped or hung): the next holder takes
     * them out of count and breaks the barrier, as their timeout would. */
    MP__ATOMIC(uint32_t) gone;
} bar_state;

#define BAR_MTX MP__SHOBJ_HDR
#define BAR_STATE (BAR_MTX + MP__OS_MUTEX_SIZE)
#define BAR_WAIT (BAR_STATE + 64)

struct mp_barrier {
    mp__shobj obj;
    mp__os_mutex *m;
    mp__os_wait *w;
    bar_state *st;
};

static size_t bar_size(const uint64_t param[MP__NPARAM]) {
    return param[0] > 0 && param[0] <= INT32_MAX ? BAR_WAIT + MP__OS_WAIT_SIZE
                                                 : 0;
}

static int bar_bind(void *obj) {
    mp_barrier *b = obj;
    b->m = &mp__shobj_prim(b, 0)->mx;
    b->w = &mp__shobj_prim(b, 1)->wt;
    b->st = mp__shobj_at(b, BAR_STATE);
    return 0;
}

static void bar_init(void *obj, const void *arg) {
    mp_barrier *b = obj;
    (void)arg;
    b->st->parties = (uint32_t)mp__shobj_param(b, 0);
}

const mp__shkind mp__barrier_kind = {
    .kind = MP_OBJ_BARRIER,
    .obj_size = sizeof(mp_barrier),
    .size = bar_size,
    .nprims = 2,
    .prims = {{MP__PRIM_MUTEX, BAR_MTX, "mtx"},
              {MP__PRIM_WAIT, BAR_WAIT, "wait"}},
    .bind = bar_bind,
    .init = bar_init,
};

/* bar_sleep's answer when it could not take the mutex back. */
#define BAR_UNLOCKED 1

static void bar_changed(mp_barrier *b) {
    mp__fetch_add32(&b->st->seq, 1, MP__SEQ_CST);
    mp__os_wake(b->w, (const void *)&b->st->seq, INT32_MAX);
}

/* Takes the internal mutex by d: 0, or MP_ETIMEDOUT / MP_EAGAIN when a
 * holder (stopped, hung) keeps it past d. A party that died holding it may
 * have left the state half-changed: the barrier is then broken, as after
 * an abort; so it is when parties left without it (gone). */
static int bar_lock_by(mp_barrier *b, mp__deadline d) {
    int rc = mp__os_mutex_lock(b->m, d);
    if (rc && rc != MP_EOWNERDEAD)
        return rc;
    uint32_t gone = mp__exchange32(&b->st->gone, 0, MP__SEQ_CST);
    if (rc == MP_EOWNERDEAD || gone) {
        b->st->count -= gone < b->st->count ? gone : b->st->count;
        b->st->state = BROKEN;
        bar_changed(b);
    }
    return 0;
}

/* The calls with no timeout of their own wait for the mutex as long as it
 * takes (Python's Barrier does too). */
static void bar_lock(mp_barrier *b) { (void)bar_lock_by(b, MP__DL_FOREVER); }

static void bar_unlock(mp_barrier *b) { mp__os_mutex_unlock(b->m); }

/* Sleeps (mutex released) until the state changes or the deadline: 0 or
 * MP_ETIMEDOUT with the mutex held, or BAR_UNLOCKED when it could not be
 * taken back by the deadline (or, past it, within MP__NOWAIT_LOCK_MS). */
static int bar_sleep(mp_barrier *b, mp__deadline dl) {
    uint32_t s = mp__load32(&b->st->seq, MP__SEQ_CST);
    if (mp__deadline_passed(dl))
        return MP_ETIMEDOUT;
    bar_unlock(b);
    mp__os_wait_on(b->w, (const void *)&b->st->seq, s, dl);
    mp__deadline grace = mp__deadline_in(MP__NOWAIT_LOCK_MS);
    return bar_lock_by(b, dl > grace ? dl : grace) ? BAR_UNLOCKED : 0;
}

/* A party counted in wait() that cannot take the mutex back leaves
 * without it: MP_ETIMEDOUT for it, and the barrier breaks for the rest. */
static int bar_leave_unlocked(mp_barrier *b) {
    mp__fetch_add32(&b->st->gone, 1, MP__SEQ_CST);
    bar_changed(b);
    return MP_ETIMEDOUT;
}

int mp_barrier_new(mp_barrier **out, unsigned parties,
                   const mp_sync_options *opts) {
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    if (parties == 0 || parties > INT32_MAX)
        return MP_EINVAL;
    mp__shobj_req req = {
        .name = opts ? opts->name : NULL,
        .exclusive = opts && opts->exclusive,
        .param = {parties},
    };
    return mp__shobj_new((void **)out, &mp__barrier_kind, &req);
}

/* The last one out of a draining or resetting barrier refills it. */
static void bar_exit(mp_barrier *b) {
    b->st->count--;
    if (b->st->count == 0 &&
        (b->st->state == DRAINING || b->st->state == RESETTING)) {
        b->st->state = FILLING;
        bar_changed(b);
    }
}

static int bar_break(mp_barrier *b) {
    b->st->state = BROKEN;
    bar_changed(b);
    return MP_EBROKEN;
}

int mp_barrier_wait(mp_barrier *b, long timeout_ms) {
    if (!b || (timeout_ms < 0 && timeout_ms != MP_INFINITE))
        return MP_EINVAL;
    mp__deadline dl = mp__deadline_in(timeout_ms);
    /* Not yet counted: a mutex held past the deadline (or, for timeout 0,
     * past MP__NOWAIT_LOCK_MS) fails this call and leaves the barrier be. */
    int rc = bar_lock_by(
        b, dl == MP__DL_NOW ? mp__deadline_in(MP__NOWAIT_LOCK_MS) : dl);
    if (rc)
        return mp__deadline_err(dl);
    /* Wait for a previous round to drain or a reset to finish. */
    while (b->st->state == DRAINING || b->st->state == RESETTING)
        if ((rc = bar_sleep(b, dl))) {
            if (rc == BAR_UNLOCKED)
                return MP_ETIMEDOUT;
            bar_break(b);
            bar_unlock(b);
            return MP_ETIMEDOUT;
        }
    if (b->st->state == BROKEN) {
        bar_unlock(b);
        return MP_EBROKEN;
    }
    int index = (int)b->st->count++;
    if ((uint32_t)index + 1 == b->st->parties) {
        b->st->state = DRAINING;
        bar_changed(b);
        rc = index;
    } else {
        while (b->st->state == FILLING && !(rc = bar_sleep(b, dl)))
            ;
        if (rc == BAR_UNLOCKED)
            return bar_leave_unlocked(b);
        if (rc == MP_ETIMEDOUT)
            bar_break(b);
        else if (b->st->state == BROKEN || b->st->state == RESETTING)
            rc = MP_EBROKEN;
        else
            rc = index;
    }
    bar_exit(b);
    bar_unlock(b);
    return rc;
}

int mp_barrier_abort(mp_barrier *b) {
    if (!b)
        return MP_EINVAL;
    bar_lock(b);
    bar_break(b);
    bar_unlock(b);
    return 0;
}

int mp_barrier_reset(mp_barrier *b) {
    if (!b)
        return MP_EINVAL;
    bar_lock(b);
    if (b->st->count > 0) {
        /* Waiters see RESETTING, leave with MP_EBROKEN, and the last one out
         * sets FILLING. */
        b->st->state = RESETTING;
    } else {
        b->st->state = FILLING;
    }
    bar_changed(b);
    bar_unlock(b);
    return 0;
}

int mp_barrier_parties(mp_barrier *b) {
    return b ? (int)b->st->parties : MP_EINVAL;
}

int mp_barrier_n_waiting(mp_barrier *b) {
    if (!b)
        return MP_EINVAL;
    bar_lock(b);
    int n = b->st->state == FILLING ? (int)b->st->count : 0;
    bar_unlock(b);
    return n;
}

int mp_barrier_broken(mp_barrier *b) {
    if (!b)
        return MP_EINVAL;
    bar_lock(b);
    int broken = b->st->state == BROKEN;
    bar_unlock(b);
    return broken;
}

void mp_barrier_free(mp_barrier *b) { mp__shobj_free(b); }
