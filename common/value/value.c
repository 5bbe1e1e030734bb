/* Value trees: the arena, building, reading, hashing and Python's
 * equality (api/mproc/value.h; layout in value_internal.h). */
#include "value/value_internal.h"

#include "base/atomics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_HDR MP__VCHUNK_HDR
#define CHUNK_MIN 1024u
#define CHUNK_MAX ((size_t)16 << 20)
/* An allocation at least this big gets a chunk of its own. */
#define ALLOC_ALONE ((size_t)64 << 10)

/* Freed chunks kept for the next trees: a tree of a few hundred KiB
 * otherwise costs more in fresh pages (the allocator maps and unmaps
 * blocks that size) than in decoding. One slot per power of two from
 * CHUNK_MIN to CACHE_MAX, each taken and given back with one atomic
 * exchange (a slot is emptied before its chunk is looked at, so no other
 * thread can be freeing it meanwhile); other chunks go back to the
 * allocator. At most about 2 MiB stays cached. */
#define CACHE_MAX ((size_t)1 << 20)
#define CACHE_SLOTS 11 /* 2^10 .. 2^20 */
static mp__atomic_ptr chunk_cache[CACHE_SLOTS];

static int cache_class(size_t cap) {
    int k = 0;
    while (k < CACHE_SLOTS - 1 && ((size_t)CHUNK_MIN << (k + 1)) <= cap)
        k++;
    return k;
}

static void chunk_free(mp__vchunk *c) {
    if (c->cap <= CACHE_MAX && c->cap >= CHUNK_MIN) {
        void *none = NULL;
        mp__atomic_ptr *slot = &chunk_cache[cache_class(c->cap)];
        if (!mp__loadp(slot, MP__RELAXED) &&
            mp__casp(slot, &none, c, MP__RELEASE))
            return;
    }
    free(c);
}

/* A cached chunk of at least cap bytes (at most about 4 times more). */
static mp__vchunk *cache_take(size_t cap) {
    if (cap > CACHE_MAX || cap < CHUNK_MIN)
        return NULL;
    for (int k = cache_class(cap);
         k < CACHE_SLOTS && k <= cache_class(cap) + 1; k++) {
        if (!mp__loadp(&chunk_cache[k], MP__RELAXED))
            continue;
        mp__vchunk *c = mp__exchangep(&chunk_cache[k], NULL, MP__ACQ_REL);
        if (!c)
            continue;
        if (c->cap >= cap)
            return c;
        chunk_free(c); /* too small: back to its slot, or freed */
    }
    return NULL;
}

static mp__vchunk *chunk_new(mp__varena *a, size_t cap) {
    if (cap > SIZE_MAX - CHUNK_HDR)
        return NULL;
    mp__vchunk *c = cache_take(cap);
    if (!c) {
        c = malloc(CHUNK_HDR + cap);
        if (!c)
            return NULL;
        c->cap = cap;
    }
    c->used = 0;
    c->next = a->head;
    a->head = c;
    return c;
}

void *mp__val_alloc_slow(mp__varena *a, size_t n) {
    n = (n + 7u) & ~(size_t)7u;
    if (n == 0)
        n = 8;
    mp__vchunk *c = a->head;
    if (c && c->cap - c->used >= n) {
        void *p = (char *)c + CHUNK_HDR + c->used;
        c->used += n;
        return p;
    }
    if (n >= ALLOC_ALONE) {
        /* Its own chunk, put behind the head so the head keeps its room. */
        if (n > SIZE_MAX - CHUNK_HDR)
            return NULL;
        mp__vchunk *own = cache_take(n);
        if (!own) {
            own = malloc(CHUNK_HDR + n);
            if (!own)
                return NULL;
            own->cap = n;
        }
        own->used = own->cap;
        if (c) {
            own->next = c->next;
            c->next = own;
        } else {
            own->next = NULL;
            a->head = own;
        }
        return (char *)own + CHUNK_HDR;
    }
    size_t cap = a->next_cap < n ? n : a->next_cap;
    if (a->next_cap < CHUNK_MAX)
        a->next_cap *= 2;
    c = chunk_new(a, cap);
    if (!c)
        return NULL;
    c->used = n;
    return (char *)c + CHUNK_HDR;
}

/* A small tree's first chunk comes in the arena's own block: one
 * allocation for a small value, none from the cache. */
#define INLINE_CHUNK 512u

mp_val *mp__val_root(size_t hint) {
    bool small = hint <= INLINE_CHUNK;
    size_t head = (sizeof(mp__varena) + 15u) & ~(size_t)15u;
    mp__varena *a =
        malloc(small ? head + MP__VCHUNK_HDR + INLINE_CHUNK : sizeof *a);
    if (!a)
        return NULL;
    a->head = NULL;
    if (small) { /* never handed to chunk_free: see mp_val_free */
        mp__vchunk *c = (mp__vchunk *)((char *)a + head);
        c->next = NULL;
        c->cap = INLINE_CHUNK;
        c->used = 0;
        a->head = c;
    }
    size_t first = hint < CHUNK_MIN ? CHUNK_MIN : hint;
    if (first > CHUNK_MAX)
        first = CHUNK_MAX;
    a->next_cap = first;
    memset(&a->root, 0, sizeof a->root);
    a->root.arena = a;
    a->root.flags = MP__V_ROOT;
    return &a->root;
}

mp_val *mp_val_new(mp_val_kind kind) {
    if ((unsigned)kind > MP_VAL_FROZENSET)
        return NULL;
    mp_val *v = mp__val_root(0);
    if (v)
        v->kind = (uint8_t)kind;
    return v;
}

void mp_val_free(mp_val *v) {
    if (!v || !(v->flags & MP__V_ROOT))
        return;
    mp__varena *a = v->arena;
    char *block_end = (char *)a + ((sizeof(mp__varena) + 15u) & ~(size_t)15u);
    for (mp__vchunk *c = a->head, *next; c; c = next) {
        next = c->next;
        if ((char *)c != block_end) /* the inline chunk goes with a */
            chunk_free(c);
    }
    free(a);
}

/* ---- reading ---------------------------------------------------------- */

static bool is_seq(const mp_val *v) {
    return v->kind == MP_VAL_LIST || v->kind == MP_VAL_TUPLE;
}
static bool is_set(const mp_val *v) {
    return v->kind == MP_VAL_SET || v->kind == MP_VAL_FROZENSET;
}
static bool is_container(const mp_val *v) {
    return is_seq(v) || is_set(v) || v->kind == MP_VAL_DICT;
}

mp_val_kind mp_val_kind_of(const mp_val *v) {
    return v ? (mp_val_kind)v->kind : MP_VAL_NONE;
}

size_t mp_val_len(const mp_val *v) {
    if (!v)
        return 0;
    switch (v->kind) {
    case MP_VAL_STR:
    case MP_VAL_BYTES:
    case MP_VAL_TUPLE:
    case MP_VAL_LIST:
    case MP_VAL_DICT:
    case MP_VAL_SET:
    case MP_VAL_FROZENSET: return v->n;
    default: return 0;
    }
}

int mp_val_to_int(const mp_val *v, int64_t *out) {
    if (!v || !out || (v->kind != MP_VAL_INT && v->kind != MP_VAL_BOOL))
        return MP_EINVAL;
    *out = v->u.i;
    return 0;
}

int mp_val_to_float(const mp_val *v, double *out) {
    if (!v || !out)
        return MP_EINVAL;
    if (v->kind == MP_VAL_FLOAT)
        *out = v->u.f;
    else if (v->kind == MP_VAL_INT || v->kind == MP_VAL_BOOL)
        *out = (double)v->u.i;
    else
        return MP_EINVAL;
    return 0;
}

int mp_val_to_bool(const mp_val *v, bool *out) {
    if (!v || !out || v->kind != MP_VAL_BOOL)
        return MP_EINVAL;
    *out = v->u.i != 0;
    return 0;
}

const char *mp_val_to_str(const mp_val *v, size_t *len) {
    if (!v || v->kind != MP_VAL_STR)
        return NULL;
    if (len)
        *len = v->n;
    return v->u.s ? v->u.s : "";
}

const void *mp_val_to_bytes(const mp_val *v, size_t *len) {
    if (!v || v->kind != MP_VAL_BYTES)
        return NULL;
    if (len)
        *len = v->n;
    return v->u.s ? v->u.s : "";
}

mp_val *mp_val_at(const mp_val *v, size_t i) {
    if (!v || !(is_seq(v) || is_set(v)) || i >= v->n)
        return NULL;
    return v->u.items[i];
}

const mp_val *mp_val_key_at(const mp_val *d, size_t i) {
    if (!d || d->kind != MP_VAL_DICT || i >= d->n)
        return NULL;
    return d->u.items[2 * i];
}

mp_val *mp_val_value_at(const mp_val *d, size_t i) {
    if (!d || d->kind != MP_VAL_DICT || i >= d->n)
        return NULL;
    return d->u.items[2 * i + 1];
}

/* ---- hashing and equality ---------------------------------------------- */

static uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* SipHash-1-3 (CPython's hash of str and bytes) under a fixed key and a
 * `seed`, over bytes or over the hashes of a tuple's items. Keys come from
 * untrusted pickles: the hashes before let chosen str, bytes, tuple and
 * frozenset keys share their full hashes (65 536 bytes keys of an 8.6 MB
 * pickle had two among them and took 42 s to decode; 60 000 tuples of two
 * ints had one, and took 59 s). SipHash has no such collisions short of
 * brute force, even with its key known. */
typedef struct sip {
    uint64_t v0, v1, v2, v3;
} sip;

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(sip *s) {
    s->v0 += s->v1;
    s->v1 = ROTL(s->v1, 13) ^ s->v0;
    s->v0 = ROTL(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = ROTL(s->v3, 16) ^ s->v2;
    s->v0 += s->v3;
    s->v3 = ROTL(s->v3, 21) ^ s->v0;
    s->v2 += s->v1;
    s->v1 = ROTL(s->v1, 17) ^ s->v2;
    s->v2 = ROTL(s->v2, 32);
}

static sip sip_start(uint64_t seed) {
    const uint64_t k0 = 0x6d70726f632d7661ull; /* "mproc-va" */
    sip s = {k0 ^ 0x736f6d6570736575ull, seed ^ 0x646f72616e646f6dull,
             k0 ^ 0x6c7967656e657261ull, seed ^ 0x7465646279746573ull};
    return s;
}

static void sip_word(sip *s, uint64_t m) {
    s->v3 ^= m;
    sip_round(s);
    s->v0 ^= m;
}

/* The hash of the words given and `tail` (the last 0-7 bytes, in the low
 * bytes) of n bytes in all. */
static uint64_t sip_end(sip *s, uint64_t tail, size_t n) {
    sip_word(s, tail | (uint64_t)n << 56);
    s->v2 ^= 0xff;
    sip_round(s);
    sip_round(s);
    sip_round(s);
    return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

static uint64_t hash_bytes(const void *p, size_t n, uint64_t seed) {
    const uint8_t *b = p;
    sip s = sip_start(seed);
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t m = 0;
        for (int k = 0; k < 8; k++)
            m |= (uint64_t)b[i + k] << (8 * k);
        sip_word(&s, m);
    }
    uint64_t tail = 0;
    for (size_t k = 0; i + k < n; k++)
        tail |= (uint64_t)b[i + k] << (8 * k);
    return sip_end(&s, tail, n);
}
#undef ROTL

/* A float equal to an int64 (as Python compares them). */
static bool float_as_int(double f, int64_t *out) {
    if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
        return false;
    int64_t i = (int64_t)f;
    if ((double)i != f)
        return false;
    *out = i;
    return true;
}

static uint64_t hash_of(const mp_val *v, unsigned depth) {
    switch (v->kind) {
    case MP_VAL_NONE: return 0x6e6f6e65ull;
    case MP_VAL_BOOL:
    case MP_VAL_INT: return mix((uint64_t)v->u.i);
    case MP_VAL_FLOAT: {
        int64_t i;
        if (isnan(v->u.f)) /* equal to no other value: hashed by identity,
                              as Python 3.10 does, so that NaN keys spread
                              instead of all probing one chain */
            return mix((uint64_t)(uintptr_t)v);
        if (float_as_int(v->u.f, &i))
            return mix((uint64_t)i);
        uint64_t bits;
        memcpy(&bits, &v->u.f, 8);
        return mix(bits ^ 0x666c6f6174ull);
    }
    case MP_VAL_STR: return hash_bytes(v->u.s, v->n, 1);
    case MP_VAL_BYTES: return hash_bytes(v->u.s, v->n, 2);
    case MP_VAL_TUPLE: {
        sip s = sip_start(3);
        for (size_t i = 0; i < v->n && depth < MP__VAL_DEPTH_MAX; i++)
            sip_word(&s, hash_of(v->u.items[i], depth + 1));
        return sip_end(&s, 0, v->n);
    }
    case MP_VAL_FROZENSET: {
        uint64_t h = 0;
        for (size_t i = 0; i < v->n && depth < MP__VAL_DEPTH_MAX; i++) {
            sip s = sip_start(4); /* each item on its own: order-free */
            sip_word(&s, hash_of(v->u.items[i], depth + 1));
            h += sip_end(&s, 0, 8);
        }
        return mix(h + v->n);
    }
    default: return 0;
    }
}

bool mp__val_hashable(const mp_val *v, unsigned depth) {
    if (depth > MP__VAL_DEPTH_MAX)
        return false;
    switch (v->kind) {
    case MP_VAL_LIST:
    case MP_VAL_DICT:
    case MP_VAL_SET: return false;
    case MP_VAL_TUPLE:
        for (size_t i = 0; i < v->n; i++)
            if (!mp__val_hashable(v->u.items[i], depth + 1))
                return false;
        return true;
    default:
        return true; /* scalars; a frozenset's items are hashable already */
    }
}

static bool equal(const mp_val *a, const mp_val *b, unsigned depth);

/* equal() with the common case first: a str key against a str. */
static inline bool key_eq(const mp_val *a, const mp_val *key, unsigned depth) {
    if (key->kind == MP_VAL_STR && a->kind == MP_VAL_STR)
        return a->n == key->n && memcmp(a->u.s, key->u.s, a->n) == 0;
    return equal(a, key, depth);
}

/* The index's next slot to probe, CPython's sequence: every bit of the
 * hash takes part (perturb), so that keys sharing the low bits of their
 * hashes part after a few probes instead of piling up in one run (a
 * pickle of ints chosen to share them would make decoding quadratic).
 * Once perturb is spent it is s = 5s + 1, which visits every slot, so at
 * most PROBES_MAX(mask) probes reach any slot. */
static size_t probe_next(size_t s, uint64_t *perturb, size_t mask) {
    *perturb >>= 5;
    return (s * 5 + 1 + (size_t)*perturb) & mask;
}
#define PROBES_MAX(mask) ((mask) + 1 + 13) /* 13 shifts spend perturb */

/* The entry of c equal to key, or -1: identity first, as Python's dict
 * (so that a NaN key finds itself), then equality. h is key's hash,
 * needed only when c has an index. */
static long find(const mp_val *c, const mp_val *key, uint64_t h,
                 unsigned depth) {
    size_t stride = c->kind == MP_VAL_DICT ? 2 : 1;
    if (c->index) {
        size_t mask = ((size_t)1 << c->index[0]) - 1;
        uint64_t perturb = h;
        for (size_t s = (size_t)h & mask, probes = 0;
             probes < PROBES_MAX(mask);
             s = probe_next(s, &perturb, mask), probes++) {
            uint32_t e = c->index[1 + s];
            if (!e)
                return -1;
            const mp_val *k = c->u.items[(e - 1) * stride];
            if (k == key || key_eq(k, key, depth))
                return (long)(e - 1);
        }
        return -1;
    }
    for (size_t i = 0; i < c->n; i++)
        if (c->u.items[i * stride] == key ||
            key_eq(c->u.items[i * stride], key, depth))
            return (long)i;
    return -1;
}

static bool numeric(const mp_val *v) {
    return v->kind == MP_VAL_INT || v->kind == MP_VAL_BOOL ||
           v->kind == MP_VAL_FLOAT;
}

static bool equal(const mp_val *a, const mp_val *b, unsigned depth) {
    if (a == b)
        return !(a->kind == MP_VAL_FLOAT && isnan(a->u.f));
    if ((is_container(a) || is_container(b)) && depth >= MP__VAL_DEPTH_MAX)
        return false; /* past the levels any tree may have */
    if (numeric(a) && numeric(b)) {
        if (a->kind != MP_VAL_FLOAT && b->kind != MP_VAL_FLOAT)
            return a->u.i == b->u.i;
        if (a->kind == MP_VAL_FLOAT && b->kind == MP_VAL_FLOAT)
            return a->u.f == b->u.f;
        const mp_val *f = a->kind == MP_VAL_FLOAT ? a : b;
        const mp_val *i = f == a ? b : a;
        int64_t fi;
        return float_as_int(f->u.f, &fi) && fi == i->u.i;
    }
    if (is_set(a) && is_set(b)) {
        if (a->n != b->n)
            return false;
        for (size_t k = 0; k < a->n; k++)
            if (find(b, a->u.items[k], hash_of(a->u.items[k], 0), depth + 1) <
                0)
                return false;
        return true;
    }
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case MP_VAL_NONE: return true;
    case MP_VAL_STR:
    case MP_VAL_BYTES:
        return a->n == b->n &&
               (a->n == 0 || memcmp(a->u.s, b->u.s, a->n) == 0);
    case MP_VAL_TUPLE:
    case MP_VAL_LIST:
        if (a->n != b->n)
            return false;
        for (size_t k = 0; k < a->n; k++)
            if (!equal(a->u.items[k], b->u.items[k], depth + 1))
                return false;
        return true;
    case MP_VAL_DICT:
        if (a->n != b->n)
            return false;
        for (size_t k = 0; k < a->n; k++) {
            const mp_val *key = a->u.items[2 * k];
            long at = find(b, key, hash_of(key, 0), depth + 1);
            if (at < 0 || !equal(a->u.items[2 * k + 1],
                                 b->u.items[2 * (size_t)at + 1], depth + 1))
                return false;
        }
        return true;
    default: return false;
    }
}

bool mp_val_equal(const mp_val *a, const mp_val *b) {
    if (!a || !b)
        return a == b;
    return equal(a, b, 0);
}

/* ---- containers -------------------------------------------------------- */

static void height_from(mp_val *c, const mp_val *item) {
    if (is_container(item)) {
        unsigned h = (unsigned)item->height + 1u;
        if (h > c->height)
            c->height = (uint16_t)(h > 60000u ? 60000u : h);
    }
}

/* Room for one more entry of `stride` pointers. */
static int grow(mp_val *c, size_t stride) {
    if ((c->n + 1) * stride <= c->cap)
        return 0;
    size_t cap = c->cap ? (size_t)c->cap * 2 : 4 * stride;
    if (cap > UINT32_MAX || cap > SIZE_MAX / sizeof(mp_val *))
        return MP_ENOMEM;
    mp_val **items = mp__val_alloc(c->arena, cap * sizeof *items);
    if (!items)
        return MP_ENOMEM;
    if (c->n)
        memcpy(items, c->u.items, c->n * stride * sizeof *items);
    c->u.items = items;
    c->cap = (uint32_t)cap;
    return 0;
}

#define INDEX_FROM 8u

static void index_place(mp_val *c, size_t entry, uint64_t h) {
    size_t mask = ((size_t)1 << c->index[0]) - 1;
    uint64_t perturb = h;
    size_t s = (size_t)h & mask;
    while (c->index[1 + s]) /* at most half full: there is an empty slot */
        s = probe_next(s, &perturb, mask);
    c->index[1 + s] = (uint32_t)(entry + 1);
}

/* Keeps the index at most half full once there are INDEX_FROM entries. */
static int index_fit(mp_val *c, size_t want) {
    if (want < INDEX_FROM)
        return 0;
    if (c->index && ((size_t)1 << c->index[0]) >= 2 * want)
        return 0;
    unsigned lg = 4; /* room to double before the next rebuild */
    while (((size_t)1 << lg) < 4 * want)
        lg++;
    if (lg > 31)
        return MP_ENOMEM;
    size_t slots = (size_t)1 << lg;
    uint32_t *idx = mp__val_alloc(c->arena, (slots + 1) * sizeof *idx);
    if (!idx)
        return MP_ENOMEM;
    memset(idx, 0, (slots + 1) * sizeof *idx);
    idx[0] = lg;
    c->index = idx;
    size_t stride = c->kind == MP_VAL_DICT ? 2 : 1;
    for (size_t e = 0; e < c->n; e++)
        index_place(c, e, hash_of(c->u.items[e * stride], 0));
    return 0;
}

int mp__val_reserve(mp_val *seq, size_t more) {
    while ((size_t)seq->cap < seq->n + more) {
        int rc = grow(seq, 1);
        if (rc)
            return rc;
        if (seq->cap >= seq->n + more)
            break;
        /* grow adds room for one at least; ask for the whole at once */
        size_t want = seq->n + more;
        if (want > UINT32_MAX)
            return MP_ENOMEM;
        mp_val **items = mp__val_alloc(seq->arena, want * sizeof *items);
        if (!items)
            return MP_ENOMEM;
        if (seq->n)
            memcpy(items, seq->u.items, seq->n * sizeof *items);
        seq->u.items = items;
        seq->cap = (uint32_t)want;
    }
    return 0;
}

int mp__val_append(mp_val *seq, mp_val *item) {
    int rc = grow(seq, 1);
    if (rc)
        return rc;
    seq->u.items[seq->n++] = item;
    height_from(seq, item);
    return 0;
}

static void freeze(mp_val *v, unsigned depth) {
    v->flags |= MP__V_FROZEN;
    if ((v->kind == MP_VAL_TUPLE || v->kind == MP_VAL_FROZENSET) &&
        depth < MP__VAL_DEPTH_MAX)
        for (size_t i = 0; i < v->n; i++)
            freeze(v->u.items[i], depth + 1);
}

int mp__val_dict_insert(mp_val *d, mp_val *key, mp_val *value) {
    bool hashed = d->index != NULL; /* a small dict is scanned: no hash */
    uint64_t h = hashed ? hash_of(key, 0) : 0;
    long at = find(d, key, h, 0);
    if (at >= 0) {
        d->u.items[2 * (size_t)at + 1] = value;
        height_from(d, value);
        return 0;
    }
    int rc = grow(d, 2);
    if (!rc)
        rc = index_fit(d, d->n + 1);
    if (rc)
        return rc;
    freeze(key, 0);
    d->u.items[2 * d->n] = key;
    d->u.items[2 * d->n + 1] = value;
    if (d->index)
        index_place(d, d->n, hashed ? h : hash_of(key, 0));
    d->n++;
    height_from(d, key);
    height_from(d, value);
    return 0;
}

int mp__val_dict_bulk(mp_val *d, mp_val *const *kv, size_t pairs) {
    /* Room for every pair and an index sized once for all of them. */
    size_t want = d->n + pairs;
    if (want > UINT32_MAX / 2)
        return MP_ENOMEM;
    if (2 * want > d->cap) {
        mp_val **items = mp__val_alloc(d->arena, 2 * want * sizeof *items);
        if (!items)
            return MP_ENOMEM;
        if (d->n)
            memcpy(items, d->u.items, 2 * d->n * sizeof *items);
        d->u.items = items;
        d->cap = (uint32_t)(2 * want);
    }
    int rc = index_fit(d, want);
    if (rc)
        return rc;
    for (size_t i = 0; i < pairs; i++) {
        mp_val *key = kv[2 * i], *value = kv[2 * i + 1];
        uint64_t h = d->index ? hash_of(key, 0) : 0;
        long at = find(d, key, h, 0);
        if (at >= 0) { /* a repeated key: the later value wins */
            d->u.items[2 * (size_t)at + 1] = value;
        } else {
            freeze(key, 0);
            d->u.items[2 * d->n] = key;
            d->u.items[2 * d->n + 1] = value;
            if (d->index)
                index_place(d, d->n, h);
            d->n++;
            height_from(d, key);
        }
        height_from(d, value);
    }
    return 0;
}

int mp__val_set_insert(mp_val *s, mp_val *item) {
    uint64_t h = hash_of(item, 0);
    if (find(s, item, h, 0) >= 0)
        return 0;
    int rc = grow(s, 1);
    if (!rc)
        rc = index_fit(s, s->n + 1);
    if (rc)
        return rc;
    freeze(item, 0);
    s->u.items[s->n] = item;
    if (s->index)
        index_place(s, s->n, h);
    s->n++;
    height_from(s, item);
    return 0;
}

mp_val *mp_val_get_key(const mp_val *d, const mp_val *key) {
    if (!d || !key || d->kind != MP_VAL_DICT || !mp__val_hashable(key, 0))
        return NULL;
    long at = find(d, key, hash_of(key, 0), 0);
    return at < 0 ? NULL : d->u.items[2 * (size_t)at + 1];
}

mp_val *mp_val_get(const mp_val *d, const char *key) {
    if (!d || !key || d->kind != MP_VAL_DICT)
        return NULL;
    mp_val k;
    memset(&k, 0, sizeof k);
    k.kind = MP_VAL_STR;
    k.n = strlen(key);
    k.u.s = (char *)key;
    return mp_val_get_key(d, &k);
}

bool mp_val_has(const mp_val *s, const mp_val *item) {
    if (!s || !item || !is_set(s) || !mp__val_hashable(item, 0))
        return false;
    return find(s, item, hash_of(item, 0), 0) >= 0;
}

/* ---- setting ----------------------------------------------------------- */

/* Whether p[0..n) is UTF-8 as Python's "surrogatepass" writes it. */
bool mp__utf8_valid(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        /* ASCII, 8 at a time */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        i += len;
    }
    return true;
}

static int writable(const mp_val *v) {
    return v && !(v->flags & MP__V_FROZEN) ? 0 : MP_EINVAL;
}

static void clear(mp_val *v, mp_val_kind kind) {
    v->kind = (uint8_t)kind;
    v->n = 0;
    v->cap = 0;
    v->height = 0;
    v->index = NULL;
    v->u.i = 0;
}

int mp_val_set_none(mp_val *v) {
    int rc = writable(v);
    if (!rc)
        clear(v, MP_VAL_NONE);
    return rc;
}

int mp_val_set_bool(mp_val *v, bool b) {
    int rc = writable(v);
    if (!rc) {
        clear(v, MP_VAL_BOOL);
        v->u.i = b ? 1 : 0;
    }
    return rc;
}

int mp_val_set_int(mp_val *v, int64_t i) {
    int rc = writable(v);
    if (!rc) {
        clear(v, MP_VAL_INT);
        v->u.i = i;
    }
    return rc;
}

int mp_val_set_float(mp_val *v, double f) {
    int rc = writable(v);
    if (!rc) {
        clear(v, MP_VAL_FLOAT);
        v->u.f = f;
    }
    return rc;
}

static int set_blob(mp_val *v, mp_val_kind kind, const void *p, size_t n) {
    int rc = writable(v);
    if (rc)
        return rc;
    if (!p && n)
        return MP_EINVAL;
    if (kind == MP_VAL_STR && !mp__utf8_valid(p, n))
        return MP_EINVAL;
    if (n == SIZE_MAX)
        return MP_ENOMEM;
    char *s = mp__val_alloc(v->arena, n + 1);
    if (!s)
        return MP_ENOMEM;
    if (n)
        memcpy(s, p, n);
    s[n] = 0;
    clear(v, kind);
    v->u.s = s;
    v->n = n;
    return 0;
}

int mp_val_set_str(mp_val *v, const char *s) {
    return set_blob(v, MP_VAL_STR, s ? s : "", s ? strlen(s) : 0);
}

int mp_val_set_strn(mp_val *v, const char *s, size_t len) {
    return set_blob(v, MP_VAL_STR, s, len);
}

int mp_val_set_bytes(mp_val *v, const void *p, size_t len) {
    return set_blob(v, MP_VAL_BYTES, p, len);
}

int mp_val_set_empty(mp_val *v, mp_val_kind kind) {
    if ((unsigned)kind > MP_VAL_FROZENSET)
        return MP_EINVAL;
    int rc = writable(v);
    if (!rc)
        clear(v, kind);
    return rc;
}

static mp_val *copy_rec(mp__varena *a, const mp_val *src, size_t *items,
                        size_t *bytes, int *err, unsigned depth,
                        size_t *refs) {
    if (is_container(src) && depth >= MP__VAL_DEPTH_MAX) {
        *err = MP_EMSGSIZE; /* level depth + 1: past the levels of dumps */
        return NULL;
    }
    if (*items == 0) {
        *err = MP_EMSGSIZE;
        return NULL;
    }
    (*items)--;
    mp_val *v = mp__val_node(a);
    if (!v) {
        *err = MP_ENOMEM;
        return NULL;
    }
    v->kind = src->kind;
    v->flags = (uint8_t)(src->flags & MP__V_GLOBAL);
    if (refs && ((src->flags & MP__V_REF) || src->kind == MP_VAL_LIST ||
                 src->kind == MP_VAL_DICT || src->kind == MP_VAL_SET)) {
        v->flags |= MP__V_REF;
        v->u.ref = (src->flags & MP__V_REF) ? src->u.ref : (mp_val *)src;
        (*refs)++;
        return v;
    }
    switch (src->kind) {
    case MP_VAL_STR:
    case MP_VAL_BYTES:
        if (src->n > *bytes) {
            *err = MP_EMSGSIZE;
            return NULL;
        }
        *bytes -= src->n;
        v->n = src->n;
        if (refs && src->arena == a) {
            v->u.s = src->u.s; /* a memo copy: strings never change in
                                  place, so it shares the original's */
            return v;
        }
        v->u.s = mp__val_alloc(a, src->n + 1);
        if (!v->u.s) {
            *err = MP_ENOMEM;
            return NULL;
        }
        if (src->n)
            memcpy(v->u.s, src->u.s, src->n);
        v->u.s[src->n] = 0;
        return v;
    case MP_VAL_TUPLE:
    case MP_VAL_LIST:
    case MP_VAL_SET:
    case MP_VAL_FROZENSET:
    case MP_VAL_DICT: {
        size_t total = src->kind == MP_VAL_DICT ? 2 * src->n : src->n;
        if (total > *items) {
            *err = MP_EMSGSIZE;
            return NULL;
        }
        if (total) {
            v->u.items = mp__val_alloc(a, total * sizeof *v->u.items);
            if (!v->u.items) {
                *err = MP_ENOMEM;
                return NULL;
            }
        }
        v->cap = (uint32_t)total;
        for (size_t i = 0; i < total; i++) {
            v->u.items[i] = copy_rec(a, src->u.items[i], items, bytes, err,
                                     depth + 1, refs);
            if (!v->u.items[i])
                return NULL;
            /* A dict's keys and a set's items are frozen in the copy too;
               the copy of a key, once no key, is free to change. */
            if ((src->kind == MP_VAL_DICT && i % 2 == 0) || is_set(src))
                freeze(v->u.items[i], 0);
            v->n = src->kind == MP_VAL_DICT ? (i + 1) / 2 : i + 1;
        }
        v->height = src->height;
        if (src->index) {
            v->n = src->n;
            if (index_fit(v, v->n)) {
                *err = MP_ENOMEM;
                return NULL;
            }
        }
        return v;
    }
    default: v->u = src->u; return v;
    }
}

mp_val *mp__val_copy_into(mp__varena *a, const mp_val *src, size_t *items,
                          size_t *bytes, int *err) {
    return copy_rec(a, src, items, bytes, err, 0, NULL);
}

mp_val *mp__val_copy_lazy(mp__varena *a, const mp_val *src, size_t *items,
                          size_t *bytes, int *err, size_t *refs) {
    return copy_rec(a, src, items, bytes, err, 0, refs);
}

/* Copies src into a node of v's arena and makes v that node's content. */
int mp_val_set_copy(mp_val *v, const mp_val *src) {
    int rc = writable(v);
    if (rc || !src)
        return rc ? rc : MP_EINVAL;
    size_t items = SIZE_MAX, bytes = SIZE_MAX;
    int err = 0;
    mp_val *c = mp__val_copy_into(v->arena, src, &items, &bytes, &err);
    if (!c)
        return err ? err : MP_ENOMEM;
    uint8_t flags = v->flags;
    mp__varena *arena = v->arena;
    *v = *c;
    v->flags = (uint8_t)(flags & MP__V_ROOT);
    v->arena = arena;
    return 0;
}

mp_val *mp_val_copy(const mp_val *src) {
    if (!src)
        return NULL;
    mp_val *root = mp__val_root(0);
    if (!root)
        return NULL;
    if (mp_val_set_copy(root, src)) {
        mp_val_free(root);
        return NULL;
    }
    return root;
}

/* ---- building ---------------------------------------------------------- */

mp_val *mp_val_push(mp_val *seq) {
    if (!seq || !is_seq(seq) || (seq->flags & MP__V_FROZEN))
        return NULL;
    mp_val *item = mp__val_node(seq->arena);
    if (!item || mp__val_append(seq, item))
        return NULL;
    return item;
}

mp_val *mp_val_put_key(mp_val *d, const mp_val *key) {
    if (!d || !key || d->kind != MP_VAL_DICT || !mp__val_hashable(key, 0))
        return NULL;
    long at = find(d, key, hash_of(key, 0), 0);
    if (at >= 0)
        return d->u.items[2 * (size_t)at + 1];
    size_t items = SIZE_MAX, bytes = SIZE_MAX;
    int err = 0;
    mp_val *k = mp__val_copy_into(d->arena, key, &items, &bytes, &err);
    mp_val *v = k ? mp__val_node(d->arena) : NULL;
    if (!v || mp__val_dict_insert(d, k, v))
        return NULL;
    /* a value set later may nest: the height is kept up by the setters
       only for the dict's direct items; dumps does not rely on it */
    return v;
}

mp_val *mp_val_put(mp_val *d, const char *key) {
    if (!key)
        return NULL;
    mp_val k;
    memset(&k, 0, sizeof k);
    k.kind = MP_VAL_STR;
    k.n = strlen(key);
    k.u.s = (char *)key;
    if (!mp__utf8_valid((const uint8_t *)key, k.n))
        return NULL;
    return mp_val_put_key(d, &k);
}

int mp_val_add(mp_val *s, const mp_val *item) {
    if (!s || !item || !is_set(s) || (s->flags & MP__V_FROZEN) ||
        !mp__val_hashable(item, 0))
        return MP_EINVAL;
    if (find(s, item, hash_of(item, 0), 0) >= 0)
        return 0;
    size_t items = SIZE_MAX, bytes = SIZE_MAX;
    int err = 0;
    mp_val *c = mp__val_copy_into(s->arena, item, &items, &bytes, &err);
    if (!c)
        return err ? err : MP_ENOMEM;
    return mp__val_set_insert(s, c);
}

/* Why mp_val_push gave no slot: a sequence that may grow ran out of
 * memory; anything else (NULL, another kind, a frozen tuple) is EINVAL. */
static int push_err(const mp_val *seq) {
    return seq && is_seq(seq) && !(seq->flags & MP__V_FROZEN) ? MP_ENOMEM
                                                              : MP_EINVAL;
}

#define PUSH_AS(name, type, setter)                                           \
    int mp_val_push_##name(mp_val *seq, type x) {                             \
        mp_val *slot = mp_val_push(seq);                                      \
        if (!slot)                                                            \
            return push_err(seq);                                             \
        int rc = setter(slot, x);                                             \
        if (rc)                                                               \
            seq->n--; /* the slot was the last item */                        \
        return rc;                                                            \
    }
/* Why mp_val_put gave no slot: out of memory for a dict and a valid key;
 * EINVAL otherwise. */
static int put_err(const mp_val *d, const char *key) {
    return d && key && d->kind == MP_VAL_DICT &&
                   mp__utf8_valid((const uint8_t *)key, strlen(key))
               ? MP_ENOMEM
               : MP_EINVAL;
}

#define PUT_AS(name, type, setter)                                            \
    int mp_val_put_##name(mp_val *d, const char *key, type x) {               \
        mp_val *slot = mp_val_put(d, key);                                    \
        if (!slot)                                                            \
            return put_err(d, key);                                           \
        return setter(slot, x);                                               \
    }

PUSH_AS(bool, bool, mp_val_set_bool)
PUSH_AS(int, int64_t, mp_val_set_int)
PUSH_AS(float, double, mp_val_set_float)
PUSH_AS(str, const char *, mp_val_set_str)
PUT_AS(bool, bool, mp_val_set_bool)
PUT_AS(int, int64_t, mp_val_set_int)
PUT_AS(float, double, mp_val_set_float)

int mp_val_push_none(mp_val *seq) {
    return mp_val_push(seq) ? 0 : push_err(seq);
}

int mp_val_push_bytes(mp_val *seq, const void *p, size_t len) {
    if (!p && len)
        return MP_EINVAL;
    mp_val *slot = mp_val_push(seq);
    if (!slot)
        return push_err(seq);
    int rc = mp_val_set_bytes(slot, p, len);
    if (rc)
        seq->n--;
    return rc;
}

int mp_val_put_str(mp_val *d, const char *key, const char *s) {
    /* Checked first: a refused value must not leave its key behind. */
    if (s && !mp__utf8_valid((const uint8_t *)s, strlen(s)))
        return MP_EINVAL;
    mp_val *slot = mp_val_put(d, key);
    if (!slot)
        return put_err(d, key);
    return mp_val_set_str(slot, s);
}

int mp_val_put_none(mp_val *d, const char *key) {
    mp_val *slot = mp_val_put(d, key);
    if (!slot)
        return put_err(d, key);
    return mp_val_set_none(slot);
}

int mp_val_put_bytes(mp_val *d, const char *key, const void *p, size_t len) {
    if (!p && len)
        return MP_EINVAL;
    mp_val *slot = mp_val_put(d, key);
    if (!slot)
        return put_err(d, key);
    return mp_val_set_bytes(slot, p, len);
}
