/* The tutorial's local socket: the server makes a socket, binds it to a
 * socket file, listens and accepts. Each connection it accepts goes to a
 * child process of its own (mp_handle hands the socket over, as Python's
 * multiprocessing.reduction does), which receives the request and answers,
 * while the server goes back to accepting. The clients are child processes
 * too. On Windows the socket is TCP on the loopback address: AF_UNIX is
 * missing from older systems and from Wine. */
#include <stdio.h>
#include <string.h>

#include <mproc.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
typedef SOCKET sock_t;
#define close_socket closesocket
#define SHUT_WR SD_SEND
#else
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
typedef int sock_t;
#define close_socket close
#endif

#define CLIENTS 3

#define CHECK(expr)                                                           \
    do {                                                                      \
        int rc_ = (expr);                                                     \
        if (rc_) {                                                            \
            fprintf(stderr, "%s: %s\n", #expr, mp_strerror(rc_));             \
            return 1;                                                         \
        }                                                                     \
    } while (0)

/* Winsock is started in each process that uses sockets (the children too). */
static int net_start(void) {
#ifdef _WIN32
    WSADATA wd;
    return WSAStartup(MAKEWORD(2, 2), &wd);
#else
    return 0;
#endif
}

/* Receives until the peer has sent everything (shutdown or close). */
static int recv_all(sock_t s, char *buf, int cap) {
    int len = 0, got;
    while (len < cap - 1 &&
           (got = (int)recv(s, buf + len, cap - 1 - len, 0)) > 0)
        len += got;
    buf[len] = '\0';
    return got < 0 ? -1 : len;
}

static int client(mp_call *call) {
    size_t len;
    const struct sockaddr *addr = mp_arg_bytes(mp_call_arg(call, 0), &len);
    char request[32], reply[128];
    int n = snprintf(request, sizeof request, "request %d",
                     (int)mp_arg_int(mp_call_arg(call, 1)));
    sock_t s;
    if (net_start() ||
        (s = socket(addr->sa_family, SOCK_STREAM, 0)) == (sock_t)-1)
        return 1;
    if (connect(s, addr, (socklen_t)len) != 0 || send(s, request, n, 0) != n ||
        shutdown(s, SHUT_WR) != 0 || recv_all(s, reply, sizeof reply) < 0) {
        close_socket(s);
        return 1;
    }
    printf("%s: sent \"%s\", answer \"%s\"\n", mp_current_name(), request,
           reply);
    close_socket(s);
    return 0;
}

/* Serves one accepted connection, which is this child's to close. */
static int handler(mp_call *call) {
    sock_t s = (sock_t)mp_arg_handle(mp_call_arg(call, 0));
    char request[64], reply[128];
    int ok = net_start() == 0 && recv_all(s, request, sizeof request) > 0;
    int n =
        snprintf(reply, sizeof reply, "%s got %s", mp_current_name(), request);
    ok = ok && send(s, reply, n, 0) == n;
    close_socket(s);
    return ok ? 0 : 1;
}

/* The listening socket and its address. */
static sock_t listen_at(struct sockaddr_storage *addr, socklen_t *len) {
    memset(addr, 0, sizeof *addr);
#ifdef _WIN32
    struct sockaddr_in *in = (struct sockaddr_in *)addr;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* port 0: any free one */
    *len = sizeof *in;
#else
    struct sockaddr_un *un = (struct sockaddr_un *)addr;
    un->sun_family = AF_UNIX;
    snprintf(un->sun_path, sizeof un->sun_path, "/tmp/mproc-example-%ld.sock",
             mp_getpid());
    unlink(un->sun_path);
    *len = sizeof *un;
#endif
    sock_t l = socket(addr->ss_family, SOCK_STREAM, 0);
    if (l != (sock_t)-1 &&
        (bind(l, (struct sockaddr *)addr, *len) != 0 ||
         getsockname(l, (struct sockaddr *)addr, len) != 0 ||
         listen(l, CLIENTS) != 0)) {
        close_socket(l);
        l = (sock_t)-1;
    }
    return l;
}

int main(int argc, char **argv) {
    CHECK(mp_init(&argc, &argv));
    struct sockaddr_storage addr;
    socklen_t len;
    sock_t l;
    if (net_start() || (l = listen_at(&addr, &len)) == (sock_t)-1) {
        fprintf(stderr, "cannot listen\n");
        return 1;
    }
    printf("server: listening\n");

    mp_process *ps[2 * CLIENTS];
    char name[32];
    mp_process_options o = {.name = name};
    for (int i = 0; i < CLIENTS; i++) {
        snprintf(name, sizeof name, "client-%d", i + 1);
        CHECK(mp_process_new(
            &ps[i], client, MP_ARGS(mp_bytes(&addr, len), mp_int(i + 1)), &o));
        CHECK(mp_process_start(ps[i]));
    }
    for (int i = 0; i < CLIENTS; i++) {
        sock_t c = accept(l, NULL, NULL);
        if (c == (sock_t)-1) {
            fprintf(stderr, "accept failed\n");
            return 1;
        }
        snprintf(name, sizeof name, "handler-%d", i + 1);
        CHECK(mp_process_new(&ps[CLIENTS + i], handler,
                             MP_ARGS(mp_handle((mp_os_handle)c)), &o));
        CHECK(mp_process_start(ps[CLIENTS + i]));
        close_socket(c); /* the handler holds its own */
    }

    int failed = 0;
    for (int i = 0; i < 2 * CLIENTS; i++) {
        int code;
        CHECK(mp_process_join(ps[i], MP_INFINITE));
        CHECK(mp_process_exitcode(ps[i], &code));
        failed += code != 0;
        mp_process_free(ps[i]);
    }
    close_socket(l);
#ifndef _WIN32
    unlink(((struct sockaddr_un *)&addr)->sun_path);
#endif
    printf("server: %d connections served, %d failures\n", CLIENTS, failed);
    return failed != 0;
}
