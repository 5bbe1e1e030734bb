/* The tutorial's Pipe: a duplex pipe where parent and child talk both ways,
 * and a simplex one where the child only sends and the parent only
 * receives (Python: Pipe(duplex=False) gives (receiver, sender)). */
#include <stdio.h>
#include <string.h>

#include <mproc.h>

#define CHECK(expr)                                                           \
    do {                                                                      \
        int rc_ = (expr);                                                     \
        if (rc_) {                                                            \
            fprintf(stderr, "%s: %s\n", #expr, mp_strerror(rc_));             \
            return 1;                                                         \
        }                                                                     \
    } while (0)

/* Duplex child: answers each question, then says goodbye. */
static int talker(mp_call *call) {
    mp_conn *c = mp_arg_conn(mp_call_arg(call, 0));
    mp_buf b = {0};
    CHECK(mp_conn_recv(c, &b, MP_INFINITE));
    printf("child got:  %.*s\n", (int)b.len, (char *)b.data);
    CHECK(mp_conn_send(c, "hello from the child", 20));
    mp_buf_free(&b);
    return 0;
}

/* Simplex child: sends three numbers on the sending end. */
static int producer(mp_call *call) {
    mp_conn *tx = mp_arg_conn(mp_call_arg(call, 0));
    for (int i = 1; i <= 3; i++)
        CHECK(mp_conn_send(tx, &i, sizeof i));
    return 0;
}

int main(int argc, char **argv) {
    CHECK(mp_init(&argc, &argv));

    mp_conn *a, *b;
    mp_process *p;
    mp_buf buf = {0};
    CHECK(mp_pipe(&a, &b, true));
    CHECK(mp_process_new(&p, talker, MP_ARGS(mp_conn_arg(b)), NULL));
    CHECK(mp_process_start(p));
    CHECK(mp_conn_send(a, "hello from the parent", 21));
    CHECK(mp_conn_recv(a, &buf, 10000));
    printf("parent got: %.*s\n", (int)buf.len, (char *)buf.data);
    CHECK(mp_process_join(p, MP_INFINITE));
    mp_process_free(p);
    mp_conn_free(a);
    mp_conn_free(b);

    mp_conn *rx, *tx;
    CHECK(mp_pipe(&rx, &tx, false)); /* rx receives, tx sends */
    CHECK(mp_process_new(&p, producer, MP_ARGS(mp_conn_arg(tx)), NULL));
    CHECK(mp_process_start(p));
    for (int i = 0; i < 3; i++) {
        int v;
        size_t len;
        CHECK(mp_conn_recv_into(rx, &v, sizeof v, &len, 10000));
        printf("simplex: received %d\n", v);
    }
    CHECK(mp_process_join(p, MP_INFINITE));
    mp_process_free(p);
    mp_conn_free(rx);
    mp_conn_free(tx);
    mp_buf_free(&buf);
    return 0;
}
