/* libFuzzer target: mp_val_loads, the decoder of pickles that arrive from
 * other processes (connections, queues, pool results, arguments). Any
 * input must decode or fail with one of the documented codes; never
 * crash, read out of bounds, leak or allocate past the limits. A decoded
 * tree must encode, and its pickle must decode to an equal tree (NaNs
 * aside, which equal nothing) that encodes to the same bytes. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mproc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail_unless(bool ok) {
    if (!ok)
        __builtin_trap();
}

/* Whether v holds a NaN anywhere (its keys included). */
static bool has_nan(const mp_val *v) {
    double f;
    if (mp_val_kind_of(v) == MP_VAL_FLOAT)
        return mp_val_to_float(v, &f) == 0 && isnan(f);
    if (mp_val_kind_of(v) == MP_VAL_DICT) {
        for (size_t i = 0; i < mp_val_len(v); i++)
            if (has_nan(mp_val_key_at(v, i)) || has_nan(mp_val_value_at(v, i)))
                return true;
        return false;
    }
    for (size_t i = 0; mp_val_at(v, i); i++)
        if (has_nan(mp_val_at(v, i)))
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* Tighter than the defaults, so that a memo reference copied many
     * times hits the item and byte limits within the fuzzer's memory. */
    const mp_val_limits lim = {0, (size_t)1 << 16, (size_t)1 << 22};
    mp_val *v = NULL;
    int rc = mp_val_loads(&v, data, size, &lim);
    fail_unless(rc == 0 || rc == MP_EPROTO || rc == MP_EOVERFLOW ||
                rc == MP_EMSGSIZE);
    fail_unless((rc == 0) == (v != NULL));
    if (rc)
        return 0;
    mp_buf a = {0}, b = {0};
    fail_unless(mp_val_dumps(v, 5, &a) == 0);
    mp_val *again = NULL;
    fail_unless(mp_val_loads(&again, a.data, a.len, NULL) == 0);
    fail_unless(mp_val_equal(v, again) || has_nan(v));
    fail_unless(mp_val_dumps(again, 5, &b) == 0);
    fail_unless(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    mp_val *copy = mp_val_copy(v);
    fail_unless(copy && (mp_val_equal(copy, v) || has_nan(v)));
    mp_val_free(copy);
    mp_buf_free(&a);
    mp_buf_free(&b);
    mp_val_free(again);
    mp_val_free(v);
    return 0;
}
