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
#include <string.h>

#include "mproc/value.h"

typedef struct mp__varena mp__varena;

enum {
    MP__V_ROOT = 1u,   /* the root of its tree (mp_val_free frees) */
    MP__V_FROZEN = 2u, /* a dict key or a set item: setters refuse */
    MP__V_REF = 4u,    /* decoder: a reference to the list, dict or set
                          u.ref (a memo reference), resolved at STOP */
    MP__V_GLOBAL = 8u, /* decoder: a whitelisted global (see pickle.c) */
    MP__V_ONPATH = 16u /* decoder: on the path being resolved */
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
        char *s;        /* str, bytes: n bytes and a NUL */
        mp_val **items; /* seq, set: n; dict: 2n (key, value, ...) */
        mp_val *ref;    /* MP__V_REF */
    } u;
    /* dict/set index, NULL below a few entries: index[0] is log2 of the
       slots, index[1 ..] hold an entry's number + 1 each (0: empty) */
    uint32_t *index;
};

/* The most nested containers any tree may have: builders, copies and
 * dumps refuse deeper (they recurse). */
#define MP__VAL_DEPTH_MAX 1000u

typedef struct mp__vchunk {
    struct mp__vchunk *next;
    size_t cap, used;
    /* the chunk's bytes follow, at MP__VCHUNK_HDR */
} mp__vchunk;

struct mp__varena {
    mp__vchunk *head;
    size_t next_cap;
    mp_val root;
};

#define MP__VCHUNK_HDR ((sizeof(mp__vchunk) + 15u) & ~(size_t)15u)

/* Allocation from v's arena, 8-aligned; NULL when out of memory. The
 * bump itself is inline (a decoder makes a value per opcode). */
void *mp__val_alloc_slow(mp__varena *a, size_t n);
static inline void *mp__val_alloc(mp__varena *a, size_t n) {
    mp__vchunk *c = a->head;
    size_t k = (n + 7u) & ~(size_t)7u;
    if (c && k && k <= c->cap - c->used) {
        void *p = (char *)c + MP__VCHUNK_HDR + c->used;
        c->used += k;
        return p;
    }
    return mp__val_alloc_slow(a, n);
}

/* A new value of kind NONE in arena a (not attached anywhere). */
static inline mp_val *mp__val_node(mp__varena *a) {
    mp_val *v = (mp_val *)mp__val_alloc(a, sizeof *v);
    if (v) {
        memset(v, 0, sizeof *v);
        v->arena = a;
    }
    return v;
}

/* Room for `more` items in a list or tuple's array. 0 or MP_ENOMEM. */
int mp__val_reserve(mp_val *seq, size_t more);

/* A new, empty tree whose arena's first chunk has about `hint` bytes. */
mp_val *mp__val_root(size_t hint);

/* Appends item (a value of the same arena) to a list, tuple or set's
 * item array without any check. 0 or MP_ENOMEM. */
int mp__val_append(mp_val *seq, mp_val *item);

/* Inserts key -> value (both of dict's arena) into dict, replacing the
 * value of an equal key. key must be hashable (mp__val_hashable); it is
 * frozen. 0 or MP_ENOMEM. */
int mp__val_dict_insert(mp_val *dict, mp_val *key, mp_val *value);

/* mp__val_dict_insert of `pairs` keys and values (kv: key, value, ...),
 * growing the dict and its index once. */
int mp__val_dict_bulk(mp_val *dict, mp_val *const *kv, size_t pairs);

/* Adds item (of set's arena, hashable) unless an equal one is present. */
int mp__val_set_insert(mp_val *set, mp_val *item);

bool mp__val_hashable(const mp_val *v, unsigned depth);

/* Deep copy of src into arena a: NULL when out of memory or when the copy
 * would take more than *items values or *bytes payload bytes (both are
 * decreased by what it takes; *err tells which: MP_ENOMEM or
 * MP_EMSGSIZE). */
mp_val *mp__val_copy_into(mp__varena *a, const mp_val *src, size_t *items,
                          size_t *bytes, int *err);
/* The same for a memo reference: lists, dicts and sets (at any depth)
 * become MP__V_REF values naming the original, which pickle.c resolves
 * once the pickle is complete; *refs counts the references made. */
mp_val *mp__val_copy_lazy(mp__varena *a, const mp_val *src, size_t *items,
                          size_t *bytes, int *err, size_t *refs);

/* Whether p[0..n) is UTF-8 as Python writes it (surrogates allowed). */
bool mp__utf8_valid(const uint8_t *p, size_t n);

/* Writes v's pickle (PROTO, the value, STOP) to w; protocol 0 means 4.
 * 0, MP_EINVAL (a protocol other than 4 or 5), MP_EMSGSIZE (nested past
 * MP__VAL_DEPTH_MAX), MP_ENOMEM (w's sticky error). */
struct mp__wbuf;
int mp__val_dump(struct mp__wbuf *w, const mp_val *v, int protocol);

#endif
