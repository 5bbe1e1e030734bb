/* os layer, shared memory: mappings that several processes see.
 * Implemented by posix/os_shm.c (memfd / shm_open + mmap) and
 * win32/os_shm.c (pagefile-backed file mappings). */
#ifndef MP_COMMON_OS_SHM_H
#define MP_COMMON_OS_SHM_H

#include "os.h"

typedef struct mp__shm {
    void *addr;
    size_t size;
    mp__handle h; /* what a spawned child needs to map it (fd / HANDLE) */
} mp__shm;

/* Creates a zero-filled shared mapping of `size` bytes. name NULL: anonymous
 * (fork shares it; spawn passes `h`). name set: a named object that unrelated
 * processes open with mp__os_shm_open, private to the user (0600 /
 * owner-only DACL); MP_EEXIST if it exists. */
int mp__os_shm_create(mp__shm *s, size_t size, const char *name);

/* Opens a named mapping created by another process (MP_ENOENT if absent). */
int mp__os_shm_open(mp__shm *s, const char *name);

/* Maps, in a spawned child, a mapping received as handle h (takes h). */
int mp__os_shm_import(mp__shm *s, mp__handle h, size_t size);

/* Removes a name (the mapping lives on while mapped). No-op where names
 * vanish with their last handle (Windows). */
int mp__os_shm_unlink(const char *name);

/* Unmaps and closes. */
void mp__os_shm_close(mp__shm *s);

#endif
