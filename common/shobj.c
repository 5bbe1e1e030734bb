/* The shared-object framework (shobj.h): one implementation of new, open
 * by name, export, import and free for every kind of shared object. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shobj.h"

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

/* ---- names ---- */

/* An opened mapping: is it what the caller asked for? */
static int check_opened(mp__shobj *o, const mp__shobj_req *req) {
    mp__shobj_hdr *h = mp__shobj_hdr_of(o);
    if (o->shm.size < MP__SHOBJ_HDR ||
        mp__load32(&h->magic, MP__ACQUIRE) != MP__SHOBJ_MAGIC ||
        h->kind != (uint32_t)o->k->kind || h->size > o->shm.size ||
        strncmp(h->name, req->name, sizeof h->name) != 0)
        return MP_EEXIST;
    if (req->open_only)
        return o->k->size(h->param) == h->size ? 0 : MP_EEXIST;
    if (h->size != o->k->size(req->param))
        return MP_EEXIST;
    for (int i = 0; i < MP__NPARAM; i++)
        if (h->param[i] != req->param[i])
            return MP_EEXIST;
    return 0;
}

/* Takes a reference on an opened object's name unless its last user is
 * removing it (users 0). */
static bool take_ref(mp__shobj_hdr *h) {
    uint32_t u = mp__load32(&h->users, MP__RELAXED);
    while (u > 0)
        if (mp__cas32(&h->users, &u, u + 1, MP__ACQ_REL))
            return true;
    return false;
}

/* Creates or opens the named mapping. *created tells which. */
static int map_named(mp__shobj *o, const mp__shobj_req *req, size_t size,
                     bool *created) {
    mp__deadline d = mp__deadline_in(MP__SHOBJ_OPEN_WAIT_MS);
    for (int attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
        int rc = req->open_only ? MP_EEXIST
                                : mp__os_shm_create(&o->shm, size, req->name);
        if (rc == 0) {
            *created = true;
            return 0;
        }
        if (rc != MP_EEXIST || req->exclusive)
            return rc;
        rc = mp__os_shm_open(&o->shm, req->name, d);
        if (rc == MP_ENOENT && !req->open_only)
            continue; /* removed, or abandoned by its creator: create */
        if (rc)
            return rc;
        rc = check_opened(o, req);
        if (!rc && take_ref(mp__shobj_hdr_of(o)))
            return 0;
        mp__os_shm_close(&o->shm);
        if (rc)
            return rc;
        if (req->open_only)
            return MP_ENOENT; /* its last user is removing it */
        mp__os_sleep_ms(1);   /* dying: wait for its name to go */
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
        h->kind = (uint32_t)k->kind;
        h->size = size;
        memcpy(h->param, req->param, sizeof h->param);
        mp__store32(&h->users, 1, MP__RELAXED);
        if (req->name)
            snprintf(h->name, sizeof h->name, "%s", req->name);
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
        mp__fetch_sub32(&h->users, 1, MP__ACQ_REL);
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
    bool last =
        o->name && o->owner_pid == mp__os_getpid() &&
        mp__fetch_sub32(&mp__shobj_hdr_of(o)->users, 1, MP__ACQ_REL) == 1;
    mp__os_shm_close(&o->shm);
    if (last)
        mp__os_shm_unlink(o->name);
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
    return mp__load32(&h->magic, MP__ACQUIRE) == MP__SHOBJ_MAGIC &&
                   h->kind == (uint32_t)o->k->kind && h->size == size &&
                   o->k->size(h->param) == size
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
