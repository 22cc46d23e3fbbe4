// config/settings.h: the engine's effective configuration, built from layers.
//
// Layers, later wins (docs/design.md §6): built-in defaults (the schema), the
// properties file (config/crmsync.properties or --config), environment
// variables, then --set key=value from the command line. Every key is checked
// against the schema: a value of the wrong type or range is an error naming the
// key, the value's source and what was expected; an unknown key is a warning.
// Secrets may come from a file (`<key>.file` in the file or --set, or
// `<ENV>_FILE` in the environment) and are redacted whenever settings are shown.
//
// A Settings object is immutable after Load(); reading it from several threads
// is safe.
#ifndef CRMSYNC_ENGINE_CONFIG_SETTINGS_H_
#define CRMSYNC_ENGINE_CONFIG_SETTINGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/schema.h"
#include "crmsync/plugin_config.h"

namespace crmsync::config {

/// One problem found while loading or validating.
struct Diagnostic {
  enum class Level { kError, kWarning };
  Level level = Level::kError;
  std::string key;      ///< The key concerned ("" for a file-level problem).
  std::string message;  ///< Complete sentence naming the key, the source and the reason.
};

/// Where the layers come from. The environment and the file are passed in, so
/// tests control every layer.
struct LoadOptions {
  /// Properties file. Empty: config/crmsync.properties under the current folder
  /// when it exists, else none. A file named here explicitly must exist.
  std::string config_file;
  /// The process environment (name → value); only CRM_* and CRMSYNC_* are read.
  std::map<std::string, std::string> environment;
  /// --set arguments, each "key=value", in command-line order.
  std::vector<std::string> overrides;
};

/// A value and the layer it came from.
struct SettingValue {
  std::string value;
  std::string source;  ///< "default", "file <path>", "env CRM_API_KEY", "--set", "file <path> (secret file)".
};

class Settings {
 public:
  /// Builds the settings from `options`. Problems (errors and warnings) are
  /// appended to `diagnostics`; with any error the returned settings hold the
  /// defaults for the keys in error and must not be used to serve.
  static Settings Load(const LoadOptions& options, std::vector<Diagnostic>* diagnostics);

  /// Settings holding only the schema's defaults.
  Settings();

  /// The value of a schema key as text ("" when unset and without default).
  /// Reading a key the schema does not know is a programming error: throws
  /// std::logic_error naming it.
  std::string GetString(const std::string& key) const;
  /// The value of an int key (already range-checked at Load). Throws
  /// std::logic_error when the key is unknown or not an int key.
  int64_t GetInt(const std::string& key) const;
  /// The value of a duration key, in milliseconds. Throws std::logic_error like GetInt().
  int64_t GetDurationMs(const std::string& key) const;
  /// The value of a bool key. Throws std::logic_error like GetInt().
  bool GetBool(const std::string& key) const;
  /// A comma-separated list key split and trimmed, empty items dropped.
  std::vector<std::string> GetList(const std::string& key) const;
  /// True when the key was set by any layer other than the defaults.
  bool IsSet(const std::string& key) const;
  /// The value and where it came from, for any key present (schema or plugin key).
  const SettingValue* Find(const std::string& key) const;

  /// Every key with a value (defaults included), sorted, secrets replaced by
  /// "<redacted>" when `redact_secrets`; for check-config.
  std::vector<std::pair<std::string, SettingValue>> Effective(bool redact_secrets) const;

  /// The values of the secret keys that are set (tokens, API keys, webhook
  /// secrets, plugin keys that look secret), longest first: text that shows a
  /// request masks every occurrence of them.
  std::vector<std::string> SecretValues() const;

  /// The settings a plugin receives (see crmsync/plugin_config.h for the keys):
  /// the well-known CRM settings plus every `crm.<plugin>.<key>` as `<key>`.
  /// Well-known string keys left empty are not set (so Has() means "given");
  /// timeout_ms, allow_insecure_http and config_dir are always set. mapping and
  /// ca_file are read against config_dir() when relative. A plugin key of the
  /// same name as a well-known one wins (the more specific setting).
  PluginConfig PluginConfigFor(const std::string& plugin_name) const;

  /// The folder of the properties file in use (or the current folder), which
  /// relative paths in the file are read against.
  const std::string& config_dir() const { return config_dir_; }
  /// The properties file read, or "" when none.
  const std::string& config_file() const { return config_file_; }

 private:
  std::map<std::string, SettingValue> values_;
  std::string config_dir_;
  std::string config_file_;
};

/// The environment of this process, as a map.
std::map<std::string, std::string> ProcessEnvironment();

}  // namespace crmsync::config

#endif  // CRMSYNC_ENGINE_CONFIG_SETTINGS_H_
