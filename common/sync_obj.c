/* The shared mapping under every synchronisation and shared-memory object:
 * creation, opening by name with a reference count, export to spawned
 * children, and deadlines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync_internal.h"

/* How long an opener waits for a creator to publish a named object, and how
 * often it retries when a name is being removed under it. */
#define READY_WAIT_MS 2000
#define OPEN_ATTEMPTS 200

const char *mp__subname(char *buf, size_t cap, const char *name,
                        const char *suffix) {
    if (!name)
        return NULL;
    snprintf(buf, cap, "%s.%s", name, suffix);
    return buf;
}

static int check_name(const char *name) {
    size_t n = strlen(name);
    /* Room for the ".suffix" of the primitives inside. */
    return n == 0 || n > MP__OS_NAME_MAX - 8 || strchr(name, '/') ||
                   strchr(name, '\\')
               ? MP_EINVAL
               : 0;
}

/* An opened mapping: wait until published, then check it is what the
 * caller asked for. */
static int check_opened(mp__shobj *o, mp_obj_kind kind, size_t size,
                        const uint64_t param[MP__NPARAM]) {
    mp__shobj_hdr *h = mp__shobj_hdr_of(o);
    if (o->shm.size < MP__SHOBJ_HDR)
        return MP_EEXIST;
    for (int waited = 0; atomic_load(&h->magic) != MP__SHOBJ_MAGIC; waited++) {
        if (waited >= READY_WAIT_MS)
            return MP_ENOENT; /* its creator died before publishing it */
        mp__os_sleep_ms(1);
    }
    if (h->kind != (uint32_t)kind || h->size != size || o->shm.size < size)
        return MP_EEXIST;
    for (int i = 0; i < MP__NPARAM; i++)
        if (h->param[i] != param[i])
            return MP_EEXIST;
    return 0;
}

/* Takes a reference on an opened object's name unless its last user is
 * removing it (users 0). */
static bool take_ref(mp__shobj_hdr *h) {
    int32_t u = atomic_load(&h->users);
    while (u > 0)
        if (atomic_compare_exchange_weak(&h->users, &u, u + 1))
            return true;
    return false;
}

static int open_named(mp__shobj *o, mp_obj_kind kind, size_t size,
                      const uint64_t param[MP__NPARAM], const char *name,
                      bool exclusive, bool *created) {
    for (int attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
        int rc = mp__os_shm_create(&o->shm, size, name);
        if (rc == 0) {
            *created = true;
            atomic_store(&mp__shobj_hdr_of(o)->users, 1);
            return 0;
        }
        if (rc != MP_EEXIST || exclusive)
            return rc;
        rc = mp__os_shm_open(&o->shm, name);
        if (rc == MP_ENOENT)
            continue; /* removed between our two calls: create it */
        if (rc)
            return rc;
        rc = check_opened(o, kind, size, param);
        if (!rc && take_ref(mp__shobj_hdr_of(o)))
            return 0;
        mp__os_shm_close(&o->shm);
        if (rc)
            return rc;
        mp__os_sleep_ms(1); /* dying: wait for its name to go */
    }
    return MP_EEXIST;
}

int mp__shobj_new(mp__shobj *o, mp_obj_kind kind, size_t size,
                  const uint64_t param[MP__NPARAM], const char *name,
                  bool exclusive, bool *created) {
    int rc;
    memset(o, 0, sizeof *o);
    o->shm.h = MP__BAD_HANDLE;
    *created = false;
    if (name) {
        if ((rc = check_name(name)))
            return rc;
        if (!(o->name = strdup(name)))
            return MP_ENOMEM;
        rc = open_named(o, kind, size, param, name, exclusive, created);
    } else {
        *created = true;
        rc = mp__os_shm_create(&o->shm, size, NULL);
    }
    if (rc) {
        free(o->name);
        o->name = NULL;
        return rc;
    }
    if (*created) {
        mp__shobj_hdr *h = mp__shobj_hdr_of(o);
        h->kind = (uint32_t)kind;
        h->size = size;
        memcpy(h->param, param, sizeof h->param);
    }
    return 0;
}

void mp__shobj_ready(mp__shobj *o) {
    atomic_store(&mp__shobj_hdr_of(o)->magic, MP__SHOBJ_MAGIC);
}

void mp__shobj_free(mp__shobj *o) {
    if (o->shm.addr && o->name &&
        atomic_fetch_sub(&mp__shobj_hdr_of(o)->users, 1) == 1)
        mp__os_shm_unlink(o->name);
    mp__os_shm_close(&o->shm);
    free(o->name);
    o->name = NULL;
}

int mp__shobj_export(mp__shobj *o, mp__wbuf *w, mp__handles *hs) {
    mp__w_u64(w, o->shm.size);
    mp__handles_put(hs, w, o->shm.h);
    return w->err;
}

int mp__shobj_import(mp__shobj *o, mp_obj_kind kind, mp__rbuf *r,
                     mp__handle *hs, size_t nh) {
    uint64_t size;
    mp__handle h;
    memset(o, 0, sizeof *o);
    o->shm.h = MP__BAD_HANDLE;
    int rc = mp__r_u64(r, &size);
    if (!rc)
        rc = mp__handles_take(r, hs, nh, &h);
    if (rc)
        return rc;
    if (size < MP__SHOBJ_HDR || size > ((uint64_t)1 << 48)) {
        mp__os_close(h);
        return MP_EPROTO;
    }
    if ((rc = mp__os_shm_import(&o->shm, h, (size_t)size)))
        return rc;
    mp__shobj_hdr *hd = mp__shobj_hdr_of(o);
    if (atomic_load(&hd->magic) != MP__SHOBJ_MAGIC ||
        hd->kind != (uint32_t)kind || hd->size != size) {
        mp__os_shm_close(&o->shm);
        return MP_EPROTO;
    }
    return 0;
}

void mp__put_opt_handle(mp__handles *hs, mp__wbuf *w, mp__handle h) {
    mp__w_u8(w, h != MP__BAD_HANDLE);
    if (h != MP__BAD_HANDLE)
        mp__handles_put(hs, w, h);
}

int mp__take_opt_handle(mp__rbuf *r, mp__handle *hs, size_t nh,
                        mp__handle *out) {
    uint8_t has;
    int rc = mp__r_u8(r, &has);
    *out = MP__BAD_HANDLE;
    if (rc || !has)
        return rc;
    return mp__handles_take(r, hs, nh, out);
}

int mp_unlink(const char *name) {
    if (!name || check_name(name))
        return MP_EINVAL;
    return mp__os_shm_unlink(name);
}
