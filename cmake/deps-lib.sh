# Shell functions for the scripts that build mproc's dependencies from
# Debian's source packages for another C library or target (source this file
# from bash with `set -euo pipefail`): host packages, a deb-src entry,
# fetching and unpacking source packages, one build at a time with a stamp.
#
# cmake/mingw/build-deps.sh and cmake/musl/build-deps.sh use it (their
# stamps hash this file too).
#
# The caller sets DEPS_NAME (used in log lines and the stamp's file name).

deps_log() { printf '[build-deps %s] %s\n' "$DEPS_NAME" "$*" >&2; }
deps_die() { printf '[build-deps %s] error: %s\n' "$DEPS_NAME" "$*" >&2; exit 1; }

# deps_up_to_date PREFIX KEY: whether PREFIX holds a finished build of KEY.
deps_up_to_date() {
    local stamp="$1/.mproc-$DEPS_NAME-deps.stamp"
    [[ -f "$stamp" && "$(cat "$stamp")" == "$2" ]]
}
deps_mark_done() { printf '%s\n' "$2" > "$1/.mproc-$DEPS_NAME-deps.stamp"; }

# deps_lock PREFIX: one build per prefix at a time (fd 9 stays open until
# the script ends). A second run waits, then finds the stamp up to date.
deps_lock() {
    exec 9>"$1/.lock"
    if command -v flock >/dev/null 2>&1; then
        flock 9
    fi
}

DEPS_APT_UPDATED=0
deps_apt_update_once() {
    if [[ $DEPS_APT_UPDATED -eq 0 ]]; then
        deps_log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEPS_APT_UPDATED=1
    fi
}

deps_is_root() { [[ $(id -u) -eq 0 ]]; }

# deps_need_packages PKG...: installs the missing ones as root; otherwise
# fails with the command that would. With DEPS_RECOMMENDS=1 their
# recommended packages come too (Wine's, for the mingw build).
deps_need_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
            || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    deps_is_root || deps_die "missing packages: ${missing[*]}
  install them as root:  apt-get install -y ${missing[*]}
  (or run this script as root once)"
    deps_apt_update_once
    deps_log "apt-get install -y ${missing[*]}"
    local rec=--no-install-recommends
    [[ ${DEPS_RECOMMENDS:-0} == 1 ]] && rec=--install-recommends
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$rec" \
        "${missing[@]}" >/dev/null
}

deps_have_sources() {
    local s
    for s in "$@"; do
        [[ -n "$(apt-cache showsrc "$s" 2>/dev/null)" ]] || return 1
    done
}

# deb-src twins of the enabled Debian entries (deb822 stanzas) of a .sources
# file.
deps_debsrc_twins_deb822() {
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

deps_debsrc_configured() {
    grep -qsE '^[[:space:]]*deb-src[[:space:]]|^Types:.*deb-src' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources
}

# deps_need_sources SRCPKG...: makes apt know these source packages, adding
# a deb-src twin of the Debian apt entries (as root) when there is none.
deps_need_sources() {
    if ! deps_have_sources "$@" && deps_debsrc_configured; then
        deps_apt_update_once # deb-src entries but stale lists
    fi
    deps_have_sources "$@" && return 0
    deps_is_root || deps_die "apt has no source packages for $* (no deb-src entry).
  As root, add a deb-src twin of your Debian entry and run apt-get update,
  or run this script as root once."
    local twins="" list_twins f codename
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f "$f" && "$(basename "$f")" != mproc-debsrc.sources ]] || continue
        twins+=$(deps_debsrc_twins_deb822 "$f")$'\n'
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
        deps_log "adding /etc/apt/sources.list.d/mproc-debsrc.sources"
        { echo "# deb-src twin of the Debian entries, added by mproc's cmake/deps-lib.sh"
          printf '%s\n' "$twins"; } > /etc/apt/sources.list.d/mproc-debsrc.sources
    fi
    if [[ -n "$list_twins" ]]; then
        deps_log "adding /etc/apt/sources.list.d/mproc-debsrc.list"
        { echo "# deb-src twin of the Debian entries, added by mproc's cmake/deps-lib.sh"
          printf '%s\n' "$list_twins"; } > /etc/apt/sources.list.d/mproc-debsrc.list
    fi
    deps_log "apt-get update (sources)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    deps_have_sources "$@" || deps_die "apt still has no source packages for $*"
}

# deps_unpack_sources SRCDIR SRCPKG...: downloads each source package and
# unpacks it (Debian's patches applied) into SRCDIR/<name>.
deps_unpack_sources() {
    local src="$1" p dsc
    shift
    mkdir -p "$src/dl"
    deps_log "apt-get source $* -> $src"
    # As root apt warns that the download is unsandboxed: harmless.
    (cd "$src/dl" && apt-get source --download-only -qq "$@" 2>&1 \
        | grep -v "unsandboxed" >&2 || true)
    for p in "$@"; do
        shopt -s nullglob
        dsc=("$src/dl/${p}_"*.dsc)
        shopt -u nullglob
        [[ ${#dsc[@]} -eq 1 ]] \
            || deps_die "apt-get source did not give one $p .dsc (see $src/dl)"
        dpkg-source -x "${dsc[0]}" "$src/$p" >"$src/$p-unpack.log" 2>&1 \
            || { cat "$src/$p-unpack.log" >&2; deps_die "dpkg-source -x $p failed"; }
    done
}

# deps_cunit_version CUNIT_SRC: prints "VERSION RELEASE" (e.g. "2.1 3").
deps_cunit_version() {
    local full
    full=$(tr -d ' \n' < "$1/VERSION")
    printf '%s %s\n' "${full%-*}" "${full#*-}"
}

# deps_build_cunit CUNIT_SRC BUILDDIR PREFIX CC AR: CUnit's Framework and
# Basic runner as a static libcunit.a, headers in PREFIX/include/CUnit.
deps_build_cunit() {
    local cu="$1/CUnit" obj="$2" prefix="$3" cc="$4" ar="$5" ver rel h c o
    local objs=()
    read -r ver rel < <(deps_cunit_version "$1")
    mkdir -p "$obj" "$prefix/include/CUnit" "$prefix/lib"
    # The shipped CUnit.h is stale (2.1-2): generate it from CUnit.h.in.
    sed -e "s/@VERSION@/$ver/g" -e "s/@RELEASE@/$rel/g" \
        "$cu/Headers/CUnit.h.in" > "$obj/CUnit.h"
    for h in "$cu"/Headers/*.h; do
        [[ "$(basename "$h")" == CUnit.h ]] && continue
        install -m 644 "$h" "$prefix/include/CUnit/"
    done
    install -m 644 "$obj/CUnit.h" "$prefix/include/CUnit/CUnit.h"
    for c in "$cu"/Sources/Framework/*.c "$cu"/Sources/Basic/Basic.c; do
        o="$obj/$(basename "${c%.c}").o"
        "$cc" -O2 -std=c99 -w -I"$prefix/include/CUnit" -c "$c" -o "$o"
        objs+=("$o")
    done
    rm -f "$prefix/lib/libcunit.a"
    "$ar" rcs "$prefix/lib/libcunit.a" "${objs[@]}"
}
