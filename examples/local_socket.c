/* The tutorial's local socket: a server listens on a socket file (a named
 * pipe on Windows), a client in another process connects and sends a
 * request, the server answers. An authkey makes both sides prove they
 * share a secret first (CPython's handshake, so a Python
 * multiprocessing.connection.Client could be the client just as well). */
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

static const char KEY[] = "shared secret";

static int client(mp_call *call) {
    const char *address = mp_arg_str(mp_call_arg(call, 0));
    mp_conn_options o = {.authkey = KEY, .authkey_len = strlen(KEY)};
    mp_conn *c;
    mp_buf b = {0};
    CHECK(mp_client(&c, address, &o));
    printf("client: connected to %s\n", address);
    CHECK(mp_conn_send(c, "what time is it?", 16));
    CHECK(mp_conn_recv(c, &b, 10000));
    printf("client: server says \"%.*s\"\n", (int)b.len, (char *)b.data);
    mp_buf_free(&b);
    mp_conn_free(c);
    return 0;
}

int main(int argc, char **argv) {
    CHECK(mp_init(&argc, &argv));
    mp_conn_options o = {.authkey = KEY, .authkey_len = strlen(KEY)};
    mp_listener *l;
    CHECK(mp_listener_new(&l, NULL, &o)); /* a fresh private address */
    printf("server: listening on %s\n", mp_listener_address(l));

    mp_process *p;
    CHECK(mp_process_new(&p, client, MP_ARGS(mp_str(mp_listener_address(l))),
                         NULL));
    CHECK(mp_process_start(p));

    mp_conn *c;
    mp_buf b = {0};
    CHECK(mp_listener_accept(l, &c, 10000));
    CHECK(mp_conn_recv(c, &b, 10000));
    printf("server: client asks \"%.*s\"\n", (int)b.len, (char *)b.data);
    CHECK(mp_conn_send(c, "time to go home", 15));
    CHECK(mp_process_join(p, MP_INFINITE));
    int code;
    CHECK(mp_process_exitcode(p, &code));
    printf("server: client exited with %d\n", code);
    mp_process_free(p);
    mp_conn_free(c);
    mp_listener_free(l);
    mp_buf_free(&b);
    return code;
}
