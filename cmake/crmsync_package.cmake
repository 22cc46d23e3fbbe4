# The Debian package: `cpack -G DEB` in a build folder (or the `deb` target)
# makes crmsync_<version>_<arch>.deb holding what `cmake --install` installs
# (the binary with the dashboard built in, the plugins and the mappings, the SDK
# with its template, the systemd unit) under /usr, plus the configuration in
# /etc/crmsync (conffiles) and the maintainer scripts in deploy/debian/ (the
# crmsync system user, token files, no automatic start). The engine finds its
# plugins relative to its own path (<bin>/../lib/crmsync/plugins), so the tree
# works at /usr and unpacked anywhere (tests/e2e/package_test.cpp).

# The unit, with ExecStart pointing at the prefix it is installed under
# (deploy/crmsync.service names /usr/local/bin, the by-hand install); in
# <prefix>/lib/systemd/system, which systemd searches for /usr and /usr/local.
install(CODE "
  file(READ \"${PROJECT_SOURCE_DIR}/deploy/crmsync.service\" crmsync_unit)
  string(FIND \"\${crmsync_unit}\" \"ExecStart=/usr/local/bin/crmsync \" crmsync_at)
  if(crmsync_at EQUAL -1)
    message(FATAL_ERROR \"deploy/crmsync.service: no 'ExecStart=/usr/local/bin/crmsync ' line to point at \${CMAKE_INSTALL_PREFIX}/bin\")
  endif()
  string(REPLACE \"ExecStart=/usr/local/bin/crmsync \" \"ExecStart=\${CMAKE_INSTALL_PREFIX}/bin/crmsync \"
         crmsync_unit \"\${crmsync_unit}\")
  file(WRITE \"${CMAKE_BINARY_DIR}/unit-staging/crmsync.service\" \"\${crmsync_unit}\")
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES \"${CMAKE_BINARY_DIR}/unit-staging/crmsync.service\")
")

# /etc/crmsync: only in the package (component deb-config, left out of a plain
# `cmake --install`, which must not write to /etc). The production sample
# config, and the generic-rest-crm mappings it names relative to itself.
install(FILES "${PROJECT_SOURCE_DIR}/deploy/crmsync.production.properties"
  DESTINATION /etc/crmsync RENAME crmsync.properties
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
  COMPONENT deb-config EXCLUDE_FROM_ALL)
file(GLOB crmsync_mappings CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/config/crms/*.json")
install(FILES ${crmsync_mappings} DESTINATION /etc/crmsync/crms
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
  COMPONENT deb-config EXCLUDE_FROM_ALL)
set(crmsync_conffiles "/etc/crmsync/crmsync.properties\n")
foreach(mapping ${crmsync_mappings})
  get_filename_component(name "${mapping}" NAME)
  string(APPEND crmsync_conffiles "/etc/crmsync/crms/${name}\n")
endforeach()
file(WRITE "${CMAKE_BINARY_DIR}/deb-control/conffiles" "${crmsync_conffiles}")
foreach(script postinst prerm postrm)
  file(COPY "${PROJECT_SOURCE_DIR}/deploy/debian/${script}" DESTINATION "${CMAKE_BINARY_DIR}/deb-control"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                        WORLD_READ WORLD_EXECUTE)
endforeach()

# cpack runs the `preinstall` target first; without this it depends on `all`
# (tests, benchmarks). The `deb` target below builds what the package holds.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME crmsync)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "crmsync")
set(CPACK_PACKAGE_CONTACT "crmsync maintainers <crmsync@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "keeps a real-estate platform and a CRM in step, both ways")
set(CPACK_PACKAGE_DESCRIPTION
    "An integration engine: events from the platform are queued durably and synced to the CRM through an adapter plugin (mock-crm, generic-rest-crm with mapping files); CRM webhooks flow back. Ships the crmsync binary with its dashboard, the plugins, the plugin SDK (headers, CMake package, template) and a hardened systemd unit.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# Everything `cmake --install` installs, plus /etc/crmsync.
set(CPACK_INSTALL_CMAKE_PROJECTS
    "${CMAKE_BINARY_DIR};crmsync;ALL;/"
    "${CMAKE_BINARY_DIR};crmsync;deb-config;/")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # crmsync_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# The shared libraries' packages (Poco, SQLite, libpq, OpenSSL) from the ELF
# files; dpkg-shlibdeps is in dpkg-dev.
find_program(CRMSYNC_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(CRMSYNC_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  message(STATUS "dpkg-shlibdeps not found (apt-get install dpkg-dev): the .deb will not "
                 "list its shared libraries' packages in Depends")
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_BINARY_DIR}/deb-control/conffiles"
    "${CMAKE_BINARY_DIR}/deb-control/postinst"
    "${CMAKE_BINARY_DIR}/deb-control/prerm"
    "${CMAKE_BINARY_DIR}/deb-control/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)

# `cmake --build <dir> --target deb`: the package, after building what it holds.
add_custom_target(deb
  COMMAND "${CMAKE_CPACK_COMMAND}" -G DEB --config "${CMAKE_BINARY_DIR}/CPackConfig.cmake"
  WORKING_DIRECTORY "${CMAKE_BINARY_DIR}"
  COMMENT "Packaging crmsync_${PROJECT_VERSION}_*.deb"
  VERBATIM)
add_dependencies(deb crmsync mock-crm generic-rest-crm crmsync_sdk)
