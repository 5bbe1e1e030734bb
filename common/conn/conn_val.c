/* Values over a connection: a message is the value's pickle, exactly what
 * Python's Connection.send(obj) writes and Connection.recv() reads. */
#include <stdlib.h>

#include "base/codec.h"
#include "conn/conn_internal.h"
#include "value/value_internal.h"

/* Messages up to this size are encoded and decoded on the stack. */
#define VAL_STACK 4096u

int mp_conn_send_val(mp_conn *c, const mp_val *v) {
    if (!c || !v)
        return MP_EINVAL;
    uint8_t storage[VAL_STACK];
    mp__wbuf w = mp__wbuf_on(storage, sizeof storage);
    int rc = mp__val_dump(&w, v, 4);
    if (!rc)
        rc = mp_conn_send(c, w.data, w.len);
    mp__w_free(&w);
    return rc;
}

int mp_conn_recv_val(mp_conn *c, mp_val **out, long timeout_ms) {
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    if (!c || timeout_ms < MP_INFINITE)
        return MP_EINVAL;
    if (!c->os)
        return MP_ECLOSED;
    if (!c->readable)
        return MP_ESTATE;
    uint8_t storage[VAL_STACK];
    mp__deadline d = mp__deadline_in(timeout_ms);
    uint64_t len;
    int rc = mp__os_conn_peek(c->os, &len, d);
    if (rc)
        return rc;
    if (len > c->max_message || len > SIZE_MAX)
        return MP_EMSGSIZE; /* nothing allocated; the message stays */
    uint8_t *p = len <= sizeof storage ? storage : malloc((size_t)len);
    if (!p)
        return MP_ENOMEM;
    rc = mp__os_conn_take(c->os, p, (size_t)len, d);
    if (!rc)
        rc = mp_val_loads(out, p, (size_t)len, NULL);
    if (p != storage)
        free(p);
    return rc;
}
