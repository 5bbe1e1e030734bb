/* A C server for Python programs: it listens, receives jobs as Python
 * dicts (conn.send({"id": 3, "numbers": [...]}) on the Python side), runs
 * each in a process pool, and sends dicts back, which the Python program
 * reads with conn.recv(). No encoding is invented on either side: values
 * travel as Python's pickle. The client is examples/python/job_client.py,
 * started by this program when python3 is there; otherwise (Windows) a C
 * child process sends the same jobs.
 *
 * Python's version of the server:
 *     def work(job):
 *         return {"id": job["id"], "label": job["label"],
 *                 "sum": sum(job["numbers"]),
 *                 "stats": (min(job["numbers"]), max(job["numbers"])),
 *                 "worker": os.getpid()}
 *     with Listener(address) as l, l.accept() as conn, Pool(3) as pool:
 *         jobs = list(iter(conn.recv, None))
 *         for reply in pool.map(work, jobs):
 *             conn.send(reply)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mproc.h>

#define MAX_JOBS 64
#ifndef MPROC_EXAMPLES_DIR /* set by examples/CMakeLists.txt */
#define MPROC_EXAMPLES_DIR "examples"
#endif

/* Runs in a pool worker: the job dict in, the reply dict out. */
static int work(mp_call *call) {
    mp_val *job, *reply = mp_val_new(MP_VAL_DICT), *stats;
    if (mp_arg_val(mp_call_arg(call, 0), &job) || !reply)
        return mp_call_fail(call, 1, "no job");
    const mp_val *numbers = mp_val_get(job, "numbers");
    int64_t id = -1, sum = 0, lo = INT64_MAX, hi = INT64_MIN, x;
    mp_val_to_int(mp_val_get(job, "id"), &id);
    for (size_t i = 0; i < mp_val_len(numbers); i++) {
        if (mp_val_to_int(mp_val_at(numbers, i), &x) == 0) {
            sum += x;
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
    }
    int rc = mp_val_put_int(reply, "id", id);
    if (!rc)
        rc = mp_val_set_copy(mp_val_put(reply, "label"),
                             mp_val_get(job, "label"));
    if (!rc)
        rc = mp_val_put_int(reply, "sum", sum);
    if (!rc && !(rc = mp_val_set_empty(stats = mp_val_put(reply, "stats"),
                                       MP_VAL_TUPLE)))
        rc = mp_val_push_int(stats, lo);
    if (!rc)
        rc = mp_val_push_int(stats, hi);
    if (!rc)
        rc = mp_val_put_int(reply, "worker", mp_getpid());
    if (!rc)
        rc = mp_call_return_val(call, reply);
    mp_val_free(reply);
    mp_val_free(job);
    return rc;
}

/* The stand-in client where python3 is missing: the same jobs, in C. */
static int c_client(mp_call *call) {
    mp_conn *c;
    int rc = mp_client(&c, mp_arg_str(mp_call_arg(call, 0)), NULL);
    for (int i = 0; i < 6 && !rc; i++) {
        mp_val *job = mp_val_new(MP_VAL_DICT), *numbers;
        char label[16];
        snprintf(label, sizeof label, "job %d", i);
        rc = job ? mp_val_put_int(job, "id", i) : MP_ENOMEM;
        if (!rc)
            rc = mp_val_put_str(job, "label", label);
        if (!rc)
            rc = mp_val_set_empty(numbers = mp_val_put(job, "numbers"),
                                  MP_VAL_LIST);
        for (int k = i; k < i + 10 * (i + 1) && !rc; k++)
            rc = mp_val_push_int(numbers, k);
        if (!rc)
            rc = mp_conn_send_val(c, job);
        mp_val_free(job);
    }
    mp_val *none = mp_val_new(MP_VAL_NONE), *reply;
    if (!rc)
        rc = mp_conn_send_val(c, none);
    mp_val_free(none);
    for (int i = 0; i < 6 && !rc; i++) {
        if ((rc = mp_conn_recv_val(c, &reply, 30000)))
            break;
        int64_t sum = -1, worker = 0;
        mp_val_to_int(mp_val_get(reply, "sum"), &sum);
        mp_val_to_int(mp_val_get(reply, "worker"), &worker);
        printf("c client: %s -> sum %lld by worker %lld\n",
               mp_val_to_str(mp_val_get(reply, "label"), NULL), (long long)sum,
               (long long)worker);
        mp_val_free(reply);
    }
    if (!rc)
        mp_conn_free(c);
    return rc ? 1 : 0;
}

/* Runs the Python client (in a child process, so the server keeps going). */
static int python_client(mp_call *call) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "python3 \"%s/python/job_client.py\" \"%s\"",
             MPROC_EXAMPLES_DIR, mp_arg_str(mp_call_arg(call, 0)));
    return system(cmd) == 0 ? 0 : 1;
}

static bool have_python(void) {
#ifdef _WIN32
    return false; /* Python's AF_UNIX Listener/Client are POSIX only */
#else
    return system("python3 -c '' >/dev/null 2>&1") == 0;
#endif
}

int main(int argc, char **argv) {
    int rc = mp_init(&argc, &argv);
    mp_listener *l = NULL;
    mp_pool *pool = NULL;
    mp_process *client = NULL;
    mp_conn *conn = NULL;
    if (!rc)
        rc = mp_listener_new(&l, NULL, NULL);
    if (!rc)
        rc = mp_pool_new(&pool, &(mp_pool_options){.processes = 3});
    bool py = have_python();
    if (!py)
        printf("python3 not found: a C client stands in for job_client.py\n");
    fflush(stdout);
    if (!rc)
        rc = mp_process_new(&client, py ? python_client : c_client,
                            MP_ARGS(mp_str(mp_listener_address(l))), NULL);
    if (!rc)
        rc = mp_process_start(client);
    if (!rc)
        rc = mp_listener_accept(l, &conn, 30000);

    /* Jobs until None, each a dict, then the replies in the same order. */
    mp_result *results[MAX_JOBS];
    size_t n = 0;
    mp_val *job = NULL;
    while (!rc && (rc = mp_conn_recv_val(conn, &job, 30000)) == 0 &&
           mp_val_kind_of(job) == MP_VAL_DICT && n < MAX_JOBS) {
        rc = mp_pool_apply_async(pool, work, MP_ARGS(mp_val_arg(job)),
                                 &results[n]);
        n += rc == 0;
        mp_val_free(job);
        job = NULL;
    }
    mp_val_free(job);
    printf("server: %zu jobs received, running them in the pool\n", n);
    fflush(stdout);
    for (size_t i = 0; i < n; i++) {
        mp_val *reply = NULL;
        if (!rc)
            rc = mp_result_get_val(results[i], 30000, &reply);
        if (!rc)
            rc = mp_conn_send_val(conn, reply);
        mp_val_free(reply);
        mp_result_free(results[i]);
    }
    int code = 1;
    if (client) {
        mp_process_join(client, 60000);
        mp_process_exitcode(client, &code);
    }
    if (rc)
        fprintf(stderr, "job_server: %s\n", mp_strerror(rc));
    printf("server: client exited with %d\n", code);
    mp_conn_free(conn);
    mp_process_free(client);
    if (pool) {
        mp_pool_close(pool);
        mp_pool_join(pool, MP_INFINITE);
        mp_pool_free(pool);
    }
    mp_listener_free(l);
    return rc || code ? 1 : 0;
}
