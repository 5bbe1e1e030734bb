/* The spawn start method: a new run of the program receives a blob
 * describing its target and arguments over an inherited pipe, and reports a
 * bootstrap failure over another. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc/fnloc.h"
#include "proc/spawn_blob.h"
#include "proc/start.h"

#define BLOB_MAGIC 0x3153504du /* "MPS1" */
#define BLOB_MAX (MP__ARGS_MAX + 65536)
#define HANDLES_MAX 1024u

static int encode_blob(mp_target target, const mp__argv *args,
                       const char *name, bool daemon, mp__wbuf *w,
                       mp__handles *hs) {
    mp__w_u32(w, BLOB_MAGIC);
    mp__w_blob(w, name, strlen(name) + 1);
    mp__w_u8(w, daemon);
    mp__w_u64(w, (uint64_t)mp__os_getpid());
    int rc = mp__fnloc_write(w, target);
    return rc ? rc : mp__argv_encode(args, w, hs);
}

/* The child reads two frames from its blob pipe: the blob, then what
 * mp__os_spawn sent for handles it could not inherit. */
static int write_frame(mp__handle h, const mp__wbuf *f) {
    uint8_t len[8];
    mp__wbuf lw = mp__wbuf_on(len, sizeof len);
    if (f->err)
        return f->err;
    mp__w_u64(&lw, (uint64_t)f->len);
    int rc = mp__os_write_all(h, len, sizeof len);
    return rc ? rc : mp__os_write_all(h, f->data, f->len);
}

int mp__spawn(mp_target target, const mp__argv *args, const char *name,
              bool daemon, mp__os_proc *proc, mp__handle *status_rd) {
    mp__wbuf w = {0}, sent = {0};
    mp__handles hs = {0};
    mp__handle blob_r = MP__BAD_HANDLE, blob_w = MP__BAD_HANDLE;
    mp__handle st_r = MP__BAD_HANDLE, st_w = MP__BAD_HANDLE;
    /* The first two handles are the bootstrap pipes; their slots are filled
     * once the pipes exist. */
    mp__wbuf scratch = {0};
    mp__handles_put(&hs, &scratch, MP__BAD_HANDLE);
    mp__handles_put(&hs, &scratch, MP__BAD_HANDLE);
    mp__w_free(&scratch);
    int rc = hs.n == 2 ? 0 : MP_ENOMEM;
    if (!rc) /* a clear MP_EINVAL, not the OS's word from the spawn */
        rc = mp__argv_check_handles(args);
    if (!rc)
        rc = encode_blob(target, args, name, daemon, &w, &hs);
    if (!rc && hs.n > HANDLES_MAX)
        rc = MP_ELIMIT;
    if (!rc)
        rc = mp__os_pipe(&blob_r, &blob_w);
    if (!rc)
        rc = mp__os_pipe(&st_r, &st_w);
    if (rc)
        goto finish;
    hs.v[0] = blob_r;
    hs.v[1] = st_w;
    /* The blob pipe must be named on the command line: the child reads
     * what it needs for every other handle from it. */
    mp__spawn_req req = {mp__g.exe, hs.v, hs.n, daemon, 2, &sent};
    rc = mp__os_spawn(&req, proc);
    if (rc)
        goto finish;
    /* The child's ends are the child's alone now: were the blob pipe's read
     * end still open here, a child that died before reading would leave the
     * writes below blocked for ever once the pipe filled. Closed, they fail
     * at once. */
    mp__os_close(blob_r);
    mp__os_close(st_w);
    blob_r = st_w = MP__BAD_HANDLE;
    /* Once the child exists its failures are its own to report: a write
     * error here means it died, which join will tell. */
    if (write_frame(blob_w, &w) == 0)
        write_frame(blob_w, &sent);
    *status_rd = st_r;
    st_r = MP__BAD_HANDLE;
finish:
    mp__os_close(blob_r);
    mp__os_close(blob_w);
    mp__os_close(st_r);
    mp__os_close(st_w);
    mp__handles_free(&hs);
    mp__w_free(&w);
    mp__w_free(&sent);
    return rc;
}

int mp__spawn_status(mp__handle status_rd) {
    uint8_t b[4];
    size_t got = 0;
    uint32_t u;
    /* The pipe's end (ERROR_BROKEN_PIPE on Windows) is the usual answer:
     * not an error of the caller's. */
    long os = mp__os_error_save();
    int rc = mp__os_read_avail(status_rd, b, sizeof b, &got);
    mp__os_error_restore(os);
    if (rc != 0 || got != 4)
        return 0;
    mp__rbuf r = {b, sizeof b};
    mp__r_u32(&r, &u);
    int32_t v = (int32_t)u;
    return v < 0 && v >= MP_ERRNO_MIN ? (int)v : MP_EPROTO;
}

/* The child's end when it cannot begin: the reason goes over the status
 * pipe, when there is one, and to stderr; the exit status is
 * MP_EXIT_BOOTSTRAP. */
static _Noreturn void boot_fail(mp__handle st_w, int err) {
    uint8_t b[4];
    mp__wbuf w = mp__wbuf_on(b, sizeof b);
    mp__w_u32(&w, (uint32_t)(int32_t)err);
    if (st_w != MP__BAD_HANDLE)
        mp__os_write_all(st_w, b, sizeof b);
    fprintf(stderr, "mproc: spawned child could not start its target: %s\n",
            mp_strerror(err));
    exit(MP_EXIT_BOOTSTRAP);
}

static size_t parse_handles(const char *s, mp__handle *hs, size_t max) {
    size_t n = 0;
    while (*s && n < max) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s)
            return 0;
        hs[n++] = (mp__handle)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return 0;
    }
    return *s ? 0 : n;
}

static int read_blob(mp__handle h, uint8_t **out, size_t *outlen) {
    uint8_t len[8];
    int rc = mp__os_read_all(h, len, sizeof len);
    if (rc)
        return rc;
    uint64_t n;
    mp__rbuf lr = {len, sizeof len};
    mp__r_u64(&lr, &n);
    if (n > BLOB_MAX)
        return MP_EPROTO;
    uint8_t *b = malloc(n ? (size_t)n : 1);
    if (!b)
        return MP_ENOMEM;
    if ((rc = mp__os_read_all(h, b, (size_t)n))) {
        free(b);
        return rc;
    }
    *out = b;
    *outlen = (size_t)n;
    return 0;
}

int mp__spawn_decode_head(mp__rbuf *r, bool *daemon, long *ppid,
                          mp_target *fn) {
    uint32_t magic;
    const void *p;
    size_t n;
    uint8_t d;
    uint64_t pp;
    int rc = mp__r_u32(r, &magic);
    if (!rc && magic != BLOB_MAGIC)
        rc = MP_EPROTO;
    if (!rc && !(rc = mp__r_blob(r, &p, &n, MP__NAME_MAX + 1))) {
        if (n == 0 || ((const char *)p)[n - 1])
            return MP_EPROTO;
        mp__set_current_name(p);
    }
    if (!rc)
        rc = mp__r_u8(r, &d);
    if (!rc)
        rc = mp__r_u64(r, &pp);
    if (rc)
        return rc;
    *daemon = d != 0;
    *ppid = (long)pp;
    return mp__fnloc_read(r, fn);
}

_Noreturn void mp__spawn_child_main(const char *handles) {
    static mp__handle hs[HANDLES_MAX];
    size_t nh = parse_handles(handles, hs, HANDLES_MAX);
    if (nh < 2) {
        fprintf(stderr,
                "mproc: spawned child with malformed start data (%s %s)\n",
                MP__SPAWN_FLAG, handles);
        exit(MP_EXIT_BOOTSTRAP);
    }
    mp__handle blob_r = hs[0], st_w = hs[1];
    uint8_t *blob = NULL, *sent = NULL;
    size_t len = 0, sent_len = 0;
    int rc = read_blob(blob_r, &blob, &len);
    if (!rc)
        rc = read_blob(blob_r, &sent, &sent_len);
    mp__os_close(blob_r);
    mp__rbuf sr = {sent, sent_len};
    for (size_t i = 0; !rc && i < nh; i++)
        rc = mp__os_handle_recv(&hs[i], &sr);
    free(sent);
    if (rc)
        boot_fail(st_w, rc);
    /* Every handle crossed inheritable (Windows) or without close-on-exec
     * (POSIX), whatever object it belongs to: made private here, at the one
     * place they all arrive, before the target can start a program (a
     * system() in a worker) that would otherwise hold them, and keep a
     * peer from ever seeing the end of a pipe. */
    for (size_t i = 1; i < nh; i++)
        mp__os_handle_adopt(hs[i]);
    mp__rbuf r = {blob, len};
    bool daemon = false;
    long ppid = 0;
    mp_target target = NULL;
    if ((rc = mp__spawn_decode_head(&r, &daemon, &ppid, &target)))
        boot_fail(st_w, rc);
    if (daemon && (rc = mp__os_child_bind_parent(ppid)))
        boot_fail(st_w, rc);
    /* Objects name their handles by index in the parent's whole list,
     * whose first two slots are the bootstrap pipes (held above). */
    hs[0] = hs[1] = MP__BAD_HANDLE;
    mp__argv args;
    if ((rc = mp__argv_decode(&r, hs, nh, &args)))
        boot_fail(st_w, rc);
    mp__os_close(st_w);
    for (size_t i = 2; i < nh; i++) /* handles no object took */
        mp__os_close(hs[i]);
    mp_call call = {args.v, args.n, {0}, false};
    mp__g.booting = false;
    int code = target(&call);
    mp__argv_free(&args);
    mp_buf_free(&call.ret);
    free(blob);
    exit(code);
}
