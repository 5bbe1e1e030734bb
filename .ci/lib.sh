# Shared by .ci/examples and .ci/test: run from the repository root.

# Installs the Debian/Ubuntu packages given that are missing, as root or
# through sudo; fails with the list otherwise.
need_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo="sudo"
    else
      echo "missing packages: ${missing[*]} (run as root or install them)" >&2
      return 1
    fi
  fi
  echo "installing: ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

NATIVE_PACKAGES=(cmake make gcc g++ clang pkg-config libapr1-dev libcunit1-dev
                 libssl-dev python3 libclang-rt-14-dev doxygen clang-format)

# Runs a command with a private Wine prefix and server, and stops the server
# (and every Windows process it still runs) afterwards, whatever happens.
#
# Everything runs with address-space randomisation off (setarch -R; every
# process Wine starts inherits it). Debian 12's Wine has no preloader: its
# loader, /usr/lib/wine/wine64, is not position-independent and sits at
# 0x7d000000, and Linux places a program's brk heap at a random point up to
# 1 GiB past its end. About one process start in 4 000 finds that heap over
# 0x7ffe0000, where Wine must map KUSER_SHARED_DATA: the new process exits
# ("failed to map the shared user data: c0000018", shown with
# WINEDEBUG=err+all) before it runs, and CreateProcessW fails with
# ERROR_INTERNAL_ERROR (1359), which the tests saw as MP_ESYS from a start.
# Without randomisation the heap starts at 0x7d005000, 48 MiB below.
with_wine() {
  export WINEPREFIX="$PWD/build/wine-prefix" WINEDEBUG=-all WINEARCH=win64
  local norand=(setarch "$(uname -m)" -R)
  mkdir -p "$WINEPREFIX"
  "${norand[@]}" wineserver -p
  trap 'wineserver -k 2>/dev/null || true' EXIT
  "${norand[@]}" wine wineboot -i >/dev/null 2>&1 || true
  "${norand[@]}" "$@"
  local rc=$?
  wineserver -k 2>/dev/null || true
  trap - EXIT
  return $rc
}
