/* POSIX backend, macOS: where a function is, across runs of one program,
 * found in dyld's list of loaded images (macOS has no dl_iterate_phdr).
 *
 * A function is named by its image ("" for the main program, else the
 * image's path), its offset from the image's Mach-O header, and the
 * image's identity: the LC_UUID the linker writes (else the file's size
 * and time), so that a rebuilt binary gives MP_ETARGET and never a jump
 * into other code. The load commands are read by common/macho.c, which
 * the tests run on every system; the dyld calls below are macOS's only. */
#include <mach-o/dyld.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "base/macho.h"
#include "os/os_proc.h"

/* Image i's identity: 'U' and its LC_UUID, else 'F' and its file's size
 * and time (as the ELF path does without a build id). */
static void image_ident(uint32_t i, uintptr_t addr, uint8_t *out,
                        uint32_t *len, bool *in_exec) {
    uint8_t uuid[16];
    bool has_uuid;
    const void *h = _dyld_get_image_header(i);
    if (mp__macho_scan(h, (uintptr_t)_dyld_get_image_vmaddr_slide(i), addr,
                       uuid, &has_uuid, in_exec) == 0 &&
        has_uuid) {
        out[0] = 'U';
        memcpy(out + 1, uuid, 16);
        *len = 17;
        return;
    }
    struct stat st;
    const char *path = _dyld_get_image_name(i);
    memset(out, 0, 17);
    out[0] = 'F';
    if (path && stat(path, &st) == 0) {
        uint64_t v[2] = {(uint64_t)st.st_size, (uint64_t)st.st_mtime};
        memcpy(out + 1, v, sizeof v);
    }
    *len = 17;
}

/* Image 0 is the main program. */
static const char *image_module(uint32_t i) {
    const char *n = i ? _dyld_get_image_name(i) : "";
    return n ? n : "";
}

int mp__os_fn_locate(const void *fn, mp__fnloc *loc) {
    memset(loc, 0, sizeof *loc);
    uint32_t n = _dyld_image_count();
    for (uint32_t i = 0; i < n; i++) {
        bool in_exec;
        uintptr_t base = (uintptr_t)_dyld_get_image_header(i);
        image_ident(i, (uintptr_t)fn, loc->ident, &loc->ident_len, &in_exec);
        if (!base || !in_exec)
            continue;
        const char *m = image_module(i);
        if (strlen(m) >= sizeof loc->module)
            return MP_ETARGET;
        strcpy(loc->module, m);
        loc->offset = (uintptr_t)fn - base;
        return 0;
    }
    memset(loc, 0, sizeof *loc);
    return MP_ETARGET;
}

int mp__os_fn_resolve(const mp__fnloc *loc, void **fn) {
    uint32_t n = _dyld_image_count();
    for (uint32_t i = 0; i < n; i++) {
        if (strcmp(image_module(i), loc->module) != 0)
            continue;
        uintptr_t base = (uintptr_t)_dyld_get_image_header(i);
        uintptr_t addr = base + (uintptr_t)loc->offset;
        uint8_t ident[MP__IDENT_MAX];
        uint32_t len = 0;
        bool in_exec;
        image_ident(i, addr, ident, &len, &in_exec);
        if (!base || !in_exec || len != loc->ident_len ||
            memcmp(ident, loc->ident, len) != 0)
            return MP_ETARGET;
        *fn = (void *)addr;
        return 0;
    }
    return MP_ETARGET;
}
