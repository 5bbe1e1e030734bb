# Toolchain: musl on Linux (Alpine's C library) through Debian's musl-gcc
# wrapper (package musl-tools). Its programs run on this machine, so this is
# not a cross build: tests run directly. musl builds always use the portable
# POSIX path (CMakeLists.txt detects the C library; docs/design.md says why).
#
#   cmake/musl/build-deps.sh build/musl-deps
#   cmake -S . -B build/musl -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-musl.cmake \
#         [-DMPROC_MUSL_DEPS=/abs/path/to/musl-deps]
# or: cmake --preset musl
#
# Cache variables:
#   MPROC_MUSL_DEPS  prefix made by cmake/musl/build-deps.sh (APR, CUnit,
#                    OpenSSL, lib/pkgconfig/*.pc). Default: the environment
#                    variable MPROC_MUSL_DEPS, else <source dir>/build/musl-deps.
#   MPROC_MUSL_CC    the compiler wrapper, default musl-gcc.

list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES MPROC_MUSL_DEPS MPROC_MUSL_CC)

if(NOT MPROC_MUSL_CC)
  set(MPROC_MUSL_CC musl-gcc CACHE STRING "musl compiler wrapper")
endif()
set(CMAKE_C_COMPILER ${MPROC_MUSL_CC})
# musl-gcc is C only: a C++ compiler would bring glibc's libstdc++. Marking
# it absent makes check_language(CXX) skip the C++ callers' test (tests/cxx).
set(CMAKE_CXX_COMPILER CMAKE_CXX_COMPILER-NOTFOUND)

if(NOT MPROC_MUSL_DEPS)
  if(DEFINED ENV{MPROC_MUSL_DEPS} AND NOT "$ENV{MPROC_MUSL_DEPS}" STREQUAL "")
    set(_mproc_deps "$ENV{MPROC_MUSL_DEPS}")
  else()
    set(_mproc_deps "${CMAKE_CURRENT_LIST_DIR}/../build/musl-deps")
  endif()
  get_filename_component(_mproc_deps "${_mproc_deps}" ABSOLUTE)
  set(MPROC_MUSL_DEPS "${_mproc_deps}" CACHE PATH
      "Prefix with musl builds of APR, CUnit and OpenSSL (cmake/musl/build-deps.sh)")
  unset(_mproc_deps)
endif()

# Libraries and headers from the deps prefix only: the host's are glibc's.
# musl-gcc itself searches only musl's include and library directories.
set(CMAKE_FIND_ROOT_PATH "${MPROC_MUSL_DEPS}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config: look only at the deps prefix, never at the host's .pc files.
set(ENV{PKG_CONFIG_LIBDIR} "${MPROC_MUSL_DEPS}/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
set(PKG_CONFIG_USE_CMAKE_PREFIX_PATH OFF)
# OpenSSL's static libcrypto from the prefix (FindOpenSSL).
set(OPENSSL_ROOT_DIR "${MPROC_MUSL_DEPS}")
set(OPENSSL_USE_STATIC_LIBS TRUE)
