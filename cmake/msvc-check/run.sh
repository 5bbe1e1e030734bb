#!/usr/bin/env bash
# MSVC-mode compile check: no cl.exe runs here, so clang reads the sources
# as cl.exe would. Every .c file of common/ and win32/ (the library), every
# .c file of tests/ that the Windows build compiles (the test program and
# its helpers, as a static build's tests see them), and every public
# header of api/ (alone, as a C and as a C++ consumer of a
# static library and of a DLL) is compiled syntax-only with
#   clang --target=x86_64-pc-windows-msvc -fms-compatibility -fms-extensions
# against the mingw-w64 headers, with -Werror and
#   -Wall -Wextra -Wpedantic -Wmicrosoft -Wshadow -Wvla
# plus the deprecation warnings (C4996) MSVC raises on the CRT's "insecure"
# and POSIX-named functions, and clang's twins of MSVC's narrowing
# warnings (C4244, C4267: -Wshorten-64-to-32, -Wimplicit-int-conversion,
# -Wfloat-conversion) and of C4702 (-Wunreachable-code). common/base/atomics.h
# is also read for ARM64 Windows. Project code sees what it sees under cl.exe:
# _MSC_VER, no __GNUC__ and no __clang__, and a <stdatomic.h> that is an
# #error. The shim headers that make this work are in tests/msvc-shims/,
# each saying why it is there. mingw-w64's gcc -Wpedantic then reads the
# library's files once more for what clang misses (C4152, below).
#
#   cmake/msvc-check/run.sh [MINGW_DEPS]   (default: $PWD/build/mingw-deps)
#
# MINGW_DEPS is the prefix cmake/mingw/build-deps.sh fills (APR's headers).
# Environment: CLANG (default clang), MINGW_GCC (default
# x86_64-w64-mingw32-gcc), MINGW_INCLUDE (default
# /usr/x86_64-w64-mingw32/include), MPROC_JOBS (default 2).
#
# What it cannot see: cl.exe's own headers and intrinsics, its C11 and C++
# front ends' gaps, warnings neither clang nor gcc has a twin of (C4127,
# C4204, C4245, ...), and linking. The closing note of issue 12 lists
# them file by file.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEPS=${1:-$PWD/build/mingw-deps}
CLANG=${CLANG:-clang}
MINGW_GCC=${MINGW_GCC:-x86_64-w64-mingw32-gcc}
MINGW_INCLUDE=${MINGW_INCLUDE:-/usr/x86_64-w64-mingw32/include}
JOBS=${MPROC_JOBS:-2}

for need in "$DEPS/include/apr-1/apr.h" "$MINGW_INCLUDE/windows.h"; do
    if [ ! -f "$need" ]; then
        echo "msvc-check: $need is missing (cmake/mingw/build-deps.sh" \
             "and the mingw-w64 headers provide it)" >&2
        exit 2
    fi
done
RESOURCE=$("$CLANG" -print-resource-dir)

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# mproc/version.h and mproc/config.h as CMake generates them, for a static
# library (MP_STATIC) and a DLL.
VERSION=$(sed -n 's/^project(mproc VERSION \([0-9.]*\).*/\1/p' \
          "$SRC/CMakeLists.txt")
IFS=. read -r MAJOR MINOR PATCH <<<"$VERSION"
for kind in static shared; do
    mkdir -p "$WORK/$kind/mproc"
    sed -e "s/@PROJECT_VERSION_MAJOR@/$MAJOR/" \
        -e "s/@PROJECT_VERSION_MINOR@/$MINOR/" \
        -e "s/@PROJECT_VERSION_PATCH@/$PATCH/" \
        -e "s/@PROJECT_VERSION@/$VERSION/" \
        "$SRC/api/mproc/version.h.in" >"$WORK/$kind/mproc/version.h"
    if [ "$kind" = static ]; then
        define='#define MP_STATIC 1'
    else
        define='/* #undef MP_STATIC */'
    fi
    sed "s|#cmakedefine MP_STATIC 1|$define|" \
        "$SRC/api/mproc/config.h.in" >"$WORK/$kind/mproc/config.h"
done

# One translation unit per public header, so that each is checked alone
# and its inline functions are not "unused" as they would be in a .h.
mkdir -p "$WORK/headers"
for h in "$SRC"/api/mproc.h "$SRC"/api/mproc/*.h; do
    rel=${h#"$SRC/api/"}
    tu="$WORK/headers/$(echo "$rel" | tr / _).c"
    printf '#include "%s"\n' "$rel" >"$tu"
done

# -U__clang__ gives project code cl.exe's view (atomics.h and shared.h pick
# their MSVC branches); clang's own headers do not depend on it.
FLAGS=(--target=x86_64-pc-windows-msvc -fms-compatibility -fms-extensions
       -fms-compatibility-version=19.30
       -U__clang__ -Wno-builtin-macro-redefined
       -fsyntax-only -nostdinc
       -isystem "$SRC/tests/msvc-shims" -isystem "$RESOURCE/include"
       -isystem "$MINGW_INCLUDE" -isystem "$DEPS/include/apr-1"
       -Werror -Wall -Wextra -Wpedantic -Wmicrosoft -Wshadow -Wvla
       -Wdeprecated-declarations
       -Wshorten-64-to-32 -Wimplicit-int-conversion -Wfloat-conversion
       -Wunreachable-code)
C_FLAGS=(-x c -std=c11 -Wstrict-prototypes)
CXX_FLAGS=(-x c++ -std=c++14)

# clang does not flag conversions between function and data pointers in C;
# MSVC does (C4152, /W4) and so does gcc -Wpedantic, which stands in for it
# over the same files (mingw-w64's gcc, so that the headers are the same).
GCC_FLAGS=(-x c -std=c11 -fsyntax-only -isystem "$DEPS/include/apr-1"
           -Werror -Wall -Wextra -Wpedantic)

# ARM64 Windows: the mingw-w64 headers here are x86 only, so atomics.h,
# whose ARM64 branch differs, is read alone, freestanding.
printf '#include "base/atomics.h"\n' >"$WORK/atomics_arm64.c"
ARM64_FLAGS=("${FLAGS[@]}")
ARM64_FLAGS[0]=--target=aarch64-pc-windows-msvc
ARM64_FLAGS+=(-ffreestanding -nostdinc -isystem "$RESOURCE/include")

# The generated list of suites tests/main.c includes (CMake writes it from
# the same glob).
mkdir -p "$WORK/tests"
for t in "$SRC"/tests/test_*.c; do
    n=$(basename "$t" .c)
    printf 'MP_SUITE(%s)\n' "${n#test_}"
done >"$WORK/tests/suites.h"

# Jobs, one per line: <label> <file> <flags...>; run JOBS at a time.
jobs_file="$WORK/jobs"
: >"$jobs_file"
TEST_DEFS="-DMPROC_TEST_OTHER_EXE=\"other.exe\" -DMPROC_TEST_BOOT_EXE=\"boot.exe\""
# Every test file, as an MSVC build of the tests would compile it.
for f in "$SRC"/tests/*.c; do
    printf 'tests %s %s\n' "$f" \
        "-I$SRC/api -I$SRC/common -I$SRC/tests -I$WORK/static -I$WORK/tests -I$DEPS/include $TEST_DEFS" \
        >>"$jobs_file"
done
for f in "$SRC"/common/*/*.c "$SRC"/win32/*.c; do
    printf 'lib %s %s\n' "$f" \
        "-DMP_BUILDING -I$SRC/api -I$SRC/common -I$WORK/static" >>"$jobs_file"
done
for f in "$SRC"/common/*/*.c "$SRC"/win32/*.c; do
    printf 'gcc-pedantic %s %s\n' "$f" \
        "-DMP_BUILDING -I$SRC/api -I$SRC/common -I$WORK/static" >>"$jobs_file"
done
printf 'atomics-arm64 %s %s\n' "$WORK/atomics_arm64.c" "-I$SRC/common" \
    >>"$jobs_file"
for kind in static shared; do
    for tu in "$WORK"/headers/*.c; do
        for lang in c c++; do
            printf 'api-%s-%s %s %s\n' "$lang" "$kind" "$tu" \
                "-I$SRC/api -I$WORK/$kind" >>"$jobs_file"
        done
    done
done

check_one() {
    label=$1 file=$2
    shift 2
    case $label in
    gcc-pedantic) cmd=("$MINGW_GCC" "${GCC_FLAGS[@]}") ;;
    atomics-arm64) cmd=("$CLANG" "${ARM64_FLAGS[@]}" "${C_FLAGS[@]}") ;;
    api-c++-*) cmd=("$CLANG" "${FLAGS[@]}" "${CXX_FLAGS[@]}") ;;
    *) cmd=("$CLANG" "${FLAGS[@]}" "${C_FLAGS[@]}") ;;
    esac
    # shellcheck disable=SC2068 # the include flags are split on purpose
    if ! out=$("${cmd[@]}" $@ "$file" 2>&1); then
        printf '\n[%s] %s\n%s\n' "$label" "${file#"$SRC/"}" "$out"
        return 1
    fi
}
fail=0
while read -r label file rest; do
    printf '%s\0%s\0%s\0' "$label" "$file" "$rest"
done <"$jobs_file" |
    xargs -0 -n 3 -P "$JOBS" bash -c '
        '"$(declare -p SRC CLANG MINGW_GCC FLAGS C_FLAGS CXX_FLAGS GCC_FLAGS ARM64_FLAGS)"'
        '"$(declare -f check_one)"'
        check_one "$1" "$2" $3' _ || fail=1

total=$(wc -l <"$jobs_file")
if [ "$fail" -ne 0 ]; then
    echo "msvc-check: FAILED (see above; $total compilations)" >&2
    exit 1
fi
echo "msvc-check: $total compilations clean in MSVC mode"
