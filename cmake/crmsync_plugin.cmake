# crmsync_add_plugin(<name> SOURCES <src>... [LINK <libs>...]
#                    [OUTPUT_DIRECTORY <dir>] [INSTALL])
#
# Builds a crmsync CRM adapter as a loadable shared library named exactly <name>
# (no "lib" prefix, no suffix), the file the engine loads from plugins.dir.
#   SOURCES           the adapter's sources; one of them has CRMSYNC_PLUGIN(...)
#   LINK              extra libraries, linked privately
#   OUTPUT_DIRECTORY  where the plugin file lands (default: CRMSYNC_PLUGIN_OUTPUT_DIR
#                     when set, else the current binary folder)
#   INSTALL           also install it to <prefix>/lib/crmsync/plugins, the folder an
#                     installed engine looks in when plugins.dir is not set
#
# The in-tree plugins use this same helper that the installed SDK package
# (find_package(crmsync)) gives third parties, so the package is exercised by
# our own build. It links crmsync::sdk: the alias of the SDK target in our
# build, the imported target in the installed package.
include_guard(GLOBAL)

function(crmsync_add_plugin name)
  cmake_parse_arguments(ARG "INSTALL" "OUTPUT_DIRECTORY" "SOURCES;LINK" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "crmsync_add_plugin(${name}): SOURCES is required")
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "crmsync_add_plugin(${name}): unexpected arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET crmsync::sdk)
    message(FATAL_ERROR "crmsync_add_plugin(${name}): no crmsync::sdk target; "
                        "call find_package(crmsync REQUIRED) first")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE crmsync::sdk ${ARG_LINK})
  target_compile_features(${name} PRIVATE cxx_std_17)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    SUFFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  elseif(DEFINED CRMSYNC_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${CRMSYNC_PLUGIN_OUTPUT_DIR}")
  endif()
  # Undefined symbols in a plugin are a build error, not a load-time surprise.
  target_link_options(${name} PRIVATE "LINKER:--no-undefined")
  if(ARG_INSTALL)
    install(TARGETS ${name} LIBRARY DESTINATION "lib/crmsync/plugins")
  endif()
endfunction()
