/* The pool's messages over its shared-memory queues (see pool_wire.h). */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/codec.h"
#include "pool/pool_wire.h"
#include "obj/queue_internal.h"
#include "util/wait_policy.h"

uint32_t mp__pool_task_seq(const void *msg) {
    uint32_t seq;
    memcpy(&seq, (const char *)msg + offsetof(mp__pool_task_hdr, seq),
           sizeof seq);
    return seq;
}

void mp__pool_task_set_seq(void *msg, uint32_t seq) {
    memcpy((char *)msg + offsetof(mp__pool_task_hdr, seq), &seq, sizeof seq);
}

int mp__pool_post(mp_queue *rq, const mp__pool_res_hdr *h, const void *body,
                  size_t len) {
    mp__qvec v[2] = {{h, sizeof *h}, {body, len}};
    return mp__queue_putv(rq, v, 2, MP__DL_FOREVER);
}

int mp__pool_post_call(mp_queue *rq, const mp__pool_res_hdr *h,
                       const mp__pool_res_call *call, const void *data,
                       const void *msg) {
    mp__qvec v[4] = {{h, sizeof *h},
                     {call, sizeof *call},
                     {data, call->len},
                     {msg, call->msg_len}};
    return mp__queue_putv(rq, v, 4, MP__DL_FOREVER);
}

int mp__pool_post_ctl(mp_queue *rq, mp__pool_msg kind, uint32_t worker,
                      uint32_t seq, int32_t code) {
    mp__pool_res_hdr h = {MP__POOL_MAGIC, kind, worker, seq, 0, 0, code, 0};
    return mp__pool_post(rq, &h, NULL, 0);
}

int mp__pool_task_open(const void *msg, size_t len, mp__pool_task_hdr *h,
                       mp__rbuf *fn, mp__rbuf *calls) {
    if (len < sizeof *h)
        return MP_EPROTO;
    memcpy(h, msg, sizeof *h);
    mp__rbuf r = {(const uint8_t *)msg + sizeof *h, len - sizeof *h};
    if (h->magic != MP__POOL_MAGIC || h->fn_len > r.left)
        return MP_EPROTO;
    *fn = (mp__rbuf){r.p, h->fn_len};
    *calls = (mp__rbuf){r.p + h->fn_len, r.left - h->fn_len};
    return 0;
}

int mp__pool_res_next(mp__rbuf *r, mp__pool_res_call *rc) {
    if (mp__r_bytes(r, rc, sizeof *rc) || mp__pool_call_body(rc) > r->left)
        return MP_EPROTO;
    return 0;
}

int mp__pool_task_rest(const void *msg, size_t len, uint32_t skip,
                       uint8_t **out, size_t *out_len) {
    mp__pool_task_hdr h;
    mp__rbuf fn, r;
    if (mp__pool_task_open(msg, len, &h, &fn, &r) || skip >= h.count)
        return MP_EPROTO;
    size_t head = sizeof h + h.fn_len;
    for (uint32_t i = 0; i < skip; i++) {
        const void *blob;
        size_t blen;
        if (mp__r_blob(&r, &blob, &blen, r.left))
            return MP_EPROTO;
    }
    uint8_t *m = malloc(head + r.left);
    if (!m)
        return MP_ENOMEM;
    h.count -= skip;
    memcpy(m, &h, sizeof h);
    memcpy(m + sizeof h, (const uint8_t *)msg + sizeof h, h.fn_len);
    memcpy(m + head, r.p, r.left);
    *out = m;
    *out_len = head + r.left;
    return 0;
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
    *window = mp__poll_window_next(mp__os_now_ns() - t0, MP__POLL_POOL_GET_NS);
    return rc;
}
