// loaded_plugin.h: the built generic-rest-crm plugin file, loaded as the
// engine loads it (Poco's ClassLoader), and adapters configured from it, for
// the generic-rest-crm HTTP tests.
//
// Header-only. The plugin file is loaded once per executable and never
// unloaded: adapters made from it must not outlive its code.
#ifndef CRMSYNC_TESTS_PLUGINS_GENERIC_REST_LOADED_PLUGIN_H_
#define CRMSYNC_TESTS_PLUGINS_GENERIC_REST_LOADED_PLUGIN_H_

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>

#include <Poco/ClassLoader.h>

#include "crmsync/adapter.h"
#include "crmsync/plugin.h"
#include "crmsync/plugin_config.h"
#include "recording_crm.h"

namespace crmsync::testing {

using Settings = std::map<std::string, std::string>;

constexpr char kPluginPath[] = CRMSYNC_PLUGIN_DIR "/generic-rest-crm";
constexpr char kManifest[] = CRMSYNC_MANIFEST_NAME;
constexpr char kClassName[] = "crmsync::genericrest::GenericRestAdapter";
constexpr char kApiKey[] = "key-test-123";
constexpr char kApiSecret[] = "secret-test-456";

// The plugin file, loaded once for the whole executable and never unloaded
// (adapters made from it must not outlive its code).
inline Poco::ClassLoader<Adapter>& Loader() {
  static Poco::ClassLoader<Adapter>* loader = [] {
    auto* created = new Poco::ClassLoader<Adapter>();
    created->loadLibrary(kPluginPath, kManifest);
    return created;
  }();
  return *loader;
}

inline Settings BaseSettings(const std::string& mapping, const std::string& api_url) {
  return {{"mapping", mapping},   {"api_url", api_url},
          {"api_key", kApiKey},   {"api_secret", kApiSecret},
          {"timeout_ms", "5000"}, {"config_dir", CRMSYNC_SOURCE_DIR "/config"}};
}

inline Status ConfigureStatus(const Settings& settings) {
  std::unique_ptr<Adapter> adapter(Loader().create(kClassName));
  REQUIRE(adapter != nullptr);
  return adapter->Configure(PluginConfig(settings));
}

inline std::unique_ptr<Adapter> NewAdapter(const Settings& settings) {
  std::unique_ptr<Adapter> adapter(Loader().create(kClassName));
  REQUIRE(adapter != nullptr);
  const Status status = adapter->Configure(PluginConfig(settings));
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  return adapter;
}

inline std::unique_ptr<Adapter> NewAdapter(const std::string& mapping, const RecordingCrm& crm) {
  return NewAdapter(BaseSettings(mapping, crm.url()));
}

}  // namespace crmsync::testing

#endif  // CRMSYNC_TESTS_PLUGINS_GENERIC_REST_LOADED_PLUGIN_H_
