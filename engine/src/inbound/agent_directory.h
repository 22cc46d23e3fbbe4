// inbound/agent_directory.h: CRM agent ids -> platform dealer ids.
//
// A cached table: the pairs from config (inbound.agent_map) and, when the
// plugin can list agents, the plugin's list, re-read once it is older than the
// TTL (and at most once per TTL after a failed read). Thread-safe.
#ifndef CRMSYNC_ENGINE_INBOUND_AGENT_DIRECTORY_H_
#define CRMSYNC_ENGINE_INBOUND_AGENT_DIRECTORY_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "plugin_host/guarded_adapter.h"

namespace crmsync::engine {

class AgentDirectory {
 public:
  /// `configured`: "agent=dealer" pairs; a malformed one is reported by Create.
  AgentDirectory(std::map<std::string, std::string> configured, GuardedAdapter* adapter,
                 Clock* clock, int64_t ttl_ms)
      : configured_(std::move(configured)), adapter_(adapter), clock_(clock), ttl_ms_(ttl_ms) {}

  /// Parses inbound.agent_map pairs; false with `*error` naming the bad pair.
  static bool ParsePairs(const std::vector<std::string>& pairs,
                         std::map<std::string, std::string>* out, std::string* error);

  /// The dealer for a CRM agent id; nullopt when neither config nor the plugin
  /// knows it. Config wins over the plugin's list.
  std::optional<std::string> DealerFor(const std::string& agent_id);

  /// Reads the plugin's list now (also done lazily on expiry).
  void Refresh();

 private:
  const std::map<std::string, std::string> configured_;
  GuardedAdapter* adapter_;
  Clock* clock_;
  const int64_t ttl_ms_;
  std::mutex mu_;
  std::map<std::string, std::string> listed_;
  int64_t read_at_ms_ = -1;
  bool can_list_ = true;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_INBOUND_AGENT_DIRECTORY_H_
