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
with_wine() {
  export WINEPREFIX="$PWD/build/wine-prefix" WINEDEBUG=-all WINEARCH=win64
  mkdir -p "$WINEPREFIX"
  wineserver -p
  trap 'wineserver -k 2>/dev/null || true' EXIT
  wine wineboot -i >/dev/null 2>&1 || true
  "$@"
  local rc=$?
  wineserver -k 2>/dev/null || true
  trap - EXIT
  return $rc
}
