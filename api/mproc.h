/** @file
 * mproc: Python's multiprocessing for C.
 *
 * The umbrella header: include this one. Call mp_init(&argc, &argv) first
 * in main(). Every function returns 0 or a negative MP_E* code unless its
 * comment says otherwise. */
#ifndef MPROC_H
#define MPROC_H

#include "mproc/core.h"
#include "mproc/args.h"
#include "mproc/process.h"
#include "mproc/connection.h"
#include "mproc/queue.h"
#include "mproc/pool.h"
#include "mproc/sync.h"
#include "mproc/shared.h"
#include "mproc/value.h"

#endif
