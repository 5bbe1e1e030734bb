/* The pool's scheduler in the parent: worker slots, the dispatch of chunks
 * to them, and the pool object's lock and lifetime. The accounting that
 * makes a worker's death cost only what it had taken is described in
 * pool_sched.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool_sched.h"
#include "pool_worker.h"

void mp__pool_lock(mp_pool *p) {
    /* The handler holds the lock for a batch of results, a few µs: a
     * submitter that meets it polls a little rather than sleep (and be
     * woken, which costs more than the wait). */
    for (int i = 0; p->spin && i < MP__POOL_LOCK_POLLS; i++) {
        if (apr_thread_mutex_trylock(p->mx) == APR_SUCCESS)
            return;
        mp__cpu_relax();
    }
    apr_thread_mutex_lock(p->mx);
}

void mp__pool_unref(mp_pool *p) {
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (p->apool) {
        mp__lock();
        apr_pool_destroy(p->apool);
        mp__unlock();
    }
    mp__pool_arena_fini(&p->alloc);
    free(p);
}

/* ---- workers ---- */

int mp__pool_start_worker(mp_pool *p, int i) {
    mp__pool_slot *w = &p->w[i];
    size_t n = MP__POOL_WORKER_FIXED_ARGS + p->initargs.n;
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
        memcpy(v + MP__POOL_WORKER_FIXED_ARGS, p->initargs.v,
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

/* ---- chunks ---- */

void mp__pool_chunk_drop_msg(mp__pool_chunk *c) {
    if (c->msg != c->inl)
        free(c->msg);
    c->msg = NULL;
    c->msg_len = 0;
}

void mp__pool_chunks_free(mp__pool_chunk *c) {
    while (c) {
        mp__pool_chunk *next = c->next;
        mp__pool_chunk_drop_msg(c);
        mp__pool_release(c);
        c = next;
    }
}

/* ---- dispatch (lock held) ---- */

/* The live worker with the fewest chunks, if it has room. */
static mp__pool_slot *pick_worker(mp_pool *p) {
    mp__pool_slot *best = NULL;
    for (int i = 0; i < p->nworkers; i++) {
        mp__pool_slot *w = &p->w[i];
        if (w->proc && w->count < MP__POOL_WINDOW &&
            (!best || w->count < best->count))
            best = w;
    }
    return best;
}

void mp__pool_dispatch(mp_pool *p) {
    if (p->state != MP__POOL_RUN && p->state != MP__POOL_CLOSED)
        return;
    while (p->pend_head) {
        mp__pool_slot *w = pick_worker(p);
        if (!w)
            return;
        mp__pool_chunk *c = p->pend_head;
        mp__pool_task_set_seq(c->msg, w->seq);
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
    if (p->state != MP__POOL_CLOSED || p->pend_head)
        return;
    for (int i = 0; i < p->nworkers; i++)
        if (p->w[i].count)
            return;
    /* Workers finish what the queue holds (nothing) and exit. */
    p->state = MP__POOL_DRAINING;
    for (int i = 0; i < p->nworkers; i++)
        mp_queue_close(p->w[i].tq);
}
