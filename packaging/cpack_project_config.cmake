# Read by cpack at packaging time (CPACK_PROJECT_CONFIG_FILE), once per generator.
# A .deb must be staged from a tree configured for /usr: see RingdCPack.cmake for why.
if(CPACK_GENERATOR STREQUAL "DEB" AND NOT CPACK_RINGD_CONFIGURED_PREFIX STREQUAL "/usr")
  message(FATAL_ERROR
    "ringd: this build tree is configured with CMAKE_INSTALL_PREFIX=${CPACK_RINGD_CONFIGURED_PREFIX}; a .deb "
    "needs /usr (multiarch plugin dir, /etc/ringd, the compiled-in plugin_dir). Configure a tree for it:\n"
    "  cmake -S . -B build-deb -DCMAKE_INSTALL_PREFIX=/usr -DRINGD_BUILD_TESTS=OFF\n"
    "  cmake --build build-deb -j && cpack --config build-deb/CPackConfig.cmake -B build-deb/packages")
endif()
