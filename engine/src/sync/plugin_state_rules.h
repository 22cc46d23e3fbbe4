// sync/plugin_state_rules.h: reading and writing what a plugin saved through
// its PluginHost (the PluginStates role, store/plugin_states.h), for every
// backend. The backend picks the connection and the transaction; the value is
// kept as base64 here, so any bytes a plugin saves fit a TEXT column of
// either backend (PostgreSQL's text takes no NUL and only valid UTF-8).
//
// Thread-safety: as the SqlPort's (the thread running the transaction).
#ifndef CRMSYNC_ENGINE_SYNC_PLUGIN_STATE_RULES_H_
#define CRMSYNC_ENGINE_SYNC_PLUGIN_STATE_RULES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "queue/sql_port.h"

namespace crmsync::engine {

/// The value `plugin` saved under `key`, or nullopt. Throws StoreError when
/// the stored text is not base64 (written by something else than this rule).
std::optional<std::string> ReadPluginState(SqlPort& db, const std::string& plugin,
                                           const std::string& key);

/// Saves `value` under (`plugin`, `key`), replacing an earlier value.
void WritePluginState(SqlPort& db, const std::string& plugin, const std::string& key,
                      const std::string& value, int64_t now_ms);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_SYNC_PLUGIN_STATE_RULES_H_
