/* The pool's two threads in the parent (pool_handler.c): the result
 * handler and the worker monitor. Both take the pool as their argument and
 * run until it is done (MP__POOL_DONE). */
#ifndef MP_COMMON_POOL_HANDLER_H
#define MP_COMMON_POOL_HANDLER_H

#include "pool/pool_sched.h"

void *APR_THREAD_FUNC mp__pool_handler_main(apr_thread_t *t, void *arg);
void *APR_THREAD_FUNC mp__pool_monitor_main(apr_thread_t *t, void *arg);

#endif
