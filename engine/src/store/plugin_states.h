// store/plugin_states.h: the PluginStates role of the engine's durable state:
// what a plugin saved through its PluginHost (crmsync/adapter.h), by plugin
// and key (a rotated OAuth refresh token, say). Each caller depends on the
// role it uses; Store (store.h) is every role at once.
// Methods throw StoreError on storage failure. Implementations are thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_PLUGIN_STATES_H_
#define CRMSYNC_ENGINE_STORE_PLUGIN_STATES_H_

#include <cstdint>
#include <optional>
#include <string>

namespace crmsync::engine {

/// Values plugins keep across restarts, shared by every engine on the store.
/// Keys and values are not checked here (plugin_host/store_plugin_host.h
/// does); values are any bytes, and secrets: never logged or shown.
class PluginStates {
 public:
  virtual ~PluginStates() = default;

  /// The value `plugin` last saved under `key`, or nullopt.
  virtual std::optional<std::string> LoadPluginState(const std::string& plugin,
                                                     const std::string& key) = 0;

  /// Saves `value` under (`plugin`, `key`), replacing any earlier one, as of
  /// `now_ms`. Committed when it returns (SQLite: through the group committer).
  virtual void SavePluginState(const std::string& plugin, const std::string& key,
                               const std::string& value, int64_t now_ms) = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_PLUGIN_STATES_H_
