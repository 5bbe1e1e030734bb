/* Pool internals shared by pool.c (lifecycle, submission, dispatch),
 * pool_handler.c (the parent's result handler and worker monitor),
 * pool_worker.c (the loop a worker runs) and pool_result.c (results, imap).
 *
 * Transport: each worker has its own task queue (a crash-safe shared-memory
 * ring, common/queue.c) and all workers share one result queue read by the
 * handler thread. Each task queue item is a chunk of calls of one function;
 * the parent keeps, per worker, the FIFO of chunks it put into that queue
 * and not yet completed. Because a worker runs its chunks in queue order and
 * posts results in that order, and because the monitor posts a worker's
 * death into the same result queue only after the worker has ended, when the
 * handler meets a death every result the worker published is already
 * processed, and exactly (chunks in the FIFO) - (items still in the queue)
 * chunks were taken by the dead worker without being finished: their
 * unfinished calls fail with MP_EWORKER. The items still queued go to the
 * replacement, which takes over the same queue. Nothing here depends on the
 * dead worker having released anything: the queue's locks are robust and
 * its state words are published atomically.
 *
 * A worker is given at most POOL_WINDOW chunks at a time (the rest wait in
 * the parent's pending list), so a long task delays only a few others. */
#ifndef MP_COMMON_POOL_INTERNAL_H
#define MP_COMMON_POOL_INTERNAL_H

#include <stdatomic.h>

#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_portable.h>
#include <apr_thread_proc.h>

#include "internal.h"
#include "mproc/connection.h"
#include "mproc/pool.h"
#include "mproc/queue.h"

#define POOL_MAX_WORKERS 1024
#define POOL_WINDOW 32u
#define POOL_TASK_RING ((size_t)1 << 20)
#define POOL_RESULT_RING ((size_t)4 << 20)
/* A worker flushes a chunk's results when this many bytes are buffered. */
#define POOL_FLUSH_BYTES ((size_t)64 << 10)
/* Encoded chunks up to this size are built on the stack and kept in the
 * chunk's own allocation. */
#define POOL_INLINE_MSG 256u

/* Messages. Task item: task_hdr, fn location, then per call u32 len + args.
 * Result item: res_hdr, then per call res_call + bytes. */
#define POOL_MAGIC 0x6c6f6f50u /* "Pool" */
enum pool_msg { MSG_RESULT = 1, MSG_DIED = 2, MSG_INIT_FAILED = 3, MSG_KICK = 4 };

typedef struct task_hdr {
    uint32_t magic;
    uint32_t seq;    /* per worker slot, echoed in the results */
    uint32_t count;  /* calls in the chunk */
    uint32_t fn_len; /* bytes of the encoded function location */
} task_hdr;

typedef struct res_hdr {
    uint32_t magic;
    uint32_t kind;   /* enum pool_msg */
    uint32_t worker; /* slot index */
    uint32_t seq;    /* MSG_RESULT: the chunk; MSG_DIED: the generation */
    uint32_t first;  /* MSG_RESULT: index of the first call in the chunk */
    uint32_t count;  /* MSG_RESULT: calls that follow */
    int32_t code;    /* MSG_INIT_FAILED: the initializer's return */
    uint32_t pad;
} res_hdr;

typedef struct res_call {
    int32_t status;
    int32_t code;
    uint32_t len;
    uint32_t pad;
} res_call;

/* One task's outcome inside a result. */
typedef struct pool_entry {
    mp_task_info info;
    mp_buf data; /* cap 0: data points at `small` (or len is 0) */
    uint8_t small[16];
} pool_entry;

typedef enum result_kind { R_APPLY, R_MAP } result_kind;

struct mp_result {
    mp_pool *pool;
    result_kind kind;
    size_t n, ndone;
    pool_entry *e;
    size_t *order;      /* completion order (imap_unordered) */
    mp_result_options cb;
    bool complete;      /* every entry final (callbacks may still run) */
    _Atomic int ready;  /* complete and callbacks done */
    bool user_freed;    /* the caller let go; free on completion */
    struct mp_result *next_done; /* handler's list of completions */
};

struct mp_imap {
    mp_result *r;
    bool unordered;
    size_t next;
};

/* A chunk of calls [first, first + count) of one result. */
typedef struct pool_chunk {
    mp_result *r;
    uint32_t first, count, done;
    uint32_t seq;
    uint8_t *msg; /* encoded task item (task_hdr first) while not yet put */
    size_t msg_len;
    struct pool_chunk *next;
    uint8_t inl[]; /* msg, when it is at most POOL_INLINE_MSG bytes */
} pool_chunk;

/* Frees c's message (once put, or when c fails unsent). */
void mp__pool_chunk_drop_msg(pool_chunk *c);

typedef struct pool_worker {
    mp_process *proc; /* NULL when gone */
    uint32_t gen;     /* bumped at each replacement */
    bool reported;    /* the monitor posted its death */
    mp_queue *tq;
    pool_chunk *head, *tail; /* chunks in tq or running, in order */
    uint32_t count;
    uint32_t seq; /* next chunk's seq */
} pool_worker;

typedef enum pool_state {
    S_RUN,       /* accepting tasks */
    S_CLOSED,    /* no new tasks; the submitted ones run */
    S_DRAINING,  /* all done: task queues closed, workers exiting */
    S_TERMINATE, /* workers killed; waiting for their deaths */
    S_DONE       /* every worker gone, every result complete */
} pool_state;

/* pool_slab.c: the small blocks of results and chunks. */
typedef struct pool_slab pool_slab;
typedef struct pool_alloc {
    _Atomic bool busy; /* a thread is carving */
    pool_slab *cur;    /* being carved */
    size_t used;       /* bytes of cur handed out */
    _Atomic(pool_slab *) spare;
} pool_alloc;
/* A block of size bytes (malloc'd when large or when another thread is
 * carving). Released with mp__pool_release, by any thread, before the
 * pool's memory goes (mp__pool_alloc_fini). */
void *mp__pool_alloc(pool_alloc *a, size_t size);
void mp__pool_release(void *p);
void mp__pool_alloc_fini(pool_alloc *a);

typedef struct fn_cache_entry {
    mp_target fn;
    uint8_t *loc;
    size_t len;
    struct fn_cache_entry *next;
} fn_cache_entry;

struct mp_pool {
    apr_pool_t *apool;
    apr_thread_mutex_t *mx;
    apr_thread_cond_t *cv; /* broadcast on every completion and state change */
    apr_thread_t *handler, *monitor;
    apr_os_thread_t handler_id;
    bool threads_joined;
    _Atomic unsigned refs; /* the pool handle + every live result */

    int nworkers;
    bool spin; /* waiters may spin: more than one CPU */
    pool_worker *w;
    mp_queue *rq;
    mp_conn *wake_rd, *wake_wr; /* tells the monitor the set changed */
    pool_state state;
    int fail_status; /* what terminate fails tasks with */
    int fail_code;
    pool_chunk *pend_head, *pend_tail; /* not yet given to a worker */

    mp_target init_fn;
    mp__argv initargs;
    unsigned maxtasks;
    mp_start_method method;

    _Atomic(fn_cache_entry *) fns; /* pushed under mx, read without it */
    pool_alloc alloc; /* results and chunks; outlives every result */
    _Atomic uint32_t wait_window; /* mp_result_wait's poll, adapting */
};

/* pool.c */
void mp__pool_unref(mp_pool *p);
/* Takes p->mx, polling it a little first when there are CPUs to spare. */
#define POOL_LOCK_POLLS 1000
void mp__pool_lock(mp_pool *p);
int mp__pool_start_worker(mp_pool *p, int i);
/* Puts pending chunks into workers with room (lock held). */
void mp__pool_dispatch(mp_pool *p);
/* Moves to S_DRAINING when closed and idle (lock held). */
void mp__pool_maybe_drain(mp_pool *p);
void mp__pool_wake_monitor(mp_pool *p);
int mp__pool_post(mp_pool *p, uint32_t kind, uint32_t worker, uint32_t seq,
                  int32_t code);
int mp__pool_submit(mp_pool *p, mp_target fn, const mp_args *items, size_t n,
                    size_t chunksize, result_kind kind,
                    const mp_result_options *opts, mp_result **out);

/* Polling before sleeping, with a window that adapts. Each of the pool's
 * waits (a worker for its next task, the handler for the next result, a
 * caller for its result) first polls, giving the CPU away between polls:
 * on a machine with few CPUs a busy spin would take the core that the
 * thread we wait for (worker, handler or caller) needs to produce what we
 * wait for. Polling is what keeps a round trip at a few µs, because a
 * sleeping thread takes tens to hundreds of µs to wake (its CPU may have
 * halted). A fixed window was not enough: once one wake-up was slow, the
 * other two threads' windows ran out too, each round trip paid three
 * wake-ups, and the pool stayed there (round trips of 15–300 µs instead of
 * 5). So the window follows the waits: twice the last one, at least the
 * base and at most POOL_POLL_MAX_NS, and back to the base after a wait of
 * POOL_POLL_MAX_NS or more, which is idleness rather than a hand-over. */
#define POOL_POLL_MAX_NS 500000u
/* The window after a wait of waited_ns, for a wait whose base is base. */
static inline uint32_t mp__pool_poll_next(uint64_t waited_ns, uint32_t base) {
    if (waited_ns >= POOL_POLL_MAX_NS || 2 * waited_ns <= base)
        return base;
    return 2 * waited_ns < POOL_POLL_MAX_NS ? (uint32_t)(2 * waited_ns)
                                            : POOL_POLL_MAX_NS;
}

/* mp_queue_get(q, b, MP_INFINITE), polling first for *window ns (base
 * POOL_YIELD_NS); *window is the caller's own and adapts as above. */
#define POOL_YIELD_NS 50000u
/* The base of mp_result_wait's window. */
#define POOL_WAIT_NS 20000u
int mp__pool_get(mp_queue *q, mp_buf *b, uint32_t *window);

/* pool_handler.c */
void *APR_THREAD_FUNC mp__pool_handler_main(apr_thread_t *t, void *arg);
void *APR_THREAD_FUNC mp__pool_monitor_main(apr_thread_t *t, void *arg);

/* pool_worker.c: the target every worker process runs. Its arguments:
 * task queue, result queue, slot index, maxtasks, initializer location
 * (bytes, empty for none), then the initargs. */
int mp__pool_worker_main(mp_call *call);
#define POOL_WORKER_FIXED_ARGS 5
/* Encodes fn's location for a worker (malloc'd into *out). */
int mp__pool_fn_encode(mp_target fn, uint8_t **out, size_t *len);

/* pool_result.c */
int mp__result_new(mp_pool *p, result_kind kind, size_t n,
                   const mp_result_options *opts, mp_result **out);
/* Records call i's outcome (lock held); true when r became complete. */
bool mp__result_set(mp_result *r, size_t i, const mp_task_info *info,
                    const void *data, size_t len);
/* Marks ready, under the lock the handler already holds, the completed
 * results that have no callback to run; *wake tells the caller to wake the
 * waiters (once for all, after unlocking, so that they find the lock
 * free). Returns the others (for mp__result_finish). The user-freed ones
 * among those marked go to *drop, to be destroyed after unlocking. */
mp_result *mp__result_settle(mp_result *list, mp_result **drop, bool *wake);
/* Runs callbacks and wakes waiters for completed results (lock not held). */
void mp__result_finish(mp_pool *p, mp_result *list);
void mp__result_destroy(mp_result *r);

#endif
