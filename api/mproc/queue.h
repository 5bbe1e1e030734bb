/** @file
 * mproc: Queue and JoinableQueue, a multi-producer multi-consumer queue of
 * byte items shared between processes.
 *
 * Items live in a ring in shared memory; there is no feeder thread. When
 * mp_queue_put returns 0 the item is in shared memory: it survives its
 * producer exiting or being killed the next instant.
 *
 * The queue grows: when the ring is full, or an item is larger than it, the
 * producer moves on to a new shared segment (twice the ring, up to 1 GiB,
 * or as large as the item needs) and the consumers follow once they have
 * taken what the older ring held; a segment consumed is unmapped and its
 * name removed, and a queue found empty by a put goes back to its own ring.
 * So memory, not the ring, bounds what a queue holds (at most 16 GiB queued
 * at once) and items of any size up to mp_queue_max_item (4 GiB - 16) go
 * through every queue. Segments are named from 128 random bits drawn when
 * the queue is made, 0600 and checked to be ours when opened (MP_EACCES
 * otherwise); the names left when the queue's last user frees it are
 * removed by that user, also when the others were killed. Limits: where
 * more than 64 processes use one queue at once, or every process using an
 * anonymous queue is killed, the segments it held at that moment stay
 * until removed by hand (/dev/shm/mp-q*).
 *
 * Windows: a segment is a file of the temporary kind (its pages stay in
 * memory while there is memory) in a directory private to the user,
 * "%TEMP%\mproc-<user SID>", made owner-only and checked to be the user's;
 * like /dev/shm, it outlives a producer killed before any consumer opened
 * it, and the same limits leave its files there (q* in that directory).
 *
 * A get returns a whole item or nothing. A process killed at any point inside
 * put or get leaves the queue consistent and usable for every other process:
 * an item being written is never seen, an item being read stays in the queue
 * (the process that was reading it never got it). Items keep FIFO order as
 * seen by the ring; items from different producers interleave in commit order.
 *
 * Every function may be called by several threads of several processes at
 * once on the same queue. A queue passes to a child as an argument
 * (mp_queue_arg) with every start method. */
#ifndef MPROC_QUEUE_H
#define MPROC_QUEUE_H

#include "mproc/args.h"
#include "mproc/value.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A queue of byte items shared between processes. */
typedef struct mp_queue mp_queue;

/** Options for mp_queue_new; a NULL pointer or zeroed fields mean the
 * defaults. */
typedef struct mp_queue_options {
    /** Bytes of the queue's own shared ring: 0 means 1 MiB. Rounded up to a
     * power of two, at least 4 KiB, at most 1 GiB (more is MP_EINVAL). Each
     * item takes its length rounded up to 8 plus an 8-byte header. Not a
     * bound: past it the queue grows into segments (see above), which cost
     * a segment's creation each time the queue outgrows what it has. */
    size_t capacity_bytes;
    /** NULL: an anonymous queue (nothing in the file system; it reaches
     * children as an argument). Otherwise a name (the rule of MP_NAME_MAX
     * in mproc/core.h) that unrelated processes of the same user pass to
     * mp_queue_open; a name any object holds is MP_EEXIST. The name is
     * removed when the last process that created or opened it frees its
     * handle; one whose users were all killed is reclaimed by the next
     * create or open of the name, or by mp_sweep (see mp_sync_options). */
    const char *name;
} mp_queue_options;

/** Creates a queue holding at most `maxsize` items (0: no limit but memory),
 * at most INT32_MAX. On success *q owns this
 * process's handle; release it with mp_queue_free.
 * Errors: MP_EINVAL (NULL q, maxsize or capacity out of range, a bad name),
 * MP_EEXIST (the name is taken), MP_EACCES, MP_ELIMIT, MP_ENOMEM, MP_ESYS. */
MP_EXTERN int mp_queue_new(mp_queue **q, size_t maxsize,
                           const mp_queue_options *opts);

/** Opens the named queue another process created with mp_queue_new. Blocks
 * while its creator is still setting it up (a live creator: at most 2 s,
 * then MP_ETIMEDOUT; one that died doing so: MP_ENOENT at once).
 * Errors: MP_EINVAL (NULL, bad name), MP_ENOENT (no such queue, its last
 * user is freeing it, or its creator died making it), MP_EEXIST (the name
 * holds another kind of object), MP_ETIMEDOUT, MP_EACCES, MP_ENOMEM,
 * MP_ESYS. */
MP_EXTERN int mp_queue_open(mp_queue **q, const char *name);

/** Appends a copy of ptr[0..len) (len 0 is a valid, empty item; ptr may then
 * be NULL). Blocks only while the queue holds maxsize items (never for
 * bytes: the queue grows, after waiting at most 1 ms for a consumer to
 * free room when the timeout allows it): MP_INFINITE waits, 0 returns
 * MP_EAGAIN at once (Python's Full with block=False), a bound returns
 * MP_ETIMEDOUT when it runs out. Every bound holds also against another
 * process stopped or hung in the middle of a put (or, for get, of a get):
 * timeout 0 waits at most 20 ms for it (it holds the producer side for one
 * copy), then MP_EAGAIN. Errors: MP_EINVAL (NULL q, NULL ptr with len > 0,
 * negative timeout other than MP_INFINITE), MP_EMSGSIZE (len >
 * mp_queue_max_item), MP_ECLOSED (the queue was closed, also while waiting),
 * MP_EAGAIN, MP_ETIMEDOUT, and when the queue had to grow and could not:
 * MP_ENOMEM, MP_ELIMIT (the system's shared memory is full, or 16 GiB are
 * queued), MP_EACCES (a segment's name taken by another user). On every error
 * the item was not put, and the queue stays usable. */
MP_EXTERN int mp_queue_put(mp_queue *q, const void *ptr, size_t len,
                           long timeout_ms);

/** Removes the oldest item into buf (grown as needed; buf->len is the item's
 * length). Blocks while the queue is empty, with the same timeout rules as
 * mp_queue_put (MP_EAGAIN / MP_ETIMEDOUT are Python's Empty). After
 * mp_queue_close it still returns the items left, then MP_ECLOSED.
 * Errors: MP_EINVAL, MP_EAGAIN, MP_ETIMEDOUT, MP_ECLOSED, MP_ENOMEM (the item
 * stays in the queue; also when a segment cannot be mapped), MP_EPROTO
 * (the shared memory, or a segment, was corrupted or removed by a foreign
 * writer). */
MP_EXTERN int mp_queue_get(mp_queue *q, mp_buf *buf, long timeout_ms);

/** Puts the value v as one item (its pickle; v may be freed once this
 * returns), with mp_queue_put's blocking, timeouts and guarantees.
 * Errors: MP_EINVAL (NULL q or v), MP_EMSGSIZE (nested deeper than 1000
 * containers, or larger than mp_queue_max_item), MP_ENOMEM, and
 * mp_queue_put's. */
MP_EXTERN int mp_queue_put_val(mp_queue *q, const mp_val *v, long timeout_ms);

/** Removes the oldest item as a value: *out is a new tree the caller frees
 * with mp_val_free (NULL on error). Waits as mp_queue_get. The item is
 * untrusted (another process wrote it) and decoded with mp_val_loads's
 * default limits; one that is no value (put as bytes, or garbled) is
 * removed and reported as MP_EPROTO (or MP_EOVERFLOW, MP_EMSGSIZE).
 * Errors: mp_queue_get's, and those. */
MP_EXTERN int mp_queue_get_val(mp_queue *q, mp_val **out, long timeout_ms);

/** The exact number of items in the queue at one instant (0 for NULL).
 * Never blocks; infallible. (A process that keeps rewriting the queue's
 * counters can only make it a bounded number of tries, then a snapshot
 * between 0 and the capacity.) */
MP_EXTERN size_t mp_queue_qsize(mp_queue *q);

/** Whether the queue holds no item, and whether it holds maxsize items
 * (always false when maxsize is 0). Snapshots, as in Python; infallible.
 * @{ */
MP_EXTERN bool mp_queue_empty(mp_queue *q);
MP_EXTERN bool mp_queue_full(mp_queue *q);
/** @} */

/** The largest item mp_queue_put accepts, in bytes (0 for NULL): the same
 * for every queue, whatever its ring, 4 GiB - 16 (an item's length is 32
 * bits in the ring); memory may run out before. */
MP_EXTERN size_t mp_queue_max_item(const mp_queue *q);

/** Closes the queue for every process: later puts return MP_ECLOSED, gets
 * return the items left and then MP_ECLOSED, and callers blocked in put or
 * get wake up. Idempotent. MP_EINVAL for NULL. It waits for a put in
 * progress to finish (so that none publishes after it returns) for at most
 * 2 s: a producer stopped or hung inside put makes it MP_ETIMEDOUT, with
 * the queue closed all the same (new puts fail at once); gets then return
 * MP_ECLOSED once that put has finished or the producer has let go. */
MP_EXTERN int mp_queue_close(mp_queue *q);

/** JoinableQueue: marks one item taken out of the queue as processed.
 * MP_EOVERFLOW when called more times than items were ever put (Python's
 * ValueError), MP_EINVAL for NULL. Never blocks. */
MP_EXTERN int mp_queue_task_done(mp_queue *q);

/** JoinableQueue: waits until every item ever put has been marked with
 * mp_queue_task_done. 0 when that holds; MP_EAGAIN (timeout 0) or
 * MP_ETIMEDOUT (bound reached) otherwise; MP_EINVAL. */
MP_EXTERN int mp_queue_join(mp_queue *q, long timeout_ms);

/** Releases this process's handle (the queue lives on for the others; a
 * named queue's name is removed by its last user). Items still queued stay
 * for the other processes. The last user (the processes that made, opened
 * or were passed the queue, and forked children that used a segment)
 * removes the segments left. NULL-safe; must not race with calls on q. */
MP_EXTERN void mp_queue_free(mp_queue *q);

/** An argument carrying q to a child (fork: the same handle; spawn: the
 * child maps the same queue, and its handle is released when the target
 * returns). q must stay open until the child has started. */
static inline mp_arg mp_queue_arg(mp_queue *q) {
    return mp__obj_arg(MP_OBJ_QUEUE, q);
}

/** The queue carried by a, or NULL when a is not a queue. */
static inline mp_queue *mp_arg_queue(const mp_arg *a) {
    return (mp_queue *)mp_arg_obj(a, MP_OBJ_QUEUE);
}

#ifdef __cplusplus
}
#endif
#endif
