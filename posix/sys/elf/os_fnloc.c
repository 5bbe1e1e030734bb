/* POSIX backend, the ELF systems (Linux, the BSDs, musl included):
 * locating a function in another run of the same program. A function is
 * named by its module ("" for the main program), its offset from the
 * module's base and the module's identity, found by dl_iterate_phdr in
 * both processes. (macOS has no dl_iterate_phdr: sys/darwin/os_macho.c
 * reads dyld's image list.) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <elf.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "os/os_proc.h"

struct find_ctx {
    uintptr_t addr; /* locate: the address; resolve: the result */
    const mp__fnloc *want;
    mp__fnloc *loc;
    int rc;
    bool first;
};

/* The module's identity: its GNU build id, else the file's size and time. */
static void module_ident(struct dl_phdr_info *info, const char *path,
                         uint8_t *out, uint32_t *len) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *n = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = n + ph->p_memsz;
        while (n + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)n;
            size_t name_sz = (nh->n_namesz + 3) & ~(size_t)3;
            size_t desc_sz = (nh->n_descsz + 3) & ~(size_t)3;
            const uint8_t *desc = n + sizeof *nh + name_sz;
            if (desc + desc_sz > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                memcmp(n + sizeof *nh, "GNU", 4) == 0 &&
                nh->n_descsz + 1 <= MP__IDENT_MAX) {
                out[0] = 'B';
                memcpy(out + 1, desc, nh->n_descsz);
                *len = nh->n_descsz + 1;
                return;
            }
            n = desc + desc_sz;
        }
    }
    struct stat st;
    memset(out, 0, 17);
    out[0] = 'F';
    if (stat(path, &st) == 0) {
        uint64_t v[2] = {(uint64_t)st.st_size, (uint64_t)st.st_mtime};
        memcpy(out + 1, v, sizeof v);
    }
    *len = 17;
}

/* The module's span of loaded segments, and whether [off] is executable. */
static bool in_exec_segment(struct dl_phdr_info *info, uintptr_t addr) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && addr >= lo &&
            addr < lo + ph->p_memsz)
            return true;
    }
    return false;
}

static const char *module_path(struct dl_phdr_info *info, bool first) {
    return first || !info->dlpi_name[0] ? "/proc/self/exe" : info->dlpi_name;
}

static int locate_cb(struct dl_phdr_info *info, size_t size, void *data) {
    struct find_ctx *c = data;
    bool first = c->first;
    c->first = false;
    (void)size;
    if (!in_exec_segment(info, c->addr))
        return 0;
    snprintf(c->loc->module, sizeof c->loc->module, "%s",
             first ? "" : info->dlpi_name);
    c->loc->offset = c->addr - info->dlpi_addr;
    module_ident(info, module_path(info, first), c->loc->ident,
                 &c->loc->ident_len);
    c->rc = 0;
    return 1;
}

int mp__os_fn_locate(const void *fn, mp__fnloc *loc) {
    struct find_ctx c = {(uintptr_t)fn, NULL, loc, MP_ETARGET, true};
    memset(loc, 0, sizeof *loc);
    dl_iterate_phdr(locate_cb, &c);
    return c.rc;
}

static int resolve_cb(struct dl_phdr_info *info, size_t size, void *data) {
    struct find_ctx *c = data;
    bool first = c->first;
    c->first = false;
    (void)size;
    const char *name = first ? "" : info->dlpi_name;
    if (strcmp(name, c->want->module) != 0)
        return 0;
    uint8_t ident[MP__IDENT_MAX];
    uint32_t len = 0;
    module_ident(info, module_path(info, first), ident, &len);
    uintptr_t addr = info->dlpi_addr + (uintptr_t)c->want->offset;
    if (len == c->want->ident_len && memcmp(ident, c->want->ident, len) == 0 &&
        in_exec_segment(info, addr)) {
        c->addr = addr;
        c->rc = 0;
    }
    return 1;
}

int mp__os_fn_resolve(const mp__fnloc *loc, void **fn) {
    struct find_ctx c = {0, loc, NULL, MP_ETARGET, true};
    dl_iterate_phdr(resolve_cb, &c);
    if (c.rc == 0)
        *fn = (void *)c.addr;
    return c.rc;
}
