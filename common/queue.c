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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "objtype.h"
#include "os_shm.h"
#include "os_sync.h"
#include "queue_internal.h"

#define Q_MAGIC 0x6d705175u /* "uQpm" */
#define Q_VERSION 1u
#define Q_DEFAULT_RING (1u << 20)
#define Q_MIN_RING 4096u
#define Q_MAX_RING (1u << 30)
#define Q_NAME_MAX (MP__OS_NAME_MAX - 10)
#define Q_LINE 64

enum { M_PROD, M_CONS, N_MUTEX };
enum { W_ITEMS, W_SPACE, W_JOIN, N_WAIT };

typedef struct qhdr {
    /* Read-mostly: set up once, then `closed` changes once. */
    _Alignas(Q_LINE) _Atomic uint32_t magic; /* set last by the creator */
    uint32_t version;
    uint32_t ring_units;
    uint32_t maxsize;
    _Atomic uint32_t users;  /* named queues: handles from new/open */
    _Atomic uint32_t closed;
    /* Producers publish here; consumers read it. */
    _Alignas(Q_LINE) _Atomic uint64_t prod;
    _Atomic uint32_t put_ev;
    /* Consumers free here; producers read it. */
    _Alignas(Q_LINE) _Atomic uint64_t cons;
    _Atomic uint32_t get_ev;
    /* Producers' snapshot of cons (under pmutex). */
    _Alignas(Q_LINE) _Atomic uint64_t cons_seen;
    /* Consumers' snapshot of prod (under cmutex). */
    _Alignas(Q_LINE) _Atomic uint64_t prod_seen;
    /* JoinableQueue: items marked done. */
    _Alignas(Q_LINE) _Atomic uint32_t done;
    _Alignas(Q_LINE) unsigned char mutex[N_MUTEX][MP__OS_MUTEX_SIZE];
    _Alignas(Q_LINE) unsigned char wait[N_WAIT][MP__OS_WAIT_SIZE];
} qhdr;

#define Q_RING_OFFSET ((sizeof(qhdr) + 255) & ~(size_t)255)

struct mp_queue {
    mp__shm shm;
    qhdr *h;
    unsigned char *ring;
    uint32_t units; /* ring size in 8-byte units */
    mp__os_mutex mx[N_MUTEX];
    mp__os_wait wt[N_WAIT];
    char *name;     /* named queues: the name, counted in users */
    long owner_pid; /* the process whose handle counts in users */
};

static const char *const sync_suffix[N_MUTEX + N_WAIT] = {".pm", ".cm", ".wi",
                                                          ".ws", ".wj"};

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
 * caller's deadline; a non-blocking call still waits for a holder, which
 * only ever holds it for one copy. */
static int lock_side(mp_queue *q, int side, mp__deadline dl) {
    int rc = mp__os_mutex_lock(&q->mx[side],
                               dl == MP__DL_NOW ? MP__DL_FOREVER : dl);
    return rc == MP_EOWNERDEAD ? 0 : rc;
}

static void unlock_side(mp_queue *q, int side) {
    mp__os_mutex_unlock(&q->mx[side]);
}

/* Sleeps on ev (last seen as `seen`) for at most a slice with the side's
 * mutex released, then takes it again. 0 to try again (mutex held), or the
 * error that ends the call (mutex released). */
static int sleep_on(mp_queue *q, int side, int w, _Atomic uint32_t *ev,
                    uint32_t seen, mp__deadline dl) {
    unlock_side(q, side);
    if (mp__deadline_passed(dl))
        return mp__deadline_err(dl);
    mp__os_wait_on(&q->wt[w], (const void *)ev, seen,
                   mp__deadline_min(dl, mp__deadline_in(MP__SLEEP_SLICE_MS)));
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
    for (uint64_t spin_until = 0;;) {
        if (atomic_load_explicit(&h->closed, memory_order_acquire)) {
            unlock_side(q, M_PROD);
            return MP_ECLOSED;
        }
        *p = atomic_load_explicit(&h->prod, memory_order_relaxed);
        uint64_t c = atomic_load_explicit(&h->cons_seen, memory_order_relaxed);
        if (fits(q, *p, c, need))
            return 0;
        /* Read the event before the state: a free after this read changes
         * the event, so the sleep below cannot miss it. */
        uint32_t seen = atomic_load(&h->get_ev);
        c = atomic_load_explicit(&h->cons, memory_order_acquire);
        atomic_store_explicit(&h->cons_seen, c, memory_order_relaxed);
        if (fits(q, *p, c, need))
            return 0;
        if (dl != MP__DL_NOW && mp__spin_more(&spin_until, MP__SPIN_QUEUE_NS))
            continue;
        int rc = sleep_on(q, M_PROD, W_SPACE, &h->get_ev, seen, dl);
        if (rc)
            return rc;
        spin_until = 0;
    }
}

int mp__queue_putv(mp_queue *q, const mp__qvec *v, size_t n, long timeout_ms) {
    size_t len = 0;
    if (!q || (n && !v) || timeout_ms < MP_INFINITE)
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
    mp__deadline dl = mp__deadline_in(timeout_ms);
    uint64_t p;
    uint32_t need = rec_units(len);
    int rc = lock_side(q, M_PROD, dl);
    if (rc || (rc = wait_room(q, need, &p, dl)))
        return rc;
    uint32_t hdr[2] = {(uint32_t)len, w_seq(p)};
    size_t off = ring_write(q, ring_off(q, w_pos(p)), hdr, sizeof hdr);
    for (size_t i = 0; i < n; i++)
        if (v[i].len)
            off = ring_write(q, off, v[i].ptr, v[i].len);
    /* Publish: the record becomes visible with this one store. */
    atomic_store_explicit(&h->prod, w_make(w_seq(p) + 1, w_pos(p) + need),
                          memory_order_release);
    atomic_fetch_add(&h->put_ev, 1);
    unlock_side(q, M_PROD);
    mp__os_wake(&q->wt[W_ITEMS], (const void *)&h->put_ev, 1);
    return 0;
}

int mp_queue_put(mp_queue *q, const void *ptr, size_t len, long timeout_ms) {
    mp__qvec v = {ptr, len};
    return mp__queue_putv(q, &v, 1, timeout_ms);
}

/* ---- get ---- */

/* With cmutex held, waits until an item is published. 0 with *c the cons
 * word and *p a prod word showing the item, cmutex held; else an error,
 * cmutex released. */
static int wait_item(mp_queue *q, uint64_t *c, uint64_t *p, mp__deadline dl) {
    qhdr *h = q->h;
    for (uint64_t spin_until = 0;;) {
        /* Reloaded each time: others consume while we sleep unlocked. */
        uint64_t cw = *c = atomic_load_explicit(&h->cons, memory_order_relaxed);
        *p = atomic_load_explicit(&h->prod_seen, memory_order_relaxed);
        if (w_seq(*p) != w_seq(cw))
            return 0;
        uint32_t seen = atomic_load(&h->put_ev);
        *p = atomic_load_explicit(&h->prod, memory_order_acquire);
        atomic_store_explicit(&h->prod_seen, *p, memory_order_relaxed);
        if (w_seq(*p) != w_seq(cw))
            return 0;
        /* close() sets the flag under pmutex after the last publish, so
         * prod read after seeing the flag is final. */
        if (atomic_load_explicit(&h->closed, memory_order_acquire)) {
            *p = atomic_load_explicit(&h->prod, memory_order_acquire);
            if (w_seq(*p) != w_seq(cw))
                return 0;
            unlock_side(q, M_CONS);
            return MP_ECLOSED;
        }
        if (dl != MP__DL_NOW && mp__spin_more(&spin_until, MP__SPIN_QUEUE_NS))
            continue;
        int rc = sleep_on(q, M_CONS, W_ITEMS, &h->put_ev, seen, dl);
        if (rc)
            return rc;
        spin_until = 0;
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
        uint64_t cw = atomic_load_explicit(&h->cons, memory_order_acquire);
        uint64_t pw = atomic_load_explicit(&h->prod, memory_order_acquire);
        if (w_seq(pw) == w_seq(cw) &&
            !atomic_load_explicit(&h->closed, memory_order_acquire))
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
    if ((rc = mp__buf_reserve(buf, hdr[0] ? hdr[0] : 1))) {
        unlock_side(q, M_CONS);
        return rc;
    }
    ring_read(q, off, buf->data, hdr[0]);
    buf->len = hdr[0];
    /* Free: the record leaves the queue with this one store. */
    atomic_store_explicit(&h->cons, w_make(w_seq(c) + 1, w_pos(c) + need),
                          memory_order_release);
    atomic_fetch_add(&h->get_ev, 1);
    unlock_side(q, M_CONS);
    mp__os_wake(&q->wt[W_SPACE], (const void *)&h->get_ev, INT32_MAX);
    return 0;
}

/* ---- size, close, join ---- */

size_t mp_queue_qsize(mp_queue *q) {
    if (!q)
        return 0;
    qhdr *h = q->h;
    /* cons unchanged across the read of prod: both held at that instant. */
    for (;;) {
        uint64_t c = atomic_load(&h->cons);
        uint64_t p = atomic_load(&h->prod);
        if (atomic_load(&h->cons) == c)
            return w_seq(p) - w_seq(c);
    }
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
    /* Under pmutex, so that no put publishes after close returns. */
    int rc = lock_side(q, M_PROD, MP__DL_FOREVER);
    if (rc)
        return rc;
    atomic_store(&h->closed, 1);
    unlock_side(q, M_PROD);
    atomic_fetch_add(&h->put_ev, 1);
    atomic_fetch_add(&h->get_ev, 1);
    mp__os_wake(&q->wt[W_ITEMS], (const void *)&h->put_ev, INT32_MAX);
    mp__os_wake(&q->wt[W_SPACE], (const void *)&h->get_ev, INT32_MAX);
    return 0;
}

int mp_queue_task_done(mp_queue *q) {
    if (!q)
        return MP_EINVAL;
    qhdr *h = q->h;
    uint32_t d = atomic_load(&h->done);
    do {
        if (w_seq(atomic_load(&h->prod)) == d)
            return MP_EOVERFLOW;
    } while (!atomic_compare_exchange_weak(&h->done, &d, d + 1));
    mp__os_wake(&q->wt[W_JOIN], (const void *)&h->done, INT32_MAX);
    return 0;
}

int mp_queue_join(mp_queue *q, long timeout_ms) {
    if (!q || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    qhdr *h = q->h;
    mp__deadline dl = mp__deadline_in(timeout_ms);
    for (;;) {
        uint32_t d = atomic_load(&h->done);
        if (w_seq(atomic_load(&h->prod)) == d)
            return 0;
        if (mp__deadline_passed(dl))
            return mp__deadline_err(dl);
        mp__os_wait_on(
            &q->wt[W_JOIN], (const void *)&h->done, d,
            mp__deadline_min(dl, mp__deadline_in(MP__SLEEP_SLICE_MS)));
    }
}

/* ---- set-up and tear-down ---- */

/* The name of a queue's sync object `i` (for backends with named kernel
 * objects); NULL for an anonymous queue. */
static const char *sync_name(char *buf, size_t cap, const char *name, int i) {
    if (!name)
        return NULL;
    snprintf(buf, cap, "%s%s", name, sync_suffix[i]);
    return buf;
}

/* Closes this process's handles of the first n sync objects (mutexes,
 * then waits). */
static void close_sync(mp_queue *q, int n) {
    for (int i = 0; i < n; i++) {
        if (i < N_MUTEX)
            mp__os_mutex_close(&q->mx[i]);
        else
            mp__os_wait_close(&q->wt[i - N_MUTEX]);
    }
}

/* Creates (hs NULL, by name or anonymous) or attaches (from hs, or by
 * name) sync object i, whose state lives in the header. */
static int open_one(mp_queue *q, int i, bool create, const char *nm,
                    mp__handle h) {
    if (i < N_MUTEX) {
        void *mem = q->h->mutex[i];
        int rc = create ? mp__os_mutex_create(&q->mx[i], mem, nm)
                        : mp__os_mutex_attach(&q->mx[i], mem, h, nm);
        /* Held for one record's copy: worth polling, unless this process
         * has one CPU to run on (the holder cannot run while we poll). */
        if (!rc && mp__spin_ok())
            mp__os_mutex_set_spin(&q->mx[i], MP__SPIN_QUEUE_MUTEX);
        return rc;
    }
    void *mem = q->h->wait[i - N_MUTEX];
    mp__os_wait *w = &q->wt[i - N_MUTEX];
    return create ? mp__os_wait_create(w, mem, nm)
                  : mp__os_wait_attach(w, mem, h, nm);
}

/* Opens every sync object; takes every handle in hs (which may be NULL). */
static int open_sync(mp_queue *q, bool create, const char *name,
                     mp__handle *hs) {
    char nb[MP__OS_NAME_MAX + 1];
    int rc = 0, i = 0;
    for (; i < N_MUTEX + N_WAIT && !rc; i++) {
        const char *nm = sync_name(nb, sizeof nb, name, i);
        mp__handle h = hs ? hs[i] : MP__BAD_HANDLE;
        if (hs)
            hs[i] = MP__BAD_HANDLE;
        rc = open_one(q, i, create, nm, h);
    }
    if (rc)
        close_sync(q, i - 1);
    return rc;
}

static bool valid_name(const char *name) {
    size_t n = strlen(name);
    return n > 0 && n <= Q_NAME_MAX && !strchr(name, '/') &&
           !strchr(name, '\\');
}

/* The ring size for a requested capacity, 0 when out of range. */
static size_t ring_size(size_t cap) {
    if (cap > Q_MAX_RING)
        return 0;
    size_t r = Q_MIN_RING;
    while (r < (cap ? cap : Q_DEFAULT_RING))
        r *= 2;
    return r;
}

/* Points q at its mapped header, checking what another process wrote. */
static int attach_header(mp_queue *q) {
    qhdr *h = q->shm.addr;
    if (q->shm.size < Q_RING_OFFSET + Q_MIN_RING ||
        atomic_load_explicit(&h->magic, memory_order_acquire) != Q_MAGIC ||
        h->version != Q_VERSION || h->ring_units < Q_MIN_RING / 8 ||
        (h->ring_units & (h->ring_units - 1)) ||
        Q_RING_OFFSET + (size_t)h->ring_units * 8 > q->shm.size)
        return MP_EPROTO;
    q->h = h;
    q->units = h->ring_units;
    q->ring = (unsigned char *)q->shm.addr + Q_RING_OFFSET;
    return 0;
}

static int set_name(mp_queue *q, const char *name) {
    q->name = malloc(strlen(name) + 1);
    if (!q->name)
        return MP_ENOMEM;
    strcpy(q->name, name);
    q->owner_pid = mp__os_getpid();
    return 0;
}

static int init_new(mp_queue *q, size_t maxsize, size_t ring,
                    const char *name) {
    int rc = mp__os_shm_create(&q->shm, Q_RING_OFFSET + ring, name);
    if (rc)
        return rc;
    qhdr *h = q->shm.addr;
    h->version = Q_VERSION;
    h->ring_units = (uint32_t)(ring / 8);
    h->maxsize = (uint32_t)maxsize;
    atomic_init(&h->users, 1);
    q->h = h;
    if ((rc = open_sync(q, true, name, NULL)) ||
        (name && (rc = set_name(q, name)))) {
        if (!rc)
            close_sync(q, N_MUTEX + N_WAIT);
        mp__os_shm_close(&q->shm);
        if (name)
            mp__os_shm_unlink(name);
        return rc;
    }
    /* Last: an opener waits for the magic before trusting the rest. */
    atomic_store_explicit(&h->magic, Q_MAGIC, memory_order_release);
    return attach_header(q);
}

int mp_queue_new(mp_queue **qq, size_t maxsize, const mp_queue_options *opts) {
    static const mp_queue_options defaults = {0};
    if (!qq)
        return MP_EINVAL;
    *qq = NULL;
    if (!opts)
        opts = &defaults;
    size_t ring = ring_size(opts->capacity_bytes);
    if (!ring || maxsize > INT32_MAX || (opts->name && !valid_name(opts->name)))
        return MP_EINVAL;
    mp_queue *q = calloc(1, sizeof *q);
    if (!q)
        return MP_ENOMEM;
    int rc = init_new(q, maxsize, ring, opts->name);
    if (rc) {
        free(q);
        return rc;
    }
    *qq = q;
    return 0;
}

/* Counts one more user of a named queue, unless its last one has left. */
static bool add_user(qhdr *h) {
    uint32_t u = atomic_load(&h->users);
    while (u > 0)
        if (atomic_compare_exchange_weak(&h->users, &u, u + 1))
            return true;
    return false;
}

/* The creator sets the magic last; wait for it (bounded). */
static void wait_magic(const mp__shm *s) {
    if (s->size < sizeof(qhdr))
        return;
    qhdr *h = s->addr;
    for (int i = 0; i < 2000 && atomic_load(&h->magic) != Q_MAGIC; i++)
        mp__os_sleep_ms(1);
}

int mp_queue_open(mp_queue **qq, const char *name) {
    if (!qq)
        return MP_EINVAL;
    *qq = NULL;
    if (!name || !valid_name(name))
        return MP_EINVAL;
    mp_queue *q = calloc(1, sizeof *q);
    if (!q)
        return MP_ENOMEM;
    int rc = mp__os_shm_open(&q->shm, name);
    if (rc) {
        free(q);
        return rc;
    }
    wait_magic(&q->shm);
    if (!(rc = attach_header(q)) && !(rc = open_sync(q, false, name, NULL))) {
        if (!add_user(q->h))
            rc = MP_ENOENT;
        else if ((rc = set_name(q, name)))
            atomic_fetch_sub(&q->h->users, 1);
        if (rc)
            close_sync(q, N_MUTEX + N_WAIT);
    }
    if (rc) {
        mp__os_shm_close(&q->shm);
        free(q);
        return rc;
    }
    *qq = q;
    return 0;
}

void mp_queue_free(mp_queue *q) {
    if (!q)
        return;
    bool last = false;
    /* A forked child's copy of the handle was never counted. */
    if (q->name && q->owner_pid == mp__os_getpid())
        last = atomic_fetch_sub(&q->h->users, 1) == 1;
    close_sync(q, N_MUTEX + N_WAIT);
    mp__os_shm_close(&q->shm);
    if (last)
        mp__os_shm_unlink(q->name);
    free(q->name);
    free(q);
}

/* ---- crossing into a spawned child ---- */

static int q_export(void *obj, mp__wbuf *w, mp__handles *hs) {
    mp_queue *q = obj;
    mp__w_u64(w, q->shm.size);
    mp__handles_put(hs, w, q->shm.h);
    for (int i = 0; i < N_MUTEX + N_WAIT; i++) {
        mp__handle h = i < N_MUTEX ? q->mx[i].h : q->wt[i - N_MUTEX].h;
        mp__w_u8(w, h != MP__BAD_HANDLE);
        if (h != MP__BAD_HANDLE)
            mp__handles_put(hs, w, h);
    }
    return w->err;
}

/* Takes the handles the blob names: the mapping's, then the sync objects'
 * (absent ones stay MP__BAD_HANDLE). */
static int take_handles(mp__rbuf *r, mp__handle *hs, size_t nh, uint64_t *size,
                        mp__handle *shm_h, mp__handle *sh) {
    int rc = mp__r_u64(r, size);
    if (!rc)
        rc = mp__handles_take(r, hs, nh, shm_h);
    for (int i = 0; i < N_MUTEX + N_WAIT && !rc; i++) {
        uint8_t has;
        if (!(rc = mp__r_u8(r, &has)) && has)
            rc = mp__handles_take(r, hs, nh, &sh[i]);
    }
    return rc;
}

static int q_import(void **obj, mp__rbuf *r, mp__handle *hs, size_t nh) {
    mp__handle shm_h = MP__BAD_HANDLE, sh[N_MUTEX + N_WAIT];
    uint64_t size = 0;
    for (int i = 0; i < N_MUTEX + N_WAIT; i++)
        sh[i] = MP__BAD_HANDLE;
    mp_queue *q = calloc(1, sizeof *q);
    int rc = q ? take_handles(r, hs, nh, &size, &shm_h, sh) : MP_ENOMEM;
    if (!rc && (size == 0 || size > SIZE_MAX))
        rc = MP_EPROTO;
    if (!rc) {
        rc = mp__os_shm_import(&q->shm, shm_h, (size_t)size);
        shm_h = MP__BAD_HANDLE;
    }
    if (!rc && (rc = attach_header(q)))
        mp__os_shm_close(&q->shm);
    if (!rc && (rc = open_sync(q, false, NULL, sh)))
        mp__os_shm_close(&q->shm);
    mp__os_close(shm_h);
    for (int i = 0; i < N_MUTEX + N_WAIT; i++)
        mp__os_close(sh[i]);
    if (rc) {
        free(q);
        return rc;
    }
    *obj = q;
    return 0;
}

static void q_release(void *obj) { mp_queue_free(obj); }

const mp__objtype mp__queue_objtype = {q_export, q_import, q_release};
