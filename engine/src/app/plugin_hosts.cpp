// Each command's PluginHost; see plugin_hosts.h.
#include "app/plugin_hosts.h"

#include <functional>
#include <mutex>

#include "app/open_store.h"
#include "common/clock.h"
#include "store/memory_plugin_states.h"
#include "store/sqlite_state_reader.h"

namespace crmsync::engine {
namespace {

// PluginStates opened at the first call, so a command whose plugin keeps no
// state neither creates nor connects to a store. An opening that fails is
// tried again at the next call.
class LazyPluginStates final : public PluginStates {
 public:
  using Opener = std::function<std::unique_ptr<PluginStates>()>;
  explicit LazyPluginStates(Opener open) : open_(std::move(open)) {}

  std::optional<std::string> LoadPluginState(const std::string& plugin,
                                             const std::string& key) override {
    return Opened().LoadPluginState(plugin, key);
  }
  void SavePluginState(const std::string& plugin, const std::string& key, const std::string& value,
                       int64_t now_ms) override {
    Opened().SavePluginState(plugin, key, value, now_ms);
  }

 private:
  PluginStates& Opened() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!states_) states_ = open_();
    return *states_;
  }

  Opener open_;
  std::mutex mu_;
  std::unique_ptr<PluginStates> states_;  // Set once, under mu_.
};

}  // namespace

std::unique_ptr<CommandPluginHost> CommandPluginHost::Writable(const config::Settings& settings) {
  std::unique_ptr<CommandPluginHost> made(new CommandPluginHost());
  made->states_ = std::make_unique<LazyPluginStates>(
      [settings]() -> std::unique_ptr<PluginStates> { return OpenStateStore(settings); });
  made->host_ = std::make_unique<StorePluginHost>(settings.GetString("crm.plugin"),
                                                  made->states_.get(), &SystemClock::Instance());
  return made;
}

std::unique_ptr<CommandPluginHost> CommandPluginHost::ReadOnly(const config::Settings& settings,
                                                               const std::string& command) {
  std::unique_ptr<CommandPluginHost> made(new CommandPluginHost());
  std::string why = command + " does not write the store (serve does)";
  if (settings.GetString("store.backend") == "sqlite") {
    const std::string path = settings.GetString("store.path");
    made->states_ = std::make_unique<LazyPluginStates>(
        [path]() -> std::unique_ptr<PluginStates> { return SqlitePluginStateReader::Open(path); });
  } else {
    // check-config never connects to PostgreSQL: nothing saved is seen.
    made->states_ = std::make_unique<MemoryPluginStates>();
  }
  made->host_ = std::make_unique<StorePluginHost>(
      StorePluginHost::ReadOnly(settings.GetString("crm.plugin"), made->states_.get(), why));
  return made;
}

}  // namespace crmsync::engine
