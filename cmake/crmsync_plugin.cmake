# crmsync_add_plugin(<name> SOURCES <src>... [LINK <libs>...])
#
# Builds a crmsync CRM adapter as a loadable shared library named exactly <name>
# (no "lib" prefix, no suffix), the file the engine loads from plugins.dir.
# The in-tree plugins use this same helper that the installed SDK package gives
# third parties, so the package is exercised by our own build.
function(crmsync_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES;LINK" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "crmsync_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  if(TARGET crmsync::sdk)
    target_link_libraries(${name} PRIVATE crmsync::sdk ${ARG_LINK})
  else()
    target_link_libraries(${name} PRIVATE crmsync_sdk ${ARG_LINK})
  endif()
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
endfunction()
