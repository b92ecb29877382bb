# Install rules (`cmake --install BUILD`) and the Debian package
# (`cpack -G DEB` in BUILD). Included by the top-level CMakeLists.txt.
#
# Installed: switchyard and switchyard-enqueue (not fakeprov or the benches),
# man pages made from their --help texts, the systemd unit, the example
# config as /etc/switchyard/switchyard.conf and the docs. The .deb installs
# under /usr whatever CMAKE_INSTALL_PREFIX says; /etc is /etc in both.
include(GNUInstallDirs)

install(TARGETS switchyard switchyard-enqueue RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Man pages: the programs' own --help texts (packaging/help2man.sh), so they
# cannot drift from the code. Built with the binaries (ALL).
set(SY_MAN_DIR ${CMAKE_BINARY_DIR}/man)
set(SY_HELP2MAN ${CMAKE_SOURCE_DIR}/packaging/help2man.sh)
foreach(prog IN ITEMS switchyard switchyard-enqueue)
  if(prog STREQUAL "switchyard")
    set(summary "image-generation worker pool fed by Kafka")
  else()
    set(summary "put JSONL jobs on switchyard's Kafka topic and follow their results")
  endif()
  add_custom_command(OUTPUT ${SY_MAN_DIR}/${prog}.1
    COMMAND ${CMAKE_COMMAND} -E make_directory ${SY_MAN_DIR}
    # A sanitizer build's leak check has nothing to say about --help.
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0
            sh ${SY_HELP2MAN} $<TARGET_FILE:${prog}> ${prog} "${summary}" ${SY_MAN_DIR}/${prog}.1
    DEPENDS ${prog} ${SY_HELP2MAN}
    COMMENT "Man page ${prog}.1 from ${prog} --help"
    VERBATIM)
  list(APPEND SY_MAN_PAGES ${SY_MAN_DIR}/${prog}.1)
endforeach()
add_custom_target(man ALL DEPENDS ${SY_MAN_PAGES})
install(FILES ${SY_MAN_PAGES} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# The systemd unit names the binary by absolute path: written at install
# time, when CMAKE_INSTALL_PREFIX is the final one (/usr for the .deb).
set(SY_UNIT_OUT ${CMAKE_BINARY_DIR}/packaging/switchyard@.service)
install(CODE "
  file(READ \"${CMAKE_SOURCE_DIR}/contrib/systemd/switchyard@.service\" sy_unit)
  string(REPLACE \"/usr/local/bin/\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/\" sy_unit \"\${sy_unit}\")
  file(WRITE \"${SY_UNIT_OUT}\" \"\${sy_unit}\")
")
install(FILES ${SY_UNIT_OUT} DESTINATION lib/systemd/system)

# The example config where the unit looks (/etc/switchyard/NAME.conf). A
# `cmake --install` never overwrites an existing one; in the .deb it is a
# conffile, so dpkg keeps local edits on upgrade.
install(CODE "
  if(EXISTS \"\$ENV{DESTDIR}/etc/switchyard/switchyard.conf\")
    message(STATUS \"Kept (exists): \$ENV{DESTDIR}/etc/switchyard/switchyard.conf\")
  else()
    file(INSTALL \"${CMAKE_SOURCE_DIR}/conf/switchyard.conf\" DESTINATION /etc/switchyard
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  endif()
")

install(FILES README.md conf/README-config.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES contrib/systemd/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}/systemd)
# Alert rules and dashboards, as far as the tree has them.
foreach(d IN ITEMS prometheus grafana)
  if(EXISTS ${CMAKE_SOURCE_DIR}/contrib/${d})
    install(DIRECTORY contrib/${d}/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/${d})
  endif()
endforeach()

# The .deb. Depends: the Debian 12 packages of the libraries the two binaries
# link (the package test checks every DT_NEEDED library is covered).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME switchyard)
set(CPACK_PACKAGE_VENDOR switchyard)
set(CPACK_PACKAGE_CONTACT "switchyard maintainers <dev@switchyard>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "image-generation worker pool fed by Kafka")
set(CPACK_PACKAGE_DESCRIPTION "switchyard consumes image-generation jobs from a Kafka topic, runs them on\n\
providers (kie.ai, Replicate) with rate limits, breakers and retries, and\n\
publishes each result to a Kafka topic. Includes switchyard-enqueue.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
  "libc6, libconfig9, libcurl4, libgnutls30, libjson-c5, libmicrohttpd12, librdkafka1, libuv1")
set(CPACK_STRIP_FILES ON)
# Install into a staging DESTDIR with the final prefix, so that /etc stays
# /etc and the unit above gets /usr/bin.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
file(WRITE ${CMAKE_BINARY_DIR}/packaging/conffiles "/etc/switchyard/switchyard.conf\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/packaging/conffiles)
include(CPack)
