// plugin_host/store_plugin_host.h: the engine's PluginHost (crmsync/adapter.h,
// ABI 3.0), bound to one plugin and a PluginStates (store/plugin_states.h):
// what a plugin saves is committed to the engine's store before SaveState()
// returns OK, so a restart, or another engine on the same store, loads it (a
// rotated OAuth refresh token, say).
//
// Keys and value sizes are checked here, for every store: a bad key or a value
// over 64 KiB is kInvalidRecord naming the problem (never the value); a store
// failure is kRetryable with the store's reason. Values are secrets: nothing
// here logs them or puts them in a message. A read-only host (check-config,
// render) loads but refuses every save with kPermanent saying why.
//
// Thread-safe (as its PluginStates is).
#ifndef CRMSYNC_ENGINE_PLUGIN_HOST_STORE_PLUGIN_HOST_H_
#define CRMSYNC_ENGINE_PLUGIN_HOST_STORE_PLUGIN_HOST_H_

#include <cstddef>
#include <optional>
#include <string>

#include "common/clock.h"
#include "crmsync/adapter.h"
#include "store/plugin_states.h"

namespace crmsync::engine {

class StorePluginHost final : public PluginHost {
 public:
  /// The longest key, in bytes, and the largest value (the SDK's limits).
  static constexpr size_t kMaxKeyBytes = 128;
  static constexpr size_t kMaxValueBytes = 64 * 1024;

  /// Loads and saves the state of `plugin` in `states` (not owned; it outlives
  /// the host); `clock` dates each save.
  StorePluginHost(std::string plugin, PluginStates* states, Clock* clock);

  /// A host that loads from `states` but refuses every save: `why` says whose
  /// rule it is ("crmsync check-config does not write the store").
  static StorePluginHost ReadOnly(std::string plugin, PluginStates* states, std::string why);

  Status LoadState(const std::string& key, std::optional<std::string>* value) override;
  Status SaveState(const std::string& key, const std::string& value) override;

  const std::string& plugin() const { return plugin_; }

  /// What is wrong with `key` as a state key, "" when nothing is: 1 to 128
  /// bytes of A-Z a-z 0-9 _ . : -.
  static std::string KeyProblem(const std::string& key);

 private:
  std::string plugin_;
  PluginStates* states_;
  Clock* clock_;
  std::string read_only_why_;  ///< Non-empty: saves are refused, saying this.
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_PLUGIN_HOST_STORE_PLUGIN_HOST_H_
