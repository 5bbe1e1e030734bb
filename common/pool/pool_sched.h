/* The pool's parent side: the pool object, its worker slots and the chunks
 * they owe, and the scheduler that gives chunks to workers (pool_sched.c).
 * Layers, each calling only those below it:
 *
 *   pool.c          lifecycle: new, close, terminate, join, free
 *   pool_submit.c   apply / map / imap: encodes calls into chunks
 *   pool_handler.c  the handler and monitor threads
 *   pool_result.c   result objects: completion, waiting, reading
 *   pool_sched.c    worker slots, dispatch, the pool's lock and lifetime
 *   pool_worker.c   the worker (only its entry point and fn codec are used)
 *   pool_wire.c     messages over the shared-memory queues (both sides)
 *   pool_slab.c     the small-block allocator
 *
 * Crash accounting: the parent keeps, per worker, the FIFO of chunks it
 * put into that worker's task queue and not yet completed. A worker runs
 * its chunks in queue order and posts their results in that order, and the
 * monitor posts a worker's death into the same result queue only after the
 * worker has ended; so when the handler meets a death every result the
 * worker published is already processed, and exactly (chunks in the FIFO)
 * - (items still in the queue) chunks were taken by the dead worker without
 * being finished (one at most: a worker posts a chunk's last results
 * before it takes the next). Of that chunk, the results the worker kept in
 * its progress block (pool_wire.h) are recorded, the call it was running
 * fails with MP_EWORKER, and the calls after it go back to the pending
 * list. The items still queued go to the replacement, which takes over the
 * same queue.
 * Nothing here depends on the dead worker having released anything: the
 * queue's locks are robust and its state words are published atomically.
 *
 * Dispatch: a worker is given at most MP__POOL_WINDOW chunks at a time (the
 * rest wait in the parent's pending list), enough that it never waits for
 * the parent between chunks. Chunks queued behind a worker's running one
 * would wait for it even while another worker has nothing to do, so an
 * idle worker takes over half of them (see steal() in pool_sched.c): no
 * task waits for a busy worker while another is idle. */
#ifndef MP_COMMON_POOL_SCHED_H
#define MP_COMMON_POOL_SCHED_H

#include <apr_portable.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include "proc/args_internal.h"
#include "base/atomics.h"
#include "base/clock.h"
#include "mproc/connection.h"
#include "mproc/pool.h"
#include "mproc/queue.h"
#include "mproc/shared.h"
#include "pool/pool_slab.h"
#include "pool/pool_wire.h"

#define MP__POOL_MAX_WORKERS 1024
#define MP__POOL_WINDOW 32u
/* Encoded chunks up to this size are built on the stack and kept in the
 * chunk's own allocation. */
#define MP__POOL_INLINE_MSG 256u

/* A chunk of calls [first, first + count) of one result. */
typedef struct mp__pool_chunk {
    mp_result *r;
    uint32_t first, count, done;
    uint32_t seq;
    uint8_t *msg; /* encoded task item, kept until the chunk is done: the
                     calls after a dead worker's are sent again */
    size_t msg_len;
    struct mp__pool_chunk *next;
    uint8_t inl[]; /* msg, when it is at most MP__POOL_INLINE_MSG bytes */
} mp__pool_chunk;

/* One worker slot; a replacement takes over the slot and its queue. */
typedef struct mp__pool_slot {
    mp_process *proc; /* NULL when gone */
    uint32_t gen;     /* bumped at each replacement */
    bool reported;    /* the monitor posted its death */
    mp_queue *tq;
    mp_array *pga;               /* holds pg, shared with the worker */
    mp__pool_progress *pg;       /* its current chunk (pool_wire.h) */
    mp__pool_chunk *head, *tail; /* chunks in tq or running, in order */
    uint32_t count;
    uint32_t seq; /* next chunk's seq */
} mp__pool_slot;

typedef enum mp__pool_state {
    MP__POOL_RUN,       /* accepting tasks */
    MP__POOL_CLOSED,    /* no new tasks; the submitted ones run */
    MP__POOL_DRAINING,  /* all done: task queues closed, workers exiting */
    MP__POOL_TERMINATE, /* workers killed; waiting for their deaths */
    MP__POOL_DONE       /* every worker gone, every result complete */
} mp__pool_state;

/* The encoded locations of the functions submitted so far. */
typedef struct mp__pool_fn {
    mp_target fn;
    uint8_t *loc;
    size_t len;
    struct mp__pool_fn *next;
} mp__pool_fn;

struct mp_pool {
    apr_pool_t *apool;
    apr_thread_mutex_t *mx;
    apr_thread_cond_t *cv; /* broadcast on every completion and state change */
    apr_thread_t *handler, *monitor;
    bool threads_joined;
    MP__ATOMIC(uint32_t) refs; /* the pool handle + every live result */

    int nworkers;
    bool spin; /* waiters may poll: mp__spin_ok() */
    mp__pool_slot *w;
    mp_queue *rq;
    bool rq_broken; /* rq failed: closed, never read again (the handler
                       learns of deaths from the slots' `reported`) */
    mp_conn *wake_rd, *wake_wr; /* tells the monitor the set changed */
    mp__pool_state state;
    int fail_status; /* what terminate fails tasks with (MP_EPROTO: its
                        shared memory was corrupted) */
    int fail_code;
    mp__pool_chunk *pend_head, *pend_tail; /* not yet given to a worker */
    mp_buf moved; /* a chunk moving from a busy worker to an idle one */

    mp_target init_fn;
    mp__argv initargs;
    unsigned maxtasks;
    mp_start_method method;

    mp__atomic_ptr fns;   /* mp__pool_fn list: pushed under mx, read without */
    mp__pool_arena alloc; /* results and chunks; outlives every result */
    MP__ATOMIC(uint32_t) wait_window; /* mp_result_wait's poll, adapting */
};

/* Takes p->mx, polling it a little first when there are CPUs to spare
 * (MP__SPIN_POOL_LOCK). */
void mp__pool_lock(mp_pool *p);
/* Releases p->mx, which mp__pool_lock took. */
void mp__pool_unlock(mp_pool *p);
/* Marks the calling thread as p's handler (NULL: as no pool's), and asks
 * whether it is: how a result's reader knows it runs in a callback. */
void mp__pool_handler_here(const mp_pool *p);
bool mp__pool_on_handler(const mp_pool *p);
/* Sleeps on p->cv (p->mx held) until a broadcast or the deadline: 0, or
 * mp__deadline_err(d) once d has passed (without sleeping). Callers loop
 * on their condition. */
int mp__pool_cv_wait(mp_pool *p, mp__deadline d);
/* Drops a reference to p; the last frees its memory. */
void mp__pool_unref(mp_pool *p);

/* Starts the worker of slot i (lock held, or before the threads run). */
int mp__pool_start_worker(mp_pool *p, int i);
/* Tells the monitor that the set of workers changed. */
void mp__pool_wake_monitor(mp_pool *p);
/* Gives pending chunks to workers with room, then chunks queued behind a
 * busy worker to idle ones (lock held). */
void mp__pool_dispatch(mp_pool *p);
/* Moves to MP__POOL_DRAINING when closed and idle (lock held). */
void mp__pool_maybe_drain(mp_pool *p);

/* Frees c's message (when c is done or failed). */
void mp__pool_chunk_drop_msg(mp__pool_chunk *c);
/* Frees a list of chunks and their messages. */
void mp__pool_chunks_free(mp__pool_chunk *c);

#endif
