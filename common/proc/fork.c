/* The fork start method. */
#include <stdio.h>
#include <stdlib.h>

#include "proc/children.h"
#include "proc/start.h"

static _Noreturn void child_main(mp_target target, const mp__argv *args,
                                 const char *name) {
    mp__set_current_name(name);
    mp_call call = {args->v, args->n, {0}, false};
    int code = target(&call);
    /* Python's forked child runs its exit handling here: daemonic children
     * terminated, the others joined (the registry holds only ours since
     * fork emptied it). The parent's atexit handlers are not ours to run,
     * hence _Exit after flushing what the target wrote. */
    mp__children_at_exit();
    fflush(NULL);
    _Exit(code);
}

int mp__fork_start(mp_target target, const mp__argv *args, const char *name,
                   bool daemon, mp__os_proc *proc) {
    bool is_child = false;
    /* A forked child inherits its handles as they are: one closed since
     * mp_process_new would reach the target as a number naming nothing. */
    int rc = mp__argv_check_handles(args);
    if (rc)
        return rc;
    /* Unwritten stdio buffers would otherwise be written twice: once by us
     * and once by the child when it exits. */
    fflush(NULL);
    rc = mp__os_fork(proc, daemon, &is_child);
    if (is_child)
        child_main(target, args, name);
    return rc;
}
