# Finds the dependencies mproc is built with, the way package managers
# provide them: CMake packages first (vcpkg, conan), then pkg-config. Used by
# the build only; the installed mprocConfig.cmake finds them again (for a
# static mproc) through the same route, recorded here.
#
# Sets MPROC_APR_TARGET (the target to link), MPROC_APR_PACKAGE (the CMake
# package that provided it, or "pkg-config"), MPROC_CRYPTO_TARGET.

set(MPROC_APR_TARGET "")
set(MPROC_APR_PACKAGE "")
find_package(apr CONFIG QUIET)
if(apr_FOUND)
  set(MPROC_APR_PACKAGE apr)
else()
  find_package(unofficial-apr CONFIG QUIET)
  if(unofficial-apr_FOUND)
    set(MPROC_APR_PACKAGE unofficial-apr)
  endif()
endif()
foreach(t apr::apr apr::libapr-1 apr::apr-1 unofficial::apr::libapr-1 unofficial::apr::apr-1)
  if(TARGET ${t})
    set(MPROC_APR_TARGET ${t})
    break()
  endif()
endforeach()
if(NOT MPROC_APR_TARGET)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(MPROC_APR REQUIRED IMPORTED_TARGET apr-1)
  set(MPROC_APR_TARGET PkgConfig::MPROC_APR)
  set(MPROC_APR_PACKAGE pkg-config)
endif()

if(WIN32)
  set(MPROC_CRYPTO_TARGET "")
else()
  # HMAC for the connection handshake (posix/os_crypto.c).
  find_package(OpenSSL REQUIRED COMPONENTS Crypto)
  set(MPROC_CRYPTO_TARGET OpenSSL::Crypto)
endif()
