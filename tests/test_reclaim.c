/* Names of dead users are reclaimed: after every holder of a name was
 * killed, a create or open of it makes a fresh object, a live holder's
 * free removes it, and mp_sweep removes them all, never one with a live
 * holder; a live pid with another start time passes for dead. Nothing here
 * calls mp_unlink. */
#ifndef _WIN32
#define _DEFAULT_SOURCE /* flock */
#define _XOPEN_SOURCE 700
#endif
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#ifndef _WIN32
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "obj/shobj.h" /* the user table, to fake a reused pid */
#endif

#include "named_kinds.h"
#include "synctest.h"
#include "testutil.h"

/* What a dead name leaves in /dev/shm until reclaimed: nothing on
 * Windows, where it goes with its last handle. */
#ifdef _WIN32
#define LEFT 0
#else
#define LEFT 1
#endif

/* Creates (excl) or creates-or-opens kind k's object `name`. A queue has
 * no create-or-open: open = mp_queue_open, create = mp_queue_new. */
static int make(int k, const char *name, bool excl, bool open, void **out) {
    return named_make(k, name, 0, excl, open, out);
}

/* Leaves a mark a fresh object does not have; a lock stays held. */
static int mark(int k, void *o) {
    switch (k) {
    case K_SEM: return mp_sem_acquire(o, 0);
    case K_LOCK: return mp_lock_acquire(o, 0);
    case K_EVENT: return mp_event_set(o);
    case K_COND: return mp_cond_acquire(o, 0);
    case K_BARRIER: return mp_barrier_abort(o);
    case K_VALUE: return mp_value_set_int(o, 99);
    case K_ARRAY: return mp_array_set_int(o, 3, 7);
    default: return mp_queue_put(o, "x", 1, 0);
    }
}

/* Whether o is a fresh object (no mark, no lock held by a dead owner). */
static bool fresh(int k, void *o) {
    int v = -1;
    switch (k) {
    case K_SEM: return mp_sem_get_value(o, &v) == 0 && v == 1;
    case K_LOCK: return mp_lock_acquire(o, 0) == 0 && !mp_lock_release(o);
    case K_EVENT: return mp_event_is_set(o) == 0;
    case K_COND: return mp_cond_acquire(o, 0) == 0 && !mp_cond_release(o);
    case K_BARRIER: return mp_barrier_broken(o) == 0;
    case K_VALUE: return mp_value_get_int(o) == 0;
    case K_ARRAY: return mp_array_get_int(o, 3) == 0;
    default: return mp_queue_qsize(o) == 0;
    }
}

/* What a holder does with its name. */
enum { H_CREATE, H_OPEN, H_BOTH };

/* Child: creates (and marks), opens, or creates and opens again (two
 * users in one process) kind k's `name`, tells the parent and waits to be
 * killed (bounded). */
static int t_hold(mp_call *c) {
    int k = (int)mp_arg_int(mp_call_arg(c, 0));
    const char *nm = mp_arg_str(mp_call_arg(c, 1));
    mp_sem *ready = mp_arg_sem(mp_call_arg(c, 2));
    int how = (int)mp_arg_int(mp_call_arg(c, 3));
    void *o, *o2;
    if (!nm || !ready || make(k, nm, false, how == H_OPEN, &o))
        return 1;
    if (how != H_OPEN && mark(k, o))
        return 2;
    if (how == H_BOTH && make(k, nm, false, true, &o2))
        return 3;
    mp_sem_release(ready);
    for (int i = 0; i < 300; i++)
        mp_test_sleep_ms(100);
    return 99;
}

/* Starts a holder of `name` and waits until it holds it. */
static mp_process *hold(int k, const char *nm, int how, mp_start_method m) {
    mp_sem *ready;
    MP_CHECK_OK(mp_sem_new(&ready, 0, 0));
    mp_process *p = mp_test_start(
        t_hold, MP_ARGS(mp_int(k), mp_str(nm), mp_sem_arg(ready), mp_int(how)),
        m);
    MP_CHECK_OK(mp_sem_acquire(ready, 60000));
    mp_sem_free(ready);
    return p;
}

/* Leaves `name` as holders all killed leave it: a creator and an opener,
 * in two processes or (fewer processes for the long loops) in one. */
static void leave_dead2(int k, const char *nm, mp_start_method m) {
    mp_process *a = hold(k, nm, H_CREATE, m);
    mp_process *b = hold(k, nm, H_OPEN, m);
    mp_test_kill(a);
    mp_test_kill(b);
}
static void leave_dead(int k, const char *nm, mp_start_method m) {
    mp_test_kill(hold(k, nm, H_BOTH, m));
}

/* A create of a dead name, exclusive (how 0) or not (1), of its kind or
 * another (2), makes a fresh object at once; its free removes the name.
 * Each kind meets two of the three ways (one per start method). */
static void test_create_reclaims(void) {
    int before = mp_test_shm_entries();
    char nm[64];
    /* The method's place in mp_test_methods varies how each kind is made
     * from one method to the next. */
    int i = 0;
    while (mp_test_methods[i] != mp_test_method())
        i++;
    for (int k = 0; k < NKINDS; k++) {
        int how = (k + i) % 3;
        snprintf(nm, sizeof nm, "test-%ld-rc%d%d", mp_getpid(), i, k);
        leave_dead(k, nm, mp_test_method());
        CU_ASSERT_EQUAL(mp_test_shm_entries(), before + LEFT);
        int k2 = how == 2 ? (k + 1) % NKINDS : k;
        void *o = NULL;
        int64_t t0 = mp_test_now_ms();
        int rc = make(k2, nm, how == 0, false, &o);
        if (rc)
            fprintf(stderr, "%s over dead %s (%d): %s\n", kind_names[k2],
                    kind_names[k], how, mp_err_name(rc));
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT(mp_test_now_ms() - t0 < 1000); /* no waiting */
        CU_ASSERT(fresh(k2, o));
        named_drop(k2, o);
        CU_ASSERT_EQUAL(mp_test_shm_entries(), before);
    }
}

/* An open-only call (mp_queue_open) of a dead name finds none, and the
 * name is gone. */
static void test_open_reclaims(void) {
    int before = mp_test_shm_entries();
    char nm[64];
    st_name(nm, sizeof nm, "ro");
    leave_dead2(K_QUEUE, nm, mp_test_method());
    mp_queue *q;
    MP_CHECK_RC(mp_queue_open(&q, nm), MP_ENOENT);
    CU_ASSERT_EQUAL(mp_test_shm_entries(), before);
}

/* A live holder's free that leaves only dead ones removes the name. */
static void test_free_after_dead(void) {
    int before = mp_test_shm_entries();
    char nm[64];
    st_name(nm, sizeof nm, "fd");
    for (int k = 0; k < NKINDS; k++) {
        void *o;
        mp_process *a = hold(k, nm, H_CREATE, mp_test_methods[0]);
        MP_CHECK_OK(make(k, nm, false, true, &o));
        mp_test_kill(a);
        CU_ASSERT_EQUAL(mp_test_shm_entries(), before + LEFT);
        named_drop(k, o);
        CU_ASSERT_EQUAL(mp_test_shm_entries(), before);
    }
}

/* Several processes racing to create one dead name all get the same
 * fresh object: each adds 1, and after a barrier each sees them all. */
#define RACERS 4
static int t_race(mp_call *c) {
    const char *nm = mp_arg_str(mp_call_arg(c, 0));
    mp_barrier *b = mp_arg_barrier(mp_call_arg(c, 1));
    mp_value *v;
    if (!nm || !b ||
        mp_value_new(&v, 'i', NULL, &(mp_shared_options){.name = nm}))
        return 1;
    int rc = mp_value_add(v, 1, NULL) ? 2 : 0;
    if (!rc && mp_barrier_wait(b, 60000) < 0)
        rc = 3;
    if (!rc && mp_value_get_int(v) != RACERS)
        rc = 4;
    mp_value_free(v);
    return rc;
}

/* Several children racing to create a value over a dead name all get the same
 * fresh object, so that each sees every increment after a barrier, and the
 * name goes with the last of them. */
static void test_race(void) {
    int before = mp_test_shm_entries();
    char nm[64];
    st_name(nm, sizeof nm, "race");
    mp_barrier *b;
    mp_process *p[RACERS];
    leave_dead2(K_VALUE, nm, mp_test_method());
    MP_CHECK_OK(mp_barrier_new(&b, RACERS, NULL));
    for (int j = 0; j < RACERS; j++)
        p[j] = mp_test_start(t_race, MP_ARGS(mp_str(nm), mp_barrier_arg(b)),
                             mp_test_method());
    for (int j = 0; j < RACERS; j++)
        CU_ASSERT_EQUAL(mp_test_finish(p[j], MP_TEST_CHILD_TIMEOUT_MS), 0);
    mp_barrier_free(b);
    CU_ASSERT_EQUAL(mp_test_shm_entries(), before);
}

/* Child: creates or opens the names prefix-0..7 (kind = digit) in turn,
 * holding the last HELD of them, counting rounds in `progress`, until
 * killed (bounded). */
#define HELD 3
static int t_churn(mp_call *c) {
    const char *prefix = mp_arg_str(mp_call_arg(c, 0));
    mp_value *progress = mp_arg_value(mp_call_arg(c, 1));
    int64_t start = (int64_t)mp_arg_int(mp_call_arg(c, 2));
    int64_t t0 = mp_test_now_ms();
    void *held[HELD] = {NULL};
    char nm[64];
    if (!prefix || !progress)
        return 1;
    for (int64_t i = start; mp_test_now_ms() - t0 < 30000; i++) {
        int k = (int)(i % NKINDS), slot = (int)(i % HELD);
        if (held[slot])
            named_drop((k + NKINDS - HELD) % NKINDS, held[slot]);
        held[slot] = NULL;
        snprintf(nm, sizeof nm, "%s%d", prefix, k);
        if (make(k, nm, false, k == K_QUEUE && i % 2, &held[slot]))
            held[slot] = NULL;
        mp_value_add(progress, 1, NULL);
    }
    return 99;
}

/* Kill rounds: processes churning through the names of every kind are
 * killed at any point (creating, opening, freeing, removing) and
 * replaced; once all are dead, one sweep leaves none of the names. */
#define CHURNERS 3
#define KILLS 24
/* Children churning through names of every kind and killed at any moment, then
 * replaced, leave names that one sweep removes entirely, after which every
 * name can be created afresh. */
static void test_chaos(void) {
    int before = mp_test_shm_entries();
    char prefix[48];
    mp_value *progress;
    mp_process *p[CHURNERS];
    st_name(prefix, sizeof prefix, "ch");
    MP_CHECK_OK(mp_value_new(&progress, 'q', NULL, NULL));
    for (int j = 0; j < CHURNERS; j++)
        p[j] = mp_test_start(
            t_churn,
            MP_ARGS(mp_str(prefix), mp_value_arg(progress), mp_int(j)),
            mp_test_methods[j % mp_test_nmethods]);
    for (int r = 0; r < KILLS; r++) {
        /* Let the survivors make some progress, so kills land anywhere. */
        int64_t want = mp_value_get_int(progress) + 20 + r % 7;
        ST_WAIT_UNTIL(mp_value_get_int(progress) >= want, 30000);
        int j = r % CHURNERS;
        mp_test_kill(p[j]);
        p[j] = mp_test_start(
            t_churn,
            MP_ARGS(mp_str(prefix), mp_value_arg(progress), mp_int(r)),
            mp_test_methods[r % mp_test_nmethods]);
    }
    /* All at once, so that none reclaims the others' names. */
    for (int j = 0; j < CHURNERS; j++)
        MP_CHECK_OK(mp_process_kill(p[j]));
    for (int j = 0; j < CHURNERS; j++)
        mp_test_finish(p[j], 30000);
    mp_value_free(progress);
    MP_CHECK_OK(mp_sweep(NULL));
    CU_ASSERT_EQUAL(mp_test_shm_entries(), before);
    /* And every name is free: an exclusive create makes a fresh one. */
    for (int k = 0; k < NKINDS; k++) {
        char nm[64];
        void *o;
        snprintf(nm, sizeof nm, "%s%d", prefix, k);
        MP_CHECK_OK(make(k, nm, true, false, &o));
        CU_ASSERT(fresh(k, o));
        named_drop(k, o);
    }
    CU_ASSERT_EQUAL(mp_test_shm_entries(), before);
}

#ifndef _WIN32
/* A half-made name: a creator that died before publishing (no guard
 * held), or a live one (the returned descriptor holds the guard). */
static int plant(const char *name, bool live) {
    char nm[300];
    snprintf(nm, sizeof nm, "/mp-%s", name);
    int fd = shm_open(nm, O_RDWR | O_CREAT | O_EXCL, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    if (live) {
        CU_ASSERT_EQUAL(flock(fd, LOCK_EX), 0);
    } else {
        close(fd);
    }
    return fd;
}
#endif

#ifndef _WIN32
/* How many /dev/shm entries hold an object of this full name, whatever
 * the OS name (a long one is hashed where the system's names are short,
 * as on macOS and in the macos-emu preset). */
static int entries_named(const char *name) {
    DIR *d = opendir("/dev/shm");
    int n = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));) {
        char nm[300];
        mp__shobj_hdr h;
        if (strncmp(e->d_name, "mp-", 3) && strncmp(e->d_name, "mh-", 3))
            continue;
        snprintf(nm, sizeof nm, "/%s", e->d_name);
        int fd = shm_open(nm, O_RDONLY, 0);
        if (fd < 0)
            continue;
        n += pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
             strncmp(h.name, name, sizeof h.name) == 0;
        close(fd);
    }
    closedir(d);
    return n;
}
#endif

/* The sweep removes every dead name, of every kind, and the half-made
 * ones of dead creators; names with a live holder survive it: one only
 * this process holds, one whose creator was killed but this process
 * holds, one only a live child holds. */
static void test_sweep(void) {
    int before = mp_test_shm_entries();
    char nm[64], l1[64], l2[64], l3[64];
    size_t n = 0;
    for (int k = 0; k < NKINDS; k++) {
        snprintf(nm, sizeof nm, "test-%ld-sw%d", mp_getpid(), k);
        leave_dead(k, nm, mp_test_methods[k % mp_test_nmethods]);
    }
    /* A dead name too long for the system's short names (macOS). */
    char longname[MP_NAME_MAX + 1];
    int len = snprintf(longname, sizeof longname, "test-%ld-", mp_getpid());
    memset(longname + len, 'l', 60);
    longname[len + 60] = '\0';
    int shown = mp_test_shm_entries(); /* counted there unless hashed */
    leave_dead(K_SEM, longname, mp_test_methods[0]);
    shown = mp_test_shm_entries() - shown;
    mp_value *v1, *v2, *v3;
    st_name(l1, sizeof l1, "live1");
    st_name(l2, sizeof l2, "live2");
    st_name(l3, sizeof l3, "live3");
    MP_CHECK_OK(make(K_VALUE, l1, true, false, (void **)&v1));
    mp_process *a = hold(K_VALUE, l2, H_CREATE, mp_test_methods[0]);
    MP_CHECK_OK(make(K_VALUE, l2, false, true, (void **)&v2));
    mp_test_kill(a);
    a = hold(K_VALUE, l3, H_CREATE, mp_test_methods[0]);
    mp_process *live = hold(K_VALUE, l3, H_OPEN, mp_test_methods[0]);
    mp_test_kill(a);
    int extra = 0;
#ifndef _WIN32
    st_name(nm, sizeof nm, "half-dead");
    plant(nm, false);
    st_name(nm, sizeof nm, "half-live");
    int guard = plant(nm, true);
    extra = 1;
    CU_ASSERT_EQUAL(mp_test_shm_entries(), before + NKINDS + shown + 3 + 2);
    CU_ASSERT_EQUAL(entries_named(longname), 1);
#endif
    MP_CHECK_OK(mp_sweep(&n));
#ifndef _WIN32
    CU_ASSERT(n >= NKINDS + 2); /* others' dead names may go too */
    CU_ASSERT_EQUAL(entries_named(longname), 0);
#else
    CU_ASSERT_EQUAL(n, 0); /* the OS removed them with their handles */
#endif
    CU_ASSERT_EQUAL(mp_test_shm_entries(), before + LEFT * (3 + extra));
    /* The live ones are the same objects. */
    CU_ASSERT_EQUAL(mp_value_get_int(v2), 99);
    MP_CHECK_OK(make(K_VALUE, l3, false, true, (void **)&v3));
    CU_ASSERT_EQUAL(mp_value_get_int(v3), 99);
    mp_value_free(v3);
    MP_CHECK_OK(make(K_VALUE, l2, false, true, (void **)&v3));
    CU_ASSERT_EQUAL(mp_value_get_int(v3), 99);
    mp_value_free(v3);
    MP_CHECK_OK(mp_sweep(NULL)); /* nothing of ours left to remove */
    CU_ASSERT_EQUAL(mp_test_shm_entries(), before + LEFT * (3 + extra));
    /* Their last holders go: freed here, killed there. */
    mp_value_free(v1);
    mp_value_free(v2);
    mp_test_kill(live);
#ifndef _WIN32
    close(guard); /* its creator "dies" */
#endif
    CU_ASSERT_EQUAL(mp_test_shm_entries(), before + LEFT * (1 + extra));
    MP_CHECK_OK(mp_sweep(&n));
    CU_ASSERT_EQUAL(mp_test_shm_entries(), before);
}

#ifndef _WIN32
/* The last free of a name whose creation guard another process of ours
 * holds, stopped (SIGSTOP), returns within its bound instead of waiting
 * for that process forever; the name, with no user left, stays for the
 * sweep, which removes it once the holder is gone. */
static void test_free_with_stopped_guard_holder(void) {
    char nm[64], os_nm[300];
    st_name(nm, sizeof nm, "guard-held");
    snprintf(os_nm, sizeof os_nm, "/mp-%s", nm);
    void *o;
    MP_CHECK_OK(make(K_LOCK, nm, true, false, &o));
    int ready[2];
    CU_ASSERT_FATAL(pipe(ready) == 0);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        int fd = shm_open(os_nm, O_RDWR, 0);
        char ok = fd >= 0 && flock(fd, LOCK_EX) == 0;
        if (write(ready[1], &ok, 1) != 1)
            _exit(1);
        for (;;)
            pause(); /* stopped, then killed */
    }
    close(ready[1]);
    char ok = 0;
    CU_ASSERT_EQUAL(read(ready[0], &ok, 1), 1);
    close(ready[0]);
    CU_ASSERT_EQUAL(ok, 1);
    CU_ASSERT_EQUAL(kill(pid, SIGSTOP), 0);
    int64_t t0 = mp_test_now_ms();
    named_drop(K_LOCK, o);
    int64_t dt = mp_test_now_ms() - t0;
    CU_ASSERT(dt < 20000);
    CU_ASSERT_EQUAL(entries_named(nm), 1);
    kill(pid, SIGKILL);
    CU_ASSERT_EQUAL(waitpid(pid, NULL, 0), pid);
    MP_CHECK_OK(mp_sweep(NULL));
    CU_ASSERT_EQUAL(entries_named(nm), 0);
}

/* The user table of a named object, mapped from its /dev/shm entry. */
static mp__shobj_hdr *table(const char *name, int *fd) {
    char nm[300];
    snprintf(nm, sizeof nm, "/mp-%s", name);
    *fd = shm_open(nm, O_RDWR, 0);
    CU_ASSERT_FATAL(*fd >= 0);
    void *p =
        mmap(NULL, MP__SHOBJ_HDR, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    CU_ASSERT_FATAL(p != MAP_FAILED);
    return p;
}

static void untable(mp__shobj_hdr *h, int fd) {
    munmap(h, MP__SHOBJ_HDR);
    close(fd);
}

/* Flips a header's length parameter between its true value and a huge
 * one until told to stop: a writer racing with every open. */
typedef struct flipper {
    mp__shobj_hdr *h;
    MP__ATOMIC(uint32_t) stop;
} flipper;

static void *flip(void *arg) {
    flipper *f = arg;
    volatile uint64_t *n = &f->h->param[1];
    while (!mp__load32(&f->stop, MP__RELAXED)) {
        *n = (uint64_t)1 << 40;
        *n = 16;
    }
    return NULL;
}

/* A header is read once and bound from that copy: while another process
 * keeps rewriting an Array's length in its header, every open either
 * refuses it (MP_EEXIST) or yields the length it checked, never a length
 * read again after the check (which would reach past the mapping). */
static void test_header_read_once(void) {
    char nm[64];
    st_name(nm, sizeof nm, "flip");
    mp_shared_options so = {.name = nm};
    mp_array *a = NULL;
    MP_CHECK_OK(mp_array_new(&a, MP_TYPE_INT, 16, NULL, &so));
    int fd;
    flipper f = {table(nm, &fd), 0};
    pthread_t t;
    CU_ASSERT_FATAL(pthread_create(&t, NULL, flip, &f) == 0);
    int opened = 0, wrong = 0;
    int64_t end = mp_test_now_ms() + 3000;
    for (int i = 0; i < 200000 && mp_test_now_ms() < end; i++) {
        mp_array *b = NULL;
        int rc = mp_array_new(&b, MP_TYPE_INT, 16, NULL, &so);
        if (rc == 0) {
            opened++;
            wrong += mp_array_len(b) != 16;
            mp_array_free(b);
        } else if (rc != MP_EEXIST) {
            wrong++;
        }
    }
    mp__store32(&f.stop, 1, MP__RELAXED);
    pthread_join(t, NULL);
    f.h->param[1] = 16;
    untable(f.h, fd);
    CU_ASSERT(opened > 0);
    CU_ASSERT_EQUAL(wrong, 0);
    mp_array_free(a);
}

/* Rewrites the only user of the dead name `name` as `who`. */
static void fake_user(const char *name, uint64_t who) {
    int fd;
    mp__shobj_hdr *h = table(name, &fd);
    CU_ASSERT(mp__load64(&h->user[0], MP__SEQ_CST) != 0);
    mp__store64(&h->user[0], who, MP__SEQ_CST);
    untable(h, fd);
}

/* A pid reused by a live process that started at another time does not
 * make a dead user look alive; the same pid with its start token does. */
static void test_pid_reuse(void) {
    int before = mp_test_shm_entries();
    char x[64], nm[64];
    int fd;
    st_name(x, sizeof x, "reuse-live");
    st_name(nm, sizeof nm, "reuse");
    /* A live process and its identity, as it recorded itself. */
    mp_process *live = hold(K_VALUE, x, H_CREATE, mp_test_methods[0]);
    mp__shobj_hdr *h = table(x, &fd);
    uint64_t who = mp__load64(&h->user[0], MP__SEQ_CST);
    untable(h, fd);
    CU_ASSERT_EQUAL((long)(uint32_t)who, mp_process_pid(live));
    CU_ASSERT((who >> 32) != 0);                 /* a start token was read */
    uint64_t reused = who ^ ((uint64_t)2 << 32); /* another start time */
    for (int k = 0; k < NKINDS; k++) {
        void *o;
        leave_dead(k, nm, mp_test_methods[0]);
        /* leave_dead's second handle is the second user: free its slot. */
        int fd2;
        mp__shobj_hdr *t = table(nm, &fd2);
        mp__store64(&t->user[1], 0, MP__SEQ_CST);
        untable(t, fd2);
        /* The live process itself: the name is held. */
        fake_user(nm, who);
        MP_CHECK_RC(make(k, nm, true, false, &o), MP_EEXIST);
        MP_CHECK_OK(mp_sweep(NULL));
        CU_ASSERT_EQUAL(mp_test_shm_entries(), before + 2);
        /* Its pid, another start: dead, swept. */
        fake_user(nm, reused);
        MP_CHECK_OK(mp_sweep(NULL));
        CU_ASSERT_EQUAL(mp_test_shm_entries(), before + 1);
        /* And a create of such a name reclaims it. */
        leave_dead(k, nm, mp_test_methods[0]);
        t = table(nm, &fd2);
        mp__store64(&t->user[1], reused, MP__SEQ_CST);
        untable(t, fd2);
        fake_user(nm, reused);
        MP_CHECK_OK(make(k, nm, true, false, &o));
        CU_ASSERT(fresh(k, o));
        named_drop(k, o);
        CU_ASSERT_EQUAL(mp_test_shm_entries(), before + 1);
    }
    mp_test_kill(live);
    MP_CHECK_OK(mp_sweep(NULL));
    CU_ASSERT_EQUAL(mp_test_shm_entries(), before);
}
#endif

void mp_test_suite_reclaim(void) {
    const mp_test_runs once = MP_TEST_ONCE, each = MP_TEST_PER_METHOD;
    MP_TEST_SUITE("reclaim", {"create_reclaims", test_create_reclaims, each},
                  {"open_reclaims", test_open_reclaims, each},
                  {"free_after_dead", test_free_after_dead, once},
                  {"race", test_race, each}, {"sweep", test_sweep, once},
                  {"chaos", test_chaos, once});
#ifndef _WIN32
    MP_TEST_SUITE("reclaim_posix", {"pid_reuse", test_pid_reuse, once},
                  {"free_with_stopped_guard_holder",
                   test_free_with_stopped_guard_holder, once},
                  {"header_read_once", test_header_read_once, once});
#endif
}
