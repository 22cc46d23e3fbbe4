// PluginConfig lookups.
#include "crmsync/plugin_config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace crmsync {

std::string PluginConfig::Get(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

bool PluginConfig::GetInt(const std::string& key, int64_t* out, bool* present) const {
  auto it = values_.find(key);
  if (present) *present = it != values_.end();
  if (it == values_.end() || it->second.empty()) return false;
  const char* begin = it->second.c_str();
  char* end = nullptr;
  errno = 0;
  long long value = std::strtoll(begin, &end, 10);
  if (errno != 0 || end == begin || *end != '\0') return false;
  *out = static_cast<int64_t>(value);
  return true;
}

bool PluginConfig::GetBool(const std::string& key, bool* out, bool* present) const {
  auto it = values_.find(key);
  if (present) *present = it != values_.end();
  if (it == values_.end()) return false;
  std::string v = it->second;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "true" || v == "yes" || v == "1" || v == "on") {
    *out = true;
    return true;
  }
  if (v == "false" || v == "no" || v == "0" || v == "off") {
    *out = false;
    return true;
  }
  return false;
}

std::vector<std::string> PluginConfig::KeysWithPrefix(const std::string& prefix) const {
  std::vector<std::string> keys;
  for (auto it = values_.lower_bound(prefix); it != values_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    keys.push_back(it->first);
  }
  return keys;
}

}  // namespace crmsync
