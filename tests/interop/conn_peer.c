/* The mproc side of the Python interop test (conn_interop.py):
 *   conn_peer listen  KEY DIGEST   listens at a fresh address, prints it,
 *                                  serves one client
 *   conn_peer connect KEY DIGEST ADDRESS
 * KEY "-" means no authkey, DIGEST is sha256 or md5. After the handshake
 * it echoes every message until the peer closes. Exit codes: 0 done,
 * 3 MP_EAUTH, 4 another error (printed). */
#include <stdio.h>
#include <string.h>

#include "mproc.h"

static int echo(mp_conn *c) {
    mp_buf b = {0};
    int rc;
    while ((rc = mp_conn_recv(c, &b, 60000)) == 0)
        if ((rc = mp_conn_send(c, b.data, b.len)) != 0)
            break;
    mp_buf_free(&b);
    mp_conn_free(c);
    return rc == MP_ECLOSED ? 0 : rc;
}

int main(int argc, char **argv) {
    int rc = mp_init(&argc, &argv);
    if (rc || argc < 4 || (strcmp(argv[1], "connect") == 0 && argc < 5)) {
        fprintf(stderr, "usage: conn_peer listen|connect KEY DIGEST [ADDR]\n");
        return 2;
    }
    bool key = strcmp(argv[2], "-") != 0;
    mp_conn_options o = {
        .authkey = key ? argv[2] : NULL,
        .authkey_len = key ? strlen(argv[2]) : 0,
        .digest = strcmp(argv[3], "md5") == 0 ? MP_AUTH_MD5 : MP_AUTH_SHA256,
        .timeout_ms = 30000};
    mp_conn *c = NULL;
    if (strcmp(argv[1], "listen") == 0) {
        mp_listener *l = NULL;
        if ((rc = mp_listener_new(&l, NULL, &o)) == 0) {
            printf("%s\n", mp_listener_address(l));
            fflush(stdout);
            rc = mp_listener_accept(l, &c, 30000);
        }
        if (!rc)
            rc = echo(c);
        if (l)
            mp_listener_free(l);
    } else {
        rc = mp_client(&c, argv[4], &o);
        if (!rc)
            rc = echo(c);
    }
    if (rc)
        printf("%s\n", mp_err_name(rc));
    return rc == 0 ? 0 : rc == MP_EAUTH ? 3 : 4;
}
