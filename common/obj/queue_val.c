/* Values through a queue: an item is the value's pickle. */
#include <stdlib.h>

#include "base/codec.h"
#include "mproc.h"
#include "obj/queue_internal.h"
#include "value/value_internal.h"

/* Items up to this size are encoded on the stack. */
#define VAL_STACK 4096u

int mp_queue_put_val(mp_queue *q, const mp_val *v, long timeout_ms) {
    if (!q || !v)
        return MP_EINVAL;
    uint8_t storage[VAL_STACK];
    mp__wbuf w = mp__wbuf_on(storage, sizeof storage);
    int rc = mp__val_dump(&w, v, 4);
    if (!rc)
        rc = mp_queue_put(q, w.data, w.len, timeout_ms);
    mp__w_free(&w);
    return rc;
}

int mp_queue_get_val(mp_queue *q, mp_val **out, long timeout_ms) {
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    if (!q)
        return MP_EINVAL;
    mp_buf *b = mp__queue_take_buf(q);
    if (!b)
        return MP_ENOMEM;
    int rc = mp_queue_get(q, b, timeout_ms);
    if (!rc)
        rc = mp_val_loads(out, b->data, b->len, NULL);
    mp__queue_give_buf(q, b);
    return rc;
}
