/* win32 backend: connections over message-mode named pipes, as CPython's
 * PipeConnection / PipeListener (one pipe message per message). Reads are
 * overlapped so that every wait has a deadline; none is left in flight
 * between calls. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os/os_conn.h"
#include "os_win32.h"

#define RBUF 4096
#define PIPE_BUF_SIZE 65536
#define PIPE_PREFIX "\\\\.\\pipe\\"
#define ADDR_MAX 256
#define CHUNK ((size_t)1 << 30) /* DWORD-sized pieces of a huge read */

struct mp__os_conn {
    HANDLE h;
    HANDLE rev, wev; /* events of the read and write OVERLAPPEDs */
    OVERLAPPED rov;
    bool eof;
    bool broken; /* a read of a huge message stopped between pieces */
    bool have;   /* the next message is measured: its first `got` bytes are
                    in rbuf and `rest` says whether more wait in the pipe */
    bool rest;
    uint64_t msg_len;
    size_t got;
    uint8_t rbuf[RBUF];
};

static int conn_wrap(mp__os_conn **out, HANDLE h) {
    mp__os_conn *c = calloc(1, sizeof *c);
    if (c) {
        c->rev = CreateEventW(NULL, TRUE, FALSE, NULL);
        c->wev = CreateEventW(NULL, TRUE, FALSE, NULL);
    }
    if (!c || !c->rev || !c->wev) {
        int rc = c ? mp__win32_err(GetLastError()) : MP_ENOMEM;
        if (c && c->rev)
            CloseHandle(c->rev);
        free(c);
        CloseHandle(h);
        return rc;
    }
    c->h = h;
    *out = c;
    return 0;
}

void mp__os_conn_free(mp__os_conn *c) {
    if (!c)
        return;
    CloseHandle(c->h);
    CloseHandle(c->rev);
    CloseHandle(c->wev);
    free(c);
}

static int create_instance(const wchar_t *name, DWORD access, bool first,
                           DWORD obuf, HANDLE *out) {
    /* Only the owner may open our pipes. */
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
    int rc = mp__win32_owner_sd(&sa.lpSecurityDescriptor);
    if (rc)
        return rc;
    DWORD open = access | FILE_FLAG_OVERLAPPED |
                 (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
    *out = CreateNamedPipeW(name, open,
                            PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE |
                                PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                            PIPE_UNLIMITED_INSTANCES, obuf, PIPE_BUF_SIZE, 0,
                            &sa);
    DWORD e = GetLastError();
    LocalFree(sa.lpSecurityDescriptor);
    if (*out != INVALID_HANDLE_VALUE)
        return 0;
    return e == ERROR_ACCESS_DENIED && first ? MP_EEXIST : mp__win32_err(e);
}

static int open_client(const wchar_t *name, DWORD access, HANDLE *out) {
    *out = CreateFileW(name, access, 0, NULL, OPEN_EXISTING,
                       FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT |
                           SECURITY_IDENTIFICATION,
                       NULL);
    if (*out == INVALID_HANDLE_VALUE)
        return mp__win32_err(GetLastError());
    DWORD mode = PIPE_READMODE_MESSAGE;
    if ((access & GENERIC_READ) &&
        !SetNamedPipeHandleState(*out, &mode, NULL, NULL)) {
        int rc = mp__win32_err(GetLastError());
        CloseHandle(*out);
        return rc;
    }
    return 0;
}

/* Waits for an overlapped operation until d; cancels it when d passes.
 * Returns the operation's own result (it may have finished meanwhile). */
static int finish_io(HANDLE h, OVERLAPPED *ov, mp__deadline d, DWORD *n,
                     DWORD *err) {
    int rc;
    long ms = mp__deadline_left_ms(d, &rc);
    if (WaitForSingleObject(ov->hEvent, ms < 0 ? INFINITE : (DWORD)ms) !=
        WAIT_OBJECT_0)
        CancelIoEx(h, ov);
    *err = GetOverlappedResult(h, ov, n, TRUE) ? 0 : GetLastError();
    if (*err == ERROR_OPERATION_ABORTED)
        return rc ? rc : MP_ETIMEDOUT;
    return 0;
}

int mp__os_conn_pair(mp__os_conn **a, mp__os_conn **b, bool duplex,
                     const char *token) {
    wchar_t name[80];
    /* _snwprintf_s: _snwprintf is deprecated by MSVC (C4996). */
    _snwprintf_s(name, 80, _TRUNCATE, L"\\\\.\\pipe\\mproc-%hs", token);
    HANDLE h1, h2;
    int rc = create_instance(name,
                             duplex ? PIPE_ACCESS_DUPLEX : PIPE_ACCESS_INBOUND,
                             true, duplex ? PIPE_BUF_SIZE : 0, &h1);
    if (rc)
        return rc;
    if ((rc = open_client(
             name, duplex ? GENERIC_READ | GENERIC_WRITE : GENERIC_WRITE,
             &h2)) != 0) {
        CloseHandle(h1);
        return rc;
    }
    /* The client is connected once CreateFileW returned. */
    if ((rc = conn_wrap(a, h1)) != 0) {
        CloseHandle(h2);
        return rc;
    }
    if ((rc = conn_wrap(b, h2)) != 0) {
        mp__os_conn_free(*a);
        *a = NULL;
    }
    return rc;
}

int mp__os_conn_send(mp__os_conn *c, const void *p, size_t len) {
    if (len > 0xffffffffu)
        return MP_EMSGSIZE; /* one pipe message is one WriteFile */
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    ov.hEvent = c->wev;
    ResetEvent(c->wev);
    DWORD n, err = 0;
    if (!WriteFile(c->h, p, (DWORD)len, NULL, &ov) &&
        (err = GetLastError()) != ERROR_IO_PENDING)
        return mp__win32_err(err);
    if (!GetOverlappedResult(c->h, &ov, &n, TRUE))
        return mp__win32_err(GetLastError());
    return n == len ? 0 : MP_EIO;
}

/* ---- receiving ---- */

static void read_start(mp__os_conn *c, DWORD *err) {
    memset(&c->rov, 0, sizeof c->rov);
    c->rov.hEvent = c->rev;
    ResetEvent(c->rev);
    *err = ReadFile(c->h, c->rbuf, RBUF, NULL, &c->rov) ? 0 : GetLastError();
}

/* Records the outcome of the read into rbuf: a measured message, the end
 * of the stream, or an error. */
static int read_done(mp__os_conn *c, DWORD n, DWORD err) {
    if (err == 0 || err == ERROR_MORE_DATA) {
        DWORD left = 0;
        if (err && !PeekNamedPipe(c->h, NULL, 0, NULL, NULL, &left))
            return mp__win32_err(GetLastError());
        c->have = true;
        c->got = n;
        c->rest = err != 0;
        c->msg_len = (uint64_t)n + left;
        return 0;
    }
    if (err == ERROR_BROKEN_PIPE || err == ERROR_HANDLE_EOF ||
        err == ERROR_PIPE_NOT_CONNECTED) {
        c->eof = true;
        return MP_ECLOSED;
    }
    return mp__win32_err(err);
}

int mp__os_conn_peek(mp__os_conn *c, uint64_t *len, mp__deadline d) {
    if (c->broken)
        return MP_ESTATE;
    if (!c->have) {
        if (c->eof)
            return MP_ECLOSED;
        DWORD n = 0, err;
        read_start(c, &err);
        if (err != 0 && err != ERROR_IO_PENDING && err != ERROR_MORE_DATA)
            return read_done(c, 0, err);
        int rc = finish_io(c->h, &c->rov, d, &n, &err);
        if (rc)
            return rc;
        if ((rc = read_done(c, n, err)) != 0)
            return rc;
    }
    *len = c->msg_len;
    return 0;
}

int mp__os_conn_take(mp__os_conn *c, void *dst, size_t len, mp__deadline d) {
    size_t done = c->got < len ? c->got : len;
    if (done)
        memcpy(dst, c->rbuf, done);
    while (c->rest && done < len) {
        size_t want = len - done < CHUNK ? len - done : CHUNK;
        OVERLAPPED ov;
        memset(&ov, 0, sizeof ov);
        ov.hEvent = c->rev;
        ResetEvent(c->rev);
        DWORD n = 0, err;
        if (!ReadFile(c->h, (char *)dst + done, (DWORD)want, NULL, &ov) &&
            (err = GetLastError()) != ERROR_IO_PENDING &&
            err != ERROR_MORE_DATA)
            return read_done(c, 0, err);
        int rc = finish_io(c->h, &ov, d, &n, &err);
        /* Until a piece is consumed, rbuf still holds the start and the
         * take can simply be repeated; after one, only a huge message
         * (more than one piece) can be stopped, and that loses its place. */
        if (rc || (err && err != ERROR_MORE_DATA)) {
            c->broken = done > c->got;
            return rc ? rc : read_done(c, 0, err);
        }
        done += n;
    }
    c->have = false;
    return done == len ? 0 : MP_EPROTO;
}

bool mp__os_conn_ready(const mp__os_conn *c) {
    return c->have || c->eof || c->broken;
}

/* ---- waiting on many ---- */

/* WaitForMultipleObjects takes at most MAXIMUM_WAIT_OBJECTS (64) handles.
 * Past that, helper threads wait on the rest in groups of GROUP, each
 * group with a shared `stop` event in front; the first helper to see one
 * of its handles signalled sets `any`, which the calling thread waits on in
 * front of its own group. Callers look at every handle afterwards, so the
 * wait only has to end when any one is signalled (or the time is up). */
#define GROUP (MAXIMUM_WAIT_OBJECTS - 1)
#define HELPER_STACK (64 * 1024)

struct wait_group {
    HANDLE hs[MAXIMUM_WAIT_OBJECTS]; /* stop, then the group's handles */
    DWORD n;                         /* handles in hs, stop included */
    HANDLE any;
};

static DWORD WINAPI group_main(LPVOID arg) {
    struct wait_group *g = arg;
    /* Anything but `stop` ends the caller's wait too: a signalled handle,
     * or a failed wait, which the caller's own checks then report. */
    if (WaitForMultipleObjects(g->n, g->hs, FALSE, INFINITE) != WAIT_OBJECT_0)
        SetEvent(g->any);
    return 0;
}

/* Stops and reaps the first n helpers. */
static void groups_stop(HANDLE stop, HANDLE *threads, size_t n) {
    SetEvent(stop);
    for (size_t i = 0; i < n; i++) {
        WaitForSingleObject(threads[i], INFINITE);
        CloseHandle(threads[i]);
    }
}

/* Waits until one of hs[n] is signalled or ms pass, whatever n is. */
static int wait_many(const HANDLE *hs, size_t n, DWORD ms) {
    if (n <= MAXIMUM_WAIT_OBJECTS) {
        if (n)
            WaitForMultipleObjects((DWORD)n, hs, FALSE, ms);
        return 0;
    }
    size_t ng = (n - GROUP + GROUP - 1) / GROUP, started = 0;
    struct wait_group *g = calloc(ng, sizeof *g);
    HANDLE *threads = calloc(ng, sizeof *threads);
    HANDLE stop = CreateEventW(NULL, TRUE, FALSE, NULL);
    HANDLE any = CreateEventW(NULL, TRUE, FALSE, NULL);
    int rc = !g || !threads  ? MP_ENOMEM
             : !stop || !any ? mp__win32_err(GetLastError())
                             : 0;
    for (size_t i = 0; !rc && i < ng; i++) {
        size_t at = GROUP + i * GROUP, k = n - at < GROUP ? n - at : GROUP;
        g[i].hs[0] = stop;
        memcpy(g[i].hs + 1, hs + at, k * sizeof *hs);
        g[i].n = (DWORD)k + 1;
        g[i].any = any;
        threads[i] = CreateThread(NULL, HELPER_STACK, group_main, &g[i],
                                  STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
        if (threads[i])
            started++;
        else if (!(rc = mp__win32_err(GetLastError())))
            rc = MP_ESYS;
    }
    if (!rc) {
        HANDLE own[MAXIMUM_WAIT_OBJECTS];
        own[0] = any;
        memcpy(own + 1, hs, GROUP * sizeof *hs);
        WaitForMultipleObjects(MAXIMUM_WAIT_OBJECTS, own, FALSE, ms);
    }
    if (stop)
        groups_stop(stop, threads, started);
    if (stop)
        CloseHandle(stop);
    if (any)
        CloseHandle(any);
    free(threads);
    free(g);
    return rc;
}

/* Starts a read on every channel not yet ready; waits for any event or
 * process; then settles every read (finished, or cancelled). */
int mp__os_conn_wait_any(mp__os_conn *const *conns, size_t nc,
                         const mp__handle *procs, size_t np, mp__deadline d,
                         bool *ready) {
    HANDLE *hs = malloc((nc + np ? nc + np : 1) * sizeof *hs);
    bool *pending = malloc((nc ? nc : 1) * sizeof *pending);
    size_t nh = 0, hits = 0;
    if (!hs || !pending) {
        free(hs);
        free(pending);
        return MP_ENOMEM;
    }
    for (size_t i = 0; i < nc; i++) {
        mp__os_conn *c = conns[i];
        pending[i] = false;
        if (!(ready[i] = mp__os_conn_ready(c))) {
            DWORD err;
            read_start(c, &err);
            if (err == 0 || err == ERROR_IO_PENDING ||
                err == ERROR_MORE_DATA) {
                pending[i] = true;
                hs[nh++] = c->rev;
            } else {
                read_done(c, 0, err); /* end of stream or an error: news */
                ready[i] = true;
            }
        }
        hits += ready[i];
    }
    for (size_t i = 0; i < np; i++)
        hs[nh++] = (HANDLE)procs[i];
    int rc;
    long ms = hits ? 0 : mp__deadline_left_ms(d, &rc);
    int wrc = wait_many(hs, nh, ms < 0 ? INFINITE : (DWORD)ms);
    for (size_t i = 0; i < nc; i++) {
        if (!pending[i])
            continue;
        DWORD n = 0, err;
        if (finish_io(conns[i]->h, &conns[i]->rov, MP__DL_NOW, &n, &err) ==
            0) {
            read_done(conns[i], n, err);
            ready[i] = true;
            hits++;
        }
    }
    for (size_t i = 0; i < np; i++) {
        ready[nc + i] =
            WaitForSingleObject((HANDLE)procs[i], 0) == WAIT_OBJECT_0;
        hits += ready[nc + i];
    }
    free(hs);
    free(pending);
    if (hits)
        return 0;
    if (wrc)
        return wrc;
    return d == MP__DL_NOW ? MP_EAGAIN : MP_ETIMEDOUT;
}

/* A message-mode read never ends part-way through a small message, and a
 * large one's rest is already in the pipe: nothing held means waiting. */
int mp__os_conn_wait_more(mp__os_conn *const *conns, size_t nc,
                          const mp__handle *procs, size_t np, mp__deadline d,
                          bool *ready) {
    return mp__os_conn_wait_any(conns, nc, procs, np, d, ready);
}

/* ---- crossing into a spawned child ---- */

mp__handle mp__os_conn_handle(const mp__os_conn *c) {
    return (mp__handle)c->h;
}

void mp__os_conn_save(const mp__os_conn *c, mp__wbuf *w) {
    mp__w_u8(w,
             (uint8_t)(c->eof | c->broken << 1 | c->have << 2 | c->rest << 3));
    mp__w_u64(w, c->msg_len);
    mp__w_blob(w, c->rbuf, c->have ? c->got : 0);
}

int mp__os_conn_restore(mp__os_conn **out, mp__handle h, mp__rbuf *r) {
    uint8_t fl;
    uint64_t len;
    const void *p;
    size_t n;
    int rc = mp__r_u8(r, &fl);
    if (!rc)
        rc = mp__r_u64(r, &len);
    if (!rc)
        rc = mp__r_blob(r, &p, &n, RBUF);
    if (!rc && (fl > 15 || n > len))
        rc = MP_EPROTO;
    if (rc) {
        CloseHandle((HANDLE)h);
        return rc;
    }
    if ((rc = conn_wrap(out, (HANDLE)h)) != 0)
        return rc;
    mp__os_conn *c = *out;
    c->eof = fl & 1;
    c->broken = fl & 2;
    c->have = fl & 4;
    c->rest = fl & 8;
    c->msg_len = len;
    c->got = n;
    memcpy(c->rbuf, p, n);
    return 0;
}

/* ---- listeners ----
 *
 * A pipe instance waits for the next client with a ConnectNamedPipe that
 * stays in flight between accepts, so that its event can be waited on with
 * the connections in their handshake (listener.c). Named pipes end with
 * the last handle to them, so a killed listener leaves nothing behind.
 * Both ends check that the process at the other end runs as our user
 * (mp__win32_check_process): a client refuses another user's server with
 * MP_EACCES, and accept drops another user's client unanswered. */

struct mp__os_listener {
    HANDLE h;  /* the instance the next client connects to */
    HANDLE ev; /* ov's event: set once a client is there (or on an error) */
    OVERLAPPED ov;
    bool pending;   /* ConnectNamedPipe on h is in flight */
    bool connected; /* a client is connected to h */
    int cerr;       /* why ConnectNamedPipe failed, for the next accept */
    int err;        /* why no instance is waiting, when h is NULL */
    wchar_t *wname;
    char addr[ADDR_MAX + 1];
};

/* Whether a server already has the pipe name: FILE_FLAG_FIRST_PIPE_INSTANCE
 * says so atomically on Windows, but Wine ignores it, so an explicit
 * address is asked first (WaitNamedPipe connects nobody). */
static bool pipe_in_use(const wchar_t *name) {
    if (WaitNamedPipeW(name, 1))
        return true;
    DWORD e = GetLastError();
    return e == ERROR_SEM_TIMEOUT || e == ERROR_PIPE_BUSY;
}

int mp__os_listen(mp__os_listener **out, const char *addr, const char *token,
                  int backlog) {
    (void)backlog; /* instances are unlimited; clients wait in WaitNamedPipe */
    mp__os_listener *l = calloc(1, sizeof *l);
    if (!l)
        return MP_ENOMEM;
    int rc = 0;
    if (!addr)
        snprintf(l->addr, sizeof l->addr, PIPE_PREFIX "mproc-%s", token);
    else if (strlen(addr) > ADDR_MAX ||
             _strnicmp(addr, PIPE_PREFIX, strlen(PIPE_PREFIX)) != 0 ||
             !addr[strlen(PIPE_PREFIX)])
        rc = MP_EINVAL;
    else
        memcpy(l->addr, addr, strlen(addr) + 1);
    if (!rc && !(l->wname = mp__win32_wide(l->addr, &rc)))
        rc = rc ? rc : MP_ENOMEM;
    if (!rc && !(l->ev = CreateEventW(NULL, TRUE, FALSE, NULL)))
        rc = mp__win32_err(GetLastError());
    if (!rc && addr && pipe_in_use(l->wname))
        rc = MP_EEXIST;
    if (!rc)
        rc = create_instance(l->wname, PIPE_ACCESS_DUPLEX, true, PIPE_BUF_SIZE,
                             &l->h);
    if (rc) {
        if (l->ev)
            CloseHandle(l->ev);
        free(l->wname);
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}

const char *mp__os_listener_address(const mp__os_listener *l) {
    return l->addr;
}

/* Puts a ConnectNamedPipe in flight on the waiting instance unless one is,
 * or a client already came; ev is set whenever accept has news. */
static void connect_start(mp__os_listener *l) {
    if (!l->h) {
        SetEvent(l->ev); /* accept reports l->err */
        return;
    }
    if (l->pending || l->connected || l->cerr)
        return;
    memset(&l->ov, 0, sizeof l->ov);
    l->ov.hEvent = l->ev;
    ResetEvent(l->ev);
    DWORD err = ConnectNamedPipe(l->h, &l->ov) ? 0 : GetLastError();
    if (err == ERROR_IO_PENDING) {
        l->pending = true;
        return;
    }
    /* Connected already (and perhaps already gone: recv says so). */
    if (err == 0 || err == ERROR_PIPE_CONNECTED || err == ERROR_NO_DATA)
        l->connected = true;
    else
        l->cerr = mp__win32_err(err);
    SetEvent(l->ev);
}

mp__handle mp__os_listener_handle(mp__os_listener *l) {
    connect_start(l);
    return (mp__handle)l->ev;
}

/* The client connected to l->h, taken out of the listener (a fresh
 * instance waits for the next one). A client of another user is dropped
 * unanswered: MP_EAGAIN, for accept to wait for the next. One that has
 * already exited (it may have sent all it meant to) is kept: its user can
 * no longer be looked up, and the pipe's owner-only DACL let only our user
 * open it in the first place; this check is the second line. */
static int take_client(mp__os_listener *l, mp__os_conn **c) {
    HANDLE got = l->h;
    ULONG pid = 0;
    l->h = NULL;
    l->connected = false;
    /* The next client needs an instance waiting for it. */
    l->err = create_instance(l->wname, PIPE_ACCESS_DUPLEX, false,
                             PIPE_BUF_SIZE, &l->h);
    if (l->err)
        l->h = NULL;
    int rc = GetNamedPipeClientProcessId(got, &pid)
                 ? mp__win32_check_process(pid)
                 : MP_ESYS;
    if (rc && rc != MP_ECLOSED) {
        CloseHandle(got);
        return MP_EAGAIN;
    }
    return conn_wrap(c, got);
}

int mp__os_accept(mp__os_listener *l, mp__os_conn **c, mp__deadline d) {
    for (;;) {
        if (!l->h)
            return l->err ? l->err : MP_ECLOSED;
        connect_start(l);
        if (l->pending) {
            int rc;
            long ms = mp__deadline_left_ms(d, &rc);
            if (WaitForSingleObject(l->ev, ms < 0 ? INFINITE : (DWORD)ms) !=
                WAIT_OBJECT_0)
                return mp__deadline_err(d); /* it stays in flight */
            DWORD n, err = 0;
            if (!GetOverlappedResult(l->h, &l->ov, &n, TRUE))
                err = GetLastError();
            l->pending = false;
            if (err == 0 || err == ERROR_PIPE_CONNECTED ||
                err == ERROR_NO_DATA)
                l->connected = true;
            else
                l->cerr = mp__win32_err(err);
        }
        if (l->cerr) {
            int rc = l->cerr;
            l->cerr = 0; /* the next accept tries again */
            return rc;
        }
        int rc = take_client(l, c);
        if (rc != MP_EAGAIN)
            return rc;
    }
}

void mp__os_listener_close(mp__os_listener *l) {
    if (l->h && l->pending) {
        DWORD n;
        CancelIoEx(l->h, &l->ov);
        GetOverlappedResult(l->h, &l->ov, &n, TRUE);
    }
    if (l->h)
        CloseHandle(l->h);
    l->h = NULL;
    l->pending = l->connected = false;
    l->err = MP_ECLOSED;
}

void mp__os_listener_free(mp__os_listener *l) {
    if (!l)
        return;
    mp__os_listener_close(l);
    CloseHandle(l->ev);
    free(l->wname);
    free(l);
}

int mp__os_connect(mp__os_conn **c, const char *addr, mp__deadline d) {
    if (strlen(addr) > ADDR_MAX ||
        _strnicmp(addr, PIPE_PREFIX, strlen(PIPE_PREFIX)) != 0)
        return MP_EINVAL;
    int rc;
    wchar_t *w = mp__win32_wide(addr, &rc);
    if (!w)
        return rc;
    HANDLE h;
    /* Every instance busy: wait for one within the deadline. */
    while ((rc = open_client(w, GENERIC_READ | GENERIC_WRITE, &h)) ==
           MP_EAGAIN) {
        int trc;
        long ms = mp__deadline_left_ms(d, &trc);
        if (trc) {
            rc = MP_ETIMEDOUT;
            break;
        }
        WaitNamedPipeW(w, ms < 0 || ms > 1000 ? 1000 : (DWORD)ms);
    }
    free(w);
    if (rc)
        return rc;
    /* Whoever serves the name may not be who we think. */
    ULONG pid = 0;
    rc = GetNamedPipeServerProcessId(h, &pid) ? mp__win32_check_process(pid)
                                              : MP_ESYS;
    if (rc) {
        CloseHandle(h);
        return rc;
    }
    return conn_wrap(c, h);
}
