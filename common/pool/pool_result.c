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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool_result.h"
#include "util/wait_policy.h"

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
        r->e[i].status = MP_EAGAIN;
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

bool mp__result_set(mp_result *r, size_t i, const mp__task_out *info,
                    const void *data, size_t len) {
    mp__pool_entry *e = &r->e[i];
    if (e->status != MP_EAGAIN)
        return false;
    e->status = info->status;
    e->code = info->code;
    e->worker_pid = info->worker_pid;
    e->worker_exit = info->worker_exit;
    e->msg_len = info->msg ? info->msg_len : 0;
    if (e->msg_len >= MP_TASK_MESSAGE_MAX) /* the worker's bound */
        e->msg_len = MP_TASK_MESSAGE_MAX - 1;
    /* The bytes, a NUL, then the message and its NUL. */
    size_t total = len + 1 + (e->msg_len ? e->msg_len + 1 : 0);
    uint8_t *at = e->small;
    if (total <= sizeof e->small)
        e->data = (mp_buf){e->small, len, 0};
    else if (mp__buf_reserve(&e->data, total) == 0)
        at = e->data.data;
    else {
        e->status = MP_ENOMEM;
        e->msg_len = 0;
        len = 0;
        e->data = (mp_buf){e->small, 0, 0};
    }
    if (len)
        memcpy(at, data, len);
    at[len] = 0;
    if (e->msg_len) {
        memcpy(at + len + 1, info->msg, e->msg_len);
        at[len + 1 + e->msg_len] = 0;
    }
    e->data.len = len;
    r->order[r->ndone++] = i;
    if (r->ndone == r->n)
        r->complete = true;
    return r->complete;
}

/* The first failed entry in input order, or NULL. */
static const mp__pool_entry *first_failure(const mp_result *r) {
    for (size_t i = 0; i < r->n; i++)
        if (r->e[i].status)
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
        mp__pool_unlock(p);
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
    return is_ready(r) || (r->complete && mp__pool_on_handler(r->pool));
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
    mp__pool_unlock(p);
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
    if (r->kind == MP__RESULT_APPLY && r->n == 1) {
        const mp_buf *d = &r->e[0].data;
        if (buf) {
            if ((rc = mp__buf_reserve(buf, d->len)) != 0)
                return rc;
            if (d->len)
                memcpy(buf->data, d->data, d->len);
            mp__buf_set_len(buf, d->len);
        }
        return r->e[0].status;
    }
    if (buf) { /* a map's bytes are read per item */
        if ((rc = mp__buf_reserve(buf, 0)) != 0)
            return rc;
        mp__buf_set_len(buf, 0);
    }
    const mp__pool_entry *f = first_failure(r);
    return f ? f->status : 0;
}

/* The first failure of a ready result when it has this status, else NULL
 * (and MP_ESTATE in *rc). */
static const mp__pool_entry *failed_with(mp_result *r, int status, int *rc) {
    const mp__pool_entry *f = NULL;
    if (mp_result_wait(r, 0) == 0)
        f = first_failure(r);
    if (f && f->status != status)
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
        *code = f->code;
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
        *pid = f->worker_pid;
    if (exitcode)
        *exitcode = f->worker_exit;
    return 0;
}

size_t mp_result_count(const mp_result *r) { return r ? r->n : 0; }

/* The public view of entry e, with its message (or, for a worker that
 * died, how it ended). */
static void fill_info(const mp__pool_entry *e, mp_task_info *info) {
    info->status = e->status;
    info->task_code = e->code;
    info->worker_pid = e->worker_pid;
    info->worker_exit = e->worker_exit;
    info->message[0] = '\0';
    if (e->msg_len)
        memcpy(info->message, (const char *)e->data.data + e->data.len + 1,
               (size_t)e->msg_len + 1);
    else if (e->status == MP_EWORKER && e->worker_exit < 0)
        snprintf(info->message, sizeof info->message,
                 "worker %ld was killed by signal %d", e->worker_pid,
                 -e->worker_exit);
    else if (e->status == MP_EWORKER)
        snprintf(info->message, sizeof info->message,
                 "worker %ld exited with code %d", e->worker_pid,
                 e->worker_exit);
}

int mp_result_info(mp_result *r, mp_task_info *info) {
    if (!r || !info)
        return MP_EINVAL;
    if (mp_result_wait(r, 0) != 0)
        return MP_ESTATE;
    const mp__pool_entry *f =
        r->kind == MP__RESULT_APPLY && r->n == 1 ? &r->e[0] : first_failure(r);
    if (f) {
        fill_info(f, info);
    } else {
        memset(info, 0, offsetof(mp_task_info, message));
        info->message[0] = '\0';
    }
    return 0;
}

/* ---- typed readers ---- */

/* The n-byte value a buffer holds, into v. */
static int buf_read(const mp_buf *b, void *v, size_t n) {
    if (!b || !v || (b->len && !b->data))
        return MP_EINVAL;
    if (b->len != n)
        return MP_EPROTO;
    memcpy(v, b->data, n);
    return 0;
}

/* Entry e's status and, when it is 0, its value into out: n bytes, or for
 * n == 0 its bytes as a C string (a const char *). MP_EPROTO when the
 * result has another size. */
static int entry_read(const mp__pool_entry *e, void *out, size_t n) {
    if (e->status)
        return e->status;
    if (n)
        return buf_read(&e->data, out, n);
    *(const char **)out = e->data.data;
    return 0;
}

/* An apply result's value, once ready, as entry_read reads it. */
static int apply_read(mp_result *r, long timeout_ms, void *out, size_t n) {
    if (!r || !out || r->kind != MP__RESULT_APPLY)
        return MP_EINVAL;
    int rc = mp_result_wait(r, timeout_ms);
    return rc ? rc : entry_read(&r->e[0], out, n);
}

int mp_result_get_int(mp_result *r, long timeout_ms, int64_t *v) {
    return apply_read(r, timeout_ms, v, sizeof *v);
}

int mp_result_get_float(mp_result *r, long timeout_ms, double *v) {
    return apply_read(r, timeout_ms, v, sizeof *v);
}

int mp_result_get_str(mp_result *r, long timeout_ms, const char **s) {
    return apply_read(r, timeout_ms, (void *)s, 0);
}

/* Task i of r, read under the pool's lock as entry_read reads it. */
static int item_read(mp_result *r, size_t i, void *out, size_t n) {
    if (!r || i >= r->n || !out)
        return MP_EINVAL;
    mp__pool_lock(r->pool);
    int rc = entry_read(&r->e[i], out, n);
    mp__pool_unlock(r->pool);
    return rc;
}

int mp_result_item_int(mp_result *r, size_t i, int64_t *v) {
    return item_read(r, i, v, sizeof *v);
}

int mp_result_item_float(mp_result *r, size_t i, double *v) {
    return item_read(r, i, v, sizeof *v);
}

int mp_result_item_str(mp_result *r, size_t i, const char **s) {
    return item_read(r, i, (void *)s, 0);
}

int mp_buf_int(const mp_buf *b, int64_t *v) {
    return buf_read(b, v, sizeof *v);
}

int mp_buf_float(const mp_buf *b, double *v) {
    return buf_read(b, v, sizeof *v);
}

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
        fill_info(e, info);
    int rc = e->status;
    mp__pool_unlock(r->pool);
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
    mp__pool_unlock(r->pool);
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
    return r->e[it->next].status != MP_EAGAIN;
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
    mp__pool_unlock(r->pool);
    if (rc)
        return rc;
    /* An entry, once set, never changes: read it unlocked. */
    const mp__pool_entry *e = &r->e[idx];
    if (buf) {
        buf->len = 0;
        if ((rc = mp__buf_reserve(buf, e->data.len)) != 0)
            return rc;
        if (e->data.len)
            memcpy(buf->data, e->data.data, e->data.len);
        mp__buf_set_len(buf, e->data.len);
    }
    if (index)
        *index = idx;
    it->next++;
    it->last = idx + 1;
    return e->status;
}

int mp_imap_info(mp_imap *it, mp_task_info *info) {
    if (!it || !info)
        return MP_EINVAL;
    if (!it->last)
        return MP_ESTATE;
    fill_info(&it->r->e[it->last - 1], info);
    return 0;
}

void mp_imap_free(mp_imap *it) {
    if (!it)
        return;
    mp_result_free(it->r);
    free(it);
}
