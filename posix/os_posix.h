/* Helpers shared by the POSIX backend's files. */
#ifndef MP_POSIX_OS_POSIX_H
#define MP_POSIX_OS_POSIX_H

/* errno -> MP_E*. */
int mp__posix_err(int e);

#endif
