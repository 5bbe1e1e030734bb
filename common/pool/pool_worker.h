/* The pool's worker side (pool_worker.c): the target every worker process
 * runs, and the form in which a task's function travels to it. */
#ifndef MP_COMMON_POOL_WORKER_H
#define MP_COMMON_POOL_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "mproc/process.h"

/* The worker's target. Its arguments: task queue, result queue, slot
 * index, maxtasks, initializer location (bytes, empty for none), its
 * progress block (an mp_array of uint64_t holding an mp__pool_progress),
 * then the initargs. It takes chunks from its task queue until the queue
 * is closed (or maxtasks chunks), and posts their results in order. */
int mp__pool_worker_main(mp_call *call);
#define MP__POOL_WORKER_FIXED_ARGS 6

/* Encodes fn's location for a worker (malloc'd into *out). */
int mp__pool_fn_encode(mp_target fn, uint8_t **out, size_t *len);

#endif
