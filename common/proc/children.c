#include <stdlib.h>

#include "proc/children.h"
#include "proc/start.h"

/* Started, unreaped children in start order (mp_active_children's). */
static mp__child *head, *tail;

static void reg_add(mp__child *c) {
    c->next = NULL;
    c->prev = tail;
    if (tail)
        tail->next = c;
    else
        head = c;
    tail = c;
}

static void reg_remove(mp__child *c) {
    if (c->prev)
        c->prev->next = c->next;
    else
        head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        tail = c->prev;
    c->prev = c->next = NULL;
}

mp__child *mp__child_new(mp_process *owner) {
    mp__child *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->state = MP__CHILD_NEW;
    c->os.h = MP__BAD_HANDLE;
    c->status_rd = MP__BAD_HANDLE;
    c->owner = owner;
    return c;
}

void mp__child_settle(mp__child *c) {
    while (c->state == MP__CHILD_STARTING)
        mp__runtime_wait();
}

int mp__child_begin(mp__child *c, bool daemon) {
    if (c->state != MP__CHILD_NEW)
        return MP_ESTATE;
    c->state = MP__CHILD_STARTING;
    c->daemon = daemon;
    return 0;
}

void mp__child_started(mp__child *c, int rc, const mp__os_proc *os,
                       mp__handle status_rd) {
    if (rc) {
        c->state = MP__CHILD_NEW;
    } else {
        c->os = *os;
        c->status_rd = status_rd;
        c->state = MP__CHILD_RUNNING;
        reg_add(c);
    }
    mp__runtime_broadcast();
}

void mp__child_reap(mp__child *c) {
    if (c->state != MP__CHILD_RUNNING)
        return;
    int rc = mp__os_proc_reap(&c->os, &c->exitcode);
    if (rc == MP_ESTATE)
        return; /* still running */
    /* Any other failure means the status is lost (someone else reaped the
     * child): it has ended all the same, and join reports why. */
    c->err = rc;
    if (c->status_rd != MP__BAD_HANDLE) {
        if (!rc)
            c->err = mp__spawn_status(c->status_rd);
        mp__os_close(c->status_rd);
        c->status_rd = MP__BAD_HANDLE;
    }
    c->state = MP__CHILD_ENDED;
    reg_remove(c);
}

void mp__child_close(mp__child *c) {
    if (c->state != MP__CHILD_ENDED)
        return;
    mp__os_proc_close(&c->os);
    c->state = MP__CHILD_CLOSED;
}

void mp__child_release(mp__child *c) {
    mp__child_settle(c);
    if (c->state == MP__CHILD_RUNNING) {
        c->owner = NULL;
        return;
    }
    mp__child_close(c);
    free(c);
}

/* Lock held: reaps c, and frees it when it has ended and has no owner.
 * Whether it still runs. */
static bool reap_or_drop(mp__child *c) {
    mp__child_reap(c);
    if (c->state == MP__CHILD_RUNNING)
        return true;
    if (!c->owner) {
        mp__child_close(c);
        free(c);
    }
    return false;
}

size_t mp__children_active(mp_process **out, size_t cap) {
    size_t n = 0;
    mp__runtime_lock();
    for (mp__child *c = head, *next; c; c = next) {
        next = c->next;
        if (reap_or_drop(c) && c->owner) {
            if (n < cap)
                out[n] = c->owner;
            n++;
        }
    }
    mp__runtime_unlock();
    return n;
}

/* Lock held: asks every daemonic child to stop. */
static void terminate_daemons(void) {
    for (mp__child *c = head; c; c = c->next)
        if (c->daemon)
            mp__os_proc_signal(&c->os, MP__OS_TERMINATE);
}

void mp__children_at_exit(void) {
    /* As Python: every daemonic child is told to stop first, so none waits
     * behind a non-daemonic one being joined; then all are joined. The
     * lock is not held while waiting, so the list is re-read each round
     * (and a daemonic child started meanwhile is told to stop too). */
    for (;;) {
        mp__runtime_lock();
        terminate_daemons();
        mp__child *c = head;
        mp__runtime_unlock();
        if (!c)
            return;
        mp__os_proc_wait(&c->os, MP__DL_FOREVER);
        mp__runtime_lock();
        if (c == head) /* else another thread reaped it meanwhile */
            reap_or_drop(c);
        mp__runtime_unlock();
    }
}

void mp__children_forget_all(void) { head = tail = NULL; }
