/* POSIX backend, macOS and the BSDs: whether we run set-uid or set-gid
 * (issetugid, which also stays true after such a program drops its
 * rights). */
#include <unistd.h>

#include "os_posix.h"

bool mp__os_secure_exec(void) { return issetugid() != 0; }
