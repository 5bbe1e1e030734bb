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

PREFIX=${1:-$PWD/build/mingw-deps}
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)
STAMP="$PREFIX/.mproc-mingw-deps.stamp"

# What the stamp must say: inputs that change the result.
stamp_key() {
    cat "${BASH_SOURCE[0]}" "$APR_PATCH" "$TOOLCHAIN" | sha256sum | cut -d' ' -f1
}
KEY=$(stamp_key)
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$KEY" ]]; then
    exit 0
fi

log() { printf '[build-deps] %s\n' "$*" >&2; }
die() { printf '[build-deps] error: %s\n' "$*" >&2; exit 1; }

# One build at a time per prefix.
exec 9>"$PREFIX/.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
    if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$KEY" ]]; then
        exit 0
    fi
fi

START=$SECONDS
IS_ROOT=0
[[ $(id -u) -eq 0 ]] && IS_ROOT=1

# --------------------------------------------------------------------------
# 1. host packages
# --------------------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
APT_UPDATED=0
apt_update_once() {
    if [[ $APT_UPDATED -eq 0 ]]; then
        log "apt-get update"
        apt-get update -qq
        APT_UPDATED=1
    fi
}

PKGS=(gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 wine wine64 dpkg-dev cmake gcc
      make pkg-config)
missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing+=("$p")
    fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $IS_ROOT -ne 1 ]]; then
        die "missing packages: ${missing[*]}
  install them as root:  apt-get install -y ${missing[*]}
  (or run this script as root once)"
    fi
    apt_update_once
    log "apt-get install -y ${missing[*]}"
    apt-get install -y -q "${missing[@]}" >/dev/null
fi
for t in "$TRIPLE-gcc" "$TRIPLE-ar" "$TRIPLE-ranlib" cmake dpkg-source apt-get cc; do
    command -v "$t" >/dev/null 2>&1 || die "'$t' not found in PATH"
done

# --------------------------------------------------------------------------
# 2. deb-src entry
# --------------------------------------------------------------------------
have_sources() {
    [[ -n "$(apt-cache showsrc cunit 2>/dev/null)" && -n "$(apt-cache showsrc apr 2>/dev/null)" ]]
}

# Print deb-src twins of the Debian entries (deb822 stanzas) of a .sources file.
debsrc_twins_deb822() {
    awk 'BEGIN { RS = ""; FS = "\n" }
    {
        deb = 0; uri = 0; off = 0
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
            if ($i ~ /^URIs:/ && $i ~ /debian\.org\/debian\/?([ \t]|$)/) uri = 1
            if ($i ~ /^Enabled:[ \t]*no/) off = 1
        }
        if (deb && uri && !off) {
            for (i = 1; i <= NF; i++) {
                if ($i ~ /^#/) continue
                if ($i ~ /^Types:/) print "Types: deb-src"; else print $i
            }
            print ""
        }
    }' "$1"
}

debsrc_configured() {
    grep -qsE '^[[:space:]]*deb-src[[:space:]]|^Types:.*deb-src' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources
}
# deb-src entries but stale lists: refresh them first.
if ! have_sources && debsrc_configured; then
    apt_update_once
fi
if ! have_sources; then
    if [[ $IS_ROOT -ne 1 ]]; then
        die "apt has no source packages for cunit/apr (no deb-src entry).
  As root, add a deb-src twin of your Debian entry and run apt-get update,
  or run this script as root once."
    fi
    twins=""
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f "$f" && "$(basename "$f")" != mproc-debsrc.sources ]] || continue
        twins+=$(debsrc_twins_deb822 "$f")$'\n'
    done
    list_twins=$(grep -hE '^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[a-z+]+://[^[:space:]]*debian\.org/debian/?[[:space:]]' \
                     /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
                 | sed -E 's/^[[:space:]]*deb[[:space:]]/deb-src /' || true)
    if [[ -z "${twins//[$'\n']/}" && -z "$list_twins" ]]; then
        # No Debian entry found: fall back to the release we run on.
        codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
        twins="Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"
    fi
    if [[ -n "${twins//[$'\n']/}" ]]; then
        log "adding /etc/apt/sources.list.d/mproc-debsrc.sources"
        { echo "# deb-src twin of the Debian entries, added by mproc cmake/mingw/build-deps.sh"
          printf '%s\n' "$twins"; } > /etc/apt/sources.list.d/mproc-debsrc.sources
    fi
    if [[ -n "$list_twins" ]]; then
        log "adding /etc/apt/sources.list.d/mproc-debsrc.list"
        { echo "# deb-src twin of the Debian entries, added by mproc cmake/mingw/build-deps.sh"
          printf '%s\n' "$list_twins"; } > /etc/apt/sources.list.d/mproc-debsrc.list
    fi
    log "apt-get update (sources)"
    apt-get update -qq
    have_sources || die "apt still has no source packages for cunit/apr"
fi

# --------------------------------------------------------------------------
# 3. fetch and unpack sources
# --------------------------------------------------------------------------
SRC="$PREFIX/src"
rm -rf "$SRC"
mkdir -p "$SRC/dl"
log "apt-get source cunit apr -> $SRC"
(
    cd "$SRC/dl"
    # As root apt warns that the download is unsandboxed: harmless.
    apt-get source --download-only -qq cunit apr 2>&1 | grep -v "unsandboxed" >&2 || true
)
shopt -s nullglob
apr_dsc=("$SRC"/dl/apr_*.dsc)
cunit_dsc=("$SRC"/dl/cunit_*.dsc)
shopt -u nullglob
[[ ${#apr_dsc[@]} -eq 1 && ${#cunit_dsc[@]} -eq 1 ]] \
    || die "apt-get source did not give one apr and one cunit .dsc (see $SRC/dl)"
dpkg-source -x "${apr_dsc[0]}" "$SRC/apr" >"$SRC/apr-unpack.log" 2>&1 \
    || { cat "$SRC/apr-unpack.log" >&2; die "dpkg-source -x apr failed"; }
dpkg-source -x "${cunit_dsc[0]}" "$SRC/cunit" >"$SRC/cunit-unpack.log" 2>&1 \
    || { cat "$SRC/cunit-unpack.log" >&2; die "dpkg-source -x cunit failed"; }

APR_VERSION=$(sed -n 's/^#define APR_MAJOR_VERSION *\([0-9]*\).*/\1/p;s/^#define APR_MINOR_VERSION *\([0-9]*\).*/\1/p;s/^#define APR_PATCH_VERSION *\([0-9]*\).*/\1/p' \
                  "$SRC/apr/include/apr_version.h" | paste -sd.)
CUNIT_FULL=$(tr -d ' \n' < "$SRC/cunit/VERSION")      # e.g. 2.1-3
CUNIT_VER=${CUNIT_FULL%-*}
CUNIT_REL=${CUNIT_FULL#*-}
log "APR $APR_VERSION, CUnit $CUNIT_FULL"
[[ "$APR_VERSION" == 1.7.2 ]] || log "warning: patch was written for APR 1.7.2"

mkdir -p "$PREFIX/include" "$PREFIX/lib/pkgconfig"

# --------------------------------------------------------------------------
# 4. CUnit: Framework + Basic runner, static
# --------------------------------------------------------------------------
log "building CUnit"
CU="$SRC/cunit/CUnit"
CU_OBJ="$SRC/build-cunit"
mkdir -p "$CU_OBJ" "$PREFIX/include/CUnit"
# The shipped CUnit.h is stale (2.1-2): generate it from CUnit.h.in.
sed -e "s/@VERSION@/$CUNIT_VER/g" -e "s/@RELEASE@/$CUNIT_REL/g" \
    "$CU/Headers/CUnit.h.in" > "$CU_OBJ/CUnit.h"
for h in "$CU"/Headers/*.h; do
    [[ "$(basename "$h")" == CUnit.h ]] && continue
    install -m 644 "$h" "$PREFIX/include/CUnit/"
done
install -m 644 "$CU_OBJ/CUnit.h" "$PREFIX/include/CUnit/CUnit.h"
objs=()
for c in "$CU"/Sources/Framework/*.c "$CU"/Sources/Basic/Basic.c; do
    o="$CU_OBJ/$(basename "${c%.c}").o"
    "$TRIPLE-gcc" -O2 -std=c99 -w -I"$PREFIX/include/CUnit" -c "$c" -o "$o"
    objs+=("$o")
done
rm -f "$PREFIX/lib/libcunit.a"
"$TRIPLE-ar" rcs "$PREFIX/lib/libcunit.a" "${objs[@]}"

# --------------------------------------------------------------------------
# 5. APR: static library with its own CMakeLists.txt
# --------------------------------------------------------------------------
log "patching APR ($(basename "$APR_PATCH"))"
patch -d "$SRC/apr" -p2 --quiet --forward < "$APR_PATCH"

# apr_escape_test_char.h comes from a tiny generator: build and run it on the
# host (as a Windows build would, with WIN32 defined) instead of under Wine.
cc -DWIN32 -o "$SRC/gen_test_char" "$SRC/apr/tools/gen_test_char.c"
"$SRC/gen_test_char" > "$SRC/apr_escape_test_char.h"

APR_BUILD="$SRC/build-apr"
log "configuring APR"
cmake -S "$SRC/apr" -B "$APR_BUILD" \
    -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" \
    -DMPROC_MINGW_DEPS="$PREFIX" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS="-w" \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" \
    -DAPR_TEST_CHAR_HEADER="$SRC/apr_escape_test_char.h" \
    -DAPR_BUILD_TESTAPR=OFF -DINSTALL_PDB=OFF \
    >"$SRC/apr-configure.log" 2>&1 \
    || { tail -40 "$SRC/apr-configure.log" >&2; die "APR configure failed ($SRC/apr-configure.log)"; }
log "building APR (static, -j$JOBS)"
# Only the static library: the DLL's libapr.rc does not build with windres.
cmake --build "$APR_BUILD" --target apr-1 -j"$JOBS" >"$SRC/apr-build.log" 2>&1 \
    || { grep -E "error|Error" "$SRC/apr-build.log" | head -40 >&2; die "APR build failed ($SRC/apr-build.log)"; }

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

printf '%s\n' "$KEY" > "$STAMP"
log "done in $((SECONDS - START)) s: $PREFIX"
