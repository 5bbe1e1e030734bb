/* mp_wait: Python's multiprocessing.connection.wait over connections and
 * process sentinels. */
#include <stdint.h>
#include <stdlib.h>

#include "conn/conn_internal.h"
#include "proc/process_internal.h"
#include "util/wait_policy.h"

typedef struct wait_set {
    mp__os_conn **conns;
    mp__handle *procs;
    size_t *conn_at, *proc_at; /* the item each entry came from */
    size_t nc, np;
    bool *ready;
    size_t *same; /* per item: the earlier item naming the same object, or
                     SIZE_MAX; only the first is waited for */
    bool polled;  /* some process has no handle */
} wait_set;

static void set_free(wait_set *s) {
    free(s->conns);
    free(s->procs);
    free(s->conn_at);
    free(s->proc_at);
    free(s->ready);
    free(s->same);
}

/* An item's object as the backend knows it, for finding the same object
 * listed twice. */
typedef struct wait_key {
    uintptr_t obj;
    size_t at;
} wait_key;

static int key_cmp(const void *a, const void *b) {
    const wait_key *x = a, *y = b;
    if (x->obj != y->obj)
        return x->obj < y->obj ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Marks every item that repeats an earlier one. Each object is waited for
 * once: a connection listed twice would start two reads on its one
 * OVERLAPPED on Windows, and WaitForMultipleObjects refuses a handle given
 * twice. Sorted, so that a long list costs n log n, not n squared. */
static int find_repeats(wait_set *s, const mp_wait_item *items, size_t n) {
    wait_key *k = malloc(n * sizeof *k);
    if (!k)
        return MP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        k[i].obj = (uintptr_t)items[i].obj;
        k[i].at = i;
        s->same[i] = SIZE_MAX;
    }
    qsort(k, n, sizeof *k, key_cmp);
    for (size_t i = 1; i < n; i++) {
        if (k[i].obj == k[i - 1].obj)
            s->same[k[i].at] = s->same[k[i - 1].at] == SIZE_MAX
                                   ? k[i - 1].at
                                   : s->same[k[i - 1].at];
    }
    free(k);
    return 0;
}

static int set_add(wait_set *s, mp_wait_item *it, size_t i) {
    if (!it->obj)
        return MP_EINVAL;
    if (it->kind == MP_WAIT_CONN) {
        mp_conn *c = it->obj;
        if (!c->os)
            return MP_ECLOSED;
        if (!c->readable)
            return MP_ESTATE;
        s->conn_at[s->nc] = i;
        s->conns[s->nc++] = c->os;
        return 0;
    }
    if (it->kind != MP_WAIT_PROCESS)
        return MP_EINVAL;
    mp__handle h;
    int rc = mp__process_sentinel(it->obj, &h);
    if (rc)
        return rc;
    if (h == MP__BAD_HANDLE) {
        s->polled = true;
        return 0;
    }
    s->proc_at[s->np] = i;
    s->procs[s->np++] = h;
    return 0;
}

static int set_build(wait_set *s, mp_wait_item *items, size_t n) {
    size_t k = n ? n : 1;
    s->conns = malloc(k * sizeof *s->conns);
    s->procs = malloc(k * sizeof *s->procs);
    s->conn_at = malloc(k * sizeof *s->conn_at);
    s->proc_at = malloc(k * sizeof *s->proc_at);
    s->ready = malloc(k * sizeof *s->ready);
    s->same = malloc(k * sizeof *s->same);
    if (!s->conns || !s->procs || !s->conn_at || !s->proc_at || !s->ready ||
        !s->same)
        return MP_ENOMEM;
    int rc = find_repeats(s, items, n);
    for (size_t i = 0; !rc && i < n; i++) {
        items[i].ready = false;
        /* A repeat is checked as its first is, and then left out. */
        if (s->same[i] != SIZE_MAX)
            rc = items[i].kind == items[s->same[i]].kind ? 0 : MP_EINVAL;
        else
            rc = set_add(s, &items[i], i);
    }
    return rc;
}

/* Each repeat is ready when its first is. */
static void copy_repeats(const wait_set *s, mp_wait_item *items, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s->same[i] != SIZE_MAX)
            items[i].ready = items[s->same[i]].ready;
}

/* Marks processes without a handle that have ended; how many. */
static size_t check_polled(mp_wait_item *items, size_t n) {
    size_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        mp__handle h;
        if (items[i].kind == MP_WAIT_PROCESS &&
            mp__process_sentinel(items[i].obj, &h) == 0 &&
            h == MP__BAD_HANDLE && mp_process_is_alive(items[i].obj) == 0) {
            items[i].ready = true;
            hits++;
        }
    }
    return hits;
}

static int wait_set_run(wait_set *s, mp_wait_item *items, size_t n,
                        mp__deadline d) {
    for (;;) {
        mp__deadline slice = d;
        size_t hits = s->polled ? check_polled(items, n) : 0;
        if (hits || (s->polled && d != MP__DL_NOW && mp__deadline_passed(d)))
            slice = MP__DL_NOW;
        else if (s->polled)
            slice = mp__slice_end(d, MP__POLL_SENTINEL_MS);
        int rc = mp__os_conn_wait_any(s->conns, s->nc, s->procs, s->np, slice,
                                      s->ready);
        if (rc && rc != MP_EAGAIN && rc != MP_ETIMEDOUT)
            return rc;
        for (size_t i = 0; i < s->nc + s->np; i++) {
            if (s->ready[i]) {
                size_t at = i < s->nc ? s->conn_at[i] : s->proc_at[i - s->nc];
                items[at].ready = true;
                hits++;
            }
        }
        if (hits) {
            copy_repeats(s, items, n);
            return 0;
        }
        if (slice == d || slice == MP__DL_NOW)
            return d == MP__DL_NOW ? MP_EAGAIN : MP_ETIMEDOUT;
    }
}

int mp_wait(mp_wait_item *items, size_t n, long timeout_ms) {
    if (!items || n == 0 || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    wait_set s = {0};
    int rc = set_build(&s, items, n);
    if (!rc)
        rc = wait_set_run(&s, items, n, mp__deadline_in(timeout_ms));
    set_free(&s);
    return rc;
}
