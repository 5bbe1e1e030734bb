/* Pool submission: apply, map and imap encode their calls into chunks
 * (task items of the wire format, pool_wire.h) and queue them for the
 * scheduler. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pool_result.h"
#include "pool_worker.h"

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
    apr_thread_mutex_unlock(p->mx);
    *loc = e->loc;
    *len = e->len;
    return 0;
}

static int check_items(const mp_args *items, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const mp_arg *v = mp__args_items(&items[i]);
        if (!v)
            return MP_EINVAL;
        for (size_t j = 0; j < items[i].n; j++)
            if (v[j].type == MP_ARG_OBJ)
                return MP_ENOTSUP;
    }
    return 0;
}

/* Appends one call's arguments (u32 length + wire form) to w. */
static int encode_call(mp__wbuf *w, const mp_args *args) {
    mp__handles hs = {0};
    size_t at = w->len;
    mp__w_u32(w, 0);
    int rc = mp__args_encode(*args, w, &hs);
    if (hs.v) /* never: check_items refused objects */
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
                        const mp_args *items, size_t n, size_t chunksize,
                        mp_result *r, chunk_list *l) {
    size_t max = mp_queue_max_item(p->w[0].tq);
    uint8_t stack[MP__POOL_INLINE_MSG];
    mp__wbuf w = mp__wbuf_on(stack, sizeof stack);
    uint32_t first = 0, count = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!count)
            start_chunk(&w, loc, loc_len);
        size_t before = w.len;
        if ((rc = encode_call(&w, &items[i])) != 0)
            break;
        if (w.len > max && count) { /* the call starts a new chunk */
            w.len = before;
            if ((rc = seal_chunk(l, &w, r, first, count)) != 0)
                break;
            first += count;
            count = 0;
            i--;
            continue;
        }
        if (w.len > max) {
            rc = MP_EMSGSIZE;
            break;
        }
        if (++count == chunksize || i + 1 == n) {
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

/* Submits fn over items[0, n) in chunks of chunksize calls (0: Python's
 * rule) as one result of the given kind. */
static int submit(mp_pool *p, mp_target fn, const mp_args *items, size_t n,
                  size_t chunksize, mp__result_kind kind,
                  const mp_result_options *opts, mp_result **out) {
    if (!p || !fn || !out || (n && !items) || n > UINT32_MAX)
        return MP_EINVAL;
    *out = NULL;
    int rc = check_items(items, n);
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
    if ((rc = build_chunks(p, loc, loc_len, items, n, chunksize, r, &l))) {
        mp__result_destroy(r);
        return rc;
    }
    mp__pool_lock(p);
    if (p->state != MP__POOL_RUN) {
        apr_thread_mutex_unlock(p->mx);
        mp__pool_chunks_free(l.head);
        mp__result_destroy(r);
        return MP_ESTATE;
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
    apr_thread_mutex_unlock(p->mx);
    *out = r;
    return 0;
}

/* ---- entry points ---- */

int mp_pool_apply_async(mp_pool *p, mp_target fn, mp_args args,
                        mp_result **out) {
    return submit(p, fn, &args, 1, 1, MP__RESULT_APPLY, NULL, out);
}

int mp_pool_apply_async_cb(mp_pool *p, mp_target fn, mp_args args,
                           const mp_result_options *opts, mp_result **out) {
    return submit(p, fn, &args, 1, 1, MP__RESULT_APPLY, opts, out);
}

int mp_pool_apply(mp_pool *p, mp_target fn, mp_args args, mp_buf *buf) {
    mp_result *r;
    int rc = mp_pool_apply_async(p, fn, args, &r);
    if (rc)
        return rc;
    rc = mp_result_get(r, MP_INFINITE, buf);
    mp_result_free(r);
    return rc;
}

int mp_pool_map_async(mp_pool *p, mp_target fn, const mp_args *items, size_t n,
                      size_t chunksize, const mp_result_options *opts,
                      mp_result **out) {
    return submit(p, fn, items, n, chunksize, MP__RESULT_MAP, opts, out);
}

int mp_pool_map(mp_pool *p, mp_target fn, const mp_args *items, size_t n,
                size_t chunksize, mp_result **out) {
    int rc = submit(p, fn, items, n, chunksize, MP__RESULT_MAP, NULL, out);
    return rc ? rc : mp_result_get(*out, MP_INFINITE, NULL);
}

static int imap_new(mp_pool *p, mp_target fn, const mp_args *items, size_t n,
                    size_t chunksize, bool unordered, mp_imap **out) {
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    mp_imap *it = calloc(1, sizeof *it);
    if (!it)
        return MP_ENOMEM;
    int rc = submit(p, fn, items, n, chunksize, MP__RESULT_MAP, NULL, &it->r);
    if (rc) {
        free(it);
        return rc;
    }
    it->unordered = unordered;
    *out = it;
    return 0;
}

int mp_pool_imap(mp_pool *p, mp_target fn, const mp_args *items, size_t n,
                 size_t chunksize, mp_imap **it) {
    return imap_new(p, fn, items, n, chunksize, false, it);
}

int mp_pool_imap_unordered(mp_pool *p, mp_target fn, const mp_args *items,
                           size_t n, size_t chunksize, mp_imap **it) {
    return imap_new(p, fn, items, n, chunksize, true, it);
}
