// crmsync/plugin.h: what makes a shared library a crmsync plugin.
//
// A plugin writes one line, at namespace scope in one source file:
//
//   CRMSYNC_PLUGIN(my_crm::MyAdapter, "my-crm", "1.2.0")
//
// It emits two things the engine reads in this order:
//  1. crmsync_plugin_descriptor(), a plain extern "C" function returning a
//     CrmsyncPluginDescriptor (size, ABI major/minor, C++ runtime tag, compiler,
//     name, version, class name). The engine checks it before touching any C++.
//  2. A Poco ClassLoader manifest named after the ABI major
//     (pocoBuildManifestcrmsync_abi_1), exporting the adapter class; a plugin
//     built for another major has no manifest of that name and fails by name.
#ifndef CRMSYNC_PLUGIN_H_
#define CRMSYNC_PLUGIN_H_

#include <cstdint>

#include <Poco/ClassLibrary.h>

#include "crmsync/adapter.h"
#include "crmsync/export.h"
#include "crmsync/version.h"

extern "C" {

/// The plain descriptor every plugin exports. Only ever appended to; the engine
/// reads no field beyond struct_size.
struct CrmsyncPluginDescriptor {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  const char* abi_tag;     ///< CRMSYNC_ABI_TAG the plugin was built with.
  const char* compiler;    ///< CRMSYNC_COMPILER_ID, informational.
  const char* name;        ///< The plugin's name (crm.plugin value).
  const char* version;     ///< The plugin's own version.
  const char* class_name;  ///< The class exported in the manifest.
};

/// The type of the descriptor entry point.
typedef const CrmsyncPluginDescriptor* (*CrmsyncPluginDescriptorFn)(void);

}  // extern "C"

/// The descriptor entry point's symbol name.
#define CRMSYNC_DESCRIPTOR_SYMBOL "crmsync_plugin_descriptor"

#define CRMSYNC_JOIN2(a, b) a##b
#define CRMSYNC_JOIN(a, b) CRMSYNC_JOIN2(a, b)
/// The manifest name for this ABI major ("crmsync_abi_1").
#define CRMSYNC_MANIFEST_ID CRMSYNC_JOIN(crmsync_abi_, CRMSYNC_ABI_MAJOR)
#define CRMSYNC_MANIFEST_NAME CRMSYNC_STRINGIFY(CRMSYNC_MANIFEST_ID)

/// Declares a plugin: its adapter class, its name and its version.
#define CRMSYNC_PLUGIN(AdapterClass, plugin_name, plugin_version)                            \
  extern "C" CRMSYNC_EXPORT const CrmsyncPluginDescriptor* crmsync_plugin_descriptor(void) { \
    static const CrmsyncPluginDescriptor descriptor = {                                      \
        static_cast<uint32_t>(sizeof(CrmsyncPluginDescriptor)),                              \
        CRMSYNC_ABI_MAJOR,                                                                   \
        CRMSYNC_ABI_MINOR,                                                                   \
        CRMSYNC_ABI_TAG,                                                                     \
        CRMSYNC_COMPILER_ID,                                                                 \
        plugin_name,                                                                         \
        plugin_version,                                                                      \
        #AdapterClass};                                                                      \
    return &descriptor;                                                                      \
  }                                                                                          \
  POCO_BEGIN_NAMED_MANIFEST(CRMSYNC_MANIFEST_ID, crmsync::Adapter)                           \
  POCO_EXPORT_CLASS(AdapterClass)                                                            \
  POCO_END_MANIFEST

#endif  // CRMSYNC_PLUGIN_H_
