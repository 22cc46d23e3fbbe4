// shadow/shadow_plugin.h: shadow mode's second adapter (docs/design.md §11),
// loaded and configured from the crm.shadow.* settings beside the live one.
//
// Its settings (ShadowPluginConfig): what the live plugin gets from crm.api.*,
// crm.timeout, crm.ca_file and the other well-known keys, and its own
// crm.<plugin>.<key> keys when it is the live plugin too; then
//   crm.shadow.mapping   as `mapping` (never the live crm.mapping),
//   crm.shadow.url       as `api_url` (the sandbox; unset: the live URL, to
//                        which nothing is sent),
//   crm.shadow.<plugin>.<key>  as `<key>`, over everything above (a sandbox's
//                        own credentials: crm.shadow.generic-rest-crm.api_key).
// It is attached to a PluginHost of its own, in memory: the shadow never
// reads or writes the live plugin's saved state.
//
// Called from one thread (start-up, check-config).
#ifndef CRMSYNC_ENGINE_SHADOW_SHADOW_PLUGIN_H_
#define CRMSYNC_ENGINE_SHADOW_SHADOW_PLUGIN_H_

#include <memory>
#include <string>
#include <vector>

#include "config/settings.h"
#include "plugin_host/plugin_loader.h"
#include "plugin_host/store_plugin_host.h"
#include "store/memory_plugin_states.h"

namespace crmsync::engine {

/// The shadow adapter and what it needs alive (destroyed plugin first).
struct ShadowPlugin {
  std::unique_ptr<MemoryPluginStates> states;
  std::unique_ptr<StorePluginHost> host;
  std::unique_ptr<LoadedPlugin> plugin;
};

/// The settings the shadow plugin is configured with (see the file comment).
PluginConfig ShadowPluginConfig(const config::Settings& settings);

/// Loads crm.shadow.plugin from the plugins folder and configures it. nullptr
/// when shadow mode is off (crm.shadow.plugin unset) or a check failed; each
/// problem goes to `*problems` naming the setting (crm.shadow.plugin,
/// crm.shadow.mapping, crm.shadow.url).
std::unique_ptr<ShadowPlugin> LoadShadowPlugin(const config::Settings& settings,
                                               const std::string& plugins_dir,
                                               std::vector<config::Diagnostic>* problems);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_SHADOW_SHADOW_PLUGIN_H_
