/* The children this process started (children.c): one record per
 * mp_process holding what the OS knows of its child, and the registry of
 * the started, unreaped ones that exit-time and fork-time hooks,
 * mp_active_children and the process calls work on. Every field of a
 * record is guarded by the library lock (runtime.h), except `os`, which is
 * fixed from the start until the record is closed and may be waited on
 * without it. */
#ifndef MP_COMMON_CHILDREN_H
#define MP_COMMON_CHILDREN_H

#include "os/os_proc.h"
#include "proc/runtime.h"

typedef enum mp__child_state {
    MP__CHILD_NEW,      /* not started */
    MP__CHILD_STARTING, /* a start is creating it: wait (mp__child_settle) */
    MP__CHILD_RUNNING,  /* started, not reaped: in the registry */
    MP__CHILD_ENDED,    /* reaped: exitcode and err are final */
    MP__CHILD_CLOSED    /* ended and its OS handle released */
} mp__child_state;

typedef struct mp__child {
    mp__child_state state;
    bool daemon;
    mp__os_proc os;
    mp__handle status_rd; /* spawn: the child's bootstrap status pipe */
    int exitcode;
    int err;           /* a bootstrap error the spawned child reported */
    mp_process *owner; /* NULL once the process was freed while running:
                          the registry then frees the record */
    struct mp__child *prev, *next; /* registry links while RUNNING */
} mp__child;

/* A NEW record for owner. NULL when out of memory. */
mp__child *mp__child_new(mp_process *owner);

/* Lock held: waits until no start is under way on c. */
void mp__child_settle(mp__child *c);

/* Lock held: NEW -> STARTING, else MP_ESTATE. */
int mp__child_begin(mp__child *c, bool daemon);

/* Lock held: ends the start begun by mp__child_begin. rc == 0: the child
 * exists (os, and status_rd for spawn or MP__BAD_HANDLE) and the record
 * joins the registry; otherwise it is NEW again. Wakes the waiters. */
void mp__child_started(mp__child *c, int rc, const mp__os_proc *os,
                       mp__handle status_rd);

/* Lock held: if the child has ended, collects its status (RUNNING ->
 * ENDED, off the registry). Never blocks. */
void mp__child_reap(mp__child *c);

/* Lock held: ENDED -> CLOSED, releasing the OS handle. */
void mp__child_close(mp__child *c);

/* Lock held: the owner is being freed. A running child's record stays in
 * the registry, which frees it once reaped; any other record is freed. */
void mp__child_release(mp__child *c);

/* Reaps every ended child (freeing the records of freed processes) and
 * stores the owners of the running ones, in start order, in out[0..cap).
 * Returns how many run (which may exceed cap). Does not block. */
size_t mp__children_active(mp_process **out, size_t cap);

/* As Python at exit: terminates the daemonic children, joins the others,
 * and frees the records of freed processes. Blocks until all have ended. */
void mp__children_at_exit(void);

/* In a forked child: the registry is the parent's, not ours: empty it. */
void mp__children_forget_all(void);

#endif
