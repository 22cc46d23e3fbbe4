// crmsync/plugin_config.h: the settings the engine hands a plugin's configure().
//
// A read-only string map, built once by the engine before configure() and not
// changed afterwards; safe to read from any thread.
#ifndef CRMSYNC_PLUGIN_CONFIG_H_
#define CRMSYNC_PLUGIN_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace crmsync {

/// Keys a plugin receives. The engine fills the well-known ones from the
/// strategy's CRM_* settings and copies every `crm.<plugin name>.<key>` setting
/// in as `<key>`:
///   api_url, api_key, api_secret   CRM_API_URL / CRM_API_KEY / CRM_API_SECRET
///   timeout_ms                     CRM_TIMEOUT
///   webhook_url, webhook_secret    CRM_WEBHOOK_URL / CRM_WEBHOOK_SECRET
///   webhook_secrets                every accepted webhook secret, one per line:
///                                  CRM_WEBHOOK_SECRET first, then webhook.secrets
///   mapping                        crm.mapping (a file path, for config-driven plugins)
///   config_dir                     the folder of the engine's config file
///   allow_insecure_http            crm.allow_insecure_http ("true"/"false")
///   ca_file                        crm.ca_file (extra CA bundle for HTTPS)
class PluginConfig {
 public:
  PluginConfig() = default;
  explicit PluginConfig(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  /// True when `key` is set (even to "").
  bool Has(const std::string& key) const { return values_.count(key) != 0; }
  /// The value of `key`, or `fallback` when it is not set.
  std::string Get(const std::string& key, const std::string& fallback = "") const;
  /// Reads `key` as a whole number into `out`; false (and `out` untouched) when it
  /// is not set or not a number. `*present` (when given) tells which.
  bool GetInt(const std::string& key, int64_t* out, bool* present = nullptr) const;
  /// Reads `key` as true/false/yes/no/1/0/on/off; false when unset or not boolean.
  bool GetBool(const std::string& key, bool* out, bool* present = nullptr) const;
  /// Keys that start with `prefix`, sorted.
  std::vector<std::string> KeysWithPrefix(const std::string& prefix) const;
  /// Sets a value (the engine and tests use this while building the config).
  void Set(const std::string& key, const std::string& value) { values_[key] = value; }
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace crmsync

#endif  // CRMSYNC_PLUGIN_CONFIG_H_
