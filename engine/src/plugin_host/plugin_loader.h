// plugin_host/plugin_loader.h: finds, checks and loads CRM adapter plugins.
//
// Loading is two-phase: the plain extern "C" descriptor is read
// with Poco::SharedLibrary and checked (ABI major/minor, C++ runtime tag, name)
// before any C++ crosses the seam; only then is the file handed to
// Poco::ClassLoader with the manifest named for this ABI major. Every failure
// is an error that names the file and the cause.
//
// A LoadedPlugin is used from one thread while loading and configuring, then
// its adapter is shared by workers through GuardedAdapter.
#ifndef CRMSYNC_ENGINE_PLUGIN_HOST_PLUGIN_LOADER_H_
#define CRMSYNC_ENGINE_PLUGIN_HOST_PLUGIN_LOADER_H_

#include <memory>
#include <string>
#include <vector>

#include <Poco/ClassLoader.h>

#include "crmsync/adapter.h"
#include "plugin_host/guarded_adapter.h"

namespace crmsync::engine {

/// What a plugin's descriptor says about it.
struct PluginDescriptorInfo {
  std::string file;
  std::string name;
  std::string version;
  std::string class_name;
  std::string compiler;
  std::string abi_tag;
  int abi_major = 0;
  int abi_minor = 0;
};

/// A loaded plugin: the library, one adapter instance, and its guard. Unloads
/// the library (after destroying the adapter) on destruction.
class LoadedPlugin {
 public:
  /// Loads `<dir>/<name>`. On failure returns nullptr and sets `*error` to a
  /// sentence naming the file and the cause.
  static std::unique_ptr<LoadedPlugin> Load(const std::string& dir, const std::string& name,
                                            std::string* error);
  /// Loads the plugin file at `path` (any name); the descriptor's name is used.
  static std::unique_ptr<LoadedPlugin> LoadFile(const std::string& path, std::string* error);
  ~LoadedPlugin();

  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;

  const PluginDescriptorInfo& descriptor() const { return descriptor_; }
  /// The plugin's Info() as read right after loading, and read again after a
  /// successful Configure() (capabilities may depend on the settings).
  const PluginInfo& info() const { return info_; }
  /// The guarded adapter; every engine call to the plugin goes through it.
  GuardedAdapter& adapter() { return *guarded_; }

  /// Attaches `host` (Adapter::Attach) when given and the adapter has none
  /// yet, then configures the adapter and refreshes info(). `host` outlives
  /// this plugin; every command that configures a plugin gives one
  /// (app/plugin_hosts.h); without one the plugin has no PluginHost, as
  /// under an engine before ABI 3.0 (tests that need no state). On refusal
  /// or exception `*problems` gets one entry per problem the plugin named (a
  /// plugin puts one problem on each line of its message; see
  /// SplitProblems()), each naming the plugin, the file and the reason, so a
  /// caller can list and count them.
  bool Configure(const PluginConfig& config, std::vector<std::string>* problems,
                 PluginHost* host = nullptr);
  /// As above, the problems in one text: "<plugin and file>: <reason>" for one,
  /// else "<plugin and file>: N problems:" and one indented line each.
  bool Configure(const PluginConfig& config, std::string* error, PluginHost* host = nullptr);

 private:
  LoadedPlugin() = default;
  // Configure() returning the refusal as who refused and the plugin's lines.
  bool Configure(const PluginConfig& config, PluginHost* host, std::string* prefix,
                 std::vector<std::string>* lines);
  static std::unique_ptr<LoadedPlugin> LoadChecked(const std::string& path,
                                                   const std::string* expected_name,
                                                   std::string* error);

  PluginDescriptorInfo descriptor_;
  PluginInfo info_;
  std::unique_ptr<Poco::ClassLoader<Adapter>> loader_;
  Adapter* instance_ = nullptr;
  std::unique_ptr<GuardedAdapter> guarded_;
  PluginHost* host_ = nullptr;  ///< The host attached, once; not owned.
};

/// Reads and checks only the descriptor of `path` (phase one). False with
/// `*error` set when the file is missing, not loadable, not a crmsync plugin or
/// of another ABI.
bool ReadPluginDescriptor(const std::string& path, PluginDescriptorInfo* out, std::string* error);

/// The problems in a plugin's Status message: one per non-blank line (a
/// trailing "\r" dropped). A plugin that finds several problems at once (every
/// mistake of a mapping file) writes each on its own line.
std::vector<std::string> SplitProblems(const std::string& message);

/// One entry of a plugin folder, for `crmsync plugins`.
struct PluginReport {
  std::string file;
  bool ok = false;
  std::string error;           ///< Why it cannot be used, when !ok.
  PluginDescriptorInfo descriptor;
  PluginInfo info;             ///< When ok.
};

/// Loads every regular file in `dir` (sorted by name) as `serve` would load
/// it with crm.plugin set to the file's name (so a plugin under another file
/// name is reported, not listed as usable), and reports on each. A bad file
/// (not ELF, truncated, of another ABI, ...) is one report; the scan goes on.
/// `*error` is set (and the list empty) when `dir` itself cannot be read.
std::vector<PluginReport> ScanPlugins(const std::string& dir, std::string* error);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_PLUGIN_HOST_PLUGIN_LOADER_H_
