/** @file
 * mproc: synchronisation between processes: Semaphore, Lock and RLock,
 * Event, Condition and Barrier, as in Python's multiprocessing.
 *
 * Every object lives in shared memory (plus kernel objects on Windows). It
 * may be used by several threads of several processes at once, passed to a
 * child as an argument (mp_sem_arg, ...) with every start method, and named
 * (mp_sync_options.name) so that unrelated processes of the same user open
 * the same object. A process that dies inside any call, or holding a lock,
 * leaves the object usable by the others.
 *
 * In a forked child the parent's objects are simply shared: use them, do
 * not free them. In a spawned child the objects received as arguments are
 * the library's: valid until the target returns. */
#ifndef MPROC_SYNC_H
#define MPROC_SYNC_H

#include "mproc/args.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A Semaphore or BoundedSemaphore. */
typedef struct mp_sem mp_sem;
/** A Lock or RLock. */
typedef struct mp_lock mp_lock;
/** An Event. */
typedef struct mp_event mp_event;
/** A Condition. */
typedef struct mp_cond mp_cond;
/** A Barrier. */
typedef struct mp_barrier mp_barrier;

/** Options shared by every synchronisation and shared-memory object; NULL or
 * zeroed fields mean the defaults.
 *
 * name: NULL makes an anonymous object, reachable only through arguments.
 * A name (the rule of MP_NAME_MAX in mproc/core.h) opens the object of
 * that name and kind if one exists, with its own parameters (the creation
 * values passed here are then ignored; another kind, or other parameters
 * such as a semaphore's bound, is MP_EEXIST), and creates it otherwise.
 * Every mp_*_new taking a name may also give MP_ETIMEDOUT: the name is
 * being made by a live process that did not finish within 2 s.
 *
 * Names of dead users are reclaimed: each object records the processes
 * that created or opened it by name (its users; a forked child's copy and
 * an object received as an argument are not), each by pid and start time
 * so that a pid reused by a later process never passes for a dead user.
 * A user killed leaves its record. A create or open of a name whose users
 * are all dead removes it and makes a fresh object (an open-only call,
 * such as mp_queue_open, then finds none); a user's free that leaves only
 * dead users removes the name; mp_sweep removes every such name at once.
 * Up to 96 users of one name are recorded at once; while more hold it,
 * the extra ones are only counted, and a name with a killed uncounted
 * user stays until mp_unlink. Anonymous objects never leave anything
 * behind. */
typedef struct mp_sync_options {
    const char *name; /**< NULL: anonymous; else the object's name */
    bool exclusive;   /**< with name: MP_EEXIST if it already exists */
} mp_sync_options;

/** Removes the name of a named object, whoever still uses it (POSIX);
 * objects still open keep working, and the next create of the name makes
 * a new one. Names whose users are all dead need no call (see
 * mp_sync_options, and mp_sweep). MP_ENOENT when absent, MP_EINVAL for a
 * bad name; 0 on Windows, where names vanish with their last handle. */
MP_EXTERN int mp_unlink(const char *name);

/** Removes every name of this user's named objects (every kind) whose
 * users are all dead (killed, or exited without freeing), and the names
 * left by creators killed before they finished making the object; names
 * with a live user, and other users' names, are never touched. Objects
 * still mapped keep working. *removed (may be NULL) gets the number of
 * names removed. Call it at a program's start, or from a supervisor after
 * killing workers; creating or opening a dead name reclaims it anyway, so
 * a sweep only matters for names nobody asks for again. Cost: one probe
 * of a process (a read of its /proc/PID/stat on Linux) per recorded user
 * until a live one is found, per name. Thread-safe; may run in several
 * processes at once. Errors: MP_ENOTSUP where named objects cannot be
 * listed (macOS: no /dev/shm; *removed is 0), MP_EACCES, MP_ESYS. Windows:
 * 0 and nothing removed, as names vanish with their last handle there. */
MP_EXTERN int mp_sweep(size_t *removed);

/* ---- Semaphore ---- */

/** Creates a semaphore holding `value`. max > 0 makes it bounded
 * (BoundedSemaphore): a release past max fails. *s is owned by the caller:
 * release with mp_sem_free. Errors: MP_EINVAL (NULL s, value > max > 0,
 * value or max above INT32_MAX, bad name), MP_EEXIST, MP_ETIMEDOUT (see
 * mp_sync_options), MP_ENOMEM, MP_ELIMIT, MP_EACCES, MP_ESYS.
 * mp_sem_new_ex adds options (a name). @{ */
MP_EXTERN int mp_sem_new(mp_sem **s, unsigned value, unsigned max);
MP_EXTERN int mp_sem_new_ex(mp_sem **s, unsigned value, unsigned max,
                            const mp_sync_options *opts);
/** @} */

/** Decrements, waiting while the value is 0: MP_INFINITE, 0 (never blocks)
 * or a bound in ms. 0 on success, MP_EAGAIN (timeout 0), MP_ETIMEDOUT,
 * MP_EINVAL for NULL or a negative timeout other than MP_INFINITE.
 * A blocking acquire first polls for about 20 µs, yielding the CPU between
 * polls, before it sleeps in the kernel: a release that comes that soon
 * (the usual case when processes hand work back and forth) then costs no
 * sleep and no wake-up, and other threads can use the CPU meanwhile.
 * Waiters are not served in FIFO order. */
MP_EXTERN int mp_sem_acquire(mp_sem *s, long timeout_ms);

/** Increments and wakes one waiter. MP_EOVERFLOW when bounded and already at
 * max (the value is unchanged), MP_EINVAL for NULL. Never blocks. */
MP_EXTERN int mp_sem_release(mp_sem *s);

/** The current value (a snapshot), on every platform. MP_EINVAL for NULL. */
MP_EXTERN int mp_sem_get_value(mp_sem *s, int *value);

/** Releases this process's use of it (see mp_sync_options for names).
 * NULL-safe. Must not race with other calls on s in this process. */
MP_EXTERN void mp_sem_free(mp_sem *s);

/* ---- Lock and RLock ---- */

/** Creates a Lock (recursive false) or an RLock (true). A lock is owned by a
 * thread: only the owner releases it. When its owner dies (process killed,
 * or thread ended) holding it, the next acquire gets it and reports
 * MP_EOWNERDEAD once. Errors as mp_sem_new. @{ */
MP_EXTERN int mp_lock_new(mp_lock **l, bool recursive);
MP_EXTERN int mp_lock_new_ex(mp_lock **l, bool recursive,
                             const mp_sync_options *opts);
/** @} */

/** Acquires: MP_INFINITE, 0 (never blocks) or a bound in ms. 0 on success;
 * MP_EOWNERDEAD: acquired, but the previous owner died holding it (the
 * data it guards may be half-updated); MP_EAGAIN (timeout 0); MP_ETIMEDOUT;
 * MP_ESTATE when the calling thread already holds a (non-recursive) Lock,
 * instead of deadlocking; MP_EINVAL. An RLock held by the caller is
 * acquired again at once (its count grows). A lock held by another thread
 * is polled for about 20 µs, yielding the CPU between polls, before the
 * caller sleeps (as mp_sem_acquire); it is not handed over in FIFO order. */
MP_EXTERN int mp_lock_acquire(mp_lock *l, long timeout_ms);

/** Releases once (an RLock is free when its count returns to 0). MP_ESTATE
 * when the calling thread does not hold it, MP_EINVAL for NULL. */
MP_EXTERN int mp_lock_release(mp_lock *l);

/** 1 when the calling thread holds it, 0 otherwise, MP_EINVAL for NULL. */
MP_EXTERN int mp_lock_is_owned(mp_lock *l);

/** Whether it is an RLock: 1, 0, or MP_EINVAL for NULL. */
MP_EXTERN int mp_lock_is_recursive(mp_lock *l);

/** Releases this process's use of it. NULL-safe. A lock returned by
 * mp_value_lock, mp_array_lock or mp_cond_lock belongs to that object:
 * freeing it is a no-op. Freeing a lock the calling thread holds abandons
 * it: other processes' next acquire gets MP_EOWNERDEAD (on Linux at once,
 * on Windows when the thread ends). */
MP_EXTERN void mp_lock_free(mp_lock *l);

/* ---- Event ---- */

/** Creates an Event, initially clear. Errors as mp_sem_new. */
MP_EXTERN int mp_event_new(mp_event **e, const mp_sync_options *opts);
/** Sets the flag and wakes every waiter. MP_EINVAL for NULL. */
MP_EXTERN int mp_event_set(mp_event *e);
/** Clears the flag. MP_EINVAL for NULL. */
MP_EXTERN int mp_event_clear(mp_event *e);
/** 1 when set, 0 when clear, MP_EINVAL for NULL. */
MP_EXTERN int mp_event_is_set(mp_event *e);
/** Waits until the flag is set: 0 once it is, MP_EAGAIN (timeout 0) or
 * MP_ETIMEDOUT while it stays clear, MP_EINVAL. */
MP_EXTERN int mp_event_wait(mp_event *e, long timeout_ms);
/** Releases this process's use of it. NULL-safe. */
MP_EXTERN void mp_event_free(mp_event *e);

/* ---- Condition ---- */

/** Creates a Condition over `lock` (NULL: a new RLock of its own, as in
 * Python). A given lock must outlive the condition; it is passed along
 * when the condition is an argument. A named condition always uses its own
 * lock (MP_EINVAL with both a name and a lock). Errors as mp_sem_new. */
MP_EXTERN int mp_cond_new(mp_cond **c, mp_lock *lock,
                          const mp_sync_options *opts);
/** The condition's lock (owned by the condition or by its creator). NULL for
 * NULL. */
MP_EXTERN mp_lock *mp_cond_lock(mp_cond *c);
/** Acquire / release its lock: as mp_lock_acquire / mp_lock_release.
 * @{ */
MP_EXTERN int mp_cond_acquire(mp_cond *c, long timeout_ms);
MP_EXTERN int mp_cond_release(mp_cond *c);
/** @} */

/** With the lock held: releases it fully (an RLock at any depth), sleeps
 * until notified or the timeout runs out, and takes it back at the same
 * depth before returning. 0 when notified (a rare spurious return is
 * possible: re-check the state, or use mp_cond_wait_for), MP_ETIMEDOUT,
 * MP_EAGAIN for timeout 0 (as every call with timeout 0 that was not
 * ready; the lock is still released and taken back, so others get a
 * turn, as in Python's wait(0)), MP_EOWNERDEAD (notified or not, the lock was
 * taken back from a dead owner), MP_ESTATE when the caller does not hold the
 * lock, MP_EINVAL. A waiter killed while waiting blocks nobody: at worst
 * a later notify wakes one more waiter than asked (a spurious return). */
MP_EXTERN int mp_cond_wait(mp_cond *c, long timeout_ms);

/** With the lock held: waits until pred(arg) is true (checked first, then
 * after each wakeup), for at most timeout_ms in all. 0 when it became true,
 * MP_ETIMEDOUT when it is still false (MP_EAGAIN with timeout 0),
 * MP_ESTATE / MP_EINVAL as above. */
MP_EXTERN int mp_cond_wait_for(mp_cond *c, bool (*pred)(void *arg), void *arg,
                               long timeout_ms);

/** With the lock held: wakes up to n of the waiters waiting now / all of
 * them (a notify with nobody waiting is lost, as in Python). MP_ESTATE when
 * the caller does not hold the lock, MP_EINVAL for NULL or n < 0. @{ */
MP_EXTERN int mp_cond_notify(mp_cond *c, int n);
MP_EXTERN int mp_cond_notify_all(mp_cond *c);
/** @} */
/** Releases this process's use of it (and of its own lock). NULL-safe. */
MP_EXTERN void mp_cond_free(mp_cond *c);

/* ---- Barrier ---- */

/** Creates a Barrier for `parties` (> 0) processes or threads. Errors as
 * mp_sem_new. */
MP_EXTERN int mp_barrier_new(mp_barrier **b, unsigned parties,
                             const mp_sync_options *opts);
/** Waits until `parties` callers are waiting, then releases them all. The
 * return value is the caller's arrival index, 0 .. parties-1 (exactly one
 * caller gets each). MP_EBROKEN when the barrier is or becomes broken
 * (aborted, a waiter timed out, a party died holding its internal lock, or
 * reset while waiting); MP_ETIMEDOUT when the timeout ran out: this also
 * breaks the barrier for everyone, as in Python; MP_EINVAL. Python raises
 * BrokenBarrierError in the waiter whose time ran out as well; mproc gives
 * that waiter MP_ETIMEDOUT on purpose, so it knows it was its own timeout,
 * and the others MP_EBROKEN. The timeout holds also against a party stopped
 * or hung while it holds the barrier's internal lock: a caller not yet in
 * gets MP_EAGAIN (timeout 0, after at most 20 ms) or MP_ETIMEDOUT and the
 * barrier is left as it was; one already waiting leaves with MP_ETIMEDOUT
 * and the barrier is broken for the rest, as its timeout breaks it. */
MP_EXTERN int mp_barrier_wait(mp_barrier *b, long timeout_ms);
/** Breaks the barrier: current and future waiters get MP_EBROKEN until
 * reset. MP_EINVAL for NULL. */
MP_EXTERN int mp_barrier_abort(mp_barrier *b);
/** Returns it to the empty state; current waiters get MP_EBROKEN.
 * MP_EINVAL for NULL. */
MP_EXTERN int mp_barrier_reset(mp_barrier *b);
/** Number of parties; number of callers waiting now; 1 if broken else 0.
 * MP_EINVAL for NULL. @{ */
MP_EXTERN int mp_barrier_parties(mp_barrier *b);
MP_EXTERN int mp_barrier_n_waiting(mp_barrier *b);
MP_EXTERN int mp_barrier_broken(mp_barrier *b);
/** @} */
/** Releases this process's use of it. NULL-safe. */
MP_EXTERN void mp_barrier_free(mp_barrier *b);

/* ---- as arguments ---- */

/** The object as a process or task argument. @{ */
static inline mp_arg mp_sem_arg(mp_sem *s) {
    return mp__obj_arg(MP_OBJ_SEM, s);
}
static inline mp_arg mp_lock_arg(mp_lock *l) {
    return mp__obj_arg(MP_OBJ_LOCK, l);
}
static inline mp_arg mp_event_arg(mp_event *e) {
    return mp__obj_arg(MP_OBJ_EVENT, e);
}
static inline mp_arg mp_cond_arg(mp_cond *c) {
    return mp__obj_arg(MP_OBJ_COND, c);
}
static inline mp_arg mp_barrier_arg(mp_barrier *b) {
    return mp__obj_arg(MP_OBJ_BARRIER, b);
}
/** @} */

/** The object an argument carries, or NULL when it carries another kind.
 * @{ */
static inline mp_sem *mp_arg_sem(const mp_arg *a) {
    return (mp_sem *)mp_arg_obj(a, MP_OBJ_SEM);
}
static inline mp_lock *mp_arg_lock(const mp_arg *a) {
    return (mp_lock *)mp_arg_obj(a, MP_OBJ_LOCK);
}
static inline mp_event *mp_arg_event(const mp_arg *a) {
    return (mp_event *)mp_arg_obj(a, MP_OBJ_EVENT);
}
static inline mp_cond *mp_arg_cond(const mp_arg *a) {
    return (mp_cond *)mp_arg_obj(a, MP_OBJ_COND);
}
static inline mp_barrier *mp_arg_barrier(const mp_arg *a) {
    return (mp_barrier *)mp_arg_obj(a, MP_OBJ_BARRIER);
}
/** @} */

#ifdef __cplusplus
}
#endif
#endif
