/** @file
 * mproc: Process, a child running one target function.
 *
 * mp_process_new describes the child, mp_process_start creates it, and
 * mp_process_join waits for it, as in Python's multiprocessing.Process. The
 * child runs only the target; its stdin is the null device; its exit code
 * is the target's return value. When the target returns, the child ends as
 * Python's does, with either start method: its own daemonic children are
 * terminated and the others joined, then it exits.
 *
 * Threads. A process object may be used from several threads at once:
 * mp_process_start (once) may run while other threads call join, is_alive,
 * pid, exitcode, terminate, kill, name and mp_wait on it; those wait for a
 * start under way to finish (the start, not the child), so a thread that
 * learns from the child itself that it has run always finds it started.
 * set_daemon is for before the start, not during it. mp_process_close and
 * mp_process_free must not run at the same time as any other call on the
 * same process: finish the others first (free releases the memory every
 * other call reads). */
#ifndef MPROC_PROCESS_H
#define MPROC_PROCESS_H

#include "mproc/args.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A child process (Python's Process). */
typedef struct mp_process mp_process;

/** Options for mp_process_new; a NULL pointer or zeroed fields mean the
 * defaults. */
typedef struct mp_process_options {
    /** NULL: "Process-N"; copied; max 255 bytes */
    const char *name;
    bool daemon;                  /**< the child dies with the parent */
    mp_start_method start_method; /**< MP_START_DEFAULT: the global setting */
} mp_process_options;

/** Describes a child that will run target(args). Nothing is started yet.
 * The arguments (strings, bytes, keyword names) are copied; objects in them
 * must stay open until mp_process_start returns.
 * On success *p owns the description; release it with mp_process_free.
 * Errors: MP_EINVAL (NULL p or target, a name longer than 255 bytes, an
 * unknown start method, an argument of unknown type), MP_ENOTSUP (a start
 * method the platform lacks), MP_ENOMEM. */
MP_EXTERN int mp_process_new(mp_process **p, mp_target target, mp_args args,
                             const mp_process_options *opts);

/** Creates the child. Returns once it exists (it may not have reached the
 * target yet, or may have ended already). MP_ESTATE when started before
 * (also by another thread), after close, when mp_init has not run, or in
 * a spawned child before its target runs (Python's "bootstrapping phase":
 * from an atexit handler of a child that could not begin, say);
 * MP_EINVAL for NULL; MP_ELIMIT when the system refuses another process;
 * MP_ETARGET when the target cannot be located for a spawned child;
 * MP_ENOMEM, MP_ESYS. After a failure the process may be started again. */
MP_EXTERN int mp_process_start(mp_process *p);

/** Waits for the child to end: MP_INFINITE, 0 (poll) or a bound in ms.
 * 0 once it has ended (again and again); MP_ETIMEDOUT when a positive bound
 * runs out; MP_EAGAIN for a 0 timeout while the child runs (as every
 * timeout 0 in the API); MP_ESTATE when never started or closed;
 * MP_ETARGET when a spawned child could not find its target (the child's
 * program is not the parent's, e.g. replaced on disk); MP_EINVAL for NULL
 * or a negative timeout other than MP_INFINITE. Thread-safe. */
MP_EXTERN int mp_process_join(mp_process *p, long timeout_ms);

/** 1 while the child runs, 0 before start and after it ended (reaping it
 * then), MP_EINVAL for NULL. Does not block. Thread-safe. */
MP_EXTERN int mp_process_is_alive(mp_process *p);

/** The child's process id, 0 before start or for NULL; kept after the child
 * ended and after close. Infallible, thread-safe. */
MP_EXTERN long mp_process_pid(const mp_process *p);

/** The process's name (valid while p lives); NULL for NULL. Infallible. */
MP_EXTERN const char *mp_process_name(const mp_process *p);

/** Makes the child daemonic or not: a daemonic child is killed when its parent
 * ends, however it ends (even by SIGKILL), and is not joined at exit.
 * On Windows it runs in a kill-on-close job object of the parent's. When
 * the parent is itself in a job that forbids that (nested jobs before
 * Windows 8, or a CI runner's or a service's job), the child starts all
 * the same, outside the job, and a thread of its own ends it when the
 * parent's process handle is signalled: it still dies with the parent,
 * but only once it has begun to run its start-up, and programs it starts
 * without mproc are not taken with it. (MPROC_TEST_NO_DAEMON_JOB, set in
 * the parent, forces that path, for tests.)
 * MP_ESTATE after start or close, MP_EINVAL for NULL. */
MP_EXTERN int mp_process_set_daemon(mp_process *p, bool daemon);

/** The child's exit code once it has ended: the target's return value (its
 * low 8 bits on POSIX), -signal when killed by a signal; a terminated child
 * reports -15 and a killed one -9 on every platform, and one stopped by
 * Ctrl-C -2 (SIGINT on POSIX, STATUS_CONTROL_C_EXIT on Windows). On Windows
 * a crashed child reports the exception's NTSTATUS as a negative int (an
 * access violation, 0xC0000005, is -1073741819); spawned children turn off
 * Windows Error Reporting's crash dialog, so a crash ends them at once.
 * MP_ESTATE while running or before start, MP_ETARGET as for join,
 * MP_EINVAL for NULL. Does not block. Thread-safe. */
MP_EXTERN int mp_process_exitcode(mp_process *p, int *code);

/** Asks the child to stop: SIGTERM on POSIX, TerminateProcess on Windows
 * (reported as -15). mp_process_kill is SIGKILL (reported as -9). Both are
 * 0 on a child that already ended; MP_ESTATE before start or after close;
 * MP_EINVAL for NULL. They do not wait: join afterwards. Thread-safe. @{ */
MP_EXTERN int mp_process_terminate(mp_process *p);
MP_EXTERN int mp_process_kill(mp_process *p);
/** @} */

/** Releases the OS resources of an ended child (Python's close); on a
 * process never started, makes sure it never will be. Afterwards only pid,
 * name, exitcode and free may be used (start, join, set_daemon, terminate
 * and kill give MP_ESTATE). MP_ESTATE while the child runs, MP_EINVAL for
 * NULL; 0 when already closed. Not concurrently with other calls on p. */
MP_EXTERN int mp_process_close(mp_process *p);

/** Frees the description. A child still running is not stopped: it is
 * tracked by the library and joined (or, if daemonic, terminated) at exit,
 * or reaped by mp_active_children once it has ended. NULL-safe,
 * infallible. Not concurrently with any other call on p. */
MP_EXTERN void mp_process_free(mp_process *p);

/** Python's active_children(): reaps every child of this process that has
 * ended (as mp_process_is_alive would), and reports the ones still
 * running. *count is set to how many run; the first min(*count, cap) of
 * them, in the order they were started, are stored in out[] (cap 0 and out
 * NULL just count). The pointers are the caller's own processes (children
 * already freed with mp_process_free are reaped but not reported), valid
 * until the caller frees them. Does not block. 0 children before mp_init.
 * MP_EINVAL for a NULL count, or a NULL out with cap > 0. Thread-safe, as
 * long as no listed process is freed meanwhile. */
MP_EXTERN int mp_active_children(mp_process **out, size_t cap, size_t *count);

#ifdef __cplusplus
}
#endif
#endif
