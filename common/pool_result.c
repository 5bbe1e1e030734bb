/* Pool results (Python's AsyncResult / MapResult) and the imap iterators.
 *
 * Entries are written by the handler thread under the pool's lock. A
 * result becomes `complete` when its last entry is set; the handler then
 * runs its callback with the lock released and only afterwards marks it
 * `ready` and wakes waiters, so that a get that returns implies the
 * callback has run (as in Python). Inside the callback the handler thread
 * itself sees the result as ready. Once ready, entries never change again
 * and are read without the lock. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool_result.h"

static bool is_ready(const mp_result *r) {
    return mp__load32(&r->ready, MP__ACQUIRE) != 0;
}

/* Publishes r's entries to the threads that read them without the lock. */
static void set_ready(mp_result *r) { mp__store32(&r->ready, 1, MP__RELEASE); }

int mp__result_new(mp_pool *p, mp__result_kind kind, size_t n,
                   const mp_result_options *opts, mp_result **out) {
    /* One block: the result, then its entries, then the completion order. */
    size_t k = n ? n : 1;
    if (k > (SIZE_MAX - sizeof(mp_result)) /
                (sizeof(mp__pool_entry) + sizeof(size_t)))
        return MP_ENOMEM;
    mp_result *r = mp__pool_alloc(
        &p->alloc, sizeof *r + k * (sizeof(mp__pool_entry) + sizeof(size_t)));
    if (!r)
        return MP_ENOMEM;
    memset(r, 0, sizeof *r);
    r->e = (mp__pool_entry *)(r + 1);
    r->order = (size_t *)(r->e + k);
    for (size_t i = 0; i < n; i++) {
        memset(&r->e[i], 0, sizeof r->e[i]);
        r->e[i].info.status = MP_EAGAIN;
    }
    r->pool = p;
    r->kind = kind;
    r->n = n;
    if (opts)
        r->cb = *opts;
    if (n == 0) { /* nothing to wait for (and no callback, as in Python) */
        r->complete = true;
        mp__store32(&r->ready, 1, MP__RELAXED);
    }
    mp__fetch_add32(&p->refs, 1, MP__RELAXED);
    *out = r;
    return 0;
}

void mp__result_destroy(mp_result *r) {
    mp_pool *p = r->pool;
    for (size_t i = 0; i < r->n; i++)
        if (r->e[i].data.cap) /* cap 0: held in the entry itself */
            free(r->e[i].data.data);
    mp__pool_release(r);
    mp__pool_unref(p);
}

bool mp__result_set(mp_result *r, size_t i, const mp_task_info *info,
                    const void *data, size_t len) {
    mp__pool_entry *e = &r->e[i];
    if (e->info.status != MP_EAGAIN)
        return false;
    e->info = *info;
    if (len <= sizeof e->small) {
        if (len)
            memcpy(e->small, data, len);
        e->data = (mp_buf){e->small, len, 0};
    } else if (mp__buf_reserve(&e->data, len) == 0) {
        memcpy(e->data.data, data, len);
        e->data.len = len;
    } else {
        e->info.status = MP_ENOMEM;
    }
    r->order[r->ndone++] = i;
    if (r->ndone == r->n)
        r->complete = true;
    return r->complete;
}

/* The first failed entry in input order, or NULL. */
static const mp__pool_entry *first_failure(const mp_result *r) {
    for (size_t i = 0; i < r->n; i++)
        if (r->e[i].info.status)
            return &r->e[i];
    return NULL;
}

mp_result *mp__result_settle(mp_result *list, mp_result **drop, bool *wake) {
    mp_result *keep = NULL, **tail = &keep; /* in the order given */
    bool woke = false;
    while (list) {
        mp_result *r = list;
        list = r->next_done;
        if (first_failure(r) ? r->cb.error_callback : r->cb.callback) {
            r->next_done = NULL;
            *tail = r;
            tail = &r->next_done;
            continue;
        }
        woke = true;
        /* Once ready, r may be freed by its owner without the lock: read
         * what we need of it first. */
        if (r->user_freed) {
            r->next_done = *drop;
            *drop = r;
        }
        set_ready(r);
    }
    *wake = woke;
    return keep;
}

void mp__result_finish(mp_pool *p, mp_result *list) {
    while (list) {
        mp_result *r = list;
        list = r->next_done;
        mp_result_callback cb =
            first_failure(r) ? r->cb.error_callback : r->cb.callback;
        if (cb)
            cb(r, r->cb.user);
        mp__pool_lock(p);
        bool drop = r->user_freed;
        set_ready(r);
        apr_thread_mutex_unlock(p->mx);
        /* Woken after the unlock, waiters find the mutex free. */
        apr_thread_cond_broadcast(p->cv);
        if (drop)
            mp__result_destroy(r);
    }
}

/* ---- waiting and reading ---- */

/* Ready for the caller: marked ready, or complete and asked from inside the
 * callback (the handler thread). Lock held. */
static bool ready_for_me(const mp_result *r) {
    return is_ready(r) ||
           (r->complete &&
            apr_os_thread_equal(r->pool->handler_id, apr_os_thread_current()));
}

/* A waiter polls before it sleeps (see MP__POLL_POOL_MAX_NS): a task's round
 * trip is a few microseconds, far less than a sleep and a wake-up cost. It
 * yields between polls: the handler and the worker it waits for need a CPU
 * to finish. The window (base MP__POLL_POOL_WAIT_NS) is the pool's, shared by
 * its waiting threads; learn() sets it from a wait that began at t0 (0: the
 * wait did not poll, and teaches nothing). */
static void learn(mp_pool *p, uint64_t t0) {
    if (!t0)
        return;
    uint32_t w =
        mp__poll_window_next(mp__os_now_ns() - t0, MP__POLL_POOL_WAIT_NS);
    mp__store32(&p->wait_window, w, MP__RELAXED);
}

static int try_ready(void *r) { return is_ready(r) ? 0 : MP_EAGAIN; }

int mp_result_wait(mp_result *r, long timeout_ms) {
    if (!r || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    if (is_ready(r))
        return 0;
    mp_pool *p = r->pool;
    mp__deadline d = mp__deadline_in(timeout_ms); /* 0 reads no clock */
    uint64_t t0 = 0;
    if (d != MP__DL_NOW && p->spin) {
        t0 = mp__os_now_ns();
        uint64_t until = t0 + mp__load32(&p->wait_window, MP__RELAXED);
        if (mp__poll_yield(try_ready, r, mp__deadline_min(until, d)) == 0) {
            learn(p, t0);
            return 0;
        }
    }
    int rc = 0;
    mp__pool_lock(p);
    while (!ready_for_me(r) && !rc)
        rc = mp__pool_cv_wait(p, d);
    apr_thread_mutex_unlock(p->mx);
    if (!rc)
        learn(p, t0);
    return rc;
}

int mp_result_ready(mp_result *r) {
    if (!r)
        return MP_EINVAL;
    return mp_result_wait(r, 0) == 0;
}

int mp_result_successful(mp_result *r) {
    if (!r)
        return MP_EINVAL;
    if (mp_result_wait(r, 0) != 0)
        return MP_ESTATE;
    return first_failure(r) == NULL;
}

int mp_result_get(mp_result *r, long timeout_ms, mp_buf *buf) {
    int rc = mp_result_wait(r, timeout_ms);
    if (rc)
        return rc;
    if (buf)
        buf->len = 0;
    if (r->kind == MP__RESULT_APPLY && r->n == 1) {
        const mp_buf *d = &r->e[0].data;
        if (buf && d->len) {
            if ((rc = mp__buf_reserve(buf, d->len)) != 0)
                return rc;
            memcpy(buf->data, d->data, d->len);
            buf->len = d->len;
        }
        return r->e[0].info.status;
    }
    const mp__pool_entry *f = first_failure(r);
    return f ? f->info.status : 0;
}

/* The first failure of a ready result when it has this status, else NULL
 * (and MP_ESTATE in *rc). */
static const mp__pool_entry *failed_with(mp_result *r, int status, int *rc) {
    const mp__pool_entry *f = NULL;
    if (mp_result_wait(r, 0) == 0)
        f = first_failure(r);
    if (f && f->info.status != status)
        f = NULL;
    *rc = f ? 0 : MP_ESTATE;
    return f;
}

int mp_result_task_code(mp_result *r, int *code) {
    int rc;
    if (!r || !code)
        return MP_EINVAL;
    const mp__pool_entry *f = failed_with(r, MP_ETASK, &rc);
    if (f)
        *code = f->info.task_code;
    return rc;
}

int mp_result_worker(mp_result *r, long *pid, int *exitcode) {
    int rc;
    if (!r)
        return MP_EINVAL;
    const mp__pool_entry *f = failed_with(r, MP_EWORKER, &rc);
    if (!f)
        return rc;
    if (pid)
        *pid = f->info.worker_pid;
    if (exitcode)
        *exitcode = f->info.worker_exit;
    return 0;
}

size_t mp_result_count(const mp_result *r) { return r ? r->n : 0; }

int mp_result_item(mp_result *r, size_t i, const void **ptr, size_t *len,
                   mp_task_info *info) {
    if (!r || i >= r->n)
        return MP_EINVAL;
    mp__pool_lock(r->pool);
    const mp__pool_entry *e = &r->e[i];
    if (ptr)
        *ptr = e->data.data;
    if (len)
        *len = e->data.len;
    if (info)
        *info = e->info;
    int rc = e->info.status;
    apr_thread_mutex_unlock(r->pool->mx);
    return rc;
}

void mp_result_free(mp_result *r) {
    if (!r)
        return;
    if (is_ready(r)) { /* the handler is done with it: no lock needed */
        mp__result_destroy(r);
        return;
    }
    mp__pool_lock(r->pool);
    bool now = is_ready(r);
    if (!now)
        r->user_freed = true;
    apr_thread_mutex_unlock(r->pool->mx);
    if (now)
        mp__result_destroy(r);
}

/* ---- imap ---- */

/* The input index of the iterator's next result if it has one (lock
 * held). */
static bool imap_peek(const mp_imap *it, size_t *idx) {
    const mp_result *r = it->r;
    if (it->unordered) {
        if (it->next >= r->ndone)
            return false;
        *idx = r->order[it->next];
        return true;
    }
    *idx = it->next;
    return r->e[it->next].info.status != MP_EAGAIN;
}

int mp_imap_next(mp_imap *it, long timeout_ms, mp_buf *buf, size_t *index) {
    if (!it || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    mp_result *r = it->r;
    if (it->next >= r->n)
        return MP_ENOENT;
    mp__deadline d = mp__deadline_in(timeout_ms);
    size_t idx = 0;
    int rc = 0;
    mp__pool_lock(r->pool);
    while (!imap_peek(it, &idx) && !rc)
        rc = mp__pool_cv_wait(r->pool, d);
    apr_thread_mutex_unlock(r->pool->mx);
    if (rc)
        return rc;
    /* An entry, once set, never changes: read it unlocked. */
    const mp__pool_entry *e = &r->e[idx];
    if (buf) {
        buf->len = 0;
        if (e->data.len && (rc = mp__buf_reserve(buf, e->data.len)) != 0)
            return rc;
        if (e->data.len)
            memcpy(buf->data, e->data.data, e->data.len);
        buf->len = e->data.len;
    }
    if (index)
        *index = idx;
    it->next++;
    return e->info.status;
}

void mp_imap_free(mp_imap *it) {
    if (!it)
        return;
    mp_result_free(it->r);
    free(it);
}
