#!/usr/bin/env bash
# Build the dependencies of mproc's win32 backend for mingw-w64 (x86_64):
# static APR 1.7.2 and CUnit 2.1-3, from Debian's source packages (Debian
# ships no mingw builds of them). See docs in cmake/toolchain-mingw64.cmake.
#
#   cmake/mingw/build-deps.sh [PREFIX]      (default: $PWD/build/mingw-deps)
#
# Result:
#   PREFIX/include/apr-1/*.h     PREFIX/lib/libapr-1.a
#   PREFIX/include/CUnit/*.h     PREFIX/lib/libcunit.a
#   PREFIX/lib/pkgconfig/apr-1.pc, cunit.pc
#   PREFIX/src/                  sources, build trees and logs (scratch)
#
# Idempotent: PREFIX/.mproc-mingw-deps.stamp records what was built; a re-run
# with the same script and patches does nothing. Delete the stamp (or PREFIX)
# to rebuild.
#
# As root on Debian 12 it installs what it needs (mingw-w64 gcc, wine, cmake,
# dpkg-dev, ...) and adds a deb-src twin of the Debian apt source if there is
# none. As another user these must already be in place.
#
# Environment: MPROC_JOBS (default 2) parallel jobs for the APR build.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLCHAIN="$SCRIPT_DIR/../toolchain-mingw64.cmake"
APR_PATCH="$SCRIPT_DIR/apr-1.7.2-mingw.patch"
TRIPLE=x86_64-w64-mingw32
JOBS=${MPROC_JOBS:-2}

DEPS_NAME=mingw
# shellcheck source=../deps-lib.sh
source "$SCRIPT_DIR/../deps-lib.sh"

PREFIX=${1:-$PWD/build/mingw-deps}
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)

# What the stamp must say: inputs that change the result.
stamp_key() {
    cat "${BASH_SOURCE[0]}" "$SCRIPT_DIR/../deps-lib.sh" "$APR_PATCH" \
        "$TOOLCHAIN" | sha256sum | cut -d' ' -f1
}
KEY=$(stamp_key)
deps_up_to_date "$PREFIX" "$KEY" && exit 0
deps_lock "$PREFIX"
deps_up_to_date "$PREFIX" "$KEY" && exit 0

START=$SECONDS

# --------------------------------------------------------------------------
# 1. host packages, source packages
# --------------------------------------------------------------------------
DEPS_RECOMMENDS=1 deps_need_packages gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 wine wine64 \
    dpkg-dev cmake gcc make pkg-config
for t in "$TRIPLE-gcc" "$TRIPLE-ar" "$TRIPLE-ranlib" cmake dpkg-source apt-get cc; do
    command -v "$t" >/dev/null 2>&1 || deps_die "'$t' not found in PATH"
done
deps_need_sources cunit apr

SRC="$PREFIX/src"
rm -rf "$SRC"
mkdir -p "$SRC"
deps_unpack_sources "$SRC" cunit apr

APR_VERSION=$(sed -n 's/^#define APR_MAJOR_VERSION *\([0-9]*\).*/\1/p;s/^#define APR_MINOR_VERSION *\([0-9]*\).*/\1/p;s/^#define APR_PATCH_VERSION *\([0-9]*\).*/\1/p' \
                  "$SRC/apr/include/apr_version.h" | paste -sd.)
read -r CUNIT_VER CUNIT_REL < <(deps_cunit_version "$SRC/cunit")
deps_log "APR $APR_VERSION, CUnit $CUNIT_VER-$CUNIT_REL"
[[ "$APR_VERSION" == 1.7.2 ]] || deps_log "warning: patch was written for APR 1.7.2"

mkdir -p "$PREFIX/include" "$PREFIX/lib/pkgconfig"

# --------------------------------------------------------------------------
# 4. CUnit: Framework + Basic runner, static
# --------------------------------------------------------------------------
deps_log "building CUnit"
deps_build_cunit "$SRC/cunit" "$SRC/build-cunit" "$PREFIX" "$TRIPLE-gcc" "$TRIPLE-ar"

# --------------------------------------------------------------------------
# 5. APR: static library with its own CMakeLists.txt
# --------------------------------------------------------------------------
deps_log "patching APR ($(basename "$APR_PATCH"))"
patch -d "$SRC/apr" -p2 --quiet --forward < "$APR_PATCH"

# apr_escape_test_char.h comes from a tiny generator: build and run it on the
# host (as a Windows build would, with WIN32 defined) instead of under Wine.
cc -DWIN32 -o "$SRC/gen_test_char" "$SRC/apr/tools/gen_test_char.c"
"$SRC/gen_test_char" > "$SRC/apr_escape_test_char.h"

APR_BUILD="$SRC/build-apr"
deps_log "configuring APR"
cmake -S "$SRC/apr" -B "$APR_BUILD" \
    -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" \
    -DMPROC_MINGW_DEPS="$PREFIX" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS="-w" \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" \
    -DAPR_TEST_CHAR_HEADER="$SRC/apr_escape_test_char.h" \
    -DAPR_BUILD_TESTAPR=OFF -DINSTALL_PDB=OFF \
    >"$SRC/apr-configure.log" 2>&1 \
    || { tail -40 "$SRC/apr-configure.log" >&2; deps_die "APR configure failed ($SRC/apr-configure.log)"; }
deps_log "building APR (static, -j$JOBS)"
# Only the static library: the DLL's libapr.rc does not build with windres.
cmake --build "$APR_BUILD" --target apr-1 -j"$JOBS" >"$SRC/apr-build.log" 2>&1 \
    || { grep -E "error|Error" "$SRC/apr-build.log" | head -40 >&2; deps_die "APR build failed ($SRC/apr-build.log)"; }

mkdir -p "$PREFIX/include/apr-1"
install -m 644 "$SRC"/apr/include/apr_*.h "$APR_BUILD/apr.h" "$PREFIX/include/apr-1/"
install -m 644 "$APR_BUILD/libapr-1.a" "$PREFIX/lib/libapr-1.a"

# --------------------------------------------------------------------------
# 6. pkg-config files
# --------------------------------------------------------------------------
cat > "$PREFIX/lib/pkgconfig/apr-1.pc" <<EOF
prefix=$PREFIX
exec_prefix=\${prefix}
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: APR
Description: Apache Portable Runtime (static, mingw-w64 build by mproc cmake/mingw/build-deps.sh)
Version: $APR_VERSION
Libs: -L\${libdir} -lapr-1 -lws2_32 -lmswsock -lrpcrt4 -liphlpapi -ladvapi32
Cflags: -I\${includedir}/apr-1 -DAPR_DECLARE_STATIC
EOF

cat > "$PREFIX/lib/pkgconfig/cunit.pc" <<EOF
prefix=$PREFIX
exec_prefix=\${prefix}
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: CUnit
Description: Unit testing framework for C (static, mingw-w64 build by mproc cmake/mingw/build-deps.sh)
Version: $CUNIT_VER-$CUNIT_REL
Libs: -L\${libdir} -lcunit
Cflags: -I\${includedir}
EOF

deps_mark_done "$PREFIX" "$KEY"
deps_log "done in $((SECONDS - START)) s: $PREFIX"
