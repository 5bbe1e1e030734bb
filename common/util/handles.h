/* The OS handles a blob refers to, by index: a spawned child's argument
 * blob names each handle by its place in the list that travels beside it
 * (spawn.c), whatever kind of object the handle belongs to. */
#ifndef MP_COMMON_HANDLES_H
#define MP_COMMON_HANDLES_H

#include <stddef.h>

#include "base/codec.h"
#include "os/os_base.h"

typedef struct mp__handles {
    mp__handle *v;
    size_t n, cap;
} mp__handles;

/* Appends h and writes its index into w (a failed append sets w->err). */
void mp__handles_put(mp__handles *hs, mp__wbuf *w, mp__handle h);
/* Reads an index from r and returns the handle it names (MP_EPROTO when out
 * of range or already taken: each handle is taken once). */
int mp__handles_take(mp__rbuf *r, mp__handle *hs, size_t nh, mp__handle *out);
void mp__handles_free(mp__handles *hs);

#endif
