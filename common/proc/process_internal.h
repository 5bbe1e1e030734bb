/* What the Process object (process.c) gives the rest of the library. */
#ifndef MP_COMMON_PROCESS_INTERNAL_H
#define MP_COMMON_PROCESS_INTERNAL_H

#include "mproc/process.h"
#include "os/os_base.h"

/* The process's sentinel for mp_wait: MP_ESTATE when it was not started or
 * was closed; *h may be MP__BAD_HANDLE where the platform has none. */
int mp__process_sentinel(mp_process *p, mp__handle *h);

#endif
