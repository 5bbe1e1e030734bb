/* A second mproc program, used as the "replaced binary" of the spawn tests:
 * it runs mp_init like any mproc program, but holds none of the test
 * binary's targets. */
#include <stdio.h>
#include <stdlib.h>
#ifdef _WIN32
#include <windows.h>
#endif

#include "mproc.h"

int main(int argc, char **argv) {
    /* A child that dies before reading its start data (suite bootstrap). */
#ifdef _WIN32 /* not getenv: C4996 under MSVC */
    if (GetEnvironmentVariableA("MPROC_TEST_EXIT_AT_ONCE", NULL, 0))
        return 0;
#else
    if (getenv("MPROC_TEST_EXIT_AT_ONCE"))
        return 0;
#endif
    int rc = mp_init(&argc, &argv);
    if (rc) {
        fprintf(stderr, "mp_init: %s\n", mp_strerror(rc));
        return 2;
    }
    puts("other program");
    return 0;
}
