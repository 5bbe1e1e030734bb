# Finds mproc's dependencies the way package managers provide them: CMake
# targets first (vcpkg, conan), then pkg-config. Used by the build and by the
# installed mprocConfig.cmake. Sets MPROC_APR_TARGET and MPROC_APR_PC.
include_guard(GLOBAL)

set(MPROC_APR_TARGET "")
find_package(apr CONFIG QUIET)
if(NOT apr_FOUND)
  find_package(unofficial-apr CONFIG QUIET)
endif()
foreach(t apr::apr apr::libapr-1 apr::apr-1 unofficial::apr::libapr-1 unofficial::apr::apr-1)
  if(TARGET ${t})
    set(MPROC_APR_TARGET ${t})
    break()
  endif()
endforeach()
if(NOT MPROC_APR_TARGET)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(MPROC_APR REQUIRED IMPORTED_TARGET GLOBAL apr-1)
  set(MPROC_APR_TARGET PkgConfig::MPROC_APR)
endif()
set(MPROC_APR_PC apr-1)

if(WIN32)
  set(MPROC_CRYPTO_TARGET "")
else()
  # HMAC for the connection handshake (posix/os_crypto.c).
  find_package(OpenSSL REQUIRED COMPONENTS Crypto)
  set(MPROC_CRYPTO_TARGET OpenSSL::Crypto)
  string(APPEND MPROC_APR_PC " libcrypto")
endif()
