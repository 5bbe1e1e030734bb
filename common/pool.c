/* Pool: lifecycle (new, close, terminate, join, free), workers, and task
 * submission and dispatch. The transport and the crash accounting are
 * described in pool_internal.h. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>

#include "pool_internal.h"

/* ---- workers ---- */

int mp__pool_start_worker(mp_pool *p, int i) {
    pool_worker *w = &p->w[i];
    size_t n = POOL_WORKER_FIXED_ARGS + p->initargs.n;
    mp_arg *v = malloc(n * sizeof *v);
    if (!v)
        return MP_ENOMEM;
    uint8_t *loc = NULL;
    size_t loc_len = 0;
    int rc = p->init_fn ? mp__pool_fn_encode(p->init_fn, &loc, &loc_len) : 0;
    if (rc) {
        free(v);
        return rc;
    }
    v[0] = mp_queue_arg(w->tq);
    v[1] = mp_queue_arg(p->rq);
    v[2] = mp_int(i);
    v[3] = mp_int(p->maxtasks);
    v[4] = mp_bytes(loc, loc_len);
    if (p->initargs.n)
        memcpy(v + POOL_WORKER_FIXED_ARGS, p->initargs.v,
               p->initargs.n * sizeof *v);
    char name[32];
    snprintf(name, sizeof name, "PoolWorker-%d", i + 1);
    mp_process_options po = {name, true, p->method};
    mp_process *proc = NULL;
    rc = mp_process_new(&proc, mp__pool_worker_main, (mp_args){n, v}, &po);
    free(v);
    free(loc);
    if (!rc && (rc = mp_process_start(proc)) != 0) {
        mp_process_free(proc);
        proc = NULL;
    }
    if (!rc) {
        w->proc = proc;
        w->gen++;
        w->reported = false;
    }
    return rc;
}

void mp__pool_wake_monitor(mp_pool *p) {
    if (p->wake_wr)
        mp_conn_send(p->wake_wr, "w", 1);
}

typedef struct get_call {
    mp_queue *q;
    mp_buf *b;
} get_call;

static int try_get(void *arg) {
    get_call *c = arg;
    return mp_queue_get(c->q, c->b, 0);
}

int mp__pool_get(mp_queue *q, mp_buf *b, uint32_t *window) {
    int rc = mp_queue_get(q, b, 0);
    if (rc != MP_EAGAIN)
        return rc;
    uint64_t t0 = mp__os_now_ns();
    get_call c = {q, b};
    rc = mp__poll_yield(try_get, &c, t0 + *window);
    if (rc == MP_EAGAIN)
        rc = mp_queue_get(q, b, MP_INFINITE);
    *window = mp__pool_poll_next(mp__os_now_ns() - t0, POOL_YIELD_NS);
    return rc;
}

int mp__pool_post(mp_pool *p, uint32_t kind, uint32_t worker, uint32_t seq,
                  int32_t code) {
    res_hdr h = {POOL_MAGIC, kind, worker, seq, 0, 0, code, 0};
    return mp_queue_put(p->rq, &h, sizeof h, MP_INFINITE);
}

void mp__pool_lock(mp_pool *p) {
    /* The handler holds the lock for a batch of results, a few µs: a
     * submitter that meets it polls a little rather than sleep (and be
     * woken, which costs more than the wait). */
    for (int i = 0; p->spin && i < POOL_LOCK_POLLS; i++) {
        if (apr_thread_mutex_trylock(p->mx) == APR_SUCCESS)
            return;
        mp__cpu_relax();
    }
    apr_thread_mutex_lock(p->mx);
}

/* ---- dispatch (lock held) ---- */

/* The live worker with the fewest chunks, if it has room. */
static pool_worker *pick_worker(mp_pool *p) {
    pool_worker *best = NULL;
    for (int i = 0; i < p->nworkers; i++) {
        pool_worker *w = &p->w[i];
        if (w->proc && w->count < POOL_WINDOW &&
            (!best || w->count < best->count))
            best = w;
    }
    return best;
}

void mp__pool_dispatch(mp_pool *p) {
    if (p->state != S_RUN && p->state != S_CLOSED)
        return;
    while (p->pend_head) {
        pool_worker *w = pick_worker(p);
        if (!w)
            return;
        pool_chunk *c = p->pend_head;
        task_hdr *h = (task_hdr *)c->msg;
        h->seq = w->seq;
        /* Never block here: a full ring waits for the worker's results,
         * which call us again. */
        if (mp_queue_put(w->tq, c->msg, c->msg_len, 0) != 0)
            return;
        p->pend_head = c->next;
        if (!p->pend_head)
            p->pend_tail = NULL;
        mp__pool_chunk_drop_msg(c);
        c->seq = w->seq++;
        c->next = NULL;
        if (w->tail)
            w->tail->next = c;
        else
            w->head = c;
        w->tail = c;
        w->count++;
    }
}

void mp__pool_maybe_drain(mp_pool *p) {
    if (p->state != S_CLOSED || p->pend_head)
        return;
    for (int i = 0; i < p->nworkers; i++)
        if (p->w[i].count)
            return;
    /* Workers finish what the queue holds (nothing) and exit. */
    p->state = S_DRAINING;
    for (int i = 0; i < p->nworkers; i++)
        mp_queue_close(p->w[i].tq);
}

/* ---- submission ---- */

/* The encoded location of fn, from the pool's cache: a list that only
 * grows (until the pool is freed), read without the lock. */
static int fn_lookup(mp_pool *p, mp_target fn, uint8_t **loc, size_t *len) {
    for (fn_cache_entry *e = atomic_load_explicit(&p->fns, memory_order_acquire);
         e; e = e->next)
        if (e->fn == fn) {
            *loc = e->loc;
            *len = e->len;
            return 0;
        }
    fn_cache_entry *e = calloc(1, sizeof *e);
    if (!e)
        return MP_ENOMEM;
    int rc = mp__pool_fn_encode(fn, &e->loc, &e->len);
    if (rc) {
        free(e);
        return rc;
    }
    e->fn = fn;
    mp__pool_lock(p);
    e->next = atomic_load_explicit(&p->fns, memory_order_relaxed);
    atomic_store_explicit(&p->fns, e, memory_order_release);
    apr_thread_mutex_unlock(p->mx);
    *loc = e->loc;
    *len = e->len;
    return 0;
}

static int check_items(const mp_args *items, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (items[i].n && !items[i].v)
            return MP_EINVAL;
        for (size_t j = 0; j < items[i].n; j++)
            if (items[i].v[j].type == MP_ARG_OBJ)
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
    if (!rc && !w->err) {
        uint32_t len = (uint32_t)(w->len - at - 4);
        w->data[at] = (uint8_t)len;
        w->data[at + 1] = (uint8_t)(len >> 8);
        w->data[at + 2] = (uint8_t)(len >> 16);
        w->data[at + 3] = (uint8_t)(len >> 24);
    }
    return rc ? rc : w->err;
}

void mp__pool_chunk_drop_msg(pool_chunk *c) {
    if (c->msg != c->inl)
        free(c->msg);
    c->msg = NULL;
    c->msg_len = 0;
}

static void free_chunks(pool_chunk *c) {
    while (c) {
        pool_chunk *next = c->next;
        mp__pool_chunk_drop_msg(c);
        mp__pool_release(c);
        c = next;
    }
}

typedef struct chunk_list {
    pool_chunk *head, *tail;
} chunk_list;

/* Closes the chunk being written in w (calls [first, first + count)). A
 * small message lives in the chunk's own block (one allocation per
 * apply_async); a big one keeps w's heap block, which goes once the worker
 * has it. w is left empty for the next chunk. */
static int seal_chunk(chunk_list *l, mp__wbuf *w, mp_result *r,
                      uint32_t first, uint32_t count) {
    bool inl = w->len <= POOL_INLINE_MSG;
    pool_chunk *c =
        mp__pool_alloc(&r->pool->alloc, sizeof *c + (inl ? w->len : 0));
    if (!c)
        return MP_ENOMEM;
    memset(c, 0, sizeof *c);
    memcpy(w->data + offsetof(task_hdr, count), &count, sizeof count);
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
    task_hdr h = {POOL_MAGIC, 0, 0, (uint32_t)loc_len};
    mp__w_bytes(w, &h, sizeof h);
    mp__w_bytes(w, loc, loc_len);
}

/* Encodes the calls into chunks of at most chunksize calls, each fitting a
 * worker's ring. */
static int build_chunks(mp_pool *p, const uint8_t *loc, size_t loc_len,
                        const mp_args *items, size_t n, size_t chunksize,
                        mp_result *r, chunk_list *l) {
    size_t max = mp_queue_max_item(p->w[0].tq);
    uint8_t stack[POOL_INLINE_MSG];
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
        free_chunks(l->head);
        l->head = l->tail = NULL;
    }
    return rc;
}

int mp__pool_submit(mp_pool *p, mp_target fn, const mp_args *items, size_t n,
                    size_t chunksize, result_kind kind,
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
    if (p->state != S_RUN) {
        apr_thread_mutex_unlock(p->mx);
        free_chunks(l.head);
        mp__result_destroy(r);
        return MP_ESTATE;
    }
    if (n == 0) {
        r->complete = true;
        r->ready = 1;
    } else if (p->pend_tail) {
        p->pend_tail->next = l.head;
        p->pend_tail = l.tail;
    } else {
        p->pend_head = l.head;
        p->pend_tail = l.tail;
    }
    mp__pool_dispatch(p);
    apr_thread_mutex_unlock(p->mx);
    *out = r;
    return 0;
}

/* ---- creation ---- */

static int check_options(const mp_pool_options *o, mp_start_method *method) {
    if (o->processes < 0 || o->processes > POOL_MAX_WORKERS)
        return MP_EINVAL;
    if (o->initargs.n && !o->initargs.v)
        return MP_EINVAL;
    *method = o->start_method;
    if (*method != MP_START_DEFAULT)
        return mp__resolve_method(*method, method);
    return 0;
}

static int make_threads(mp_pool *p) {
    apr_threadattr_t *attr;
    if (apr_threadattr_create(&attr, p->apool) != APR_SUCCESS)
        return MP_ENOMEM;
    if (apr_thread_create(&p->handler, attr, mp__pool_handler_main, p,
                          p->apool) != APR_SUCCESS)
        return MP_ESYS;
    if (apr_thread_create(&p->monitor, attr, mp__pool_monitor_main, p,
                          p->apool) == APR_SUCCESS)
        return 0;
    /* The handler is running: stop it the ordinary way. */
    mp__pool_lock(p);
    p->state = S_TERMINATE;
    apr_thread_mutex_unlock(p->mx);
    mp__pool_post(p, MSG_KICK, 0, 0, 0);
    apr_status_t st;
    apr_thread_join(&st, p->handler);
    p->handler = NULL;
    return MP_ESYS;
}

static int make_sync(mp_pool *p) {
    mp__lock();
    apr_status_t st = apr_pool_create(&p->apool, mp__g.pool);
    mp__unlock();
    if (st != APR_SUCCESS)
        return MP_ENOMEM;
    if (apr_thread_mutex_create(&p->mx, APR_THREAD_MUTEX_DEFAULT, p->apool) ||
        apr_thread_cond_create(&p->cv, p->apool))
        return MP_ENOMEM;
    return 0;
}

static int make_queues(mp_pool *p) {
    mp_queue_options qo = {POOL_RESULT_RING, NULL};
    int rc = mp_queue_new(&p->rq, 0, &qo);
    if (!rc)
        rc = mp_pipe(&p->wake_rd, &p->wake_wr, false);
    qo.capacity_bytes = POOL_TASK_RING;
    for (int i = 0; i < p->nworkers && !rc; i++)
        rc = mp_queue_new(&p->w[i].tq, 0, &qo);
    return rc;
}

/* Frees what mp_pool_new made, once no thread of the pool runs. */
static void destroy(mp_pool *p) {
    for (int i = 0; i < p->nworkers; i++) {
        pool_worker *w = &p->w[i];
        if (w->proc) {
            mp_process_kill(w->proc);
            mp_process_join(w->proc, MP_INFINITE);
            mp_process_free(w->proc);
        }
        free_chunks(w->head);
        mp_queue_free(w->tq);
    }
    free_chunks(p->pend_head);
    free(p->w);
    mp_queue_free(p->rq);
    mp_conn_free(p->wake_rd);
    mp_conn_free(p->wake_wr);
    mp__argv_free(&p->initargs);
    for (fn_cache_entry *e = atomic_load(&p->fns), *next; e; e = next) {
        next = e->next;
        free(e->loc);
        free(e);
    }
    atomic_store(&p->fns, NULL);
    p->w = NULL;
    p->nworkers = 0;
    p->rq = NULL;
    p->wake_rd = p->wake_wr = NULL;
}

void mp__pool_unref(mp_pool *p) {
    if (apr_atomic_dec32((volatile apr_uint32_t *)&p->refs) != 0)
        return;
    if (p->apool) {
        mp__lock();
        apr_pool_destroy(p->apool);
        mp__unlock();
    }
    mp__pool_alloc_fini(&p->alloc);
    free(p);
}

static int pool_init(mp_pool *p, const mp_pool_options *o) {
    int rc = mp__argv_copy(o->initargs, &p->initargs);
    if (rc)
        return rc;
    p->init_fn = o->initializer;
    if (p->init_fn) {
        uint8_t *loc;
        size_t len;
        if ((rc = mp__pool_fn_encode(p->init_fn, &loc, &len)) != 0)
            return rc;
        free(loc);
    }
    p->nworkers = o->processes ? o->processes : mp_cpu_count();
    if (!(p->w = calloc((size_t)p->nworkers, sizeof *p->w)))
        return MP_ENOMEM;
    if ((rc = make_sync(p)) || (rc = make_queues(p)))
        return rc;
    for (int i = 0; i < p->nworkers && !rc; i++)
        rc = mp__pool_start_worker(p, i);
    return rc ? rc : make_threads(p);
}

int mp_pool_new(mp_pool **pp, const mp_pool_options *opts) {
    static const mp_pool_options defaults = {0};
    if (!pp)
        return MP_EINVAL;
    *pp = NULL;
    if (!opts)
        opts = &defaults;
    mp_start_method method;
    int rc = check_options(opts, &method);
    if (rc)
        return rc;
    if (!mp__g.inited)
        return MP_ESTATE;
    mp_pool *p = calloc(1, sizeof *p);
    if (!p)
        return MP_ENOMEM;
    p->refs = 1;
    p->maxtasks = opts->maxtasksperchild;
    p->method = method;
    p->state = S_RUN;
    p->spin = mp_cpu_count() > 1;
    atomic_init(&p->wait_window, POOL_WAIT_NS);
    if ((rc = pool_init(p, opts)) != 0) {
        destroy(p);
        mp__pool_unref(p);
        return rc;
    }
    *pp = p;
    return 0;
}

/* ---- queries ---- */

int mp_pool_size(const mp_pool *p) { return p ? p->nworkers : 0; }

size_t mp_pool_worker_pids(mp_pool *p, long *pids, size_t n) {
    size_t k = 0;
    if (!p || !pids)
        return 0;
    mp__pool_lock(p);
    for (int i = 0; i < p->nworkers && k < n; i++)
        if (p->w[i].proc)
            pids[k++] = mp_process_pid(p->w[i].proc);
    apr_thread_mutex_unlock(p->mx);
    return k;
}

/* ---- submission entry points ---- */

int mp_pool_apply_async(mp_pool *p, mp_target fn, mp_args args,
                        mp_result **out) {
    return mp__pool_submit(p, fn, &args, 1, 1, R_APPLY, NULL, out);
}

int mp_pool_apply_async_cb(mp_pool *p, mp_target fn, mp_args args,
                           const mp_result_options *opts, mp_result **out) {
    return mp__pool_submit(p, fn, &args, 1, 1, R_APPLY, opts, out);
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

int mp_pool_map_async(mp_pool *p, mp_target fn, const mp_args *items,
                      size_t n, size_t chunksize,
                      const mp_result_options *opts, mp_result **out) {
    return mp__pool_submit(p, fn, items, n, chunksize, R_MAP, opts, out);
}

int mp_pool_map(mp_pool *p, mp_target fn, const mp_args *items, size_t n,
                size_t chunksize, mp_result **out) {
    int rc = mp__pool_submit(p, fn, items, n, chunksize, R_MAP, NULL, out);
    return rc ? rc : mp_result_get(*out, MP_INFINITE, NULL);
}

/* ---- close, terminate, join, free ---- */

int mp_pool_close(mp_pool *p) {
    if (!p)
        return MP_EINVAL;
    mp__pool_lock(p);
    if (p->state == S_RUN) {
        p->state = S_CLOSED;
        mp__pool_maybe_drain(p);
    }
    apr_thread_mutex_unlock(p->mx);
    return 0;
}

/* Waits for S_DONE (lock held). */
static int wait_done(mp_pool *p, long timeout_ms) {
    uint64_t dl = timeout_ms > 0
                      ? mp__os_now_ns() + (uint64_t)timeout_ms * 1000000u
                      : 0;
    while (p->state != S_DONE) {
        if (timeout_ms == 0)
            return MP_EAGAIN;
        if (timeout_ms < 0) {
            apr_thread_cond_wait(p->cv, p->mx);
            continue;
        }
        uint64_t now = mp__os_now_ns();
        if (now >= dl)
            return MP_ETIMEDOUT;
        apr_thread_cond_timedwait(p->cv, p->mx,
                                  (apr_interval_time_t)((dl - now) / 1000 + 1));
    }
    return 0;
}

int mp_pool_terminate(mp_pool *p) {
    if (!p)
        return MP_EINVAL;
    mp__pool_lock(p);
    bool kick = p->state < S_TERMINATE;
    if (kick) {
        p->state = S_TERMINATE;
        p->fail_status = MP_ECLOSED;
        for (int i = 0; i < p->nworkers; i++)
            if (p->w[i].proc)
                mp_process_kill(p->w[i].proc);
    }
    apr_thread_mutex_unlock(p->mx);
    /* The handler fails what is left, and sees the deaths, in its thread. */
    if (kick)
        mp__pool_post(p, MSG_KICK, 0, 0, 0);
    mp__pool_lock(p);
    wait_done(p, MP_INFINITE);
    apr_thread_mutex_unlock(p->mx);
    return 0;
}

int mp_pool_join(mp_pool *p, long timeout_ms) {
    if (!p || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    mp__pool_lock(p);
    if (p->state == S_RUN) {
        apr_thread_mutex_unlock(p->mx);
        return MP_ESTATE;
    }
    int rc = wait_done(p, timeout_ms);
    bool join = !rc && !p->threads_joined;
    if (join)
        p->threads_joined = true;
    apr_thread_mutex_unlock(p->mx);
    if (join) {
        apr_status_t st;
        apr_thread_join(&st, p->handler);
        apr_thread_join(&st, p->monitor);
    }
    return rc;
}

void mp_pool_free(mp_pool *p) {
    if (!p)
        return;
    mp_pool_terminate(p);
    mp_pool_join(p, MP_INFINITE);
    destroy(p);
    mp__pool_unref(p);
}
