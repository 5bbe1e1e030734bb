/* The start methods: how a child is created and how it begins and ends.
 * fork.c (MP_START_FORK) and spawn.c (MP_START_SPAWN). */
#ifndef MP_COMMON_START_H
#define MP_COMMON_START_H

#include "proc/args_internal.h"
#include "os/os_proc.h"
#include "proc/runtime.h"

/* Forks a child that runs target(args) under `name` and then ends as
 * Python's forked child does: its daemonic children terminated, the others
 * joined, and exit with the target's return value, without the parent's
 * atexit handlers. Returns in the parent only: 0 with *proc filled, or the
 * error. */
int mp__fork_start(mp_target target, const mp__argv *args, const char *name,
                   bool daemon, mp__os_proc *proc);

/* Spawns target(args) as a new run of the program. On success the child
 * exists and *status_rd is the read end of its bootstrap status pipe. */
int mp__spawn(mp_target target, const mp__argv *args, const char *name,
              bool daemon, mp__os_proc *proc, mp__handle *status_rd);

/* In a spawned child: runs the target described on the command line and
 * exits with its return value through exit(), whose handler (mp_init's)
 * deals with the child's own children. Never returns. */
_Noreturn void mp__spawn_child_main(const char *handles);

/* Reads a bootstrap error the ended child reported, 0 if none. */
int mp__spawn_status(mp__handle status_rd);

#endif
