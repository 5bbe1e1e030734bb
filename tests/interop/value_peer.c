/* The mproc side of the value interop test (value_interop.py):
 *   value_peer roundtrip PROTO        a pickle on stdin, decoded and written
 *                                     back with protocol PROTO on stdout
 *   value_peer roundtrips PROTO       the same for many: each pickle in and
 *                                     out framed by a 4-byte big-endian
 *                                     length (out: 0xffffffff and the
 *                                     error's name when it is refused)
 *   value_peer listen KEY DIGEST      listens at a fresh address, prints it,
 *                                     serves one client
 *   value_peer connect KEY DIGEST ADDRESS
 * KEY "-" means no authkey; DIGEST is sha256 or md5. A served connection
 * answers every value v it receives with {"got": v, "len": len(v)} until
 * the peer closes. A client sends jobs (see job()) to the Python listener,
 * which answers each with {"echo": job, "sum": sum(job["nums"])}; the
 * client checks every answer and ends by sending None.
 * Exit codes: 0 done, 3 a wrong answer, 4 an error (its name printed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mproc.h"

static int serve(mp_conn *c) {
    mp_val *v = NULL;
    int rc;
    while ((rc = mp_conn_recv_val(c, &v, 60000)) == 0) {
        mp_val *reply = mp_val_new(MP_VAL_DICT);
        mp_val *slot = reply ? mp_val_put(reply, "got") : NULL;
        rc = slot ? mp_val_set_copy(slot, v) : MP_ENOMEM;
        if (!rc)
            rc = mp_val_put_int(reply, "len", (int64_t)mp_val_len(v));
        if (!rc)
            rc = mp_conn_send_val(c, reply);
        mp_val_free(reply);
        mp_val_free(v);
        if (rc)
            break;
    }
    mp_conn_free(c);
    return rc == MP_ECLOSED ? 0 : rc;
}

/* Job i: a dict of every kind. */
static mp_val *job(int i) {
    mp_val *d = mp_val_new(MP_VAL_DICT);
    int rc = d ? 0 : MP_ENOMEM;
    mp_val *nums = NULL, *t = NULL, *s = NULL;
    if (!rc)
        rc = mp_val_put_int(d, "id", i);
    if (!rc)
        rc = mp_val_put_str(d, "path", "données/a.txt");
    if (!rc)
        rc = mp_val_put_bytes(d, "raw", "\x00\xff\x01", 3);
    if (!rc)
        rc = mp_val_put_float(d, "scale", 0.5 * i);
    if (!rc)
        rc = mp_val_put_bool(d, "urgent", i % 2 == 0);
    if (!rc)
        rc = mp_val_put_none(d, "parent");
    if (!rc)
        rc = mp_val_put_int(d, "big", (int64_t)1 << 40);
    if (!rc)
        rc = (nums = mp_val_put(d, "nums"))
                 ? mp_val_set_empty(nums, MP_VAL_LIST)
                 : MP_ENOMEM;
    for (int k = 0; k < 3000 && !rc; k++) /* more than one batch of 1000 */
        rc = mp_val_push_int(nums, k - 1000);
    if (!rc)
        rc = (t = mp_val_put(d, "where")) ? mp_val_set_empty(t, MP_VAL_TUPLE)
                                          : MP_ENOMEM;
    if (!rc)
        rc = mp_val_push_str(t, "host");
    if (!rc)
        rc = mp_val_push_int(t, 8080);
    if (!rc)
        rc = mp_val_push_float(t, -1.25);
    if (!rc)
        rc = mp_val_push_none(t);
    if (!rc)
        rc = (s = mp_val_put(d, "tags")) ? mp_val_set_empty(s, MP_VAL_SET)
                                         : MP_ENOMEM;
    for (int k = 0; k < 12 && !rc; k++) {
        mp_val *tag = mp_val_new(MP_VAL_INT);
        rc = tag ? mp_val_set_int(tag, k % 10) : MP_ENOMEM; /* 10 distinct */
        if (!rc)
            rc = mp_val_add(s, tag);
        mp_val_free(tag);
    }
    if (rc) {
        mp_val_free(d);
        return NULL;
    }
    return d;
}

static int client(mp_conn *c) {
    int rc = 0, bad = 0;
    for (int i = 0; i < 20 && !rc && !bad; i++) {
        mp_val *j = job(i), *answer = NULL;
        rc = j ? mp_conn_send_val(c, j) : MP_ENOMEM;
        if (!rc)
            rc = mp_conn_recv_val(c, &answer, 60000);
        if (!rc) {
            int64_t sum = 0;
            bad = !mp_val_equal(mp_val_get(answer, "echo"), j) ||
                  mp_val_to_int(mp_val_get(answer, "sum"), &sum) != 0 ||
                  sum != 1498500; /* sum(range(-1000, 2000)) */
            if (bad)
                printf("wrong answer to job %d\n", i);
        }
        mp_val_free(answer);
        mp_val_free(j);
    }
    mp_val *none = mp_val_new(MP_VAL_NONE);
    if (!rc && !bad)
        rc = none ? mp_conn_send_val(c, none) : MP_ENOMEM;
    mp_val_free(none);
    mp_conn_free(c);
    return rc ? rc : bad ? 1 : 0;
}

static int roundtrip(int proto) {
    size_t cap = 1 << 16, len = 0;
    char *in = malloc(cap);
    size_t n;
    while (in && (n = fread(in + len, 1, cap - len, stdin)) > 0) {
        len += n;
        if (len == cap) {
            char *more = realloc(in, cap *= 2);
            if (!more)
                free(in);
            in = more;
        }
    }
    if (!in)
        return MP_ENOMEM;
    mp_val *v = NULL;
    mp_buf out = {0};
    int rc = mp_val_loads(&v, in, len, NULL);
    if (!rc)
        rc = mp_val_dumps(v, proto, &out);
    if (!rc)
        fwrite(out.data, 1, out.len, stdout);
    mp_buf_free(&out);
    mp_val_free(v);
    free(in);
    return rc;
}

static int read_n(void *p, size_t n) {
    return fread(p, 1, n, stdin) == n ? 0 : -1;
}

static void write_frame(const void *p, uint32_t n, bool failed) {
    uint32_t len = failed ? 0xffffffffu : n;
    unsigned char h[4] = {(unsigned char)(len >> 24),
                          (unsigned char)(len >> 16),
                          (unsigned char)(len >> 8), (unsigned char)len};
    fwrite(h, 1, 4, stdout);
    if (failed) {
        unsigned char e[4] = {0, 0, 0, (unsigned char)n};
        fwrite(e, 1, 4, stdout);
    }
    fwrite(p, 1, n, stdout);
}

static int roundtrips(int proto) {
    unsigned char h[4];
    while (read_n(h, 4) == 0) {
        uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
                     (uint32_t)h[2] << 8 | h[3];
        char *in = malloc(n ? n : 1);
        if (!in || read_n(in, n)) {
            free(in);
            return MP_EPROTO;
        }
        mp_val *v = NULL;
        mp_buf out = {0};
        int rc = mp_val_loads(&v, in, n, NULL);
        if (!rc)
            rc = mp_val_dumps(v, proto, &out);
        if (rc) {
            const char *name = mp_err_name(rc);
            write_frame(name, (uint32_t)strlen(name), true);
        } else {
            write_frame(out.data, (uint32_t)out.len, false);
        }
        fflush(stdout);
        mp_buf_free(&out);
        mp_val_free(v);
        free(in);
    }
    return 0;
}

int main(int argc, char **argv) {
    int rc = mp_init(&argc, &argv);
    if (!rc && argc == 3 && strcmp(argv[1], "roundtrips") == 0)
        return roundtrips(atoi(argv[2])) ? 4 : 0;
    if (!rc && argc == 3 && strcmp(argv[1], "roundtrip") == 0) {
        rc = roundtrip(atoi(argv[2]));
        if (rc)
            printf("%s\n", mp_err_name(rc));
        return rc ? 4 : 0;
    }
    if (rc || argc < 4 || (strcmp(argv[1], "connect") == 0 && argc < 5)) {
        fprintf(stderr, "usage: value_peer roundtrip PROTO | listen|connect "
                        "KEY DIGEST [ADDR]\n");
        return 2;
    }
    bool key = strcmp(argv[2], "-") != 0;
    mp_conn_options o = {
        .authkey = key ? argv[2] : NULL,
        .authkey_len = key ? strlen(argv[2]) : 0,
        .digest = strcmp(argv[3], "md5") == 0 ? MP_AUTH_MD5 : MP_AUTH_SHA256,
        .timeout_ms = 30000};
    mp_conn *c = NULL;
    if (strcmp(argv[1], "listen") == 0) {
        mp_listener *l = NULL;
        if ((rc = mp_listener_new(&l, NULL, &o)) == 0) {
            printf("%s\n", mp_listener_address(l));
            fflush(stdout);
            rc = mp_listener_accept(l, &c, 30000);
        }
        if (!rc)
            rc = serve(c);
        if (l)
            mp_listener_free(l);
    } else {
        rc = mp_client(&c, argv[4], &o);
        if (!rc)
            rc = client(c);
    }
    if (rc > 0)
        return 3;
    if (rc)
        printf("%s\n", mp_err_name(rc));
    return rc == 0 ? 0 : 4;
}
