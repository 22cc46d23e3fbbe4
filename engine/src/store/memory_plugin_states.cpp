// Plugin state in memory; see memory_plugin_states.h.
#include "store/memory_plugin_states.h"

namespace crmsync::engine {

std::optional<std::string> MemoryPluginStates::LoadPluginState(const std::string& plugin,
                                                               const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = values_.find({plugin, key});
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

void MemoryPluginStates::SavePluginState(const std::string& plugin, const std::string& key,
                                         const std::string& value, int64_t /*now_ms*/) {
  std::lock_guard<std::mutex> lock(mu_);
  values_[{plugin, key}] = value;
}

}  // namespace crmsync::engine
