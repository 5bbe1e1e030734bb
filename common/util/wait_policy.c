/* The wait policy's functions (wait_policy.h says why each exists). */
#include <apr_thread_proc.h>

#include "base/atomics.h"
#include "os/os_base.h"
#include "util/wait_policy.h"

bool mp__spin_ok(void) {
    /* Asked again each time: a process may be pinned to one CPU after it
     * started (the benchmarks' one-CPU rows do it after fork). */
    return mp__os_cpu_count() > 1;
}

bool mp__spin_more(mp__spin *s, uint64_t ns) {
    uint64_t now = mp__os_now_ns();
    if (!s->started) {
        s->end = now + ns;
        s->started = true;
    }
    if (now >= s->end)
        return false;
    mp__cpu_relax();
    return true;
}

int mp__poll_yield(int (*try_op)(void *arg), void *arg, uint64_t until) {
    int rc;
    do {
        apr_thread_yield();
        if ((rc = try_op(arg)) != MP_EAGAIN)
            return rc;
    } while (mp__os_now_ns() < until);
    return rc;
}

typedef struct op_call {
    int (*op)(void *, mp__deadline);
    void *x;
} op_call;

static int try_op(void *arg) {
    op_call *c = arg;
    return c->op(c->x, MP__DL_NOW);
}

int mp__poll_then_block_slow(int (*op)(void *x, mp__deadline d), void *x,
                             mp__deadline d) {
    /* The affinity mask is not consulted: a process pinned to one CPU may
     * still have its peers on others, and a yield pays on one CPU too. */
    op_call c = {op, x};
    int rc = mp__poll_yield(
        try_op, &c, mp__deadline_min(d, mp__os_now_ns() + MP__POLL_LOCK_NS));
    return rc != MP_EAGAIN ? rc : op(x, d);
}

int mp__backoff_wait(mp__backoff *b, mp__deadline d) {
    uint64_t left = mp__deadline_left_ns(d);
    if (left == 0)
        return mp__deadline_err(d);
    if (b->yields) {
        b->yields--;
        apr_thread_yield();
        return 0;
    }
    mp__os_sleep_ns(b->nap_ns < left ? b->nap_ns : left);
    b->nap_ns = b->nap_ns < b->max_ns / 2 ? 2 * b->nap_ns : b->max_ns;
    return 0;
}
