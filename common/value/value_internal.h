/* The value tree (api/mproc/value.h) as pickle.c and the transports see it.
 *
 * A tree lives in one arena: its root is the first value of the arena's
 * header block, every other value, string and item array is carved from
 * the arena's chunks, and mp_val_free drops them all. Containers hold
 * arrays of pointers to their items (a dict: key, value, key, value ...),
 * so an item never moves once made; a dict or set of more than a few
 * entries also has an open-addressing index of entry numbers. Leaf code:
 * it depends on nothing in the library but core.h. */
#ifndef MP_COMMON_VALUE_INTERNAL_H
#define MP_COMMON_VALUE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mproc/value.h"

typedef struct mp__varena mp__varena;

enum {
    MP__V_ROOT = 1u,   /* the root of its tree (mp_val_free frees) */
    MP__V_FROZEN = 2u, /* a dict key or a set item: setters refuse */
    MP__V_SHARED = 4u, /* decoder: copied by a memo reference, so it must
                          not change after (see pickle.c, memo_get) */
    MP__V_GLOBAL = 8u  /* decoder: a whitelisted global (see pickle.c) */
};

struct mp_val {
    uint8_t kind;    /* mp_val_kind */
    uint8_t flags;   /* MP__V_* */
    uint16_t height; /* containers nested in this one (bounded by the
                        depth limits, at most MP__VAL_DEPTH_MAX + 1) */
    uint32_t cap;    /* containers: item pointers allocated */
    size_t n;        /* str/bytes: bytes; seq/set: items; dict: pairs */
    mp__varena *arena;
    union {
        int64_t i;
        double f;
        char *s;         /* str, bytes: n bytes and a NUL */
        mp_val **items;  /* seq, set: n; dict: 2n (key, value, ...) */
    } u;
    /* dict/set index, NULL below a few entries: index[0] is log2 of the
       slots, index[1 ..] hold an entry's number + 1 each (0: empty) */
    uint32_t *index;
};

/* The most nested containers any tree may have: builders, copies and
 * dumps refuse deeper (they recurse). */
#define MP__VAL_DEPTH_MAX 1000u

/* Allocation from v's arena, 8-aligned; NULL when out of memory. */
void *mp__val_alloc(mp__varena *a, size_t n);

/* A new value of kind NONE in arena a (not attached anywhere). */
mp_val *mp__val_node(mp__varena *a);

/* A new, empty tree whose arena's first chunk has about `hint` bytes. */
mp_val *mp__val_root(size_t hint);

/* Appends item (a value of the same arena) to a list, tuple or set's
 * item array without any check. 0 or MP_ENOMEM. */
int mp__val_append(mp_val *seq, mp_val *item);

/* Inserts key -> value (both of dict's arena) into dict, replacing the
 * value of an equal key. key must be hashable (mp__val_hashable); it is
 * frozen. 0 or MP_ENOMEM. */
int mp__val_dict_insert(mp_val *dict, mp_val *key, mp_val *value);

/* Adds item (of set's arena, hashable) unless an equal one is present. */
int mp__val_set_insert(mp_val *set, mp_val *item);

bool mp__val_hashable(const mp_val *v, unsigned depth);

/* Deep copy of src into arena a: NULL when out of memory or when the copy
 * would take more than *items values or *bytes payload bytes (both are
 * decreased by what it takes; *err tells which: MP_ENOMEM or
 * MP_EMSGSIZE). */
mp_val *mp__val_copy_into(mp__varena *a, const mp_val *src, size_t *items,
                          size_t *bytes, int *err);

/* Whether p[0..n) is UTF-8 as Python writes it (surrogates allowed). */
bool mp__utf8_valid(const uint8_t *p, size_t n);

/* Writes v's pickle (PROTO, the value, STOP) to w; protocol 0 means 4.
 * 0, MP_EINVAL (a protocol other than 4 or 5), MP_EMSGSIZE (nested past
 * MP__VAL_DEPTH_MAX), MP_ENOMEM (w's sticky error). */
struct mp__wbuf;
int mp__val_dump(struct mp__wbuf *w, const mp_val *v, int protocol);

#endif
