# `cmake --install` (docs/install.md).
#
# Into the GNUInstallDirs places under the prefix (/usr/local by default,
# /usr in the package):
#   bin/                        mini-vmm, mini-vmm-ctl, plot-reclaim
#   share/man/man1/             mini-vmm.1.gz (from docs/mini-vmm.1)
#   share/mini-vmm/             grafana-dashboard.json
#   share/doc/mini-vmm/         README.md, CHANGELOG.md, LICENSE, docs/
include(GNUInstallDirs)

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
