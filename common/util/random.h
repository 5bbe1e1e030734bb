/* Random tokens for unguessable names; random bytes are mp__os_random
 * (os_crypto.h). */
#ifndef MP_COMMON_RANDOM_H
#define MP_COMMON_RANDOM_H

/* 32 random hex digits and a NUL: 128 bits for an unguessable name. */
int mp__random_token(char out[33]);

#endif
