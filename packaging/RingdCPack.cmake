# CPack: `cpack -G DEB` (or `cmake --build build --target package`) builds ringd_<version>-1_<arch>.deb.
#
# Build it from a tree configured with -DCMAKE_INSTALL_PREFIX=/usr: GNUInstallDirs picks the multiarch libdir
# and /etc only for that prefix, and ringd compiles its default plugin_dir in at configure time, so a package
# staged from a /usr/local tree would be wrong in ways a later `--prefix /usr` cannot fix. cpack refuses it
# (packaging/cpack_project_config.cmake).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ringd)
set(CPACK_PACKAGE_VENDOR "ringd developers")
set(CPACK_PACKAGE_CONTACT "ringd maintainers <ringd@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION
  "ringd serves TCP, UDP and unix-socket listeners from one io_uring event loop per worker thread. What each
listener does is a handler plugin (a shared object with a small C ABI), configured in /etc/ringd/ringd.yaml
and /etc/ringd/conf.d/. Ships the echo-upper, udp-echo, time-of-day, remote-cmd and tcp-proxy plugins, the ringd-cmd
client, the ringdctl admin client, man pages, a hardened systemd service (live reload with `systemctl reload ringd`), an optional socket unit, and
the plugin SDK (headers, CMake package ringd-sdk, pkg-config file ringd-sdk.pc, and the plugin test kit
ringd::testkit for plugins' unit tests).")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
# Stage with DESTDIR, so absolute destinations (/etc/ringd) land in the package, never on the build machine.
set(CPACK_SET_DESTDIR ON)
# Debian policy: installed binaries are stripped (the build tree keeps the symbols for debugging).
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_CHECKSUM SHA256)
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_CURRENT_LIST_DIR}/cpack_project_config.cmake)
set(CPACK_RINGD_CONFIGURED_PREFIX ${CMAKE_INSTALL_PREFIX}) # read by cpack_project_config.cmake

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps derives Depends from the ELF files: libc6, libstdc++6, liburing2, libyaml-cpp0.7,
# libspdlog1.10-fmt9 (provided by libspdlog1.10), libfmt9, libsystemd0, with the versions this build needs.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The unit uses ProtectProc= (systemd >= 247); ringd itself also runs without systemd, so only recommended.
# The maintainer scripts' deb-systemd-helper comes from init-system-helpers (priority required).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd (>= 247)")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "cmake, pkgconf, g++")

# Maintainer scripts and conffiles. dpkg keeps an admin's edits to a conffile across upgrades (asking on
# conflicts); conf.d/ drop-ins are the admin's own files and are never touched by the package.
cmake_path(ABSOLUTE_PATH RINGD_INSTALL_SYSCONFDIR BASE_DIRECTORY ${CMAKE_INSTALL_PREFIX}
  OUTPUT_VARIABLE ringd_cpack_sysconfdir)
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/debian/conffiles
  CONTENT "${ringd_cpack_sysconfdir}/ringd/ringd.yaml\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_CURRENT_BINARY_DIR}/debian/conffiles
  ${CMAKE_CURRENT_LIST_DIR}/debian/postinst
  ${CMAKE_CURRENT_LIST_DIR}/debian/prerm
  ${CMAKE_CURRENT_LIST_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

# Source packages of this tree are made with git, not CPack.
set(CPACK_SOURCE_GENERATOR "")
include(CPack)
