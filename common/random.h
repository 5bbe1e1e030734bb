/* Random bytes for unguessable names and authentication challenges. */
#ifndef MP_COMMON_RANDOM_H
#define MP_COMMON_RANDOM_H

#include <stddef.h>

/* n random bytes from the platform's crypto library (mp__os_random):
 * 0 or MP_ESYS. */
int mp__random(void *out, size_t n);

/* 32 random hex digits and a NUL: 128 bits for an unguessable name. */
int mp__random_token(char out[33]);

#endif
