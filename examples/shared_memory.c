/* The tutorial's shared-memory program: a child writes a Value and every
 * element of an Array; the parent reads what the child wrote.
 *
 *   num = Value('d', 0.0); arr = Array('i', range(10))
 *   p = Process(target=f, args=(num, arr)); p.start(); p.join()
 *   print(num.value, arr[:])                               */
#include <stdio.h>

#include <mproc.h>

static int f(mp_call *call) {
    mp_value *num = mp_arg_value(mp_call_arg(call, 0));
    mp_array *arr = mp_arg_array(mp_call_arg(call, 1));
    mp_value_set_double(num, 3.1415927);
    for (size_t i = 0; i < mp_array_len(arr); i++)
        mp_array_set_int(arr, i, -mp_array_get_int(arr, i));
    printf("child  %ld: wrote the value and negated the array\n", mp_getpid());
    fflush(stdout);
    return 0;
}

static int check(int rc, const char *what) {
    if (rc)
        fprintf(stderr, "%s: %s\n", what, mp_strerror(rc));
    return rc;
}

int main(int argc, char **argv) {
    if (check(mp_init(&argc, &argv), "mp_init"))
        return 1;
    int init[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    mp_value *num = NULL;
    mp_array *arr = NULL;
    mp_process *p = NULL;
    int code = -1;
    if (check(mp_value_new(&num, MP_TYPE_DOUBLE, NULL, NULL), "Value") ||
        check(mp_array_new(&arr, MP_TYPE_INT, 10, init, NULL), "Array") ||
        check(mp_process_new(
                  &p, f, MP_ARGS(mp_value_arg(num), mp_array_arg(arr)), NULL),
              "Process") ||
        check(mp_process_start(p), "start") ||
        check(mp_process_join(p, MP_INFINITE), "join") ||
        check(mp_process_exitcode(p, &code), "exitcode") || code != 0)
        return 1;
    printf("parent %ld: value = %.7f, array =", mp_getpid(),
           mp_value_get_double(num));
    for (size_t i = 0; i < mp_array_len(arr); i++)
        printf(" %lld", (long long)mp_array_get_int(arr, i));
    printf("\n");
    int ok = mp_value_get_double(num) == 3.1415927 &&
             mp_array_get_int(arr, 9) == -9;
    mp_process_free(p);
    mp_array_free(arr);
    mp_value_free(num);
    return ok ? 0 : 1;
}
