#include <stdlib.h>
#include <string.h>

#include "proc/args_internal.h"
#include "proc/objtype.h"
#include "os/os_proc.h"
#include "value/value_internal.h"

/* Wire tags for argument payloads. */
enum { TAG_HAS_KW = 0x80 };

static size_t arg_payload_len(const mp_arg *a) {
    switch (a->type) {
    case MP_ARG_STR: return strlen((const char *)a->v.b.ptr) + 1;
    case MP_ARG_BYTES: return a->v.b.len;
    default: return 0;
    }
}

static int check_arg(const mp_arg *a) {
    switch (a->type) {
    case MP_ARG_INT:
    case MP_ARG_FLOAT: return 0;
    case MP_ARG_STR: return a->v.b.ptr ? 0 : MP_EINVAL;
    case MP_ARG_BYTES: return a->v.b.ptr || a->v.b.len == 0 ? 0 : MP_EINVAL;
    case MP_ARG_OBJ:
        return a->v.obj.ptr && (int)a->v.obj.kind > 0 &&
                       a->v.obj.kind < MP__OBJ_KIND_COUNT
                   ? 0
                   : MP_EINVAL;
    case MP_ARG_HANDLE: return mp__os_handle_check((mp__handle)a->v.h);
    case MP_ARG_VAL: return a->v.b.ptr ? 0 : MP_EINVAL;
    default: return MP_EINVAL;
    }
}

/* A value argument's pickle: the tree's (a caller's argument, len 0) or
 * the bytes a copy or a decoded list already holds. */
static int val_pickle(const mp_arg *a, mp__wbuf *tmp, const void **p,
                      size_t *n) {
    if (a->v.b.len) {
        *p = a->v.b.ptr;
        *n = a->v.b.len;
        return 0;
    }
    int rc = mp__val_dump(tmp, (const mp_val *)a->v.b.ptr, 4);
    *p = tmp->data;
    *n = tmp->len;
    return rc;
}

/* Whether a crosses by value alone, as a pool task's arguments must: not an
 * mproc object nor an OS handle (those cross only as a process's arguments
 * and a pool's initargs). */
static bool by_value(const mp_arg *a) {
    return a->type != MP_ARG_OBJ && a->type != MP_ARG_HANDLE;
}

int mp__argv_check_handles(const mp__argv *a) {
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].type == MP_ARG_HANDLE &&
            mp__os_handle_check((mp__handle)a->v[i].v.h))
            return MP_EINVAL;
    return 0;
}

int mp__argv_copy(mp_args args, mp__argv *out) {
    memset(out, 0, sizeof *out);
    const mp_arg *in = mp__args_items(&args);
    if (!in)
        return MP_EINVAL;
    if (args.n > MP__ARGS_COUNT_MAX)
        return MP_EMSGSIZE;
    if (args.n == 0)
        return 0;
    size_t extra = 0;
    mp__wbuf *vals = NULL; /* the value arguments' pickles, if any */
    int rc = 0;
    for (size_t i = 0; i < args.n && !rc; i++)
        if (in[i].type == MP_ARG_VAL && !vals) {
            vals = calloc(args.n, sizeof *vals);
            rc = vals ? 0 : MP_ENOMEM;
        }
    for (size_t i = 0; i < args.n && !rc; i++) {
        if ((rc = check_arg(&in[i])))
            break;
        if (in[i].type == MP_ARG_VAL) {
            const void *vp;
            size_t vn;
            if ((rc = val_pickle(&in[i], &vals[i], &vp, &vn)))
                break;
            if (vals[i].len == 0) /* already a pickle: copy it as it is */
                mp__w_bytes(&vals[i], vp, vn);
            if ((rc = vals[i].err))
                break;
            extra += vals[i].len;
        }
        extra += arg_payload_len(&in[i]);
        if (in[i].kw)
            extra += strlen(in[i].kw) + 1;
        if (extra > MP__ARGS_MAX)
            rc = MP_EMSGSIZE;
    }
    size_t head = args.n * sizeof(mp_arg);
    char *mem = rc ? NULL : malloc(head + extra);
    if (!mem) {
        for (size_t i = 0; vals && i < args.n; i++)
            mp__w_free(&vals[i]);
        free(vals);
        return rc ? rc : MP_ENOMEM;
    }
    mp_arg *v = (mp_arg *)mem;
    char *p = mem + head;
    for (size_t i = 0; i < args.n; i++) {
        v[i] = in[i];
        size_t len = arg_payload_len(&in[i]);
        if (len) {
            memcpy(p, in[i].v.b.ptr, len);
            v[i].v.b.ptr = p;
            p += len;
        } else if (in[i].type == MP_ARG_BYTES) {
            v[i].v.b.ptr = p; /* a valid pointer for empty bytes */
        }
        if (in[i].type == MP_ARG_STR)
            v[i].v.b.len = len - 1;
        if (in[i].type == MP_ARG_VAL) {
            memcpy(p, vals[i].data, vals[i].len);
            v[i].v.b.ptr = p;
            v[i].v.b.len = vals[i].len;
            p += vals[i].len;
            mp__w_free(&vals[i]);
        }
        if (in[i].kw) {
            size_t kl = strlen(in[i].kw) + 1;
            memcpy(p, in[i].kw, kl);
            v[i].kw = p;
            p += kl;
        }
    }
    free(vals);
    out->v = v;
    out->n = args.n;
    out->mem = mem;
    return 0;
}

void mp__argv_free(mp__argv *a) {
    if (!a)
        return;
    if (a->imported) {
        for (size_t i = 0; i < a->n; i++) {
            if (a->v[i].type != MP_ARG_OBJ)
                continue;
            mp__obj_release(a->v[i].v.obj.kind, a->v[i].v.obj.ptr);
        }
    }
    free(a->mem);
    memset(a, 0, sizeof *a);
}

/* One argument's wire form; a string's length is taken from the string. */
static int encode_one(const mp_arg *x, mp__wbuf *w, mp__handles *hs) {
    mp__w_u8(w, (uint8_t)(x->type | (x->kw ? TAG_HAS_KW : 0)));
    if (x->kw)
        mp__w_blob(w, x->kw, strlen(x->kw) + 1);
    switch (x->type) {
    case MP_ARG_INT: mp__w_u64(w, (uint64_t)x->v.i); return 0;
    case MP_ARG_FLOAT: {
        uint64_t bits;
        memcpy(&bits, &x->v.f, sizeof bits);
        mp__w_u64(w, bits);
        return 0;
    }
    case MP_ARG_STR:
        mp__w_blob(w, x->v.b.ptr, strlen((const char *)x->v.b.ptr) + 1);
        return 0;
    case MP_ARG_BYTES: mp__w_blob(w, x->v.b.ptr, x->v.b.len); return 0;
    case MP_ARG_OBJ: {
        mp__w_u8(w, (uint8_t)x->v.obj.kind);
        return mp__obj_export(x->v.obj.kind, x->v.obj.ptr, w, hs);
    }
    case MP_ARG_HANDLE: mp__handles_put(hs, w, (mp__handle)x->v.h); return 0;
    case MP_ARG_VAL: {
        if (x->v.b.len) {
            mp__w_blob(w, x->v.b.ptr, x->v.b.len);
            return 0;
        }
        size_t at = w->len; /* the length, known once the pickle is out */
        mp__w_u32(w, 0);
        int rc = mp__val_dump(w, (const mp_val *)x->v.b.ptr, 4);
        if (!rc && w->len - at - 4 > MP__ARGS_MAX)
            rc = MP_EMSGSIZE;
        mp__w_u32_at(w, at, (uint32_t)(w->len - at - 4));
        return rc;
    }
    default: return MP_EINVAL;
    }
}

static int encode_list(const mp_arg *v, size_t n, mp__wbuf *w,
                       mp__handles *hs) {
    size_t start = w->len;
    mp__w_u32(w, (uint32_t)n);
    for (size_t i = 0; i < n && !w->err; i++) {
        int rc = encode_one(&v[i], w, hs);
        if (rc)
            return rc;
    }
    if (!w->err && w->len - start > MP__ARGS_MAX)
        return MP_EMSGSIZE;
    return w->err;
}

int mp__argv_encode(const mp__argv *a, mp__wbuf *w, mp__handles *hs) {
    return encode_list(a->v, a->n, w, hs);
}

int mp__args_encode(mp_args args, mp__wbuf *w, mp__handles *hs) {
    const mp_arg *in = mp__args_items(&args);
    if (!in)
        return MP_EINVAL;
    if (args.n > MP__ARGS_COUNT_MAX)
        return MP_EMSGSIZE;
    /* This wire form is a pool task's, which mp__argv_decode_in reads: it
     * carries no handles, so neither objects nor OS handles. */
    for (size_t i = 0; i < args.n; i++) {
        int rc = by_value(&in[i]) ? check_arg(&in[i]) : MP_ENOTSUP;
        if (rc)
            return rc;
    }
    return encode_list(in, args.n, w, hs);
}

/* A NUL-terminated string of at most max bytes, in place. */
static int read_cstr(mp__rbuf *r, const char **s, size_t *len) {
    const void *p;
    size_t n;
    int rc = mp__r_blob(r, &p, &n, MP__ARGS_MAX);
    if (rc)
        return rc;
    if (n == 0 || ((const char *)p)[n - 1] != '\0')
        return MP_EPROTO;
    *s = p;
    if (len)
        *len = n - 1;
    return 0;
}

static int decode_one(mp__rbuf *r, mp_arg *x, mp__handle *hs, size_t nh) {
    uint8_t tag;
    int rc = mp__r_u8(r, &tag);
    if (rc)
        return rc;
    x->type = (mp_arg_type)(tag & ~TAG_HAS_KW);
    x->kw = NULL;
    if ((tag & TAG_HAS_KW) && (rc = read_cstr(r, &x->kw, NULL)))
        return rc;
    switch (x->type) {
    case MP_ARG_INT: return mp__r_u64(r, (uint64_t *)&x->v.i);
    case MP_ARG_FLOAT: {
        uint64_t bits;
        if ((rc = mp__r_u64(r, &bits)))
            return rc;
        memcpy(&x->v.f, &bits, sizeof bits);
        return 0;
    }
    case MP_ARG_STR: {
        const char *s;
        if ((rc = read_cstr(r, &s, &x->v.b.len)))
            return rc;
        x->v.b.ptr = s;
        return 0;
    }
    case MP_ARG_BYTES:
        return mp__r_blob(r, &x->v.b.ptr, &x->v.b.len, MP__ARGS_MAX);
    case MP_ARG_VAL: /* a pickle, decoded when the target asks for it */
        if ((rc = mp__r_blob(r, &x->v.b.ptr, &x->v.b.len, MP__ARGS_MAX)))
            return rc;
        return x->v.b.len ? 0 : MP_EPROTO;
    case MP_ARG_OBJ: {
        uint8_t kind;
        if ((rc = mp__r_u8(r, &kind)))
            return rc;
        x->v.obj.kind = (mp_obj_kind)kind;
        x->v.obj.ptr = NULL;
        return mp__obj_import((mp_obj_kind)kind, &x->v.obj.ptr, r, hs, nh);
    }
    case MP_ARG_HANDLE: {
        mp__handle h;
        if ((rc = mp__handles_take(r, hs, nh, &h)))
            return rc;
        x->v.h = (mp_os_handle)h;
        return 0;
    }
    default: return MP_EPROTO;
    }
}

static int decode_list(mp__rbuf *r, mp__handle *hs, size_t nh, mp_arg *store,
                       size_t cap, mp__argv *out) {
    uint32_t n;
    memset(out, 0, sizeof *out);
    int rc = mp__r_u32(r, &n);
    if (rc)
        return rc;
    if (n > MP__ARGS_COUNT_MAX || n > r->left)
        return MP_EPROTO;
    out->imported = true;
    if (n == 0)
        return 0;
    if (n <= cap) {
        out->v = store; /* the caller's: mem stays NULL */
    } else {
        out->v = calloc(n, sizeof(mp_arg));
        if (!out->v)
            return MP_ENOMEM;
        out->mem = out->v;
    }
    for (uint32_t i = 0; i < n; i++) {
        out->n = i;
        if ((rc = decode_one(r, &out->v[i], hs, nh))) {
            /* The handles taken so far are ours until the target has
             * them: it never will. */
            for (uint32_t j = 0; j < i; j++)
                if (out->v[j].type == MP_ARG_HANDLE)
                    mp__os_close((mp__handle)out->v[j].v.h);
            mp__argv_free(out);
            return rc;
        }
    }
    out->n = n;
    return 0;
}

int mp__argv_decode(mp__rbuf *r, mp__handle *hs, size_t nh, mp__argv *out) {
    return decode_list(r, hs, nh, NULL, 0, out);
}

int mp__argv_decode_in(mp__rbuf *r, mp_arg *store, size_t cap, mp__argv *out) {
    return decode_list(r, NULL, 0, store, cap, out);
}

/* ---- mp_call and the readers ---- */

size_t mp_call_nargs(const mp_call *call) {
    size_t k = 0;
    if (!call)
        return 0;
    for (size_t i = 0; i < call->n; i++)
        k += call->v[i].kw == NULL;
    return k;
}

const mp_arg *mp_call_arg(const mp_call *call, size_t i) {
    if (!call)
        return NULL;
    for (size_t j = 0; j < call->n; j++) {
        if (call->v[j].kw)
            continue;
        if (i-- == 0)
            return &call->v[j];
    }
    return NULL;
}

const mp_arg *mp_call_kwarg(const mp_call *call, const char *name) {
    if (!call || !name)
        return NULL;
    for (size_t j = 0; j < call->n; j++)
        if (call->v[j].kw && strcmp(call->v[j].kw, name) == 0)
            return &call->v[j];
    return NULL;
}

int mp_call_return(mp_call *call, const void *ptr, size_t len) {
    if (!call || (!ptr && len))
        return MP_EINVAL;
    int rc = mp__buf_reserve(&call->ret, len ? len : 1);
    if (rc)
        return rc;
    if (len)
        memcpy(call->ret.data, ptr, len);
    call->ret.len = len;
    call->has_ret = true;
    return 0;
}

int mp_call_return_int(mp_call *call, int64_t v) {
    return mp_call_return(call, &v, sizeof v);
}

int mp_call_return_float(mp_call *call, double v) {
    return mp_call_return(call, &v, sizeof v);
}

int mp_call_return_val(mp_call *call, const mp_val *v) {
    if (!call || !v)
        return MP_EINVAL;
    int rc = mp_val_dumps(v, 4, &call->ret);
    if (!rc)
        call->has_ret = true;
    return rc;
}

int mp_arg_val(const mp_arg *a, mp_val **out) {
    if (out)
        *out = NULL;
    if (!a || !out || a->type != MP_ARG_VAL || !a->v.b.ptr)
        return MP_EINVAL;
    if (a->v.b.len == 0) { /* the caller's own tree, not yet copied */
        *out = mp_val_copy((const mp_val *)a->v.b.ptr);
        return *out ? 0 : MP_ENOMEM;
    }
    return mp_val_loads(out, a->v.b.ptr, a->v.b.len, NULL);
}

int64_t mp_arg_int(const mp_arg *a) {
    return a && a->type == MP_ARG_INT ? a->v.i : 0;
}

double mp_arg_float(const mp_arg *a) {
    if (!a)
        return 0.0;
    if (a->type == MP_ARG_FLOAT)
        return a->v.f;
    if (a->type == MP_ARG_INT)
        return (double)a->v.i;
    return 0.0;
}

const char *mp_arg_str(const mp_arg *a) {
    return a && a->type == MP_ARG_STR ? (const char *)a->v.b.ptr : NULL;
}

const void *mp_arg_bytes(const mp_arg *a, size_t *len) {
    if (!a || (a->type != MP_ARG_STR && a->type != MP_ARG_BYTES)) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = a->v.b.len;
    return a->v.b.ptr;
}

mp_os_handle mp_arg_handle(const mp_arg *a) {
    return a && a->type == MP_ARG_HANDLE ? a->v.h : MP_BAD_HANDLE;
}

void *mp_arg_obj(const mp_arg *a, mp_obj_kind kind) {
    return a && a->type == MP_ARG_OBJ && a->v.obj.kind == kind ? a->v.obj.ptr
                                                               : NULL;
}
