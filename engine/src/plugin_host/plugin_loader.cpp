// Two-phase plugin loading; see plugin_loader.h.
#include "plugin_host/plugin_loader.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include <Poco/DirectoryIterator.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/SharedLibrary.h>

#include "crmsync/plugin.h"
#include "crmsync/version.h"
#include "plugin_host/elf_check.h"

namespace crmsync::engine {
namespace {

std::string Str(const char* s) { return s ? std::string(s) : std::string(); }

// The descriptor fields this engine needs, by the end offset of the last one.
constexpr size_t kMinDescriptorSize = offsetof(CrmsyncPluginDescriptor, class_name) + sizeof(char*);

}  // namespace

bool ReadPluginDescriptor(const std::string& path, PluginDescriptorInfo* out, std::string* error) {
  out->file = path;
  Poco::File file(path);
  if (!file.exists()) {
    *error = "plugin file " + path + " not found";
    return false;
  }
  if (!file.isFile()) {
    *error = "plugin file " + path + " is not a regular file";
    return false;
  }
  // dlopen() of a file cut short dies of SIGBUS, taking the engine with it:
  // the headers are checked first (elf_check.h).
  std::string elf_problem;
  if (!CheckElfSharedLibrary(path, &elf_problem)) {
    *error = "cannot load " + path + " as a shared library: " + elf_problem;
    return false;
  }
  Poco::SharedLibrary library;
  try {
    library.load(path);
  } catch (const Poco::Exception& e) {
    *error = "cannot load " + path + " as a shared library: " + e.message();
    return false;
  }
  if (!library.hasSymbol(CRMSYNC_DESCRIPTOR_SYMBOL)) {
    library.unload();
    *error = path + " is not a crmsync plugin: it has no " CRMSYNC_DESCRIPTOR_SYMBOL " symbol";
    return false;
  }
  auto fn = reinterpret_cast<CrmsyncPluginDescriptorFn>(library.getSymbol(CRMSYNC_DESCRIPTOR_SYMBOL));
  const CrmsyncPluginDescriptor* d = fn ? fn() : nullptr;
  bool ok = true;
  if (d == nullptr) {
    *error = path + " is not a crmsync plugin: its descriptor is null";
    ok = false;
  } else if (d->struct_size < kMinDescriptorSize) {
    *error = path + ": plugin descriptor too small (" + std::to_string(d->struct_size) +
             " bytes, expected at least " + std::to_string(kMinDescriptorSize) + ")";
    ok = false;
  } else {
    out->abi_major = static_cast<int>(d->abi_major);
    out->abi_minor = static_cast<int>(d->abi_minor);
    out->abi_tag = Str(d->abi_tag);
    out->compiler = Str(d->compiler);
    out->name = Str(d->name);
    out->version = Str(d->version);
    out->class_name = Str(d->class_name);
    std::string found = std::to_string(out->abi_major) + "." + std::to_string(out->abi_minor);
    std::string expected = std::to_string(kAbiMajor) + "." + std::to_string(kAbiMinor);
    if (out->abi_major != kAbiMajor) {
      *error = path + ": SDK ABI mismatch: the engine expects ABI major " +
               std::to_string(kAbiMajor) + " (" + expected + "), the plugin was built for " +
               found + "; rebuild the plugin against this SDK";
      ok = false;
    } else if (out->abi_minor > kAbiMinor) {
      *error = path + ": SDK ABI mismatch: the plugin needs ABI " + found +
               ", newer than the engine's " + expected + "; upgrade the engine";
      ok = false;
    } else if (out->abi_tag != CRMSYNC_ABI_TAG) {
      *error = path + ": C++ runtime mismatch: the engine uses '" CRMSYNC_ABI_TAG
               "', the plugin was built with '" + out->abi_tag + "' (" + out->compiler + ")";
      ok = false;
    } else if (out->name.empty() || out->class_name.empty()) {
      *error = path + ": plugin descriptor has an empty name or class name";
      ok = false;
    }
  }
  library.unload();
  return ok;
}

std::unique_ptr<LoadedPlugin> LoadedPlugin::Load(const std::string& dir, const std::string& name,
                                                 std::string* error) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    *error = "plugin name '" + name + "' is not a file name";
    return nullptr;
  }
  std::string path = Poco::Path(dir).makeDirectory().setFileName(name).toString();
  if (!Poco::File(path).exists()) {
    *error = "plugin '" + name + "' not found: no file " + path + " (plugins.dir = " + dir + ")";
    return nullptr;
  }
  return LoadChecked(path, &name, error);
}

std::unique_ptr<LoadedPlugin> LoadedPlugin::LoadFile(const std::string& path, std::string* error) {
  return LoadChecked(path, nullptr, error);
}

std::unique_ptr<LoadedPlugin> LoadedPlugin::LoadChecked(const std::string& path,
                                                        const std::string* expected_name,
                                                        std::string* error) {
  std::unique_ptr<LoadedPlugin> plugin(new LoadedPlugin());
  if (!ReadPluginDescriptor(path, &plugin->descriptor_, error)) return nullptr;
  const PluginDescriptorInfo& d = plugin->descriptor_;
  if (expected_name && d.name != *expected_name) {
    *error = path + " declares plugin name '" + d.name + "', not '" + *expected_name +
             "'; the file must be named after its plugin";
    return nullptr;
  }
  plugin->loader_ = std::make_unique<Poco::ClassLoader<Adapter>>();
  try {
    plugin->loader_->loadLibrary(path, CRMSYNC_MANIFEST_NAME);
  } catch (const Poco::Exception& e) {
    *error = path + ": no crmsync ABI " + std::to_string(kAbiMajor) + " class manifest (" +
             CRMSYNC_MANIFEST_NAME + "): " + e.displayText();
    return nullptr;
  }
  const Poco::ClassLoader<Adapter>::Meta* meta = plugin->loader_->findClass(d.class_name);
  if (meta == nullptr) {
    *error = path + ": class '" + d.class_name +
             "' named by the descriptor is not exported by its manifest";
    return nullptr;
  }
  try {
    plugin->instance_ = meta->create();
  } catch (const std::exception& e) {
    *error = path + ": constructing '" + d.class_name + "' threw: " + e.what();
    return nullptr;
  } catch (...) {
    *error = path + ": constructing '" + d.class_name + "' threw";
    return nullptr;
  }
  plugin->guarded_ = std::make_unique<GuardedAdapter>(plugin->instance_, d.name);
  std::string info_error;
  plugin->info_ = plugin->guarded_->Info(&info_error);
  if (!info_error.empty()) {
    *error = path + ": " + info_error;
    return nullptr;
  }
  if (plugin->info_.name != d.name) {
    *error = path + ": Info() names the plugin '" + plugin->info_.name +
             "' but its descriptor says '" + d.name + "'";
    return nullptr;
  }
  return plugin;
}

LoadedPlugin::~LoadedPlugin() {
  guarded_.reset();
  if (instance_ != nullptr) {
    try {
      delete instance_;
    } catch (...) {
    }
    instance_ = nullptr;
  }
  // loader_ unloads the library when it is destroyed, after the instance is gone.
}

std::vector<std::string> SplitProblems(const std::string& message) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= message.size()) {
    size_t end = message.find('\n', start);
    if (end == std::string::npos) end = message.size();
    std::string line = message.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") != std::string::npos) lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

bool LoadedPlugin::Configure(const PluginConfig& config, PluginHost* host, std::string* prefix,
                             std::vector<std::string>* lines) {
  Status s;
  if (host != nullptr && host != host_) {
    // Attach() is called once: a second host would leave the plugin saving
    // to the first.
    s = host_ != nullptr ? Status::Internal("plugin '" + descriptor_.name +
                                            "' is already attached to another PluginHost")
                         : guarded_->Attach(host);
    if (s.ok()) host_ = host;
  }
  if (s.ok()) s = guarded_->Configure(config);
  if (s.ok()) {
    // Capabilities may depend on the configuration (generic-rest-crm's come from
    // its mapping file): read Info() again, keeping the first answer on failure.
    std::string info_error;
    PluginInfo configured = guarded_->Info(&info_error);
    if (info_error.empty() && configured.name == info_.name) info_ = std::move(configured);
    return true;
  }
  *prefix = s.code() == StatusCode::kInternal
                ? descriptor_.file
                : "plugin '" + descriptor_.name + "' (" + descriptor_.file +
                      ") refused its configuration";
  *lines = SplitProblems(s.message());
  if (lines->empty()) lines->push_back(StatusCodeName(s.code()));
  return false;
}

bool LoadedPlugin::Configure(const PluginConfig& config, std::vector<std::string>* problems,
                             PluginHost* host) {
  std::string prefix;
  std::vector<std::string> lines;
  if (Configure(config, host, &prefix, &lines)) return true;
  for (const std::string& line : lines) problems->push_back(prefix + ": " + line);
  return false;
}

bool LoadedPlugin::Configure(const PluginConfig& config, std::string* error, PluginHost* host) {
  std::string prefix;
  std::vector<std::string> lines;
  if (Configure(config, host, &prefix, &lines)) return true;
  if (lines.size() == 1) {
    *error = prefix + ": " + lines[0];
    return false;
  }
  *error = prefix + ": " + std::to_string(lines.size()) + " problems:";
  for (const std::string& line : lines) *error += "\n  " + line;
  return false;
}

std::vector<PluginReport> ScanPlugins(const std::string& dir, std::string* error) {
  std::vector<PluginReport> reports;
  std::vector<std::string> files;
  try {
    Poco::File folder(dir);
    if (!folder.exists() || !folder.isDirectory()) {
      *error = "plugins.dir " + dir + " is not a folder";
      return reports;
    }
    for (Poco::DirectoryIterator it(dir), end; it != end; ++it) {
      if (it->isFile()) files.push_back(it->path());
    }
  } catch (const Poco::Exception& e) {
    *error = "cannot read plugins.dir " + dir + ": " + e.displayText();
    return reports;
  }
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) {
    PluginReport report;
    report.file = file;
    std::string load_error;
    // Named as `serve` would name it (crm.plugin = the file name), so a file the
    // listing calls usable is one the service loads.
    const std::string name = Poco::Path(file).getFileName();
    std::unique_ptr<LoadedPlugin> plugin = LoadedPlugin::Load(dir, name, &load_error);
    if (plugin) {
      report.ok = true;
      report.descriptor = plugin->descriptor();
      report.info = plugin->info();
    } else {
      report.error = load_error;
      ReadPluginDescriptor(file, &report.descriptor, &load_error);
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

}  // namespace crmsync::engine
