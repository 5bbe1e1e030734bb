/* Queue: a crash-safe multi-producer multi-consumer ring of variable-length
 * items in one shared mapping.
 *
 * Layout: a header of cache lines, then the ring. Positions in the ring are
 * counted in 8-byte units modulo 2^32 (the ring size is a power of two, so a
 * position maps to an offset with a mask). Each item is a record
 * [u32 len | u32 seq | payload padded to 8], which may wrap around the end.
 *
 * The whole state of each side is one 64-bit word, (item count << 32) |
 * position: `prod` (written only by the producer holding pmutex) and `cons`
 * (written only by the consumer holding cmutex). A producer writes the
 * record first and then publishes it with a single release store of `prod`;
 * a consumer copies the record out and then frees it with a single store of
 * `cons`. So a process killed anywhere leaves either the old word or the
 * new one: a half-written record was never published, a half-read record is
 * still in the queue, and the robust mutex's next owner (MP_EOWNERDEAD) has
 * nothing to repair. Producers and consumers take different mutexes, so one
 * producer and one consumer never contend, and each side keeps a snapshot
 * of the other's word in a line of its own to touch the shared lines only
 * when the snapshot says full (or empty).
 *
 * Sleeping uses the os layer's wait-on-address on event counters bumped
 * after each publish (put_ev) and each free (get_ev). Sleeps are cut into
 * slices, so that a wake-up lost with a process killed just after being
 * woken delays the others by one slice, never forever. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obj/queue_internal.h"
#include "obj/shobj.h"
#include "util/wait_policy.h"

#define Q_DEFAULT_RING (1u << 20)
#define Q_MIN_RING 4096u
#define Q_MAX_RING (1u << 30)
#define Q_LINE 64

enum { M_PROD, M_CONS, N_MUTEX };
enum { Q_OPEN, Q_CLOSING, Q_CLOSED };
enum { W_ITEMS, W_SPACE, W_JOIN, N_WAIT };

typedef struct qhdr {
    /* Read-mostly: set up once, then `closed` goes from Q_OPEN to
     * Q_CLOSING (no put may start) to Q_CLOSED (none is in progress). */
    _Alignas(Q_LINE) uint32_t ring_units;
    uint32_t maxsize;
    MP__ATOMIC(uint32_t) closed;
    /* Producers publish here; consumers read it. */
    _Alignas(Q_LINE) MP__ATOMIC(uint64_t) prod;
    MP__ATOMIC(uint32_t) put_ev;
    /* Consumers free here; producers read it. */
    _Alignas(Q_LINE) MP__ATOMIC(uint64_t) cons;
    MP__ATOMIC(uint32_t) get_ev;
    /* Producers' snapshot of cons (under pmutex). */
    _Alignas(Q_LINE) MP__ATOMIC(uint64_t) cons_seen;
    /* Consumers' snapshot of prod (under cmutex). */
    _Alignas(Q_LINE) MP__ATOMIC(uint64_t) prod_seen;
    /* JoinableQueue: items marked done. */
    _Alignas(Q_LINE) MP__ATOMIC(uint32_t) done;
    _Alignas(Q_LINE) unsigned char mutex[N_MUTEX][MP__OS_MUTEX_SIZE];
    _Alignas(Q_LINE) unsigned char wait[N_WAIT][MP__OS_WAIT_SIZE];
} qhdr;

/* The mapping: [object header][qhdr][ring]. */
#define Q_HDR MP__SHOBJ_HDR
#define Q_RING_OFFSET (Q_HDR + ((sizeof(qhdr) + 255) & ~(size_t)255))

struct mp_queue {
    mp__shobj obj;
    qhdr *h;
    unsigned char *ring;
    uint32_t units; /* ring size in 8-byte units */
    bool spin;      /* this process may spin (mp__spin_ok when opened) */
    mp__os_mutex *mx[N_MUTEX];
    mp__os_wait *wt[N_WAIT];
};

/* ---- state words ---- */

static inline uint32_t w_seq(uint64_t w) { return (uint32_t)(w >> 32); }
static inline uint32_t w_pos(uint64_t w) { return (uint32_t)w; }
static inline uint64_t w_make(uint32_t seq, uint32_t pos) {
    return ((uint64_t)seq << 32) | pos;
}
static inline uint32_t rec_units(size_t len) {
    return 1 + (uint32_t)((len + 7) / 8);
}

/* ---- ring copies (a record may wrap around the end) ---- */

/* Byte offset of a position in units, and of a byte past it. */
static inline size_t ring_off(const mp_queue *q, uint32_t pos) {
    return (size_t)(pos & (q->units - 1)) * 8;
}

/* Copies n bytes in at byte offset off; returns the offset after them. */
static size_t ring_write(mp_queue *q, size_t off, const void *src, size_t n) {
    size_t size = (size_t)q->units * 8;
    size_t first = n < size - off ? n : size - off;
    memcpy(q->ring + off, src, first);
    memcpy(q->ring, (const unsigned char *)src + first, n - first);
    return (off + n) & (size - 1);
}

static size_t ring_read(const mp_queue *q, size_t off, void *dst, size_t n) {
    size_t size = (size_t)q->units * 8;
    size_t first = n < size - off ? n : size - off;
    memcpy(dst, q->ring + off, first);
    memcpy((unsigned char *)dst + first, q->ring, n - first);
    return (off + n) & (size - 1);
}

/* ---- locks and sleeps ---- */

/* Takes a side's mutex. A dead previous owner needs no repair (see the top
 * of the file), so MP_EOWNERDEAD is success here. The wait is bounded by the
 * caller's deadline; a non-blocking call waits a little for a holder (which
 * holds it for one copy) and then gives up with MP_EAGAIN: a holder that is
 * stopped or hung never blocks it. */
static int lock_side(mp_queue *q, int side, mp__deadline dl) {
    int rc = mp__os_mutex_lock(q->mx[side], dl);
    if (dl == MP__DL_NOW && (rc == MP_EAGAIN || rc == MP_ETIMEDOUT))
        /* Held: now, and only now, read the clock for the grace. */
        rc = mp__os_mutex_lock(q->mx[side],
                               mp__deadline_in(MP__NOWAIT_LOCK_MS));
    if (rc == MP_ETIMEDOUT || rc == MP_EAGAIN)
        return mp__deadline_err(dl);
    return rc == MP_EOWNERDEAD ? 0 : rc;
}

static void unlock_side(mp_queue *q, int side) {
    mp__os_mutex_unlock(q->mx[side]);
}

/* With pmutex held: a close begun (Q_CLOSING) is complete, since no put is
 * in progress but ours, which has published or will not. True when it was
 * completed here (the caller then wakes every getter). */
static bool seal_close(qhdr *h) {
    /* A plain load first: a CAS on every put would take the read-mostly
     * line away from the getters each time. */
    uint32_t c = Q_CLOSING;
    return mp__load32(&h->closed, MP__RELAXED) == Q_CLOSING &&
           mp__cas32(&h->closed, &c, Q_CLOSED, MP__SEQ_CST);
}

/* Sleeps on ev (last seen as `seen`) for at most a slice with the side's
 * mutex released, then takes it again. 0 to try again (mutex held), or the
 * error that ends the call (mutex released). */
static int sleep_on(mp_queue *q, int side, int w, MP__ATOMIC(uint32_t) * ev,
                    uint32_t seen, mp__deadline dl) {
    unlock_side(q, side);
    if (mp__deadline_passed(dl))
        return mp__deadline_err(dl);
    mp__os_wait_on(q->wt[w], (const void *)ev, seen,
                   mp__slice_end(dl, MP__SLEEP_SLICE_MS));
    return lock_side(q, side, dl);
}

/* ---- put ---- */

static bool fits(const mp_queue *q, uint64_t p, uint64_t c, uint32_t need) {
    uint32_t used = w_pos(p) - w_pos(c);
    if (q->units - used < need)
        return false;
    uint32_t max = q->h->maxsize;
    return !max || w_seq(p) - w_seq(c) < max;
}

/* With pmutex held, waits until a record of `need` units fits. 0 with *p
 * the current prod word and pmutex held; else an error, pmutex released. */
static int wait_room(mp_queue *q, uint32_t need, uint64_t *p,
                     mp__deadline dl) {
    qhdr *h = q->h;
    for (mp__spin spin = MP__SPIN_START;;) {
        if (mp__load32(&h->closed, MP__ACQUIRE)) {
            bool sealed = seal_close(h);
            unlock_side(q, M_PROD);
            if (sealed)
                mp__os_wake(q->wt[W_ITEMS], (const void *)&h->put_ev,
                            INT32_MAX);
            return MP_ECLOSED;
        }
        *p = mp__load64(&h->prod, MP__RELAXED);
        uint64_t c = mp__load64(&h->cons_seen, MP__RELAXED);
        if (fits(q, *p, c, need))
            return 0;
        /* Read the event before the state: a free after this read changes
         * the event, so the sleep below cannot miss it. */
        uint32_t seen = mp__load32(&h->get_ev, MP__SEQ_CST);
        c = mp__load64(&h->cons, MP__ACQUIRE);
        mp__store64(&h->cons_seen, c, MP__RELAXED);
        if (fits(q, *p, c, need))
            return 0;
        if (dl != MP__DL_NOW && q->spin &&
            mp__spin_more(&spin, MP__SPIN_QUEUE_NS))
            continue;
        int rc = sleep_on(q, M_PROD, W_SPACE, &h->get_ev, seen, dl);
        if (rc)
            return rc;
        spin = MP__SPIN_START;
    }
}

int mp__queue_putv(mp_queue *q, const mp__qvec *v, size_t n, mp__deadline dl) {
    size_t len = 0;
    if (!q || (n && !v))
        return MP_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].ptr && v[i].len)
            return MP_EINVAL;
        if (v[i].len > SIZE_MAX - len)
            return MP_EMSGSIZE;
        len += v[i].len;
    }
    if (len > mp_queue_max_item(q))
        return MP_EMSGSIZE;
    qhdr *h = q->h;
    uint64_t p;
    uint32_t need = rec_units(len);
    /* Closed or closing: no need to wait for the side to say so. */
    if (mp__load32(&h->closed, MP__ACQUIRE))
        return MP_ECLOSED;
    int rc = lock_side(q, M_PROD, dl);
    if (rc || (rc = wait_room(q, need, &p, dl)))
        return rc;
    uint32_t hdr[2] = {(uint32_t)len, w_seq(p)};
    size_t off = ring_write(q, ring_off(q, w_pos(p)), hdr, sizeof hdr);
    for (size_t i = 0; i < n; i++)
        if (v[i].len)
            off = ring_write(q, off, v[i].ptr, v[i].len);
    /* Publish: the record becomes visible with this one store. */
    mp__store64(&h->prod, w_make(w_seq(p) + 1, w_pos(p) + need), MP__RELEASE);
    bool sealed = seal_close(h);
    mp__fetch_add32(&h->put_ev, 1, MP__SEQ_CST);
    unlock_side(q, M_PROD);
    mp__os_wake(q->wt[W_ITEMS], (const void *)&h->put_ev,
                sealed ? INT32_MAX : 1);
    return 0;
}

int mp_queue_put(mp_queue *q, const void *ptr, size_t len, long timeout_ms) {
    mp__qvec v = {ptr, len};
    if (timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    return mp__queue_putv(q, &v, 1, mp__deadline_in(timeout_ms));
}

/* ---- get ---- */

/* With cmutex held, waits until an item is published. 0 with *c the cons
 * word and *p a prod word showing the item, cmutex held; else an error,
 * cmutex released. */
static int wait_item(mp_queue *q, uint64_t *c, uint64_t *p, mp__deadline dl) {
    qhdr *h = q->h;
    for (mp__spin spin = MP__SPIN_START;;) {
        /* Reloaded each time: others consume while we sleep unlocked. */
        uint64_t cw = *c = mp__load64(&h->cons, MP__RELAXED);
        *p = mp__load64(&h->prod_seen, MP__RELAXED);
        if (w_seq(*p) != w_seq(cw))
            return 0;
        uint32_t seen = mp__load32(&h->put_ev, MP__SEQ_CST);
        *p = mp__load64(&h->prod, MP__ACQUIRE);
        mp__store64(&h->prod_seen, *p, MP__RELAXED);
        if (w_seq(*p) != w_seq(cw))
            return 0;
        /* Q_CLOSED is set under pmutex after the last publish, so prod
         * read after seeing it is final. While a close waits for a put in
         * progress (Q_CLOSING), that put may still publish: if pmutex is
         * free now, nothing is in progress and we complete the close (we
         * only try: puts never take cmutex, so this cannot deadlock);
         * else wait on. */
        uint32_t closed = mp__load32(&h->closed, MP__ACQUIRE);
        if (closed == Q_CLOSING) {
            int lr = mp__os_mutex_lock(q->mx[M_PROD], MP__DL_NOW);
            if (lr == 0 || lr == MP_EOWNERDEAD) {
                seal_close(h);
                unlock_side(q, M_PROD);
                closed = Q_CLOSED;
            }
        }
        if (closed == Q_CLOSED) {
            *p = mp__load64(&h->prod, MP__ACQUIRE);
            if (w_seq(*p) != w_seq(cw))
                return 0;
            unlock_side(q, M_CONS);
            return MP_ECLOSED;
        }
        if (dl != MP__DL_NOW && q->spin &&
            mp__spin_more(&spin, MP__SPIN_QUEUE_NS))
            continue;
        int rc = sleep_on(q, M_CONS, W_ITEMS, &h->put_ev, seen, dl);
        if (rc)
            return rc;
        spin = MP__SPIN_START;
    }
}

int mp_queue_get(mp_queue *q, mp_buf *buf, long timeout_ms) {
    if (!q || !buf || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    qhdr *h = q->h;
    if (timeout_ms == 0) {
        /* A poll of an empty queue costs two loads, not the mutex: cons
         * is read first, so equal counts mean it was empty when prod was
         * read. */
        uint64_t cw = mp__load64(&h->cons, MP__ACQUIRE);
        uint64_t pw = mp__load64(&h->prod, MP__ACQUIRE);
        if (w_seq(pw) == w_seq(cw) && !mp__load32(&h->closed, MP__ACQUIRE))
            return MP_EAGAIN;
    }
    mp__deadline dl = mp__deadline_in(timeout_ms);
    uint64_t p;
    int rc = lock_side(q, M_CONS, dl);
    if (rc)
        return rc;
    uint64_t c;
    if ((rc = wait_item(q, &c, &p, dl)))
        return rc;
    uint32_t hdr[2];
    size_t off = ring_read(q, ring_off(q, w_pos(c)), hdr, sizeof hdr);
    uint32_t need = rec_units(hdr[0]);
    /* Only a foreign writer can make these false; refuse rather than copy
     * garbage or run past the published part. */
    if (hdr[1] != w_seq(c) || hdr[0] > mp_queue_max_item(q) ||
        need > w_pos(p) - w_pos(c)) {
        unlock_side(q, M_CONS);
        return MP_EPROTO;
    }
    if ((rc = mp__buf_reserve(buf, hdr[0]))) {
        unlock_side(q, M_CONS);
        return rc;
    }
    ring_read(q, off, buf->data, hdr[0]);
    mp__buf_set_len(buf, hdr[0]);
    /* Free: the record leaves the queue with this one store. */
    mp__store64(&h->cons, w_make(w_seq(c) + 1, w_pos(c) + need), MP__RELEASE);
    mp__fetch_add32(&h->get_ev, 1, MP__SEQ_CST);
    unlock_side(q, M_CONS);
    mp__os_wake(q->wt[W_SPACE], (const void *)&h->get_ev, INT32_MAX);
    return 0;
}

/* ---- size, close, join ---- */

size_t mp_queue_qsize(mp_queue *q) {
    if (!q)
        return 0;
    qhdr *h = q->h;
    /* cons unchanged across the read of prod: both held at that instant.
     * Bounded: a writer that never stops changing cons gets the last pair,
     * which is never negative. */
    uint32_t n = 0;
    for (int i = 0; i < MP__QSIZE_TRIES; i++) {
        uint64_t c = mp__load64(&h->cons, MP__SEQ_CST);
        uint64_t p = mp__load64(&h->prod, MP__SEQ_CST);
        n = w_seq(p) - w_seq(c);
        if (mp__load64(&h->cons, MP__SEQ_CST) == c)
            break;
    }
    return n > q->units ? 0 : n;
}

bool mp_queue_empty(mp_queue *q) { return mp_queue_qsize(q) == 0; }

bool mp_queue_full(mp_queue *q) {
    return q && q->h->maxsize && mp_queue_qsize(q) >= q->h->maxsize;
}

size_t mp_queue_max_item(const mp_queue *q) {
    return q ? (size_t)q->units * 8 - 8 : 0;
}

int mp_queue_close(mp_queue *q) {
    if (!q)
        return MP_EINVAL;
    qhdr *h = q->h;
    /* The flag first: a put that takes the producer side after this sees
     * it. Then through pmutex, so that no put in progress publishes after
     * close returns; a producer that keeps it (stopped, hung) past the
     * bound makes this MP_ETIMEDOUT, the queue closed all the same (that
     * producer completes the close when it lets go). */
    uint32_t open = Q_OPEN;
    mp__cas32(&h->closed, &open, Q_CLOSING, MP__SEQ_CST);
    int rc = lock_side(q, M_PROD, mp__deadline_in(MP__CLOSE_LOCK_MS));
    if (!rc) {
        seal_close(h);
        unlock_side(q, M_PROD);
    }
    mp__fetch_add32(&h->put_ev, 1, MP__SEQ_CST);
    mp__fetch_add32(&h->get_ev, 1, MP__SEQ_CST);
    mp__os_wake(q->wt[W_ITEMS], (const void *)&h->put_ev, INT32_MAX);
    mp__os_wake(q->wt[W_SPACE], (const void *)&h->get_ev, INT32_MAX);
    return rc;
}

int mp_queue_task_done(mp_queue *q) {
    if (!q)
        return MP_EINVAL;
    qhdr *h = q->h;
    uint32_t d = mp__load32(&h->done, MP__SEQ_CST);
    do {
        if (w_seq(mp__load64(&h->prod, MP__SEQ_CST)) == d)
            return MP_EOVERFLOW;
    } while (!mp__cas32(&h->done, &d, d + 1, MP__SEQ_CST));
    mp__os_wake(q->wt[W_JOIN], (const void *)&h->done, INT32_MAX);
    return 0;
}

int mp_queue_join(mp_queue *q, long timeout_ms) {
    if (!q || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    qhdr *h = q->h;
    mp__deadline dl = mp__deadline_in(timeout_ms);
    for (;;) {
        uint32_t d = mp__load32(&h->done, MP__SEQ_CST);
        if (w_seq(mp__load64(&h->prod, MP__SEQ_CST)) == d)
            return 0;
        if (mp__deadline_passed(dl))
            return mp__deadline_err(dl);
        mp__os_wait_on(q->wt[W_JOIN], (const void *)&h->done, d,
                       mp__slice_end(dl, MP__SLEEP_SLICE_MS));
    }
}

/* ---- set-up and tear-down ---- */

/* The ring size for a requested capacity, 0 when out of range. */
static size_t ring_size(size_t cap) {
    if (cap > Q_MAX_RING)
        return 0;
    size_t r = Q_MIN_RING;
    while (r < (cap ? cap : Q_DEFAULT_RING))
        r *= 2;
    return r;
}

/* param: {ring size in 8-byte units (a power of two), maxsize}. */
static size_t q_size(const uint64_t param[MP__NPARAM]) {
    uint64_t units = param[0];
    if (units < Q_MIN_RING / 8 || units > Q_MAX_RING / 8 ||
        (units & (units - 1)) || param[1] > INT32_MAX || param[2])
        return 0;
    return Q_RING_OFFSET + (size_t)units * 8;
}

static int q_bind(void *obj) {
    mp_queue *q = obj;
    q->h = mp__shobj_at(q, Q_HDR);
    q->units = (uint32_t)mp__shobj_param(q, 0);
    q->ring = mp__shobj_at(q, Q_RING_OFFSET);
    q->spin = mp__spin_ok();
    for (int i = 0; i < N_MUTEX; i++) {
        q->mx[i] = &mp__shobj_prim(q, (unsigned)i)->mx;
        /* Held for one record's copy: worth polling, unless this process
         * has one CPU to run on (the holder cannot run while we poll). */
        if (q->spin)
            mp__os_mutex_set_spin(q->mx[i], MP__SPIN_QUEUE_MUTEX);
    }
    for (int i = 0; i < N_WAIT; i++)
        q->wt[i] = &mp__shobj_prim(q, (unsigned)(N_MUTEX + i))->wt;
    return 0;
}

static void q_init(void *obj, const void *arg) {
    mp_queue *q = obj;
    (void)arg;
    q->h->ring_units = q->units;
    q->h->maxsize = (uint32_t)mp__shobj_param(q, 1);
}

#define Q_MUTEX(i) (Q_HDR + offsetof(qhdr, mutex) + (i)*MP__OS_MUTEX_SIZE)
#define Q_WAIT(i) (Q_HDR + offsetof(qhdr, wait) + (i)*MP__OS_WAIT_SIZE)

const mp__shkind mp__queue_kind = {
    .kind = MP_OBJ_QUEUE,
    .obj_size = sizeof(mp_queue),
    .size = q_size,
    .nprims = N_MUTEX + N_WAIT,
    .prims = {{MP__PRIM_MUTEX, Q_MUTEX(M_PROD), "pm"},
              {MP__PRIM_MUTEX, Q_MUTEX(M_CONS), "cm"},
              {MP__PRIM_WAIT, Q_WAIT(W_ITEMS), "wi"},
              {MP__PRIM_WAIT, Q_WAIT(W_SPACE), "ws"},
              {MP__PRIM_WAIT, Q_WAIT(W_JOIN), "wj"}},
    .bind = q_bind,
    .init = q_init,
};

int mp_queue_new(mp_queue **qq, size_t maxsize, const mp_queue_options *opts) {
    static const mp_queue_options defaults = {0};
    if (!qq)
        return MP_EINVAL;
    *qq = NULL;
    if (!opts)
        opts = &defaults;
    size_t ring = ring_size(opts->capacity_bytes);
    if (!ring || maxsize > INT32_MAX)
        return MP_EINVAL;
    mp__shobj_req req = {
        .name = opts->name,
        .exclusive = true,
        .param = {ring / 8, maxsize},
    };
    return mp__shobj_new((void **)qq, &mp__queue_kind, &req);
}

int mp_queue_open(mp_queue **qq, const char *name) {
    if (!qq)
        return MP_EINVAL;
    *qq = NULL;
    mp__shobj_req req = {.name = name, .open_only = true};
    return name ? mp__shobj_new((void **)qq, &mp__queue_kind, &req)
                : MP_EINVAL;
}

void mp_queue_free(mp_queue *q) { mp__shobj_free(q); }
