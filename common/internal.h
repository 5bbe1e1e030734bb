/* Library-wide internal state and helpers shared by common/ files. */
#ifndef MP_COMMON_INTERNAL_H
#define MP_COMMON_INTERNAL_H

#include "mproc.h"
#include "args_internal.h"
#include "os.h"
#include "runtime.h"
#include "wait_policy.h"

/* The process's sentinel for mp_wait (process.c): MP_ESTATE when it was not
 * started or was closed; *h may be MP__BAD_HANDLE where the platform has
 * none. */
int mp__process_sentinel(mp_process *p, mp__handle *h);

#endif
