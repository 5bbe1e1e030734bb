// A C++ caller (issue 12) does what a C program does, from C++11 on: starts
// a child with arguments that answers on a queue, fills options without
// designated initializers, runs pool tasks with an initializer, and maps
// over argument lists made in a loop and kept in a std::vector. Exits 0
// when every result is right. tests/cxx/CMakeLists.txt runs it, and also
// compiles it as C++11, 17 and 20 with g++ and clang++ (with
// MPROC_ONE_TOO_MANY it must not compile: MP_ARGS holds at most
// MP_ARGS_INLINE_MAX arguments).
#include <cstdio>
#include <cstring>
#include <vector>

#include <mproc.h>

namespace {

int failures = 0;

void expect(bool ok, const char *what) {
    if (!ok) {
        std::fprintf(stderr, "FAILED: %s\n", what);
        failures++;
    }
}

// True when rc is 0; reports the error otherwise.
bool ok(int rc, const char *what) {
    if (rc)
        std::fprintf(stderr, "FAILED: %s: %s\n", what, mp_strerror(rc));
    failures += rc != 0;
    return rc == 0;
}

// The child: puts "<greeting> <n>" on the queue, exits with 7.
int child(mp_call *call) {
    mp_queue *q = mp_arg_queue(mp_call_arg(call, 0));
    long long n = (long long)mp_arg_int(mp_call_arg(call, 1));
    const char *greeting = mp_arg_str(mp_call_kwarg(call, "greeting"));
    char msg[64];
    int len = std::snprintf(msg, sizeof msg, "%s %lld",
                            greeting ? greeting : "?", n);
    return mp_queue_put(q, msg, (size_t)len, 10000) == 0 ? 7 : 1;
}

// Each worker's offset, set by the pool's initializer.
int64_t offset = -1000;

int init(mp_call *call) {
    offset = mp_arg_int(mp_call_arg(call, 0));
    return 0;
}

int square_plus_offset(mp_call *call) {
    int64_t x = mp_arg_int(mp_call_arg(call, 0));
    return mp_call_return_int(call, x * x + offset);
}

int sum(mp_call *call) {
    int64_t s = 0;
    for (size_t i = 0; i < mp_call_nargs(call); i++)
        s += mp_arg_int(mp_call_arg(call, i));
    return mp_call_return_int(call, s);
}

int64_t as_int(const void *p, size_t len) {
    int64_t v = -1;
    if (len == sizeof v)
        std::memcpy(&v, p, sizeof v);
    return v;
}

#ifdef MPROC_ONE_TOO_MANY
mp_args one_too_many() {
    return MP_ARGS(mp_int(1), mp_int(2), mp_int(3), mp_int(4), mp_int(5),
                   mp_int(6), mp_int(7), mp_int(8), mp_int(9));
}
#endif

void process_with_queue(mp_start_method method) {
    mp_queue *q = NULL;
    if (!ok(mp_queue_new(&q, 0, NULL), "mp_queue_new"))
        return;
    mp_process_options po = {};
    po.name = "cxx-child";
    po.start_method = method;
    mp_process *p = NULL;
    mp_args args = MP_ARGS(mp_queue_arg(q), mp_int(42),
                           mp_kw("greeting", mp_str("hello")));
    if (ok(mp_process_new(&p, child, args, &po), "mp_process_new") &&
        ok(mp_process_start(p), "mp_process_start")) {
        mp_buf b = {};
        if (ok(mp_queue_get(q, &b, 30000), "mp_queue_get"))
            expect(b.len == 8 && std::memcmp(b.data, "hello 42", 8) == 0,
                   "the child's message");
        mp_buf_free(&b);
        int code = -1;
        ok(mp_process_join(p, 30000), "mp_process_join");
        ok(mp_process_exitcode(p, &code), "mp_process_exitcode");
        expect(code == 7, "the child's exit code");
        expect(std::strcmp(mp_process_name(p), "cxx-child") == 0,
               "the child's name");
    }
    mp_process_free(p);
    mp_queue_free(q);
}

void pool_tasks() {
    mp_pool_options o = {};
    o.processes = 2;
    o.initializer = init;
    o.initargs = MP_ARGS(mp_int(5));
    mp_pool *pool = NULL;
    if (!ok(mp_pool_new(&pool, &o), "mp_pool_new"))
        return;
    mp_buf b = {};
    if (ok(mp_pool_apply(pool, square_plus_offset, MP_ARGS(mp_int(12)), &b),
           "mp_pool_apply"))
        expect(as_int(b.data, b.len) == 149, "apply's result");
    mp_buf_free(&b);
    if (ok(mp_pool_apply(pool, sum, MP_NO_ARGS, &b), "apply without args"))
        expect(as_int(b.data, b.len) == 0, "apply without args' result");
    mp_buf_free(&b);

    std::vector<mp_args> items;
    for (int i = 0; i < 10; i++)
        items.push_back(MP_ARGS(mp_int(i)));
    std::vector<mp_arg> many;
    for (int i = 0; i < 3 * MP_ARGS_INLINE_MAX; i++)
        many.push_back(mp_int(i));
    mp_result *r = NULL;
    if (ok(mp_pool_map(pool, square_plus_offset, items.data(), items.size(), 0,
                       &r),
           "mp_pool_map")) {
        for (size_t i = 0; i < mp_result_count(r); i++) {
            const void *p = NULL;
            size_t len = 0;
            ok(mp_result_item(r, i, &p, &len, NULL), "mp_result_item");
            expect(as_int(p, len) == (int64_t)(i * i) + 5, "a map item");
        }
        expect(mp_result_count(r) == 10, "the map's count");
    }
    mp_result_free(r);
    if (ok(mp_pool_apply(pool, sum, mp_args_borrow(many.data(), many.size()),
                         &b),
           "apply with a borrowed list"))
        expect(as_int(b.data, b.len) == 276, "the borrowed list's sum");
    mp_buf_free(&b);
    ok(mp_pool_close(pool), "mp_pool_close");
    ok(mp_pool_join(pool, 30000), "mp_pool_join");
    mp_pool_free(pool);
}

} // namespace

int main(int argc, char **argv) {
    if (!ok(mp_init(&argc, &argv), "mp_init"))
        return 2;
#ifndef _WIN32
    process_with_queue(MP_START_FORK);
#endif
    process_with_queue(MP_START_SPAWN);
    pool_tasks();
    mp_shutdown();
    if (failures)
        std::fprintf(stderr, "%d failures\n", failures);
    return failures ? 1 : 0;
}
