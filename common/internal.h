/* Library-wide internal state and helpers shared by common/ files. */
#ifndef MP_COMMON_INTERNAL_H
#define MP_COMMON_INTERNAL_H

#include <apr_thread_mutex.h>

#include "mproc.h"
#include "argv.h"
#include "os.h"
#include "wait_policy.h"

#define MP__NAME_MAX 255

typedef struct mp__global {
    bool inited;
    mp_start_method method;
    char *exe;                 /* mp_set_executable, or NULL */
    apr_pool_t *pool;          /* the library's own APR pool */
    apr_thread_mutex_t *lock;  /* guards process state and the registry */
    char name[MP__NAME_MAX + 1];
} mp__global;

extern mp__global mp__g;

void mp__lock(void);
void mp__unlock(void);


/* The start method an object uses: its own choice, else the global one. */
int mp__resolve_method(mp_start_method m, mp_start_method *out);

/* Spawns target(args) as a new run of the program (spawn.c). On success the
 * child exists and *status_rd is the read end of its bootstrap status pipe. */
int mp__spawn(mp_target target, const mp__argv *args, const char *name,
              bool daemon, mp__os_proc *proc, mp__handle *status_rd);

/* In a spawned child: runs the target described on the command line and
 * exits (spawn.c). */
void mp__spawn_child_main(const char *handles);

/* Reads a bootstrap error the child reported, 0 if none (spawn.c). */
int mp__spawn_status(mp__handle status_rd);

/* Sets the name mp_current_name reports. */
void mp__set_current_name(const char *name);

/* The process's sentinel for mp_wait (process.c): MP_ESTATE when it was not
 * started or was closed; *h may be MP__BAD_HANDLE where the platform has
 * none. */
int mp__process_sentinel(mp_process *p, mp__handle *h);

/* Exit-time and fork-time hooks of the process registry (process.c). */
void mp__registry_at_exit(void);
void mp__registry_forget_all(void);


#endif
