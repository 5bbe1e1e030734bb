/* The state of a Lock or RLock, standalone (lock.c) or embedded in the
 * mapping of a Value, Array or Condition, and what those kinds need to
 * embed one. */
#ifndef MP_COMMON_LOCK_STATE_H
#define MP_COMMON_LOCK_STATE_H

#include "obj/shobj.h"

/* Everything an acquire and release touch shares one cache line (the area
 * starts 64-byte aligned and the os mutex uses 40 of its bytes on x86_64
 * Linux): with two CPUs taking turns, each hand-over moves one line, as a
 * plain mutex does. `user` is that line's spare slot: a locked Value keeps
 * its number there, beside its lock, as a C program keeps a counter beside
 * its mutex. */
#define MP__LOCK_AREA 128
typedef struct mp__lock_state {
    MP__ATOMIC(uint64_t) owner; /* thread id of the holder, 0 when free */
    uint32_t count;             /* recursion depth, guarded by the mutex */
    uint32_t recursive;
    _Alignas(8) unsigned char user[8];
    unsigned char mutex[MP__OS_MUTEX_SIZE]; /* 8-byte aligned */
} mp__lock_state;

/* Where the mutex primitive of a lock area at `off` lives. */
#define MP__LOCK_MUTEX_AT(off) ((off) + offsetof(mp__lock_state, mutex))

struct mp_lock {
    mp__shobj obj; /* a standalone lock's mapping; unused when embedded */
    mp__lock_state *st;
    mp__os_mutex *m;
    bool embedded; /* in another object's mapping: freed with it */
};

/* Points l at a lock area and its mutex (a primitive of the object that
 * holds it). */
void mp__lock_bind(mp_lock *l, void *area, mp__os_mutex *m, bool embedded);
/* Creator: initialises the area's state. */
void mp__lock_init(mp_lock *l, bool recursive);
/* Releases the lock fully and returns the depth to give back to
 * mp__lock_restore (used by Condition.wait). */
uint32_t mp__lock_save(mp_lock *l);
int mp__lock_restore(mp_lock *l, uint32_t depth);

extern const mp__shkind mp__lock_kind;

/* A caller's lock that an object uses instead of its own (a Condition's, a
 * Value's or an Array's) and carries into a spawned child: a flag, then the
 * lock when l is not NULL. Import sets *l to the child's copy (to free with
 * mp_lock_free), or NULL when none was sent. */
int mp__ext_lock_export(mp_lock *l, mp__wbuf *w, mp__handles *hs);
int mp__ext_lock_import(mp_lock **l, mp__rbuf *r, mp__handle *hs, size_t nh);
/* Whether l can be such a lock: one of its own (mp_lock_new_ex), not the
 * lock inside another object. */
static inline bool mp__ext_lock_ok(const mp_lock *l) { return !l->embedded; }

#endif
