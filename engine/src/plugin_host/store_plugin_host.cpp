// The engine's PluginHost over a PluginStates; see store_plugin_host.h.
#include "plugin_host/store_plugin_host.h"

#include <cstdio>
#include <exception>
#include <utility>

namespace crmsync::engine {
namespace {

bool KeyChar(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '-';
}

// One byte as a message shows it: 'c' when printable, else 0xNN.
std::string ShownByte(unsigned char c) {
  if (c > 0x20 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
  char hex[8];
  std::snprintf(hex, sizeof(hex), "0x%02X", c);
  return hex;
}

// A key as a message quotes it: printable ASCII kept, other bytes as \xNN,
// cut after 40 bytes (a key is a name, not a secret, but may be any bytes).
std::string ShownKey(const std::string& key) {
  std::string out;
  for (size_t i = 0; i < key.size() && i < 40; ++i) {
    const unsigned char c = static_cast<unsigned char>(key[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02X", c);
      out += hex;
    }
  }
  if (key.size() > 40) out += "...";
  return "'" + out + "'";
}

}  // namespace

StorePluginHost::StorePluginHost(std::string plugin, PluginStates* states, Clock* clock)
    : plugin_(std::move(plugin)), states_(states), clock_(clock) {}

StorePluginHost StorePluginHost::ReadOnly(std::string plugin, PluginStates* states,
                                          std::string why) {
  StorePluginHost host(std::move(plugin), states, nullptr);
  host.read_only_why_ = std::move(why);
  return host;
}

std::string StorePluginHost::KeyProblem(const std::string& key) {
  if (key.empty()) return "plugin state key is empty; a key is 1 to 128 bytes";
  if (key.size() > kMaxKeyBytes) {
    return "plugin state key " + ShownKey(key) + " is " + std::to_string(key.size()) +
           " bytes long; at most " + std::to_string(kMaxKeyBytes);
  }
  for (size_t i = 0; i < key.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(key[i]);
    if (!KeyChar(c)) {
      return "plugin state key " + ShownKey(key) + " has " + ShownByte(c) + " at byte " +
             std::to_string(i + 1) + "; only A-Z a-z 0-9 _ . : - are allowed";
    }
  }
  return "";
}

Status StorePluginHost::LoadState(const std::string& key, std::optional<std::string>* value) {
  const std::string problem = KeyProblem(key);
  if (!problem.empty()) return Status::InvalidRecord(problem);
  if (value == nullptr) {
    return Status::InvalidRecord("LoadState of key " + ShownKey(key) +
                                 " got no place for the value");
  }
  try {
    *value = states_->LoadPluginState(plugin_, key);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Retryable("cannot load plugin state key " + ShownKey(key) + " of plugin '" +
                             plugin_ + "': " + e.what());
  }
}

Status StorePluginHost::SaveState(const std::string& key, const std::string& value) {
  const std::string problem = KeyProblem(key);
  if (!problem.empty()) return Status::InvalidRecord(problem);
  if (value.size() > kMaxValueBytes) {
    return Status::InvalidRecord("plugin state value for key " + ShownKey(key) + " is " +
                                 std::to_string(value.size()) + " bytes; at most " +
                                 std::to_string(kMaxValueBytes) + " (64 KiB)");
  }
  if (!read_only_why_.empty()) {
    return Status::Permanent("plugin state key " + ShownKey(key) + " of plugin '" + plugin_ +
                             "' was not saved: " + read_only_why_);
  }
  try {
    states_->SavePluginState(plugin_, key, value, clock_->NowMs());
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Retryable("cannot save plugin state key " + ShownKey(key) + " of plugin '" +
                             plugin_ + "': " + e.what());
  }
}

}  // namespace crmsync::engine
