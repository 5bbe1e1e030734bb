/* The tutorial's process pool: a few worker processes run many short jobs
 * submitted with apply_async; the pool is then closed and joined. Results
 * are printed as they arrive, by a callback (which runs in the pool's
 * result-handler thread of the parent, as in Python), and read again at the
 * end through the result objects.
 *
 * Python's version:
 *     def job(msg):
 *         print("msg:", msg); time.sleep(0.1); return msg + " done"
 *     pool = Pool(processes=3)
 *     for i in range(8):
 *         pool.apply_async(job, ("hello %d" % i,), callback=print)
 *     pool.close()
 *     pool.join()
 */
#include <stdio.h>
#include <string.h>

#include <mproc.h>

#define N_JOBS 8

/* Runs in a worker process. Its return value is the job's status (0: ok);
 * the bytes it hands to mp_call_return are the job's result. */
static int job(mp_call *call) {
    const char *msg = mp_arg_str(mp_call_arg(call, 0));
    char out[64];
    printf("worker %ld: %s\n", mp_getpid(), msg);
    fflush(stdout);
    int len = snprintf(out, sizeof out, "%s done", msg);
    return mp_call_return(call, out, (size_t)len);
}

/* Runs in the parent (the pool's result-handler thread) as each job ends. */
static void on_done(mp_result *r, void *user) {
    mp_buf b = {0};
    (void)user;
    if (mp_result_get(r, 0, &b) == 0)
        printf("callback: %.*s\n", (int)b.len, (char *)b.data);
    fflush(stdout);
    mp_buf_free(&b);
}

int main(int argc, char **argv) {
    int rc = mp_init(&argc, &argv); /* a spawned worker runs its loop here */
    if (rc) {
        fprintf(stderr, "mp_init: %s\n", mp_strerror(rc));
        return 1;
    }
    mp_pool *pool;
    if ((rc = mp_pool_new(&pool, &(mp_pool_options){.processes = 3}))) {
        fprintf(stderr, "mp_pool_new: %s\n", mp_strerror(rc));
        return 1;
    }
    mp_result *results[N_JOBS];
    mp_result_options cb = {.callback = on_done};
    int submitted = 0;
    for (int i = 0; i < N_JOBS; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "hello %d", i);
        rc = mp_pool_apply_async_cb(pool, job, MP_ARGS(mp_str(msg)), &cb,
                                    &results[i]);
        if (rc) {
            fprintf(stderr, "apply_async: %s\n", mp_strerror(rc));
            break;
        }
        submitted++;
    }
    puts("main: all jobs submitted; closing the pool");
    fflush(stdout);
    mp_pool_close(pool); /* no more jobs; the submitted ones still run */
    rc = mp_pool_join(pool, MP_INFINITE); /* waits for every job and worker */
    if (rc)
        fprintf(stderr, "mp_pool_join: %s\n", mp_strerror(rc));
    int failed = rc != 0 || submitted != N_JOBS;
    mp_buf b = {0};
    for (int i = 0; i < submitted; i++) {
        int st = mp_result_get(results[i], 0, &b); /* ready after join */
        if (st) {
            printf("job %d failed: %s\n", i, mp_strerror(st));
            failed = 1;
        } else {
            printf("result %d: %.*s\n", i, (int)b.len, (char *)b.data);
        }
        mp_result_free(results[i]);
    }
    mp_buf_free(&b);
    mp_pool_free(pool);
    puts(failed ? "main: some jobs failed" : "main: all jobs done");
    return failed;
}
