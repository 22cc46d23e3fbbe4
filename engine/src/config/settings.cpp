// config/settings.cpp: builds Settings from the layers (defaults, properties
// file, environment, --set) and checks every value against the schema.
//
// Order inside the environment layer, for each schema key: the strategy name
// (CRM_API_KEY), its `_FILE` form, the generic name (CRMSYNC_CRM_API_KEY), its
// `_FILE` form; a later one wins, so the generic name beats the strategy name
// when both are set. Every value any layer offers is checked, even one a later
// layer replaces: a broken line in the file is an error although --set fixes
// it for this run.
//
// Plugin keys (`crm.<plugin>.<name>`) depend on crm.plugin, which any layer may
// set, so keys the schema does not know are held back until all layers are in
// and only then kept as plugin keys or reported as unknown.
//
// Loading touches only its own objects; a loaded Settings is immutable and safe
// to read from several threads.
#include "config/settings.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>
#include <system_error>

#include "common/strings.h"

extern char** environ;

namespace crmsync::config {

namespace {

using engine::Trim;

namespace fs = std::filesystem;

constexpr char kDefaultConfigFile[] = "config/crmsync.properties";
constexpr char kSecretFileKeySuffix[] = ".file";
constexpr char kSecretFileEnvSuffix[] = "_FILE";
constexpr char kDefaultSource[] = "default";
constexpr char kRedacted[] = "<redacted>";

// One value a layer offers, before it is checked.
struct Entry {
  std::string key;
  std::string value;
  std::string source;    // "file <path>", "env NAME", "--set".
  std::string base_dir;  // Folder a relative secret-file path is read against.
};

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string CurrentDir() {
  std::error_code ec;
  fs::path dir = fs::current_path(ec);
  return ec ? std::string(".") : dir.string();
}

std::string Absolute(const std::string& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  return ec ? path : absolute.lexically_normal().string();
}

// `path` read against `dir` when relative; "" stays "".
std::string ResolveAgainst(const std::string& dir, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(dir) / path).lexically_normal().string();
}

// Reads a whole regular file into `*content`; false when it cannot be read.
bool ReadWholeFile(const std::string& path, std::string* content) {
  std::error_code ec;
  if (path.empty() || !fs::is_regular_file(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  content->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

// Splits a properties file into entries: `key = value` lines, blanks around
// key and value dropped, blank lines and lines starting with '#' skipped (a
// '#' later in a line is part of the value). A line without '=' or with an
// empty key is an error naming the file and the line number (never the line,
// which may hold a secret).
void ParseProperties(const std::string& path, const std::string& text, std::vector<Entry>* entries,
                     std::vector<Diagnostic>* diagnostics) {
  const std::string source = "file " + path;
  const std::string dir = fs::path(path).parent_path().string();
  size_t start = 0;
  int line_number = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (line_number == 1 && StartsWith(line, "\xEF\xBB\xBF")) line.erase(0, 3);  // UTF-8 BOM.
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    const std::string key = eq == std::string::npos ? "" : Trim(line.substr(0, eq));
    if (key.empty()) {
      diagnostics->push_back({Diagnostic::Level::kError, "",
                              "config file '" + path + "', line " + std::to_string(line_number) +
                                  ": expected 'key = value'"});
      continue;
    }
    entries->push_back({key, Trim(line.substr(eq + 1)), source, dir});
  }
}

// "; did you mean 'server.port'?" for a suggestion, "" for none.
std::string DidYouMean(const std::string& suggestion) {
  return suggestion.empty() ? "" : "; did you mean '" + suggestion + "'?";
}

// Applies entries to a value map in layer order and collects the problems.
class Loader {
 public:
  Loader(std::map<std::string, SettingValue>* values, std::vector<Diagnostic>* diagnostics)
      : values_(values), diagnostics_(diagnostics) {}

  // A key = value from the file or --set: a schema key, a secret's `.file`, or
  // a key held back for Finish().
  void Apply(const Entry& entry) {
    if (const KeySpec* spec = FindKey(entry.key)) {
      Set(*spec, entry.value, entry.source);
      return;
    }
    if (EndsWith(entry.key, kSecretFileKeySuffix)) {
      const std::string base =
          entry.key.substr(0, entry.key.size() - (sizeof(kSecretFileKeySuffix) - 1));
      const KeySpec* spec = FindKey(base);
      if (spec != nullptr && spec->secret) {
        SetFromFile(*spec, ResolveAgainst(entry.base_dir, entry.value), entry.source);
        return;
      }
    }
    held_back_.push_back(entry);
  }

  // The environment layer, in the order the file comment gives.
  void ApplyEnvironment(const std::map<std::string, std::string>& environment) {
    const std::string cwd = CurrentDir();
    for (const KeySpec& spec : Schema()) {
      std::vector<std::string> names;
      if (!spec.env.empty()) names.push_back(spec.env);
      names.push_back(GenericEnvName(spec.key));
      for (const std::string& name : names) {
        auto it = environment.find(name);
        if (it != environment.end()) Set(spec, it->second, "env " + name);
        known_env_.insert(name);
        if (!spec.secret) continue;
        const std::string file_name = name + kSecretFileEnvSuffix;
        it = environment.find(file_name);
        if (it != environment.end()) {
          SetFromFile(spec, ResolveAgainst(cwd, it->second), "env " + file_name);
        }
        known_env_.insert(file_name);
      }
    }
    for (const auto& [name, value] : environment) {
      if ((StartsWith(name, "CRMSYNC_") || StartsWith(name, "CRM_")) && !known_env_.count(name)) {
        Warn(name, "unknown environment variable '" + name + "'; it is ignored" +
                       DidYouMean(SuggestEnvName(name)));
      }
    }
  }

  // After the last layer: keys in error go back to their defaults, held-back
  // keys of the chosen plugin are kept, the others are reported as unknown.
  void Finish() {
    for (const std::string& key : error_keys_) {
      (*values_)[key] = SettingValue{FindKey(key)->default_value, kDefaultSource};
    }
    const std::string plugin = (*values_)["crm.plugin"].value;
    const std::string prefix = "crm." + plugin + ".";
    // Shadow mode's plugin keys (crm.shadow.<plugin>.<key>, shadow/shadow_plugin.h).
    const std::string shadow = (*values_)["crm.shadow.plugin"].value;
    const std::string shadow_prefix = "crm.shadow." + shadow + ".";
    auto kept = [](const std::string& key, const std::string& name, const std::string& start) {
      return !name.empty() && StartsWith(key, start) && key.size() > start.size();
    };
    for (const Entry& entry : held_back_) {
      if (kept(entry.key, plugin, prefix) || kept(entry.key, shadow, shadow_prefix)) {
        (*values_)[entry.key] = SettingValue{entry.value, entry.source};
      } else {
        Warn(entry.key, "unknown key '" + entry.key + "' (from " + entry.source +
                            "); it is ignored" + DidYouMean(SuggestKey(entry.key)));
      }
    }
    // Keys that only make sense together.
    auto value_of = [&](const std::string& key) {
      auto it = values_->find(key);
      return it == values_->end() ? SettingValue{} : it->second;
    };
    const SettingValue queue = value_of("queue.backend");
    const SettingValue store = value_of("store.backend");
    if (queue.value == "redis" && store.value != "postgres") {
      Error("queue.backend",
            "queue.backend=redis (from " + queue.source + ") needs store.backend=postgres, where "
            "the jobs' state shared by every engine lives; store.backend is '" + store.value +
            "' (from " + store.source + ")");
    }
    if (queue.value == "redis" && value_of("queue.redis_url").value.empty()) {
      Error("queue.redis_url", "queue.backend=redis needs queue.redis_url (or queue.redis_url.file)");
    }
  }

  void Error(const std::string& key, const std::string& message) {
    diagnostics_->push_back({Diagnostic::Level::kError, key, message});
  }

 private:
  void Set(const KeySpec& spec, const std::string& value, const std::string& source) {
    std::string normalized;
    if (!CheckValue(spec, value, &normalized)) {
      Error(spec.key, InvalidValueMessage(spec, value, source));
      error_keys_.insert(spec.key);
      return;
    }
    (*values_)[spec.key] = SettingValue{normalized, source};
  }

  // A secret read from `path`; `via` is where the path was given. The error
  // names the key and the path, never anything read.
  void SetFromFile(const KeySpec& spec, const std::string& path, const std::string& via) {
    std::string content;
    if (!ReadWholeFile(path, &content)) {
      Error(spec.key, spec.key + ": cannot read secret file '" + path + "' (from " + via + ")");
      error_keys_.insert(spec.key);
      return;
    }
    while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) {
      content.pop_back();
    }
    Set(spec, content, "file " + path + " (secret file)");
  }

  void Warn(const std::string& key, const std::string& message) {
    diagnostics_->push_back({Diagnostic::Level::kWarning, key, message});
  }

  std::map<std::string, SettingValue>* values_;
  std::vector<Diagnostic>* diagnostics_;
  std::vector<Entry> held_back_;
  std::set<std::string> error_keys_;
  std::set<std::string> known_env_;
};

bool IsSecret(const std::string& key) {
  const KeySpec* spec = FindKey(key);
  return spec != nullptr ? spec->secret : LooksSecret(key);
}

// The spec of `key` when it has `type`; throws std::logic_error otherwise.
const KeySpec& RequireKey(const std::string& key, ValueType type, const char* what) {
  const KeySpec* spec = FindKey(key);
  if (spec == nullptr) throw std::logic_error("config: unknown key '" + key + "'");
  if (spec->type != type) {
    throw std::logic_error("config: key '" + key + "' is not " + what);
  }
  return *spec;
}

}  // namespace

Settings::Settings() : config_dir_(CurrentDir()) {
  for (const KeySpec& spec : Schema()) {
    values_[spec.key] = SettingValue{spec.default_value, kDefaultSource};
  }
}

Settings Settings::Load(const LoadOptions& options, std::vector<Diagnostic>* diagnostics) {
  Settings settings;
  Loader loader(&settings.values_, diagnostics);

  // Layer 2: the properties file.
  std::string path = options.config_file;
  const bool named = !path.empty();
  std::error_code ec;
  if (!named && fs::is_regular_file(kDefaultConfigFile, ec)) path = kDefaultConfigFile;
  if (!path.empty()) {
    const std::string absolute = Absolute(path);
    std::string text;
    if (!fs::exists(absolute, ec)) {
      loader.Error("", "config file '" + absolute + "' does not exist");
    } else if (!ReadWholeFile(absolute, &text)) {
      loader.Error("", "config file '" + absolute + "' cannot be read");
    } else {
      settings.config_file_ = absolute;
      settings.config_dir_ = fs::path(absolute).parent_path().string();
      std::vector<Entry> entries;
      ParseProperties(absolute, text, &entries, diagnostics);
      for (const Entry& entry : entries) loader.Apply(entry);
    }
  }

  // Layer 3: the environment.
  loader.ApplyEnvironment(options.environment);

  // Layer 4: --set key=value.
  const std::string cwd = CurrentDir();
  for (const std::string& override_arg : options.overrides) {
    const size_t eq = override_arg.find('=');
    const std::string key = eq == std::string::npos ? "" : Trim(override_arg.substr(0, eq));
    if (key.empty()) {
      loader.Error("", "--set '" + override_arg + "': expected key=value");
      continue;
    }
    loader.Apply({key, Trim(override_arg.substr(eq + 1)), "--set", cwd});
  }

  loader.Finish();
  return settings;
}

std::string Settings::GetString(const std::string& key) const {
  if (FindKey(key) == nullptr) throw std::logic_error("config: unknown key '" + key + "'");
  return values_.at(key).value;
}

int64_t Settings::GetInt(const std::string& key) const {
  RequireKey(key, ValueType::kInt, "a whole number");
  int64_t value = 0;
  if (!ParseInt(values_.at(key).value, &value)) {
    throw std::logic_error("config: key '" + key + "' holds no number");
  }
  return value;
}

int64_t Settings::GetDurationMs(const std::string& key) const {
  RequireKey(key, ValueType::kDuration, "a duration");
  int64_t value = 0;
  if (!ParseDurationMs(values_.at(key).value, &value)) {
    throw std::logic_error("config: key '" + key + "' holds no duration");
  }
  return value;
}

bool Settings::GetBool(const std::string& key) const {
  RequireKey(key, ValueType::kBool, "true or false");
  bool value = false;
  if (!ParseBool(values_.at(key).value, &value)) {
    throw std::logic_error("config: key '" + key + "' holds no boolean");
  }
  return value;
}

std::vector<std::string> Settings::GetList(const std::string& key) const {
  RequireKey(key, ValueType::kList, "a list");
  std::vector<std::string> items;
  const std::string& text = values_.at(key).value;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = Trim(text.substr(start, comma - start));
    if (!item.empty()) items.push_back(std::move(item));
    start = comma + 1;
  }
  return items;
}

bool Settings::IsSet(const std::string& key) const {
  const SettingValue* value = Find(key);
  return value != nullptr && value->source != kDefaultSource;
}

const SettingValue* Settings::Find(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

std::vector<std::pair<std::string, SettingValue>> Settings::Effective(bool redact_secrets) const {
  std::vector<std::pair<std::string, SettingValue>> result(values_.begin(), values_.end());
  if (redact_secrets) {
    for (auto& [key, value] : result) {
      if (IsSecret(key)) value.value = value.value.empty() ? "" : kRedacted;
    }
  }
  return result;
}

std::vector<std::string> Settings::SecretValues() const {
  std::vector<std::string> secrets;
  for (const auto& [key, value] : values_) {
    if (IsSecret(key) && !value.value.empty()) secrets.push_back(value.value);
  }
  std::sort(secrets.begin(), secrets.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  secrets.erase(std::unique(secrets.begin(), secrets.end()), secrets.end());
  return secrets;
}

PluginConfig Settings::PluginConfigFor(const std::string& plugin_name) const {
  PluginConfig config;
  auto set_if_not_empty = [&config](const std::string& name, const std::string& value) {
    if (!value.empty()) config.Set(name, value);
  };
  set_if_not_empty("api_url", GetString("crm.api.url"));
  set_if_not_empty("api_key", GetString("crm.api.key"));
  set_if_not_empty("api_secret", GetString("crm.api.secret"));
  config.Set("timeout_ms", GetString("crm.timeout"));
  set_if_not_empty("webhook_url", GetString("crm.webhook.url"));
  set_if_not_empty("webhook_secret", GetString("crm.webhook.secret"));
  // Every accepted secret, newest first, for the plugin's own webhook schemes
  // (crmsync/webhook_verify.h): crm.webhook.secret, then webhook.secrets.
  // Newline-joined: a secret never holds one.
  {
    std::vector<std::string> secrets = GetList("webhook.secrets");
    secrets.insert(secrets.begin(), GetString("crm.webhook.secret"));
    std::string joined;
    for (const std::string& secret : secrets) {
      if (secret.empty()) continue;
      joined += (joined.empty() ? "" : "\n") + secret;
    }
    set_if_not_empty("webhook_secrets", joined);
  }
  set_if_not_empty("mapping", ResolveAgainst(config_dir_, GetString("crm.mapping")));
  config.Set("config_dir", config_dir_);
  config.Set("allow_insecure_http", GetBool("crm.allow_insecure_http") ? "true" : "false");
  set_if_not_empty("ca_file", ResolveAgainst(config_dir_, GetString("crm.ca_file")));

  const std::string prefix = "crm." + plugin_name + ".";
  for (auto it = values_.lower_bound(prefix); it != values_.end(); ++it) {
    if (!StartsWith(it->first, prefix)) break;
    if (FindKey(it->first) != nullptr) continue;  // A schema key, not a plugin key.
    config.Set(it->first.substr(prefix.size()), it->second.value);
  }
  return config;
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> environment;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    environment.emplace(text.substr(0, eq), text.substr(eq + 1));
  }
  return environment;
}

}  // namespace crmsync::config
