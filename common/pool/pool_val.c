/* Values as pool results: a task's bytes are the pickle mp_call_return_val
 * wrote; these readers decode them (untrusted: a worker is another
 * process) with the default limits. */
#include "mproc.h"
#include "pool/pool_result.h"

int mp_result_item_val(mp_result *r, size_t i, mp_val **out) {
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    const void *p;
    size_t n;
    int rc = mp_result_item(r, i, &p, &n, NULL);
    if (rc)
        return rc;
    return mp_val_loads(out, p, n, NULL);
}

int mp_result_get_val(mp_result *r, long timeout_ms, mp_val **out) {
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    int rc = mp_result_get(r, timeout_ms, NULL);
    if (rc)
        return rc;
    size_t count = mp_result_count(r);
    if (r->kind == MP__RESULT_APPLY)
        return mp_result_item_val(r, 0, out);
    /* A map: the list of every task's value, as Python's map returns. */
    mp_val *list = mp_val_new(MP_VAL_LIST);
    if (!list)
        return MP_ENOMEM;
    for (size_t i = 0; i < count && !rc; i++) {
        mp_val *item = NULL, *slot;
        rc = mp_result_item_val(r, i, &item);
        if (!rc)
            rc = (slot = mp_val_push(list)) ? mp_val_set_copy(slot, item)
                                            : MP_ENOMEM;
        mp_val_free(item);
    }
    if (rc) {
        mp_val_free(list);
        return rc;
    }
    *out = list;
    return 0;
}
