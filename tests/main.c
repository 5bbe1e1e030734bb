/* The test runner. It is also the child of its own spawn tests: mp_init
 * runs the target and exits when started as one. Usage:
 *   mproc_tests [--suite NAME] [--test NAME]
 * (all suites and tests by default). A test run once per start method is
 * "NAME/fork", "NAME/spawn": --test NAME runs it with each method. */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "testutil.h"

#define MP_SUITE(name) void mp_test_suite_##name(void);
#include "suites.h"
#undef MP_SUITE

int main(int argc, char **argv) {
    int rc = mp_init(&argc, &argv);
    if (rc) {
        fprintf(stderr, "mp_init: %s\n", mp_strerror(rc));
        return 2;
    }
    mp_test_argv0 = argv[0];
    const char *only = NULL, *test = NULL; /* --suite S [--test T] */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--suite") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--test") == 0 && i + 1 < argc)
            test = argv[++i];
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    mp_test_select(test);
    int found = 0;
#define MP_SUITE(name)                                                        \
    if (!only || strcmp(only, #name) == 0) {                                  \
        mp_test_suite_##name();                                               \
        found++;                                                              \
    }
#include "suites.h"
#undef MP_SUITE
    if (!found) {
        fprintf(stderr, "no suite named %s\n", only);
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    if (CU_get_registry()->uiNumberOfTests == 0) {
        fprintf(stderr, "no test %s%s%s\n", test ? test : "",
                only ? " in suite " : "", only ? only : "");
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_run_tests();
    unsigned failed =
        CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (mp_test_tmpdir_remove())
        failed++;
    fflush(stdout);
    return failed || run == 0 ? 1 : 0;
}
