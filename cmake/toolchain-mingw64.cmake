# Cross-compile toolchain: x86_64 Windows with mingw-w64 (Debian's
# gcc-mingw-w64-x86-64), tests run under Wine through
# CMAKE_CROSSCOMPILING_EMULATOR.
#
#   cmake/mingw/build-deps.sh build/mingw-deps
#   cmake -S . -B build/mingw \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw64.cmake \
#         [-DMPROC_MINGW_DEPS=/abs/path/to/mingw-deps]
#
# Cache variables:
#   MPROC_MINGW_DEPS    prefix made by cmake/mingw/build-deps.sh (APR, CUnit,
#                       lib/pkgconfig/*.pc). Default: the environment variable
#                       MPROC_MINGW_DEPS, else <binary dir>/../mingw-deps, else
#                       <source dir>/build/mingw-deps.
#   MPROC_MINGW_TRIPLE  tool prefix, default x86_64-w64-mingw32.
#   MPROC_WINE          emulator used to run tests (wine, else wine64).
#
# Tests need a Wine environment, e.g. (.ci/lib.sh's with_wine does this):
#   export WINEPREFIX=$PWD/build/wineprefix WINEDEBUG=-all WINEARCH=win64
#   mkdir -p "$WINEPREFIX"; setarch -R wineserver -p
#   trap 'wineserver -k' EXIT
#   setarch -R wine wineboot -i  # first, or Wine's services start inside
#                                # the first test and hold ctest's output
#   setarch -R ctest --test-dir build/mingw
# setarch -R: a Wine without its preloader (Debian 12's) fails about one
# process start in 4 000 when address-space randomisation is on (.ci/lib.sh
# says why).

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

# try_compile() projects re-read this file in their own binary dir: hand
# them our settings instead of re-guessing.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES
     MPROC_MINGW_DEPS MPROC_MINGW_TRIPLE MPROC_WINE)

if(NOT MPROC_MINGW_TRIPLE)
  set(MPROC_MINGW_TRIPLE x86_64-w64-mingw32 CACHE STRING
      "mingw-w64 tool prefix")
endif()

set(CMAKE_C_COMPILER   ${MPROC_MINGW_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${MPROC_MINGW_TRIPLE}-g++)
set(CMAKE_RC_COMPILER  ${MPROC_MINGW_TRIPLE}-windres)

# --- dependency prefix ------------------------------------------------------
if(NOT MPROC_MINGW_DEPS)
  set(_mproc_deps "")
  if(DEFINED ENV{MPROC_MINGW_DEPS} AND NOT "$ENV{MPROC_MINGW_DEPS}" STREQUAL "")
    set(_mproc_deps "$ENV{MPROC_MINGW_DEPS}")
  else()
    foreach(_cand "${CMAKE_BINARY_DIR}/../mingw-deps"
                  "${CMAKE_SOURCE_DIR}/build/mingw-deps")
      if(NOT _mproc_deps AND EXISTS "${_cand}/lib/pkgconfig")
        set(_mproc_deps "${_cand}")
      endif()
    endforeach()
    if(NOT _mproc_deps)
      set(_mproc_deps "${CMAKE_BINARY_DIR}/../mingw-deps")
    endif()
  endif()
  get_filename_component(_mproc_deps "${_mproc_deps}" ABSOLUTE
                         BASE_DIR "${CMAKE_BINARY_DIR}")
  set(MPROC_MINGW_DEPS "${_mproc_deps}" CACHE PATH
      "Prefix with mingw builds of APR and CUnit (cmake/mingw/build-deps.sh)")
  unset(_mproc_deps)
  unset(_cand)
endif()

# Debian: /usr/x86_64-w64-mingw32 is the sysroot of the mingw-w64 runtime.
set(CMAKE_FIND_ROOT_PATH /usr/${MPROC_MINGW_TRIPLE} "${MPROC_MINGW_DEPS}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config: look only at the deps prefix, never at the host's .pc files.
# The .pc files hold absolute paths, so no sysroot prefixing.
set(ENV{PKG_CONFIG_LIBDIR} "${MPROC_MINGW_DEPS}/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
# FindPkgConfig would otherwise add CMAKE_PREFIX_PATH/CMAKE_FIND_ROOT_PATH
# lib/pkgconfig dirs of the host layout; the env above is all we need.
set(PKG_CONFIG_USE_CMAKE_PREFIX_PATH OFF)

# --- static runtime ---------------------------------------------------------
# No libgcc/libwinpthread/libstdc++ DLLs: Wine runs the .exe without any
# mingw DLL directory on its path.
set(CMAKE_EXE_LINKER_FLAGS_INIT    "-static -static-libgcc")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static-libgcc")

# --- running the .exe files -------------------------------------------------
if(NOT MPROC_WINE)
  find_program(MPROC_WINE NAMES wine wine64
               PATHS /usr/lib/wine /usr/lib64/wine /opt/wine-stable/bin
               NO_CMAKE_FIND_ROOT_PATH
               DOC "Wine launcher used as CMAKE_CROSSCOMPILING_EMULATOR")
endif()
if(MPROC_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${MPROC_WINE}")
endif()
