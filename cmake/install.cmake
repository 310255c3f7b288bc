# `cmake --install` and the Debian package (docs/install.md).
#
# Into the GNUInstallDirs places under the prefix (/usr/local by default,
# /usr in the package):
#   bin/                        mini-vmm, mini-vmm-ctl, plot-reclaim
#   share/man/man1/             mini-vmm.1.gz (from docs/mini-vmm.1)
#   share/mini-vmm/             grafana-dashboard.json
#   share/doc/mini-vmm/         README.md, CHANGELOG.md, LICENSE, docs/
# The package: CPack's DEB generator, its library dependencies found by
# dpkg-shlibdeps, python3 for the tools. Built and checked by the test
# package/deb (tests/install/package.sh): `cpack -G DEB` in the build tree.
include(GNUInstallDirs)

# Installing does not build: build first (tools/build.sh), then install or
# package. Without this, `make install` and cpack's first step walk every
# target of the tree (~20 s here) to check it is up to date.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

# The man page: docs/mini-vmm.1 is the source (hand-written roff, see
# docs/install.md); the build puts the version in and compresses it as
# Debian does (gzip -9n: no name or time stamp, reproducible).
configure_file(${CMAKE_SOURCE_DIR}/docs/mini-vmm.1 ${CMAKE_BINARY_DIR}/mini-vmm.1 @ONLY)
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/mini-vmm.1.gz
                   COMMAND sh -c "gzip -9n -c mini-vmm.1 > mini-vmm.1.gz"
                   DEPENDS ${CMAKE_BINARY_DIR}/mini-vmm.1
                   WORKING_DIRECTORY ${CMAKE_BINARY_DIR} VERBATIM)
add_custom_target(minivmm_man ALL DEPENDS ${CMAKE_BINARY_DIR}/mini-vmm.1.gz)

install(TARGETS mini-vmm RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(PROGRAMS ${CMAKE_SOURCE_DIR}/tools/mini-vmm-ctl ${CMAKE_SOURCE_DIR}/tools/plot-reclaim
        DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_BINARY_DIR}/mini-vmm.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CMAKE_SOURCE_DIR}/docs/grafana-dashboard.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/mini-vmm)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/CHANGELOG.md
              ${CMAKE_SOURCE_DIR}/LICENSE
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs
        FILES_MATCHING PATTERN "*.md" PATTERN "*.png")

# The Debian package. Its version is the project's; the library
# dependencies are what dpkg-shlibdeps finds mini-vmm linked against
# (liburing2, libcap-ng0, libseccomp2, libmicrohttpd12, libjson-c5, libc6).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mini-vmm)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_CONTACT "mini-vmm developers")
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# mini-vmm-ctl and plot-reclaim are Python; the plot needs matplotlib.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3-matplotlib")
# The long description; CPack puts the summary line above it and indents it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "mini-vmm boots a Linux guest under KVM with a virtio-balloon whose free
page reporting returns the memory the guest frees to the host, through an
io_uring discard queue. It has a Firecracker-style control API, Prometheus
metrics and a dashboard; mini-vmm-ctl drives it.")
include(CPack)
