# Installs mproc and builds and runs small consumers against the install, for
# the layouts users hit. SCENARIO:
#   static   the build tree MPROC_BUILD_DIR (a static mproc) installed into
#            a scratch prefix; consumers through find_package (one directory
#            and two sibling ones) and through plain and --static pkg-config.
#   shared   mproc configured and built shared, installed with DESTDIR
#            staging, CMAKE_INSTALL_PREFIX=/usr and a Debian multiarch
#            libdir; consumers through find_package (its dependencies made
#            unfindable: a shared mproc must not need them) and plain
#            pkg-config. Also checks the soname and, by configuring only, the
#            .pc of an absolute CMAKE_INSTALL_LIBDIR.
#   fetch    mproc as a FetchContent subproject of a consumer.
#   mingw    as static, for the mingw cross build: consumers through
#            find_package and plain pkg-config, without defining MP_STATIC,
#            run under the emulator (Wine).
# Inputs: SCENARIO MPROC_SOURCE_DIR WORK_DIR C_COMPILER, and MPROC_BUILD_DIR
# (static, mingw), CONFIG, TOOLCHAIN_FILE MINGW_DEPS EMULATOR (mingw).
foreach(v SCENARIO MPROC_SOURCE_DIR WORK_DIR C_COMPILER)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "${v} is required")
  endif()
endforeach()
if(NOT CONFIG)
  set(CONFIG Debug)
endif()
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(consumer_src ${MPROC_SOURCE_DIR}/tests/consumer)
set(gen_args -DCMAKE_BUILD_TYPE=${CONFIG} -DCMAKE_C_COMPILER=${C_COMPILER})
if(TOOLCHAIN_FILE)
  list(APPEND gen_args -DCMAKE_TOOLCHAIN_FILE=${TOOLCHAIN_FILE}
       -DMPROC_MINGW_DEPS=${MINGW_DEPS})
endif()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

# Runs a consumer program and checks that its child reported back.
function(run_consumer what exe)
  run(${EMULATOR} ${exe})
  if(NOT last_output MATCHES "consumer ok: mproc 0\\.2\\.")
    message(FATAL_ERROR "${what} printed: ${last_output}")
  endif()
  message(STATUS "${what}: ${last_output}")
endfunction()

# Configures and builds tests/consumer against `prefix` (CMAKE_PREFIX_PATH)
# in mode `mode`; extra arguments go to the configure step.
function(cmake_consumer name mode prefix)
  set(bin ${WORK_DIR}/${name})
  run(${CMAKE_COMMAND} -S ${consumer_src} -B ${bin} ${gen_args}
      -DCONSUME_WITH=${mode} -DCMAKE_PREFIX_PATH=${prefix} ${ARGN})
  run(${CMAKE_COMMAND} --build ${bin})
  set(bin ${bin} PARENT_SCOPE)
endfunction()

# Compiles consumer.c with exactly what `pkg-config <flags> mproc` prints,
# the .pc found under pcdir only (plus the mingw dependencies' .pc files).
function(pkgconfig_consumer name pcdir)
  set(libdir_path ${pcdir})
  if(MINGW_DEPS)
    string(APPEND libdir_path ":${MINGW_DEPS}/lib/pkgconfig")
  endif()
  set(env ${CMAKE_COMMAND} -E env PKG_CONFIG_LIBDIR=${libdir_path}
      --unset=PKG_CONFIG_PATH --unset=PKG_CONFIG_SYSROOT_DIR)
  run(${env} pkg-config --cflags --libs ${ARGN} mproc)
  string(STRIP "${last_output}" flags)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  if(flags MATCHES "MP_STATIC|_GNU_SOURCE|-DLINUX")
    message(FATAL_ERROR "pkg-config ${ARGN} mproc gives compile flags: ${flags}")
  endif()
  set(exe ${WORK_DIR}/${name}${EXE_SUFFIX})
  set(static_rt "")
  if(MINGW_DEPS)
    set(static_rt -static)  # no mingw runtime DLLs under Wine
  endif()
  run(${C_COMPILER} -std=c11 ${consumer_src}/consumer.c -o ${exe} ${flags}
      ${static_rt})
  set(exe ${exe} PARENT_SCOPE)
endfunction()

if(SCENARIO STREQUAL "static" OR SCENARIO STREQUAL "mingw")
  set(prefix ${WORK_DIR}/prefix)
  run(${CMAKE_COMMAND} --install ${MPROC_BUILD_DIR} --prefix ${prefix}
      --config ${CONFIG})
  if(SCENARIO STREQUAL "mingw")
    set(EXE_SUFFIX .exe)
  endif()
  file(STRINGS ${prefix}/include/mproc/config.h static_line
       REGEX "^#define MP_STATIC")
  if(NOT static_line)
    message(FATAL_ERROR "a static install's mproc/config.h lacks MP_STATIC")
  endif()

  set(extra "")
  if(SCENARIO STREQUAL "mingw")
    # The toolchain confines package searches to its root paths (the mingw
    # sysroot and dependencies): a cross consumer names mproc's directory.
    set(extra -Dmproc_DIR=${prefix}/lib/cmake/mproc)
  endif()
  cmake_consumer(cmake-one cmake ${prefix} ${extra})
  run_consumer("find_package" ${bin}/consumer${EXE_SUFFIX})
  if(SCENARIO STREQUAL "static")
    cmake_consumer(cmake-siblings siblings ${prefix})
    run_consumer("find_package, sibling a" ${bin}/siblings/a/consumer_a)
    run_consumer("find_package, sibling b" ${bin}/siblings/b/consumer_b)
  endif()
  pkgconfig_consumer(pc-plain ${prefix}/lib/pkgconfig)
  run_consumer("pkg-config" ${exe})
  pkgconfig_consumer(pc-static ${prefix}/lib/pkgconfig --static)
  run_consumer("pkg-config --static" ${exe})

elseif(SCENARIO STREQUAL "shared")
  set(build ${WORK_DIR}/mproc-build)
  set(destdir ${WORK_DIR}/stage)
  set(multiarch lib/x86_64-linux-gnu)
  run(${CMAKE_COMMAND} -S ${MPROC_SOURCE_DIR} -B ${build} ${gen_args}
      -DBUILD_SHARED_LIBS=ON -DBUILD_TESTING=OFF -DMPROC_BUILD_EXAMPLES=OFF
      -DMPROC_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX=/usr
      -DCMAKE_INSTALL_LIBDIR=${multiarch})
  run(${CMAKE_COMMAND} --build ${build})
  run(${CMAKE_COMMAND} -E env DESTDIR=${destdir}
      ${CMAKE_COMMAND} --install ${build} --config ${CONFIG})
  set(root ${destdir}/usr)
  foreach(f ${multiarch}/libmproc.so.0.2 ${multiarch}/libmproc.so.0.2.0
            ${multiarch}/pkgconfig/mproc.pc ${multiarch}/cmake/mproc/mprocConfig.cmake
            include/mproc/config.h share/doc/mproc/LICENSE
            share/doc/mproc/guide.md share/doc/mproc/examples/pool.c)
    if(NOT EXISTS ${root}/${f})
      message(FATAL_ERROR "the staged install lacks /usr/${f}")
    endif()
  endforeach()
  file(STRINGS ${root}/include/mproc/config.h static_line
       REGEX "^#define MP_STATIC")
  if(static_line)
    message(FATAL_ERROR "a shared install's mproc/config.h defines MP_STATIC")
  endif()

  # None of mproc's dependencies can be found: the shared library's package
  # must not look for them.
  cmake_consumer(cmake-shared cmake ${root}
                 -DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=ON
                 -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON
                 -DCMAKE_DISABLE_FIND_PACKAGE_Threads=ON
                 -DCMAKE_DISABLE_FIND_PACKAGE_apr=ON
                 -DCMAKE_DISABLE_FIND_PACKAGE_unofficial-apr=ON)
  run_consumer("find_package (shared)" ${bin}/consumer)
  pkgconfig_consumer(pc-shared ${root}/${multiarch}/pkgconfig)
  set(ENV{LD_LIBRARY_PATH} ${root}/${multiarch})
  run_consumer("pkg-config (shared)" ${exe})
  unset(ENV{LD_LIBRARY_PATH})

  # An absolute CMAKE_INSTALL_LIBDIR is written as it is (configure only).
  set(abs ${WORK_DIR}/abs-libdir)
  run(${CMAKE_COMMAND} -S ${MPROC_SOURCE_DIR} -B ${abs} ${gen_args}
      -DBUILD_SHARED_LIBS=ON -DBUILD_TESTING=OFF -DMPROC_BUILD_EXAMPLES=OFF
      -DMPROC_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX=/opt/mproc
      -DCMAKE_INSTALL_LIBDIR=/opt/mproc-libs/lib)
  file(READ ${abs}/mproc.pc pc)
  if(NOT pc MATCHES "\nlibdir=/opt/mproc-libs/lib\n"
     OR NOT pc MATCHES "\nincludedir=\\\${prefix}/include\n"
     OR NOT pc MATCHES "^prefix=/opt/mproc\n")
    message(FATAL_ERROR "mproc.pc for an absolute libdir:\n${pc}")
  endif()

elseif(SCENARIO STREQUAL "fetch")
  set(bin ${WORK_DIR}/fetch)
  run(${CMAKE_COMMAND} -S ${consumer_src}/fetch -B ${bin} ${gen_args}
      -DMPROC_SOURCE_DIR=${MPROC_SOURCE_DIR})
  run(${CMAKE_COMMAND} --build ${bin})
  run_consumer("FetchContent" ${bin}/consumer)

else()
  message(FATAL_ERROR "unknown SCENARIO ${SCENARIO}")
endif()
