/* The decoder of the blob a spawned child receives (spawn.c), in a header
 * of its own: its fuzzer (tests/fuzz/fuzz_spawn_blob.c) reaches it without
 * the runtime's headers. */
#ifndef MP_COMMON_SPAWN_BLOB_H
#define MP_COMMON_SPAWN_BLOB_H

#include <stdbool.h>

#include "base/codec.h"
#include "mproc/process.h"

/* Decodes the head of a spawn blob (what comes before the arguments): the
 * child's name (set as the current process's), the daemon flag, the
 * parent's pid and the target, found among the loaded modules, never
 * called. MP_EPROTO for bytes that are not a blob's head, MP_ETARGET. */
int mp__spawn_decode_head(mp__rbuf *r, bool *daemon, long *ppid,
                          mp_target *fn);

#endif
