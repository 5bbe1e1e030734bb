/* os layer, shared memory: mappings that several processes see.
 * Implemented by posix/os_shm.c (memfd / shm_open + mmap) and
 * win32/os_shm.c (pagefile-backed file mappings).
 *
 * A named mapping is made in two steps so that a creator killed half-way
 * never blocks its name: mp__os_shm_create returns holding a creation
 * guard, and mp__os_shm_publish writes the mapping's first 32-bit word
 * (non-zero) and drops the guard. A mapping whose first word is still 0 is
 * unpublished: openers wait for it while its creator lives, and once the
 * creator is known dead (its guard was released by its death) the next
 * create takes it over in place. No timing is involved in that decision:
 * the guard is a kernel lock (POSIX flock, a Win32 mutex) that dies with
 * its holder. */
#ifndef MP_COMMON_OS_SHM_H
#define MP_COMMON_OS_SHM_H

#include "os/os_base.h"

typedef struct mp__shm {
    void *addr;
    size_t size;
    mp__handle h;     /* what a spawned child needs to map it (fd / HANDLE) */
    mp__handle guard; /* a named creation's guard, until published */
} mp__shm;

/* Creates a zero-filled shared mapping of `size` bytes. name NULL:
 * anonymous (fork shares it; spawn passes `h`), nothing to publish. name
 * set: a named mapping, private to the user (0600 / owner-only DACL), that
 * unrelated processes open with mp__os_shm_open once it is published;
 * MP_EEXIST if a published one, or one whose creator is alive, exists. An
 * unpublished one whose creator died is taken over: resized, zeroed and
 * returned as if created. */
int mp__os_shm_create(mp__shm *s, size_t size, const char *name);

/* Publishes a named mapping made by mp__os_shm_create: stores word (non-0)
 * in its first 32 bits with release order and drops the creation guard. */
void mp__os_shm_publish(mp__shm *s, uint32_t word);

/* Opens a published named mapping, without waiting: MP_EAGAIN (nothing
 * kept open) while its creator is still making it, MP_ENOENT when there is
 * none, or when its creator died before publishing it (a create then takes
 * it over). The wait for a creator is the caller's (common/shobj.c). */
int mp__os_shm_open(mp__shm *s, const char *name);

/* Maps, in a spawned child, a mapping received as handle h (takes h). */
int mp__os_shm_import(mp__shm *s, mp__handle h, size_t size);

/* Removes a name (the mapping lives on while mapped). No-op where names
 * vanish with their last handle (Windows). */
int mp__os_shm_unlink(const char *name);

/* Unmaps and closes (dropping a guard still held: an unpublished mapping is
 * then left for the next create to take over). */
void mp__os_shm_close(mp__shm *s);

/* ---- segments: named mappings that outlive their holders ----
 * A named mapping above lives, on Windows, only while a process holds it,
 * so what must survive its maker (a queue's segments: items a producer
 * put and then died) lives in a segment instead: a named mapping, private
 * to the user like the others, that stays with nobody holding it until
 * its name is removed, as /dev/shm does on POSIX (where segments are those
 * same mappings). Windows backs them with files of FILE_ATTRIBUTE_TEMPORARY
 * in the user's private directory (mp__win32_user_dir). A segment has no
 * creation guard: its callers keep two makers of a name apart (a queue's
 * producers hold their mutex), and remove what a killed maker left. It is
 * published and closed with mp__os_shm_publish and mp__os_shm_close. */

/* Creates a zero-filled segment of `size` bytes: MP_EEXIST when the name
 * exists (POSIX: also while a live creator makes it, os_shm_create). */
int mp__os_seg_create(mp__shm *s, size_t size, const char *name);

/* Opens a published segment: MP_ENOENT when there is none, MP_EAGAIN
 * (nothing kept open) while it is unpublished. */
int mp__os_seg_open(mp__shm *s, const char *name);

/* Removes a segment's name; those who have it mapped keep it. */
int mp__os_seg_unlink(const char *name);

/* ---- reclaiming names whose users are dead ----
 * A named mapping records which processes hold its name (common/shobj.c);
 * a name whose holders are all dead is removed by the next create or open
 * of it, by its last live user's close, or by a sweep. These say who is
 * alive and keep two processes from removing the same name. */

/* This process as a user of named mappings: never 0, and never what an
 * earlier process of the same pid was (pid and a token of its start time;
 * POSIX: os_posix.h). */
uint64_t mp__os_user_self(void);

/* Whether the process `user` (another process's mp__os_user_self) is gone.
 * One that cannot be probed counts as alive. */
bool mp__os_user_dead(uint64_t user);

/* Takes the creation guard of the published named mapping s (opened as
 * `name`) and checks that `name` still leads to s: 0 (held until
 * mp__os_shm_unlock or mp__os_shm_close), MP_EAGAIN when another process
 * holds it until d (MP__DL_NOW: one try; a holder keeps it briefly, but
 * may be stopped), MP_ENOENT when the name was removed or leads to another
 * mapping. Windows: MP_ENOTSUP, nothing taken (names are never removed
 * there). */
int mp__os_shm_lock(mp__shm *s, const char *name, mp__deadline d);
void mp__os_shm_unlock(mp__shm *s);

/* A sweep: visits every named mapping of this user. A published one is
 * mapped (its first map_bytes bytes, fewer if it is smaller) into *s for
 * visit, which returns whether it removed the name; s is closed after. An
 * unpublished one whose creator died (nobody holds its guard) is removed
 * here. *removed counts both. Other users' names are never touched.
 * MP_ENOTSUP where the system cannot list them (macOS: no /dev/shm);
 * Windows: 0, nothing to visit (names vanish with their last handle). */
int mp__os_shm_each(size_t map_bytes, bool (*visit)(void *arg, mp__shm *s),
                    void *arg, size_t *removed);

#endif
