/* Pool results (Python's AsyncResult / MapResult) and imap iterators:
 * pool_result.c. The handler completes them; callers wait and read. */
#ifndef MP_COMMON_POOL_RESULT_H
#define MP_COMMON_POOL_RESULT_H

#include "pool/pool_sched.h"

/* One task's outcome, as the handler records it (mp_task_info without the
 * copy of the message). */
typedef struct mp__task_out {
    int status, code;
    long worker_pid;
    int worker_exit;
    const char *msg; /* msg_len bytes, not NUL-terminated; NULL when none */
    uint32_t msg_len;
} mp__task_out;

/* One task's outcome inside a result. `data` holds the result's bytes
 * (data.len of them), a NUL, then the message's msg_len bytes and a NUL. */
typedef struct mp__pool_entry {
    int32_t status, code, worker_exit;
    uint32_t msg_len;
    long worker_pid;
    mp_buf data; /* cap 0: data points at `small` (or is NULL: nothing) */
    uint8_t small[16];
} mp__pool_entry;

typedef enum mp__result_kind {
    MP__RESULT_APPLY, /* one task; get copies its bytes */
    MP__RESULT_MAP,   /* n tasks; read with mp_result_item */
    MP__RESULT_IMAP   /* a map read one task at a time (mp_imap_next): its
                         waiters are woken as each task completes */
} mp__result_kind;

struct mp_result {
    mp_pool *pool;
    mp__result_kind kind;
    size_t n, ndone;
    mp__pool_entry *e;
    size_t *order; /* completion order (imap_unordered) */
    mp_result_options cb;
    bool complete; /* every entry final (callbacks may still run) */
    MP__ATOMIC(uint32_t) ready;  /* complete and callbacks done */
    bool user_freed;             /* the caller let go; free on completion */
    struct mp_result *next_done; /* handler's list of completions */
};

struct mp_imap {
    mp_result *r;
    bool unordered;
    size_t next;
    size_t last; /* 1 + the index mp_imap_next returned last, or 0 */
};

int mp__result_new(mp_pool *p, mp__result_kind kind, size_t n,
                   const mp_result_options *opts, mp_result **out);
/* Records call i's outcome (lock held); true when r became complete. */
bool mp__result_set(mp_result *r, size_t i, const mp__task_out *info,
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
