/* Mach-O images, as macOS loads them: the identity and the executable
 * segments of an image, read from its header in memory (macho.c). The
 * macOS backend (posix/sys/darwin/os_macho.c) names a function by image,
 * offset and this identity; nothing here calls macOS. */
#ifndef MP_COMMON_MACHO_H
#define MP_COMMON_MACHO_H

#include <stdbool.h>
#include <stdint.h>

/* Reads a 64-bit Mach-O image's load commands: its LC_UUID when it has one
 * (*has_uuid), and whether addr falls in one of its executable segments
 * once loaded with `slide` (*in_exec). MP_EPROTO when the header is not a
 * 64-bit Mach-O one or its commands run past their declared size. */
int mp__macho_scan(const void *header, uintptr_t slide, uintptr_t addr,
                   uint8_t uuid[16], bool *has_uuid, bool *in_exec);

#endif
