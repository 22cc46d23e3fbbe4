// A plugin that keeps state through its PluginHost (SDK ABI 3.0): Configure()
// loads a counter, adds one and saves it back; Dump() shows the count, how
// often it was attached, and (as "warnings") a save the host refused. So a
// test sees whether a value survived a restart and which commands write the
// engine's store. A key the host refuses (crm.stateful_plugin.state_key) makes
// Configure() refuse with the host's words.
#include <optional>
#include <string>

#include "minimal_adapter.h"

namespace crmsync::testplugins {

class StatefulAdapter : public MinimalAdapter {
 public:
  StatefulAdapter() : MinimalAdapter("stateful_plugin") {}

  void Attach(PluginHost* host) override {
    host_ = host;
    ++attaches_;
  }

  Status Configure(const PluginConfig& config) override {
    if (host_ == nullptr) return Status::Ok();  // Nothing to count with.
    const std::string key = config.Has("state_key") ? config.Get("state_key") : "counter";
    std::optional<std::string> saved;
    Status loaded = host_->LoadState(key, &saved);
    if (!loaded.ok()) return Status::InvalidConfig("state_key: " + loaded.message());
    counter_ = 1;
    if (saved && !saved->empty() && saved->find_first_not_of("0123456789") == std::string::npos) {
      counter_ = std::stoll(*saved) + 1;
    }
    Status stored = host_->SaveState(key, std::to_string(counter_));
    if (!stored.ok())
      refused_ = "counter " + std::to_string(counter_) +
                 " not saved: " + StatusCodeName(stored.code()) + ": " + stored.message();
    return Status::Ok();
  }

  std::string Dump() override {
    std::string json = "{\"counter\":" + std::to_string(counter_) +
                       ",\"attaches\":" + std::to_string(attaches_) + ",\"warnings\":[";
    if (!refused_.empty()) {
      std::string quoted;
      for (char c : refused_) {
        if (c == '"' || c == '\\') quoted += '\\';
        quoted += c;
      }
      json += "\"" + quoted + "\"";
    }
    return json + "]}";
  }

 private:
  PluginHost* host_ = nullptr;
  int attaches_ = 0;
  long long counter_ = 0;
  std::string refused_;
};

}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::StatefulAdapter, "stateful_plugin", "0.0.1")
