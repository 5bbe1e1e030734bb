/* libFuzzer target: a shared object's header (the first bytes of its
 * mapping: kind, size, parameters, name, user table) rewritten by another
 * process, then opened as another process would: by name (a named Queue:
 * mp_queue_open), or imported as a spawned child imports an anonymous
 * Queue or Array it was given. The first byte picks the path; the rest
 * overwrites the header (after its magic for a named open: an unpublished
 * object is waited for, not parsed). The open must succeed or fail with an
 * error, and a success give an object that works within its mapping;
 * never crash or touch memory out of the mapping. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "obj/shobj.h"
#include "proc/objtype.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail_unless(bool ok) {
    if (!ok)
        __builtin_trap();
}

/* Overwrites obj's header from `from` with data, opens it again (and uses
 * what opened), then restores the header. */
static void with_header(void *obj, size_t from, const uint8_t *data,
                        size_t size, int (*open)(void *obj, void **out),
                        void (*use)(void *opened)) {
    mp__shobj_hdr *h = mp__shobj_hdr_of(obj);
    mp__shobj_hdr saved;
    memcpy(&saved, h, sizeof saved);
    size_t n = size < sizeof saved - from ? size : sizeof saved - from;
    memcpy((uint8_t *)h + from, data, n);
    void *opened = NULL;
    if (open(obj, &opened) == 0)
        use(opened);
    memcpy(h, &saved, sizeof saved);
}

/* ---- by name ---- */

static char qname[64];

static int open_named(void *obj, void **out) {
    (void)obj;
    return mp_queue_open((mp_queue **)out, qname);
}

static void use_queue(void *opened) {
    mp_queue *q = opened;
    mp_buf b = {0};
    (void)mp_queue_put(q, "x", 1, 0);
    int rc = mp_queue_get(q, &b, 0);
    fail_unless(rc != 0 || b.len <= mp_queue_max_item(q));
    (void)mp_queue_qsize(q);
    mp_buf_free(&b);
    mp_queue_free(q);
}

static void named(const uint8_t *data, size_t size) {
    static unsigned serial;
    snprintf(qname, sizeof qname, "fuzzhdr-%ld-%u", (long)getpid(), serial++);
    mp_queue_options o = {4096, qname};
    mp_queue *q = NULL;
    if (mp_queue_new(&q, 0, &o) != 0)
        return;
    with_header(q, sizeof(uint32_t), data, size, open_named, use_queue);
    mp_queue_free(q);
}

/* ---- imported (a spawned child's view of an anonymous object) ---- */

static mp_obj_kind kind;
static mp__wbuf rec;
static mp__handles hs;

static int import(void *obj, void **out) {
    (void)obj;
    /* The import takes the handles it is given: give it copies. */
    mp__handle dup_hs[8];
    size_t nh = hs.n < 8 ? hs.n : 8;
    for (size_t i = 0; i < nh; i++)
        dup_hs[i] = dup(hs.v[i]);
    mp__rbuf r = {rec.data, rec.len};
    int rc = mp__obj_import(kind, out, &r, dup_hs, nh);
    for (size_t i = 0; i < nh; i++)
        if (dup_hs[i] != MP__BAD_HANDLE)
            close(dup_hs[i]);
    return rc;
}

static void use_imported(void *opened) {
    if (kind == MP_OBJ_QUEUE) {
        mp_queue *q = opened;
        mp_buf b = {0};
        (void)mp_queue_put(q, "x", 1, 0);
        int rc = mp_queue_get(q, &b, 0);
        fail_unless(rc != 0 || b.len <= mp_queue_max_item(q));
        mp_buf_free(&b);
    } else {
        mp_array *a = opened;
        volatile uint8_t *p = mp_array_data(a);
        size_t n = mp_array_len(a) * 4; /* MP_TYPE_INT elements */
        for (size_t i = 0; i < n; i += 64)
            p[i] = p[i];
        if (n)
            p[n - 1] = p[n - 1];
    }
    mp__obj_release(kind, opened);
}

static void imported(bool array, const uint8_t *data, size_t size) {
    void *obj = NULL;
    mp_shared_options so = {.raw = true};
    kind = array ? MP_OBJ_ARRAY : MP_OBJ_QUEUE;
    int rc = array
                 ? mp_array_new((mp_array **)&obj, MP_TYPE_INT, 100, NULL, &so)
                 : mp_queue_new((mp_queue **)&obj, 0, NULL);
    if (rc)
        return;
    rec = (mp__wbuf){0};
    hs = (mp__handles){0};
    if (mp__obj_export(kind, obj, &rec, &hs) == 0 && !rec.err)
        with_header(obj, 0, data, size, import, use_imported);
    mp__w_free(&rec);
    mp__handles_free(&hs);
    if (array)
        mp_array_free(obj);
    else
        mp_queue_free(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0: named(data + 1, size - 1); break;
    case 1: imported(false, data + 1, size - 1); break;
    default: imported(true, data + 1, size - 1); break;
    }
    return 0;
}
