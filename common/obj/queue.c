/* Queue: a crash-safe multi-producer multi-consumer queue of variable-length
 * items in shared memory, which grows.
 *
 * Layout: a header of cache lines, then the primary ring. Positions are
 * counted in 8-byte units modulo 2^32 in one logical stream. Each item is a
 * record [u32 len | u32 seq | payload padded to 8], which may wrap around
 * the end of the ring that holds it.
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
 * Growth: the stream is cut into generations, each held by one ring: the
 * primary one in this mapping, or a segment, a shared mapping of its own
 * named "q<token>.<gen>" (the token is 128 random bits drawn at creation).
 * A producer that finds no room for a record (or a record larger than the
 * ring) makes the next generation's segment, big enough for it (twice the
 * current ring, or the power of two that fits the record), enters it in the
 * header's table and publishes it with one store of `tail`: the old ring
 * ends where the new one begins, and nobody writes into it again. A
 * consumer that reaches the end of its generation moves to the next,
 * removes the old segment's name and publishes that with one store of
 * `head`. A producer that finds the queue empty while writing into a
 * segment goes back to the primary ring, so a queue that was drained
 * shrinks back. Every step is one store after the work it publishes, so a
 * process killed between two steps leaves a state the next one continues
 * from (a segment made but not entered is taken over or removed by the next
 * producer, one consumed but not removed is removed by the next consumer).
 * The names left when the last user frees the queue are removed by it.
 * Segments are the os layer's (mp__os_seg_*), which outlive their holders
 * on every system: a producer killed with items in a segment no consumer
 * has opened yet leaves them there for the consumers.
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
#include "util/random.h"
#include "util/wait_policy.h"

#define Q_DEFAULT_RING (1u << 20)
#define Q_MIN_RING 4096u
#define Q_MAX_RING (1u << 30)
#define Q_LINE 64
/* Generations alive at once (entered and not yet consumed). Segments at
 * least double until Q_GROW_MAX_UNITS and the queue holds at most
 * Q_SPAN_MAX units, so a queue needs far fewer. */
#define Q_SEGS 32u
/* A segment made for lack of room is at most this big (1 GiB); one made
 * for a large record is as big as the record needs. */
#define Q_GROW_MAX_UNITS (1u << 27)
/* The largest segment: the power of two that holds the largest record. */
#define Q_SEG_MAX_UNITS (1u << 29)
/* The most units queued at once (16 GiB): positions are compared modulo
 * 2^32. */
#define Q_SPAN_MAX (1u << 31)
/* The largest item: its length is a u32 in the record. */
#define Q_ITEM_MAX ((size_t)UINT32_MAX - 15)
/* How long a put that may wait waits for a consumer to free room before
 * it grows the queue (timeout 0 grows at once). */
#define Q_GROW_WAIT_MS 1L
/* A segment up to this many times the primary ring is kept when the queue
 * empties (it only goes with a later growth): a producer a little faster
 * than its consumers would otherwise make and drop one every few items. */
#define Q_KEEP_FACTOR 4u
/* A segment's mapping: a header line, then its ring. */
#define Q_SEG_HDR 64u
#define Q_SEG_MAGIC 0x5153504du /* "MPSQ" */
/* Processes counted, each in a slot, as users of the queue's segments;
 * more are counted without one (and while any is, the names are never taken
 * for unused: a queue with more users at once, one of them killed, leaves
 * its segments' names to mp_unlink's caller... see others_alive). */
#define Q_USERS 64

enum { M_PROD, M_CONS, N_MUTEX };
enum { Q_OPEN, Q_CLOSING, Q_CLOSED };
enum { W_ITEMS, W_SPACE, W_JOIN, N_WAIT };

/* A generation's ring: where it starts in the stream, its size in units
 * (a power of two), and whether it is the primary ring. */
typedef struct qgen {
    uint32_t base;
    uint32_t units;
    uint32_t primary;
    uint32_t pad;
} qgen;

typedef struct qhdr {
    /* Read-mostly: set up once, then `closed` goes from Q_OPEN to
     * Q_CLOSING (no put may start) to Q_CLOSED (none is in progress). */
    _Alignas(Q_LINE) uint32_t ring_units;
    uint32_t maxsize;
    MP__ATOMIC(uint32_t) closed;
    char token[32];
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
    /* The generations: `tail` is the producers' (written under pmutex,
     * after its entry), `head` the oldest not yet consumed (written under
     * cmutex). Both sides read them on every call; they change only when a
     * ring fills or empties. */
    _Alignas(Q_LINE) MP__ATOMIC(uint32_t) tail;
    MP__ATOMIC(uint32_t) head;
    MP__ATOMIC(uint32_t) grown; /* set before the first segment is made */
    _Alignas(Q_LINE) qgen gen[Q_SEGS];
    /* The processes using the segments (mp__os_user_self; 0: free). */
    _Alignas(Q_LINE) MP__ATOMIC(uint32_t) user_overflow;
    MP__ATOMIC(uint64_t) user[Q_USERS];
    _Alignas(Q_LINE) unsigned char mutex[N_MUTEX][MP__OS_MUTEX_SIZE];
    _Alignas(Q_LINE) unsigned char wait[N_WAIT][MP__OS_WAIT_SIZE];
} qhdr;

/* The mapping: [object header][qhdr][ring]. */
#define Q_HDR MP__SHOBJ_HDR
#define Q_RING_OFFSET (Q_HDR + ((sizeof(qhdr) + 255) & ~(size_t)255))

/* A segment's header line. */
typedef struct qseg_hdr {
    MP__ATOMIC(uint32_t) magic; /* written last, by mp__os_shm_publish */
    uint32_t gen;
    uint32_t units;
} qseg_hdr;

/* A ring as one side of this process sees it: generation, its place in
 * the stream, and its memory. */
typedef struct qview {
    uint32_t gen, base, units;
    bool primary;
    bool shrinks;        /* large enough to be let go when found empty */
    unsigned char *ring; /* NULL: not yet looked up */
} qview;

/* The segments one side of this process has mapped, by gen % Q_SEGS: a
 * producer keeps those it made until they are consumed. */
typedef struct qside {
    qview v;
    uint32_t nmaps;
    uint32_t head_seen; /* head when the maps were last pruned */
    struct {
        bool used;
        uint32_t gen;
        mp__shm shm;
    } map[Q_SEGS];
} qside;

struct mp_queue {
    mp__shobj obj;
    qhdr *h;
    unsigned char *ring;
    uint32_t units; /* the primary ring's size in 8-byte units */
    bool spin;      /* this process may spin (mp__spin_ok when opened) */
    mp__os_mutex *mx[N_MUTEX];
    mp__os_wait *wt[N_WAIT];
    char token[33]; /* from the header, checked once */
    long user_pid;  /* the process counted in user[user_slot], or 0 */
    int user_slot;  /* -1: counted in user_overflow */
    qside ps, cs;   /* under pmutex, under cmutex */
    /* A receive buffer mp_queue_get_val keeps between calls (an mp_buf *),
     * taken and given back with one exchange, so values need no allocation
     * per item; freed with the handle. */
    mp__atomic_ptr valbuf;
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

/* Byte offset in v's ring of a position in units. */
static inline size_t ring_off(const qview *v, uint32_t pos) {
    return (size_t)((pos - v->base) & (v->units - 1)) * 8;
}

/* Copies n bytes in at byte offset off; returns the offset after them. */
static size_t ring_write(const qview *v, size_t off, const void *src,
                         size_t n) {
    size_t size = (size_t)v->units * 8;
    size_t first = n < size - off ? n : size - off;
    memcpy(v->ring + off, src, first);
    memcpy(v->ring, (const unsigned char *)src + first, n - first);
    return (off + n) & (size - 1);
}

static size_t ring_read(const qview *v, size_t off, void *dst, size_t n) {
    size_t size = (size_t)v->units * 8;
    size_t first = n < size - off ? n : size - off;
    memcpy(dst, v->ring + off, first);
    memcpy((unsigned char *)dst + first, v->ring, n - first);
    return (off + n) & (size - 1);
}

/* ---- users of the segments ----
 * The names of the segments left when the queue's last user lets go are
 * removed by that one. Users are the processes that made, opened or
 * imported the queue, and forked children that touched a segment (a child
 * that never did needs none). A killed user leaves its slot, which then
 * reads as dead. */

static void user_add(mp_queue *q) {
    qhdr *h = q->h;
    uint64_t self = mp__os_user_self();
    q->user_slot = -1;
    for (int i = 0; i < Q_USERS && q->user_slot < 0; i++) {
        uint64_t free_slot = 0;
        if (mp__load64(&h->user[i], MP__RELAXED) == 0 &&
            mp__cas64(&h->user[i], &free_slot, self, MP__SEQ_CST))
            q->user_slot = i;
    }
    /* None free: a killed user's slot is as good (children killed one
     * after another would otherwise fill the table, and every later user
     * would be counted without one, for ever). */
    for (int i = 0; i < Q_USERS && q->user_slot < 0; i++) {
        uint64_t u = mp__load64(&h->user[i], MP__SEQ_CST);
        if (u && u != self && mp__os_user_dead(u) &&
            mp__cas64(&h->user[i], &u, self, MP__SEQ_CST))
            q->user_slot = i;
    }
    if (q->user_slot < 0)
        mp__fetch_add32(&h->user_overflow, 1, MP__SEQ_CST);
    q->user_pid = mp__os_getpid();
}

/* A forked child's copy of the handle counts its parent: the child is
 * counted once it uses a segment. */
static void user_check(mp_queue *q) {
    if (q->user_pid != mp__os_getpid())
        user_add(q);
}

static void user_drop(mp_queue *q) {
    if (q->user_pid != mp__os_getpid())
        return;
    if (q->user_slot >= 0)
        mp__store64(&q->h->user[q->user_slot], 0, MP__SEQ_CST);
    else
        mp__fetch_sub32(&q->h->user_overflow, 1, MP__SEQ_CST);
    q->user_pid = 0;
}

/* Whether another user may be alive (after user_drop). Two last users
 * leaving at once both see the other's slot cleared, or one of them does:
 * the names are removed at least once. */
static bool others_alive(mp_queue *q) {
    qhdr *h = q->h;
    if (mp__load32(&h->user_overflow, MP__SEQ_CST))
        return true;
    for (int i = 0; i < Q_USERS; i++) {
        uint64_t u = mp__load64(&h->user[i], MP__SEQ_CST);
        if (u && !mp__os_user_dead(u))
            return true;
    }
    return false;
}

/* ---- generations and segments ---- */

/* "q<token>.<gen>"; MP_EPROTO when the header's token was not ours. */
static int seg_name(char out[64], const mp_queue *q, uint32_t gen) {
    if (!q->token[0])
        return MP_EPROTO;
    snprintf(out, 64, "q%s.%lu", q->token, (unsigned long)gen);
    return 0;
}

/* Generation g's table entry, copied once and checked (another process
 * can rewrite the table at any time). */
static int gen_entry(const mp_queue *q, uint32_t g, qgen *e) {
    const volatile qgen *src = &q->h->gen[g % Q_SEGS];
    e->base = src->base;
    e->units = src->units;
    e->primary = src->primary;
    if (e->primary)
        return e->units == q->units ? 0 : MP_EPROTO;
    return e->units >= Q_MIN_RING / 8 && e->units <= Q_SEG_MAX_UNITS &&
                   !(e->units & (e->units - 1))
               ? 0
               : MP_EPROTO;
}

static void map_close(qside *s, unsigned i) {
    mp__os_shm_close(&s->map[i].shm);
    s->map[i].used = false;
    s->nmaps--;
    if (s->v.ring && !s->v.primary && s->v.gen % Q_SEGS == i)
        s->v.ring = NULL;
}

/* Closes this side's maps of consumed generations (before head). */
static void side_prune(mp_queue *q, qside *s) {
    uint32_t head = mp__load32(&q->h->head, MP__ACQUIRE);
    if (head == s->head_seen)
        return;
    s->head_seen = head;
    for (unsigned i = 0; i < Q_SEGS; i++)
        if (s->map[i].used && (int32_t)(s->map[i].gen - head) < 0)
            map_close(s, i);
}

static void side_close(qside *s) {
    for (unsigned i = 0; i < Q_SEGS; i++)
        if (s->map[i].used)
            map_close(s, i);
    s->v.ring = NULL;
}

/* Opens generation g's segment, checking that it is what the table says. */
static int seg_open(mp_queue *q, uint32_t g, uint32_t units, mp__shm *shm) {
    char nm[64];
    int rc = seg_name(nm, q, g);
    if (rc)
        return rc;
    user_check(q);
    /* Entered in the table only once published and removed only once
     * consumed: missing is a foreign hand at work. */
    if ((rc = mp__os_seg_open(shm, nm)))
        return rc == MP_ENOENT || rc == MP_EAGAIN ? MP_EPROTO : rc;
    const volatile qseg_hdr *sh = shm->addr;
    if (shm->size < Q_SEG_HDR + (size_t)units * 8 ||
        mp__load32(&((qseg_hdr *)shm->addr)->magic, MP__ACQUIRE) !=
            Q_SEG_MAGIC ||
        sh->gen != g || sh->units != units) {
        mp__os_shm_close(shm);
        return MP_EPROTO;
    }
    return 0;
}

/* Makes generation g's segment. One of that name is left by a producer
 * killed before entering it: nobody uses it, so it is removed first. */
static int seg_make(mp_queue *q, uint32_t g, uint32_t units, mp__shm *shm) {
    char nm[64];
    size_t size = Q_SEG_HDR + (size_t)units * 8;
    int rc = seg_name(nm, q, g);
    if (rc)
        return rc;
    user_check(q);
    mp__store32(&q->h->grown, 1, MP__SEQ_CST);
    rc = mp__os_seg_create(shm, size, nm);
    if (rc == MP_EEXIST) {
        mp__os_seg_unlink(nm);
        rc = mp__os_seg_create(shm, size, nm);
    }
    if (rc)
        return rc;
    qseg_hdr *sh = shm->addr;
    sh->gen = g;
    sh->units = units;
    mp__os_shm_publish(shm, Q_SEG_MAGIC);
    return 0;
}

/* Points side s at generation g's ring, mapping its segment if needed. */
static int side_view(mp_queue *q, qside *s, uint32_t g) {
    qgen e;
    int rc = gen_entry(q, g, &e);
    if (rc)
        return rc;
    qview v = {g, e.base, e.units, e.primary != 0, false, q->ring};
    v.shrinks = !v.primary && e.units > Q_KEEP_FACTOR * q->units;
    if (!v.primary) {
        unsigned i = g % Q_SEGS;
        if (!s->map[i].used || s->map[i].gen != g) {
            /* A slot holds one live generation: an older one there was
             * consumed. */
            if (s->map[i].used)
                map_close(s, i);
            if ((rc = seg_open(q, g, e.units, &s->map[i].shm)))
                return rc;
            s->map[i].used = true;
            s->map[i].gen = g;
            s->nmaps++;
        }
        v.ring = (unsigned char *)s->map[i].shm.addr + Q_SEG_HDR;
    }
    s->v = v;
    return 0;
}

/* With pmutex held: enters generation tail + 1, starting at pos, held by
 * the primary ring or by a new segment of `units`; the producers' view
 * moves to it. Errors leave the queue as it was: MP_ELIMIT (too many
 * generations alive), and those of making the segment (MP_ENOMEM,
 * MP_ELIMIT when the system's shared memory is full). */
static int gen_next(mp_queue *q, uint32_t pos, uint32_t units, bool primary) {
    qhdr *h = q->h;
    qside *s = &q->ps;
    uint32_t g = mp__load32(&h->tail, MP__RELAXED) + 1;
    unsigned i = g % Q_SEGS;
    side_prune(q, s);
    if (g - mp__load32(&h->head, MP__ACQUIRE) >= Q_SEGS)
        return MP_ELIMIT;
    if (!primary) {
        if (s->map[i].used)
            map_close(s, i);
        int rc = seg_make(q, g, units, &s->map[i].shm);
        if (rc)
            return rc;
        s->map[i].used = true;
        s->map[i].gen = g;
        s->nmaps++;
    } else {
        char nm[64];
        /* One made for g by a producer killed before entering it. */
        if (mp__load32(&h->grown, MP__RELAXED) && !seg_name(nm, q, g))
            mp__os_seg_unlink(nm);
        units = q->units;
    }
    qgen *e = &h->gen[i];
    e->base = pos;
    e->units = units;
    e->primary = primary;
    /* The old ring ends at pos with this store. */
    mp__store32(&h->tail, g, MP__RELEASE);
    s->v = (qview){g,
                   pos,
                   units,
                   primary,
                   !primary && units > Q_KEEP_FACTOR * q->units,
                   primary ? q->ring
                           : (unsigned char *)s->map[i].shm.addr + Q_SEG_HDR};
    return 0;
}

/* With pmutex held: the producers' view follows tail. */
static int prod_view(mp_queue *q) {
    qside *s = &q->ps;
    uint32_t t = mp__load32(&q->h->tail, MP__ACQUIRE);
    if (s->nmaps)
        side_prune(q, s);
    if (s->v.ring && s->v.gen == t)
        return 0;
    return side_view(q, s, t);
}

/* Consumer side, with cmutex held and cons at c: moves head past the
 * generations that end at c (removing their segments' names: they are
 * consumed), points the consumers' view at head's, and sets *avail to the
 * units of it that may hold published records. */
static int cons_view(mp_queue *q, uint64_t c, uint64_t p, uint32_t *avail) {
    qhdr *h = q->h;
    qside *s = &q->cs;
    uint32_t hd = mp__load32(&h->head, MP__RELAXED);
    uint32_t t = mp__load32(&h->tail, MP__ACQUIRE);
    *avail = w_pos(p) - w_pos(c);
    if (t - hd >= Q_SEGS)
        return MP_EPROTO;
    while (hd != t) {
        qgen next;
        int rc = gen_entry(q, hd + 1, &next);
        if (rc)
            return rc;
        if (next.base != w_pos(c)) {
            if (next.base - w_pos(c) < *avail)
                *avail = next.base - w_pos(c);
            break;
        }
        qgen old;
        char nm[64];
        if (!gen_entry(q, hd, &old) && !old.primary && !seg_name(nm, q, hd))
            mp__os_seg_unlink(nm);
        mp__store32(&h->head, ++hd, MP__RELEASE);
    }
    side_prune(q, s);
    if (s->v.ring && s->v.gen == hd)
        return 0;
    return side_view(q, s, hd);
}

/* With every user gone but us: removes the names of the segments left
 * (and of one made but not entered by a producer killed). */
static void remove_segments(mp_queue *q) {
    qhdr *h = q->h;
    uint32_t hd = mp__load32(&h->head, MP__SEQ_CST);
    uint32_t t = mp__load32(&h->tail, MP__SEQ_CST);
    char nm[64];
    if (t - hd >= Q_SEGS)
        hd = t - (Q_SEGS - 1);
    for (uint32_t g = hd; g != t + 2; g++) {
        qgen e;
        if (g != t + 1 && (gen_entry(q, g, &e) || e.primary))
            continue;
        if (!seg_name(nm, q, g))
            mp__os_seg_unlink(nm);
    }
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

/* Units free in the producers' ring for a record at p, consumers at c
 * (still in an older generation: the ring is free up to p). */
static uint32_t room(const mp_queue *q, uint64_t p, uint64_t c) {
    const qview *v = &q->ps.v;
    uint32_t from =
        w_pos(c) - v->base <= w_pos(p) - v->base ? w_pos(c) : v->base;
    return v->units - (w_pos(p) - from);
}

static bool count_ok(const mp_queue *q, uint64_t p, uint64_t c) {
    uint32_t max = q->h->maxsize;
    return !max || w_seq(p) - w_seq(c) < max;
}

/* With pmutex held, no room for `need` units in the producers' ring and
 * the count allowing one more: the next generation, a segment twice the
 * size (up to Q_GROW_MAX_UNITS) or the size the record needs. */
static int grow(mp_queue *q, uint64_t p, uint64_t c, uint32_t need) {
    uint32_t units = q->ps.v.units;
    if (units < Q_GROW_MAX_UNITS)
        units *= 2;
    while (units < need)
        units *= 2;
    if ((uint64_t)(w_pos(p) - w_pos(c)) + units > Q_SPAN_MAX)
        return MP_ELIMIT;
    return gen_next(q, w_pos(p), units, false);
}

/* With pmutex held, writing into a segment larger than Q_KEEP_FACTOR rings
 * and the queue found empty with the consumers in that generation: back to
 * the primary ring (which no live generation holds then), so the segment
 * is let go. */
static int shrink(mp_queue *q, uint64_t p, uint64_t c, uint32_t need) {
    if (w_pos(c) != w_pos(p) || need > q->units ||
        mp__load32(&q->h->head, MP__ACQUIRE) != q->ps.v.gen)
        return 0;
    return gen_next(q, w_pos(p), 0, true);
}

/* With pmutex held, waits until a record of `need` units fits: the ring
 * grows when bytes are short, and the wait is for the count (maxsize). 0 with
 * *p the current prod word, the producers' view on the ring to write and
 * pmutex held; else an error, pmutex released. */
static int wait_room(mp_queue *q, uint32_t need, uint64_t *p,
                     mp__deadline dl) {
    qhdr *h = q->h;
    mp__deadline grow_dl = MP__DL_NOW; /* not waiting to grow yet */
    int rc;
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
        if ((rc = prod_view(q)))
            break;
        uint64_t c = mp__load64(&h->cons_seen, MP__RELAXED);
        /* In a segment that shrinks, cons is read each time: the queue
         * found empty goes back to the primary ring. */
        if (!q->ps.v.shrinks && room(q, *p, c) >= need && count_ok(q, *p, c))
            return 0;
        /* Read the event before the state: a free after this read changes
         * the event, so the sleep below cannot miss it. */
        uint32_t seen = mp__load32(&h->get_ev, MP__SEQ_CST);
        c = mp__load64(&h->cons, MP__ACQUIRE);
        mp__store64(&h->cons_seen, c, MP__RELAXED);
        if (q->ps.v.shrinks && (rc = shrink(q, *p, c, need)))
            break;
        if (!count_ok(q, *p, c)) {
            if (dl != MP__DL_NOW && q->spin &&
                mp__spin_more(&spin, MP__SPIN_QUEUE_NS))
                continue;
            if ((rc = sleep_on(q, M_PROD, W_SPACE, &h->get_ev, seen, dl)))
                return rc;
            spin = MP__SPIN_START;
            continue;
        }
        if (room(q, *p, c) >= need)
            return 0;
        /* A consumer at work frees room soon (what a full ring waited for
         * before it grew): growing costs a segment's creation and cold
         * memory on both sides, and a producer a little faster than its
         * consumers would grow over and over. So a put that may wait
         * spins, then sleeps until Q_GROW_WAIT_MS have passed, and grows
         * only when no room came by then. */
        if (dl != MP__DL_NOW) {
            if (q->spin && mp__spin_more(&spin, MP__SPIN_QUEUE_NS))
                continue;
            if (grow_dl == MP__DL_NOW)
                grow_dl =
                    mp__deadline_min(dl, mp__deadline_in(Q_GROW_WAIT_MS));
            if (!mp__deadline_passed(grow_dl)) {
                unlock_side(q, M_PROD);
                mp__os_wait_on(q->wt[W_SPACE], (const void *)&h->get_ev, seen,
                               grow_dl);
                if ((rc = lock_side(q, M_PROD, dl)))
                    return rc;
                continue;
            }
        }
        if ((rc = grow(q, *p, c, need)))
            break;
        spin = MP__SPIN_START;
        grow_dl = MP__DL_NOW;
    }
    unlock_side(q, M_PROD);
    return rc;
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
    const qview *rv = &q->ps.v;
    uint32_t hdr[2] = {(uint32_t)len, w_seq(p)};
    size_t off = ring_write(rv, ring_off(rv, w_pos(p)), hdr, sizeof hdr);
    for (size_t i = 0; i < n; i++)
        if (v[i].len)
            off = ring_write(rv, off, v[i].ptr, v[i].len);
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
    uint32_t avail;
    if ((rc = wait_item(q, &c, &p, dl)))
        return rc;
    if ((rc = cons_view(q, c, p, &avail))) {
        unlock_side(q, M_CONS);
        return rc;
    }
    const qview *rv = &q->cs.v;
    uint32_t hdr[2];
    size_t off = ring_read(rv, ring_off(rv, w_pos(c)), hdr, sizeof hdr);
    uint32_t need = rec_units(hdr[0]);
    /* Only a foreign writer can make these false; refuse rather than copy
     * garbage or run past the published part of this ring. */
    if (hdr[1] != w_seq(c) || hdr[0] > Q_ITEM_MAX || need > avail ||
        need > rv->units) {
        unlock_side(q, M_CONS);
        return MP_EPROTO;
    }
    if ((rc = mp__buf_reserve(buf, hdr[0]))) {
        unlock_side(q, M_CONS);
        return rc;
    }
    ring_read(rv, off, buf->data, hdr[0]);
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
    return n > Q_SPAN_MAX ? 0 : n;
}

bool mp_queue_empty(mp_queue *q) { return mp_queue_qsize(q) == 0; }

bool mp_queue_full(mp_queue *q) {
    return q && q->h->maxsize && mp_queue_qsize(q) >= q->h->maxsize;
}

size_t mp_queue_max_item(const mp_queue *q) {
    if (!q)
        return 0;
    return Q_ITEM_MAX;
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
    /* The token, copied once: segment names are made from this copy only
     * (a creator's header has none yet: init gives it). */
    const volatile char *tok = q->h->token;
    for (int i = 0; i < 32; i++) {
        char ch = tok[i];
        q->token[i] = ch;
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            q->token[0] = '\0';
    }
    q->token[32] = '\0';
    user_add(q);
    return 0;
}

static void q_init(void *obj, const void *arg) {
    mp_queue *q = obj;
    q->h->ring_units = q->units;
    q->h->maxsize = (uint32_t)mp__shobj_param(q, 1);
    memcpy(q->h->token, arg, 32);
    memcpy(q->token, arg, 33);
    q->h->gen[0] = (qgen){0, q->units, 1, 0};
}

/* Every process, before the mapping goes: its segments' mappings, its
 * count as a user, and, when it was the last, the names left. */
static void q_free(void *obj) {
    mp_queue *q = obj;
    mp_buf *b = mp__exchangep(&q->valbuf, NULL, MP__ACQ_REL);
    if (b) {
        mp_buf_free(b);
        free(b);
    }
    side_close(&q->ps);
    side_close(&q->cs);
    user_drop(q);
    if (mp__load32(&q->h->grown, MP__SEQ_CST) && !others_alive(q))
        remove_segments(q);
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
    .free_extra = q_free,
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
    char token[33];
    int rc = mp__random_token(token);
    if (rc)
        return rc;
    mp__shobj_req req = {
        .name = opts->name,
        .exclusive = true,
        .param = {ring / 8, maxsize},
        .init_arg = token,
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

/* The largest buffer kept between gets of values. */
#define VALBUF_KEEP ((size_t)1 << 20)

mp_buf *mp__queue_take_buf(mp_queue *q) {
    mp_buf *b = mp__exchangep(&q->valbuf, NULL, MP__ACQ_REL);
    return b ? b : calloc(1, sizeof *b);
}

void mp__queue_give_buf(mp_queue *q, mp_buf *b) {
    void *none = NULL;
    if (b && (b->cap > VALBUF_KEEP ||
              !mp__casp(&q->valbuf, &none, b, MP__ACQ_REL))) {
        mp_buf_free(b); /* another thread's is kept, or it is too big */
        free(b);
    }
}

void mp__queue_segs_of(const mp_queue *q, mp__queue_segs *s) {
    memcpy(s->token, q->token, sizeof s->token);
    s->last = mp__load32(&q->h->tail, MP__SEQ_CST) + 1;
}

size_t mp__queue_segs_alive(const mp__queue_segs *s) {
    size_t n = 0;
    char nm[64];
    for (uint32_t g = 1; g <= s->last; g++) {
        mp__shm shm;
        snprintf(nm, sizeof nm, "q%s.%lu", s->token, (unsigned long)g);
        int rc = mp__os_seg_open(&shm, nm);
        if (rc == 0)
            mp__os_shm_close(&shm);
        n += rc != MP_ENOENT;
    }
    return n;
}
