/* POSIX backend, macOS and the BSDs: who is at the other end of a local
 * socket (getpeereid: the effective user it had at connect or listen). */
#include <sys/types.h>
#include <unistd.h>

#include "os_posix.h"

bool mp__posix_peer_ok(int fd) {
    uid_t uid;
    gid_t gid;
    if (getpeereid(fd, &uid, &gid) == -1)
        return false;
    return uid == geteuid() || uid == 0;
}
