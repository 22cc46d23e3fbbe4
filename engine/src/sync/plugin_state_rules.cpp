// Plugin state over SqlPort; see plugin_state_rules.h.
#include "sync/plugin_state_rules.h"

#include "common/strings.h"
#include "store/store_error.h"

namespace crmsync::engine {

std::optional<std::string> ReadPluginState(SqlPort& db, const std::string& plugin,
                                           const std::string& key) {
  SqlRows rows = db.Query(Sql::kLoadPluginState, {plugin, key});
  if (rows.Empty()) return std::nullopt;
  const std::string text = rows.Text(0, 0);
  std::string value;
  // An empty value is stored as empty text (base64 of nothing).
  if (!text.empty() && !Base64Decode(text, &value)) {
    // The reason names the plugin and key, never the value (a secret).
    throw StoreError("plugin_kv row of plugin '" + plugin + "', key '" + key +
                     "' is not base64; was it written by something else than crmsync?");
  }
  return value;
}

void WritePluginState(SqlPort& db, const std::string& plugin, const std::string& key,
                      const std::string& value, int64_t now_ms) {
  db.Run(Sql::kSavePluginState, {plugin, key, Base64Encode(value), now_ms});
}

}  // namespace crmsync::engine
