/* mp_init and mp_shutdown, and the hooks they install: at exit and around
 * fork. The top of the process code: it calls down into the registry
 * (children.c), the spawn bootstrap (spawn.c) and the runtime state. */
#include <stdio.h>
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

/* The handle list main's argv names, when argv[1] is the spawn flag ("",
 * which no parse takes, when the list is missing); NULL otherwise. */
static const char *argv_spawn_data(int *argc, char ***argv) {
    if (!argc || !argv || !*argv || *argc < 2 || !(*argv)[1] ||
        strcmp((*argv)[1], MP__SPAWN_FLAG) != 0)
        return NULL;
    return *argc >= 3 && (*argv)[2] ? (*argv)[2] : "";
}

static bool spawned; /* run_spawned was called */

/* Runs the target of this spawned child and exits; never returns. A
 * set-uid, set-gid or secure-exec process takes no start data from
 * whoever started it: it refuses, touching none of the handles named. */
static _Noreturn void run_spawned(const char *handles) {
    spawned = true;
    mp__g.booting = true;
    if (mp__os_secure_exec()) {
        fprintf(stderr,
                "mproc: refusing to run as a spawned child (%s): "
                "this process is set-uid, set-gid or secure-exec\n",
                MP__SPAWN_FLAG);
        exit(MP_EXIT_INSECURE);
    }
    mp__spawn_child_main(handles);
}

int mp_init(int *argc, char ***argv) {
    static bool hooks_done, looked;
    const char *from_argv = argv_spawn_data(argc, argv);
    /* A spawned child whose first mp_init could not see its start data
     * (mp_init(NULL, NULL) after the program took MPROC_SPAWN out of its
     * environment) still runs its target from main's argv. */
    if (mp__g.inited) {
        if (from_argv && !spawned)
            run_spawned(from_argv);
        return 0;
    }
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
    /* Once per process: what the system kept of our start, read (and
     * taken out of the environment) whichever form of mp_init this is. */
    char *from_os = NULL;
    if (!looked) {
        if ((rc = mp__os_spawn_data(&from_os)) < 0)
            return rc;
        looked = true;
    }
    if (!mp__g.name[0])
        mp__set_current_name("MainProcess");
    mp__g.inited = true;
    if (from_argv || from_os)
        run_spawned(from_argv ? from_argv : from_os);
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
