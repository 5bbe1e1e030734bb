/* The pool's scheduler in the parent: worker slots, the dispatch of chunks
 * to them, and the pool object's lock and lifetime. The accounting that
 * makes a worker's death cost only what it had taken is described in
 * pool_sched.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool_sched.h"
#include "pool/pool_worker.h"
#include "proc/runtime.h"
#include "util/wait_policy.h"

void mp__pool_lock(mp_pool *p) {
    /* The handler holds the lock for a batch of results, a few µs: a
     * submitter that meets it polls a little rather than sleep (and be
     * woken, which costs more than the wait). */
    for (int i = 0; p->spin && i < MP__SPIN_POOL_LOCK; i++) {
        if (apr_thread_mutex_trylock(p->mx) == APR_SUCCESS)
            return;
        mp__cpu_relax();
    }
    apr_thread_mutex_lock(p->mx);
}

void mp__pool_unlock(mp_pool *p) { apr_thread_mutex_unlock(p->mx); }

/* A thread-local, not the thread's identity from APR: on Windows
 * apr_os_thread_current duplicates a handle for every thread not made by
 * APR, keeps it for the thread's life and never closes it, so a user thread
 * that waited on a result at the wrong moment held one handle more for
 * ever (the Wine runs' rare "one handle more after the test"). */
static MP__TLS const mp_pool *handler_here;

void mp__pool_handler_here(const mp_pool *p) { handler_here = p; }

bool mp__pool_on_handler(const mp_pool *p) { return handler_here == p; }

int mp__pool_cv_wait(mp_pool *p, mp__deadline d) {
    if (d == MP__DL_FOREVER) {
        apr_thread_cond_wait(p->cv, p->mx);
        return 0;
    }
    uint64_t ns = mp__deadline_left_ns(d);
    if (ns == 0)
        return mp__deadline_err(d);
    apr_thread_cond_timedwait(p->cv, p->mx,
                              (apr_interval_time_t)(ns / 1000 + 1));
    return 0;
}

void mp__pool_unref(mp_pool *p) {
    if (mp__fetch_sub32(&p->refs, 1, MP__ACQ_REL) != 1)
        return;
    if (p->apool) {
        mp__runtime_lock();
        apr_pool_destroy(p->apool);
        mp__runtime_unlock();
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
    v[5] = mp_array_arg(w->pga);
    if (p->initargs.n)
        memcpy(v + MP__POOL_WORKER_FIXED_ARGS, p->initargs.v,
               p->initargs.n * sizeof *v);
    char name[32];
    snprintf(name, sizeof name, "PoolWorker-%d", i + 1);
    mp_process_options po = {name, true, p->method};
    mp_process *proc = NULL;
    rc =
        mp_process_new(&proc, mp__pool_worker_main, mp_args_borrow(v, n), &po);
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

/* Puts c, whose encoded message is msg, into w's queue and records it as
 * w's. Never blocks: a full ring waits for the worker's results, which
 * dispatch again. */
static int give(mp__pool_slot *w, mp__pool_chunk *c, void *msg, size_t len) {
    mp__pool_task_set_seq(msg, w->seq);
    int rc = mp_queue_put(w->tq, msg, len, 0);
    if (rc)
        return rc;
    c->seq = w->seq++;
    c->next = NULL;
    if (w->tail)
        w->tail->next = c;
    else
        w->head = c;
    w->tail = c;
    w->count++;
    return 0;
}

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

static void give_pending(mp_pool *p) {
    while (p->pend_head) {
        mp__pool_slot *w = pick_worker(p);
        mp__pool_chunk *c = p->pend_head, *next = c->next;
        if (!w || give(w, c, c->msg, c->msg_len) != 0)
            return;
        p->pend_head = next;
        if (!next)
            p->pend_tail = NULL;
    }
}

/* A live worker that owes nothing: it waits for a task. */
static mp__pool_slot *idle_worker(mp_pool *p) {
    for (int i = 0; i < p->nworkers; i++)
        if (p->w[i].proc && p->w[i].count == 0)
            return &p->w[i];
    return NULL;
}

/* The worker with the most chunks waiting behind another of its own, and
 * how many wait. One chunk is always left to it: it runs one, or is about
 * to take one, and moving that would gain nothing. */
static mp__pool_slot *busiest(mp_pool *p, size_t *waiting) {
    mp__pool_slot *best = NULL;
    *waiting = 0;
    for (int i = 0; i < p->nworkers; i++) {
        mp__pool_slot *w = &p->w[i];
        if (w->count < 2)
            continue;
        size_t k = mp_queue_qsize(w->tq);
        if (k > w->count - 1)
            k = w->count - 1;
        if (k > *waiting) {
            best = w;
            *waiting = k;
        }
    }
    return best;
}

/* Takes the chunk numbered seq out of w's list. */
static mp__pool_chunk *unlink_seq(mp__pool_slot *w, uint32_t seq) {
    mp__pool_chunk *prev = NULL, *c = w->head;
    while (c->seq != seq) {
        prev = c;
        c = c->next;
    }
    if (prev)
        prev->next = c->next;
    else
        w->head = c->next;
    if (w->tail == c)
        w->tail = prev;
    w->count--;
    c->next = NULL;
    return c;
}

/* Puts c back at the head of the pending list. */
static void unsend(mp_pool *p, mp__pool_chunk *c) {
    c->next = p->pend_head;
    p->pend_head = c;
    if (!p->pend_tail)
        p->pend_tail = c;
}

/* Moves half of the chunks waiting behind the busiest worker's current one
 * (the oldest first, as the queue gives them) to an idle worker, until no
 * worker is idle or nothing waits. The parent takes them out of the queue
 * itself: the queue hands each item to one taker, so a chunk is either
 * taken by its worker (and stays its own) or moved, and the list of every
 * worker keeps the order of its queue, on which the crash accounting
 * rests. */
static void steal(mp_pool *p) {
    mp__pool_slot *w, *v;
    size_t waiting;
    while ((w = idle_worker(p)) != NULL && (v = busiest(p, &waiting))) {
        size_t moved = 0;
        for (size_t k = (waiting + 1) / 2; k; k--) {
            if (mp_queue_get(v->tq, &p->moved, 0) != 0)
                break; /* the worker took the rest meanwhile */
            /* Every item of v's queue is a chunk of v's list. */
            mp__pool_chunk *c =
                unlink_seq(v, mp__pool_task_seq(p->moved.data));
            /* w's ring is empty and as large as v's, so this does not
             * fail; if it did, the chunk would wait as pending. */
            if (give(w, c, c->msg, c->msg_len) != 0) {
                unsend(p, c);
                return;
            }
            moved++;
        }
        if (!moved)
            return;
    }
}

void mp__pool_dispatch(mp_pool *p) {
    if (p->state != MP__POOL_RUN && p->state != MP__POOL_CLOSED)
        return;
    give_pending(p);
    if (!p->pend_head)
        steal(p);
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
