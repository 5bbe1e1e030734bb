/* The shared-object framework: every kind of object that lives in shared
 * memory (Semaphore, Lock, Event, Condition, Barrier, Value, Array, Queue)
 * is described here as data, and one module (shobj.c) creates, opens by
 * name, exports to a spawned child, imports and closes all of them.
 *
 * An object is one mapping: a header (below), the os primitives the kind
 * holds at the offsets its descriptor gives, and the kind's own state. The
 * creator fills everything and publishes the header last, so an opener
 * never sees a half-made object; a creator killed before publishing leaves
 * a name the next create takes over (os_shm.h).
 *
 * Adding a kind: define its struct with an mp__shobj first, its layout
 * (offsets after MP__SHOBJ_HDR), an mp__shkind (size from its parameters,
 * its primitives, init for the creator, bind for every process), and its
 * operations; register the kind in objtype.c so it can be an argument. */
#ifndef MP_COMMON_SHOBJ_H
#define MP_COMMON_SHOBJ_H

#include "mproc.h"
#include "base/atomics.h"
#include "util/handles.h"
#include "os/os_shm.h"
#include "os/os_sync.h"

#define MP__NPARAM 3

/* The first bytes of every object's mapping. */
#define MP__SHOBJ_MAGIC 0x3253504du /* "MPS2": the header with users */
#define MP__SHOBJ_HDR 1024
/* Slots of a named object's user table: the processes holding its name,
 * each as its mp__os_user_self. A user that finds every slot taken is
 * only counted (overflow), and while any is counted the name is never
 * taken for dead: a name opened by more than MP__SHOBJ_USERS holders at
 * once, one of which was killed, stays until mp_unlink. */
#define MP__SHOBJ_USERS 96
typedef struct mp__shobj_hdr {
    MP__ATOMIC(uint32_t) magic; /* written last, by mp__os_shm_publish */
    uint32_t kind;              /* mp_obj_kind */
    /* Named: opens << 32 | users (references to the name). users 0: the
     * name is being removed. Every open bumps the high half, so a sweep
     * that saw the table all dead and then finds refs unchanged knows
     * that nobody came in between. */
    MP__ATOMIC(uint64_t) refs;
    uint64_t size;                 /* of the whole mapping */
    uint64_t param[MP__NPARAM];    /* creation parameters openers must match */
    char name[MP_NAME_MAX + 1];    /* a named object's full name (OS names
                                    * may be shortened: openers check this) */
    MP__ATOMIC(uint32_t) overflow; /* users without a slot */
    MP__ATOMIC(uint64_t) user[MP__SHOBJ_USERS]; /* 0: free */
} mp__shobj_hdr;

/* The primitives a kind holds, each at a fixed offset of its mapping. */
typedef enum mp__prim_type {
    MP__PRIM_SEM,
    MP__PRIM_MUTEX,
    MP__PRIM_WAIT
} mp__prim_type;
typedef struct mp__prim_desc {
    mp__prim_type type;
    size_t off;         /* in the mapping: MP__OS_*_SIZE bytes, 8-aligned */
    const char *suffix; /* of its kernel object's name: "<name>/<suffix>" */
} mp__prim_desc;
typedef union mp__prim {
    mp__os_sem sem;
    mp__os_mutex mx;
    mp__os_wait wt;
} mp__prim;
#define MP__SHOBJ_PRIMS 5

typedef struct mp__shkind {
    mp_obj_kind kind;
    size_t obj_size; /* of the kind's struct, whose first member is an
                        mp__shobj */
    /* The mapping's size for these parameters (header included), 0 when
     * they are invalid. */
    size_t (*size)(const uint64_t param[MP__NPARAM]);
    unsigned nprims;
    mp__prim_desc prims[MP__SHOBJ_PRIMS];
    /* Every process: points the struct into the mapping (primitives open,
     * parameters checked); MP_EPROTO if an imported mapping makes no sense.
     * NULL: nothing to bind. */
    int (*bind)(void *obj);
    /* Creator, after bind: fills the kind's state (the mapping is zeroed,
     * primitives made) before publication. NULL: nothing to fill. */
    void (*init)(void *obj, const void *arg);
    /* What crosses into a child beside the mapping (a Condition's external
     * lock), and its release. NULL: nothing. */
    int (*export_extra)(void *obj, mp__wbuf *w, mp__handles *hs);
    int (*import_extra)(void *obj, mp__rbuf *r, mp__handle *hs, size_t nh);
    void (*free_extra)(void *obj);
} mp__shkind;

/* A process's view of an object. */
typedef struct mp__shobj {
    const mp__shkind *k;
    mp__shm shm;
    char *name;     /* named: counted in the header's users by owner_pid */
    long owner_pid; /* a forked child's copy was never counted */
    int slot;       /* named: its user slot, -1 counted in overflow */
    mp__prim prim[MP__SHOBJ_PRIMS];
    /* The header's kind, size and parameters as read once from the mapping
     * and validated (another process can rewrite the mapping at any time):
     * binding reads these, never the header (mp__shobj_param). */
    uint32_t kind;
    uint64_t size;
    uint64_t param[MP__NPARAM];
} mp__shobj;

/* How to make or find an object. */
typedef struct mp__shobj_req {
    const char *name; /* NULL: anonymous */
    bool exclusive;   /* named: MP_EEXIST if it exists */
    bool open_only;   /* named: MP_ENOENT if it does not exist; any
                       * parameters (param is not checked) */
    uint64_t param[MP__NPARAM];
    unsigned sem_value, sem_max; /* a semaphore primitive's start */
    const void *init_arg;        /* passed to the kind's init */
} mp__shobj_req;

/* Makes an object of kind k (or opens the named one): allocates the kind's
 * struct, maps, makes or attaches its primitives, runs init (creator) and
 * bind, publishes. Errors: MP_EINVAL (a bad name or parameters), MP_EEXIST
 * (exclusive, or the name holds another kind or other parameters),
 * MP_ENOENT (open_only), MP_ETIMEDOUT (its creator, alive, did not publish
 * it within MP__SHOBJ_OPEN_WAIT_MS), MP_ENOMEM, and the os layer's. */
int mp__shobj_new(void **out, const mp__shkind *k, const mp__shobj_req *req);

/* Closes the primitives, unmaps, drops the name reference (the last live
 * one removes the name) and frees the struct. NULL-safe. */
void mp__shobj_free(void *obj);

/* Crossing into a spawned child: the mapping, every primitive's handle
 * and the kind's extra; import rebuilds the struct in the child. */
int mp__shobj_export(void *obj, mp__wbuf *w, mp__handles *hs);
int mp__shobj_import(void **out, const mp__shkind *k, mp__rbuf *r,
                     mp__handle *hs, size_t nh);

static inline void *mp__shobj_at(void *obj, size_t off) {
    return (char *)((mp__shobj *)obj)->shm.addr + off;
}
static inline mp__shobj_hdr *mp__shobj_hdr_of(void *obj) {
    return (mp__shobj_hdr *)((mp__shobj *)obj)->shm.addr;
}
/* Creation parameter i of obj, from the validated private copy. */
static inline uint64_t mp__shobj_param(const void *obj, unsigned i) {
    return ((const mp__shobj *)obj)->param[i];
}
static inline mp__prim *mp__shobj_prim(void *obj, unsigned i) {
    return &((mp__shobj *)obj)->prim[i];
}

/* The longest a create or open waits for a live creator to publish: a
 * creator takes microseconds, so only a stopped one makes us wait. */
#define MP__SHOBJ_OPEN_WAIT_MS 2000

/* The name rule (MP_NAME_MAX in mproc/core.h): 0 or MP_EINVAL. */
int mp__check_name(const char *name);

#endif
