/* The handle list that travels beside a spawned child's blob. */
#include <stdlib.h>

#include "util/handles.h"

void mp__handles_put(mp__handles *hs, mp__wbuf *w, mp__handle h) {
    if (w->err)
        return;
    if (hs->n == hs->cap) {
        size_t cap = hs->cap ? hs->cap * 2 : 8;
        mp__handle *v = realloc(hs->v, cap * sizeof *v);
        if (!v) {
            w->err = MP_ENOMEM;
            return;
        }
        hs->v = v;
        hs->cap = cap;
    }
    mp__w_u32(w, (uint32_t)hs->n);
    hs->v[hs->n++] = h;
}

int mp__handles_take(mp__rbuf *r, mp__handle *hs, size_t nh, mp__handle *out) {
    uint32_t i;
    int rc = mp__r_u32(r, &i);
    if (rc)
        return rc;
    if (i >= nh || hs[i] == MP__BAD_HANDLE)
        return MP_EPROTO;
    *out = hs[i];
    hs[i] = MP__BAD_HANDLE;
    return 0;
}

void mp__handles_free(mp__handles *hs) {
    free(hs->v);
    hs->v = NULL;
    hs->n = hs->cap = 0;
}
