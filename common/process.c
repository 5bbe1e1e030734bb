#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>

#include "internal.h"

enum proc_state { P_NEW, P_STARTED, P_ENDED, P_CLOSED };

struct mp_process {
    mp_target target;
    mp__argv args;
    char name[MP__NAME_MAX + 1];
    bool daemon;
    mp_start_method method;
    enum proc_state state; /* guarded by mp__g.lock once started */
    mp__os_proc os;
    mp__handle status_rd; /* spawn: the child's bootstrap status pipe */
    int exitcode;
    int child_err;  /* a bootstrap error the spawned child reported */
    bool orphaned;  /* freed while running: the registry owns it */
    struct mp_process *prev, *next; /* registry of started, unreaped children */
};

static mp_process *registry;
static volatile apr_uint32_t name_counter;

static void reg_add(mp_process *p) {
    p->prev = NULL;
    p->next = registry;
    if (registry)
        registry->prev = p;
    registry = p;
}

static void reg_remove(mp_process *p) {
    if (p->prev)
        p->prev->next = p->next;
    else if (registry == p)
        registry = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

int mp_process_new(mp_process **pp, mp_target target, mp_args args,
                   const mp_process_options *opts) {
    static const mp_process_options defaults = {0};
    if (!pp || !target)
        return MP_EINVAL;
    *pp = NULL;
    if (!opts)
        opts = &defaults;
    if (opts->name && strlen(opts->name) > MP__NAME_MAX)
        return MP_EINVAL;
    mp_start_method method = opts->start_method;
    if (method != MP_START_DEFAULT) {
        int rc = mp__resolve_method(method, &method);
        if (rc)
            return rc;
    }
    mp_process *p = calloc(1, sizeof *p);
    if (!p)
        return MP_ENOMEM;
    int rc = mp__argv_copy(args, &p->args);
    if (rc) {
        free(p);
        return rc;
    }
    p->target = target;
    p->daemon = opts->daemon;
    p->method = method;
    p->state = P_NEW;
    p->os.h = MP__BAD_HANDLE;
    p->status_rd = MP__BAD_HANDLE;
    if (opts->name)
        snprintf(p->name, sizeof p->name, "%s", opts->name);
    else
        snprintf(p->name, sizeof p->name, "Process-%u",
                 (unsigned)apr_atomic_inc32(&name_counter) + 1);
    *pp = p;
    return 0;
}

/* Runs the target in a forked child and never returns. */
static void fork_child_main(mp_process *p) {
    mp__set_current_name(p->name);
    mp_call call = {p->args.v, p->args.n, {0}, false};
    int code = p->target(&call);
    fflush(NULL);
    /* _exit: the parent's atexit handlers (which would join the parent's
     * children) are not ours to run. */
    _Exit(code);
}

int mp_process_start(mp_process *p) {
    if (!p)
        return MP_EINVAL;
    if (!mp__g.inited || p->state != P_NEW)
        return MP_ESTATE;
    mp_start_method method = p->method;
    if (method == MP_START_DEFAULT)
        method = mp__g.method;
    int rc;
    if (method == MP_START_FORK) {
        bool is_child = false;
        mp__os_proc os;
        /* Unwritten stdio buffers would otherwise be written twice: once by
         * us and once by the child when it exits. */
        fflush(NULL);
        rc = mp__os_fork(&os, p->daemon, &is_child);
        if (is_child)
            fork_child_main(p);
        mp__lock();
        if (!rc)
            p->os = os;
    } else {
        mp__os_proc os;
        mp__handle st;
        rc = mp__spawn(p->target, &p->args, p->name, p->daemon, &os, &st);
        mp__lock();
        if (!rc) {
            p->os = os;
            p->status_rd = st;
        }
    }
    if (!rc) {
        p->state = P_STARTED;
        reg_add(p);
    }
    mp__unlock();
    return rc;
}

/* Collects the status of an ended child; lock held. */
static void reap_locked(mp_process *p) {
    int code = 0;
    if (p->state != P_STARTED)
        return;
    if (mp__os_proc_reap(&p->os, &code) != 0)
        return;
    p->exitcode = code;
    if (p->status_rd != MP__BAD_HANDLE) {
        p->child_err = mp__spawn_status(p->status_rd);
        mp__os_close(p->status_rd);
        p->status_rd = MP__BAD_HANDLE;
    }
    p->state = P_ENDED;
    reg_remove(p);
}

int mp_process_join(mp_process *p, long timeout_ms) {
    if (!p || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    mp__lock();
    enum proc_state st = p->state;
    mp__unlock();
    if (st == P_NEW || st == P_CLOSED)
        return MP_ESTATE;
    if (st == P_STARTED) {
        int rc = mp__os_proc_wait(&p->os, mp__deadline_in(timeout_ms));
        if (rc)
            return rc == MP_EAGAIN ? MP_ETIMEDOUT : rc;
        mp__lock();
        reap_locked(p);
        mp__unlock();
    }
    return p->child_err;
}

int mp_process_is_alive(mp_process *p) {
    if (!p)
        return MP_EINVAL;
    mp__lock();
    int alive = 0;
    if (p->state == P_STARTED) {
        if (mp__os_proc_wait(&p->os, MP__DL_NOW) == 0)
            reap_locked(p);
        else
            alive = 1;
    }
    mp__unlock();
    return alive;
}

/* For mp_wait (conn_wait.c): the handle that is signalled when p ends. */
int mp__process_sentinel(mp_process *p, mp__handle *h) {
    mp__lock();
    enum proc_state st = p->state;
    *h = p->os.h;
    mp__unlock();
    return st == P_NEW || st == P_CLOSED ? MP_ESTATE : 0;
}

long mp_process_pid(const mp_process *p) { return p ? p->os.pid : 0; }

const char *mp_process_name(const mp_process *p) { return p ? p->name : NULL; }

int mp_process_set_daemon(mp_process *p, bool daemon) {
    if (!p)
        return MP_EINVAL;
    if (p->state != P_NEW)
        return MP_ESTATE;
    p->daemon = daemon;
    return 0;
}

int mp_process_exitcode(mp_process *p, int *code) {
    if (!p || !code)
        return MP_EINVAL;
    int alive = mp_process_is_alive(p);
    if (alive || p->state == P_NEW)
        return MP_ESTATE;
    *code = p->exitcode;
    return p->child_err;
}

static int send_signal(mp_process *p, int sig) {
    if (!p)
        return MP_EINVAL;
    mp__lock();
    int rc = 0;
    if (p->state == P_NEW || p->state == P_CLOSED)
        rc = MP_ESTATE;
    else if (p->state == P_STARTED)
        rc = mp__os_proc_signal(&p->os, sig);
    mp__unlock();
    return rc;
}

int mp_process_terminate(mp_process *p) { return send_signal(p, 15); }
int mp_process_kill(mp_process *p) { return send_signal(p, 9); }

int mp_process_close(mp_process *p) {
    if (!p)
        return MP_EINVAL;
    if (mp_process_is_alive(p) == 1)
        return MP_ESTATE;
    mp__lock();
    if (p->state == P_ENDED) {
        mp__os_proc_close(&p->os);
        p->state = P_CLOSED;
    }
    mp__unlock();
    mp__argv_free(&p->args);
    return 0;
}

void mp_process_free(mp_process *p) {
    if (!p)
        return;
    mp__lock();
    if (p->state == P_STARTED) {
        p->orphaned = true; /* the registry frees it once reaped */
        mp__unlock();
        return;
    }
    if (p->state == P_ENDED)
        mp__os_proc_close(&p->os);
    mp__unlock();
    mp__argv_free(&p->args);
    free(p);
}

void mp__registry_at_exit(void) {
    /* As Python: daemonic children are terminated, the others joined. The
     * lock is not held while waiting, so the list is re-read each round. */
    for (;;) {
        mp__lock();
        mp_process *p = registry;
        if (p && p->daemon)
            mp__os_proc_signal(&p->os, 15);
        mp__unlock();
        if (!p)
            return;
        mp__os_proc_wait(&p->os, MP__DL_FOREVER);
        mp__lock();
        reap_locked(p);
        bool orphan = p->orphaned;
        if (orphan)
            mp__os_proc_close(&p->os);
        mp__unlock();
        if (orphan) {
            mp__argv_free(&p->args);
            free(p);
        }
    }
}

void mp__registry_forget_all(void) { registry = NULL; }
