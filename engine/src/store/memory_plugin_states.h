// store/memory_plugin_states.h: the PluginStates role (plugin_states.h) in
// memory, gone with the object: for `crmsync plugin-check`, which runs a
// plugin under test with no engine store, and for tests. Thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_MEMORY_PLUGIN_STATES_H_
#define CRMSYNC_ENGINE_STORE_MEMORY_PLUGIN_STATES_H_

#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "store/plugin_states.h"

namespace crmsync::engine {

class MemoryPluginStates final : public PluginStates {
 public:
  std::optional<std::string> LoadPluginState(const std::string& plugin,
                                             const std::string& key) override;
  void SavePluginState(const std::string& plugin, const std::string& key, const std::string& value,
                       int64_t now_ms) override;

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::string> values_;  // Guarded by mu_.
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_MEMORY_PLUGIN_STATES_H_
