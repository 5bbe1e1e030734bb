# Writes mproc.pc for the kind of library being built.
#
# Plain `pkg-config --cflags --libs mproc` must link whatever kind was
# installed, so a static mproc's Libs carry what its link needs and a shared
# one's Libs.private do (for --static). That list is computed from the
# libraries mproc really links, not written by hand: APR as the build found
# it (its .pc or its CMake package), OpenSSL's libcrypto and the system
# libraries (pthread/dl/rt on POSIX, ws2_32/bcrypt/advapi32 on Windows). No
# Requires: would bring APR's compile flags into Cflags, and a Windows APR
# built with CMake has no apr-1.pc to require. No public header uses APR.
#
# The prefix is found from the .pc file's own directory (${pcfiledir}), so
# the install can move (DESTDIR staging, relocated prefixes), for any
# CMAKE_INSTALL_LIBDIR: lib, lib64, Debian's multiarch lib/<triplet>. An
# absolute CMAKE_INSTALL_LIBDIR or INCLUDEDIR is written as it is.

# Appends to out_var the linker flags for one link item of mproc.
function(_mproc_pc_item out_var item)
  set(flags ${${out_var}})
  if(item MATCHES "^\\$<LINK_ONLY:(.*)>$")
    set(item "${CMAKE_MATCH_1}")
  endif()
  if(item MATCHES "^\\$<")
    # Configuration-dependent items: take the release side of
    # $<$<CONFIG:..>:x> / $<$<NOT:$<CONFIG:..>>:x> forms, drop the rest.
    if(item MATCHES "^\\$<\\$<NOT:\\$<CONFIG:[^>]*>>:(.*)>$")
      set(item "${CMAKE_MATCH_1}")
    else()
      return()
    endif()
  endif()
  if(TARGET ${item})
    get_target_property(aliased ${item} ALIASED_TARGET)
    if(aliased)
      set(item ${aliased})
    endif()
    get_target_property(type ${item} TYPE)
    get_target_property(imported ${item} IMPORTED)
    if(imported AND NOT type STREQUAL "INTERFACE_LIBRARY")
      set(loc "")
      foreach(prop IMPORTED_IMPLIB_RELEASE IMPORTED_IMPLIB
                   IMPORTED_LOCATION_RELEASE IMPORTED_LOCATION_RELWITHDEBINFO
                   IMPORTED_LOCATION_NOCONFIG IMPORTED_LOCATION
                   IMPORTED_LOCATION_DEBUG)
        get_target_property(loc ${item} ${prop})
        if(loc)
          break()
        endif()
      endforeach()
      if(loc)
        _mproc_pc_file(flags "${loc}")
      endif()
    endif()
    get_target_property(deps ${item} INTERFACE_LINK_LIBRARIES)
    if(deps)
      foreach(d IN LISTS deps)
        _mproc_pc_item(flags "${d}")
      endforeach()
    endif()
  elseif(item MATCHES "^-")
    list(APPEND flags "${item}")
  elseif(IS_ABSOLUTE "${item}")
    _mproc_pc_file(flags "${item}")
  elseif(NOT item STREQUAL "")
    list(APPEND flags "-l${item}")
  endif()
  set(${out_var} ${flags} PARENT_SCOPE)
endfunction()

# A library file as -L<dir> -l<name> (the -L left out for the toolchain's
# own directories), or the path itself when it has no such name.
function(_mproc_pc_file out_var path)
  set(flags ${${out_var}})
  get_filename_component(dir "${path}" DIRECTORY)
  get_filename_component(file "${path}" NAME)
  if(file MATCHES "^lib(.+)\\.(a|so[.0-9]*|dylib|dll\\.a)$"
     OR (NOT MSVC AND file MATCHES "^(.+)\\.lib$"))
    set(name "${CMAKE_MATCH_1}")
    if(NOT dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
      list(APPEND flags "-L${dir}")
    endif()
    list(APPEND flags "-l${name}")
  else()
    list(APPEND flags "${path}")
  endif()
  set(${out_var} ${flags} PARENT_SCOPE)
endfunction()

# mproc_write_pc(<target> <output file>)
function(mproc_write_pc target output)
  get_target_property(items ${target} LINK_LIBRARIES)
  set(flags "")
  foreach(item IN LISTS items)
    _mproc_pc_item(flags "${item}")
  endforeach()
  # A -L or -l named twice is kept at its first place, except that a library
  # named again later is moved there (static link order).
  set(dedup "")
  foreach(f IN LISTS flags)
    if(f MATCHES "^-l")
      list(REMOVE_ITEM dedup "${f}")
      list(APPEND dedup "${f}")
    elseif(NOT f IN_LIST dedup)
      list(APPEND dedup "${f}")
    endif()
  endforeach()
  list(JOIN dedup " " deps)

  set(pcdir "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
  if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(prefix "${CMAKE_INSTALL_PREFIX}")
    set(libdir "${CMAKE_INSTALL_LIBDIR}")
  else()
    # From <prefix>/<libdir>/pkgconfig back up to <prefix>.
    file(RELATIVE_PATH up "/mproc-prefix/${pcdir}" "/mproc-prefix")
    string(REGEX REPLACE "/$" "" up "${up}")
    set(prefix "\${pcfiledir}/${up}")
    set(libdir "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  endif()
  if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(includedir "${CMAKE_INSTALL_INCLUDEDIR}")
  else()
    set(includedir "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
  endif()
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "STATIC_LIBRARY")
    set(libs "-L\${libdir} -lmproc ${deps}")
    set(libs_private "")
  else()
    set(libs "-L\${libdir} -lmproc")
    set(libs_private "${deps}")
  endif()
  string(STRIP "${libs}" libs)
  set(MPROC_PC_PREFIX "${prefix}")
  set(MPROC_PC_LIBDIR "${libdir}")
  set(MPROC_PC_INCLUDEDIR "${includedir}")
  set(MPROC_PC_LIBS "${libs}")
  set(MPROC_PC_LIBS_PRIVATE "${libs_private}")
  configure_file(${PROJECT_SOURCE_DIR}/cmake/mproc.pc.in ${output} @ONLY)
endfunction()
