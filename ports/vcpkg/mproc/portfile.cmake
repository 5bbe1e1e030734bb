# Overlay port building mproc from this checkout:
#   vcpkg install mproc --overlay-ports=<repo>/ports/vcpkg
set(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../../..")

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DMPROC_BUILD_TESTS=OFF
    -DMPROC_BUILD_EXAMPLES=OFF
    -DMPROC_BUILD_BENCH=OFF
    -DMPROC_WERROR=OFF)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH lib/cmake/mproc)
vcpkg_fixup_pkgconfig()
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug/include")
file(INSTALL "${SOURCE_PATH}/README.md" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}"
     RENAME copyright)
file(WRITE "${CURRENT_PACKAGES_DIR}/share/${PORT}/usage"
     "mproc provides CMake targets:\n\n  find_package(mproc CONFIG REQUIRED)\n  target_link_libraries(main PRIVATE mproc::mproc)\n")
