/** @file
 * mproc: shared memory: Value and Array, as in Python's multiprocessing.
 *
 * A Value is one C number, an Array a fixed number of them, in memory that
 * every process given the object sees (as an argument, or by name). Types
 * are Python's type codes. By default each comes with a lock (an RLock,
 * Python's get_lock()) that callers take around read-modify-write
 * sequences; single get/set calls are atomic for naturally aligned types up
 * to 8 bytes without it. */
#ifndef MPROC_SHARED_H
#define MPROC_SHARED_H

#include "mproc/args.h"
#include "mproc/sync.h"

/* For mp_atomic_add64; outside extern "C", as a C++ compiler's own headers
 * must be. */
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Python's type codes. */
typedef enum mp_type {
    MP_TYPE_CHAR = 'c',      /**< char */
    MP_TYPE_BYTE = 'b',      /**< signed char */
    MP_TYPE_UBYTE = 'B',     /**< unsigned char */
    MP_TYPE_SHORT = 'h',     /**< short */
    MP_TYPE_USHORT = 'H',    /**< unsigned short */
    MP_TYPE_INT = 'i',       /**< int */
    MP_TYPE_UINT = 'I',      /**< unsigned int */
    MP_TYPE_LONG = 'l',      /**< long */
    MP_TYPE_ULONG = 'L',     /**< unsigned long */
    MP_TYPE_LONGLONG = 'q',  /**< long long */
    MP_TYPE_ULONGLONG = 'Q', /**< unsigned long long */
    MP_TYPE_FLOAT = 'f',     /**< float */
    MP_TYPE_DOUBLE = 'd'     /**< double */
} mp_type;

/** Size in bytes of one element of a type code, 0 for an unknown code. */
MP_EXTERN size_t mp_type_size(mp_type type);

/** Options for mp_value_new / mp_array_new; NULL or zeroed fields mean the
 * defaults. name / exclusive as in mp_sync_options (an existing object must
 * have the same type and length, else MP_EEXIST). raw: no lock
 * (RawValue / RawArray). lock: the caller's Lock or RLock instead of a lock
 * of its own (Python's `lock=` argument), so several objects can share one. */
typedef struct mp_shared_options {
    const char *name; /**< NULL: anonymous; else the object's name */
    bool exclusive;   /**< with name: MP_EEXIST if it already exists */
    bool raw;         /**< no lock */
    /** NULL: a lock of its own (unless raw). Else this lock, made by
     * mp_lock_new / mp_lock_new_ex (not another object's lock), which
     * mp_value_lock / mp_array_lock then return. It must stay open until
     * the object is freed; it crosses into children with the object. As
     * with a Condition's lock, an object with a name cannot take one, and
     * raw with a lock is a contradiction: both are MP_EINVAL. */
    mp_lock *lock;
} mp_shared_options;

/** A shared Value. */
typedef struct mp_value mp_value;
/** A shared Array. */
typedef struct mp_array mp_array;

/** Creates a Value of `type`, initialised from *init (an object of that C
 * type) or zero when init is NULL. *v is owned by the caller: release with
 * mp_value_free. Errors: MP_EINVAL (NULL v, unknown type, bad name),
 * MP_EEXIST, MP_ETIMEDOUT (see mp_sync_options), MP_ENOMEM, MP_ELIMIT,
 * MP_EACCES, MP_ESYS. */
MP_EXTERN int mp_value_new(mp_value **v, mp_type type, const void *init,
                           const mp_shared_options *opts);

/** The value's type; 0 for NULL. */
MP_EXTERN mp_type mp_value_type(const mp_value *v);

/** Copies the value to *out / from *in (objects of the value's C type).
 * Each call is one atomic load or store; it does not take the lock.
 * MP_EINVAL for NULL. @{ */
MP_EXTERN int mp_value_get(mp_value *v, void *out);
MP_EXTERN int mp_value_set(mp_value *v, const void *in);
/** @} */

/** Typed helpers: convert between the value's type and int64_t / double (as
 * a C cast would). Infallible for a valid v; 0 for NULL (get) or no-op.
 * @{ */
MP_EXTERN int64_t mp_value_get_int(mp_value *v);
MP_EXTERN double mp_value_get_double(mp_value *v);
MP_EXTERN int mp_value_set_int(mp_value *v, int64_t x);
MP_EXTERN int mp_value_set_double(mp_value *v, double x);
/** @} */

/** Atomically adds delta to an integer value (no lock needed; wraps as the
 * C type does) and stores the previous value in *old (may be NULL).
 * MP_EINVAL for NULL or a floating-point type. Lock-free. */
MP_EXTERN int mp_value_add(mp_value *v, int64_t delta, int64_t *old);

/** The value's storage, for direct access under its lock; valid while v
 * lives. NULL for NULL. It is naturally aligned, and for the integer types
 * up to 8 bytes lock-free atomic, so C11 atomics may also be used on it
 * directly (see mp_atomic_add64). */
MP_EXTERN void *mp_value_ptr(mp_value *v);

/** mp_value_add's hot-loop form, inline and unchecked: atomically adds delta
 * to the 8-byte integer at p, which must come from mp_value_ptr or
 * mp_array_data of an object of type 'q' or 'Q' (or 'l' / 'L' where long
 * is 8 bytes), and returns the previous value. Costs what one atomic add
 * costs; no lock, any thread or process. C and C++, with GCC, Clang and
 * MSVC (C11 atomics are not needed: MSVC has none by default). */
#if defined(_MSC_VER) && !defined(__clang__)
static inline int64_t mp_atomic_add64(void *p, int64_t delta) {
    return _InterlockedExchangeAdd64((volatile long long *)p, delta);
}
#else
static inline int64_t mp_atomic_add64(void *p, int64_t delta) {
    return __atomic_fetch_add((int64_t *)p, delta, __ATOMIC_SEQ_CST);
}
#endif

/** Its lock: the one given in mp_shared_options.lock (the caller's), else
 * its own RLock (owned by v); NULL when raw or v is NULL. */
MP_EXTERN mp_lock *mp_value_lock(mp_value *v);

/** Releases this process's handle of the value (and its lock). The memory
 * stays shared with the other processes holding it; a named value's name is
 * removed by its last user. NULL-safe, infallible. Not to race with other
 * uses of v. */
MP_EXTERN void mp_value_free(mp_value *v);

/** Creates an Array of n (> 0) elements of `type`, copied from init (n
 * elements) or zeroed when init is NULL. Errors as mp_value_new, and
 * MP_EINVAL for n == 0 or a size that overflows. */
MP_EXTERN int mp_array_new(mp_array **a, mp_type type, size_t n,
                           const void *init, const mp_shared_options *opts);
/** The array's element type; 0 for NULL. */
MP_EXTERN mp_type mp_array_type(const mp_array *a);
/** Number of elements, 0 for NULL. */
MP_EXTERN size_t mp_array_len(const mp_array *a);
/** The elements, contiguous, for direct access under the lock. */
MP_EXTERN void *mp_array_data(mp_array *a);
/** Element i to *out / from *in. MP_EINVAL when i >= len or for NULL.
 * @{ */
MP_EXTERN int mp_array_get(mp_array *a, size_t i, void *out);
MP_EXTERN int mp_array_set(mp_array *a, size_t i, const void *in);
/** @} */
/** Typed element helpers (0 when out of range). @{ */
MP_EXTERN int64_t mp_array_get_int(mp_array *a, size_t i);
MP_EXTERN double mp_array_get_double(mp_array *a, size_t i);
MP_EXTERN int mp_array_set_int(mp_array *a, size_t i, int64_t x);
MP_EXTERN int mp_array_set_double(mp_array *a, size_t i, double x);
/** @} */
/** Its lock, as mp_value_lock: the caller's, its own, or NULL when raw. */
MP_EXTERN mp_lock *mp_array_lock(mp_array *a);

/** Releases this process's handle of the array, as mp_value_free does for a
 * value. NULL-safe, infallible. */
MP_EXTERN void mp_array_free(mp_array *a);

/** A value / an array as a process or task argument. @{ */
static inline mp_arg mp_value_arg(mp_value *v) {
    return mp__obj_arg(MP_OBJ_VALUE, v);
}
static inline mp_arg mp_array_arg(mp_array *a) {
    return mp__obj_arg(MP_OBJ_ARRAY, a);
}
/** @} */
/** The value / array carried by a, or NULL when a carries another kind.
 * @{ */
static inline mp_value *mp_arg_value(const mp_arg *a) {
    return (mp_value *)mp_arg_obj(a, MP_OBJ_VALUE);
}
static inline mp_array *mp_arg_array(const mp_arg *a) {
    return (mp_array *)mp_arg_obj(a, MP_OBJ_ARRAY);
}
/** @} */

#ifdef __cplusplus
}
#endif
#endif
