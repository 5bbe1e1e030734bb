/* The tutorial's queue program: a producer process and a consumer process
 * share a bounded queue. The producer fills it until it is full (put with
 * a timeout gives up on a full queue), the consumer drains it with a
 * timeout that also tells it when the producer has gone quiet, and the
 * parent prints full() / empty() / qsize() along the way.
 *
 * Python's version:
 *     q = Queue(maxsize=3)
 *     Process(target=producer, args=(q,)).start()
 *     Process(target=consumer, args=(q,)).start()
 */
#include <stdio.h>
#include <string.h>

#include <mproc.h>

#define N_ITEMS 6

static int producer(mp_call *call) {
    mp_queue *q = mp_arg_queue(mp_call_arg(call, 0));
    for (int i = 0; i < N_ITEMS; i++) {
        char msg[32];
        int len = snprintf(msg, sizeof msg, "message %d", i);
        /* Blocks while the queue holds maxsize items, for at most 5 s. */
        int rc = mp_queue_put(q, msg, (size_t)len, 5000);
        if (rc) {
            fprintf(stderr, "producer: put: %s\n", mp_strerror(rc));
            return 1;
        }
        printf("producer: put \"%s\" (qsize now %zu)\n", msg,
               mp_queue_qsize(q));
        fflush(stdout);
    }
    return 0;
}

static int consumer(mp_call *call) {
    mp_queue *q = mp_arg_queue(mp_call_arg(call, 0));
    mp_buf item = {0};
    int got = 0, rc;
    /* A 1 s timeout: Python's get(timeout=1) raising Empty. */
    while ((rc = mp_queue_get(q, &item, 1000)) == 0) {
        printf("consumer: got \"%.*s\"\n", (int)item.len, (char *)item.data);
        fflush(stdout);
        got++;
    }
    mp_buf_free(&item);
    if (rc != MP_ETIMEDOUT) {
        fprintf(stderr, "consumer: get: %s\n", mp_strerror(rc));
        return 1;
    }
    printf("consumer: queue empty for 1 s, got %d items, done\n", got);
    return got == N_ITEMS ? 0 : 1;
}

static int run(mp_process **p, mp_target fn, mp_queue *q, const char *name) {
    int rc = mp_process_new(p, fn, MP_ARGS(mp_queue_arg(q)),
                            &(mp_process_options){.name = name});
    if (!rc)
        rc = mp_process_start(*p);
    if (rc)
        fprintf(stderr, "starting %s: %s\n", name, mp_strerror(rc));
    return rc;
}

int main(int argc, char **argv) {
    int rc = mp_init(&argc, &argv);
    if (rc) {
        fprintf(stderr, "mp_init: %s\n", mp_strerror(rc));
        return 1;
    }
    mp_queue *q;
    if ((rc = mp_queue_new(&q, 3, NULL))) {
        fprintf(stderr, "mp_queue_new: %s\n", mp_strerror(rc));
        return 1;
    }
    printf("main: queue with maxsize 3: empty=%d full=%d qsize=%zu\n",
           mp_queue_empty(q), mp_queue_full(q), mp_queue_qsize(q));

    /* Non-blocking and timed puts on a full queue: Python's Full. */
    for (int i = 0; i < 3; i++) {
        if ((rc = mp_queue_put(q, "warm-up", 7, 0))) {
            fprintf(stderr, "mp_queue_put: %s\n", mp_strerror(rc));
            return 1;
        }
    }
    printf("main: after 3 puts: empty=%d full=%d qsize=%zu\n",
           mp_queue_empty(q), mp_queue_full(q), mp_queue_qsize(q));
    rc = mp_queue_put(q, "extra", 5, 0);
    printf("main: put without blocking on a full queue: %s\n",
           mp_err_name(rc));
    rc = mp_queue_put(q, "extra", 5, 200);
    printf("main: put with a 200 ms timeout: %s\n", mp_err_name(rc));
    mp_buf b = {0};
    while (mp_queue_get(q, &b, 0) == 0)
        ;
    rc = mp_queue_get(q, &b, 0);
    printf("main: get without blocking on an empty queue: %s\n",
           mp_err_name(rc));
    mp_buf_free(&b);

    mp_process *prod = NULL, *cons = NULL;
    int code_p = 1, code_c = 1;
    if (run(&prod, producer, q, "producer") == 0 &&
        run(&cons, consumer, q, "consumer") == 0) {
        mp_process_join(prod, MP_INFINITE);
        mp_process_join(cons, MP_INFINITE);
        mp_process_exitcode(prod, &code_p);
        mp_process_exitcode(cons, &code_c);
    }
    printf("main: producer exited with %d, consumer with %d; qsize=%zu\n",
           code_p, code_c, mp_queue_qsize(q));
    mp_process_free(prod);
    mp_process_free(cons);
    mp_queue_free(q);
    return code_p || code_c;
}
