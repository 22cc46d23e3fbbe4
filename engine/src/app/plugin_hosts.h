// app/plugin_hosts.h: the PluginHost (crmsync/adapter.h, ABI 3.0) each
// command attaches its plugin to before Configure(), and what backs it:
// - serve: the store it opened (Service keeps a StorePluginHost over it);
// - check-connection: the configured store, opened and migrated as serve
//   opens it (without the Redis queue) at the plugin's first state call: the
//   CRM may rotate a refresh token during the check, and a rotated token that
//   is not saved is lost to serve. A plugin that keeps no state leaves the
//   store untouched;
// - check-config and render: the existing store, read only (SQLite: the file,
//   neither created nor migrated; PostgreSQL: not connected, as check-config
//   never connects, so nothing saved is seen); every save is refused with a
//   message saying so. Neither command sends anything to the CRM;
// - plugin-check: memory (conformance/plugin_check.cpp), for a plugin under test.
//
// Built and used on the command's thread; the host itself is thread-safe.
#ifndef CRMSYNC_ENGINE_APP_PLUGIN_HOSTS_H_
#define CRMSYNC_ENGINE_APP_PLUGIN_HOSTS_H_

#include <memory>
#include <string>

#include "config/settings.h"
#include "plugin_host/store_plugin_host.h"
#include "store/plugin_states.h"

namespace crmsync::engine {

/// A command's PluginHost with what backs it; it must outlive the plugin
/// attached to it.
class CommandPluginHost {
 public:
  /// check-connection's: reads and writes the store of `settings`, opened on
  /// the first call; an opening failure is that call's kRetryable.
  static std::unique_ptr<CommandPluginHost> Writable(const config::Settings& settings);
  /// check-config's and render's: reads the existing store, refuses every
  /// save naming `command` ("crmsync check-config").
  static std::unique_ptr<CommandPluginHost> ReadOnly(const config::Settings& settings,
                                                     const std::string& command);

  PluginHost* host() { return host_.get(); }

 private:
  CommandPluginHost() = default;

  std::unique_ptr<PluginStates> states_;
  std::unique_ptr<StorePluginHost> host_;  ///< Over states_; destroyed first.
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_APP_PLUGIN_HOSTS_H_
