/* Internal queue API for other parts of the library (the pool carries its
 * tasks and results through queues): a put that gathers several pieces into
 * one item, so a header and a payload need no staging copy. */
#ifndef MP_COMMON_QUEUE_INTERNAL_H
#define MP_COMMON_QUEUE_INTERNAL_H

#include <stddef.h>

#include "base/clock.h"
#include "mproc/queue.h"

typedef struct mp__qvec {
    const void *ptr;
    size_t len;
} mp__qvec;

/* mp_queue_put of the concatenation v[0] .. v[n-1] as one item, waiting
 * for room until dl. Same blocking, errors and crash guarantees. */
int mp__queue_putv(mp_queue *q, const mp__qvec *v, size_t n, mp__deadline dl);

/* For tests: the segment names a queue has used, and how many of them
 * exist now (also after the queue was freed everywhere). */
typedef struct mp__queue_segs {
    char token[33];
    uint32_t last; /* the highest generation a name may have had */
} mp__queue_segs;
void mp__queue_segs_of(const mp_queue *q, mp__queue_segs *s);
size_t mp__queue_segs_alive(const mp__queue_segs *s);

/* A receive buffer for mp_queue_get_val: the one q keeps, or a new empty
 * one (NULL when out of memory). Give it back when done with it: q keeps
 * one of at most 1 MiB, the others are freed. Thread-safe. */
mp_buf *mp__queue_take_buf(mp_queue *q);
void mp__queue_give_buf(mp_queue *q, mp_buf *b);

#endif
