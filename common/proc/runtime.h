/* The library's process-wide state: whether mp_init ran, its lock and the
 * condition that goes with it, the default start method, the executable
 * spawn runs, and this process's name (runtime.c). The lowest layer of the
 * process code: it calls only the os layer and APR. */
#ifndef MP_COMMON_RUNTIME_H
#define MP_COMMON_RUNTIME_H

#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>

#include "mproc.h"
#include "base/atomics.h"
#include "os/os_base.h"

#define MP__NAME_MAX 255

typedef struct mp__global {
    bool inited;
    /* A spawned child that has not yet run its target (from mp_init's
     * finding its start data until the target is called): it starts no
     * process (MP_ESTATE), as Python's bootstrapping phase. */
    bool booting;
    /* mp_set_start_method's choice, MP_START_DEFAULT until it is called;
     * atomic because it is set and read from any thread. */
    MP__ATOMIC(uint32_t) method;
    char *exe;                  /* mp_set_executable, or NULL */
    apr_pool_t *pool;           /* the library's own APR pool */
    apr_thread_mutex_t *lock;   /* guards child records and the registry */
    apr_thread_cond_t *changed; /* broadcast when a start finishes */
    char name[MP__NAME_MAX + 1];
} mp__global;

extern mp__global mp__g;

/* Creates the pool, lock and condition once per process (later calls do
 * nothing) and initialises the os layer. MP_ENOMEM, MP_ESYS. */
int mp__runtime_init(void);

/* The library lock. Both are no-ops before the first mp_init, when the
 * lock does not exist yet (and nothing the lock guards can exist). */
void mp__runtime_lock(void);
void mp__runtime_unlock(void);

/* With the lock held: sleeps until mp__runtime_broadcast, releasing the lock
 * meanwhile. Callers re-check their condition in a loop. */
void mp__runtime_wait(void);
/* Wakes every mp__runtime_wait; called with the lock held. */
void mp__runtime_broadcast(void);

/* The start method an object uses: its own choice, else the global one. */
int mp__resolve_method(mp_start_method m, mp_start_method *out);

/* Sets the name mp_current_name reports. */
void mp__set_current_name(const char *name);

#endif
