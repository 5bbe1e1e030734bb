/* The wire form of a function's location (module, offset in it, module
 * identity): how a target travels to a spawned child and a task's function
 * to a pool worker, so that a static function works with every start
 * method and a binary replaced on disk gives MP_ETARGET, not a jump into
 * garbage. Written with codec.h, like every other wire form. */
#ifndef MP_COMMON_FNLOC_H
#define MP_COMMON_FNLOC_H

#include "mproc/args.h"
#include "base/codec.h"

/* Appends where fn lives to w (check w->err at the end, as for every
 * writer). MP_ETARGET when fn is not in a loaded module, MP_ENOMEM. */
int mp__fnloc_write(mp__wbuf *w, mp_target fn);

/* Reads a location written by mp__fnloc_write and finds that function in
 * this process. MP_EPROTO for malformed bytes, MP_ETARGET when the module
 * is absent, is another build, or the offset is out of range; MP_ENOMEM. */
int mp__fnloc_read(mp__rbuf *r, mp_target *fn);

#endif
