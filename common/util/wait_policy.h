/* How mproc waits: the one policy of spinning, yielding and sleeping, with
 * every constant that tunes it and the reasons for each.
 *
 * Why poll at all: on the machines this is measured on (a 2-vCPU VM), a
 * thread that sleeps in the kernel takes tens to hundreds of microseconds
 * to be woken once its CPU has gone idle, and its waker pays a system call.
 * A release, a publish or a result from a peer running on another CPU
 * comes within a microsecond or so. So every wait that is usually short
 * first looks again for a bounded time, and only then sleeps.
 *
 * Two ways to look again:
 * - spin (mp__spin_more): a CPU pause between looks. Cheapest for state
 *   that only the peer writes (a queue's published word), but a spinner
 *   pulls a shared line away from its writer, so it is never used on a
 *   lock the caller's own code holds. Never with one usable CPU
 *   (mp__spin_ok), where the peer cannot run while we spin.
 * - yield (mp__poll_yield): give the CPU away between looks. A peer that
 *   shares our CPU runs first, so this pays on one CPU too, and the line
 *   is touched once per round.
 *
 * Sleeps that may miss a wake-up (a waker killed between its change and
 * its wake) are cut into slices, so a lost wake-up costs one slice.
 *
 * A state that nobody wakes us for (a word polled where there is no futex,
 * a child with no handle, a full backlog, a name being made) is waited for
 * with a back-off (mp__backoff_wait): sleeps that grow, so that a change
 * that comes soon is seen soon and a long wait costs few wake-ups. The
 * backends supply only the sleep (mp__os_sleep_ns).
 *
 * Every wait is bounded by the caller's deadline (clock.h); none of these
 * constants changes what a call returns, only what it costs. */
#ifndef MP_COMMON_WAIT_POLICY_H
#define MP_COMMON_WAIT_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/clock.h"

/* Semaphore and Lock acquire: poll with yields this long before sleeping
 * (bench_sync: two-process ping-pong ~1 us instead of 50-65 us). */
#define MP__POLL_LOCK_NS 20000u

/* Queue put and get: spin this long on a full (empty) queue before
 * sleeping: about the time a peer takes to copy a 64 KiB item, so
 * streaming never pays a sleep and a wake-up per item, and short enough to
 * cost little when the queue really is idle. */
#define MP__SPIN_QUEUE_NS 50000u

/* Rounds a contended queue side mutex is polled (a CPU pause each) before
 * sleeping: it is held for one copy, and two pool workers posting results
 * meet there. */
#define MP__SPIN_QUEUE_MUTEX 200u

/* How long a call that must not wait (timeout 0) waits for a side lock of
 * a queue, or a barrier's mutex, that another process holds: holders keep
 * it for one copy or one update, so this rides over a peer in mid-copy, and
 * a holder that is stopped or hung costs a non-blocking call no more than
 * this (MP_EAGAIN). */
#define MP__NOWAIT_LOCK_MS 20L

/* How long mp_queue_close waits for a put in progress to leave the
 * producer side (close has no timeout of its own): a stopped or hung
 * producer makes close return MP_ETIMEDOUT, the queue closed all the same. */
#define MP__CLOSE_LOCK_MS 2000L

/* Rounds of a lock-free read of a queue's two counters (mp_queue_qsize)
 * before it settles for the last pair read: another process that keeps
 * writing them cannot hold the caller forever. */
#define MP__QSIZE_TRIES 1000

/* Slices of the queue's sleeps (see above: a lost wake-up costs one). */
#define MP__SLEEP_SLICE_MS 250L

/* Slices of win32's wait-on-address (win32/os_sync.c): its wake-up is a
 * semaphore token, which is not tied to a waiter, so one that starts
 * waiting after the post can take ours; we look at the word between
 * slices, and such a theft costs one. */
#define MP__SLICE_WAIT_ON_MS 50L

/* Slices of a wait on a child's sentinel pipe outside Linux
 * (posix/os_proc.c): a fork outside our control may have inherited the
 * pipe and keep it open after the child ended, so the child itself is
 * looked at between slices. */
#define MP__SLICE_SENTINEL_MS 100L

/* The end of a slice of `slice_ms` of a wait until d (d if sooner). */
static inline mp__deadline mp__slice_end(mp__deadline d, long slice_ms) {
    return mp__deadline_min(d, mp__deadline_in(slice_ms));
}

/* The pool's three waits (a worker for its next task, the handler for the
 * next result, a caller for its result) poll with yields, with a window
 * that adapts (mp__poll_window_next). Polling keeps a round trip at a few
 * microseconds; a fixed window was not enough: once one wake-up was slow,
 * the other two threads' windows ran out too, each round trip paid three
 * wake-ups, and the pool stayed there (round trips of 15-300 us instead
 * of 5). So the window follows the waits: twice the last one, at least
 * the base and at most MP__POLL_POOL_MAX_NS, and back to the base after a
 * wait of MP__POLL_POOL_MAX_NS or more, which is idleness rather than a
 * hand-over. */
#define MP__POLL_POOL_MAX_NS 500000u
#define MP__POLL_POOL_GET_NS 50000u  /* base: a worker, the handler */
#define MP__POLL_POOL_WAIT_NS 20000u /* base: mp_result_wait's caller */

/* The pool's lock (held for one batch of the handler) is polled this many
 * rounds (a CPU pause each) before sleeping, when mp__spin_ok. */
#define MP__SPIN_POOL_LOCK 1000

/* The window after a wait of waited_ns, for a wait whose base is base. */
static inline uint32_t mp__poll_window_next(uint64_t waited_ns,
                                            uint32_t base) {
    if (waited_ns >= MP__POLL_POOL_MAX_NS || 2 * waited_ns <= base)
        return base;
    return 2 * waited_ns < MP__POLL_POOL_MAX_NS ? (uint32_t)(2 * waited_ns)
                                                : MP__POLL_POOL_MAX_NS;
}

/* mp_wait over a process the platform gives no waitable handle: its end
 * is checked between slices of this length of waiting on the rest. */
#define MP__POLL_SENTINEL_MS 10

/* Whether spinning can help: false with one usable CPU. A system call:
 * objects ask once, when a process opens them, and keep the answer. */
bool mp__spin_ok(void);

/* A bounded spin. Its end is set by its first step, so a wait that needs
 * no spin never reads the clock; `started` says whether it has been (no
 * time value doubles as "unset": 0 is the deadline "now"). */
typedef struct mp__spin {
    uint64_t end;
    bool started;
} mp__spin;
#define MP__SPIN_START ((mp__spin){0, false})

/* A spin step: false once `ns` have passed since s's first step, else a
 * CPU pause and true. Callers spin only where their mp__spin_ok() answer
 * allows. */
bool mp__spin_more(mp__spin *s, uint64_t ns);

/* Polls with yields: calls try_op(arg) (0 or an error: done; MP_EAGAIN:
 * not yet), giving the CPU away before each call, until it is done or the
 * clock passes `until`. Returns try_op's last result. */
int mp__poll_yield(int (*try_op)(void *arg), void *arg, uint64_t until);

/* A blocking acquire of a Semaphore or Lock: op(x, MP__DL_NOW) first, then
 * polled with yields for MP__POLL_LOCK_NS (never past d), then op(x, d)
 * sleeping. Returns op's result. */
int mp__poll_then_block_slow(int (*op)(void *x, mp__deadline d), void *x,
                             mp__deadline d);
/* Inline: the uncontended acquire is the hot path of every lock (and the
 * deadline of MP_INFINITE or 0 costs no clock read). */
static inline int mp__poll_then_block(int (*op)(void *x, mp__deadline d),
                                      void *x, mp__deadline d) {
    int rc = op(x, MP__DL_NOW);
    if (rc != MP_EAGAIN || d == MP__DL_NOW)
        return rc;
    return mp__poll_then_block_slow(op, x, d);
}

/* ---- back-off ----
 * A wait for a state that nobody wakes us for: look, and while it is not
 * there, mp__backoff_wait and look again. Each step yields (the first
 * `yields` steps) or sleeps, the sleeps doubling from the first to the
 * longest, every one cut at the deadline. A back-off is one of the shapes
 * below, started afresh for each wait: mp__backoff b = MP__BACKOFF_WORD; */
typedef struct mp__backoff {
    uint32_t yields; /* yields left before the first sleep */
    uint64_t nap_ns; /* the next sleep */
    uint64_t max_ns; /* the longest sleep */
} mp__backoff;
#define MP__BACKOFF(yields, first_ns, max_ns)                                 \
    ((mp__backoff){(yields), (first_ns), (max_ns)})

/* A word polled between processes on POSIX's portable path (semaphores,
 * mutexes and wait-on-address with no futex, posix/portable/os_sync.c): a
 * release from a peer on another CPU comes within microseconds, so a few
 * yields first, then sleeps from 20 us doubling to 1 ms: no spinning, and
 * a change is seen within a millisecond. */
#define MP__BACKOFF_WORD MP__BACKOFF(4, 20000u, 1000000u)

/* How often such a waiter for a mutex asks whether its owner process is
 * gone (a system call or two, os_posix.h): a dead owner costs its waiters
 * at most this long. */
#define MP__PROBE_OWNER_NS 5000000u

/* A child's end where there is no handle to wait on, or its sentinel pipe
 * ended just before it can be reaped (posix/os_proc.c polls
 * waitid(WNOWAIT)): an exit takes a millisecond or more, and a join may
 * learn of it up to 10 ms late. */
#define MP__BACKOFF_CHILD MP__BACKOFF(0, 1000000u, 10000000u)

/* A connect that finds the listener's backlog full (posix/os_conn.c): the
 * backlog drains as fast as the listener accepts, 1 ms doubling to 16 ms. */
#define MP__BACKOFF_CONNECT MP__BACKOFF(0, 1000000u, 16000000u)

/* A named object that another process is making, or removing, as we open
 * it (common/shobj.c): a creator takes microseconds, so every millisecond;
 * only a stopped creator makes this last. */
#define MP__BACKOFF_NAME MP__BACKOFF(0, 1000000u, 1000000u)

/* A listener's flock on its socket's directory (posix/os_conn.c): other
 * mproc listeners hold it for one bind and listen, but anyone who can open
 * the directory (on /tmp: every user) may hold it forever. So it is tried
 * every millisecond for MP__LOCK_DIR_MS at most; a listener that did not
 * get it takes over no leftover socket file (MP_EEXIST). */
#define MP__BACKOFF_LOCK_DIR MP__BACKOFF(2, 1000000u, 1000000u)
#define MP__LOCK_DIR_MS 100L

/* The creation guard of a named mapping (os_shm.h) that another process
 * holds: a creator until it publishes, an opener or closer for a few
 * checks. A fresh name's creator and the last closer (which removes the
 * name) wait for it, every millisecond, for MP__GUARD_MS at most: a
 * process of ours stopped or hung while it holds one costs them this, not
 * forever (the creator then says MP_EAGAIN and removes nothing; the closer
 * leaves the name for the next sweep to reclaim). */
#define MP__BACKOFF_GUARD MP__BACKOFF(2, 1000000u, 1000000u)
#define MP__GUARD_MS 2000L

/* How many times a create starts again because the name changed under it
 * (removed or remade by another process between its open and its lock):
 * a race lost that often is a process that keeps remaking the name. */
#define MP__CREATE_TRIES 100

/* A wait that failed for no reason known to us (the pool's monitor,
 * common/pool_handler.c): tried again every 10 ms, so that it never
 * spins. */
#define MP__BACKOFF_FAULT MP__BACKOFF(0, 10000000u, 10000000u)

/* One step of b: mp__deadline_err(d) once d has passed (nothing slept),
 * else a yield or a sleep (never past d) and 0. */
int mp__backoff_wait(mp__backoff *b, mp__deadline d);

#endif
