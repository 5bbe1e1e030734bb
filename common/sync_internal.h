/* Internals shared by the synchronisation and shared-memory objects
 * (sync_obj.c, sync_lock.c, sync_cond.c, shared.c): the shared mapping
 * every object lives in, with its header, naming and export; the lock
 * state that Value, Array and Condition embed; deadlines. */
#ifndef MP_COMMON_SYNC_INTERNAL_H
#define MP_COMMON_SYNC_INTERNAL_H

#include <stdatomic.h>

#include "mproc.h"
#include "mproc/shared.h"
#include "objtype.h"
#include "os_shm.h"
#include "os_sync.h"

/* The first bytes of every object's mapping. The creator fills it and sets
 * `magic` last, so an opener never sees a half-made object. */
#define MP__SHOBJ_MAGIC 0x4f53504du /* "MPSO" */
#define MP__SHOBJ_HDR 64
typedef struct mp__shobj_hdr {
    _Atomic uint32_t magic;
    uint32_t kind;         /* mp_obj_kind */
    _Atomic int32_t users; /* named: processes holding the name; 0 = dying */
    uint32_t reserved;
    uint64_t size;         /* of the whole mapping */
    uint64_t param[3];     /* creation parameters that openers must match */
} mp__shobj_hdr;

/* A process's view of an object's mapping. */
typedef struct mp__shobj {
    mp__shm shm;
    char *name; /* set while this process holds a reference on the name */
} mp__shobj;

#define MP__NPARAM 3

/* Creates the mapping (size bytes, header included) or, named and existing,
 * opens it after checking kind, size and param (MP_EEXIST on a mismatch).
 * *created tells the caller whether to initialise the body and then call
 * mp__shobj_ready. */
int mp__shobj_new(mp__shobj *o, mp_obj_kind kind, size_t size,
                  const uint64_t param[MP__NPARAM], const char *name,
                  bool exclusive, bool *created);
/* Publishes a freshly initialised object to openers. */
void mp__shobj_ready(mp__shobj *o);
/* Unmaps; drops the name reference (the last one removes the name). */
void mp__shobj_free(mp__shobj *o);
static inline void *mp__shobj_at(mp__shobj *o, size_t off) {
    return (char *)o->shm.addr + off;
}
static inline mp__shobj_hdr *mp__shobj_hdr_of(mp__shobj *o) {
    return (mp__shobj_hdr *)o->shm.addr;
}

/* Export / import of the mapping (as part of an objtype's export). */
int mp__shobj_export(mp__shobj *o, mp__wbuf *w, mp__handles *hs);
int mp__shobj_import(mp__shobj *o, mp_obj_kind kind, mp__rbuf *r,
                     mp__handle *hs, size_t nh);

/* A handle that may be MP__BAD_HANDLE (the POSIX primitives need none). */
void mp__put_opt_handle(mp__handles *hs, mp__wbuf *w, mp__handle h);
int mp__take_opt_handle(mp__rbuf *r, mp__handle *hs, size_t nh,
                        mp__handle *out);

/* The name of a primitive inside named object `name` ("<name>.<suffix>"),
 * written to buf; NULL when name is NULL. */
const char *mp__subname(char *buf, size_t cap, const char *name,
                        const char *suffix);

/* ---- the lock, standalone or embedded in another object's mapping ---- */

/* Everything an acquire and release touch shares one cache line (the area
 * starts 64-byte aligned and the os mutex uses 40 of its bytes on x86_64
 * Linux): with two CPUs taking turns, each hand-over moves one line, as a
 * plain mutex does. `user` is that line's spare slot: a locked Value keeps
 * its number there, beside its lock, as a C program keeps a counter beside
 * its mutex. */
#define MP__LOCK_AREA 128
typedef struct mp__lock_state {
    _Atomic uint64_t owner; /* thread id of the holder, 0 when free */
    uint32_t count;         /* recursion depth, guarded by the mutex */
    uint32_t recursive;
    _Alignas(8) unsigned char user[8];
    unsigned char mutex[MP__OS_MUTEX_SIZE]; /* 8-byte aligned */
} mp__lock_state;

struct mp_lock {
    mp__lock_state *st;
    mp__os_mutex m;
    bool embedded; /* in another object's mapping: freed with it */
    mp__shobj obj; /* a standalone lock's own mapping */
};

/* Sets up a lock in mem (MP__LOCK_AREA bytes): create, or attach to the
 * one there (with handle h, or by prim_name). */
int mp__lock_init(mp_lock *l, void *mem, bool create, bool recursive,
                  const char *prim_name, mp__handle h);
void mp__lock_fini(mp_lock *l);
/* Releases the lock fully and returns the depth to give back to
 * mp__lock_restore (used by Condition.wait). */
uint32_t mp__lock_save(mp_lock *l);
int mp__lock_restore(mp_lock *l, uint32_t depth);

extern const mp__objtype mp__sem_type, mp__lock_type, mp__event_type,
    mp__cond_type, mp__barrier_type, mp__value_type, mp__array_type;

#endif
