// The agent table; see agent_directory.h.
#include "inbound/agent_directory.h"

#include "common/logging.h"

namespace crmsync::engine {

bool AgentDirectory::ParsePairs(const std::vector<std::string>& pairs,
                                std::map<std::string, std::string>* out, std::string* error) {
  for (const std::string& pair : pairs) {
    size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) {
      *error = "inbound.agent_map: '" + pair + "' is not agent=dealer";
      return false;
    }
    (*out)[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return true;
}

void AgentDirectory::Refresh() {
  std::vector<CrmUser> users;
  Status s = adapter_ ? adapter_->ListUsers(&users) : Status::NotFound("no plugin");
  std::lock_guard<std::mutex> lock(mu_);
  read_at_ms_ = clock_->NowMs();
  if (s.ok()) {
    listed_.clear();
    for (const CrmUser& user : users) {
      if (user.active && !user.platform_id.empty()) listed_[user.id] = user.platform_id;
    }
  } else if (s.code() == StatusCode::kNotFound) {
    can_list_ = false;  // the plugin has no list: config only, do not ask again
  } else {
    ComponentLogger("inbound").warning("cannot list CRM users: %s", s.ToString());
  }
}

std::optional<std::string> AgentDirectory::DealerFor(const std::string& agent_id) {
  auto it = configured_.find(agent_id);
  if (it != configured_.end()) return it->second;
  bool refresh = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    refresh = can_list_ && (read_at_ms_ < 0 || clock_->NowMs() - read_at_ms_ >= ttl_ms_);
  }
  if (refresh) Refresh();
  std::lock_guard<std::mutex> lock(mu_);
  auto listed = listed_.find(agent_id);
  if (listed == listed_.end()) return std::nullopt;
  return listed->second;
}

}  // namespace crmsync::engine
