/* The pool's small-block allocator (pool_slab.c): results and chunks come
 * from 16 KiB slabs carved by the submitting thread and released by any
 * thread. */
#ifndef MP_COMMON_POOL_SLAB_H
#define MP_COMMON_POOL_SLAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/atomics.h"

typedef struct mp__pool_slab mp__pool_slab;

typedef struct mp__pool_arena {
    MP__ATOMIC(uint32_t) busy; /* 1 while a thread is carving */
    mp__pool_slab *cur;        /* being carved */
    size_t used;               /* bytes of cur handed out */
    mp__atomic_ptr spare;      /* an mp__pool_slab *, or NULL */
} mp__pool_arena;

/* A block of size bytes (malloc'd when large or when another thread is
 * carving), NULL when out of memory. Released with mp__pool_release, by any
 * thread, before the arena goes (mp__pool_arena_fini). */
void *mp__pool_alloc(mp__pool_arena *a, size_t size);
void mp__pool_release(void *p);
void mp__pool_arena_fini(mp__pool_arena *a);

#endif
