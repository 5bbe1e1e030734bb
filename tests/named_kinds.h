/* Every kind of object that can be named, for the suites about names
 * (test_names.c, test_reclaim.c): made or opened by name through its
 * public call, and freed. */
#ifndef MP_TEST_NAMED_KINDS_H
#define MP_TEST_NAMED_KINDS_H

#include <stdbool.h>

#include "testutil.h"

enum {
    K_SEM,
    K_LOCK,
    K_EVENT,
    K_COND,
    K_BARRIER,
    K_VALUE,
    K_ARRAY,
    K_QUEUE,
    NKINDS
};
static const char *const kind_names[NKINDS] = {
    "sem", "lock", "event", "cond", "barrier", "value", "array", "queue"};

/* Makes kind k's object `name`, with the parameters of `variant` (0 or 1:
 * others), exclusive or not; `open` opens an existing one instead (only a
 * queue has a call for that alone, mp_queue_open: the other kinds create
 * or open). */
static inline int named_make(int k, const char *name, int variant, bool excl,
                             bool open, void **out) {
    mp_sync_options so = {.name = name, .exclusive = excl};
    mp_shared_options sh = {.name = name, .exclusive = excl};
    switch (k) {
    case K_SEM: return mp_sem_new_ex((mp_sem **)out, 1, variant ? 5 : 0, &so);
    case K_LOCK: return mp_lock_new_ex((mp_lock **)out, variant, &so);
    case K_EVENT: return mp_event_new((mp_event **)out, &so);
    case K_COND: return mp_cond_new((mp_cond **)out, NULL, &so);
    case K_BARRIER:
        return mp_barrier_new((mp_barrier **)out, variant ? 3 : 2, &so);
    case K_VALUE:
        return mp_value_new((mp_value **)out,
                            variant ? MP_TYPE_DOUBLE : MP_TYPE_INT, NULL, &sh);
    case K_ARRAY:
        return mp_array_new((mp_array **)out, MP_TYPE_INT, variant ? 8 : 4,
                            NULL, &sh);
    default:
        return open ? mp_queue_open((mp_queue **)out, name)
                    : mp_queue_new((mp_queue **)out, variant ? 7 : 0,
                                   &(mp_queue_options){.name = name});
    }
}

static inline void named_drop(int k, void *o) {
    switch (k) {
    case K_SEM: mp_sem_free(o); break;
    case K_LOCK: mp_lock_free(o); break;
    case K_EVENT: mp_event_free(o); break;
    case K_COND: mp_cond_free(o); break;
    case K_BARRIER: mp_barrier_free(o); break;
    case K_VALUE: mp_value_free(o); break;
    case K_ARRAY: mp_array_free(o); break;
    default: mp_queue_free(o); break;
    }
}

#endif
