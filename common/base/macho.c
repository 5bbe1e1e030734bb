/* Reading a loaded Mach-O image's load commands (macho.h). Plain byte
 * parsing with the format's own constants, compiled on every system so
 * that the tests run it everywhere over headers built in memory
 * (tests/test_macho.c); posix/sys/darwin/os_macho.c feeds it dyld's images
 * on macOS. */
#include <string.h>

#include "base/macho.h"
#include "mproc/core.h"

/* The Mach-O constants used here, as <mach-o/loader.h> defines them. */
#define MACHO_MAGIC_64 0xfeedfacfu
#define MACHO_HEADER_64 32u /* sizeof(struct mach_header_64) */
#define LC_SEGMENT_64_CMD 0x19u
#define LC_UUID_CMD 0x1bu
#define VM_PROT_EXEC 0x4u
/* struct segment_command_64: cmd, cmdsize, segname[16], vmaddr, vmsize,
 * fileoff, filesize, maxprot, initprot, nsects, flags. */
#define SEG_VMADDR 24u
#define SEG_VMSIZE 32u
#define SEG_INITPROT 60u
#define SEG_SIZE 72u
#define UUID_AT 8u /* struct uuid_command: cmd, cmdsize, uuid[16] */

static uint32_t rd32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t rd64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

int mp__macho_scan(const void *header, uintptr_t slide, uintptr_t addr,
                   uint8_t uuid[16], bool *has_uuid, bool *in_exec) {
    const uint8_t *h = header;
    *has_uuid = *in_exec = false;
    if (!h || rd32(h) != MACHO_MAGIC_64)
        return MP_EPROTO;
    uint32_t ncmds = rd32(h + 16), size = rd32(h + 20);
    const uint8_t *lc = h + MACHO_HEADER_64, *end = lc + size;
    for (uint32_t i = 0; i < ncmds; i++) {
        if (end - lc < 8)
            return MP_EPROTO;
        uint32_t cmd = rd32(lc), cmdsize = rd32(lc + 4);
        if (cmdsize < 8 || cmdsize > (size_t)(end - lc))
            return MP_EPROTO;
        if (cmd == LC_UUID_CMD && cmdsize >= UUID_AT + 16) {
            memcpy(uuid, lc + UUID_AT, 16);
            *has_uuid = true;
        } else if (cmd == LC_SEGMENT_64_CMD && cmdsize >= SEG_SIZE &&
                   (rd32(lc + SEG_INITPROT) & VM_PROT_EXEC)) {
            uintptr_t lo = (uintptr_t)rd64(lc + SEG_VMADDR) + slide;
            uint64_t len = rd64(lc + SEG_VMSIZE);
            if (addr >= lo && addr - lo < len)
                *in_exec = true;
        }
        lc += cmdsize;
    }
    return 0;
}
