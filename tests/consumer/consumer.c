/* The smallest real mproc program: spawn a child and read its exit code. */
#include <stdio.h>

#include <mproc.h>

static int child(mp_call *call) {
    return (int)mp_arg_int(mp_call_arg(call, 0));
}

int main(int argc, char **argv) {
    mp_process *p;
    int code = -1;
    if (mp_init(&argc, &argv) ||
        mp_process_new(
            &p, child, MP_ARGS(mp_int(42)),
            &(mp_process_options){.start_method = MP_START_SPAWN}) ||
        mp_process_start(p) || mp_process_join(p, MP_INFINITE) ||
        mp_process_exitcode(p, &code))
        return 1;
    mp_process_free(p);
    printf("consumer %s: mproc %s, child exit %d\n",
           code == 42 ? "ok" : "FAILED", mp_version_string(), code);
    return code == 42 ? 0 : 1;
}
