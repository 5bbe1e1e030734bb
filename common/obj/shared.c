/* Value and Array: C numbers in a shared mapping, [header][lock][data],
 * with an embedded RLock unless raw. A locked Value keeps its number in the
 * lock's spare slot instead (mp__lock_state.user, on the lock's cache
 * line), so `lock; += 1; unlock` between processes moves one line, not two.
 * Single loads and stores are atomic, so get/set never tear even without
 * the lock. */
#include <stdlib.h>
#include <string.h>

#include "obj/lock_state.h"

#define SH_LOCK MP__SHOBJ_HDR
#define SH_DATA (SH_LOCK + MP__LOCK_AREA)

typedef struct shared {
    mp__shobj obj;
    mp_type type;
    size_t esize, n;
    void *data;
    mp_lock lock;
    bool has_lock;
    bool int64;    /* an 8-byte integer type: mp_value_add's short path */
    mp_lock *ext;  /* the caller's lock (mp_shared_options.lock), or NULL */
    bool free_ext; /* an imported one, ours to free */
} shared;

struct mp_value {
    shared s;
};
struct mp_array {
    shared s;
};

/* One element of any type, and its raw bits for atomic access. */
typedef union scalar {
    char c;
    signed char b;
    unsigned char B;
    short h;
    unsigned short H;
    int i;
    unsigned I;
    long l;
    unsigned long L;
    long long q;
    unsigned long long Q;
    float f;
    double d;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
} scalar;

size_t mp_type_size(mp_type t) {
    switch (t) {
    case 'c':
    case 'b':
    case 'B': return 1;
    case 'h':
    case 'H': return sizeof(short);
    case 'i':
    case 'I': return sizeof(int);
    case 'l':
    case 'L': return sizeof(long);
    case 'q':
    case 'Q': return sizeof(long long);
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    default: return 0;
    }
}

static void load(const void *p, size_t size, scalar *s) {
    switch (size) {
    case 1: s->u8 = mp__load8(p, MP__SEQ_CST); break;
    case 2: s->u16 = mp__load16(p, MP__SEQ_CST); break;
    case 4: s->u32 = mp__load32(p, MP__SEQ_CST); break;
    default: s->u64 = mp__load64(p, MP__SEQ_CST); break;
    }
}

static void store(void *p, size_t size, const scalar *s) {
    switch (size) {
    case 1: mp__store8(p, s->u8, MP__SEQ_CST); break;
    case 2: mp__store16(p, s->u16, MP__SEQ_CST); break;
    case 4: mp__store32(p, s->u32, MP__SEQ_CST); break;
    default: mp__store64(p, s->u64, MP__SEQ_CST); break;
    }
}

static int64_t to_int(mp_type t, const scalar *s) {
    switch (t) {
    case 'c': return s->c;
    case 'b': return s->b;
    case 'B': return s->B;
    case 'h': return s->h;
    case 'H': return s->H;
    case 'i': return s->i;
    case 'I': return s->I;
    case 'l': return s->l;
    case 'L': return (int64_t)s->L;
    case 'q': return s->q;
    case 'Q': return (int64_t)s->Q;
    case 'f': return (int64_t)s->f;
    default: return (int64_t)s->d;
    }
}

static double to_double(mp_type t, const scalar *s) {
    switch (t) {
    case 'f': return s->f;
    case 'd': return s->d;
    case 'L': return (double)s->L;
    case 'Q': return (double)s->Q;
    default: return (double)to_int(t, s);
    }
}

static void from_int(mp_type t, int64_t x, scalar *s) {
    s->u64 = 0;
    switch (t) {
    case 'c': s->c = (char)x; break;
    case 'b': s->b = (signed char)x; break;
    case 'B': s->B = (unsigned char)x; break;
    case 'h': s->h = (short)x; break;
    case 'H': s->H = (unsigned short)x; break;
    case 'i': s->i = (int)x; break;
    case 'I': s->I = (unsigned)x; break;
    case 'l': s->l = (long)x; break;
    case 'L': s->L = (unsigned long)x; break;
    case 'q': s->q = x; break;
    case 'Q': s->Q = (unsigned long long)x; break;
    case 'f': s->f = (float)x; break;
    default: s->d = (double)x; break;
    }
}

static void from_double(mp_type t, double x, scalar *s) {
    s->u64 = 0;
    if (t == 'f')
        s->f = (float)x;
    else if (t == 'd')
        s->d = x;
    else
        from_int(t, (int64_t)x, s);
}

static void *sh_elem(shared *sh, size_t i) {
    return (char *)sh->data + i * sh->esize;
}

/* Typed element access; out of range reads 0 and writes MP_EINVAL. */
static int64_t sh_get_int(shared *sh, size_t i) {
    scalar s;
    if (i >= sh->n)
        return 0;
    load(sh_elem(sh, i), sh->esize, &s);
    return to_int(sh->type, &s);
}

static double sh_get_double(shared *sh, size_t i) {
    scalar s;
    if (i >= sh->n)
        return 0.0;
    load(sh_elem(sh, i), sh->esize, &s);
    return to_double(sh->type, &s);
}

static int sh_set_int(shared *sh, size_t i, int64_t x) {
    scalar s;
    if (i >= sh->n)
        return MP_EINVAL;
    from_int(sh->type, x, &s);
    store(sh_elem(sh, i), sh->esize, &s);
    return 0;
}

static int sh_set_double(shared *sh, size_t i, double x) {
    scalar s;
    if (i >= sh->n)
        return MP_EINVAL;
    from_double(sh->type, x, &s);
    store(sh_elem(sh, i), sh->esize, &s);
    return 0;
}

/* Where the elements are (the same in every process: kind and raw are
 * fixed at creation). */
static void *shared_data(shared *sh, mp_obj_kind kind) {
    if (kind == MP_OBJ_VALUE && sh->has_lock)
        return sh->lock.st->user;
    return mp__shobj_at(sh, SH_DATA);
}

/* param: {type, count, raw}. */
static size_t shared_size(const uint64_t param[MP__NPARAM]) {
    size_t es = param[0] <= 0xff ? mp_type_size((mp_type)param[0]) : 0;
    if (!es || param[1] == 0 || param[1] > (SIZE_MAX - SH_DATA) / es ||
        param[2] > 1)
        return 0;
    return SH_DATA + es * (size_t)param[1];
}

static int shared_bind(void *obj) {
    shared *sh = obj;
    sh->type = (mp_type)mp__shobj_param(sh, 0);
    sh->esize = mp_type_size(sh->type);
    sh->n = (size_t)mp__shobj_param(sh, 1);
    sh->has_lock = !mp__shobj_param(sh, 2);
    mp__lock_bind(&sh->lock, mp__shobj_at(sh, SH_LOCK),
                  &mp__shobj_prim(sh, 0)->mx, true);
    sh->data = shared_data(sh, sh->obj.k->kind);
    sh->int64 = sh->esize == 8 && sh->type != MP_TYPE_DOUBLE;
    return 0;
}

static void shared_init(void *obj, const void *init) {
    shared *sh = obj;
    mp__lock_init(&sh->lock, true);
    if (init) /* the mapping starts zeroed */
        memcpy(sh->data, init, sh->esize * sh->n);
}

/* An object made with the caller's lock carries that lock along. */
static int shared_export_lock(void *obj, mp__wbuf *w, mp__handles *hs) {
    return mp__ext_lock_export(((shared *)obj)->ext, w, hs);
}

static int shared_import_lock(void *obj, mp__rbuf *r, mp__handle *hs,
                              size_t nh) {
    shared *sh = obj;
    int rc = mp__ext_lock_import(&sh->ext, r, hs, nh);
    sh->free_ext = sh->ext != NULL;
    return rc;
}

static void shared_free_lock(void *obj) {
    shared *sh = obj;
    if (sh->free_ext)
        mp_lock_free(sh->ext);
}

/* A raw object's lock area is unused; its mutex is made all the same, so
 * that every object of a kind has the same primitives. An object with the
 * caller's lock is raw in its mapping. */
const mp__shkind mp__value_kind = {
    .kind = MP_OBJ_VALUE,
    .obj_size = sizeof(mp_value),
    .size = shared_size,
    .nprims = 1,
    .prims = {{MP__PRIM_MUTEX, MP__LOCK_MUTEX_AT(SH_LOCK), "mtx"}},
    .bind = shared_bind,
    .init = shared_init,
    .export_extra = shared_export_lock,
    .import_extra = shared_import_lock,
    .free_extra = shared_free_lock,
};
const mp__shkind mp__array_kind = {
    .kind = MP_OBJ_ARRAY,
    .obj_size = sizeof(mp_array),
    .size = shared_size,
    .nprims = 1,
    .prims = {{MP__PRIM_MUTEX, MP__LOCK_MUTEX_AT(SH_LOCK), "mtx"}},
    .bind = shared_bind,
    .init = shared_init,
    .export_extra = shared_export_lock,
    .import_extra = shared_import_lock,
    .free_extra = shared_free_lock,
};

static int shared_new(void **out, const mp__shkind *k, mp_type type, size_t n,
                      const void *init, const mp_shared_options *o) {
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    mp_lock *ext = o ? o->lock : NULL;
    /* As a Condition's: a named object cannot hold a lock of this process. */
    if (ext && (o->raw || o->name || !mp__ext_lock_ok(ext)))
        return MP_EINVAL;
    mp__shobj_req req = {
        .name = o ? o->name : NULL,
        .exclusive = o && o->exclusive,
        .param = {(uint64_t)type, n, (o && o->raw) || ext},
        .init_arg = init,
    };
    int rc = mp__shobj_new(out, k, &req);
    if (!rc)
        ((shared *)*out)->ext = ext;
    return rc;
}

/* ---- Value ---- */

int mp_value_new(mp_value **out, mp_type type, const void *init,
                 const mp_shared_options *opts) {
    return shared_new((void **)out, &mp__value_kind, type, 1, init, opts);
}

mp_type mp_value_type(const mp_value *v) { return v ? v->s.type : (mp_type)0; }

int mp_value_get(mp_value *v, void *out) {
    scalar s;
    if (!v || !out)
        return MP_EINVAL;
    load(v->s.data, v->s.esize, &s);
    memcpy(out, &s, v->s.esize);
    return 0;
}

int mp_value_set(mp_value *v, const void *in) {
    scalar s;
    if (!v || !in)
        return MP_EINVAL;
    memcpy(&s, in, v->s.esize);
    store(v->s.data, v->s.esize, &s);
    return 0;
}

int64_t mp_value_get_int(mp_value *v) { return v ? sh_get_int(&v->s, 0) : 0; }
double mp_value_get_double(mp_value *v) {
    return v ? sh_get_double(&v->s, 0) : 0.0;
}
int mp_value_set_int(mp_value *v, int64_t x) {
    return v ? sh_set_int(&v->s, 0, x) : MP_EINVAL;
}
int mp_value_set_double(mp_value *v, double x) {
    return v ? sh_set_double(&v->s, 0, x) : MP_EINVAL;
}

int mp_value_add(mp_value *v, int64_t delta, int64_t *old) {
    scalar prev, d;
    if (v && v->s.int64) { /* the common case, one instruction and a test */
        uint64_t p = mp__fetch_add64(v->s.data, (uint64_t)delta, MP__SEQ_CST);
        if (old)
            *old = (int64_t)p;
        return 0;
    }
    if (!v || v->s.type == 'f' || v->s.type == 'd')
        return MP_EINVAL;
    /* Two's complement addition is the same for signed and unsigned types of
     * a width: add in the unsigned width, then read back by type. */
    from_int(v->s.type, delta, &d);
    prev.u64 = 0;
    void *p = v->s.data;
    switch (v->s.esize) {
    case 1: prev.u8 = mp__fetch_add8(p, d.u8, MP__SEQ_CST); break;
    case 2: prev.u16 = mp__fetch_add16(p, d.u16, MP__SEQ_CST); break;
    case 4: prev.u32 = mp__fetch_add32(p, d.u32, MP__SEQ_CST); break;
    default: prev.u64 = mp__fetch_add64(p, d.u64, MP__SEQ_CST); break;
    }
    if (old)
        *old = to_int(v->s.type, &prev);
    return 0;
}

void *mp_value_ptr(mp_value *v) { return v ? v->s.data : NULL; }

mp_lock *mp_value_lock(mp_value *v) {
    return !v ? NULL : v->s.ext ? v->s.ext : v->s.has_lock ? &v->s.lock : NULL;
}

void mp_value_free(mp_value *v) { mp__shobj_free(v); }

/* ---- Array ---- */

int mp_array_new(mp_array **out, mp_type type, size_t n, const void *init,
                 const mp_shared_options *opts) {
    return shared_new((void **)out, &mp__array_kind, type, n, init, opts);
}

mp_type mp_array_type(const mp_array *a) { return a ? a->s.type : (mp_type)0; }
size_t mp_array_len(const mp_array *a) { return a ? a->s.n : 0; }
void *mp_array_data(mp_array *a) { return a ? a->s.data : NULL; }

int mp_array_get(mp_array *a, size_t i, void *out) {
    scalar s;
    if (!a || !out || i >= a->s.n)
        return MP_EINVAL;
    load(sh_elem(&a->s, i), a->s.esize, &s);
    memcpy(out, &s, a->s.esize);
    return 0;
}

int mp_array_set(mp_array *a, size_t i, const void *in) {
    scalar s;
    if (!a || !in || i >= a->s.n)
        return MP_EINVAL;
    memcpy(&s, in, a->s.esize);
    store(sh_elem(&a->s, i), a->s.esize, &s);
    return 0;
}

int64_t mp_array_get_int(mp_array *a, size_t i) {
    return a ? sh_get_int(&a->s, i) : 0;
}
double mp_array_get_double(mp_array *a, size_t i) {
    return a ? sh_get_double(&a->s, i) : 0.0;
}
int mp_array_set_int(mp_array *a, size_t i, int64_t x) {
    return a ? sh_set_int(&a->s, i, x) : MP_EINVAL;
}
int mp_array_set_double(mp_array *a, size_t i, double x) {
    return a ? sh_set_double(&a->s, i, x) : MP_EINVAL;
}

mp_lock *mp_array_lock(mp_array *a) {
    return !a ? NULL : a->s.ext ? a->s.ext : a->s.has_lock ? &a->s.lock : NULL;
}

void mp_array_free(mp_array *a) { mp__shobj_free(a); }
