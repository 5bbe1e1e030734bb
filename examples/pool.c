/* The tutorial's process pool: a few worker processes run many short jobs
 * submitted with apply_async; the pool is then closed and joined. Results
 * are printed as they arrive, by a callback (which runs in the pool's
 * result-handler thread of the parent, as in Python), and read again at the
 * end through the result objects. Before that, a map over a range and a
 * task that fails with a message, as Python's pool.map and an exception.
 *
 * Python's version:
 *     def job(msg):
 *         print("msg:", msg); time.sleep(0.1); return msg + " done"
 *     pool = Pool(processes=3)
 *     print(pool.map(square, range(10)))
 *     try: pool.apply(checked_sqrt, (-4,))
 *     except ValueError as e: print("failed:", e)
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
    snprintf(out, sizeof out, "%s done", msg);
    return mp_call_return_str(call, out);
}

static int square(mp_call *call) {
    int64_t x = mp_arg_int(mp_call_arg(call, 0));
    return mp_call_return_int(call, x * x);
}

/* Fails (code 2, with a message) on a negative input, as Python's task
 * would raise ValueError. */
static int checked_sqrt(mp_call *call) {
    int64_t x = mp_arg_int(mp_call_arg(call, 0));
    if (x < 0)
        return mp_call_fail(call, 2, "negative input %lld", (long long)x);
    int64_t r = 0;
    while ((r + 1) * (r + 1) <= x)
        r++;
    return mp_call_return_int(call, r);
}

/* Runs in the parent (the pool's result-handler thread) as each job ends. */
static void on_done(mp_result *r, void *user) {
    const char *s;
    (void)user;
    if (mp_result_get_str(r, 0, &s) == 0)
        printf("callback: %s\n", s);
    fflush(stdout);
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
    /* pool.map(square, range(10)): no array of arguments needed. */
    mp_result *squares;
    if ((rc = mp_pool_map_items(pool, square, mp_items_range(0, 10), 0,
                                &squares)) == 0) {
        printf("map:");
        for (size_t i = 0; i < mp_result_count(squares); i++) {
            int64_t v;
            if (mp_result_item_int(squares, i, &v) == 0)
                printf(" %lld", (long long)v);
        }
        printf("\n");
        mp_result_free(squares);
    }
    /* A task that fails says why: its code and message. */
    mp_task_info info;
    if (mp_pool_apply_info(pool, checked_sqrt, MP_ARGS(mp_int(-4)), NULL,
                           &info) == MP_ETASK)
        printf("failed (code %d): %s\n", info.task_code, info.message);
    int failed = rc != 0;

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
    failed |= rc != 0 || submitted != N_JOBS;
    for (int i = 0; i < submitted; i++) {
        const char *s;
        int st = mp_result_get_str(results[i], 0, &s); /* ready after join */
        if (st) {
            printf("job %d failed: %s\n", i, mp_strerror(st));
            failed = 1;
        } else {
            printf("result %d: %s\n", i, s);
        }
        mp_result_free(results[i]);
    }
    mp_pool_free(pool);
    puts(failed ? "main: some jobs failed" : "main: all jobs done");
    return failed;
}
