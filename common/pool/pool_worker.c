/* The loop a pool worker runs (in the child), and the form in which a task's
 * function travels to it: module + offset + module identity, resolved in
 * the worker and cached, so a static function works with every start method
 * and a binary replaced on disk gives MP_ETARGET, not a jump into garbage. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc/args_internal.h"
#include "proc/fnloc.h"
#include "mproc/pool.h"
#include "mproc/shared.h"
#include "pool/pool_wire.h"
#include "pool/pool_worker.h"
#include "util/wait_policy.h"

int mp__pool_fn_encode(mp_target fn, uint8_t **out, size_t *len) {
    mp__wbuf w = {0};
    int rc = mp__fnloc_write(&w, fn);
    if (!rc)
        rc = w.err;
    if (rc) {
        mp__w_free(&w);
        return rc;
    }
    *out = w.data;
    *len = w.len;
    return 0;
}

static int fn_decode(const uint8_t *p, size_t n, mp_target *fn) {
    mp__rbuf r = {p, n};
    return mp__fnloc_read(&r, fn);
}

/* ---- the worker ---- */

#define FN_CACHE 8

typedef struct worker {
    mp_queue *tq, *rq;
    uint32_t slot;
    size_t max_item;               /* of a result record's payload */
    mp__pool_progress *pg;         /* shared with the parent (pool_wire.h) */
    size_t out_len;                /* bytes of pg->data in use */
    uint32_t out_first, out_count; /* the calls whose results are there */
    mp_call call;
    char msg[MP_TASK_MESSAGE_MAX]; /* the running call's mp_call_fail text */
    uint32_t msg_len;
    struct {
        uint8_t *loc;
        size_t len;
        mp_target fn;
        int rc;
    } fns[FN_CACHE];
    unsigned fn_next;
} worker;

/* The function for an encoded location: from the cache, else resolved
 * (failures are cached too: a location that did not resolve never will). */
static int resolve(worker *x, const uint8_t *loc, size_t len, mp_target *fn) {
    for (int i = 0; i < FN_CACHE; i++) {
        if (x->fns[i].loc && x->fns[i].len == len &&
            memcmp(x->fns[i].loc, loc, len) == 0) {
            *fn = x->fns[i].fn;
            return x->fns[i].rc;
        }
    }
    int rc = fn_decode(loc, len, fn);
    uint8_t *copy = malloc(len ? len : 1);
    if (copy) {
        unsigned k = x->fn_next++ % FN_CACHE;
        free(x->fns[k].loc);
        memcpy(copy, loc, len);
        x->fns[k].loc = copy;
        x->fns[k].len = len;
        x->fns[k].fn = rc ? NULL : *fn;
        x->fns[k].rc = rc;
    }
    return rc;
}

/* The worker this process runs, for mp_call_fail (a worker runs one call at
 * a time, in its main thread). */
static worker *current;

int mp_call_fail(mp_call *call, int code, const char *fmt, ...) {
    worker *x = current;
    if (!call || !fmt || !x || call != &x->call)
        return code; /* not a pool task: the message has no reader */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(x->msg, sizeof x->msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    x->msg_len =
        (uint32_t)((size_t)n < sizeof x->msg ? (size_t)n : sizeof x->msg - 1);
    return code;
}

int mp_call_return_str(mp_call *call, const char *s) {
    return mp_call_return(call, s ? s : "", s ? strlen(s) : 0);
}

/* Tells the parent (through pg) which calls of the chunk have their
 * results in pg->data. */
static void publish(worker *x) {
    mp__store64(&x->pg->done, (uint64_t)x->out_first << 32 | x->out_count,
                MP__RELEASE);
}

/* Posts the kept results of calls [out_first, out_first + out_count). */
static int flush(worker *x, uint32_t seq) {
    if (!x->out_count)
        return 0;
    mp__pool_res_hdr h =
        mp__pool_result_hdr(x->slot, seq, x->out_first, x->out_count);
    int rc = mp__pool_post(x->rq, &h, x->pg->data, x->out_len);
    x->out_len = 0;
    x->out_first += x->out_count;
    x->out_count = 0;
    publish(x);
    return rc;
}

/* Keeps the outcome of the call that just ran (the next of the chunk) in
 * pg, or posts it at once when it does not fit there. */
static int keep(worker *x, uint32_t seq, const mp__pool_res_call *rc,
                const void *data) {
    size_t need = sizeof *rc + mp__pool_call_body(rc);
    if (x->out_len + need > sizeof x->pg->data && flush(x, seq))
        return MP_ECLOSED;
    if (need > sizeof x->pg->data) {
        mp__pool_res_hdr h =
            mp__pool_result_hdr(x->slot, seq, x->out_first, 1);
        int err = mp__pool_post_call(x->rq, &h, rc, data, x->msg);
        x->out_first++;
        publish(x);
        return err ? MP_ECLOSED : 0;
    }
    uint8_t *at = x->pg->data + x->out_len;
    memcpy(at, rc, sizeof *rc);
    if (rc->len)
        memcpy(at + sizeof *rc, data, rc->len);
    if (rc->msg_len)
        memcpy(at + sizeof *rc + rc->len, x->msg, rc->msg_len);
    x->out_len += need;
    x->out_count++;
    publish(x);
    return 0;
}

/* Runs one call of a chunk and keeps its outcome. */
static int run_call(worker *x, mp_target fn, int fn_rc, mp__rbuf *r,
                    uint32_t seq) {
    const void *blob;
    size_t blen;
    mp__pool_res_call rc = {0, 0, 0, 0};
    mp__argv a = {0};
    mp_arg store[8];
    x->call.ret.len = 0;
    x->call.has_ret = false;
    x->msg_len = 0;
    if (mp__r_blob(r, &blob, &blen, r->left))
        rc.status = MP_EPROTO;
    else if (fn_rc)
        rc.status = fn_rc;
    else {
        mp__rbuf ar = {blob, blen};
        rc.status = mp__argv_decode_in(&ar, store, 8, &a);
    }
    if (!rc.status) {
        x->call.v = a.v;
        x->call.n = a.n;
        mp__store32(&x->pg->running, x->out_first + x->out_count + 1,
                    MP__RELEASE);
        rc.code = fn(&x->call);
        rc.status = rc.code ? MP_ETASK : 0;
        mp__argv_free(&a);
    }
    size_t len = x->call.has_ret ? x->call.ret.len : 0;
    if (sizeof rc + len + x->msg_len > x->max_item) {
        rc.status = MP_EMSGSIZE;
        len = 0;
        x->msg_len = 0;
    }
    rc.len = (uint32_t)len;
    rc.msg_len = x->msg_len;
    int err = keep(x, seq, &rc, x->call.ret.data);
    /* After keep: a worker killed in between is seen as having finished
     * the call (its result is kept) rather than running it. */
    mp__store32(&x->pg->running, 0, MP__RELEASE);
    return err;
}

/* The parent's view of a chunk that has just been taken: nothing done. The
 * seq goes last, so a worker killed before it is seen as not having
 * started the chunk. */
static void begin_chunk(worker *x, uint32_t seq) {
    x->out_len = 0;
    x->out_first = x->out_count = 0;
    mp__store32(&x->pg->running, 0, MP__RELAXED);
    publish(x);
    mp__store32(&x->pg->seq, seq, MP__RELEASE);
}

static int run_chunk(worker *x, const mp_buf *msg) {
    mp__pool_task_hdr h;
    mp__rbuf loc, r;
    if (mp__pool_task_open(msg->data, msg->len, &h, &loc, &r))
        return MP_EPROTO;
    mp_target fn = NULL;
    int fn_rc = resolve(x, loc.p, loc.left, &fn);
    begin_chunk(x, h.seq);
    for (uint32_t i = 0; i < h.count; i++) {
        int rc = run_call(x, fn, fn_rc, &r, h.seq);
        if (rc)
            return rc;
    }
    return flush(x, h.seq);
}

/* Runs the initializer with the arguments that follow the fixed ones. */
static int run_initializer(worker *x, mp_call *call) {
    size_t len;
    const void *loc = mp_arg_bytes(mp_call_arg(call, 4), &len);
    if (!loc || len == 0)
        return 0;
    mp_target init = NULL;
    int rc = resolve(x, loc, len, &init);
    if (!rc) {
        mp_call ic = {call->v + MP__POOL_WORKER_FIXED_ARGS,
                      call->n - MP__POOL_WORKER_FIXED_ARGS,
                      {0},
                      false};
        rc = init(&ic);
        mp_buf_free(&ic.ret);
    }
    if (rc) {
        mp__pool_post_ctl(x->rq, MP__POOL_MSG_INIT_FAILED, x->slot, 0, rc);
    }
    return rc;
}

static void worker_free(worker *x) {
    mp_buf_free(&x->call.ret);
    for (int i = 0; i < FN_CACHE; i++)
        free(x->fns[i].loc);
}

int mp__pool_worker_main(mp_call *call) {
    worker x;
    memset(&x, 0, sizeof x);
    x.tq = mp_arg_obj(mp_call_arg(call, 0), MP_OBJ_QUEUE);
    x.rq = mp_arg_obj(mp_call_arg(call, 1), MP_OBJ_QUEUE);
    x.slot = (uint32_t)mp_arg_int(mp_call_arg(call, 2));
    uint64_t maxtasks = (uint64_t)mp_arg_int(mp_call_arg(call, 3));
    mp_array *pg = mp_arg_array(mp_call_arg(call, 5));
    if (!x.tq || !x.rq || !pg || call->n < MP__POOL_WORKER_FIXED_ARGS ||
        mp_array_len(pg) * sizeof(uint64_t) < sizeof *x.pg)
        return 70;
    x.pg = mp_array_data(pg);
    x.max_item = mp_queue_max_item(x.rq) - sizeof(mp__pool_res_hdr);
    current = &x;
    int rc = run_initializer(&x, call);
    if (rc) {
        current = NULL;
        worker_free(&x);
        return rc;
    }
    mp_buf msg = {0};
    uint32_t window = MP__POLL_POOL_GET_NS;
    for (uint64_t done = 0; !maxtasks || done < maxtasks; done++) {
        rc = mp__pool_get(x.tq, &msg, &window);
        if (!rc)
            rc = run_chunk(&x, &msg);
        if (rc)
            break;
    }
    mp_buf_free(&msg);
    /* A task queue that makes no sense (a foreign writer corrupted its ring
     * or an item) would fail the replacement as it failed this worker:
     * the parent breaks the pool instead of starting one. */
    if (rc == MP_EPROTO)
        mp__pool_post_ctl(x.rq, MP__POOL_MSG_BROKEN, x.slot, 0, rc);
    current = NULL;
    worker_free(&x);
    /* MP_ECLOSED is the pool's way of saying "no more tasks". */
    return rc == 0 || rc == MP_ECLOSED ? 0 : 71;
}
