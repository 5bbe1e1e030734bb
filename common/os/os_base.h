/* os layer, the base: the handle type, set-up, sleep, pids and cpu count,
 * byte pipes, and the calling thread's last OS error. Implemented by
 * posix/os_base.c and win32/os_base.c.
 *
 * The os layer is the internal contract every backend implements (posix/,
 * win32/): common/ talks to the operating system only through this header
 * and the topic headers beside it, each of which includes this one. Each
 * topic has one header here and one file per backend: common/os_proc.h ->
 * posix/os_proc.c and win32/os_proc.c, and so on. Backend functions return
 * 0 or a negative MP_E* code; errno and GetLastError never cross this
 * line. */
#ifndef MP_COMMON_OS_BASE_H
#define MP_COMMON_OS_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mproc/core.h"
#include "base/clock.h"

/* An OS handle: a file descriptor on POSIX, a HANDLE on Windows. */
typedef intptr_t mp__handle;
#define MP__BAD_HANDLE ((mp__handle)-1)

/* The argument that marks a spawned child's command line:
 *   <exe> --mproc-spawn <h0>,<h1>,...
 * where h0.. are the child's values of the handles passed to it. */
#define MP__SPAWN_FLAG "--mproc-spawn"

/* A spawned child's start data, found without main's argv (mp_init(NULL,
 * NULL)): 1 with *handles (malloc'd, the caller's to free) the list
 * "h0,h1,..." that mp__os_spawn gave this process, 0 when it has none,
 * MP_ENOMEM. POSIX: the environment entry MPROC_SPAWN, honoured only when
 * the descriptor it names first is the very pipe its parent made for it,
 * so never in a process that merely has the entry set; it and the
 * library's other entries (MPROC_WATCH_FD) are taken out of the
 * environment whatever they held, so that none reaches the target, its
 * children or a system(). Windows: the command line, which the program
 * cannot lose. Called once per process, by the first mp_init. */
int mp__os_spawn_data(char **handles);

/* Whether this process runs with rights its invoker may lack: set-uid,
 * set-gid or otherwise secure-exec (Linux's AT_SECURE, issetugid() on
 * macOS and the BSDs). Such a process takes no start data from whoever
 * started it. Always false on Windows, which has no set-uid programs. */
bool mp__os_secure_exec(void);

/* Process-wide set-up done once by mp_init (signal dispositions, fork
 * handlers and such). */
int mp__os_init(void);

/* Registers functions run around fork() (POSIX pthread_atfork); a no-op
 * where there is no fork. */
int mp__os_atfork(void (*prepare)(void), void (*parent)(void),
                  void (*child)(void));

/* The monotonic clock, mp__os_now_ns, is declared in clock.h with the
 * deadline type every wait of the os contract takes. */

/* Sleeps for at least ns nanoseconds (a signal does not cut it short; the
 * system may round it up: to a millisecond on Windows). The one sleep of
 * the library: waits that sleep do it through the wait policy's back-off
 * (wait_policy.h). */
void mp__os_sleep_ns(uint64_t ns);

int mp__os_cpu_count(void);
long mp__os_getpid(void);
long mp__os_getppid(void);

/* A one-way byte pipe, both ends close-on-exec / not inheritable. Writes
 * never raise SIGPIPE. */
int mp__os_pipe(mp__handle *rd, mp__handle *wr);

/* Blocking full write / full read. A read that meets the end of the stream
 * before len bytes is MP_ECLOSED; a closed reader makes a write MP_ECLOSED. */
int mp__os_write_all(mp__handle h, const void *buf, size_t len);
int mp__os_read_all(mp__handle h, void *buf, size_t len);

/* Reads what is available now without blocking (*got may be 0). End of
 * stream with nothing read gives *got = 0 and MP_ECLOSED. */
int mp__os_read_avail(mp__handle h, void *buf, size_t len, size_t *got);

/* Closes a handle; MP__BAD_HANDLE is ignored. */
void mp__os_close(mp__handle h);

/* Opens the null device for reading (a child's stdin). */
int mp__os_open_null(mp__handle *h);

/* Records e (errno, GetLastError or WSAGetLastError; 0 is ignored) as the
 * calling thread's last OS error, for mp_os_error. Each backend's mapping
 * of OS codes to MP_E* calls it. */
void mp__note_os_error(long e);

/* The calling thread's last OS error, and setting it back: cleanup after a
 * failure, and reads whose OS error is the expected outcome (a spawned
 * child's status pipe at its end), keep the code of the failure the caller
 * sees. */
long mp__os_error_save(void);
void mp__os_error_restore(long e);

#endif
