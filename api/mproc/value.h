/** @file
 * mproc: values, the objects Python programs send (None, bool, int, float,
 * str, bytes, tuple, list, dict, set, frozenset), and their wire format,
 * Python's pickle.
 *
 * An mp_val is a tree. A tree is made by mp_val_new, mp_val_copy or
 * mp_val_loads (and the transports' receive functions: mp_conn_recv_val,
 * mp_queue_get_val, mp_result_get_val, mp_buf_val ...); that call returns
 * its *root*, which the caller owns and releases with mp_val_free, which
 * frees the whole tree at once. Every other mp_val pointer (mp_val_at,
 * mp_val_get, mp_val_push, ...) is *borrowed*: it points into a tree and
 * stays valid, at the same address, until that tree's root is freed. (Not
 * to be confused with mp_value, a shared ctypes-like Value in shared
 * memory: mp_val is a private value that crosses by copy.)
 *
 * Building: mp_val_push appends a slot (None) to a list or tuple, and
 * mp_val_put gives the slot of a string key in a
 * dict; the slot is then given its content with an mp_val_set_* call,
 * which replaces whatever a value held (a container's items included). The
 * typed shorthands (mp_val_push_int, mp_val_put_str, ...) do both steps.
 * Sets take copies of hashable values with mp_val_add. Dict keys are None,
 * bool, int, float, str, bytes or tuples of them (as hashable in Python);
 * keys compare as in Python (1, 1.0 and True are the same key), and a dict
 * keeps its insertion order.
 *
 * Strings are UTF-8 (as Python encodes them; a lone surrogate, which a
 * Python str may hold, is accepted); an invalid sequence is MP_EINVAL on
 * build and MP_EPROTO on decode. Ints are 64-bit: a larger Python int is
 * MP_EOVERFLOW when decoded, never truncated.
 *
 * Threads: a tree may be read by several threads at once; a tree being
 * changed may not be used by another thread.
 *
 * Memory: a tree allocates from its own arena. Replacing content leaves
 * the old content's memory in the arena until the root is freed; a value
 * rebuilt many times over should be rebuilt as a new tree.
 *
 * Depth: a tree nests at most 1000 containers (Python's recursion limit,
 * and what mp_val_loads reads). A deeper one can be built but not copied
 * (NULL, MP_EMSGSIZE), compared (never equal) or encoded (MP_EMSGSIZE). */
#ifndef MPROC_VALUE_H
#define MPROC_VALUE_H

#include "mproc/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A value; see the file comment for ownership. */
typedef struct mp_val mp_val;

/** The kinds of value, each a Python type. */
typedef enum mp_val_kind {
    MP_VAL_NONE = 0,      /**< None */
    MP_VAL_BOOL = 1,      /**< bool */
    MP_VAL_INT = 2,       /**< int, 64-bit signed */
    MP_VAL_FLOAT = 3,     /**< float (double) */
    MP_VAL_STR = 4,       /**< str, UTF-8 */
    MP_VAL_BYTES = 5,     /**< bytes (Python's bytearray decodes to bytes) */
    MP_VAL_TUPLE = 6,     /**< tuple */
    MP_VAL_LIST = 7,      /**< list */
    MP_VAL_DICT = 8,      /**< dict */
    MP_VAL_SET = 9,       /**< set */
    MP_VAL_FROZENSET = 10 /**< frozenset */
} mp_val_kind;

/** Bounds on what mp_val_loads builds from untrusted bytes, checked before
 * anything is allocated for it. Zero fields mean the defaults. */
typedef struct mp_val_limits {
    /** Containers nested inside each other: 0 means 1000 (Python's own
     * recursion limit); past it is MP_EMSGSIZE. */
    size_t max_depth;
    /** Values in the tree, every item, key and container counted (a value
     * referenced twice by the pickle counts twice): 0 means 2^20 plus 4
     * per byte of the pickle (no pickle without shared references comes
     * near it); past it is MP_EMSGSIZE. */
    size_t max_items;
    /** Bytes of str and bytes payloads in the tree, copies counted: 0 means
     * 64 MiB plus 4 per byte of the pickle; past it is MP_EMSGSIZE. So by
     * default a message of n bytes decodes to a tree of O(n) memory
     * whatever it references: a small pickle cannot make a huge tree. */
    size_t max_bytes;
} mp_val_limits;

/** A new tree holding an empty value of `kind` (None, False, 0, 0.0, "",
 * b"", (), [], {}, set(), frozenset()). The caller owns the root; release
 * it with mp_val_free. NULL when out of memory or for an unknown kind. */
MP_EXTERN mp_val *mp_val_new(mp_val_kind kind);

/** A new tree, a deep copy of v (which may be any value of another tree).
 * NULL for NULL, for v nested deeper than 1000 containers, or when out of
 * memory. */
MP_EXTERN mp_val *mp_val_copy(const mp_val *v);

/** Frees the tree whose root is v. NULL-safe; a value that is not a root
 * (a borrowed pointer) is left alone. */
MP_EXTERN void mp_val_free(mp_val *v);

/** Reading. Each is NULL-safe. @{ */
/** v's kind (MP_VAL_NONE for NULL). */
MP_EXTERN mp_val_kind mp_val_kind_of(const mp_val *v);
/** The number of items of a tuple, list, set or frozenset, of pairs of a
 * dict, or of bytes of a str or bytes; 0 otherwise. */
MP_EXTERN size_t mp_val_len(const mp_val *v);
/** *out = the int (a bool reads as 0 or 1). MP_EINVAL when v is no int
 * (out untouched). */
MP_EXTERN int mp_val_to_int(const mp_val *v, int64_t *out);
/** *out = the float (an int or bool converts). MP_EINVAL otherwise. */
MP_EXTERN int mp_val_to_float(const mp_val *v, double *out);
/** *out = the bool. MP_EINVAL when v is no bool. */
MP_EXTERN int mp_val_to_bool(const mp_val *v, bool *out);
/** The str's UTF-8 bytes, NUL-terminated (a str may also hold NULs: len,
 * when not NULL, is the length in bytes); NULL when v is no str. Borrowed:
 * valid as long as v. */
MP_EXTERN const char *mp_val_to_str(const mp_val *v, size_t *len);
/** The bytes and their number (len may be NULL; the bytes are followed by
 * a NUL not counted); NULL when v is no bytes. Borrowed. */
MP_EXTERN const void *mp_val_to_bytes(const mp_val *v, size_t *len);
/** The i-th item of a tuple, list, set or frozenset (sets in insertion
 * order), or NULL (out of range, another kind). Borrowed. */
MP_EXTERN mp_val *mp_val_at(const mp_val *v, size_t i);
/** The key and the value of a dict's i-th pair, in insertion order, or
 * NULL. Borrowed; a key must not be changed. @{ */
MP_EXTERN const mp_val *mp_val_key_at(const mp_val *dict, size_t i);
MP_EXTERN mp_val *mp_val_value_at(const mp_val *dict, size_t i);
/** @} */
/** The value of dict at the str key `key` (a C string), or NULL (no such
 * key, not a dict). No value is built for the key. Borrowed. */
MP_EXTERN mp_val *mp_val_get(const mp_val *dict, const char *key);
/** The value of dict at `key`, any hashable value compared as Python does
 * (so 1, 1.0 and True find the same entry), or NULL. Borrowed. */
MP_EXTERN mp_val *mp_val_get_key(const mp_val *dict, const mp_val *key);
/** Whether a set or frozenset holds `item`, compared as Python does. */
MP_EXTERN bool mp_val_has(const mp_val *set, const mp_val *item);
/** Python's ==: kinds that compare equal in Python (1 == 1.0 == True, a
 * list is never a tuple), dicts and sets regardless of order, NaN never
 * equal. Two NULLs are equal. */
MP_EXTERN bool mp_val_equal(const mp_val *a, const mp_val *b);
/** @} */

/** Setting: replaces what v holds (a container's items too) with the given
 * content. 0, MP_EINVAL (NULL v, a NULL pointer with a non-zero length,
 * invalid UTF-8, v is a dict key or a set's item, which must not change,
 * or an unknown kind), MP_ENOMEM. The bytes are copied. @{ */
MP_EXTERN int mp_val_set_none(mp_val *v);
MP_EXTERN int mp_val_set_bool(mp_val *v, bool b);
MP_EXTERN int mp_val_set_int(mp_val *v, int64_t i);
MP_EXTERN int mp_val_set_float(mp_val *v, double f);
/** A NUL-terminated string (NULL is the empty string). */
MP_EXTERN int mp_val_set_str(mp_val *v, const char *s);
/** len bytes of UTF-8, NULs allowed. */
MP_EXTERN int mp_val_set_strn(mp_val *v, const char *s, size_t len);
MP_EXTERN int mp_val_set_bytes(mp_val *v, const void *p, size_t len);
/** An empty container (or the empty value) of `kind`. */
MP_EXTERN int mp_val_set_empty(mp_val *v, mp_val_kind kind);
/** A deep copy of src (of any tree, v's own included); MP_EMSGSIZE for src
 * nested deeper than 1000 containers. */
MP_EXTERN int mp_val_set_copy(mp_val *v, const mp_val *src);
/** @} */

/** Building containers. @{ */
/** Appends None to a list or tuple and returns it, to be set with an
 * mp_val_set_* call; NULL for another kind or when out of memory. */
MP_EXTERN mp_val *mp_val_push(mp_val *seq);
/** The slot of str key `key` in a dict: the existing value (left as it
 * is) or a new None appended. NULL for another kind, invalid UTF-8, or out
 * of memory. */
MP_EXTERN mp_val *mp_val_put(mp_val *dict, const char *key);
/** The slot of a copy of `key` (a hashable value, see the file comment) in
 * a dict, as mp_val_put. NULL when key is not hashable. */
MP_EXTERN mp_val *mp_val_put_key(mp_val *dict, const mp_val *key);
/** Adds a copy of `item` (hashable) to a set or frozenset unless an equal
 * one is in it. 0, MP_EINVAL (another kind, an unhashable item),
 * MP_ENOMEM. */
MP_EXTERN int mp_val_add(mp_val *set, const mp_val *item);
/** mp_val_push then the setter: 0, MP_EINVAL or MP_ENOMEM. @{ */
MP_EXTERN int mp_val_push_none(mp_val *seq);
MP_EXTERN int mp_val_push_bool(mp_val *seq, bool b);
MP_EXTERN int mp_val_push_int(mp_val *seq, int64_t i);
MP_EXTERN int mp_val_push_float(mp_val *seq, double f);
MP_EXTERN int mp_val_push_str(mp_val *seq, const char *s);
MP_EXTERN int mp_val_push_bytes(mp_val *seq, const void *p, size_t len);
/** @} */
/** mp_val_put then the setter: 0, MP_EINVAL or MP_ENOMEM. @{ */
MP_EXTERN int mp_val_put_none(mp_val *dict, const char *key);
MP_EXTERN int mp_val_put_bool(mp_val *dict, const char *key, bool b);
MP_EXTERN int mp_val_put_int(mp_val *dict, const char *key, int64_t i);
MP_EXTERN int mp_val_put_float(mp_val *dict, const char *key, double f);
MP_EXTERN int mp_val_put_str(mp_val *dict, const char *key, const char *s);
MP_EXTERN int mp_val_put_bytes(mp_val *dict, const char *key, const void *p,
                               size_t len);
/** @} */
/** @} */

/** Encodes v as a pickle of `protocol` (0 means 4; 4 and 5 are accepted,
 * both read by every Python from 3.8; another is MP_EINVAL) into out
 * (grown as needed; out->len is the pickle's length). Python's
 * pickle.loads and Connection.recv read it back as the same objects.
 * Errors: MP_EINVAL (NULL), MP_EMSGSIZE (v nested deeper than 1000
 * containers), MP_ENOMEM. */
MP_EXTERN int mp_val_dumps(const mp_val *v, int protocol, mp_buf *out);

/** Decodes a pickle of protocol 2 to 5 (what Python's pickle.dumps and
 * Connection.send write for the kinds above) into a new tree *out, which
 * the caller frees with mp_val_free. `lim` may be NULL (the defaults).
 *
 * The bytes are untrusted: nothing in them can make mproc run code,
 * reference a global other than the five that protocols 2 to 4 use for
 * bytes, bytearray and sets (_codecs.encode, and bytes, bytearray, set and
 * frozenset of builtins, also spelled __builtin__) applied to exactly the
 * arguments CPython writes (a latin-1 str, bytes, a list, or none), or
 * loop, overrun or allocate past `lim`. A value the pickle references
 * twice (Python's memo) decodes as two equal copies, each counted against
 * the limits. Errors: MP_EINVAL (NULL out, NULL data
 * with len > 0), MP_EPROTO (malformed, truncated, another global, REDUCE
 * of anything else, BUILD, INST, OBJ, PERSID, EXT, out-of-band buffers, a
 * reference to a container still being built (a cycle), an unhashable
 * key, invalid UTF-8, bytes after STOP), MP_EOVERFLOW (an int beyond 64
 * bits), MP_EMSGSIZE (past a limit), MP_ENOMEM. *out is NULL on error and
 * nothing is leaked. */
MP_EXTERN int mp_val_loads(mp_val **out, const void *data, size_t len,
                           const mp_val_limits *lim);

/** mp_val_loads of a buffer received from any transport (mp_conn_recv,
 * mp_queue_get, mp_result_get, mp_imap_next), with the default limits. */
MP_EXTERN int mp_buf_val(const mp_buf *buf, mp_val **out);

#ifdef __cplusplus
}
#endif
#endif
