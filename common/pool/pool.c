/* Pool: lifecycle (new, close, terminate, join, free) and queries. The
 * layers of the pool are listed in pool_sched.h. */
#include <stdlib.h>
#include <string.h>

#include "pool/pool_handler.h"
#include "pool/pool_worker.h"
#include "proc/runtime.h"
#include "util/wait_policy.h"

/* ---- creation ---- */

static int check_options(const mp_pool_options *o, mp_start_method *method) {
    if (o->processes < 0 || o->processes > MP__POOL_MAX_WORKERS ||
        o->max_task_bytes > MP_POOL_ITEM_MAX ||
        o->max_result_bytes > MP_POOL_ITEM_MAX)
        return MP_EINVAL;
    if (!mp__args_items(&o->initargs))
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
    /* APR's failure is the OS's code (errno, or the CRT's _doserrno on
     * Windows): kept for mp_os_error. */
    apr_status_t ts = apr_thread_create(&p->handler, attr,
                                        mp__pool_handler_main, p, p->apool);
    if (ts != APR_SUCCESS) {
        mp__note_os_error((long)APR_TO_OS_ERROR(ts));
        return MP_ESYS;
    }
    ts = apr_thread_create(&p->monitor, attr, mp__pool_monitor_main, p,
                           p->apool);
    if (ts == APR_SUCCESS)
        return 0;
    mp__note_os_error((long)APR_TO_OS_ERROR(ts));
    /* The handler is running: stop it the ordinary way. */
    mp__pool_lock(p);
    p->state = MP__POOL_TERMINATE;
    mp__pool_unlock(p);
    mp__pool_post_ctl(p->rq, MP__POOL_MSG_KICK, 0, 0, 0);
    apr_status_t st;
    apr_thread_join(&st, p->handler);
    p->handler = NULL;
    return MP_ESYS;
}

static int make_sync(mp_pool *p) {
    mp__runtime_lock();
    apr_status_t st = apr_pool_create(&p->apool, mp__g.pool);
    mp__runtime_unlock();
    if (st != APR_SUCCESS)
        return MP_ENOMEM;
    if (apr_thread_mutex_create(&p->mx, APR_THREAD_MUTEX_DEFAULT, p->apool) ||
        apr_thread_cond_create(&p->cv, p->apool))
        return MP_ENOMEM;
    return 0;
}

/* A ring that holds one item of `max` payload bytes (0: the default ring)
 * with its headers: the task's chunk header and function location, or the
 * result's message headers. */
static size_t ring_for(size_t max, size_t dflt) {
    return max ? (max + MP__POOL_RING_SLACK > dflt ? max + MP__POOL_RING_SLACK
                                                   : dflt)
               : dflt;
}

static int make_queues(mp_pool *p, const mp_pool_options *o) {
    mp_queue_options qo = {ring_for(o->max_result_bytes, MP__POOL_RESULT_RING),
                           NULL};
    int rc = mp_queue_new(&p->rq, 0, &qo);
    if (!rc)
        rc = mp_pipe(&p->wake_rd, &p->wake_wr, false);
    qo.capacity_bytes = ring_for(o->max_task_bytes, MP__POOL_TASK_RING);
    mp_shared_options so = {.raw = true};
    size_t words = (sizeof(mp__pool_progress) + 7) / 8;
    for (int i = 0; i < p->nworkers && !rc; i++) {
        mp__pool_slot *w = &p->w[i];
        rc = mp_queue_new(&w->tq, 0, &qo);
        if (!rc)
            rc = mp_array_new(&w->pga, MP_TYPE_ULONGLONG, words, NULL, &so);
        if (!rc)
            w->pg = mp_array_data(w->pga);
    }
    return rc;
}

/* Frees what mp_pool_new made, once no thread of the pool runs. */
static void destroy(mp_pool *p) {
    for (int i = 0; i < p->nworkers; i++) {
        mp__pool_slot *w = &p->w[i];
        if (w->proc) {
            mp_process_kill(w->proc);
            mp_process_join(w->proc, MP_INFINITE);
            mp_process_free(w->proc);
        }
        mp__pool_chunks_free(w->head);
        mp_queue_free(w->tq);
        mp_array_free(w->pga);
    }
    mp__pool_chunks_free(p->pend_head);
    mp_buf_free(&p->moved);
    free(p->w);
    mp_queue_free(p->rq);
    mp_conn_free(p->wake_rd);
    mp_conn_free(p->wake_wr);
    mp__argv_free(&p->initargs);
    for (mp__pool_fn *e = mp__loadp(&p->fns, MP__SEQ_CST), *next; e;
         e = next) {
        next = e->next;
        free(e->loc);
        free(e);
    }
    mp__storep(&p->fns, NULL, MP__SEQ_CST);
    p->w = NULL;
    p->nworkers = 0;
    p->rq = NULL;
    p->wake_rd = p->wake_wr = NULL;
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
    if ((rc = make_sync(p)) || (rc = make_queues(p, o)))
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
    p->state = MP__POOL_RUN;
    p->spin = mp__spin_ok();
    mp__store32(&p->wait_window, MP__POLL_POOL_WAIT_NS, MP__RELAXED);
    if ((rc = pool_init(p, opts)) != 0) {
        /* Stopping the workers already started makes OS calls of its own:
         * mp_os_error keeps the code of the failure. */
        long os = mp__os_error_save();
        destroy(p);
        mp__pool_unref(p);
        mp__os_error_restore(os);
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
    mp__pool_unlock(p);
    return k;
}

mp_queue *mp__pool_queue(mp_pool *p, int slot) {
    if (!p || slot < -1 || slot >= p->nworkers)
        return NULL;
    return slot < 0 ? p->rq : p->w[slot].tq;
}

/* ---- close, terminate, join, free ---- */

int mp_pool_close(mp_pool *p) {
    if (!p)
        return MP_EINVAL;
    mp__pool_lock(p);
    if (p->state == MP__POOL_RUN) {
        p->state = MP__POOL_CLOSED;
        mp__pool_maybe_drain(p);
    }
    mp__pool_unlock(p);
    return 0;
}

/* Waits for MP__POOL_DONE (lock held). */
static int wait_done(mp_pool *p, long timeout_ms) {
    mp__deadline d = mp__deadline_in(timeout_ms);
    int rc = 0;
    while (p->state != MP__POOL_DONE && !rc)
        rc = mp__pool_cv_wait(p, d);
    return rc;
}

int mp_pool_terminate(mp_pool *p) {
    if (!p)
        return MP_EINVAL;
    mp__pool_lock(p);
    bool kick = p->state < MP__POOL_TERMINATE;
    if (kick) {
        p->state = MP__POOL_TERMINATE;
        p->fail_status = MP_ECLOSED;
        for (int i = 0; i < p->nworkers; i++)
            if (p->w[i].proc)
                mp_process_kill(p->w[i].proc);
    }
    mp__pool_unlock(p);
    /* The handler fails what is left, and sees the deaths, in its thread. */
    if (kick)
        mp__pool_post_ctl(p->rq, MP__POOL_MSG_KICK, 0, 0, 0);
    mp__pool_lock(p);
    wait_done(p, MP_INFINITE);
    mp__pool_unlock(p);
    return 0;
}

int mp_pool_join(mp_pool *p, long timeout_ms) {
    if (!p || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    mp__pool_lock(p);
    if (p->state == MP__POOL_RUN) {
        mp__pool_unlock(p);
        return MP_ESTATE;
    }
    int rc = wait_done(p, timeout_ms);
    bool join = !rc && !p->threads_joined;
    if (join)
        p->threads_joined = true;
    mp__pool_unlock(p);
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
