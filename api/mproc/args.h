/** @file
 * mproc: arguments passed to a child's target, and the call it receives.
 *
 * Arguments are small typed values built with mp_int, mp_float, mp_str,
 * mp_bytes, mp_kw and the mproc objects' *_arg constructors, gathered with
 * MP_ARGS(...) into an mp_args, a list that holds them by value and can be
 * stored like any value (mp_args_borrow passes a longer array). An OS
 * handle (a descriptor, HANDLE or SOCKET) crosses with mp_handle. They are
 * copied when the process (or task) is created, so the caller's strings and
 * buffers need only live until that call returns. The same spelling works
 * in C++ (C++11 and later). */
#ifndef MPROC_ARGS_H
#define MPROC_ARGS_H

#include "mproc/core.h"
#include "mproc/value.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The type of value an mp_arg carries. */
typedef enum mp_arg_type {
    MP_ARG_NONE = 0,   /**< no value (a zeroed mp_arg) */
    MP_ARG_INT = 1,    /**< int64_t */
    MP_ARG_FLOAT = 2,  /**< double */
    MP_ARG_STR = 3,    /**< NUL-terminated string */
    MP_ARG_BYTES = 4,  /**< pointer + length */
    MP_ARG_OBJ = 5,    /**< an mproc object: queue, connection, value, ... */
    MP_ARG_HANDLE = 6, /**< an OS handle (mp_os_handle), see mp_handle */
    MP_ARG_VAL = 7     /**< a value (mp_val), see mp_val_arg */
} mp_arg_type;

/** An operating-system handle in one spelling for every platform: a file
 * descriptor (an int) on POSIX, a HANDLE or a SOCKET on Windows, converted
 * to this integer type, which holds each of them whole: `mp_handle(fd)`,
 * `mp_handle((mp_os_handle)h)`, and back `(HANDLE)mp_arg_handle(a)` or
 * `(SOCKET)mp_arg_handle(a)`. */
typedef intptr_t mp_os_handle;

/** The value that is no handle: -1, which is also what an invalid
 * descriptor, INVALID_HANDLE_VALUE and INVALID_SOCKET convert to. */
#define MP_BAD_HANDLE ((mp_os_handle)-1)

/** The kinds of mproc object an argument can carry. */
typedef enum mp_obj_kind {
    MP_OBJ_NONE = 0,        /**< not an object */
    MP_OBJ_CONN = 1,        /**< an mp_conn */
    MP_OBJ_QUEUE = 2,       /**< an mp_queue */
    MP_OBJ_VALUE = 3,       /**< an mp_value */
    MP_OBJ_ARRAY = 4,       /**< an mp_array */
    MP_OBJ_SEM = 5,         /**< an mp_sem */
    MP_OBJ_LOCK = 6,        /**< an mp_lock */
    MP_OBJ_EVENT = 7,       /**< an mp_event */
    MP_OBJ_COND = 8,        /**< an mp_cond */
    MP_OBJ_BARRIER = 9,     /**< an mp_barrier */
    MP__OBJ_KIND_COUNT = 10 /**< the number of kinds (not a kind) */
} mp_obj_kind;

/** One argument. A small value type: build it with the constructors below,
 * read it with the mp_arg_* readers; `type` and `kw` may be inspected. */
typedef struct mp_arg {
    mp_arg_type type; /**< what the argument holds */
    const char *kw;   /**< keyword name, or NULL for a positional argument */
    /** The value; read it with the mp_arg_* readers. */
    union {
        int64_t i; /**< MP_ARG_INT */
        double f;  /**< MP_ARG_FLOAT */
        /** MP_ARG_STR and MP_ARG_BYTES */
        struct {
            const void *ptr; /**< the bytes */
            size_t len;      /**< their length (0 from mp_str) */
        } b;
        /** MP_ARG_OBJ */
        struct {
            void *ptr;        /**< the object */
            mp_obj_kind kind; /**< its kind */
        } obj;
        mp_os_handle h; /**< MP_ARG_HANDLE */
    } v;
} mp_arg;

/** The most arguments MP_ARGS holds inside the list itself. More than this
 * is a compile error in MP_ARGS and MP_EINVAL at run time; pass a longer
 * list with mp_args_borrow. */
#define MP_ARGS_INLINE_MAX 8

/** A list of arguments, a value that can be stored, copied and returned.
 *
 * A list built by MP_ARGS holds its arguments (up to MP_ARGS_INLINE_MAX)
 * inside itself, so assigning it copies them: `items[i] = MP_ARGS(
 * mp_int(i));` in a loop gives every item its own arguments. A list built
 * by mp_args_borrow points at the caller's array of n arguments, which must
 * stay valid until the call that receives the list returns. Either way the
 * strings and bytes the arguments point at need only live until that call
 * returns: mproc copies them there. */
typedef struct mp_args {
    size_t n;        /**< number of arguments */
    const mp_arg *v; /**< the caller's array (borrowed); NULL: in mp__in */
    /** The arguments MP_ARGS holds, when v is NULL; not for direct use. */
    mp_arg mp__in[MP_ARGS_INLINE_MAX];
} mp_args;

/** A list that borrows the caller's array of n arguments, for lists longer
 * than MP_ARGS_INLINE_MAX or built at run time. The caller owns `v`; it must
 * stay valid until the call that receives the list returns (mproc copies
 * the arguments there). n > 0 with a NULL v is MP_EINVAL in that call. */
static inline mp_args mp_args_borrow(const mp_arg *v, size_t n) {
    mp_args a = {0, NULL, {{MP_ARG_NONE, NULL, {0}}}};
    a.n = n;
    a.v = v;
    return a;
}

#ifndef __cplusplus
/** MP_ARGS(a, b, ...) is an mp_args holding its 1 to MP_ARGS_INLINE_MAX
 * arguments by value (more is a compile error); each argument is
 * evaluated once. MP_NO_ARGS is the empty list. C++ has its own spelling
 * of both, with the same meaning (see mp__args_of).
 * @{ */
#define MP_ARGS(...)                                                          \
    ((mp_args){.n = MP__ARGS_COUNT(__VA_ARGS__), .mp__in = {__VA_ARGS__}})
#define MP_NO_ARGS ((mp_args){.n = 0})
/** @} */
/** The number of MP_ARGS's arguments, a negative array size (a compile
 * error) past MP_ARGS_INLINE_MAX. Unevaluated: MP_ARGS evaluates each
 * argument once. */
#define MP__ARGS_COUNT(...)                                                   \
    (sizeof((mp_arg[]){__VA_ARGS__}) / sizeof(mp_arg) +                       \
     0 * sizeof(char[sizeof((mp_arg[]){__VA_ARGS__}) <=                       \
                             MP_ARGS_INLINE_MAX * sizeof(mp_arg)              \
                         ? 1                                                  \
                         : -1]))
#endif

/** An integer argument. */
static inline mp_arg mp_int(int64_t i) {
    mp_arg a = {MP_ARG_INT, NULL, {0}};
    a.v.i = i;
    return a;
}
/** A floating-point argument. */
static inline mp_arg mp_float(double f) {
    mp_arg a = {MP_ARG_FLOAT, NULL, {0}};
    a.v.f = f;
    return a;
}
/** A string argument; NULL is carried as an empty string. */
static inline mp_arg mp_str(const char *s) {
    mp_arg a = {MP_ARG_STR, NULL, {0}};
    a.v.b.ptr = s ? s : "";
    a.v.b.len = 0;
    return a;
}
/** A bytes argument: ptr[0..len); NULL is carried as empty bytes. */
static inline mp_arg mp_bytes(const void *ptr, size_t len) {
    mp_arg a = {MP_ARG_BYTES, NULL, {0}};
    a.v.b.ptr = ptr;
    a.v.b.len = ptr ? len : 0;
    return a;
}
/** A value argument (mproc/value.h): a list, dict, tuple ... of any size.
 * It is encoded (as its pickle) by the call that receives the argument
 * list, so v need only live until that call returns; a NULL v is
 * MP_EINVAL there. Read it in the target with mp_arg_val. It crosses to
 * pool tasks as to processes. */
static inline mp_arg mp_val_arg(const mp_val *v) {
    mp_arg a = {MP_ARG_VAL, NULL, {0}};
    a.v.b.ptr = v;
    a.v.b.len = 0; /* 0: a tree; once copied, its pickle's length */
    return a;
}
/** A keyword argument: mp_kw("name", mp_int(3)). The name is copied along
 * with the value; read it with mp_call_kwarg. */
static inline mp_arg mp_kw(const char *name, mp_arg value) {
    value.kw = name;
    return value;
}
/** An argument carrying an mproc object (used by the *_arg constructors of
 * each object type, e.g. mp_queue_arg). */
static inline mp_arg mp__obj_arg(mp_obj_kind kind, void *obj) {
    mp_arg a = {MP_ARG_OBJ, NULL, {0}};
    a.v.obj.ptr = obj;
    a.v.obj.kind = kind;
    return a;
}

/** An argument handing the OS handle `h` to a child process, as Python's
 * multiprocessing.reduction hands sockets and descriptors on: a file, pipe,
 * socket or any other descriptor on POSIX; on Windows a HANDLE of a kind
 * that can be duplicated (file, pipe, event, process, ...) or a SOCKET.
 * Read it in the target with mp_arg_handle.
 *
 * The parent's handle is borrowed: mproc never closes it nor changes its
 * flags, and it must stay open until mp_process_start returns (in a pool's
 * initargs: until the pool is joined or freed, since a worker that ends is
 * replaced by a new one, which receives the handle too). Closing it after
 * the start does not touch the child's.
 *
 * The child receives its own handle to the same open file, pipe or socket:
 * with fork the descriptor it inherited, under the same number; with spawn
 * on POSIX a descriptor of its own, close-on-exec, under another number; on
 * Windows a duplicate handle of its own, not inheritable, another value
 * (sockets cross by handle inheritance, which the system's own providers
 * support; the target calls WSAStartup before using one). The child's
 * handle is the child's: the target may close it (close, closesocket,
 * CloseHandle) or give it to something that takes it over (fdopen); mproc
 * never closes it, and what is left open closes when the child ends. A
 * pool worker keeps a handle of its initargs for its whole life, so the
 * initializer can keep it for the tasks.
 *
 * Errors (of the call that receives the argument): a handle that is not
 * open in this process, or a negative one, is MP_EINVAL from
 * mp_process_new and mp_pool_new (and from mp_process_start when it was
 * closed in between). In a pool task's arguments a handle is MP_ENOTSUP,
 * as an mproc object is: a task's arguments cross by value. */
static inline mp_arg mp_handle(mp_os_handle h) {
    mp_arg a = {MP_ARG_HANDLE, NULL, {0}};
    a.v.h = h;
    return a;
}

/** The call a target receives: its arguments, and (in a pool task) the bytes
 * it returns. Owned by the library; valid until the target returns. */
typedef struct mp_call mp_call;

/** A process target or pool task. For a process its return value is the
 * exit code; for a pool task it is the task's status (0 = success). */
typedef int (*mp_target)(mp_call *call);

/** Number of positional arguments. 0 for NULL. */
MP_EXTERN size_t mp_call_nargs(const mp_call *call);

/** The i-th positional argument, or NULL past the end (or for NULL). */
MP_EXTERN const mp_arg *mp_call_arg(const mp_call *call, size_t i);

/** The keyword argument called `name`, or NULL if absent. */
MP_EXTERN const mp_arg *mp_call_kwarg(const mp_call *call, const char *name);

/** Sets the bytes a pool task returns to the parent (copied; a later call
 * replaces an earlier one). Outside a pool task the bytes are dropped.
 * MP_EINVAL for a NULL call or NULL ptr with len > 0; MP_ENOMEM. */
MP_EXTERN int mp_call_return(mp_call *call, const void *ptr, size_t len);

/** Typed helpers for mp_call_return. @{ */
MP_EXTERN int mp_call_return_int(mp_call *call, int64_t v);
MP_EXTERN int mp_call_return_float(mp_call *call, double v);
/** @} */

/** Returns the value v (its pickle: read it back with mp_result_get_val,
 * mp_result_item_val or mp_buf_val). v may be freed once this returns.
 * MP_EINVAL (NULL), MP_EMSGSIZE (nested deeper than 1000), MP_ENOMEM. */
MP_EXTERN int mp_call_return_val(mp_call *call, const mp_val *v);

/** NULL-safe readers. mp_arg_int is 0 and mp_arg_float 0.0 when `a` is not of
 * that type (an int is also read as a float); mp_arg_str is NULL unless `a`
 * is a string; mp_arg_bytes gives a string's or bytes' pointer and length
 * (len may be NULL) and NULL otherwise. Strings and bytes stay valid for
 * the duration of the call. @{ */
MP_EXTERN int64_t mp_arg_int(const mp_arg *a);
MP_EXTERN double mp_arg_float(const mp_arg *a);
MP_EXTERN const char *mp_arg_str(const mp_arg *a);
MP_EXTERN const void *mp_arg_bytes(const mp_arg *a, size_t *len);
/** @} */

/** The value carried by `a` (mp_val_arg) as a new tree *out, which the
 * caller frees with mp_val_free. MP_EINVAL when `a` is NULL or not a
 * value; MP_ENOMEM; what mp_val_loads reports for a value a spawned
 * child's start data garbled (MP_EPROTO ...). */
MP_EXTERN int mp_arg_val(const mp_arg *a, mp_val **out);

/** The object carried by `a` when it is of that kind, else NULL. */
MP_EXTERN void *mp_arg_obj(const mp_arg *a, mp_obj_kind kind);

/** The OS handle carried by `a` (see mp_handle: in a child, its own handle,
 * for the target to use and close), or MP_BAD_HANDLE when `a` is NULL or
 * not a handle. */
MP_EXTERN mp_os_handle mp_arg_handle(const mp_arg *a);

#ifdef __cplusplus
}

/** C++'s MP_ARGS: an mp_args holding copies of its 1 to MP_ARGS_INLINE_MAX
 * arguments (more is a compile error), without a temporary array, so it
 * can be stored like C's. Use it through MP_ARGS and MP_NO_ARGS. */
template <typename... Rest>
inline mp_args mp__args_of(const mp_arg &first, const Rest &...rest) {
    static_assert(1 + sizeof...(Rest) <= MP_ARGS_INLINE_MAX,
                  "MP_ARGS: more than MP_ARGS_INLINE_MAX arguments; "
                  "use mp_args_borrow");
    const mp_arg v[] = {first, rest...};
    mp_args a = mp_args_borrow(NULL, 1 + sizeof...(Rest));
    for (size_t i = 0; i < a.n; i++)
        a.mp__in[i] = v[i];
    return a;
}
/** C++'s MP_NO_ARGS: the empty list. */
inline mp_args mp__args_of() { return mp_args_borrow(NULL, 0); }
#define MP_ARGS(...) mp__args_of(__VA_ARGS__)
#define MP_NO_ARGS mp__args_of()
#endif
#endif
