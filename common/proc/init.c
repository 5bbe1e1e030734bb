/* mp_init and mp_shutdown, and the hooks they install: at exit and around
 * fork. The top of the process code: it calls down into the registry
 * (children.c), the spawn bootstrap (spawn.c) and the runtime state. */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>

#include "proc/children.h"
#include "proc/start.h"

/* fork() must not happen while another thread holds the library lock, or
 * the child would inherit it locked: take it around fork, and in the child
 * start with an empty registry (the parent's children are not ours). */
static void atfork_prepare(void) { mp__runtime_lock(); }
static void atfork_parent(void) { mp__runtime_unlock(); }
static void atfork_child(void) {
    mp__children_forget_all();
    mp__runtime_unlock();
}

static void at_exit(void) {
    if (mp__g.inited)
        mp__children_at_exit();
}

int mp_init(int *argc, char ***argv) {
    static bool hooks_done;
    if (mp__g.inited)
        return 0;
    if (apr_initialize() != APR_SUCCESS)
        return MP_ESYS;
    int rc = mp__runtime_init();
    if (rc)
        return rc;
    if (!hooks_done) {
        if ((rc = mp__os_atfork(atfork_prepare, atfork_parent, atfork_child)))
            return rc;
        if (atexit(at_exit) != 0)
            return MP_ENOMEM;
        hooks_done = true;
    }
    if (!mp__g.name[0])
        mp__set_current_name("MainProcess");
    mp__g.inited = true;
    if (argc && argv && *argc >= 3 && (*argv)[1] &&
        strcmp((*argv)[1], MP__SPAWN_FLAG) == 0)
        mp__spawn_child_main((*argv)[2]);
    return 0;
}

void mp_shutdown(void) {
    if (!mp__g.inited)
        return;
    mp__children_at_exit();
    mp__g.inited = false;
    free(mp__g.exe);
    mp__g.exe = NULL;
}
