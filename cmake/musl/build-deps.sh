#!/usr/bin/env bash
# Build the dependencies of mproc for musl (Debian's musl-gcc wrapper), the
# C library of Alpine: static APR, CUnit and OpenSSL's libcrypto (the POSIX
# backend's HMAC), from Debian's source packages, which Debian builds for
# glibc only. See cmake/toolchain-musl.cmake and the musl preset.
#
#   cmake/musl/build-deps.sh [PREFIX]       (default: $PWD/build/musl-deps)
#
# Result:
#   PREFIX/include/apr-1/*.h     PREFIX/lib/libapr-1.a
#   PREFIX/include/CUnit/*.h     PREFIX/lib/libcunit.a
#   PREFIX/include/openssl/*.h   PREFIX/lib/libcrypto.a
#   PREFIX/lib/pkgconfig/apr-1.pc, cunit.pc, libcrypto.pc
#   PREFIX/src/                  sources, build trees and logs (scratch)
#
# Idempotent: PREFIX/.mproc-musl-deps.stamp records what was built; a re-run
# with the same scripts and the same musl does nothing. Delete the stamp (or
# PREFIX) to rebuild. One build per prefix at a time (flock).
#
# As root on Debian 12 it installs what it needs (musl-tools, dpkg-dev, ...)
# and adds a deb-src twin of the Debian apt source if there is none. As
# another user these must already be in place.
#
# Environment: MPROC_JOBS (default 2) parallel jobs.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEPS_NAME=musl
# shellcheck source=../deps-lib.sh
source "$SCRIPT_DIR/../deps-lib.sh"
JOBS=${MPROC_JOBS:-2}
CC=musl-gcc

PREFIX=${1:-$PWD/build/musl-deps}
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)

# What the stamp must say: the inputs that change the result (the scripts,
# and the musl they were built against, once it is installed).
stamp_key() {
    { cat "${BASH_SOURCE[0]}" "$SCRIPT_DIR/../deps-lib.sh"
      dpkg-query -W -f='${Version}' musl-dev 2>/dev/null || true
    } | sha256sum | cut -d' ' -f1
}
KEY=$(stamp_key)
deps_up_to_date "$PREFIX" "$KEY" && exit 0
deps_lock "$PREFIX"
deps_up_to_date "$PREFIX" "$KEY" && exit 0

START=$SECONDS

# --------------------------------------------------------------------------
# 1. host packages, source packages
# --------------------------------------------------------------------------
deps_need_packages musl-tools musl-dev dpkg-dev cmake gcc make perl pkg-config
KEY=$(stamp_key) # now with musl's version
for t in "$CC" ar cmake dpkg-source apt-get perl make; do
    command -v "$t" >/dev/null 2>&1 || deps_die "'$t' not found in PATH"
done
deps_need_sources apr cunit openssl

SRC="$PREFIX/src"
rm -rf "$SRC" "$PREFIX/include" "$PREFIX/lib" "$PREFIX/bin" "$PREFIX/build-1"
mkdir -p "$SRC" "$PREFIX/include" "$PREFIX/lib/pkgconfig"
deps_unpack_sources "$SRC" apr cunit openssl

# Each build's output goes to its log; on failure its tail is shown.
run_logged() {
    local logf="$1" what="$2"
    shift 2
    "$@" >"$logf" 2>&1 || { tail -40 "$logf" >&2; deps_die "$what failed ($logf)"; }
}

# --------------------------------------------------------------------------
# 2. CUnit: Framework + Basic runner, static
# --------------------------------------------------------------------------
deps_log "building CUnit"
deps_build_cunit "$SRC/cunit" "$SRC/build-cunit" "$PREFIX" "$CC" ar
read -r CUNIT_VER CUNIT_REL < <(deps_cunit_version "$SRC/cunit")

# --------------------------------------------------------------------------
# 3. APR: its own configure (binaries of musl-gcc run here, so this is not a
#    cross build), static only
# --------------------------------------------------------------------------
deps_log "configuring APR"
(
    cd "$SRC/apr"
    run_logged "$SRC/apr-configure.log" "APR configure" \
        ./configure CC="$CC" CFLAGS="-O2 -w" --prefix="$PREFIX" \
        --disable-shared --enable-static
)
deps_log "building APR (static, -j$JOBS)"
run_logged "$SRC/apr-build.log" "APR build" make -C "$SRC/apr" -j"$JOBS"
run_logged "$SRC/apr-install.log" "APR install" make -C "$SRC/apr" install
APR_VERSION=$("$PREFIX/bin/apr-1-config" --version)
# A static libapr-1 needs its system libraries at every link, not only in a
# --static one: move them from Libs.private into Libs. Cflags keep APR's
# defines (_GNU_SOURCE and others), as Debian's apr-1.pc has them.
APR_LIBS=$("$PREFIX/bin/apr-1-config" --libs)
APR_CPPFLAGS=$("$PREFIX/bin/apr-1-config" --cppflags)
cat > "$PREFIX/lib/pkgconfig/apr-1.pc" <<EOF
prefix=$PREFIX
exec_prefix=\${prefix}
libdir=\${prefix}/lib
includedir=\${prefix}/include/apr-1

Name: APR
Description: Apache Portable Runtime (static, musl build by mproc cmake/musl/build-deps.sh)
Version: $APR_VERSION
Libs: -L\${libdir} -lapr-1 $APR_LIBS
Cflags: $APR_CPPFLAGS -I\${includedir}
EOF

# --------------------------------------------------------------------------
# 4. OpenSSL: a static libcrypto for HMAC with MD5 and SHA-2 (posix/os_crypto.c)
#    and nothing it does not need, to keep the build short; no libssl.
#    no-secure-memory: its mlock2 code wants <linux/mman.h>, a kernel
#    header musl-gcc does not see.
# --------------------------------------------------------------------------
deps_log "configuring OpenSSL"
OPENSSL_OFF=(no-shared no-module no-tests no-engine no-afalgeng no-async
             no-secure-memory no-comp no-sock no-dgram no-ssl no-tls no-srp
             no-psk no-srtp no-ct no-ocsp no-cms no-ts no-cmp no-legacy
             no-des no-dsa no-dh no-ec no-ec2m no-gost no-sm2 no-sm3 no-sm4
             no-idea no-camellia no-seed no-bf no-cast no-rc2 no-rc4 no-rc5
             no-md4 no-mdc2 no-whirlpool no-rmd160 no-aria no-siphash
             no-blake2 no-chacha no-poly1305 no-ocb no-siv no-scrypt
             no-ui-console)
(
    cd "$SRC/openssl"
    run_logged "$SRC/openssl-configure.log" "OpenSSL configure" \
        ./Configure linux-x86_64 CC="$CC" --prefix="$PREFIX" --libdir=lib \
        --openssldir="$PREFIX/ssl" "${OPENSSL_OFF[@]}"
)
deps_log "building OpenSSL's libcrypto (-j$JOBS)"
run_logged "$SRC/openssl-generate.log" "OpenSSL's generated headers" \
    make -C "$SRC/openssl" -j"$JOBS" build_generated
run_logged "$SRC/openssl-build.log" "OpenSSL build" \
    make -C "$SRC/openssl" -j"$JOBS" libcrypto.a
mkdir -p "$PREFIX/include/openssl"
install -m 644 "$SRC"/openssl/include/openssl/*.h "$PREFIX/include/openssl/"
install -m 644 "$SRC/openssl/libcrypto.a" "$PREFIX/lib/"
OPENSSL_VERSION=$(sed -n 's/^# *define OPENSSL_FULL_VERSION_STR "\(.*\)"/\1/p' \
                      "$PREFIX/include/openssl/opensslv.h")
cat > "$PREFIX/lib/pkgconfig/libcrypto.pc" <<EOF
prefix=$PREFIX
exec_prefix=\${prefix}
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: OpenSSL-libcrypto
Description: OpenSSL cryptography library (static, HMAC digests only, musl build by mproc cmake/musl/build-deps.sh)
Version: $OPENSSL_VERSION
Libs: -L\${libdir} -lcrypto
Cflags: -I\${includedir}
EOF

# --------------------------------------------------------------------------
# 5. pkg-config file of CUnit
# --------------------------------------------------------------------------
cat > "$PREFIX/lib/pkgconfig/cunit.pc" <<EOF
prefix=$PREFIX
exec_prefix=\${prefix}
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: CUnit
Description: Unit testing framework for C (static, musl build by mproc cmake/musl/build-deps.sh)
Version: $CUNIT_VER-$CUNIT_REL
Libs: -L\${libdir} -lcunit
Cflags: -I\${includedir}
EOF

deps_mark_done "$PREFIX" "$KEY"
deps_log "APR $APR_VERSION, CUnit $CUNIT_VER-$CUNIT_REL, OpenSSL $OPENSSL_VERSION"
deps_log "done in $((SECONDS - START)) s: $PREFIX"
