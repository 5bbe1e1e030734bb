/* The shared-object framework (shobj.h): one implementation of new, open
 * by name, export, import and free for every kind of shared object. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obj/shobj.h"
#include "util/wait_policy.h"

_Static_assert(sizeof(mp__shobj_hdr) <= MP__SHOBJ_HDR, "object header");

/* How often a create-or-open retries when a name is being removed under it
 * (its last user is freeing it) or was made between two of our calls. */
#define OPEN_ATTEMPTS 200

int mp__check_name(const char *name) {
    size_t n = name ? strlen(name) : 0;
    return n == 0 || n > MP_NAME_MAX || strchr(name, '/') || strchr(name, '\\')
               ? MP_EINVAL
               : 0;
}

/* ---- primitives ---- */

/* The kernel-object name of primitive i of named object `name`. */
static const char *prim_name(char *buf, size_t cap, const mp__shobj *o,
                             unsigned i) {
    if (!o->name)
        return NULL;
    snprintf(buf, cap, "%s/%s", o->name, o->k->prims[i].suffix);
    return buf;
}

/* Makes (create) or attaches primitive i, taking h. */
static int prim_open(mp__shobj *o, unsigned i, bool create,
                     const mp__shobj_req *req, mp__handle h) {
    char buf[MP__OS_NAME_MAX + 1];
    const mp__prim_desc *d = &o->k->prims[i];
    const char *nm = prim_name(buf, sizeof buf, o, i);
    void *mem = mp__shobj_at(o, d->off);
    mp__prim *p = &o->prim[i];
    switch (d->type) {
    case MP__PRIM_SEM:
        if (create) {
            mp__os_close(h);
            return mp__os_sem_create(&p->sem, mem, req->sem_value,
                                     req->sem_max, nm);
        }
        return mp__os_sem_attach(&p->sem, mem, h, nm);
    case MP__PRIM_MUTEX:
        if (create) {
            mp__os_close(h);
            return mp__os_mutex_create(&p->mx, mem, nm);
        }
        return mp__os_mutex_attach(&p->mx, mem, h, nm);
    default:
        if (create) {
            mp__os_close(h);
            return mp__os_wait_create(&p->wt, mem, nm);
        }
        return mp__os_wait_attach(&p->wt, mem, h, nm);
    }
}

static void prim_close(mp__shobj *o, unsigned i) {
    mp__prim *p = &o->prim[i];
    switch (o->k->prims[i].type) {
    case MP__PRIM_SEM: mp__os_sem_close(&p->sem); break;
    case MP__PRIM_MUTEX: mp__os_mutex_close(&p->mx); break;
    default: mp__os_wait_close(&p->wt); break;
    }
}

static mp__handle prim_handle(const mp__shobj *o, unsigned i) {
    const mp__prim *p = &o->prim[i];
    switch (o->k->prims[i].type) {
    case MP__PRIM_SEM: return p->sem.h;
    case MP__PRIM_MUTEX: return p->mx.h;
    default: return p->wt.h;
    }
}

/* Opens every primitive, taking hs[0..nprims) as it goes (NULL: none). On
 * failure closes those it opened; the handles not yet taken stay in hs. */
static int prims_open(mp__shobj *o, bool create, const mp__shobj_req *req,
                      mp__handle *hs) {
    unsigned n = o->k->nprims, i = 0;
    int rc = 0;
    for (; i < n && !rc; i++) {
        mp__handle h = hs ? hs[i] : MP__BAD_HANDLE;
        if (hs)
            hs[i] = MP__BAD_HANDLE;
        rc = prim_open(o, i, create, req, h);
    }
    if (rc)
        for (unsigned j = 0; j + 1 < i; j++)
            prim_close(o, j);
    return rc;
}

/* ---- names and their users ----
 * A named object's header lists the processes holding its name, one slot
 * each (mp__os_user_self), beside the count of references (refs). A
 * process killed leaves its slot, so a name whose holders are all dead
 * can be told from a live one, and is removed ("reclaimed") by the next
 * create or open of it, by a holder's close that leaves only dead ones,
 * or by mp_sweep. A remover holds the name's guard (os_shm.h) while it
 * checks and removes, so two never both remove it and a late one never
 * removes the object made again under the name; the count reaches 0 only
 * under the guard too, so that users 0 with the guard free means a
 * remover died before it removed the name, and the next one finishes. */

#define REF_OPEN ((uint64_t)1 << 32)
static uint32_t ref_users(uint64_t r) { return (uint32_t)r; }

/* Whether any holder of the name may be alive. Stops at the first: one
 * probe when the first holder lives, none when it is this process. */
static bool any_live(mp__shobj_hdr *h) {
    if (mp__load32(&h->overflow, MP__SEQ_CST))
        return true;
    uint64_t self = mp__os_user_self();
    for (int i = 0; i < MP__SHOBJ_USERS; i++) {
        uint64_t u = mp__load64(&h->user[i], MP__SEQ_CST);
        if (u && (u == self || !mp__os_user_dead(u)))
            return true;
    }
    return false;
}

/* Removes the name when its holders are all dead, or when a remover died
 * before removing it (users 0): 0 when it did; MP_EAGAIN when a holder
 * lives, the guard is busy (another process is opening, closing or
 * removing it) or the name no longer leads to s; MP_ENOTSUP where names
 * are not ours to remove (Windows). An opener that takes a slot after our
 * look changes refs (its open count), so the last step fails. */
static int reclaim(mp__shm *s, mp__shobj_hdr *h, const char *name) {
    uint64_t r = mp__load64(&h->refs, MP__SEQ_CST);
    if (ref_users(r) && any_live(h))
        return MP_EAGAIN;
    int rc = mp__os_shm_lock(s, name, MP__DL_NOW);
    if (rc)
        return rc == MP_ENOTSUP ? rc : MP_EAGAIN;
    bool gone = false;
    for (int tries = 0; tries < 4 && !gone; tries++) {
        r = mp__load64(&h->refs, MP__SEQ_CST);
        if (ref_users(r) && any_live(h))
            break;
        gone = ref_users(r) == 0 ||
               mp__cas64(&h->refs, &r, r - ref_users(r), MP__SEQ_CST);
    }
    if (gone)
        mp__os_shm_unlink(name);
    mp__os_shm_unlock(s);
    return gone ? 0 : MP_EAGAIN;
}

static void release_slot(mp__shobj *o) {
    mp__shobj_hdr *h = mp__shobj_hdr_of(o);
    if (o->slot >= 0)
        mp__store64(&h->user[o->slot], 0, MP__SEQ_CST);
    else
        mp__fetch_sub32(&h->overflow, 1, MP__SEQ_CST);
}

/* Takes a reference on an opened object's name, and a slot (or the
 * overflow count) first, unless the name is being removed (users 0). */
static bool take_ref(mp__shobj *o) {
    mp__shobj_hdr *h = mp__shobj_hdr_of(o);
    uint64_t self = mp__os_user_self();
    o->slot = -1;
    for (int i = 0; i < MP__SHOBJ_USERS && o->slot < 0; i++) {
        uint64_t free_slot = 0;
        if (mp__load64(&h->user[i], MP__RELAXED) == 0 &&
            mp__cas64(&h->user[i], &free_slot, self, MP__SEQ_CST))
            o->slot = i;
    }
    if (o->slot < 0)
        mp__fetch_add32(&h->overflow, 1, MP__SEQ_CST);
    uint64_t r = mp__load64(&h->refs, MP__SEQ_CST);
    while (ref_users(r) > 0)
        if (mp__cas64(&h->refs, &r, r + REF_OPEN + 1, MP__SEQ_CST))
            return true;
    release_slot(o);
    return false;
}

/* Drops this process's reference, before the mapping is closed. The last
 * one removes the name, under the guard; one that leaves only dead
 * holders reclaims it. */
static void drop_ref(mp__shobj *o) {
    mp__shobj_hdr *h = mp__shobj_hdr_of(o);
    release_slot(o);
    uint64_t r = mp__load64(&h->refs, MP__SEQ_CST);
    while (ref_users(r) > 1 && !mp__cas64(&h->refs, &r, r - 1, MP__SEQ_CST))
        ;
    if (ref_users(r) > 1) {
        (void)reclaim(&o->shm, h, o->name); /* if the others are dead */
        return;
    }
    if (ref_users(r) == 0)
        return; /* removed under us: we were among the dead, say */
    /* Perhaps the last: count down under the guard (not held when the
     * name was removed, or on Windows, where it goes by itself, or when a
     * stopped process keeps it past MP__GUARD_MS: then the name, with no
     * user left, is the next sweep's to remove). */
    int locked =
        mp__os_shm_lock(&o->shm, o->name, mp__deadline_in(MP__GUARD_MS));
    r = mp__load64(&h->refs, MP__SEQ_CST);
    while (ref_users(r) > 0 && !mp__cas64(&h->refs, &r, r - 1, MP__SEQ_CST))
        ;
    if (locked == 0 && ref_users(r) == 1)
        mp__os_shm_unlink(o->name);
    /* The guard goes with the mapping, which our caller closes next. */
}

/* An opened mapping: one of ours, of this name? */
static bool our_header(mp__shobj *o, const char *name) {
    mp__shobj_hdr *h = mp__shobj_hdr_of(o);
    return o->shm.size >= MP__SHOBJ_HDR &&
           mp__load32(&h->magic, MP__ACQUIRE) == MP__SHOBJ_MAGIC &&
           strncmp(h->name, name, sizeof h->name) == 0;
}

/* An opened object of ours: what the caller asked for? */
/* Reads the header's kind, size and parameters once, into o: the checks
 * below and the kind's bind use this copy only, so a writer racing with us
 * cannot make what is bound differ from what was checked. */
static void snapshot(mp__shobj *o) {
    const volatile mp__shobj_hdr *h = mp__shobj_hdr_of(o);
    o->kind = h->kind;
    o->size = h->size;
    for (int i = 0; i < MP__NPARAM; i++)
        o->param[i] = h->param[i];
}

static int check_opened(mp__shobj *o, const mp__shobj_req *req) {
    snapshot(o);
    if (o->kind != (uint32_t)o->k->kind || o->size > o->shm.size)
        return MP_EEXIST;
    if (req->open_only)
        return o->k->size(o->param) == o->size ? 0 : MP_EEXIST;
    if (o->size != o->k->size(req->param))
        return MP_EEXIST;
    for (int i = 0; i < MP__NPARAM; i++)
        if (o->param[i] != req->param[i])
            return MP_EEXIST;
    return 0;
}

/* An opened mapping of req->name: 0 when we hold a reference on it now;
 * MP_ENOENT when its holders were all dead and we removed it; MP_EAGAIN
 * when it is being removed (or made, or checked) by another: look again
 * shortly; MP_EEXIST when it is not what the caller asked for, or exists
 * and the caller wanted it new. Dead holders are looked for before the
 * kind, so a dead name of another kind is reclaimed too. */
static int join_named(mp__shobj *o, const mp__shobj_req *req) {
    mp__shobj_hdr *h = mp__shobj_hdr_of(o);
    if (!our_header(o, req->name))
        return MP_EEXIST;
    uint64_t r = mp__load64(&h->refs, MP__SEQ_CST);
    int rc;
    if (ref_users(r) == 0 || !any_live(h)) {
        rc = reclaim(&o->shm, h, req->name);
        if (rc == 0)
            return MP_ENOENT;
        /* Windows, where the OS removes names: an empty table with users
         * left (a holder killed between its slot and its count) is
         * joined, as before there were tables. */
        if (rc != MP_ENOTSUP || ref_users(r) == 0)
            return MP_EAGAIN;
    }
    rc = check_opened(o, req);
    if (rc || req->exclusive)
        return rc ? rc : MP_EEXIST;
    return take_ref(o) ? 0 : MP_EAGAIN;
}

/* Opens the named mapping once its creator has published it, waiting for
 * that until d (then mp__deadline_err(d)). The one wait for a publish: the
 * backends only say whether its creator is still at work (os_shm.h). */
static int open_published(mp__shm *s, const char *name, mp__deadline d) {
    mp__backoff b = MP__BACKOFF_NAME;
    int rc;
    while ((rc = mp__os_shm_open(s, name)) == MP_EAGAIN)
        if ((rc = mp__backoff_wait(&b, d)))
            break;
    return rc;
}

/* Creates or opens the named mapping. *created tells which. The whole of
 * it, retries included, is bounded by one deadline. */
static int map_named(mp__shobj *o, const mp__shobj_req *req, size_t size,
                     bool *created) {
    mp__deadline d = mp__deadline_in(MP__SHOBJ_OPEN_WAIT_MS);
    mp__backoff retry = MP__BACKOFF_NAME;
    for (int attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
        int rc = req->open_only ? MP_EEXIST
                                : mp__os_shm_create(&o->shm, size, req->name);
        if (rc == 0) {
            *created = true;
            return 0;
        }
        if (rc != MP_EEXIST)
            return rc;
        /* exclusive: only to see whether its holders are dead; a live
         * creator's name is simply taken. */
        rc = open_published(&o->shm, req->name,
                            req->exclusive ? MP__DL_NOW : d);
        if (rc == MP_ENOENT && !req->open_only)
            continue; /* removed, or abandoned by its creator: create */
        if (req->exclusive && rc == MP_EAGAIN)
            return MP_EEXIST;
        if (rc)
            return rc;
        rc = join_named(o, req);
        if (rc == 0)
            return 0;
        mp__os_shm_close(&o->shm);
        if (rc == MP_ENOENT && !req->open_only)
            continue; /* we removed it: create */
        if (rc != MP_EAGAIN)
            return rc;
        if (req->open_only)
            return MP_ENOENT; /* being removed */
        if (mp__backoff_wait(&retry, d))
            break;
    }
    return MP_EEXIST;
}

/* ---- new, free ---- */

/* strdup is POSIX, not ISO C: MSVC deprecates it (C4996). */
static char *copy_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    return c ? memcpy(c, s, n) : NULL;
}

static void *alloc_obj(const mp__shkind *k) {
    mp__shobj *o = calloc(1, k->obj_size);
    if (o) {
        o->k = k;
        o->shm.h = o->shm.guard = MP__BAD_HANDLE;
        o->owner_pid = mp__os_getpid();
        o->slot = -1;
    }
    return o;
}

int mp__shobj_new(void **out, const mp__shkind *k, const mp__shobj_req *req) {
    bool created = !req->name;
    size_t size = req->open_only ? 1 : k->size(req->param);
    int rc;
    *out = NULL;
    if (!size || (req->name && mp__check_name(req->name)) ||
        (!req->name && req->open_only))
        return MP_EINVAL;
    mp__shobj *o = alloc_obj(k);
    if (!o)
        return MP_ENOMEM;
    if (req->name && !(o->name = copy_str(req->name))) {
        rc = MP_ENOMEM;
        goto fail;
    }
    rc = req->name ? map_named(o, req, size, &created)
                   : mp__os_shm_create(&o->shm, size, NULL);
    if (rc)
        goto fail;
    mp__shobj_hdr *h = mp__shobj_hdr_of(o);
    if (created) {
        o->kind = (uint32_t)k->kind;
        o->size = size;
        memcpy(o->param, req->param, sizeof o->param);
        h->kind = (uint32_t)k->kind;
        h->size = size;
        memcpy(h->param, req->param, sizeof h->param);
        if (req->name) {
            snprintf(h->name, sizeof h->name, "%s", req->name);
            mp__store64(&h->user[0], mp__os_user_self(), MP__RELAXED);
            mp__store64(&h->refs, 1, MP__RELAXED);
            o->slot = 0;
        }
    }
    if ((rc = prims_open(o, created, req, NULL)))
        goto fail_mapped;
    if (k->bind && (rc = k->bind(o))) {
        for (unsigned i = 0; i < k->nprims; i++)
            prim_close(o, i);
        goto fail_mapped;
    }
    if (created && k->init)
        k->init(o, req->init_arg);
    if (created)
        mp__os_shm_publish(&o->shm, MP__SHOBJ_MAGIC);
    *out = o;
    return 0;
fail_mapped:
    /* Never published if we made it: the name is left for the next
     * create, which takes it over. */
    if (!created)
        drop_ref(o);
    mp__os_shm_close(&o->shm);
fail:
    free(o->name);
    free(o);
    return rc;
}

void mp__shobj_free(void *obj) {
    mp__shobj *o = obj;
    if (!o)
        return;
    if (o->k->free_extra)
        o->k->free_extra(o);
    for (unsigned i = 0; i < o->k->nprims; i++)
        prim_close(o, i);
    if (o->name && o->owner_pid == mp__os_getpid())
        drop_ref(o);
    mp__os_shm_close(&o->shm);
    free(o->name);
    free(o);
}

/* ---- crossing into a spawned child ---- */

int mp__shobj_export(void *obj, mp__wbuf *w, mp__handles *hs) {
    mp__shobj *o = obj;
    if (!o->k)
        return MP_ENOTSUP; /* an embedded lock: pass the object holding it */
    mp__w_u64(w, o->shm.size);
    mp__handles_put(hs, w, o->shm.h);
    for (unsigned i = 0; i < o->k->nprims; i++) {
        mp__handle h = prim_handle(o, i);
        mp__w_u8(w, h != MP__BAD_HANDLE);
        if (h != MP__BAD_HANDLE)
            mp__handles_put(hs, w, h);
    }
    if (!w->err && o->k->export_extra)
        return o->k->export_extra(o, w, hs);
    return w->err;
}

/* Takes the handles the blob names: the mapping's, then the primitives'
 * (absent ones stay MP__BAD_HANDLE). */
static int take_handles(const mp__shkind *k, mp__rbuf *r, mp__handle *hs,
                        size_t nh, uint64_t *size, mp__handle *mh,
                        mp__handle *ph) {
    int rc = mp__r_u64(r, size);
    if (!rc)
        rc = mp__handles_take(r, hs, nh, mh);
    for (unsigned i = 0; i < k->nprims && !rc; i++) {
        uint8_t has;
        if (!(rc = mp__r_u8(r, &has)) && has)
            rc = mp__handles_take(r, hs, nh, &ph[i]);
    }
    return rc;
}

/* An imported mapping: what the parent said it is? */
static int check_imported(mp__shobj *o, uint64_t size) {
    mp__shobj_hdr *h = mp__shobj_hdr_of(o);
    if (mp__load32(&h->magic, MP__ACQUIRE) != MP__SHOBJ_MAGIC)
        return MP_EPROTO;
    snapshot(o);
    return o->kind == (uint32_t)o->k->kind && o->size == size &&
                   o->k->size(o->param) == size
               ? 0
               : MP_EPROTO;
}

int mp__shobj_import(void **out, const mp__shkind *k, mp__rbuf *r,
                     mp__handle *hs, size_t nh) {
    mp__handle mh = MP__BAD_HANDLE, ph[MP__SHOBJ_PRIMS];
    uint64_t size = 0;
    int rc;
    for (unsigned i = 0; i < MP__SHOBJ_PRIMS; i++)
        ph[i] = MP__BAD_HANDLE;
    *out = NULL;
    mp__shobj *o = alloc_obj(k);
    if (!o)
        return MP_ENOMEM;
    if ((rc = take_handles(k, r, hs, nh, &size, &mh, ph)))
        goto fail;
    if (size < MP__SHOBJ_HDR || size > ((uint64_t)1 << 48)) {
        rc = MP_EPROTO;
        goto fail;
    }
    rc = mp__os_shm_import(&o->shm, mh, (size_t)size);
    mh = MP__BAD_HANDLE; /* taken */
    if (rc)
        goto fail;
    if ((rc = check_imported(o, size)) ||
        (rc = prims_open(o, false, NULL, ph)))
        goto fail_mapped;
    if ((k->bind && (rc = k->bind(o))) ||
        (k->import_extra && (rc = k->import_extra(o, r, hs, nh)))) {
        for (unsigned i = 0; i < k->nprims; i++)
            prim_close(o, i);
        goto fail_mapped;
    }
    *out = o;
    return 0;
fail_mapped:
    mp__os_shm_close(&o->shm);
fail:
    mp__os_close(mh);
    for (unsigned i = 0; i < k->nprims; i++)
        mp__os_close(ph[i]);
    free(o);
    return rc;
}

int mp_unlink(const char *name) {
    return mp__check_name(name) ? MP_EINVAL : mp__os_shm_unlink(name);
}

/* One named mapping met by a sweep: removed when it is ours and its
 * holders are all dead. */
static bool sweep_visit(void *arg, mp__shm *s) {
    (void)arg;
    mp__shobj_hdr *h = s->addr;
    char name[sizeof h->name];
    if (s->size < sizeof *h ||
        mp__load32(&h->magic, MP__ACQUIRE) != MP__SHOBJ_MAGIC)
        return false;
    memcpy(name, h->name, sizeof name);
    name[sizeof name - 1] = '\0';
    return !mp__check_name(name) && reclaim(s, h, name) == 0;
}

int mp_sweep(size_t *removed) {
    size_t n = 0;
    int rc = mp__os_shm_each(sizeof(mp__shobj_hdr), sweep_visit, NULL, &n);
    if (removed)
        *removed = n;
    return rc;
}
