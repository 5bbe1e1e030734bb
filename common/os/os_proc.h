/* os layer, processes: create, wait, signal, locate functions across
 * processes. Implemented by posix/os_proc.c and win32/os_proc.c. */
#ifndef MP_COMMON_OS_PROC_H
#define MP_COMMON_OS_PROC_H

#include "os/os_base.h"
#include "base/codec.h"

/* A child process as the backend knows it. */
typedef struct mp__os_proc {
    long pid;
    mp__handle
        h; /* pidfd (or MP__BAD_HANDLE) on POSIX, process HANDLE on Windows */
} mp__os_proc;

/* Whether this platform has fork(). */
bool mp__os_can_fork(void);

/* Forks. In the parent returns 0 with *is_child false and *out filled; in the
 * child returns 0 with *is_child true, stdin redirected to the null device
 * and, when daemon, bound to die with the parent. MP_ENOTSUP on Windows. */
int mp__os_fork(mp__os_proc *out, bool daemon, bool *is_child);

/* What mp__os_spawn runs. */
typedef struct mp__spawn_req {
    const char *exe;           /* NULL: the running program itself */
    const mp__handle *handles; /* parent handles the child receives */
    size_t nhandles;
    bool daemon; /* bind the child's life to ours */
    /* How many of the first handles the child must be able to name before
     * it runs (the pipe it reads the rest from, and where it reports a
     * failure to start): those are inherited, the others may cross as the
     * backend sees fit. */
    size_t nboot;
    /* Filled once the child exists: what it needs to make its own copy of
     * each handle it cannot inherit, for mp__os_handle_recv. */
    mp__wbuf *sent;
} mp__spawn_req;

/* Starts `exe --mproc-spawn v0,v1,...` with stdin on the null device, stdout
 * and stderr shared, and exactly the given handles (vN being the child's
 * value of handles[N]). POSIX passes them all by inheritance. Windows
 * passes only the first req->nboot so, and sends the others once the
 * child exists: a handle is duplicated into the suspended child (so that
 * it is never inheritable here, where another thread's CreateProcess that
 * inherits could take it), a socket crosses by WSADuplicateSocketW for the
 * child's pid (as Microsoft and CPython have it; inheritance breaks under
 * layered providers and Wine). What was sent goes in req->sent, and vN is
 * 0 until mp__os_handle_recv replaces it. A handle that cannot be sent
 * fails the call, the child killed. */
int mp__os_spawn(const mp__spawn_req *req, mp__os_proc *out);

/* In a spawned child, for each value vN of its command line in order:
 * reads from r what mp__os_spawn sent for that handle, if anything, and
 * then makes *h the child's own handle. POSIX sends nothing. */
int mp__os_handle_recv(mp__handle *h, mp__rbuf *r);

/* Handles handed to a child as arguments (mp_handle). check: 0 when h is
 * open in this process (and may be passed on), MP_EINVAL otherwise. adopt,
 * in a spawned child, for a handle it received: makes it private to us
 * (close-on-exec, not inheritable), as every handle mproc makes is. */
int mp__os_handle_check(mp__handle h);
void mp__os_handle_adopt(mp__handle h);

/* In a spawned daemonic child: bind our life to the parent `ppid` (and exit at
 * once if it is already gone). */
int mp__os_child_bind_parent(long ppid);

/* Waits until the child has ended without reaping it; several threads may
 * wait at once. 0, or mp__deadline_err(d) when d passes first. */
int mp__os_proc_wait(mp__os_proc *p, mp__deadline d);

/* How mp__os_proc_signal stops a child: SIGTERM / SIGKILL on POSIX,
 * TerminateProcess with a code of its own for each on Windows. */
enum mp__os_signal { MP__OS_TERMINATE, MP__OS_KILL };

/* The exit codes mp__os_proc_reap reports for a child stopped by
 * MP__OS_TERMINATE and MP__OS_KILL, on every platform: POSIX's -SIGTERM and
 * -SIGKILL, which the public API promises (process.h). */
#define MP__OS_EXIT_TERMINATED (-15)
#define MP__OS_EXIT_KILLED (-9)

/* Collects the ended child's status, once: *code is the exit code, -signal
 * for a signal (so MP__OS_EXIT_TERMINATED / MP__OS_EXIT_KILLED after
 * mp__os_proc_signal). MP_ESTATE if it has not ended; another error when
 * the status cannot be had (the child is gone all the same). */
int mp__os_proc_reap(mp__os_proc *p, int *code);

/* Stops the child as sig says. 0 when the child already ended. */
int mp__os_proc_signal(mp__os_proc *p, enum mp__os_signal sig);

/* Releases the backend's handle of a reaped child. */
void mp__os_proc_close(mp__os_proc *p);

/* Where a function lives, in a form another run of the same program can
 * resolve: the module ("" = the main program), the offset in it, and the
 * module's identity (build id, or file size and time). */
#define MP__MODULE_MAX 1024
#define MP__IDENT_MAX 64
typedef struct mp__fnloc {
    char module[MP__MODULE_MAX];
    uint64_t offset;
    uint8_t ident[MP__IDENT_MAX];
    uint32_t ident_len;
} mp__fnloc;

/* Fills *loc for the code address fn. MP_ETARGET if fn is not in a module. */
int mp__os_fn_locate(const void *fn, mp__fnloc *loc);

/* Finds the address described by loc in this process. MP_ETARGET when the
 * module is absent, its identity differs, or the offset is out of range. */
int mp__os_fn_resolve(const mp__fnloc *loc, void **fn);

#endif
