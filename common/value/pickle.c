/* Python's pickle, the subset of it that values are: mp_val_dumps writes
 * protocol 4 or 5, mp_val_loads reads protocols 2 to 5 as CPython writes
 * them (pickle.dumps, Connection.send) and refuses everything else.
 *
 * The decoder is a stack machine over untrusted bytes. Nothing in it runs
 * code: the only globals it knows are the five constructors protocols 2-4
 * use for bytes, bytearray, set and frozenset, and REDUCE applies just
 * those, to exactly the arguments CPython writes. Every length is checked
 * against the bytes left before anything is allocated for it, every value
 * made counts against mp_val_limits (a memo reference is a copy, counted
 * whole, so a pickle that references one list a million times cannot
 * make a small message huge), and a container that changes after a
 * reference copied it (a cycle, as l.append(l) pickles) is refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "value/value_internal.h"

enum {
    OP_MARK = '(',
    OP_STOP = '.',
    OP_POP = '0',
    OP_POP_MARK = '1',
    OP_BININT = 'J',
    OP_BININT1 = 'K',
    OP_BININT2 = 'M',
    OP_NONE = 'N',
    OP_BINUNICODE = 'X',
    OP_APPEND = 'a',
    OP_GLOBAL = 'c',
    OP_DICT = 'd',
    OP_APPENDS = 'e',
    OP_BINGET = 'h',
    OP_LONG_BINGET = 'j',
    OP_LIST = 'l',
    OP_BINPUT = 'q',
    OP_LONG_BINPUT = 'r',
    OP_SETITEM = 's',
    OP_TUPLE = 't',
    OP_SETITEMS = 'u',
    OP_BINFLOAT = 'G',
    OP_REDUCE = 'R',
    OP_EMPTY_TUPLE = ')',
    OP_EMPTY_LIST = ']',
    OP_EMPTY_DICT = '}',
    OP_BINBYTES = 'B',
    OP_SHORT_BINBYTES = 'C',
    OP_PROTO = 0x80,
    OP_TUPLE1 = 0x85,
    OP_TUPLE2 = 0x86,
    OP_TUPLE3 = 0x87,
    OP_NEWTRUE = 0x88,
    OP_NEWFALSE = 0x89,
    OP_LONG1 = 0x8a,
    OP_LONG4 = 0x8b,
    OP_SHORT_BINUNICODE = 0x8c,
    OP_BINUNICODE8 = 0x8d,
    OP_BINBYTES8 = 0x8e,
    OP_EMPTY_SET = 0x8f,
    OP_ADDITEMS = 0x90,
    OP_FROZENSET = 0x91,
    OP_STACK_GLOBAL = 0x93,
    OP_MEMOIZE = 0x94,
    OP_FRAME = 0x95,
    OP_BYTEARRAY8 = 0x96
};

/* ---- encoder ----------------------------------------------------------- */

/* x with its bytes reversed (BINFLOAT is big-endian); compilers turn
 * this into one instruction. */
static inline uint64_t swap64(uint64_t x) {
    x = ((x & 0x00ff00ff00ff00ffull) << 8) |
        ((x >> 8) & 0x00ff00ff00ff00ffull);
    x = ((x & 0x0000ffff0000ffffull) << 16) |
        ((x >> 16) & 0x0000ffff0000ffffull);
    return (x << 32) | (x >> 32);
}

/* Items per APPENDS / SETITEMS / ADDITEMS, as CPython batches them. */
#define BATCH 1000u

static void w_op(mp__wbuf *w, uint8_t op) { mp__w_u8(w, op); }

static void w_len(mp__wbuf *w, uint8_t op1, uint8_t op4, uint8_t op8,
                  const void *p, size_t n) {
    if (n < 256 && !mp__w_room(w, n + 2)) { /* one reservation, no calls */
        uint8_t *o = w->data + w->len;
        o[0] = op1;
        o[1] = (uint8_t)n;
        memcpy(o + 2, p, n);
        w->len += n + 2;
        return;
    }
    if (n < 256) {
        uint8_t b[2] = {op1, (uint8_t)n};
        mp__w_bytes(w, b, 2);
    } else if (n <= 0xffffffffu) {
        mp__w_u8(w, op4);
        mp__w_u32(w, (uint32_t)n);
    } else {
        mp__w_u8(w, op8);
        mp__w_u64(w, (uint64_t)n);
    }
    mp__w_bytes(w, p, n);
}

/* An int's opcode and bytes at o (room for 10): their number. */
static size_t put_int(uint8_t *o, int64_t i) {
    if (i >= 0 && i < 256) {
        o[0] = OP_BININT1;
        o[1] = (uint8_t)i;
        return 2;
    }
    if (i >= 0 && i < 65536) {
        o[0] = OP_BININT2;
        o[1] = (uint8_t)i;
        o[2] = (uint8_t)(i >> 8);
        return 3;
    }
    uint64_t u = (uint64_t)i;
    if (i >= INT32_MIN && i <= INT32_MAX) {
        o[0] = OP_BININT;
        for (int k = 0; k < 4; k++)
            o[1 + k] = (uint8_t)(u >> (8 * k));
        return 5;
    }
    /* LONG1: the fewest little-endian two's complement bytes */
    size_t n = 8;
    while (n > 1) {
        uint8_t top = (uint8_t)(u >> (8 * (n - 1)));
        uint8_t next = (uint8_t)(u >> (8 * (n - 2)));
        if ((top == 0 && !(next & 0x80)) || (top == 0xff && (next & 0x80)))
            n--;
        else
            break;
    }
    o[0] = OP_LONG1;
    o[1] = (uint8_t)n;
    for (size_t k = 0; k < n; k++)
        o[2 + k] = (uint8_t)(u >> (8 * k));
    return 2 + n;
}

static int dump(mp__wbuf *w, const mp_val *v, unsigned depth) {
    /* A container at depth d is level d + 1: the decoder takes up to
       MP__VAL_DEPTH_MAX levels, and so does the encoder. */
    if (v->kind >= MP_VAL_TUPLE && depth >= MP__VAL_DEPTH_MAX)
        return MP_EMSGSIZE;
    switch (v->kind) {
    case MP_VAL_NONE: w_op(w, OP_NONE); return 0;
    case MP_VAL_BOOL: w_op(w, v->u.i ? OP_NEWTRUE : OP_NEWFALSE); return 0;
    case MP_VAL_INT:
        if (mp__w_room(w, 10))
            return w->err;
        w->len += put_int(w->data + w->len, v->u.i);
        return 0;
    case MP_VAL_FLOAT: {
        if (mp__w_room(w, 9))
            return w->err;
        uint64_t bits;
        memcpy(&bits, &v->u.f, 8);
        uint64_t be = swap64(bits); /* its bytes, most significant first */
        uint8_t *b = w->data + w->len;
        b[0] = OP_BINFLOAT;
        for (int k = 0; k < 8; k++)
            b[1 + k] = (uint8_t)(be >> (8 * k));
        w->len += 9;
        return 0;
    }
    case MP_VAL_STR:
        w_len(w, OP_SHORT_BINUNICODE, OP_BINUNICODE, OP_BINUNICODE8, v->u.s,
              v->n);
        return 0;
    case MP_VAL_BYTES:
        w_len(w, OP_SHORT_BINBYTES, OP_BINBYTES, OP_BINBYTES8, v->u.s, v->n);
        return 0;
    case MP_VAL_TUPLE:
        if (v->n == 0) {
            w_op(w, OP_EMPTY_TUPLE);
            return 0;
        }
        if (v->n > 3)
            w_op(w, OP_MARK);
        for (size_t i = 0; i < v->n; i++) {
            int rc = dump(w, v->u.items[i], depth + 1);
            if (rc)
                return rc;
        }
        w_op(w, v->n > 3 ? OP_TUPLE : (uint8_t)(OP_TUPLE1 + v->n - 1));
        return 0;
    case MP_VAL_FROZENSET:
        w_op(w, OP_MARK);
        for (size_t i = 0; i < v->n; i++) {
            int rc = dump(w, v->u.items[i], depth + 1);
            if (rc)
                return rc;
        }
        w_op(w, OP_FROZENSET);
        return 0;
    case MP_VAL_LIST:
    case MP_VAL_SET:
    case MP_VAL_DICT: {
        bool dict = v->kind == MP_VAL_DICT, set = v->kind == MP_VAL_SET;
        w_op(w, dict ? OP_EMPTY_DICT : set ? OP_EMPTY_SET : OP_EMPTY_LIST);
        size_t stride = dict ? 2 : 1;
        for (size_t at = 0; at < v->n; at += BATCH) {
            size_t n = v->n - at < BATCH ? v->n - at : BATCH;
            bool one = n == 1 && !set;
            if (!one)
                w_op(w, OP_MARK);
            for (size_t i = at * stride; i < (at + n) * stride; i++) {
                const mp_val *it = v->u.items[i];
                if (it->kind == MP_VAL_INT) { /* the common cases, inline */
                    if (mp__w_room(w, 10))
                        return w->err;
                    w->len += put_int(w->data + w->len, it->u.i);
                    continue;
                }
                if (it->kind == MP_VAL_STR && it->n < 256) {
                    if (mp__w_room(w, it->n + 2))
                        return w->err;
                    uint8_t *o = w->data + w->len;
                    o[0] = OP_SHORT_BINUNICODE;
                    o[1] = (uint8_t)it->n;
                    memcpy(o + 2, it->u.s, it->n);
                    w->len += it->n + 2;
                    continue;
                }
                int rc = dump(w, it, depth + 1);
                if (rc)
                    return rc;
            }
            w_op(w, dict  ? (one ? OP_SETITEM : OP_SETITEMS)
                    : set ? OP_ADDITEMS
                          : (one ? OP_APPEND : OP_APPENDS));
        }
        return 0;
    }
    default: return MP_EINVAL;
    }
}

int mp__val_dump(mp__wbuf *w, const mp_val *v, int protocol) {
    if (protocol == 0)
        protocol = 4;
    if (protocol != 4 && protocol != 5)
        return MP_EINVAL;
    uint8_t head[2] = {OP_PROTO, (uint8_t)protocol};
    mp__w_bytes(w, head, 2);
    int rc = dump(w, v, 0);
    w_op(w, OP_STOP);
    return rc ? rc : w->err;
}

int mp_val_dumps(const mp_val *v, int protocol, mp_buf *out) {
    if (!v || !out)
        return MP_EINVAL;
    mp__wbuf w = {(uint8_t *)out->data, 0, out->cap, 0, true};
    if (!w.data)
        w.cap = 0;
    int rc = mp__val_dump(&w, v, protocol);
    mp__w_u8(&w, 0); /* the NUL every mp_buf payload is followed by */
    if (!rc && w.err)
        rc = w.err;
    if (rc) {
        if (!w.borrowed)
            free(w.data);
        return rc;
    }
    if (!w.borrowed) { /* grown onto the heap: the old block is ours */
        free(out->data);
        out->data = w.data;
        out->cap = w.cap;
    }
    out->len = w.len - 1;
    return 0;
}

/* ---- decoder ----------------------------------------------------------- */

enum { G_ENCODE = 1, G_BYTES, G_BYTEARRAY, G_SET, G_FROZENSET };

typedef struct dec {
    const uint8_t *p, *end;
    mp_val *root; /* owns the arena */
    mp__varena *arena;
    mp_val **stack; /* private: in_stack, then the heap */
    size_t sp, scap;
    size_t *marks;
    size_t nmarks, mcap;
    mp_val **memo;
    size_t nmemo, memocap;
    /* Where a small pickle's arrays live, without an allocation. */
    mp_val *in_stack[64];
    size_t in_marks[16];
    mp_val *in_memo[64];
    size_t items, bytes; /* budgets left */
    size_t refs;         /* MP__V_REF values made */
    size_t max_depth;
    int proto;
} dec;

/* Grows one of the decoder's arrays, which starts in `inline_store`. */
static int grow_array(void **arr, size_t *cap, size_t need, size_t elem,
                      void *inline_store) {
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need)
        c *= 2;
    if (c > SIZE_MAX / elem)
        return MP_ENOMEM;
    void *p;
    if (*arr == inline_store) {
        p = malloc(c * elem);
        if (p && *cap)
            memcpy(p, *arr, *cap * elem);
    } else {
        p = realloc(*arr, c * elem);
    }
    if (!p)
        return MP_ENOMEM;
    *arr = p;
    *cap = c;
    return 0;
}

static int need(dec *d, size_t n) {
    return (size_t)(d->end - d->p) >= n ? 0 : MP_EPROTO;
}

static uint64_t rd_le(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int push(dec *d, mp_val *v) {
    if (d->sp == d->scap && grow_array((void **)&d->stack, &d->scap, d->sp + 1,
                                       sizeof *d->stack, d->in_stack))
        return MP_ENOMEM;
    d->stack[d->sp++] = v;
    return 0;
}

/* A new value, counted against the items budget. */
static int make(dec *d, mp_val_kind kind, mp_val **out) {
    if (d->items == 0)
        return MP_EMSGSIZE;
    d->items--;
    mp_val *v = mp__val_node(d->arena);
    if (!v)
        return MP_ENOMEM;
    v->kind = (uint8_t)kind;
    *out = v;
    return 0;
}

static int push_new(dec *d, mp_val_kind kind, mp_val **out) {
    mp_val *v;
    int rc = make(d, kind, &v);
    if (!rc)
        rc = push(d, v);
    if (!rc && out)
        *out = v;
    return rc;
}

static size_t floor_mark(const dec *d) {
    return d->nmarks ? d->marks[d->nmarks - 1] : 0;
}

/* The top value (above the last mark), or NULL. */
static mp_val *top(const dec *d) {
    return d->sp > floor_mark(d) ? d->stack[d->sp - 1] : NULL;
}

static mp_val *pop(dec *d) {
    if (d->sp <= floor_mark(d))
        return NULL;
    return d->stack[--d->sp];
}

static int pop_mark(dec *d, size_t *at) {
    if (!d->nmarks)
        return MP_EPROTO;
    *at = d->marks[--d->nmarks];
    return 0;
}

static int blob(dec *d, mp_val_kind kind, size_t n) {
    int rc = need(d, n);
    if (rc)
        return rc;
    if (n > d->bytes)
        return MP_EMSGSIZE;
    if (kind == MP_VAL_STR && !mp__utf8_valid(d->p, n))
        return MP_EPROTO;
    mp_val *v;
    if ((rc = push_new(d, kind, &v)))
        return rc;
    d->bytes -= n;
    v->u.s = mp__val_alloc(d->arena, n + 1);
    if (!v->u.s)
        return MP_ENOMEM;
    memcpy(v->u.s, d->p, n);
    v->u.s[n] = 0;
    v->n = n;
    d->p += n;
    return 0;
}

static int len_of(dec *d, size_t width, size_t *n) {
    int rc = need(d, width);
    if (rc)
        return rc;
    uint64_t v = rd_le(d->p, width);
    d->p += width;
    if (v > (uint64_t)(d->end - d->p))
        return MP_EPROTO; /* past the end: checked before any allocation */
    *n = (size_t)v;
    return 0;
}

static int check_height(dec *d, const mp_val *c, const mp_val *item) {
    if ((item->kind == MP_VAL_TUPLE || item->kind == MP_VAL_LIST ||
         item->kind == MP_VAL_DICT || item->kind == MP_VAL_SET ||
         item->kind == MP_VAL_FROZENSET) &&
        (size_t)item->height + 2 > d->max_depth)
        return MP_EMSGSIZE;
    (void)c;
    return 0;
}

/* A value that may go into a container: no global. */
static int plain(const mp_val *v) {
    return (v->flags & MP__V_GLOBAL) ? MP_EPROTO : 0;
}

static int add_item(dec *d, mp_val *c, mp_val *item) {
    int rc = plain(item);
    if (!rc)
        rc = check_height(d, c, item);
    if (rc)
        return rc;
    if (c->kind == MP_VAL_SET || c->kind == MP_VAL_FROZENSET) {
        if (!mp__val_hashable(item, 0))
            return MP_EPROTO;
        return mp__val_set_insert(c, item);
    }
    return mp__val_append(c, item);
}

/* The pairs above stack position `at` into dict c: checked, then added
 * at once. */
static int dict_items(dec *d, mp_val *c, size_t at) {
    if ((d->sp - at) % 2)
        return MP_EPROTO;
    for (size_t i = at; i < d->sp; i += 2) {
        mp_val *k = d->stack[i], *v = d->stack[i + 1];
        int rc;
        if ((rc = plain(k)) || (rc = plain(v)) ||
            (rc = check_height(d, c, k)) || (rc = check_height(d, c, v)))
            return rc;
        if (k->kind >= MP_VAL_TUPLE && !mp__val_hashable(k, 0))
            return MP_EPROTO;
    }
    return mp__val_dict_bulk(c, d->stack + at, (d->sp - at) / 2);
}

/* Tuples, frozensets and the MARK forms: the items above the last mark
 * become the new container's. */
static int from_mark(dec *d, mp_val_kind kind) {
    size_t at;
    int rc = pop_mark(d, &at);
    mp_val *c;
    if (rc || (rc = make(d, kind, &c)))
        return rc;
    if (kind == MP_VAL_DICT) {
        if ((rc = dict_items(d, c, at)))
            return rc;
    } else {
        for (size_t i = at; i < d->sp; i++)
            if ((rc = add_item(d, c, d->stack[i])))
                return rc;
    }
    d->sp = at;
    return push(d, c);
}

static int tuple_n(dec *d, size_t n) {
    if (d->sp < floor_mark(d) + n)
        return MP_EPROTO;
    mp_val *t;
    int rc = make(d, MP_VAL_TUPLE, &t);
    if (rc)
        return rc;
    for (size_t i = d->sp - n; i < d->sp; i++)
        if ((rc = add_item(d, t, d->stack[i])))
            return rc;
    d->sp -= n;
    return push(d, t);
}

/* APPENDS, SETITEMS, ADDITEMS: the items above the mark go into the
 * container just below it. */
static int into_below_mark(dec *d, mp_val_kind kind) {
    size_t at;
    int rc = pop_mark(d, &at);
    if (rc)
        return rc;
    if (at <= floor_mark(d))
        return MP_EPROTO;
    mp_val *c = d->stack[at - 1];
    /* a memo reference is a copy made later: nothing goes into it */
    if (c->kind != kind || (c->flags & (MP__V_GLOBAL | MP__V_REF)))
        return MP_EPROTO;
    if (kind == MP_VAL_DICT) {
        if ((rc = dict_items(d, c, at)))
            return rc;
    } else if (kind == MP_VAL_LIST) { /* APPENDS: one grow, then copies */
        if ((rc = mp__val_reserve(c, d->sp - at)))
            return rc;
        for (size_t i = at; i < d->sp; i++) {
            mp_val *item = d->stack[i];
            if ((rc = plain(item)) || (rc = check_height(d, c, item)))
                return rc;
            if (item->kind >= MP_VAL_TUPLE && item->height + 1u > c->height)
                c->height = (uint16_t)(item->height + 1u);
            c->u.items[c->n++] = item;
        }
    } else {
        for (size_t i = at; i < d->sp; i++)
            if ((rc = add_item(d, c, d->stack[i])))
                return rc;
    }
    d->sp = at;
    return 0;
}

static int global(dec *d, const char *mod, size_t ml, const char *name,
                  size_t nl) {
#define IS(s, l, lit) ((l) == sizeof(lit) - 1 && memcmp(s, lit, l) == 0)
    int which = 0;
    if (IS(mod, ml, "_codecs") && IS(name, nl, "encode"))
        which = G_ENCODE;
    else if (IS(mod, ml, "builtins") || IS(mod, ml, "__builtin__")) {
        if (IS(name, nl, "bytes"))
            which = G_BYTES;
        else if (IS(name, nl, "bytearray"))
            which = G_BYTEARRAY;
        else if (IS(name, nl, "set"))
            which = G_SET;
        else if (IS(name, nl, "frozenset"))
            which = G_FROZENSET;
    }
#undef IS
    if (!which)
        return MP_EPROTO;
    mp_val *g;
    int rc = push_new(d, MP_VAL_NONE, &g);
    if (!rc) {
        g->flags |= MP__V_GLOBAL;
        g->u.i = which;
    }
    return rc;
}

/* The bytes of str `s` encoded as Latin-1 (`enc`, "latin1" or "latin-1"),
 * as protocol 2 carries bytes: each code point is one byte. */
static int latin1(dec *d, const mp_val *s, const mp_val *enc, mp_val *out) {
    if (s->kind != MP_VAL_STR || enc->kind != MP_VAL_STR ||
        !((enc->n == 6 && memcmp(enc->u.s, "latin1", 6) == 0) ||
          (enc->n == 7 && memcmp(enc->u.s, "latin-1", 7) == 0)))
        return MP_EPROTO;
    uint8_t *b = mp__val_alloc(d->arena, s->n + 1);
    if (!b)
        return MP_ENOMEM;
    size_t k = 0;
    const uint8_t *p = (const uint8_t *)s->u.s;
    for (size_t i = 0; i < s->n; k++) {
        if (p[i] < 0x80) {
            b[k] = p[i++];
        } else if ((p[i] == 0xc2 || p[i] == 0xc3) && i + 1 < s->n) {
            b[k] = (uint8_t)(((p[i] & 0x03) << 6) | (p[i + 1] & 0x3f));
            i += 2;
        } else {
            return MP_EPROTO; /* a code point past U+00FF */
        }
    }
    b[k] = 0;
    out->u.s = (char *)b;
    out->n = k;
    return 0;
}

/* REDUCE of one of the globals, with the arguments CPython writes. */
static int reduce(dec *d) {
    mp_val *args = pop(d), *fn = pop(d);
    if (!args || !fn || !(fn->flags & MP__V_GLOBAL) ||
        args->kind != MP_VAL_TUPLE || (args->flags & MP__V_GLOBAL))
        return MP_EPROTO;
    mp_val *out;
    int rc = make(d, MP_VAL_BYTES, &out);
    if (rc)
        return rc;
    size_t n = args->n;
    mp_val *a0 = n > 0 ? args->u.items[0] : NULL;
    switch (fn->u.i) {
    case G_ENCODE: /* encode(str, "latin1"): the code points are bytes */
        if (n != 2 || (rc = latin1(d, a0, args->u.items[1], out)))
            return rc ? rc : MP_EPROTO;
        break;
    case G_BYTES:
    case G_BYTEARRAY:
        if (n == 2 && fn->u.i == G_BYTEARRAY) {
            /* bytearray(str, "latin-1"), as Python 3.6 and 3.7 write a
               bytearray at protocol 2 (later ones nest encode) */
            if ((rc = latin1(d, a0, args->u.items[1], out)))
                return rc;
        } else if (n == 0) {
            out->u.s = mp__val_alloc(d->arena, 1);
            if (!out->u.s)
                return MP_ENOMEM;
            out->u.s[0] = 0;
        } else if (n == 1 && a0->kind == MP_VAL_BYTES) {
            out->u.s = a0->u.s;
            out->n = a0->n;
        } else {
            return MP_EPROTO;
        }
        break;
    case G_SET:
    case G_FROZENSET:
        out->kind = fn->u.i == G_SET ? MP_VAL_SET : MP_VAL_FROZENSET;
        if (n == 1 && a0->kind == MP_VAL_LIST) {
            const mp_val *l = a0;
            while (l->flags & MP__V_REF)
                l = l->u.ref;
            /* copies: the list may be referenced elsewhere too */
            for (size_t i = 0; i < l->n; i++) {
                int err = 0;
                mp_val *c = mp__val_copy_into(d->arena, l->u.items[i],
                                              &d->items, &d->bytes, &err);
                if (!c)
                    return err ? err : MP_ENOMEM;
                if ((rc = add_item(d, out, c)))
                    return rc;
            }
        } else if (n != 0) {
            return MP_EPROTO;
        }
        break;
    default: return MP_EPROTO;
    }
    return push(d, out);
}

static int memo_put(dec *d, size_t idx) {
    mp_val *v = top(d);
    if (!v)
        return MP_EPROTO;
    if (idx > d->nmemo)
        return MP_EPROTO; /* CPython numbers the memo densely */
    if (idx == d->nmemo) {
        if (grow_array((void **)&d->memo, &d->memocap, d->nmemo + 1,
                       sizeof *d->memo, d->in_memo))
            return MP_ENOMEM;
        d->nmemo++;
    }
    d->memo[idx] = v;
    return 0;
}

static int memo_get(dec *d, size_t idx) {
    if (idx >= d->nmemo)
        return MP_EPROTO;
    /* A copy; a list, dict or set in it stays a reference to the original,
     * which may still be filling up, until the pickle is complete. */
    int err = 0;
    mp_val *c = mp__val_copy_lazy(d->arena, d->memo[idx], &d->items, &d->bytes,
                                  &err, &d->refs);
    if (!c)
        return err ? err : MP_ENOMEM;
    if ((size_t)c->height + 1 > d->max_depth)
        return MP_EMSGSIZE;
    return push(d, c);
}

/* An int of n little-endian two's complement bytes. */
static int long_n(dec *d, size_t n) {
    int rc = need(d, n);
    if (rc)
        return rc;
    const uint8_t *b = d->p;
    d->p += n;
    bool neg = n && (b[n - 1] & 0x80);
    for (size_t i = 8; i < n; i++)
        if (b[i] != (neg ? 0xff : 0x00))
            return MP_EOVERFLOW;
    uint64_t u = neg ? ~(uint64_t)0 : 0;
    for (size_t i = 0; i < n && i < 8; i++) {
        u &= ~((uint64_t)0xff << (8 * i));
        u |= (uint64_t)b[i] << (8 * i);
    }
    if (n > 8 && (((u >> 63) != 0) != neg))
        return MP_EOVERFLOW;
    mp_val *v;
    if ((rc = push_new(d, MP_VAL_INT, &v)))
        return rc;
    v->u.i = (int64_t)u;
    return 0;
}

static int line(dec *d, const char **s, size_t *n) {
    const uint8_t *nl = memchr(d->p, '\n', (size_t)(d->end - d->p));
    if (!nl)
        return MP_EPROTO;
    *s = (const char *)d->p;
    *n = (size_t)(nl - d->p);
    d->p = nl + 1;
    return 0;
}

static int step(dec *d, uint8_t op, bool *stop) {
    int rc = 0;
    size_t n;
    mp_val *v;
    switch (op) {
    case OP_PROTO:
        if ((rc = need(d, 1)))
            return rc;
        if (*d->p < 2 || *d->p > 5)
            return MP_EPROTO;
        d->proto = *d->p++;
        return 0;
    case OP_FRAME:
        return len_of(d, 8, &n); /* a hint only; must lie within the data */
    case OP_STOP: *stop = true; return 0;
    case OP_NONE: return push_new(d, MP_VAL_NONE, NULL);
    case OP_NEWTRUE:
    case OP_NEWFALSE:
        if (!(rc = push_new(d, MP_VAL_BOOL, &v)))
            v->u.i = op == OP_NEWTRUE;
        return rc;
    case OP_BININT1:
    case OP_BININT2:
    case OP_BININT: {
        size_t w = op == OP_BININT1 ? 1 : op == OP_BININT2 ? 2 : 4;
        if ((rc = need(d, w)))
            return rc;
        uint64_t u = rd_le(d->p, w);
        d->p += w;
        if (!(rc = push_new(d, MP_VAL_INT, &v)))
            v->u.i = w == 4 ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u;
        return rc;
    }
    case OP_LONG1:
        if ((rc = need(d, 1)))
            return rc;
        return long_n(d, *d->p++);
    case OP_LONG4:
        if ((rc = need(d, 4)))
            return rc;
        n = (size_t)rd_le(d->p, 4);
        d->p += 4;
        if (n & 0x80000000u)
            return MP_EPROTO; /* negative length */
        return long_n(d, n);
    case OP_BINFLOAT: {
        if ((rc = need(d, 8)))
            return rc;
        uint64_t bits = 0;
        for (int k = 0; k < 8; k++)
            bits = (bits << 8) | d->p[k];
        d->p += 8;
        if (!(rc = push_new(d, MP_VAL_FLOAT, &v)))
            memcpy(&v->u.f, &bits, 8);
        return rc;
    }
    case OP_SHORT_BINUNICODE:
        return (rc = len_of(d, 1, &n)) ? rc : blob(d, MP_VAL_STR, n);
    case OP_BINUNICODE:
        return (rc = len_of(d, 4, &n)) ? rc : blob(d, MP_VAL_STR, n);
    case OP_BINUNICODE8:
        return (rc = len_of(d, 8, &n)) ? rc : blob(d, MP_VAL_STR, n);
    case OP_SHORT_BINBYTES:
        return (rc = len_of(d, 1, &n)) ? rc : blob(d, MP_VAL_BYTES, n);
    case OP_BINBYTES:
        return (rc = len_of(d, 4, &n)) ? rc : blob(d, MP_VAL_BYTES, n);
    case OP_BINBYTES8:
    case OP_BYTEARRAY8:
        return (rc = len_of(d, 8, &n)) ? rc : blob(d, MP_VAL_BYTES, n);
    case OP_EMPTY_TUPLE: return push_new(d, MP_VAL_TUPLE, NULL);
    case OP_EMPTY_LIST:
    case OP_EMPTY_DICT:
    case OP_EMPTY_SET:
        return push_new(d,
                        op == OP_EMPTY_LIST   ? MP_VAL_LIST
                        : op == OP_EMPTY_DICT ? MP_VAL_DICT
                                              : MP_VAL_SET,
                        NULL);
    case OP_MARK:
        if (d->items == 0)
            return MP_EMSGSIZE;
        d->items--; /* marks count, so they too are bounded */
        if (grow_array((void **)&d->marks, &d->mcap, d->nmarks + 1,
                       sizeof *d->marks, d->in_marks))
            return MP_ENOMEM;
        d->marks[d->nmarks++] = d->sp;
        return 0;
    case OP_TUPLE: return from_mark(d, MP_VAL_TUPLE);
    case OP_LIST: return from_mark(d, MP_VAL_LIST);
    case OP_DICT: return from_mark(d, MP_VAL_DICT);
    case OP_FROZENSET: return from_mark(d, MP_VAL_FROZENSET);
    case OP_TUPLE1:
    case OP_TUPLE2:
    case OP_TUPLE3: return tuple_n(d, (size_t)(op - OP_TUPLE1 + 1));
    case OP_APPEND: {
        mp_val *item = pop(d), *l = top(d);
        if (!item || !l || l->kind != MP_VAL_LIST ||
            (l->flags & (MP__V_GLOBAL | MP__V_REF)))
            return MP_EPROTO;
        return add_item(d, l, item);
    }
    case OP_SETITEM: {
        mp_val *val = pop(d), *key = pop(d), *dict = top(d);
        if (!val || !key || !dict || dict->kind != MP_VAL_DICT ||
            (dict->flags & (MP__V_GLOBAL | MP__V_REF)))
            return MP_EPROTO;
        if ((rc = plain(key)) || (rc = plain(val)) ||
            (rc = check_height(d, dict, key)) ||
            (rc = check_height(d, dict, val)))
            return rc;
        if (!mp__val_hashable(key, 0))
            return MP_EPROTO;
        return mp__val_dict_insert(dict, key, val);
    }
    case OP_APPENDS: return into_below_mark(d, MP_VAL_LIST);
    case OP_SETITEMS: return into_below_mark(d, MP_VAL_DICT);
    case OP_ADDITEMS: return into_below_mark(d, MP_VAL_SET);
    case OP_POP:
        if (pop(d))
            return 0;
        return pop_mark(d, &n) ? MP_EPROTO : 0;
    case OP_POP_MARK:
        if ((rc = pop_mark(d, &n)))
            return rc;
        d->sp = n;
        return 0;
    case OP_MEMOIZE: return memo_put(d, d->nmemo);
    case OP_BINPUT: return (rc = need(d, 1)) ? rc : memo_put(d, *d->p++);
    case OP_LONG_BINPUT:
        if ((rc = need(d, 4)))
            return rc;
        n = (size_t)rd_le(d->p, 4);
        d->p += 4;
        return memo_put(d, n);
    case OP_BINGET: return (rc = need(d, 1)) ? rc : memo_get(d, *d->p++);
    case OP_LONG_BINGET:
        if ((rc = need(d, 4)))
            return rc;
        n = (size_t)rd_le(d->p, 4);
        d->p += 4;
        return memo_get(d, n);
    case OP_GLOBAL: {
        const char *mod, *name;
        size_t ml, nl;
        if ((rc = line(d, &mod, &ml)) || (rc = line(d, &name, &nl)))
            return rc;
        return global(d, mod, ml, name, nl);
    }
    case OP_STACK_GLOBAL: {
        mp_val *name = pop(d), *mod = pop(d);
        if (!name || !mod || name->kind != MP_VAL_STR ||
            mod->kind != MP_VAL_STR)
            return MP_EPROTO;
        return global(d, mod->u.s, mod->n, name->u.s, name->n);
    }
    case OP_REDUCE: return reduce(d);
    default:
        /* BUILD, INST, OBJ, NEWOBJ(_EX), PERSID, BINPERSID, EXT1/2/4,
           NEXT_BUFFER, READONLY_BUFFER, DUP, the text forms of protocol 0
           and anything unknown. */
        return MP_EPROTO;
    }
}

/* ---- memo references, once the pickle is complete -------------------- */

/* A deep copy of src that follows references. One that names a container
 * on the path from the root to here is a cycle: refused. */
static mp_val *follow(dec *d, const mp_val *src, size_t depth, int *err) {
    while (src->flags & MP__V_REF)
        src = src->u.ref;
    if (src->flags & MP__V_ONPATH) {
        *err = MP_EPROTO; /* a cycle */
        return NULL;
    }
    if (depth > d->max_depth || d->items == 0) {
        *err = MP_EMSGSIZE;
        return NULL;
    }
    d->items--;
    mp_val *v = mp__val_node(d->arena);
    if (!v) {
        *err = MP_ENOMEM;
        return NULL;
    }
    v->kind = src->kind;
    switch (src->kind) {
    case MP_VAL_STR:
    case MP_VAL_BYTES: /* strings never change in place: shared */
        if (src->n > d->bytes) {
            *err = MP_EMSGSIZE;
            return NULL;
        }
        d->bytes -= src->n;
        v->u.s = src->u.s;
        v->n = src->n;
        return v;
    case MP_VAL_TUPLE:
    case MP_VAL_LIST:
    case MP_VAL_SET:
    case MP_VAL_FROZENSET:
    case MP_VAL_DICT: {
        bool dict = src->kind == MP_VAL_DICT;
        size_t total = dict ? 2 * src->n : src->n;
        ((mp_val *)src)->flags |= MP__V_ONPATH;
        for (size_t i = 0; i < total && !*err; i += dict ? 2 : 1) {
            mp_val *k = follow(d, src->u.items[i], depth + 1, err);
            mp_val *val = k && dict
                              ? follow(d, src->u.items[i + 1], depth + 1, err)
                              : NULL;
            int rc =
                !k || (dict && !val) ? (*err ? *err : MP_ENOMEM)
                : dict               ? mp__val_dict_insert(v, k, val)
                : (src->kind == MP_VAL_SET || src->kind == MP_VAL_FROZENSET)
                    ? mp__val_set_insert(v, k)
                    : mp__val_append(v, k);
            if (rc && !*err)
                *err = rc;
        }
        ((mp_val *)src)->flags &= (uint8_t)~MP__V_ONPATH;
        return *err ? NULL : v;
    }
    default: v->u = src->u; return v;
    }
}

/* Replaces every reference in v's tree (made of the decoded values
 * themselves) with a copy of what it names. */
static int resolve(dec *d, mp_val *v, size_t depth) {
    if (v->kind != MP_VAL_TUPLE && v->kind != MP_VAL_LIST &&
        v->kind != MP_VAL_DICT)
        return 0; /* sets hold hashable values only: no references */
    if (depth > d->max_depth)
        return MP_EMSGSIZE;
    size_t total = v->kind == MP_VAL_DICT ? 2 * v->n : v->n;
    int rc = 0;
    v->flags |= MP__V_ONPATH;
    for (size_t i = 0; i < total && !rc; i++) {
        mp_val *item = v->u.items[i];
        if (item->flags & MP__V_REF) {
            int err = 0;
            mp_val *c = follow(d, item, depth + 1, &err);
            if (!c)
                rc = err ? err : MP_ENOMEM;
            else
                v->u.items[i] = c;
        } else {
            rc = resolve(d, item, depth + 1);
        }
    }
    v->flags &= (uint8_t)~MP__V_ONPATH;
    return rc;
}

int mp_val_loads(mp_val **out, const void *data, size_t len,
                 const mp_val_limits *lim) {
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    if (!data && len)
        return MP_EINVAL;
    dec d; /* every field but the inline arrays, which need no zeroing */
    d.stack = d.in_stack;
    d.scap = sizeof d.in_stack / sizeof *d.in_stack;
    d.marks = d.in_marks;
    d.mcap = sizeof d.in_marks / sizeof *d.in_marks;
    d.memo = d.in_memo;
    d.memocap = sizeof d.in_memo / sizeof *d.in_memo;
    d.sp = d.nmarks = d.nmemo = d.refs = 0;
    d.proto = 0;
    d.p = data;
    d.end = d.p + len;
    /* The defaults follow the message: a pickle spends at least a byte per
     * value and per payload byte, so only memo references can reach past
     * len, by at most 3 len plus a fixed allowance. */
    size_t room = len > SIZE_MAX / 8 ? SIZE_MAX / 8 : len;
    d.items =
        lim && lim->max_items ? lim->max_items : ((size_t)1 << 20) + 4 * room;
    d.bytes =
        lim && lim->max_bytes ? lim->max_bytes : ((size_t)1 << 26) + 4 * room;
    d.max_depth = lim && lim->max_depth ? lim->max_depth : 1000;
    if (d.max_depth > MP__VAL_DEPTH_MAX)
        d.max_depth = MP__VAL_DEPTH_MAX;
    d.root = mp__val_root(len + len / 2 + 256);
    if (!d.root)
        return MP_ENOMEM;
    d.arena = d.root->arena;
    int rc = 0;
    bool stop = false;
    /* A pickle starts with PROTO 2..5 (protocols 0 and 1 are not read). */
    if (len < 2 || d.p[0] != OP_PROTO)
        rc = MP_EPROTO;
    while (!rc && !stop) {
        if (d.p >= d.end) {
            rc = MP_EPROTO;
            break;
        }
        uint8_t op = *d.p++;
        /* Small ints, the bulk of many pickles, without the general step:
         * room on the stack and in the arena's chunk, bytes there. */
        if ((op == OP_BININT1 || op == OP_BININT2) && d.sp < d.scap &&
            d.items && d.end - d.p >= 2) {
            mp__vchunk *c = d.arena->head;
            if (c && c->cap - c->used >= sizeof(mp_val)) {
                mp_val *v = (mp_val *)((char *)c + MP__VCHUNK_HDR + c->used);
                c->used += sizeof(mp_val);
                memset(v, 0, sizeof *v);
                v->arena = d.arena;
                v->kind = MP_VAL_INT;
                v->u.i = op == OP_BININT1 ? d.p[0] : d.p[0] | (d.p[1] << 8);
                d.p += op == OP_BININT1 ? 1 : 2;
                d.items--;
                d.stack[d.sp++] = v;
                continue;
            }
        }
        if (op == OP_MEMOIZE &&
            d.sp > (d.nmarks ? d.marks[d.nmarks - 1] : 0) &&
            d.nmemo < d.memocap) {
            d.memo[d.nmemo++] = d.stack[d.sp - 1];
            continue;
        }
        /* Short ASCII strings (keys, names): one node and one copy. */
        if (op == OP_SHORT_BINUNICODE && d.sp < d.scap && d.items &&
            d.end - d.p >= 1 && (size_t)(d.end - d.p - 1) >= d.p[0] &&
            d.p[0] <= d.bytes) {
            size_t n = d.p[0], need = sizeof(mp_val) + ((n + 8) & ~(size_t)7);
            mp__vchunk *c = d.arena->head;
            const uint8_t *src = d.p + 1;
            uint64_t hi = 0; /* any byte with its top bit set */
            size_t k = 0;
            for (; k + 8 <= n; k += 8) {
                uint64_t w;
                memcpy(&w, src + k, 8);
                hi |= w;
            }
            for (; k < n; k++)
                hi |= src[k];
            bool ascii = !(hi & 0x8080808080808080ull);
            if (ascii && c && c->cap - c->used >= need) {
                mp_val *v = (mp_val *)((char *)c + MP__VCHUNK_HDR + c->used);
                char *str = (char *)(v + 1);
                c->used += need;
                memset(v, 0, sizeof *v);
                v->arena = d.arena;
                v->kind = MP_VAL_STR;
                v->n = n;
                v->u.s = str;
                memcpy(str, src, n);
                str[n] = 0;
                d.p = src + n;
                d.items--;
                d.bytes -= n;
                d.stack[d.sp++] = v;
                continue;
            }
        }
        rc = step(&d, op, &stop);
    }
    if (!rc && (d.p != d.end || d.sp != 1 || d.nmarks))
        rc = MP_EPROTO;
    mp_val *res = rc ? NULL : d.stack[0];
    if (!rc && (res->flags & MP__V_GLOBAL))
        rc = MP_EPROTO;
    if (!rc && d.refs) {
        if (res->flags & MP__V_REF) {
            int err = 0;
            res = follow(&d, res, 0, &err);
            rc = res ? 0 : err ? err : MP_ENOMEM;
        } else {
            rc = resolve(&d, res, 0);
        }
    }
    if (!rc && (size_t)res->height + 1 > d.max_depth)
        rc = MP_EMSGSIZE;
    if (d.stack != d.in_stack)
        free(d.stack);
    if (d.marks != d.in_marks)
        free(d.marks);
    if (d.memo != d.in_memo)
        free(d.memo);
    if (rc) {
        mp_val_free(d.root);
        return rc;
    }
    /* The result becomes the root's content (it lives in the arena). */
    mp__varena *a = d.root->arena;
    *d.root = *res;
    d.root->flags = MP__V_ROOT;
    d.root->arena = a;
    *out = d.root;
    return 0;
}

int mp_buf_val(const mp_buf *buf, mp_val **out) {
    if (!buf)
        return MP_EINVAL;
    return mp_val_loads(out, buf->data, buf->len, NULL);
}
