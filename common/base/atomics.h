/* Atomics: the one file that knows how they are spelled. Every other file
 * declares atomic fields as MP__ATOMIC(T) and uses the functions below,
 * with the memory orders the code needs and no others. The other compiler
 * spellings that lock-free code needs, thread-local storage (MP__TLS) and
 * the spin-wait hint (mp__cpu_relax), are here too, at the end.
 *
 * Three implementations, chosen by compiler (or forced with the CMake
 * option MPROC_ATOMICS, so that each is built and tested here):
 * - C11 <stdatomic.h> (MP__ATOMICS_C11), where the compiler has it;
 * - the GCC / Clang __atomic builtins (MP__ATOMICS_BUILTIN);
 * - MSVC's Interlocked intrinsics (MP__ATOMICS_INTERLOCKED): MSVC's
 *   <stdatomic.h> is an #error without /experimental:c11atomics, and
 *   __STDC_NO_ATOMICS__ stays defined even with it.
 *
 * Shared memory holds these fields and other processes of the same
 * program read them, so each implementation must give a field the size
 * and alignment of its plain type: all three do for the widths here. */
#ifndef MP_COMMON_ATOMICS_H
#define MP_COMMON_ATOMICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(MP_ATOMICS_FORCE_INTERLOCKED)
#define MP__ATOMICS_INTERLOCKED 1
#elif defined(MP_ATOMICS_FORCE_BUILTIN)
#define MP__ATOMICS_BUILTIN 1
#elif defined(MP_ATOMICS_FORCE_C11)
#define MP__ATOMICS_C11 1
#elif defined(_MSC_VER) && !defined(__clang__)
#define MP__ATOMICS_INTERLOCKED 1
#elif !defined(__STDC_NO_ATOMICS__) && !defined(__cplusplus)
#define MP__ATOMICS_C11 1
#elif defined(__GNUC__) || defined(__clang__)
#define MP__ATOMICS_BUILTIN 1
#elif defined(_WIN32)
#define MP__ATOMICS_INTERLOCKED 1
#else
#error "mproc needs C11 atomics, GCC/Clang __atomic builtins or MSVC"
#endif

/* The orders in use. */
typedef enum mp__order {
    MP__RELAXED,
    MP__ACQUIRE,
    MP__RELEASE,
    MP__ACQ_REL,
    MP__SEQ_CST
} mp__order;

#if MP__ATOMICS_C11
#include <stdatomic.h>
#define MP__ATOMIC(T) _Atomic T
static inline memory_order mp__mo(mp__order o) {
    static const memory_order m[] = {
        memory_order_relaxed, memory_order_acquire, memory_order_release,
        memory_order_acq_rel, memory_order_seq_cst};
    return m[o];
}
/* Loads may not use release orders (nor stores acquire ones): callers pass
 * what the operation allows, as C11 requires. */
#define MP__LOAD(p, o) atomic_load_explicit(p, mp__mo(o))
#define MP__STORE(p, v, o) atomic_store_explicit(p, v, mp__mo(o))
#define MP__FETCH_ADD(p, v, o) atomic_fetch_add_explicit(p, v, mp__mo(o))
#define MP__FETCH_SUB(p, v, o) atomic_fetch_sub_explicit(p, v, mp__mo(o))
#define MP__EXCHANGE(p, v, o) atomic_exchange_explicit(p, v, mp__mo(o))
#define MP__CAS(p, e, d, o)                                                   \
    atomic_compare_exchange_strong_explicit(                                  \
        p, e, d, mp__mo(o),                                                   \
        (o) == MP__ACQ_REL || (o) == MP__ACQUIRE ? memory_order_acquire       \
        : (o) == MP__SEQ_CST                     ? memory_order_seq_cst       \
                                                 : memory_order_relaxed)
#define MP__COMPILER_BARRIER() atomic_signal_fence(memory_order_seq_cst)

#elif MP__ATOMICS_BUILTIN
#define MP__ATOMIC(T) volatile T
static inline int mp__mo(mp__order o) {
    static const int m[] = {__ATOMIC_RELAXED, __ATOMIC_ACQUIRE,
                            __ATOMIC_RELEASE, __ATOMIC_ACQ_REL,
                            __ATOMIC_SEQ_CST};
    return m[o];
}
#define MP__LOAD(p, o) __atomic_load_n(p, mp__mo(o))
#define MP__STORE(p, v, o) __atomic_store_n(p, v, mp__mo(o))
#define MP__FETCH_ADD(p, v, o) __atomic_fetch_add(p, v, mp__mo(o))
#define MP__FETCH_SUB(p, v, o) __atomic_fetch_sub(p, v, mp__mo(o))
#define MP__EXCHANGE(p, v, o) __atomic_exchange_n(p, v, mp__mo(o))
#define MP__CAS(p, e, d, o)                                                   \
    __atomic_compare_exchange_n(p, e, d, false, mp__mo(o),                    \
                                (o) == MP__ACQ_REL || (o) == MP__ACQUIRE      \
                                    ? __ATOMIC_ACQUIRE                        \
                                : (o) == MP__SEQ_CST ? __ATOMIC_SEQ_CST       \
                                                     : __ATOMIC_RELAXED)
#define MP__COMPILER_BARRIER() __atomic_signal_fence(__ATOMIC_SEQ_CST)

#else /* MP__ATOMICS_INTERLOCKED */
#include <intrin.h>
#define MP__ATOMIC(T) volatile T
/* x86 and x64 order plain loads and stores as acquire and release; a
 * compiler barrier keeps the compiler from moving them. A sequentially
 * consistent store is an exchange. Elsewhere (ARM64) loads and stores go
 * through interlocked operations, which are full barriers. */
#if defined(_M_IX86) || defined(_M_X64) || defined(__i386__) ||               \
    defined(__x86_64__)
#define MP__TSO 1
#else
#define MP__TSO 0
#endif
#define MP__COMPILER_BARRIER() _ReadWriteBarrier()
#endif

/* ---- the operations, per width ----
 * mp__load<W>, mp__store<W>, mp__fetch_add<W>, mp__exchange<W> and
 * mp__cas<W> (strong; on failure *expected gets the value seen) for 32
 * and 64 bits; loads and stores only for 8 and 16 bits (a Value of a
 * 1- or 2-byte type). */

#if MP__ATOMICS_INTERLOCKED
/* A full barrier: an interlocked operation on a word of our own. */
static inline void mp__full_fence(void) {
    static volatile long word;
    (void)_InterlockedExchangeAdd(&word, 0);
}
/* What differs between x86/x64 and the rest, chosen by the preprocessor:
 * a test of the constant MP__TSO would be MSVC's warning C4127 at /W4.
 * MP__IL_LOAD is the body of a load from p; MP__IL_WEAK_FENCE fences only
 * where plain accesses are not ordered; mp__il_plain_store says whether a
 * store of order o may be a plain store. */
#if MP__TSO
#define MP__IL_LOAD(T, IT, SFX)                                               \
    T v = *p;                                                                 \
    _ReadWriteBarrier();                                                      \
    return v;
#define MP__IL_WEAK_FENCE() ((void)0)
static inline bool mp__il_plain_store(mp__order o) { return o != MP__SEQ_CST; }
#else
#define MP__IL_LOAD(T, IT, SFX)                                               \
    return (T)_InterlockedCompareExchange##SFX((volatile IT *)p, 0, 0);
#define MP__IL_WEAK_FENCE() mp__full_fence()
static inline bool mp__il_plain_store(mp__order o) {
    (void)o;
    return false;
}
#endif
#define MP__IL_OPS(W, T, IT, SFX)                                             \
    static inline T mp__load##W(const volatile T *p, mp__order o) {           \
        (void)o;                                                              \
        MP__IL_LOAD(T, IT, SFX)                                               \
    }                                                                         \
    static inline void mp__store##W(volatile T *p, T v, mp__order o) {        \
        if (mp__il_plain_store(o)) {                                          \
            _ReadWriteBarrier();                                              \
            *p = v;                                                           \
            return;                                                           \
        }                                                                     \
        (void)_InterlockedExchange##SFX((volatile IT *)p, (IT)v);             \
    }                                                                         \
    static inline T mp__fetch_add##W(volatile T *p, T v, mp__order o) {       \
        (void)o;                                                              \
        return (T)_InterlockedExchangeAdd##SFX((volatile IT *)p, (IT)v);      \
    }                                                                         \
    static inline T mp__exchange##W(volatile T *p, T v, mp__order o) {        \
        (void)o;                                                              \
        return (T)_InterlockedExchange##SFX((volatile IT *)p, (IT)v);         \
    }                                                                         \
    static inline bool mp__cas##W(volatile T *p, T *expected, T desired,      \
                                  mp__order o) {                              \
        (void)o;                                                              \
        T old = (T)_InterlockedCompareExchange##SFX(                          \
            (volatile IT *)p, (IT)desired, (IT)*expected);                    \
        bool ok = old == *expected;                                           \
        *expected = old;                                                      \
        return ok;                                                            \
    }
MP__IL_OPS(32, uint32_t, long, )
MP__IL_OPS(64, uint64_t, long long, 64)
#undef MP__IL_OPS
#define MP__IL_NARROW(W, T)                                                   \
    static inline T mp__load##W(const volatile T *p, mp__order o) {           \
        (void)o;                                                              \
        T v = *p;                                                             \
        MP__IL_WEAK_FENCE();                                                  \
        _ReadWriteBarrier();                                                  \
        return v;                                                             \
    }                                                                         \
    static inline void mp__store##W(volatile T *p, T v, mp__order o) {        \
        MP__IL_WEAK_FENCE();                                                  \
        _ReadWriteBarrier();                                                  \
        *p = v;                                                               \
        if (!mp__il_plain_store(o))                                           \
            mp__full_fence();                                                 \
    }
MP__IL_NARROW(8, uint8_t)
MP__IL_NARROW(16, uint16_t)
#undef MP__IL_NARROW
#undef MP__IL_LOAD
#undef MP__IL_WEAK_FENCE

#else
#define MP__LOADSTORE(W, T)                                                   \
    static inline T mp__load##W(const MP__ATOMIC(T) * p, mp__order o) {       \
        return MP__LOAD((MP__ATOMIC(T) *)p, o);                               \
    }                                                                         \
    static inline void mp__store##W(MP__ATOMIC(T) * p, T v, mp__order o) {    \
        MP__STORE(p, v, o);                                                   \
    }
#define MP__RMW(W, T)                                                         \
    static inline T mp__fetch_add##W(MP__ATOMIC(T) * p, T v, mp__order o) {   \
        return MP__FETCH_ADD(p, v, o);                                        \
    }                                                                         \
    static inline T mp__exchange##W(MP__ATOMIC(T) * p, T v, mp__order o) {    \
        return MP__EXCHANGE(p, v, o);                                         \
    }                                                                         \
    static inline bool mp__cas##W(MP__ATOMIC(T) * p, T * expected, T desired, \
                                  mp__order o) {                              \
        return MP__CAS(p, expected, desired, o);                              \
    }
MP__LOADSTORE(8, uint8_t)
MP__LOADSTORE(16, uint16_t)
MP__LOADSTORE(32, uint32_t)
MP__LOADSTORE(64, uint64_t)
MP__RMW(32, uint32_t)
MP__RMW(64, uint64_t)
#undef MP__LOADSTORE
#undef MP__RMW
#endif

/* Narrow additions (mp_value_add on a 1- or 2-byte Value). */
#if MP__ATOMICS_INTERLOCKED
/* Not every toolchain has the 8- and 16-bit intrinsics: a compare-and-swap
 * of the aligned 32-bit word holding the field (Windows is little-endian),
 * which leaves the word's other bytes as they are. */
static inline uint32_t mp__fetch_add_narrow(volatile void *p, unsigned bits,
                                            uint32_t v) {
    uintptr_t a = (uintptr_t)p;
    volatile uint32_t *w = (volatile uint32_t *)(a & ~(uintptr_t)3);
    unsigned shift = (unsigned)(a & 3) * 8;
    uint32_t mask = (bits == 8 ? 0xffu : 0xffffu) << shift;
    uint32_t old = mp__load32(w, MP__RELAXED);
    for (;;) {
        uint32_t field = (old & mask) >> shift;
        uint32_t next = (old & ~mask) | (((field + v) << shift) & mask);
        if (mp__cas32(w, &old, next, MP__SEQ_CST))
            return field;
    }
}
static inline uint8_t mp__fetch_add8(volatile uint8_t *p, uint8_t v,
                                     mp__order o) {
    (void)o;
    return (uint8_t)mp__fetch_add_narrow(p, 8, v);
}
static inline uint16_t mp__fetch_add16(volatile uint16_t *p, uint16_t v,
                                       mp__order o) {
    (void)o;
    return (uint16_t)mp__fetch_add_narrow(p, 16, v);
}
#else
static inline uint8_t mp__fetch_add8(MP__ATOMIC(uint8_t) * p, uint8_t v,
                                     mp__order o) {
    return MP__FETCH_ADD(p, v, o);
}
static inline uint16_t mp__fetch_add16(MP__ATOMIC(uint16_t) * p, uint16_t v,
                                       mp__order o) {
    return MP__FETCH_ADD(p, v, o);
}
#endif

/* Pointers: a field of type mp__atomic_ptr holds a void * (callers convert
 * to and from their own pointer type); mp__loadp, mp__storep, mp__exchangep
 * and mp__casp work as the integer operations do. Process-local only:
 * addresses mean nothing in another process. */
#if MP__ATOMICS_C11
typedef _Atomic(void *) mp__atomic_ptr;
#else
typedef void *volatile mp__atomic_ptr;
#endif
#if MP__ATOMICS_INTERLOCKED
static inline void *mp__loadp(const mp__atomic_ptr *p, mp__order o) {
    (void)o;
#if MP__TSO
    void *v = *p;
    _ReadWriteBarrier();
    return v;
#else
    return _InterlockedCompareExchangePointer((void *volatile *)p, NULL, NULL);
#endif
}
static inline void mp__storep(mp__atomic_ptr *p, void *v, mp__order o) {
    if (mp__il_plain_store(o)) {
        _ReadWriteBarrier();
        *p = v;
        return;
    }
    (void)_InterlockedExchangePointer(p, v);
}
static inline void *mp__exchangep(mp__atomic_ptr *p, void *v, mp__order o) {
    (void)o;
    return _InterlockedExchangePointer(p, v);
}
static inline bool mp__casp(mp__atomic_ptr *p, void **expected, void *desired,
                            mp__order o) {
    (void)o;
    void *old = _InterlockedCompareExchangePointer(p, desired, *expected);
    bool ok = old == *expected;
    *expected = old;
    return ok;
}
#else
static inline void *mp__loadp(const mp__atomic_ptr *p, mp__order o) {
    return MP__LOAD((mp__atomic_ptr *)p, o);
}
static inline void mp__storep(mp__atomic_ptr *p, void *v, mp__order o) {
    MP__STORE(p, v, o);
}
static inline void *mp__exchangep(mp__atomic_ptr *p, void *v, mp__order o) {
    return MP__EXCHANGE(p, v, o);
}
static inline bool mp__casp(mp__atomic_ptr *p, void **expected, void *desired,
                            mp__order o) {
    return MP__CAS(p, expected, desired, o);
}
#endif

/* Subtraction, as an addition modulo 2^W. */
static inline uint32_t mp__fetch_sub32(MP__ATOMIC(uint32_t) * p, uint32_t v,
                                       mp__order o) {
    return mp__fetch_add32(p, (uint32_t)0 - v, o);
}
static inline uint64_t mp__fetch_sub64(MP__ATOMIC(uint64_t) * p, uint64_t v,
                                       mp__order o) {
    return mp__fetch_add64(p, (uint64_t)0 - v, o);
}

/* ---- the compiler's other spellings that lock-free code needs ---- */

/* Our few thread-locals use the initial-exec model on ELF: a shared build
 * then reads them from the thread pointer instead of calling
 * __tls_get_addr on every lock operation. */
#if defined(__ELF__)
#define MP__TLS _Thread_local __attribute__((tls_model("initial-exec")))
#elif defined(_MSC_VER)
/* MSVC's C11 mode leaves _Thread_local out; its own spelling is sure. */
#define MP__TLS __declspec(thread)
#else
#define MP__TLS _Thread_local
#endif

/* A spin-wait hint to the CPU (a compiler barrier where there is none). */
static inline void mp__cpu_relax(void) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_ia32_pause();
#elif defined(__GNUC__) && defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#elif defined(__GNUC__)
    __asm__ __volatile__("" ::: "memory");
#endif
}

#endif
