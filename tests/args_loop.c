/* The dangling-list example of issue 16, written as a user writes it: the
 * argument lists of a pool map are made in a loop and used after it. Built
 * at -O0 and at -O2 (tests/CMakeLists.txt); prints the squares and exits 0
 * only when they are 0 1 4 ... 81. */
#include <stdio.h>
#include <string.h>

#include "mproc.h"

static int square(mp_call *call) {
    int64_t x = mp_arg_int(mp_call_arg(call, 0));
    return mp_call_return_int(call, x * x);
}

int main(int argc, char **argv) {
    int rc = mp_init(&argc, &argv);
    mp_pool *pool = NULL;
    mp_pool_options o = {.processes = 2};
    if (rc || (rc = mp_pool_new(&pool, &o)) != 0) {
        fprintf(stderr, "setup: %s\n", mp_strerror(rc));
        return 2;
    }
    mp_args items[10];
    for (int i = 0; i < 10; i++)
        items[i] = MP_ARGS(mp_int(i));
    mp_result *r = NULL;
    int bad = 0;
    rc = mp_pool_map(pool, square, items, 10, 0, &r);
    if (rc) {
        fprintf(stderr, "mp_pool_map: %s\n", mp_strerror(rc));
        bad = 1;
    }
    for (size_t i = 0; !rc && i < 10; i++) {
        const void *p;
        size_t len;
        int64_t v = -1;
        if (mp_result_item(r, i, &p, &len, NULL) == 0 && len == sizeof v)
            memcpy(&v, p, sizeof v);
        printf("%lld ", (long long)v);
        bad += v != (int64_t)(i * i);
    }
    printf("\n");
    mp_result_free(r);
    if (mp_pool_close(pool) || mp_pool_join(pool, 30000))
        bad = 1;
    mp_pool_free(pool);
    return bad ? 1 : 0;
}
