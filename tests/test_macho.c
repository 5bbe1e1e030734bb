/* The Mach-O reading that names a function on macOS (common/macho.c), run
 * on every system over images built in memory: the UUID is found, an
 * address is in an executable segment only where one is (slide applied),
 * and malformed headers are refused, never read past. */
#include <stdint.h>
#include <string.h>

#include "base/macho.h"
#include "testutil.h"

/* Little-endian stores into an image being built. */
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, sizeof v); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, sizeof v); }

/* A 64-bit image as ld64 lays out a program: __PAGEZERO (no access),
 * __TEXT (read + execute) at 0x100000000 for 0x4000 bytes, __DATA (read
 * + write), and an LC_UUID. Returns its size. */
static size_t build_image(uint8_t *img, const uint8_t uuid[16],
                          bool with_uuid) {
    memset(img, 0, 512);
    uint8_t *lc = img + 32;
    uint32_t ncmds = 0;
    struct {
        const char *name;
        uint64_t vmaddr, vmsize;
        uint32_t prot;
    } segs[3] = {{"__PAGEZERO", 0, 0x100000000u, 0},
                 {"__TEXT", 0x100000000u, 0x4000, 5},
                 {"__DATA", 0x100004000u, 0x4000, 3}};
    for (int i = 0; i < 3; i++) {
        put32(lc, 0x19);   /* LC_SEGMENT_64 */
        put32(lc + 4, 72); /* cmdsize, no sections */
        memcpy(lc + 8, segs[i].name, strlen(segs[i].name));
        put64(lc + 24, segs[i].vmaddr);
        put64(lc + 32, segs[i].vmsize);
        put32(lc + 56, segs[i].prot); /* maxprot */
        put32(lc + 60, segs[i].prot); /* initprot */
        lc += 72;
        ncmds++;
    }
    if (with_uuid) {
        put32(lc, 0x1b); /* LC_UUID */
        put32(lc + 4, 24);
        memcpy(lc + 8, uuid, 16);
        lc += 24;
        ncmds++;
    }
    put32(img, 0xfeedfacfu);    /* MH_MAGIC_64 */
    put32(img + 4, 0x01000007); /* x86_64 */
    put32(img + 12, 2);         /* MH_EXECUTE */
    put32(img + 16, ncmds);
    put32(img + 20, (uint32_t)(lc - img - 32));
    return (size_t)(lc - img);
}

/* The scan finds an image's UUID (or says it has none) and tells whether an
 * address, slide applied, lies in an executable segment, up to the last byte
 * of __TEXT and not in __DATA or __PAGEZERO. */
static void test_scan(void) {
    static const uint8_t uuid[16] = {0xde, 0xad, 0xbe, 0xef, 1, 2,  3,  4,
                                     5,    6,    7,    8,    9, 10, 11, 12};
    uint8_t img[512], got[16];
    bool has_uuid, in_exec;
    build_image(img, uuid, true);
    const uintptr_t slide = 0x7000;
    MP_CHECK_OK(mp__macho_scan(img, slide, 0x100000000u + slide + 0x10, got,
                               &has_uuid, &in_exec));
    CU_ASSERT(has_uuid);
    CU_ASSERT(memcmp(got, uuid, 16) == 0);
    CU_ASSERT(in_exec);
    /* The last byte of __TEXT, and the first past it (in __DATA). */
    MP_CHECK_OK(mp__macho_scan(img, slide, 0x100003fffu + slide, got,
                               &has_uuid, &in_exec));
    CU_ASSERT(in_exec);
    MP_CHECK_OK(mp__macho_scan(img, slide, 0x100004000u + slide, got,
                               &has_uuid, &in_exec));
    CU_ASSERT(!in_exec);
    /* Without the slide the address is elsewhere; __PAGEZERO is not code. */
    MP_CHECK_OK(mp__macho_scan(img, 0, 0x100000000u + slide + 0x4000, got,
                               &has_uuid, &in_exec));
    CU_ASSERT(!in_exec);
    MP_CHECK_OK(mp__macho_scan(img, slide, 0x1000, got, &has_uuid, &in_exec));
    CU_ASSERT(!in_exec);
    /* No LC_UUID: said so (the caller then names the file instead). */
    build_image(img, uuid, false);
    MP_CHECK_OK(
        mp__macho_scan(img, 0, 0x100000010u, got, &has_uuid, &in_exec));
    CU_ASSERT(!has_uuid);
    CU_ASSERT(in_exec);
}

/* A NULL image, a 32-bit or foreign magic, a load command longer than the
 * declared size or shorter than its own header, and more commands than the
 * size holds are all MP_EPROTO, never read past. */
static void test_malformed(void) {
    static const uint8_t uuid[16] = {0};
    uint8_t img[512], got[16];
    bool has_uuid = true, in_exec = true;
    MP_CHECK_RC(mp__macho_scan(NULL, 0, 0, got, &has_uuid, &in_exec),
                MP_EPROTO);
    CU_ASSERT(!has_uuid && !in_exec);
    size_t n = build_image(img, uuid, true);
    CU_ASSERT(n < sizeof img);
    /* A 32-bit or foreign magic. */
    put32(img, 0xfeedfaceu);
    MP_CHECK_RC(mp__macho_scan(img, 0, 0, got, &has_uuid, &in_exec),
                MP_EPROTO);
    build_image(img, uuid, true);
    /* A command longer than the commands' declared size. */
    put32(img + 32 + 4, 4096);
    MP_CHECK_RC(mp__macho_scan(img, 0, 0, got, &has_uuid, &in_exec),
                MP_EPROTO);
    build_image(img, uuid, true);
    /* A command shorter than its own header (would loop forever). */
    put32(img + 32 + 4, 0);
    MP_CHECK_RC(mp__macho_scan(img, 0, 0, got, &has_uuid, &in_exec),
                MP_EPROTO);
    build_image(img, uuid, true);
    /* More commands counted than the declared size holds. */
    put32(img + 16, 9);
    MP_CHECK_RC(mp__macho_scan(img, 0, 0, got, &has_uuid, &in_exec),
                MP_EPROTO);
}

void mp_test_suite_macho(void) {
    const mp_test_runs once = MP_TEST_ONCE;
    MP_TEST_SUITE("macho", {"scan", test_scan, once},
                  {"malformed", test_malformed, once});
}
