/* The tutorial's first program: processes created with a target, arguments
 * and a name; each prints its pid and its parent's; the parent prints their
 * exit codes; one child is daemonic; one join has a timeout. */
#ifndef _WIN32
#define _DEFAULT_SOURCE /* usleep */
#endif
#include <stdio.h>
#ifdef _WIN32
#include <windows.h>
#define nap_ms(ms) Sleep(ms)
#else
#include <unistd.h>
#define nap_ms(ms) usleep((ms)*1000)
#endif

#include <mproc.h>

static int greet(mp_call *call) {
    const char *who = mp_arg_str(mp_call_arg(call, 0));
    int64_t n = mp_arg_int(mp_call_kwarg(call, "n"));
    printf("  [%s] hello %s, n=%lld: pid %ld, parent %ld\n", mp_current_name(),
           who, (long long)n, mp_getpid(), mp_getppid());
    fflush(stdout);
    return (int)n; /* the exit code */
}

static int heartbeat(mp_call *call) {
    (void)call;
    for (int beat = 1; beat <= 1000; beat++) { /* until it is stopped */
        printf("  [%s] beat %d\n", mp_current_name(), beat);
        fflush(stdout);
        nap_ms(80);
    }
    return 0;
}

static int check(int rc, const char *what) {
    if (rc)
        fprintf(stderr, "%s: %s (%s)\n", what, mp_strerror(rc),
                mp_err_name(rc));
    return rc;
}

int main(int argc, char **argv) {
    if (check(mp_init(&argc, &argv), "mp_init"))
        return 1;
    printf("main process %ld, %d CPUs, start method %s\n", mp_getpid(),
           mp_cpu_count(),
           mp_get_start_method() == MP_START_FORK ? "fork" : "spawn");

    /* Three workers with positional and keyword arguments. */
    const char *names[] = {"alice", "bob", "carol"};
    mp_process *ps[3];
    for (int i = 0; i < 3; i++) {
        char pname[32];
        snprintf(pname, sizeof pname, "worker-%d", i + 1);
        if (check(mp_process_new(
                      &ps[i], greet,
                      MP_ARGS(mp_str(names[i]), mp_kw("n", mp_int(i + 10))),
                      &(mp_process_options){.name = pname}),
                  "mp_process_new") ||
            check(mp_process_start(ps[i]), "mp_process_start"))
            return 1;
        printf("started %s as pid %ld\n", mp_process_name(ps[i]),
               mp_process_pid(ps[i]));
    }
    for (int i = 0; i < 3; i++) {
        int code;
        if (check(mp_process_join(ps[i], MP_INFINITE), "join") ||
            check(mp_process_exitcode(ps[i], &code), "exitcode"))
            return 1;
        printf("%s exited with %d\n", mp_process_name(ps[i]), code);
        mp_process_free(ps[i]);
    }

    /* A daemonic child that never ends on its own: a join with a timeout
     * gives up, then terminate stops it (it would also die with us). */
    mp_process *d;
    if (check(mp_process_new(
                  &d, heartbeat, MP_NO_ARGS,
                  &(mp_process_options){.name = "daemon", .daemon = true}),
              "mp_process_new") ||
        check(mp_process_start(d), "mp_process_start"))
        return 1;
    int rc = mp_process_join(d, 200);
    printf("join(daemon, 200 ms): %s; alive: %d\n", mp_err_name(rc),
           mp_process_is_alive(d));
    int code;
    if (check(mp_process_terminate(d), "terminate") ||
        check(mp_process_join(d, MP_INFINITE), "join") ||
        check(mp_process_exitcode(d, &code), "exitcode"))
        return 1;
    printf("daemon terminated, exit code %d\n", code);
    mp_process_free(d);
    return 0;
}
