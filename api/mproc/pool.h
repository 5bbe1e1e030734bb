/** @file
 * mproc: Pool, a fixed number of worker processes running many short tasks
 * (Python's multiprocessing.Pool).
 *
 * A task is a function of type mp_target (the same as a process target) and
 * its arguments. It runs in one of the pool's workers; its `int` return is
 * its status (0 = success, anything else is reported as MP_ETASK with the
 * value available through mp_result_task_code), and the bytes it passes to
 * mp_call_return (or mp_call_return_int / _float / _str) are its result,
 * read back with the typed readers (mp_result_get_int, mp_result_item_int,
 * mp_buf_int and friends). A failing task can say why with mp_call_fail
 * (Python re-raises the worker's exception; here the parent reads the code
 * and the message from mp_task_info).
 *
 * The items of a map come from an array of argument lists, or without one
 * from an array of integers, doubles or strings, a range, or a callback
 * (mp_items, mp_pool_map_items), as Python's `pool.map(f, range(10))`.
 *
 * The difference from Python: a worker that dies while running a task (it
 * calls exit, aborts, segfaults, or is killed from outside) fails exactly
 * that task with MP_EWORKER (mp_result_worker tells which worker and how it
 * ended), is replaced by a fresh worker, and every other task still runs.
 * No wait in this API (get, wait, join, terminate) can hang because a worker
 * died.
 *
 * The pool's queues are shared memory that any process of the user can
 * write. When a queue's ring turns out corrupted (a foreign writer, not
 * this library), the pool breaks rather than retry it: every unfinished
 * task fails with MP_EPROTO, later submissions return MP_EPROTO, the
 * workers are killed and not replaced, and mp_pool_close, mp_pool_join,
 * mp_pool_terminate and mp_pool_free work as on a terminated pool.
 *
 * Threads: a pool has two threads of its own in the parent. The result
 * handler receives results, completes result objects and runs the callbacks
 * (so callbacks run in that thread, one at a time, as in Python, and must
 * not block for long: they delay every other result). The monitor waits for
 * workers to end and reports their deaths to the handler.
 *
 * Arguments are copied when a task is submitted. Tasks carrying mproc
 * objects (queues, locks, ...) cannot be sent to a running worker:
 * MP_ENOTSUP. Pass objects to the workers through `initargs` and keep them
 * in static storage from the initializer.
 *
 * Every function may be called from several threads at once. A pool belongs
 * to the process that created it: do not use it in a forked child. */
#ifndef MPROC_POOL_H
#define MPROC_POOL_H

#include "mproc/args.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A pool of worker processes. */
typedef struct mp_pool mp_pool;
/** The outcome of submitted tasks (Python's AsyncResult / MapResult). */
typedef struct mp_result mp_result;
/** An iterator over the results of mp_pool_imap / mp_pool_imap_unordered. */
typedef struct mp_imap mp_imap;

/** Options for mp_pool_new; a NULL pointer or zeroed fields mean the
 * defaults. */
typedef struct mp_pool_options {
    /** Number of workers: 0 means mp_cpu_count(). At most 1024. */
    int processes;
    /** Run once in each worker before its first task, with `initargs`
     * (which may carry mproc objects: they reach every worker, also the
     * replacements). A non-zero return ends the worker; the pool then
     * breaks as by mp_pool_terminate, except that the unfinished tasks fail
     * with MP_EWORKER. NULL: none. */
    mp_target initializer;
    mp_args initargs; /**< the initializer's arguments (copied) */
    /** A worker exits after this many tasks (a chunk of a map counts as one,
     * as in Python) and is replaced. 0: workers live as long as the pool. */
    unsigned maxtasksperchild;
    /** How workers start (MP_START_DEFAULT: the global setting). */
    mp_start_method start_method;
    /** A size hint, not a bound: the encoded arguments of one task that
     * each worker's task ring holds without growing, in bytes (0: rings of
     * 1 MiB; at most MP_POOL_ITEM_MAX). Arguments of any size are taken
     * (up to 4 GiB in all, see mp_queue_max_item): larger ones go through
     * a shared segment made for them and let go once the worker has read
     * them (see mproc/queue.h). Worth setting when many tasks carry large
     * arguments, to spare each a segment's creation. */
    size_t max_task_bytes;
    /** A size hint, not a bound: the result (plus message) of one task that
     * the result ring all workers share holds without growing (0: a ring of
     * 4 MiB; at most MP_POOL_ITEM_MAX). Results of any size come back (up
     * to 4 GiB, see mp_queue_max_item), larger ones through a segment made
     * for them, freed once the parent has read them. */
    size_t max_result_bytes;
} mp_pool_options;

/** The bound of the hints mp_pool_options.max_task_bytes and
 * max_result_bytes (larger is MP_EINVAL): 512 MiB. */
#define MP_POOL_ITEM_MAX ((size_t)512 << 20)

/** Called in the result handler thread when a result completes: `callback`
 * when every task of it succeeded, `error_callback` otherwise. Inside them
 * mp_result_ready is 1 and mp_result_get / mp_result_item return at once;
 * threads waiting for the result are woken after the callback returns. A
 * callback must not free the result nor call mp_pool_join / terminate /
 * free on its pool. */
typedef void (*mp_result_callback)(mp_result *r, void *user);

/** Callbacks of a result; NULL fields mean none. */
typedef struct mp_result_options {
    mp_result_callback callback;       /**< every task succeeded */
    mp_result_callback error_callback; /**< at least one task failed */
    void *user;                        /**< passed to the callbacks */
} mp_result_options;

/** The longest message a task leaves with mp_call_fail, with its NUL. */
#define MP_TASK_MESSAGE_MAX 256

/** What is known about one task of a result. */
typedef struct mp_task_info {
    int status;      /**< 0, MP_ETASK, MP_EWORKER, MP_ECLOSED (terminated),
                        MP_EPROTO (the pool broke: a queue's shared memory
                        was corrupted), MP_ETARGET (function not found in
                        the worker), MP_EMSGSIZE (result larger than
                        mp_queue_max_item),
                        MP_EAGAIN (pending) */
    int task_code;   /**< MP_ETASK: the task's return value */
    long worker_pid; /**< MP_EWORKER: the worker that died */
    int worker_exit; /**< MP_EWORKER: its exit code, -signal when killed */
    /** The task's message (mp_call_fail), truncated to fit; for a worker
     * that died without one, how it ended ("worker 4242 was killed by
     * signal 9", "worker 4242 exited with code 3"); else empty. */
    char message[MP_TASK_MESSAGE_MAX];
} mp_task_info;

#if defined(__GNUC__) || defined(__clang__)
#define MP__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MP__PRINTF(f, a)
#endif

/** In a pool task: leaves a message for the parent (printf-style, cut to
 * MP_TASK_MESSAGE_MAX - 1 bytes) and returns `code`, so a task fails with
 * `return mp_call_fail(call, 2, "no such file: %s", path);`. The parent
 * reads both in mp_task_info (mp_result_info, mp_result_item,
 * mp_imap_info, mp_pool_apply_info); a task that returns 0 after it keeps
 * its message too. A later call replaces the message. Call it from the
 * task's own thread. Outside a pool task (a process target, an
 * initializer) the message is dropped. Returns `code` whatever happens. */
MP_EXTERN int mp_call_fail(mp_call *call, int code, const char *fmt, ...)
    MP__PRINTF(3, 4);

/** In a pool task: returns the string s (its bytes, without the NUL; NULL
 * as ""), read back with mp_result_get_str / mp_result_item_str, or from an
 * mp_buf as a C string. Errors as mp_call_return. */
MP_EXTERN int mp_call_return_str(mp_call *call, const char *s);

/** Starts the workers. On success *pool owns them; release with
 * mp_pool_free. The initargs are copied; objects in them must stay open
 * until mp_pool_free (replacement workers receive them again).
 * Workers are daemonic: they die with this process however it ends. On
 * Linux that binding is to the thread that starts a worker (the calling
 * thread for the first ones, the pool's own thread for replacements), so
 * create a pool from a thread that outlives it.
 * Errors: MP_EINVAL (NULL pool, processes < 0 or > 1024, an unknown start
 * method, a bad argument), MP_ENOTSUP (start method), MP_ESTATE (mp_init
 * has not run), MP_ETARGET (initializer cannot be located), MP_ELIMIT,
 * MP_ENOMEM, MP_ESYS. */
MP_EXTERN int mp_pool_new(mp_pool **pool, const mp_pool_options *opts);

/** Number of workers. Infallible (0 for NULL). */
MP_EXTERN int mp_pool_size(const mp_pool *pool);

/** The pids of the workers alive now, at most n, in worker order; returns how
 * many were written. For tests and diagnostics. */
MP_EXTERN size_t mp_pool_worker_pids(mp_pool *pool, long *pids, size_t n);

/** Submits fn(args) and returns at once with *result (owned by the caller,
 * release with mp_result_free, also before it completes). The arguments are
 * copied. mp_pool_apply_async_cb also sets callbacks (opts may be NULL).
 * Errors: MP_EINVAL (NULL pool, fn or result, a bad argument), MP_ESTATE
 * (after mp_pool_close / terminate), MP_EPROTO (the pool broke on a
 * corrupted queue, see above), MP_ENOTSUP (an mproc object among the
 * arguments), MP_ETARGET (fn is in no module), MP_EMSGSIZE (arguments larger
 * than mp_queue_max_item, 4 GiB), MP_ENOMEM. @{ */
MP_EXTERN int mp_pool_apply_async(mp_pool *pool, mp_target fn, mp_args args,
                                  mp_result **result);
MP_EXTERN int mp_pool_apply_async_cb(mp_pool *pool, mp_target fn, mp_args args,
                                     const mp_result_options *opts,
                                     mp_result **result);
/** @} */

/** Runs fn(args) in a worker and waits for it: the task's status (as
 * mp_result_get) with its result in *buf (may be NULL), or a submission
 * error of mp_pool_apply_async. */
MP_EXTERN int mp_pool_apply(mp_pool *pool, mp_target fn, mp_args args,
                            mp_buf *buf);

/** mp_pool_apply that also fills *info (may be NULL) with the task's
 * details once it ran: its code and message, or how its worker died. */
MP_EXTERN int mp_pool_apply_info(mp_pool *pool, mp_target fn, mp_args args,
                                 mp_buf *buf, mp_task_info *info);

/** Submits fn(items[i]) for i in [0, n), sent to workers in chunks of
 * `chunksize` tasks (0: Python's rule, ceil(n / (4 * workers))); one result
 * object holds them all (mp_result_count, mp_result_item). n may be 0 (a
 * result that is ready at once). Whatever the chunksize, a worker dying
 * inside a chunk fails only the call it was running with MP_EWORKER: the
 * calls it finished keep their results and the calls after it run on
 * another worker. A chunk waits for its worker only while no other worker
 * is idle: an idle worker takes over chunks queued behind a busy one.
 * Errors as mp_pool_apply_async, plus MP_EINVAL for NULL items with n > 0. */
MP_EXTERN int mp_pool_map_async(mp_pool *pool, mp_target fn,
                                const mp_args *items, size_t n,
                                size_t chunksize,
                                const mp_result_options *opts,
                                mp_result **result);

/** mp_pool_map_async, then waits for all: returns the first failing task's
 * status in input order (0 when all succeeded; read each with
 * mp_result_item). *result is set whenever the submission succeeded. */
MP_EXTERN int mp_pool_map(mp_pool *pool, mp_target fn, const mp_args *items,
                          size_t n, size_t chunksize, mp_result **result);

/** @cond MP_INTERNAL */
enum {
    MP__ITEMS_ARGS = 1,
    MP__ITEMS_INTS = 2,
    MP__ITEMS_DOUBLES = 3,
    MP__ITEMS_STRS = 4,
    MP__ITEMS_RANGE = 5,
    MP__ITEMS_FN = 6
};
/** @endcond */

/** A callback giving item i of a map (mp_items_fn). The list returned is
 * copied at once: the strings and bytes it points at need only stay valid
 * until the callback is called again or the map call returns. */
typedef mp_args (*mp_item_fn)(size_t i, void *user);

/** Where the n items of a map come from, without an array of argument
 * lists: build it with an mp_items_* constructor (a value; it holds the
 * caller's pointer, which need only stay valid until the map call
 * returns: the items are copied there). The fields other than n are not
 * for direct use. */
typedef struct mp_items {
    size_t n;          /**< the number of items */
    int mp__kind;      /**< which constructor made it */
    const void *mp__v; /**< the caller's array */
    int64_t mp__start; /**< mp_items_range's start */
    mp_item_fn mp__fn; /**< mp_items_fn's callback */
    void *mp__user;    /**< and its argument */
} mp_items;

/** @cond MP_INTERNAL */
static inline mp_items mp__items(int kind, const void *v, size_t n) {
    mp_items s = {0, 0, NULL, 0, NULL, NULL};
    s.n = n;
    s.mp__kind = kind;
    s.mp__v = v;
    return s;
}
/** @endcond */

/** Items given as argument lists: task i gets v[i] (as mp_pool_map). */
static inline mp_items mp_items_args(const mp_args *v, size_t n) {
    return mp__items(MP__ITEMS_ARGS, v, n);
}
/** Task i gets one argument, mp_int(v[i]). */
static inline mp_items mp_items_ints(const int64_t *v, size_t n) {
    return mp__items(MP__ITEMS_INTS, v, n);
}
/** Task i gets one argument, mp_float(v[i]). */
static inline mp_items mp_items_doubles(const double *v, size_t n) {
    return mp__items(MP__ITEMS_DOUBLES, v, n);
}
/** Task i gets one argument, mp_str(v[i]) (a NULL string is ""). */
static inline mp_items mp_items_strs(const char *const *v, size_t n) {
    return mp__items(MP__ITEMS_STRS, v, n);
}
/** Python's range(start, stop): task i gets mp_int(start + i); no items
 * when stop <= start. */
static inline mp_items mp_items_range(int64_t start, int64_t stop) {
    mp_items s = mp__items(MP__ITEMS_RANGE, NULL,
                           stop > start ? (size_t)(stop - start) : 0);
    s.mp__start = start;
    return s;
}
/** Task i gets the list fn(i, user) returns, asked for once per item, in
 * order, in the calling thread, before the map call returns. */
static inline mp_items mp_items_fn(mp_item_fn fn, void *user, size_t n) {
    mp_items s = mp__items(MP__ITEMS_FN, NULL, n);
    s.mp__fn = fn;
    s.mp__user = user;
    return s;
}

/** mp_pool_map_async and mp_pool_map over items from any source:
 * `mp_pool_map_items(pool, square, mp_items_range(0, 10), 0, &r)`.
 * Errors as those, plus MP_EINVAL for an mp_items no constructor made or
 * a NULL array with n > 0. @{ */
MP_EXTERN int mp_pool_map_items_async(mp_pool *pool, mp_target fn,
                                      mp_items items, size_t chunksize,
                                      const mp_result_options *opts,
                                      mp_result **result);
MP_EXTERN int mp_pool_map_items(mp_pool *pool, mp_target fn, mp_items items,
                                size_t chunksize, mp_result **result);
/** @} */

/** Waits until the result is ready (every task done or failed).
 * 0; MP_EAGAIN (timeout 0) or MP_ETIMEDOUT while not ready; MP_EINVAL. */
MP_EXTERN int mp_result_wait(mp_result *r, long timeout_ms);

/** 1 when ready, 0 when not, MP_EINVAL for NULL. Does not block. */
MP_EXTERN int mp_result_ready(mp_result *r);

/** 1 when ready and every task succeeded, 0 when ready with a failure,
 * MP_ESTATE when not ready (Python's ValueError), MP_EINVAL for NULL. */
MP_EXTERN int mp_result_successful(mp_result *r);

/** Waits as mp_result_wait, then returns the task's status (a map result:
 * the first failure in input order) and copies its bytes into *buf (an
 * apply result; for a map, buf is left empty: use mp_result_item). buf may
 * be NULL. MP_ETIMEDOUT / MP_EAGAIN when not ready in time. */
MP_EXTERN int mp_result_get(mp_result *r, long timeout_ms, mp_buf *buf);

/** The task's return value when mp_result_get reports MP_ETASK (first
 * failure of a map). MP_ESTATE when not ready or not failed with MP_ETASK. */
MP_EXTERN int mp_result_task_code(mp_result *r, int *code);

/** The worker that died when mp_result_get reports MP_EWORKER: its pid and
 * exit code (-signal when killed by one; Windows TerminateProcess gives the
 * code it was given). MP_ESTATE otherwise. Either pointer may be NULL. */
MP_EXTERN int mp_result_worker(mp_result *r, long *pid, int *exitcode);

/** Everything known of a ready result's task (an apply result), or of a
 * map result's first failure in input order (all zero and an empty
 * message when every task succeeded): status, code, worker, message.
 * 0; MP_ESTATE when not ready; MP_EINVAL for NULL. */
MP_EXTERN int mp_result_info(mp_result *r, mp_task_info *info);

/** Typed readers of an apply result, matching mp_call_return_int / _float
 * / _str: wait as mp_result_get, then return the task's status and, when
 * it is 0, the value in *v (*s: the result's bytes as a C string, valid
 * until mp_result_free). MP_EPROTO when the result is not 8 bytes (int,
 * float); MP_EINVAL for NULL pointers or a map result. @{ */
MP_EXTERN int mp_result_get_int(mp_result *r, long timeout_ms, int64_t *v);
MP_EXTERN int mp_result_get_float(mp_result *r, long timeout_ms, double *v);
MP_EXTERN int mp_result_get_str(mp_result *r, long timeout_ms, const char **s);
/** @} */

/** The value of an apply result (what the task gave mp_call_return_val)
 * or, for a map result, a list of every task's value in input order (as
 * Python's map returns): waits as mp_result_get and returns the status it
 * does; when that is 0, *out is a new tree the caller frees with
 * mp_val_free (NULL otherwise). Results are untrusted (a worker is another
 * process): one that is no value is MP_EPROTO (or MP_EOVERFLOW,
 * MP_EMSGSIZE from mp_val_loads's default limits); MP_EINVAL for NULL;
 * MP_ENOMEM. */
MP_EXTERN int mp_result_get_val(mp_result *r, long timeout_ms, mp_val **out);

/** Number of tasks in the result (1 for apply). 0 for NULL. */
MP_EXTERN size_t mp_result_count(const mp_result *r);

/** Task i of a result, without waiting: its status (MP_EAGAIN while it is
 * still pending), and where it finished, a pointer to its bytes valid until
 * mp_result_free (ptr and len may be NULL). info (may be NULL) receives the
 * details. MP_EINVAL for NULL r or i out of range. */
MP_EXTERN int mp_result_item(mp_result *r, size_t i, const void **ptr,
                             size_t *len, mp_task_info *info);

/** Typed readers of task i, without waiting, as mp_result_item: its status
 * (MP_EAGAIN while pending) and, when 0, its value (*s valid until
 * mp_result_free). MP_EPROTO when not 8 bytes; MP_EINVAL for NULL r or
 * pointer, or i out of range. @{ */
MP_EXTERN int mp_result_item_int(mp_result *r, size_t i, int64_t *v);
MP_EXTERN int mp_result_item_float(mp_result *r, size_t i, double *v);
MP_EXTERN int mp_result_item_str(mp_result *r, size_t i, const char **s);
/** @} */

/** Task i's value, without waiting, as mp_result_item: its status
 * (MP_EAGAIN while pending) and, when 0, a new tree *out (mp_val_free).
 * Errors as mp_result_get_val; MP_EINVAL for i out of range. */
MP_EXTERN int mp_result_item_val(mp_result *r, size_t i, mp_val **out);

/** Reads an int64 / double result from a buffer filled by mp_pool_apply,
 * mp_result_get or mp_imap_next (a string is b->data as it is: every
 * receive ends the bytes with a NUL). 0; MP_EPROTO when b->len is not 8;
 * MP_EINVAL for NULL. @{ */
MP_EXTERN int mp_buf_int(const mp_buf *b, int64_t *v);
MP_EXTERN int mp_buf_float(const mp_buf *b, double *v);
/** @} */

/** Releases the caller's hold on r. Safe before it completes (the pool then
 * drops it when it does; its callbacks still run). NULL-safe. Small results
 * live in the pool's 16 KiB slabs, and a slab goes back only when all of
 * its results are freed: free results when done with them, not much later
 * than their neighbours. */
MP_EXTERN void mp_result_free(mp_result *r);

/** Lazy iterators over fn(items[i]) (Python's imap and imap_unordered): the
 * tasks are submitted at once; mp_imap_next yields results in input order
 * (mp_pool_imap) or in completion order (mp_pool_imap_unordered). items is
 * copied. chunksize 0 means 1, Python's default for imap (map's 0 is its
 * rule above). Errors as mp_pool_map_async. Release with mp_imap_free.
 * The _items forms take items from any source, as mp_pool_map_items. @{ */
MP_EXTERN int mp_pool_imap(mp_pool *pool, mp_target fn, const mp_args *items,
                           size_t n, size_t chunksize, mp_imap **it);
MP_EXTERN int mp_pool_imap_unordered(mp_pool *pool, mp_target fn,
                                     const mp_args *items, size_t n,
                                     size_t chunksize, mp_imap **it);
MP_EXTERN int mp_pool_imap_items(mp_pool *pool, mp_target fn, mp_items items,
                                 size_t chunksize, mp_imap **it);
MP_EXTERN int mp_pool_imap_unordered_items(mp_pool *pool, mp_target fn,
                                           mp_items items, size_t chunksize,
                                           mp_imap **it);
/** @} */

/** Waits up to timeout_ms for the next result. Returns that task's status
 * (0, MP_ETASK, MP_EWORKER, ...) with its bytes in *buf (may be NULL) and
 * its input index in *index (may be NULL); MP_ENOENT after the last one
 * (Python's StopIteration); MP_EAGAIN / MP_ETIMEDOUT when none is ready in
 * time; MP_EINVAL. One thread at a time per iterator. */
MP_EXTERN int mp_imap_next(mp_imap *it, long timeout_ms, mp_buf *buf,
                           size_t *index);

/** The details of the result mp_imap_next returned last (its code and
 * message, or how its worker died). 0; MP_ESTATE before the first;
 * MP_EINVAL for NULL. */
MP_EXTERN int mp_imap_info(mp_imap *it, mp_task_info *info);

/** NULL-safe. Tasks not yet done still run. */
MP_EXTERN void mp_imap_free(mp_imap *it);

/** No more tasks may be submitted (they get MP_ESTATE); those submitted run
 * to the end and the workers then exit. 0, or MP_EINVAL for NULL; a second
 * call or a call after terminate is a no-op returning 0. Does not block. */
MP_EXTERN int mp_pool_close(mp_pool *pool);

/** Stops at once: kills every worker (SIGKILL / TerminateProcess, so a task
 * cannot delay it), fails every unfinished task with MP_ECLOSED, and waits
 * until every result is complete and the workers are reaped (milliseconds).
 * Results stay readable. 0, or MP_EINVAL. Idempotent. On a pool that broke
 * (a corrupted queue) the tasks failed already, with MP_EPROTO. */
MP_EXTERN int mp_pool_terminate(mp_pool *pool);

/** Waits until every task has finished and every worker has exited, after
 * mp_pool_close or mp_pool_terminate (before: MP_ESTATE, as Python's
 * ValueError). 0; MP_EAGAIN / MP_ETIMEDOUT when not done within timeout_ms;
 * MP_EINVAL. May be called again. Must not be called from a callback. */
MP_EXTERN int mp_pool_join(mp_pool *pool, long timeout_ms);

/** Terminates the pool if it still runs (as mp_pool_terminate), waits for its
 * threads and frees it. Results not yet freed stay valid and readable.
 * NULL-safe, infallible. */
MP_EXTERN void mp_pool_free(mp_pool *pool);

#ifdef __cplusplus
}
#endif
#endif
