/* The pool's two threads in the parent.
 *
 * The monitor waits on the workers' sentinels (and on a wake-up pipe that
 * tells it the set changed). When a worker ends, it posts
 * MP__POOL_MSG_DIED into the result queue, behind every result the worker
 * managed to publish, so the handler needs no other synchronisation to know
 * what the dead worker had finished. Detection does not depend on the queue:
 * the sentinel is the kernel's, whatever the worker held when it died.
 *
 * The handler is the only consumer of the result queue. It completes result
 * objects, tops up workers with pending chunks, accounts for dead workers
 * (see pool_sched.h), starts their replacements, and runs callbacks with
 * the pool's lock released.
 *
 * A result queue that fails (a foreign writer corrupted its ring, and the
 * get refuses it with MP_EPROTO, which it would do again at every try)
 * breaks the pool with that error: the workers are killed, every
 * unfinished task fails, and the queue is closed and never read again.
 * The deaths the monitor reports can then no longer come through it: the
 * handler reads them from the slots the monitor marks (rq_broken). */
#include <stdlib.h>
#include <string.h>

#include "pool/pool_handler.h"
#include "pool/pool_result.h"
#include "util/wait_policy.h"

/* Messages the handler takes per round of the pool's lock. */
#define HANDLER_BATCH 64

/* Results completed in this round, in completion order (callbacks run in
 * that order). */
typedef struct done_list {
    mp_result *head, *tail;
    bool progress; /* an imap's result got an entry: wake its reader */
} done_list;

static void set_one(done_list *d, mp_result *r, size_t i,
                    const mp__task_out *info, const void *data, size_t len) {
    if (r->kind == MP__RESULT_IMAP)
        d->progress = true;
    if (mp__result_set(r, i, info, data, len)) {
        r->next_done = NULL;
        if (d->tail)
            d->tail->next_done = r;
        else
            d->head = r;
        d->tail = r;
    }
}

/* Fails the calls of c that have no outcome yet, and frees c. */
static void fail_chunk(done_list *d, mp__pool_chunk *c,
                       const mp__task_out *info) {
    for (uint32_t k = c->done; k < c->count; k++)
        set_one(d, c->r, c->first + k, info, NULL, 0);
    mp__pool_chunk_drop_msg(c);
    mp__pool_release(c);
}

static mp__pool_chunk *pop_head(mp__pool_slot *w) {
    mp__pool_chunk *c = w->head;
    w->head = c->next;
    if (!w->head)
        w->tail = NULL;
    w->count--;
    return c;
}

/* The message of a call whose record rc was just read from r (its result
 * bytes come first). */
static const char *msg_of(const mp__rbuf *r, const mp__pool_res_call *rc) {
    return rc->msg_len ? (const char *)r->p + rc->len : NULL;
}

static void fail_pending(mp_pool *p, done_list *d) {
    mp__task_out info = {p->fail_status, 0, 0, p->fail_code, NULL, 0};
    while (p->pend_head) {
        mp__pool_chunk *c = p->pend_head;
        p->pend_head = c->next;
        fail_chunk(d, c, &info);
    }
    p->pend_tail = NULL;
}

static void on_result(mp_pool *p, const mp__pool_res_hdr *h, mp__rbuf *r,
                      done_list *d) {
    if (h->worker >= (uint32_t)p->nworkers)
        return;
    mp__pool_slot *w = &p->w[h->worker];
    mp__pool_chunk *c = w->head;
    if (!c || c->seq != h->seq || h->first != c->done ||
        h->count > c->count - c->done)
        return; /* not what this worker owes: ignore it */
    for (uint32_t k = 0; k < h->count; k++) {
        mp__pool_res_call rc;
        if (mp__pool_res_next(r, &rc))
            return;
        mp__task_out info = {rc.status, rc.code,        0,
                             0,         msg_of(r, &rc), rc.msg_len};
        set_one(d, c->r, c->first + c->done, &info, r->p, rc.len);
        r->p += mp__pool_call_body(&rc);
        r->left -= mp__pool_call_body(&rc);
        c->done++;
    }
    if (c->done == c->count)
        fail_chunk(d, pop_head(w), NULL); /* nothing left to fail: frees */
    /* The freed room is refilled once per batch, by the handler's loop. */
}

/* The pool can no longer run tasks: fail everything with status. */
static void break_pool(mp_pool *p, int status, int code) {
    if (p->state >= MP__POOL_TERMINATE)
        return;
    p->state = MP__POOL_TERMINATE;
    p->fail_status = status;
    p->fail_code = code;
    for (int i = 0; i < p->nworkers; i++)
        if (p->w[i].proc)
            mp_process_kill(p->w[i].proc);
}

/* Records what the dead worker of w kept of chunk c in its progress block:
 * the results of calls it finished but had not posted. True when it died
 * running the next call (c->done). */
static bool take_kept(mp__pool_slot *w, mp__pool_chunk *c, done_list *d) {
    const mp__pool_progress *pg = w->pg;
    if (mp__load32(&pg->seq, MP__ACQUIRE) != c->seq)
        return false; /* it died before starting c */
    uint64_t done = mp__load64(&pg->done, MP__ACQUIRE);
    uint32_t first = (uint32_t)(done >> 32), count = (uint32_t)done;
    mp__rbuf r = {pg->data, sizeof pg->data};
    for (uint32_t k = 0; k < count && first + k < c->count; k++) {
        mp__pool_res_call rc;
        if (mp__pool_res_next(&r, &rc))
            break;
        if (first + k >= c->done) { /* not posted (or not yet processed) */
            mp__task_out info = {rc.status, rc.code,         0,
                                 0,         msg_of(&r, &rc), rc.msg_len};
            set_one(d, c->r, c->first + first + k, &info, r.p, rc.len);
            c->done = first + k + 1;
        }
        r.p += mp__pool_call_body(&rc);
        r.left -= mp__pool_call_body(&rc);
    }
    uint32_t running = mp__load32(&pg->running, MP__ACQUIRE);
    return running && running - 1 == c->done && c->done < c->count;
}

/* The chunk c taken by a worker that died: what it finished is recorded,
 * the call it died in fails with info, and the calls after it go back to
 * the head of the pending list, for another worker. */
static void salvage(mp_pool *p, mp__pool_slot *w, mp__pool_chunk *c,
                    done_list *d, const mp__task_out *info) {
    if (take_kept(w, c, d))
        set_one(d, c->r, c->first + c->done++, info, NULL, 0);
    uint8_t *rest = NULL;
    size_t len = 0;
    if (c->done == c->count ||
        mp__pool_task_rest(c->msg, c->msg_len, c->done, &rest, &len) != 0) {
        fail_chunk(d, c, info); /* done, or the rest cannot be sent */
        return;
    }
    mp__pool_chunk_drop_msg(c);
    c->msg = rest;
    c->msg_len = len;
    c->first += c->done;
    c->count -= c->done;
    c->done = 0;
    c->next = p->pend_head;
    p->pend_head = c;
    if (!p->pend_tail)
        p->pend_tail = c;
}

/* A worker ended: fail what it took, hand the rest to a replacement. */
static void on_died(mp_pool *p, uint32_t wi, uint32_t gen, done_list *d) {
    if (wi >= (uint32_t)p->nworkers)
        return;
    mp__pool_slot *w = &p->w[wi];
    if (!w->proc || w->gen != gen)
        return;
    size_t queued = mp_queue_qsize(w->tq);
    uint32_t taken = w->count > queued ? w->count - (uint32_t)queued : 0;
    int code = 0;
    mp_process_join(w->proc, MP_INFINITE); /* it has ended: no wait */
    mp_process_exitcode(w->proc, &code);
    mp__task_out info = {MP_EWORKER, 0,    mp_process_pid(w->proc),
                         code,       NULL, 0};
    mp_process_free(w->proc);
    w->proc = NULL;
    if (p->state == MP__POOL_TERMINATE) {
        info.status = p->fail_status;
        if (p->fail_status != MP_EWORKER)
            info.worker_pid = info.worker_exit = 0;
        taken = w->count;
    }
    while (taken--) {
        if (p->state == MP__POOL_TERMINATE)
            fail_chunk(d, pop_head(w), &info);
        else
            salvage(p, w, pop_head(w), d, &info);
    }
    if (p->state == MP__POOL_RUN || p->state == MP__POOL_CLOSED) {
        /* A worker that cannot be replaced leaves its queue unserved: the
         * pool cannot keep its promises any more. */
        if (mp__pool_start_worker(p, (int)wi) != 0)
            break_pool(p, MP_EWORKER, code);
        else
            mp__pool_wake_monitor(p);
    }
    if (!w->proc)
        while (w->head)
            fail_chunk(d, pop_head(w), &info);
    mp__pool_dispatch(p);
    mp__pool_maybe_drain(p);
}

static void on_message(mp_pool *p, const mp_buf *b, done_list *d) {
    mp__pool_res_hdr h;
    if (b->len < sizeof h)
        return;
    memcpy(&h, b->data, sizeof h);
    mp__rbuf r = {(const uint8_t *)b->data + sizeof h, b->len - sizeof h};
    if (h.magic != MP__POOL_MAGIC)
        return;
    switch (h.kind) {
    case MP__POOL_MSG_RESULT: on_result(p, &h, &r, d); break;
    case MP__POOL_MSG_DIED: on_died(p, h.worker, h.seq, d); break;
    case MP__POOL_MSG_INIT_FAILED: break_pool(p, MP_EWORKER, h.code); break;
    case MP__POOL_MSG_BROKEN: break_pool(p, MP_EPROTO, 0); break;
    default: /* MP__POOL_MSG_KICK: just look at the state again */ break;
    }
}

/* Whether the pool has wound down (lock held). */
static bool all_gone(mp_pool *p) {
    if (p->state != MP__POOL_DRAINING && p->state != MP__POOL_TERMINATE)
        return false;
    for (int i = 0; i < p->nworkers; i++)
        if (p->w[i].proc)
            return false;
    return true;
}

/* Marks ready the results completed in d, then (the lock released, as it
 * returns) wakes their waiters, drops the ones their owner let go and runs
 * the callbacks. */
static void settle(mp_pool *p, done_list *d) {
    mp_result *drop = NULL;
    bool wake;
    mp_result *cbs = mp__result_settle(d->head, &drop, &wake);
    mp__pool_unlock(p);
    if (wake || d->progress)
        apr_thread_cond_broadcast(p->cv);
    while (drop) {
        mp_result *r = drop;
        drop = r->next_done;
        mp__result_destroy(r);
    }
    mp__result_finish(p, cbs);
}

/* The result queue failed with rc (lock held): the pool breaks with it. A
 * queue that cannot give memory for an item (MP_ENOMEM) may later: that
 * one waits and is tried again. False when the queue stays in use. */
static bool queue_failed(mp_pool *p, int rc, mp__backoff *nomem) {
    if (rc == 0 || rc == MP_EAGAIN)
        return false;
    if (rc == MP_ENOMEM) {
        mp__pool_unlock(p);
        mp__backoff_wait(nomem, MP__DL_FOREVER);
        mp__pool_lock(p);
        return false;
    }
    /* Nothing in this library closes the result queue while it is read:
     * MP_ECLOSED means a foreign writer set its flag. */
    break_pool(p, rc == MP_ECLOSED ? MP_EPROTO : rc, 0);
    p->rq_broken = true;
    return true;
}

/* After the result queue failed: waits for the deaths of the (killed)
 * workers as the monitor marks them, and fails what they held. */
static void reap_without_queue(mp_pool *p) {
    mp__pool_lock(p);
    while (!all_gone(p)) {
        done_list d = {NULL, NULL, false};
        bool any = false;
        for (int i = 0; i < p->nworkers; i++) {
            mp__pool_slot *w = &p->w[i];
            if (w->proc && w->reported) {
                on_died(p, (uint32_t)i, w->gen, &d);
                any = true;
            }
        }
        fail_pending(p, &d);
        if (!any && !d.head) {
            mp__pool_cv_wait(p, MP__DL_FOREVER);
            continue;
        }
        settle(p, &d);
        mp__pool_lock(p);
    }
    mp__pool_unlock(p);
}

void *APR_THREAD_FUNC mp__pool_handler_main(apr_thread_t *t, void *arg) {
    mp_pool *p = arg;
    mp_buf b = {0};
    uint32_t window = MP__POLL_POOL_GET_NS;
    mp__backoff nomem = MP__BACKOFF_FAULT;
    bool broken = false;
    mp__pool_handler_here(p);
    for (bool finished = false; !finished && !broken;) {
        int rc = mp__pool_get(p->rq, &b, &window);
        done_list d = {NULL, NULL, false};
        mp__pool_lock(p);
        /* Take what else is already there in the same lock round: one
         * wake-up of the waiters for the lot. */
        for (int k = 0; !rc; k++) {
            on_message(p, &b, &d);
            if (k + 1 == HANDLER_BATCH || p->state == MP__POOL_TERMINATE)
                break;
            rc = mp_queue_get(p->rq, &b, 0);
        }
        broken = queue_failed(p, rc, &nomem);
        mp__pool_dispatch(p);
        mp__pool_maybe_drain(p);
        if (p->state == MP__POOL_TERMINATE)
            fail_pending(p, &d);
        finished = all_gone(p);
        settle(p, &d);
    }
    mp_buf_free(&b);
    if (broken) {
        /* Wakes every process blocked putting into it (the monitor, a
         * worker, mp_pool_terminate's kick): they get MP_ECLOSED. */
        mp_queue_close(p->rq);
        reap_without_queue(p);
    }
    mp__pool_lock(p);
    p->state = MP__POOL_DONE;
    mp__pool_wake_monitor(p);
    apr_thread_cond_broadcast(p->cv);
    mp__pool_unlock(p);
    mp__pool_handler_here(NULL);
    /* Returning (not apr_thread_exit) ends the thread; its memory goes
     * with the pool's APR pool. */
    (void)t;
    return NULL;
}

/* ---- monitor ---- */

typedef struct watch {
    mp_wait_item *items;
    uint32_t *slot, *gen;
    size_t n;
} watch;

/* The wake-up pipe and every worker whose end is not yet reported; false
 * when the pool is done. */
static bool snapshot(mp_pool *p, watch *s) {
    mp__pool_lock(p);
    bool live = p->state != MP__POOL_DONE;
    s->n = 0;
    s->items[s->n++] = mp_wait_conn(p->wake_rd);
    for (int i = 0; i < p->nworkers && live; i++) {
        mp__pool_slot *w = &p->w[i];
        if (!w->proc || w->reported)
            continue;
        s->items[s->n] = mp_wait_process(w->proc);
        s->slot[s->n] = (uint32_t)i;
        s->gen[s->n++] = w->gen;
    }
    mp__pool_unlock(p);
    return live;
}

/* Marks the death of the worker of item k and tells the handler: through
 * the result queue, behind the worker's results, or (the queue failed)
 * through the pool's condition variable. */
static void report(mp_pool *p, watch *s, size_t k) {
    mp__pool_lock(p);
    mp__pool_slot *w = &p->w[s->slot[k]];
    bool post =
        w->proc == s->items[k].obj && w->gen == s->gen[k] && !w->reported;
    if (post)
        w->reported = true;
    bool broken = p->rq_broken;
    mp__pool_unlock(p);
    if (post && !broken)
        mp__pool_post_ctl(p->rq, MP__POOL_MSG_DIED, s->slot[k], s->gen[k], 0);
    else if (post)
        apr_thread_cond_broadcast(p->cv);
}

void *APR_THREAD_FUNC mp__pool_monitor_main(apr_thread_t *t, void *arg) {
    mp_pool *p = arg;
    size_t cap = (size_t)p->nworkers + 1;
    watch s = {calloc(cap, sizeof *s.items), calloc(cap, sizeof *s.slot),
               calloc(cap, sizeof *s.gen), 0};
    mp_buf b = {0};
    mp__backoff fault = MP__BACKOFF_FAULT;
    while (s.items && s.slot && s.gen && snapshot(p, &s)) {
        if (mp_wait(s.items, s.n, MP_INFINITE) != 0) {
            /* Cannot happen; never spin. */
            mp__backoff_wait(&fault, MP__DL_FOREVER);
            continue;
        }
        if (s.items[0].ready)
            while (mp_conn_recv(p->wake_rd, &b, 0) == 0)
                ;
        for (size_t k = 1; k < s.n; k++)
            if (s.items[k].ready)
                report(p, &s, k);
    }
    mp_buf_free(&b);
    free(s.items);
    free(s.slot);
    free(s.gen);
    (void)t;
    return NULL;
}
