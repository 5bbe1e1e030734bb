/* The pool's wire format and transport, shared by the parent side
 * (pool_sched.c, pool_submit.c, pool_handler.c) and the worker
 * (pool_worker.c), which include nothing else of each other.
 *
 * Each worker has its own task queue (a crash-safe shared-memory ring,
 * common/queue.c) and all workers share one result queue, read by the
 * parent's handler thread. A task item is a chunk of calls of one function:
 * an mp__pool_task_hdr, the encoded function location, then per call a u32
 * length and the encoded arguments. A result item is an mp__pool_res_hdr,
 * then (MP__POOL_MSG_RESULT) per call an mp__pool_res_call and its bytes.
 * Both sides are this library's own code, but the handler still checks
 * every count and length against what the worker owes. The rings are
 * shared memory another process can write: a ring that a get refuses
 * (MP_EPROTO) is never read again, and the pool breaks (pool_handler.c)
 * rather than retry it or replace the worker that reads it. */
#ifndef MP_COMMON_POOL_WIRE_H
#define MP_COMMON_POOL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "base/atomics.h"
#include "base/codec.h"

#include "mproc/core.h"
#include "mproc/pool.h"
#include "mproc/queue.h"

#define MP__POOL_TASK_RING ((size_t)1 << 20)
#define MP__POOL_RESULT_RING ((size_t)4 << 20)
/* Room in a ring sized from mp_pool_options.max_task_bytes /
 * max_result_bytes for the headers around that payload (a chunk's header
 * and function location, the argument list's encoding; a result's headers
 * and message). */
#define MP__POOL_RING_SLACK ((size_t)64 << 10)
/* A worker posts a chunk's results when this many bytes are buffered (and
 * at the chunk's end). */
#define MP__POOL_FLUSH_BYTES ((size_t)64 << 10)
#define MP__POOL_MAGIC 0x6c6f6f50u /* "Pool" */

typedef enum mp__pool_msg {
    MP__POOL_MSG_RESULT = 1,      /* a worker's results */
    MP__POOL_MSG_DIED = 2,        /* the monitor saw a worker end */
    MP__POOL_MSG_INIT_FAILED = 3, /* a worker's initializer failed */
    MP__POOL_MSG_KICK = 4,        /* look at the pool's state again */
    MP__POOL_MSG_BROKEN = 5       /* a worker's task queue is corrupted (code:
                                     the error): replacing it would not help */
} mp__pool_msg;

typedef struct mp__pool_task_hdr {
    uint32_t magic;
    uint32_t seq;    /* per worker slot, echoed in the results */
    uint32_t count;  /* calls in the chunk */
    uint32_t fn_len; /* bytes of the encoded function location */
} mp__pool_task_hdr;

typedef struct mp__pool_res_hdr {
    uint32_t magic;
    uint32_t kind;   /* mp__pool_msg */
    uint32_t worker; /* slot index */
    uint32_t seq;    /* RESULT: the chunk; DIED: the generation */
    uint32_t first;  /* RESULT: index of the first call in the chunk */
    uint32_t count;  /* RESULT: calls that follow */
    int32_t code;    /* INIT_FAILED: the initializer's return */
    uint32_t pad;
} mp__pool_res_hdr;

/* One call's outcome; its len bytes of result, then msg_len bytes of the
 * task's message (mp_call_fail), follow it. */
typedef struct mp__pool_res_call {
    int32_t status;
    int32_t code;
    uint32_t len;
    uint32_t msg_len;
} mp__pool_res_call;

/* The bytes that follow a call's record. */
static inline size_t mp__pool_call_body(const mp__pool_res_call *c) {
    return (size_t)c->len + c->msg_len;
}

/* What a worker has done of its current chunk, in memory it shares with
 * the parent (one per worker slot, handed to the worker as an mp_array).
 * The worker keeps the results it has not posted yet here, not in its own
 * memory, so that when it dies the parent still has them: the parent then
 * fails only the call that was running and gives the calls after it to
 * another worker, whatever the chunk size. The parent reads it only once
 * the worker has ended. Each word is stored whole, and a record is written
 * before the word that counts it, so a worker killed anywhere leaves a
 * consistent view: old or new. */
typedef struct mp__pool_progress {
    MP__ATOMIC(uint32_t) seq;     /* the chunk these words describe */
    MP__ATOMIC(uint32_t) running; /* 1 + the call running, or 0 */
    /* first << 32 | count: data holds the results of calls [first,
     * first + count). */
    MP__ATOMIC(uint64_t) done;
    /* Per call: an mp__pool_res_call, then its bytes and message. A result
     * too large for the rest is posted at once on its own. */
    uint8_t data[MP__POOL_FLUSH_BYTES];
} mp__pool_progress;

/* The seq of an encoded task item (msg holds at least the header), and
 * setting it: the parent numbers a chunk when it gives it to a worker. */
uint32_t mp__pool_task_seq(const void *msg);
void mp__pool_task_set_seq(void *msg, uint32_t seq);

/* The header of a result message: calls [first, first + count) of the
 * worker slot's chunk seq. */
static inline mp__pool_res_hdr mp__pool_result_hdr(uint32_t worker,
                                                   uint32_t seq,
                                                   uint32_t first,
                                                   uint32_t count) {
    mp__pool_res_hdr h = {
        MP__POOL_MAGIC, MP__POOL_MSG_RESULT, 0, 0, 0, 0, 0, 0};
    h.worker = worker;
    h.seq = seq;
    h.first = first;
    h.count = count;
    return h;
}

/* Puts h, then len bytes of body, into the result queue as one item,
 * blocking while it is full. 0 or mp_queue_put's errors. */
int mp__pool_post(mp_queue *rq, const mp__pool_res_hdr *h, const void *body,
                  size_t len);
/* Posts the result of one call (first in h) with its bytes and message. */
int mp__pool_post_call(mp_queue *rq, const mp__pool_res_hdr *h,
                       const mp__pool_res_call *call, const void *data,
                       const void *msg);
/* Posts a message without body: kind, worker slot, seq and code. */
int mp__pool_post_ctl(mp_queue *rq, mp__pool_msg kind, uint32_t worker,
                      uint32_t seq, int32_t code);

/* Opens a task item of len bytes: its header into *h, the encoded function
 * location into *fn, the calls that follow into *calls (each a u32 length
 * and that many bytes of arguments, read with mp__r_blob). MP_EPROTO when
 * msg is not a task item. */
int mp__pool_task_open(const void *msg, size_t len, mp__pool_task_hdr *h,
                       mp__rbuf *fn, mp__rbuf *calls);

/* Reads the next call's record of a result (a result message's body, or a
 * worker's progress block) into *rc, with r->p left at its bytes, which
 * are all there: MP_EPROTO otherwise. */
int mp__pool_res_next(mp__rbuf *r, mp__pool_res_call *rc);

/* The task item for the calls of msg (len bytes) after the first skip:
 * same function, the remaining calls (malloc'd into *out). MP_EPROTO if
 * msg is not a task item with more than skip calls, MP_ENOMEM. */
int mp__pool_task_rest(const void *msg, size_t len, uint32_t skip,
                       uint8_t **out, size_t *out_len);

/* mp_queue_get(q, b, MP_INFINITE), polling first for *window ns (base
 * MP__POLL_POOL_GET_NS); *window is the caller's own and adapts
 * (mp__poll_window_next, wait_policy.h). */
int mp__pool_get(mp_queue *q, mp_buf *b, uint32_t *window);

/* The pool's result queue (slot -1) or the task queue of worker slot
 * `slot`; NULL when there is none. Only for the tests, which corrupt a
 * ring as a foreign writer would (pool.c). */
mp_queue *mp__pool_queue(mp_pool *p, int slot);

#endif
