/* Pool submission: apply, map and imap encode their calls into chunks
 * (task items of the wire format, pool_wire.h) and queue them for the
 * scheduler. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool_result.h"
#include "pool/pool_worker.h"

/* The encoded location of fn, from the pool's cache: a list that only
 * grows (until the pool is freed), read without the lock. */
static int fn_lookup(mp_pool *p, mp_target fn, uint8_t **loc, size_t *len) {
    for (mp__pool_fn *e = mp__loadp(&p->fns, MP__ACQUIRE); e; e = e->next)
        if (e->fn == fn) {
            *loc = e->loc;
            *len = e->len;
            return 0;
        }
    mp__pool_fn *e = calloc(1, sizeof *e);
    if (!e)
        return MP_ENOMEM;
    int rc = mp__pool_fn_encode(fn, &e->loc, &e->len);
    if (rc) {
        free(e);
        return rc;
    }
    e->fn = fn;
    mp__pool_lock(p);
    e->next = mp__loadp(&p->fns, MP__RELAXED);
    mp__storep(&p->fns, e, MP__RELEASE);
    mp__pool_unlock(p);
    *loc = e->loc;
    *len = e->len;
    return 0;
}

/* Item i of src as an argument list: the caller's own, or one made in tmp
 * (which holds one argument for the array kinds). */
static const mp_args *item_at(const mp_items *src, size_t i, mp_args *tmp) {
    switch (src->mp__kind) {
    case MP__ITEMS_ARGS: return &((const mp_args *)src->mp__v)[i];
    case MP__ITEMS_INTS:
        tmp->mp__in[0] = mp_int(((const int64_t *)src->mp__v)[i]);
        break;
    case MP__ITEMS_DOUBLES:
        tmp->mp__in[0] = mp_float(((const double *)src->mp__v)[i]);
        break;
    case MP__ITEMS_STRS:
        tmp->mp__in[0] = mp_str(((const char *const *)src->mp__v)[i]);
        break;
    case MP__ITEMS_RANGE:
        tmp->mp__in[0] = mp_int(src->mp__start + (int64_t)i);
        break;
    default: /* MP__ITEMS_FN */ *tmp = src->mp__fn(i, src->mp__user); break;
    }
    return tmp;
}

static int check_source(const mp_items *src) {
    switch (src->mp__kind) {
    case MP__ITEMS_RANGE: return 0;
    case MP__ITEMS_FN: return src->mp__fn || !src->n ? 0 : MP_EINVAL;
    case MP__ITEMS_ARGS:
    case MP__ITEMS_INTS:
    case MP__ITEMS_DOUBLES:
    case MP__ITEMS_STRS: return src->mp__v || !src->n ? 0 : MP_EINVAL;
    default: return MP_EINVAL;
    }
}

/* Appends one call's arguments (u32 length + wire form) to w. Objects and
 * handles cannot reach a running worker: mp__args_encode refuses them
 * (MP_ENOTSUP). */
static int encode_call(mp__wbuf *w, const mp_args *args) {
    mp__handles hs = {0};
    size_t at = w->len;
    mp__w_u32(w, 0);
    int rc = mp__args_encode(*args, w, &hs);
    if (hs.v) /* never: objects and handles were refused */
        mp__handles_free(&hs);
    if (!rc)
        mp__w_u32_at(w, at, (uint32_t)(w->len - at - 4));
    return rc ? rc : w->err;
}

typedef struct chunk_list {
    mp__pool_chunk *head, *tail;
} chunk_list;

/* Closes the chunk being written in w (calls [first, first + count)). A
 * small message lives in the chunk's own block (one allocation per
 * apply_async); a big one keeps w's heap block, which goes once the worker
 * has it. w is left empty for the next chunk. */
static int seal_chunk(chunk_list *l, mp__wbuf *w, mp_result *r, uint32_t first,
                      uint32_t count) {
    bool inl = w->len <= MP__POOL_INLINE_MSG;
    mp__pool_chunk *c =
        mp__pool_alloc(&r->pool->alloc, sizeof *c + (inl ? w->len : 0));
    if (!c)
        return MP_ENOMEM;
    memset(c, 0, sizeof *c);
    memcpy(w->data + offsetof(mp__pool_task_hdr, count), &count, sizeof count);
    c->r = r;
    c->first = first;
    c->count = count;
    c->msg_len = w->len;
    if (inl) {
        c->msg = c->inl;
        memcpy(c->inl, w->data, w->len);
        w->len = 0;
    } else if (!w->borrowed) {
        c->msg = w->data;
        memset(w, 0, sizeof *w);
    } else if ((c->msg = malloc(w->len)) != NULL) {
        memcpy(c->msg, w->data, w->len);
        w->len = 0;
    } else {
        mp__pool_release(c);
        return MP_ENOMEM;
    }
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
    return 0;
}

static void start_chunk(mp__wbuf *w, const uint8_t *loc, size_t loc_len) {
    mp__pool_task_hdr h = {MP__POOL_MAGIC, 0, 0, (uint32_t)loc_len};
    mp__w_bytes(w, &h, sizeof h);
    mp__w_bytes(w, loc, loc_len);
}

/* Encodes the calls into chunks of at most chunksize calls, each fitting a
 * worker's ring. */
static int build_chunks(mp_pool *p, const uint8_t *loc, size_t loc_len,
                        const mp_items *src, size_t chunksize, mp_result *r,
                        chunk_list *l) {
    size_t max = mp_queue_max_item(p->w[0].tq), n = src->n;
    uint8_t stack[MP__POOL_INLINE_MSG];
    mp__wbuf w = mp__wbuf_on(stack, sizeof stack);
    uint32_t first = 0, count = 0;
    int rc = 0;
    mp_args tmp = mp_args_borrow(NULL, 1);
    const mp_args *a = NULL; /* item i, asked for once */
    for (size_t i = 0; i < n && !rc;) {
        if (!a)
            a = item_at(src, i, &tmp);
        if (!count)
            start_chunk(&w, loc, loc_len);
        size_t before = w.len;
        if ((rc = encode_call(&w, a)) != 0)
            break;
        if (w.len > max && count) { /* the call starts a new chunk */
            w.len = before;
            if ((rc = seal_chunk(l, &w, r, first, count)) != 0)
                break;
            first += count;
            count = 0;
            continue;
        }
        if (w.len > max) {
            rc = MP_EMSGSIZE;
            break;
        }
        a = NULL;
        i++;
        if (++count == chunksize || i == n) {
            rc = seal_chunk(l, &w, r, first, count);
            first += count;
            count = 0;
        }
    }
    mp__w_free(&w);
    if (rc) {
        mp__pool_chunks_free(l->head);
        l->head = l->tail = NULL;
    }
    return rc;
}

/* Submits fn over the items of src in chunks of chunksize calls (0:
 * Python's rule) as one result of the given kind. */
static int submit(mp_pool *p, mp_target fn, const mp_items *src,
                  size_t chunksize, mp__result_kind kind,
                  const mp_result_options *opts, mp_result **out) {
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    size_t n = src->n;
    if (!p || !fn || n > UINT32_MAX)
        return MP_EINVAL;
    int rc = check_source(src);
    uint8_t *loc = NULL;
    size_t loc_len = 0;
    if (!rc)
        rc = fn_lookup(p, fn, &loc, &loc_len);
    mp_result *r = NULL;
    if (!rc)
        rc = mp__result_new(p, kind, n, opts, &r);
    if (rc)
        return rc;
    if (!chunksize) {
        size_t k = 4 * (size_t)p->nworkers;
        chunksize = (n + k - 1) / k;
    }
    chunk_list l = {NULL, NULL};
    if ((rc = build_chunks(p, loc, loc_len, src, chunksize, r, &l))) {
        mp__result_destroy(r);
        return rc;
    }
    mp__pool_lock(p);
    if (p->state != MP__POOL_RUN) {
        /* A pool broken by its corrupted shared memory says so. */
        rc = p->fail_status == MP_EPROTO ? MP_EPROTO : MP_ESTATE;
        mp__pool_unlock(p);
        mp__pool_chunks_free(l.head);
        mp__result_destroy(r);
        return rc;
    }
    /* n == 0 gives no chunk (and a result that is ready already). */
    if (l.head && p->pend_tail) {
        p->pend_tail->next = l.head;
        p->pend_tail = l.tail;
    } else if (l.head) {
        p->pend_head = l.head;
        p->pend_tail = l.tail;
    }
    mp__pool_dispatch(p);
    mp__pool_unlock(p);
    *out = r;
    return 0;
}

/* ---- entry points ---- */

int mp_pool_apply_async(mp_pool *p, mp_target fn, mp_args args,
                        mp_result **out) {
    mp_items one = mp_items_args(&args, 1);
    return submit(p, fn, &one, 1, MP__RESULT_APPLY, NULL, out);
}

int mp_pool_apply_async_cb(mp_pool *p, mp_target fn, mp_args args,
                           const mp_result_options *opts, mp_result **out) {
    mp_items one = mp_items_args(&args, 1);
    return submit(p, fn, &one, 1, MP__RESULT_APPLY, opts, out);
}

int mp_pool_apply(mp_pool *p, mp_target fn, mp_args args, mp_buf *buf) {
    return mp_pool_apply_info(p, fn, args, buf, NULL);
}

int mp_pool_apply_info(mp_pool *p, mp_target fn, mp_args args, mp_buf *buf,
                       mp_task_info *info) {
    mp_result *r;
    int rc = mp_pool_apply_async(p, fn, args, &r);
    if (rc)
        return rc;
    rc = mp_result_get(r, MP_INFINITE, buf);
    if (info)
        mp_result_info(r, info);
    mp_result_free(r);
    return rc;
}

int mp_pool_map_items_async(mp_pool *p, mp_target fn, mp_items items,
                            size_t chunksize, const mp_result_options *opts,
                            mp_result **out) {
    return submit(p, fn, &items, chunksize, MP__RESULT_MAP, opts, out);
}

int mp_pool_map_items(mp_pool *p, mp_target fn, mp_items items,
                      size_t chunksize, mp_result **out) {
    int rc = submit(p, fn, &items, chunksize, MP__RESULT_MAP, NULL, out);
    return rc ? rc : mp_result_get(*out, MP_INFINITE, NULL);
}

int mp_pool_map_async(mp_pool *p, mp_target fn, const mp_args *items, size_t n,
                      size_t chunksize, const mp_result_options *opts,
                      mp_result **out) {
    return mp_pool_map_items_async(p, fn, mp_items_args(items, n), chunksize,
                                   opts, out);
}

int mp_pool_map(mp_pool *p, mp_target fn, const mp_args *items, size_t n,
                size_t chunksize, mp_result **out) {
    return mp_pool_map_items(p, fn, mp_items_args(items, n), chunksize, out);
}

/* imap's chunksize 0 is Python's default for imap: 1. */
static int imap_new(mp_pool *p, mp_target fn, const mp_items *src,
                    size_t chunksize, bool unordered, mp_imap **out) {
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    mp_imap *it = calloc(1, sizeof *it);
    if (!it)
        return MP_ENOMEM;
    int rc = submit(p, fn, src, chunksize ? chunksize : 1, MP__RESULT_IMAP,
                    NULL, &it->r);
    if (rc) {
        free(it);
        return rc;
    }
    it->unordered = unordered;
    *out = it;
    return 0;
}

int mp_pool_imap_items(mp_pool *p, mp_target fn, mp_items items,
                       size_t chunksize, mp_imap **it) {
    return imap_new(p, fn, &items, chunksize, false, it);
}

int mp_pool_imap_unordered_items(mp_pool *p, mp_target fn, mp_items items,
                                 size_t chunksize, mp_imap **it) {
    return imap_new(p, fn, &items, chunksize, true, it);
}

int mp_pool_imap(mp_pool *p, mp_target fn, const mp_args *items, size_t n,
                 size_t chunksize, mp_imap **it) {
    mp_items src = mp_items_args(items, n);
    return imap_new(p, fn, &src, chunksize, false, it);
}

int mp_pool_imap_unordered(mp_pool *p, mp_target fn, const mp_args *items,
                           size_t n, size_t chunksize, mp_imap **it) {
    mp_items src = mp_items_args(items, n);
    return imap_new(p, fn, &src, chunksize, true, it);
}
