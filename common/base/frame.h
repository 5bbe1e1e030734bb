/* CPython's Connection framing on byte streams (Lib/multiprocessing/
 * connection.py, Connection._send_bytes / _recv_bytes): a 4-byte big-endian
 * signed length, or, for 2 GiB and more, -1 then an 8-byte big-endian
 * unsigned length. Used by the POSIX channels; fuzzed. */
#ifndef MP_COMMON_FRAME_H
#define MP_COMMON_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define MP__FRAME_HDR_MAX 12

/* Writes the header for a len-byte payload into out; returns its size. */
size_t mp__frame_header(uint8_t out[MP__FRAME_HDR_MAX], uint64_t len);

/* Parses the header at p[0..n). 0 with *len and *hlen (its size) set;
 * MP_EAGAIN when it is incomplete; MP_EPROTO for a negative length other
 * than -1. */
int mp__frame_parse(const uint8_t *p, size_t n, uint64_t *len, size_t *hlen);

#endif
