/* Process: the public object. It holds what the user described (target,
 * arguments, name, options) and a child record (children.c) for what the
 * OS made of it; starting goes through fork.c or spawn.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc/children.h"
#include "proc/process_internal.h"
#include "proc/start.h"

struct mp_process {
    mp_target target;
    mp__argv args;
    char name[MP__NAME_MAX + 1];
    bool daemon;
    mp_start_method method;
    mp__child *child;
};

static MP__ATOMIC(uint32_t) name_counter;

/* 1, 2, ...: the N of the default names "Process-N". */
static uint32_t next_number(void) {
    return mp__fetch_add32(&name_counter, 1, MP__RELAXED) + 1;
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
    if (!p || !(p->child = mp__child_new(p))) {
        free(p);
        return MP_ENOMEM;
    }
    int rc = mp__argv_copy(args, &p->args);
    if (rc) {
        free(p->child);
        free(p);
        return rc;
    }
    p->target = target;
    p->daemon = opts->daemon;
    p->method = method;
    if (opts->name)
        snprintf(p->name, sizeof p->name, "%s", opts->name);
    else
        snprintf(p->name, sizeof p->name, "Process-%u",
                 (unsigned)next_number());
    *pp = p;
    return 0;
}

int mp_process_start(mp_process *p) {
    if (!p)
        return MP_EINVAL;
    mp__runtime_lock();
    /* STARTING before the child exists: a thread that learns of the child
     * from the child itself finds the process started (or being started,
     * and waits for it), never "not started". */
    int rc = mp__g.inited && !mp__g.booting
                 ? mp__child_begin(p->child, p->daemon)
                 : MP_ESTATE;
    mp__runtime_unlock();
    if (rc)
        return rc;
    mp_start_method method;
    mp__resolve_method(p->method, &method);
    mp__os_proc os = {0, MP__BAD_HANDLE};
    mp__handle st = MP__BAD_HANDLE;
    if (method == MP_START_FORK)
        rc = mp__fork_start(p->target, &p->args, p->name, p->daemon, &os);
    else
        rc = mp__spawn(p->target, &p->args, p->name, p->daemon, &os, &st);
    mp__runtime_lock();
    mp__child_started(p->child, rc, &os, st);
    mp__runtime_unlock();
    return rc;
}

int mp_process_join(mp_process *p, long timeout_ms) {
    if (!p || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    mp__child *c = p->child;
    mp__runtime_lock();
    mp__child_settle(c);
    mp__child_state st = c->state;
    mp__runtime_unlock();
    if (st == MP__CHILD_NEW || st == MP__CHILD_CLOSED)
        return MP_ESTATE;
    if (st == MP__CHILD_RUNNING) {
        /* c->os is fixed while running: waited on without the lock, so
         * that other threads may wait too. */
        int rc = mp__os_proc_wait(&c->os, mp__deadline_in(timeout_ms));
        if (rc)
            return rc; /* MP_EAGAIN for 0, as every timeout 0 */
    }
    mp__runtime_lock();
    mp__child_reap(c);
    int err = c->err;
    mp__runtime_unlock();
    return err;
}

int mp_process_is_alive(mp_process *p) {
    if (!p)
        return MP_EINVAL;
    mp__runtime_lock();
    mp__child_settle(p->child);
    mp__child_reap(p->child);
    int alive = p->child->state == MP__CHILD_RUNNING;
    mp__runtime_unlock();
    return alive;
}

int mp_active_children(mp_process **out, size_t cap, size_t *count) {
    if (!count || (cap && !out))
        return MP_EINVAL;
    *count = mp__children_active(out, cap);
    return 0;
}

int mp__process_sentinel(mp_process *p, mp__handle *h) {
    mp__runtime_lock();
    mp__child_settle(p->child);
    mp__child_state st = p->child->state;
    *h = p->child->os.h;
    mp__runtime_unlock();
    return st == MP__CHILD_NEW || st == MP__CHILD_CLOSED ? MP_ESTATE : 0;
}

long mp_process_pid(const mp_process *p) {
    if (!p)
        return 0;
    mp__runtime_lock();
    mp__child_settle(p->child);
    long pid = p->child->os.pid;
    mp__runtime_unlock();
    return pid;
}

const char *mp_process_name(const mp_process *p) { return p ? p->name : NULL; }

int mp_process_set_daemon(mp_process *p, bool daemon) {
    if (!p)
        return MP_EINVAL;
    mp__runtime_lock();
    int rc = p->child->state == MP__CHILD_NEW ? 0 : MP_ESTATE;
    if (!rc)
        p->daemon = daemon;
    mp__runtime_unlock();
    return rc;
}

int mp_process_exitcode(mp_process *p, int *code) {
    if (!p || !code)
        return MP_EINVAL;
    mp__child *c = p->child;
    mp__runtime_lock();
    mp__child_settle(c);
    mp__child_reap(c);
    int rc = MP_ESTATE;
    if (c->state == MP__CHILD_ENDED || c->state == MP__CHILD_CLOSED) {
        *code = c->exitcode;
        rc = c->err;
    }
    mp__runtime_unlock();
    return rc;
}

static int send_signal(mp_process *p, enum mp__os_signal sig) {
    if (!p)
        return MP_EINVAL;
    mp__runtime_lock();
    mp__child_settle(p->child);
    mp__child_state st = p->child->state;
    int rc = 0;
    if (st == MP__CHILD_NEW || st == MP__CHILD_CLOSED)
        rc = MP_ESTATE;
    else if (st == MP__CHILD_RUNNING)
        rc = mp__os_proc_signal(&p->child->os, sig);
    mp__runtime_unlock();
    return rc;
}

int mp_process_terminate(mp_process *p) {
    return send_signal(p, MP__OS_TERMINATE);
}

int mp_process_kill(mp_process *p) { return send_signal(p, MP__OS_KILL); }

int mp_process_close(mp_process *p) {
    if (!p)
        return MP_EINVAL;
    mp__child *c = p->child;
    mp__runtime_lock();
    mp__child_settle(c);
    mp__child_reap(c);
    int rc = c->state == MP__CHILD_RUNNING ? MP_ESTATE : 0;
    if (c->state == MP__CHILD_NEW)
        c->state = MP__CHILD_CLOSED; /* never to be started now */
    mp__child_close(c);
    mp__runtime_unlock();
    if (!rc)
        mp__argv_free(&p->args);
    return rc;
}

void mp_process_free(mp_process *p) {
    if (!p)
        return;
    mp__runtime_lock();
    mp__child_release(p->child);
    mp__runtime_unlock();
    mp__argv_free(&p->args);
    free(p);
}
