/* Semaphore, Lock and RLock: an os semaphore / robust mutex in a shared
 * mapping, plus (for locks) the owning thread and recursion depth. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sync_internal.h"

#define NAME_BUF (MP__OS_NAME_MAX + 16)

static bool bad_timeout(long t) { return t < 0 && t != MP_INFINITE; }

/* op(x, d) without waiting first, then polled (wait_policy.h:
 * MP__POLL_LOCK_NS; the affinity mask is not consulted, as a process pinned
 * to one CPU may still have its peers on others), then blocking. */
typedef struct op_call {
    int (*op)(void *, mp__deadline);
    void *x;
} op_call;

static int try_op(void *arg) {
    op_call *c = arg;
    return c->op(c->x, MP__DL_NOW);
}

static int poll_then_block(int (*op)(void *, mp__deadline), void *x,
                           long timeout_ms) {
    int rc = op(x, MP__DL_NOW);
    if (rc != MP_EAGAIN || timeout_ms == 0)
        return rc;
    mp__deadline d = mp__deadline_in(timeout_ms);
    op_call c = {op, x};
    rc = mp__poll_yield(try_op, &c,
                        mp__deadline_min(d, mp__os_now_ns() + MP__POLL_LOCK_NS));
    return rc != MP_EAGAIN ? rc : op(x, d);
}

static int sem_op(void *s, mp__deadline d) { return mp__os_sem_wait(s, d); }

static int mutex_op(void *m, mp__deadline d) {
    return mp__os_mutex_lock(m, d);
}

/* ---- Semaphore: [header][os sem] ---- */

#define SEM_OFF MP__SHOBJ_HDR
#define SEM_SIZE (SEM_OFF + MP__OS_SEM_SIZE)

struct mp_sem {
    mp__shobj obj;
    mp__os_sem s;
};

int mp_sem_new_ex(mp_sem **out, unsigned value, unsigned max,
                  const mp_sync_options *opts) {
    char buf[NAME_BUF];
    bool created;
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    if (value > INT32_MAX || max > INT32_MAX || (max && value > max))
        return MP_EINVAL;
    const char *name = opts ? opts->name : NULL;
    mp_sem *s = calloc(1, sizeof *s);
    if (!s)
        return MP_ENOMEM;
    uint64_t param[MP__NPARAM] = {max, 0, 0};
    int rc = mp__shobj_new(&s->obj, MP_OBJ_SEM, SEM_SIZE, param, name,
                           opts && opts->exclusive, &created);
    if (rc) {
        free(s);
        return rc;
    }
    void *mem = mp__shobj_at(&s->obj, SEM_OFF);
    const char *pn = mp__subname(buf, sizeof buf, name, "sem");
    rc = created ? mp__os_sem_create(&s->s, mem, value, max, pn)
                 : mp__os_sem_attach(&s->s, mem, MP__BAD_HANDLE, pn);
    if (rc) {
        mp__shobj_free(&s->obj);
        free(s);
        return rc;
    }
    if (created)
        mp__shobj_ready(&s->obj);
    *out = s;
    return 0;
}

int mp_sem_new(mp_sem **s, unsigned value, unsigned max) {
    return mp_sem_new_ex(s, value, max, NULL);
}

int mp_sem_acquire(mp_sem *s, long timeout_ms) {
    if (!s || bad_timeout(timeout_ms))
        return MP_EINVAL;
    return poll_then_block(sem_op, &s->s, timeout_ms);
}

int mp_sem_release(mp_sem *s) {
    return s ? mp__os_sem_post(&s->s) : MP_EINVAL;
}

int mp_sem_get_value(mp_sem *s, int *value) {
    if (!s || !value)
        return MP_EINVAL;
    return mp__os_sem_value(&s->s, value);
}

void mp_sem_free(mp_sem *s) {
    if (!s)
        return;
    mp__os_sem_close(&s->s);
    mp__shobj_free(&s->obj);
    free(s);
}

static int sem_export(void *obj, mp__wbuf *w, mp__handles *hs) {
    mp_sem *s = obj;
    mp__shobj_export(&s->obj, w, hs);
    mp__put_opt_handle(hs, w, s->s.h);
    return w->err;
}

static int sem_import(void **out, mp__rbuf *r, mp__handle *hs, size_t nh) {
    mp__handle h;
    mp_sem *s = calloc(1, sizeof *s);
    if (!s)
        return MP_ENOMEM;
    int rc = mp__shobj_import(&s->obj, MP_OBJ_SEM, r, hs, nh);
    if (!rc && (rc = mp__take_opt_handle(r, hs, nh, &h)))
        mp__shobj_free(&s->obj);
    if (!rc && (rc = mp__os_sem_attach(&s->s, mp__shobj_at(&s->obj, SEM_OFF),
                                       h, NULL)))
        mp__shobj_free(&s->obj);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static void sem_release_(void *obj) { mp_sem_free(obj); }

const mp__objtype mp__sem_type = {sem_export, sem_import, sem_release_};

/* ---- the lock state, wherever it lives ---- */

_Static_assert(sizeof(mp__lock_state) <= MP__LOCK_AREA, "lock area");

int mp__lock_init(mp_lock *l, void *mem, bool create, bool recursive,
                  const char *prim_name, mp__handle h) {
    l->st = mem;
    if (!create)
        return mp__os_mutex_attach(&l->m, l->st->mutex, h, prim_name);
    atomic_init(&l->st->owner, 0);
    l->st->count = 0;
    l->st->recursive = recursive;
    return mp__os_mutex_create(&l->m, l->st->mutex, prim_name);
}

void mp__lock_fini(mp_lock *l) { mp__os_mutex_close(&l->m); }

static bool owned(mp_lock *l) {
    return atomic_load_explicit(&l->st->owner, memory_order_relaxed) ==
           mp__os_thread_id();
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

/* The hot path is kept short on purpose (see PERFORMANCE.md, "Value += 1
 * under its lock"): one thread-id compare, the os mutex, two plain stores,
 * all on one cache line. Contended, it polls before sleeping (POLL_NS). */
int mp_lock_acquire(mp_lock *l, long timeout_ms) {
    if (!l || bad_timeout(timeout_ms))
        return MP_EINVAL;
    mp__lock_state *st = l->st;
    uint64_t me = mp__os_thread_id();
    if (atomic_load_explicit(&st->owner, memory_order_relaxed) == me)
        return relock(st);
    int rc = poll_then_block(mutex_op, &l->m, timeout_ms);
    if (rc == 0 || rc == MP_EOWNERDEAD) {
        /* After a dead owner its depth and id are stale: start afresh. */
        st->count = 1;
        atomic_store_explicit(&st->owner, me, memory_order_relaxed);
    }
    return rc;
}

int mp_lock_release(mp_lock *l) {
    if (!l)
        return MP_EINVAL;
    mp__lock_state *st = l->st;
    if (atomic_load_explicit(&st->owner, memory_order_relaxed) !=
        mp__os_thread_id())
        return MP_ESTATE;
    if (--st->count > 0)
        return 0;
    atomic_store_explicit(&st->owner, 0, memory_order_relaxed);
    return mp__os_mutex_unlock(&l->m);
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
#define LOCK_SIZE (LOCK_OFF + MP__LOCK_AREA)

int mp_lock_new_ex(mp_lock **out, bool recursive, const mp_sync_options *opts) {
    char buf[NAME_BUF];
    bool created;
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    const char *name = opts ? opts->name : NULL;
    mp_lock *l = calloc(1, sizeof *l);
    if (!l)
        return MP_ENOMEM;
    uint64_t param[MP__NPARAM] = {recursive, 0, 0};
    int rc = mp__shobj_new(&l->obj, MP_OBJ_LOCK, LOCK_SIZE, param, name,
                           opts && opts->exclusive, &created);
    if (!rc) {
        rc = mp__lock_init(l, mp__shobj_at(&l->obj, LOCK_OFF), created,
                           recursive, mp__subname(buf, sizeof buf, name, "mtx"),
                           MP__BAD_HANDLE);
        if (rc)
            mp__shobj_free(&l->obj);
    }
    if (rc) {
        free(l);
        return rc;
    }
    if (created)
        mp__shobj_ready(&l->obj);
    *out = l;
    return 0;
}

int mp_lock_new(mp_lock **l, bool recursive) {
    return mp_lock_new_ex(l, recursive, NULL);
}

void mp_lock_free(mp_lock *l) {
    if (!l || l->embedded)
        return;
    mp__lock_fini(l);
    mp__shobj_free(&l->obj);
    free(l);
}

static int lock_export(void *obj, mp__wbuf *w, mp__handles *hs) {
    mp_lock *l = obj;
    if (l->embedded)
        return MP_ENOTSUP; /* pass the Value, Array or Condition instead */
    mp__shobj_export(&l->obj, w, hs);
    mp__put_opt_handle(hs, w, l->m.h);
    return w->err;
}

static int lock_import(void **out, mp__rbuf *r, mp__handle *hs, size_t nh) {
    mp__handle h;
    mp_lock *l = calloc(1, sizeof *l);
    if (!l)
        return MP_ENOMEM;
    int rc = mp__shobj_import(&l->obj, MP_OBJ_LOCK, r, hs, nh);
    if (!rc && (rc = mp__take_opt_handle(r, hs, nh, &h)))
        mp__shobj_free(&l->obj);
    if (!rc && (rc = mp__lock_init(l, mp__shobj_at(&l->obj, LOCK_OFF), false,
                                   false, NULL, h)))
        mp__shobj_free(&l->obj);
    if (rc) {
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}

static void lock_release_(void *obj) { mp_lock_free(obj); }

const mp__objtype mp__lock_type = {lock_export, lock_import, lock_release_};
