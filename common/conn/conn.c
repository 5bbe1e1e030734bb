/* Pipe and Connection: the object, send, receive, poll, close, and how a
 * connection crosses into a spawned child. */
#include <stdlib.h>

#include "conn/conn_internal.h"
#include "util/handles.h"
#include "proc/objtype.h"
#include "util/random.h"

int mp__conn_wrap(mp_conn **out, mp__os_conn *os, bool readable, bool writable,
                  size_t max_message) {
    mp_conn *c = malloc(sizeof *c);
    if (!c) {
        mp__os_conn_free(os);
        return MP_ENOMEM;
    }
    c->os = os;
    c->readable = readable;
    c->writable = writable;
    c->max_message = max_message ? max_message : MP_CONN_MAX_MESSAGE_DEFAULT;
    *out = c;
    return 0;
}

int mp_pipe(mp_conn **a, mp_conn **b, bool duplex) {
    if (!a || !b)
        return MP_EINVAL;
    char token[33];
    mp__os_conn *oa, *ob;
    int rc = mp__random_token(token);
    if (!rc)
        rc = mp__os_conn_pair(&oa, &ob, duplex, token);
    if (rc)
        return rc;
    if ((rc = mp__conn_wrap(a, oa, true, duplex, 0)) != 0) {
        mp__os_conn_free(ob);
        return rc;
    }
    if ((rc = mp__conn_wrap(b, ob, duplex, true, 0)) != 0) {
        mp_conn_free(*a);
        *a = NULL;
    }
    return rc;
}

int mp_conn_send(mp_conn *c, const void *ptr, size_t len) {
    if (!c || (!ptr && len))
        return MP_EINVAL;
    if (!c->os)
        return MP_ECLOSED;
    if (!c->writable)
        return MP_ESTATE;
    return mp__os_conn_send(c->os, ptr, len);
}

static int check_readable(const mp_conn *c) {
    if (!c)
        return MP_EINVAL;
    if (!c->os)
        return MP_ECLOSED;
    return c->readable ? 0 : MP_ESTATE;
}

int mp_conn_recv(mp_conn *c, mp_buf *buf, long timeout_ms) {
    int rc = check_readable(c);
    if (rc || !buf || timeout_ms < MP_INFINITE)
        return rc ? rc : MP_EINVAL;
    mp__deadline d = mp__deadline_in(timeout_ms), len;
    if ((rc = mp__os_conn_peek(c->os, &len, d)) != 0)
        return rc;
    /* Checked before allocating: a peer's length alone never makes us
     * allocate more than max_message. */
    if (len > c->max_message || len > SIZE_MAX)
        return MP_EMSGSIZE;
    if ((rc = mp__buf_reserve(buf, (size_t)len)) != 0)
        return rc;
    if ((rc = mp__os_conn_take(c->os, buf->data, (size_t)len, d)) != 0)
        return rc;
    mp__buf_set_len(buf, (size_t)len);
    return 0;
}

int mp__conn_recv_into_dl(mp_conn *c, void *ptr, size_t cap, size_t *len,
                          mp__deadline d) {
    uint64_t n;
    int rc = mp__os_conn_peek(c->os, &n, d);
    if (rc)
        return rc;
    *len = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
    if (n > cap)
        return MP_EMSGSIZE;
    return mp__os_conn_take(c->os, ptr, (size_t)n, d);
}

int mp_conn_recv_into(mp_conn *c, void *ptr, size_t cap, size_t *len,
                      long timeout_ms) {
    int rc = check_readable(c);
    if (rc || !len || (!ptr && cap) || timeout_ms < MP_INFINITE)
        return rc ? rc : MP_EINVAL;
    return mp__conn_recv_into_dl(c, ptr, cap, len,
                                 mp__deadline_in(timeout_ms));
}

int mp_conn_poll(mp_conn *c, long timeout_ms) {
    int rc = check_readable(c);
    if (rc || timeout_ms < MP_INFINITE)
        return rc ? rc : MP_EINVAL;
    uint64_t len;
    rc = mp__os_conn_peek(c->os, &len, mp__deadline_in(timeout_ms));
    /* End of stream or a bad frame is news for recv to report. */
    return rc == MP_EAGAIN || rc == MP_ETIMEDOUT ? rc : 0;
}

int mp_conn_set_max_message(mp_conn *c, size_t max_message) {
    if (!c)
        return MP_EINVAL;
    c->max_message = max_message ? max_message : MP_CONN_MAX_MESSAGE_DEFAULT;
    return 0;
}

bool mp_conn_readable(const mp_conn *c) { return c && c->readable; }
bool mp_conn_writable(const mp_conn *c) { return c && c->writable; }

void mp_conn_close(mp_conn *c) {
    if (!c)
        return;
    mp__os_conn_free(c->os);
    c->os = NULL;
}

void mp_conn_free(mp_conn *c) {
    mp_conn_close(c);
    free(c);
}

/* ---- crossing into a spawned child ---- */

static int conn_export(void *obj, mp__wbuf *w, mp__handles *hs) {
    mp_conn *c = obj;
    if (!c->os)
        return MP_ECLOSED;
    mp__w_u8(w, (uint8_t)(c->readable | c->writable << 1));
    mp__w_u64(w, c->max_message);
    mp__handles_put(hs, w, mp__os_conn_handle(c->os));
    mp__os_conn_save(c->os, w);
    return w->err;
}

static int conn_import(void **obj, mp__rbuf *r, mp__handle *hs, size_t nh) {
    uint8_t fl;
    uint64_t maxm;
    mp__handle h;
    int rc = mp__r_u8(r, &fl);
    if (!rc)
        rc = mp__r_u64(r, &maxm);
    if (!rc && (fl == 0 || fl > 3 || maxm == 0 || maxm > SIZE_MAX))
        rc = MP_EPROTO;
    if (!rc)
        rc = mp__handles_take(r, hs, nh, &h);
    if (rc)
        return rc;
    mp__os_conn *os;
    if ((rc = mp__os_conn_restore(&os, h, r)) != 0)
        return rc;
    return mp__conn_wrap((mp_conn **)obj, os, fl & 1, fl & 2, (size_t)maxm);
}

static void conn_release(void *obj) { mp_conn_free(obj); }

const mp__objtype mp__conn_objtype = {conn_export, conn_import, conn_release};
