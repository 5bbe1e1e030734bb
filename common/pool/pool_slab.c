/* The pool's small-block allocator: the result and the chunk of every
 * apply_async come from 16 KiB slabs, carved in order by the submitting
 * thread and released, one by one, by whichever thread is done with them.
 *
 * Why: a burst of apply_async calls leaves thousands of results and chunks
 * outstanding, and they are freed by other threads (the handler frees the
 * chunks) or in bulk, which defeats glibc's per-thread caches: every block
 * then took malloc's slow path, a sixth of the submitting thread's time.
 * Here an allocation is a bump of an offset and a reference on the slab; a
 * release drops the reference, and the last one hands the slab back.
 *
 * One thread carves at a time: `busy` is a try-lock, and a thread that
 * finds it taken (another submitter) uses malloc instead. A block records
 * its slab (NULL: malloc'd) and size in the 16 bytes before it. */
#include <stdlib.h>

#include "pool/pool_slab.h"

/* Under AddressSanitizer a released block is poisoned until carved again,
 * so a use after mp_result_free is still caught inside a live slab. */
#if defined(__SANITIZE_ADDRESS__)
#define SLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_ASAN 1
#endif
#endif
#ifdef SLAB_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define SLAB_SIZE ((size_t)16 << 10)
#define BLOCK_MAX ((size_t)1 << 10)
#define HDR 16

struct mp__pool_slab {
    MP__ATOMIC(uint32_t) refs; /* blocks in use, plus 1 while being carved */
    mp__pool_arena *owner;
};

typedef struct block_hdr {
    mp__pool_slab *slab;
    size_t size; /* bytes after the header (for the sanitizer) */
} block_hdr;

_Static_assert(sizeof(block_hdr) <= HDR && sizeof(mp__pool_slab) <= HDR,
               "slab headers");

static void *plain(size_t size) {
    block_hdr *h = malloc(HDR + size);
    if (!h)
        return NULL;
    h->slab = NULL;
    h->size = size;
    return (char *)h + HDR;
}

static void slab_free(mp__pool_slab *s) {
    if (s)
        UNPOISON(s, SLAB_SIZE);
    free(s);
}

/* Drops one reference; the last keeps the slab as the spare (one is kept,
 * so that a steady stream does not malloc and free a slab each time). */
static void slab_unref(mp__pool_slab *s) {
    if (mp__fetch_sub32(&s->refs, 1, MP__ACQ_REL) != 1)
        return;
    slab_free(mp__exchangep(&s->owner->spare, s, MP__SEQ_CST));
}

void *mp__pool_alloc(mp__pool_arena *a, size_t size) {
    size_t need = HDR + ((size + 15) & ~(size_t)15);
    if (size > BLOCK_MAX || mp__exchange32(&a->busy, 1, MP__ACQUIRE))
        return plain(size);
    mp__pool_slab *s = a->cur;
    if (!s || a->used + need > SLAB_SIZE) {
        if (s)
            slab_unref(s); /* the carver's reference */
        s = mp__exchangep(&a->spare, NULL, MP__SEQ_CST);
        if (!s)
            s = malloc(SLAB_SIZE);
        a->cur = s;
        a->used = HDR;
        if (s) {
            UNPOISON(s, SLAB_SIZE);
            mp__store32(&s->refs, 1, MP__RELAXED);
            s->owner = a;
            POISON((char *)s + HDR, SLAB_SIZE - HDR);
        }
    }
    void *p = NULL;
    if (s) {
        block_hdr *h = (block_hdr *)((char *)s + a->used);
        a->used += need;
        UNPOISON(h, need);
        mp__fetch_add32(&s->refs, 1, MP__RELAXED);
        h->slab = s;
        h->size = need - HDR;
        p = (char *)h + HDR;
    }
    mp__store32(&a->busy, 0, MP__RELEASE);
    return p ? p : plain(size);
}

void mp__pool_release(void *p) {
    if (!p)
        return;
    block_hdr *h = (block_hdr *)((char *)p - HDR);
    if (h->slab) {
        POISON(p, h->size);
        slab_unref(h->slab);
    } else {
        free(h);
    }
}

void mp__pool_arena_fini(mp__pool_arena *a) {
    if (a->cur)
        slab_unref(a->cur); /* the last reference: every block is back */
    a->cur = NULL;
    slab_free(mp__exchangep(&a->spare, NULL, MP__SEQ_CST));
}
