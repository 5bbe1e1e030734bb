/** @file
 * mproc: core definitions shared by every part of the API.
 *
 * Errors, versions, timeouts, the reusable receive buffer, library
 * initialisation and small process-wide queries. Include <mproc.h> rather
 * than this header.
 *
 * Text: every string the library takes or gives (paths, object names,
 * addresses, process names, string arguments, messages) is UTF-8, on
 * Windows too, where the backend converts to UTF-16 for the system. A
 * Windows program's `argv` is in the ANSI code page, not UTF-8: take text
 * from the wide API (GetCommandLineW, GetModuleFileNameW) and convert it
 * with WideCharToMultiByte(CP_UTF8, ...). Paths may be longer than
 * MAX_PATH. */
#ifndef MPROC_CORE_H
#define MPROC_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mproc/config.h"
#include "mproc/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** MP_EXTERN marks the public functions. mproc/config.h defines MP_STATIC
 * for a static library, so that on Windows they are not imported from a
 * DLL; consumers define nothing themselves. */
#if defined(_WIN32) && !defined(MP_STATIC)
#if defined(MP_BUILDING)
#define MP_EXTERN __declspec(dllexport)
#else
#define MP_EXTERN __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define MP_EXTERN __attribute__((visibility("default")))
#else
#define MP_EXTERN
#endif

/** Every error the library reports: name, value, message. The enum,
 * mp_strerror and mp_err_name are all generated from this one list. */
#define MP_ERRNO_MAP(X)                                                       \
    X(EINVAL, -1, "invalid argument")                                         \
    X(ENOMEM, -2, "out of memory")                                            \
    X(ESTATE, -3, "operation not valid in the object's current state")        \
    X(ETIMEDOUT, -4, "timed out")                                             \
    X(EAGAIN, -5, "operation would block")                                    \
    X(ECLOSED, -6, "closed, or the peer has gone")                            \
    X(EMSGSIZE, -7, "message too large")                                      \
    X(EPROTO, -8, "malformed data from the peer")                             \
    X(EOVERFLOW, -9, "value past its bound")                                  \
    X(EOWNERDEAD, -10, "the previous owner died holding the lock")            \
    X(EBROKEN, -11, "barrier broken")                                         \
    X(ETASK, -12, "the task returned a non-zero status")                      \
    X(EWORKER, -13, "the worker process died while running the task")         \
    X(EAUTH, -14, "authentication failed")                                    \
    X(ETARGET, -15, "the target could not be resolved in the child")          \
    X(ENOTSUP, -16, "not supported on this platform")                         \
    X(ENOENT, -17, "no such object")                                          \
    X(EEXIST, -18, "object already exists")                                   \
    X(EACCES, -19, "permission denied")                                       \
    X(ELIMIT, -20, "a system resource limit was reached")                     \
    X(ECONNREFUSED, -21, "connection refused")                                \
    X(EIO, -22, "input/output error")                                         \
    X(ESYS, -23, "unexpected operating system error")

#define MP__ERR_ENUM(name, val, msg) MP_##name = (val),
#define MP__ERR_ONE(name, val, msg) +1
/** The error codes, one per entry of MP_ERRNO_MAP, with the message
 * mp_strerror gives for it. They run from -1 down to MP_ERRNO_MIN without
 * gaps (error.c checks this when the library is built), so that
 * MP_ERRNO_MIN <= err < 0 tells a library error from anything else. */
typedef enum mp_errno {
    MP_OK = 0, /**< success: the 0 every function returns when it works */
    MP_ERRNO_MAP(MP__ERR_ENUM)
    /** the lowest error code (the list's length, negated) */
    MP_ERRNO_MIN = -(0 MP_ERRNO_MAP(MP__ERR_ONE))
} mp_errno;
#undef MP__ERR_ONE
#undef MP__ERR_ENUM

/** A message for a code: "success" for MP_OK, "unknown error" for a value
 * that is no code. Never NULL, static storage, thread-safe. */
MP_EXTERN const char *mp_strerror(int err);

/** The code's name: "MP_EINVAL" for MP_EINVAL, "MP_OK" for 0, "MP_EUNKNOWN"
 * for a value that is no code (no code has that name). Never NULL, static
 * storage, thread-safe. */
MP_EXTERN const char *mp_err_name(int err);

/** The operating system's own code behind the last error an mproc call
 * returned in the calling thread, when an OS call was its cause: errno on
 * POSIX, GetLastError() or WSAGetLastError() on Windows; 0 when this
 * thread has seen none. For diagnostics (above all MP_ESYS, "unexpected
 * operating system error"): it is not reset by calls that succeed, so
 * read it right after the failing call. Infallible, thread-safe. */
MP_EXTERN long mp_os_error(void);

/** The library's version as (major << 16) | (minor << 8) | patch, and as a
 * "major.minor.patch" string. Infallible. @{ */
MP_EXTERN unsigned mp_version(void);
MP_EXTERN const char *mp_version_string(void);
/** @} */

/** Timeouts are `long timeout_ms`: MP_INFINITE waits forever, 0 never blocks
 * (MP_EAGAIN when the operation cannot complete at once), a positive value
 * bounds the wait (MP_ETIMEDOUT when it runs out). */
#define MP_INFINITE (-1L)

/** The name rule of every named object (Semaphore, Lock, Event, Condition,
 * Barrier, Value, Array, Queue): 1 to MP_NAME_MAX bytes, any bytes but
 * '/', '\' and NUL (UTF-8 text is the convention). One namespace holds
 * every kind: a name taken by one kind is MP_EEXIST for every other, and
 * for the same kind with other parameters. Names are private to the user:
 * POSIX keeps them as shared-memory objects "/mp-<name>" (mode 0600),
 * Windows as "Local\mproc-<name>" kernel objects with an owner-only DACL.
 * What a name leads to is checked before it is used: on POSIX a regular
 * file owned by the effective user with no group or other mode bits, never
 * reached through a link; on Windows an object owned by this process's
 * user. Anything else (another user made the name first, or the object was
 * opened up to others) makes create and open fail with MP_EACCES: such an
 * object is never joined nor taken over. A name is removed when the last
 * process that created or opened it frees it; see mp_unlink for names
 * whose users were all killed. A creator killed while it was making the
 * object never blocks the name: the next create takes it over (at once
 * when the creator is known dead; a live creator that does not finish
 * within 2 s gives MP_ETIMEDOUT). The size of an anonymous object is
 * sealed on Linux (a memfd no holder can shrink or grow); a named one, and
 * any object elsewhere, can be shrunk by a process of the same user that
 * opens its name, which makes every user fault on its next access: the
 * user's own processes are trusted not to do that. */
#define MP_NAME_MAX 200

/** A caller-owned, reusable receive buffer. Start with `mp_buf b = {0};`.
 * Receiving functions grow `data` as needed (never shrink it), set `len` to
 * the payload length, and keep `cap` as the allocated size, so a receive loop
 * allocates nothing once warm. Every receive also writes a NUL at
 * `data[len]` (not counted in `len`), so a text payload can be used as a C
 * string as it is. Release with mp_buf_free. A buffer may not be used by
 * two threads at once. */
typedef struct mp_buf {
    void *data; /**< the bytes received, NULL until the first receive */
    size_t len; /**< length of the last payload received */
    size_t cap; /**< bytes allocated at data */
} mp_buf;

/** Frees b->data and zeroes *b. NULL-safe, infallible. */
MP_EXTERN void mp_buf_free(mp_buf *b);

/** How a child process is created. */
typedef enum mp_start_method {
    /** the global setting (fork on POSIX, spawn on Windows) */
    MP_START_DEFAULT = 0,
    MP_START_FORK = 1,  /**< POSIX only: the child is a copy of the parent */
    MP_START_SPAWN = 2, /**< a fresh run of the same executable */
    MP_START_FORKSERVER = 3 /**< reserved: MP_ENOTSUP for now */
} mp_start_method;

/** Initialises the library. Call it first in main(), before any other thread
 * exists, with main's own argc and argv, or with NULL, NULL.
 *
 * In a child started with MP_START_SPAWN it never returns: it receives the
 * arguments, runs the target and exits with its return value. In any other
 * process it returns 0. A spawned child finds its start data with either
 * form: in argv (`--mproc-spawn <handles>`) and, for mp_init(NULL, NULL),
 * in the environment entry MPROC_SPAWN on POSIX (so the program must not
 * clear its environment before mp_init) or the command line on Windows.
 * mp_init takes MPROC_SPAWN and MPROC_WATCH_FD out of the environment, so
 * that the target, its children and system() never see them, and honours
 * them only in a child the library started (MPROC_SPAWN names the pipe its
 * parent made for it): in any other process they are ignored. It may be
 * called again (a no-op returning 0), except that a spawned child whose
 * first call could not see its start data (mp_init(NULL, NULL) with
 * MPROC_SPAWN removed) runs its target when a later call is given argv.
 *
 * A spawned child never runs main's work and never starts a process before
 * its target runs (mp_process_start and mp_pool_new give MP_ESTATE until
 * then). When it cannot begin (start data malformed or unreadable, the
 * target not found in this program) it writes why on stderr and exits with
 * MP_EXIT_BOOTSTRAP; in a set-uid, set-gid or otherwise secure-exec process
 * (Linux's AT_SECURE, issetugid()) it refuses the start data, touching
 * nothing it names, and exits with MP_EXIT_INSECURE.
 *
 * It also arranges that at normal exit (exit() or return from main) daemonic
 * children still running are terminated and the others are joined, as in
 * Python. Errors: MP_ENOMEM, MP_ESYS when the platform layer fails. */
MP_EXTERN int mp_init(int *argc, char ***argv);

/** The exit status of a spawned child that could not begin running its
 * target: its start data was malformed or unreadable, or its target could
 * not be found in the program (mp_process_join reports the reason, e.g.
 * MP_ETARGET, when the child could send it). A message on stderr says
 * what went wrong. */
#define MP_EXIT_BOOTSTRAP 121

/** The exit status of a process started as a spawned child that runs
 * set-uid, set-gid or otherwise secure-exec: it refuses start data from
 * its invoker, with a message on stderr. */
#define MP_EXIT_INSECURE 122

/** Runs the exit-time clean-up at once (terminate daemonic children, join the
 * others) and releases the library's global resources. After it, mp_init
 * must be called again before spawning. NULL-safe, infallible, idempotent. */
MP_EXTERN void mp_shutdown(void);

/** Sets the default start method for objects started afterwards (those
 * created with MP_START_DEFAULT). It lasts for the life of the process:
 * mp_init and mp_shutdown leave it alone. MP_EINVAL for an unknown value;
 * MP_ENOTSUP for fork on Windows and for forkserver. Thread-safe. */
MP_EXTERN int mp_set_start_method(mp_start_method method);

/** The current default start method (never MP_START_DEFAULT). Infallible,
 * thread-safe. */
MP_EXTERN mp_start_method mp_get_start_method(void);

/** Sets the executable that MP_START_SPAWN runs (Python's set_executable).
 * NULL restores the default: the running program itself. path is UTF-8 (on
 * Windows not argv[0], which is ANSI: pass NULL for this very program, or a
 * path converted from UTF-16); up to 1023 bytes, which on Windows may pass
 * MAX_PATH (mp_process_start then fails with MP_EINVAL for a path that is
 * not UTF-8). The file must be a
 * program that calls mp_init first; a target that cannot be found in it is
 * reported as MP_ETARGET by mp_process_join. The string is copied.
 * MP_EINVAL for an empty or over-long path, MP_ENOMEM. Not thread-safe with
 * concurrent spawns. */
MP_EXTERN int mp_set_executable(const char *path);

/** Number of CPUs usable by this process (at least 1). Infallible. */
MP_EXTERN int mp_cpu_count(void);

/** This process's id and its parent's. Infallible. @{ */
MP_EXTERN long mp_getpid(void);
MP_EXTERN long mp_getppid(void);
/** @} */

/** The current process's name: "MainProcess" in a program started normally,
 * the mp_process's name inside a child. Static storage valid for the life
 * of the process; infallible. */
MP_EXTERN const char *mp_current_name(void);

#ifdef __cplusplus
}
#endif
#endif
