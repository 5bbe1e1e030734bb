/* os layer, synchronisation primitives shared between processes. Their
 * state lives in caller-provided shared memory (`mem`, at least the _SIZE
 * bytes below, 64-byte aligned) and, on backends that need kernel objects,
 * in a handle that is exported with the object. Implemented by
 * posix/os_sync.c (futexes / robust pshared mutexes) and win32/os_sync.c
 * (Win32 semaphores and mutexes). Lock, RLock, Event, Condition, Barrier and
 * the queue are built in common/ from these two. */
#ifndef MP_COMMON_OS_SYNC_H
#define MP_COMMON_OS_SYNC_H

#include "os.h"

#define MP__OS_SEM_SIZE 64
#define MP__OS_MUTEX_SIZE 64

/* A counting semaphore with an optional bound (max 0 = none). */
typedef struct mp__os_sem {
    void *mem;
    mp__handle h; /* MP__BAD_HANDLE on backends that need none */
} mp__os_sem;

/* Creates in mem. name: a named kernel object where the backend has one
 * (NULL: anonymous). */
int mp__os_sem_create(mp__os_sem *s, void *mem, unsigned value, unsigned max,
                      const char *name);
/* Attaches to a semaphore created by another process in mem (opened by name
 * or received as h, which it takes; h may be MP__BAD_HANDLE). */
int mp__os_sem_attach(mp__os_sem *s, void *mem, mp__handle h, const char *name);
/* 0, MP_EAGAIN (timeout 0), MP_ETIMEDOUT. */
int mp__os_sem_wait(mp__os_sem *s, long timeout_ms);
/* MP_EOVERFLOW past the bound. */
int mp__os_sem_post(mp__os_sem *s);
int mp__os_sem_value(mp__os_sem *s, int *value);
void mp__os_sem_close(mp__os_sem *s);

/* A mutex that survives its owner's death: the next lock returns
 * MP_EOWNERDEAD (and holds it) once. */
typedef struct mp__os_mutex {
    void *mem;
    mp__handle h;
} mp__os_mutex;

int mp__os_mutex_create(mp__os_mutex *m, void *mem, const char *name);
int mp__os_mutex_attach(mp__os_mutex *m, void *mem, mp__handle h,
                        const char *name);
/* 0, MP_EOWNERDEAD (acquired; the state it guards may be inconsistent),
 * MP_EAGAIN (timeout 0), MP_ETIMEDOUT. */
int mp__os_mutex_lock(mp__os_mutex *m, long timeout_ms);
/* MP_ESTATE when the caller does not hold it. */
int mp__os_mutex_unlock(mp__os_mutex *m);
void mp__os_mutex_close(mp__os_mutex *m);

#endif
