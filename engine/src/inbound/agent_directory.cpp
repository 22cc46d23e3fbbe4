// The agent table; see agent_directory.h.
#include "inbound/agent_directory.h"

#include <algorithm>
#include <cctype>

#include "common/logging.h"
#include "crmsync/redact.h"

namespace crmsync::engine {
namespace {

// How often (clock time) an unmatched agent is logged, per direction.
constexpr int64_t kReportEveryMs = 60000;

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Splits "left=right"; false when either side is empty.
bool SplitPair(const std::string& pair, std::string* left, std::string* right) {
  size_t eq = pair.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) return false;
  *left = pair.substr(0, eq);
  *right = pair.substr(eq + 1);
  return true;
}

}  // namespace

AgentDirectory::AgentDirectory(AgentDirectoryConfig config, GuardedAdapter* adapter, Clock* clock,
                               MetricsRegistry* metrics)
    : config_(std::move(config)), adapter_(adapter), clock_(clock), metrics_(metrics) {
  if (metrics_) {
    for (const char* direction : {"outbound", "inbound"}) {
      metrics_->GetCounter("crmsync_agents_unmatched_total",
                           "Agents the directory could not match, by direction.",
                           {{"direction", direction}});
    }
  }
}

bool AgentDirectory::ParsePairs(const std::vector<std::string>& pairs,
                                std::map<std::string, std::string>* out, std::string* error) {
  for (const std::string& pair : pairs) {
    std::string agent, dealer;
    if (!SplitPair(pair, &agent, &dealer)) {
      *error = "inbound.agent_map: '" + pair + "' is not agent=dealer";
      return false;
    }
    (*out)[agent] = dealer;
  }
  return true;
}

bool AgentDirectory::ParseEmails(const std::vector<std::string>& pairs,
                                 std::map<std::string, std::string>* out, std::string* error) {
  std::map<std::string, std::string> dealer_of_email;
  for (const std::string& pair : pairs) {
    std::string dealer, email;
    if (!SplitPair(pair, &dealer, &email) || email.find('@') == std::string::npos ||
        email.find('@') == 0 || email.find('@') + 1 == email.size()) {
      *error = "inbound.agent_emails: '" + MaskSensitive(pair) + "' is not dealer=e-mail";
      return false;
    }
    email = Lower(email);
    auto [it, added] = dealer_of_email.emplace(email, dealer);
    if (!added && it->second != dealer) {
      // One CRM user cannot stand for two dealers: inbound would be ambiguous.
      *error = "inbound.agent_emails: dealers '" + it->second + "' and '" + dealer +
               "' have the same e-mail";
      return false;
    }
    (*out)[dealer] = email;
  }
  return true;
}

void AgentDirectory::Refresh() {
  std::vector<CrmUser> users;
  Status s = adapter_ ? adapter_->ListUsers(&users) : Status::NotFound("no plugin");
  std::map<std::string, std::string> dealer_of_email;
  for (const auto& [dealer, email] : config_.dealer_emails) dealer_of_email[email] = dealer;
  std::lock_guard<std::mutex> lock(mu_);
  read_at_ms_ = clock_->NowMs();
  if (s.ok()) {
    dealer_of_user_.clear();
    user_of_dealer_.clear();
    // Platform ids first: a user the CRM tags with a dealer id is that dealer,
    // whatever its e-mail; e-mail matches only fill what is left.
    for (int pass = 0; pass < 2; ++pass) {
      for (const CrmUser& user : users) {
        if (!user.active || user.id.empty() || dealer_of_user_.count(user.id)) continue;
        std::string dealer;
        if (pass == 0) {
          dealer = user.platform_id;
        } else if (!user.email.empty()) {
          auto it = dealer_of_email.find(Lower(user.email));
          if (it != dealer_of_email.end()) dealer = it->second;
        }
        if (dealer.empty() || user_of_dealer_.count(dealer)) continue;
        dealer_of_user_[user.id] = dealer;
        user_of_dealer_[dealer] = user.id;
      }
    }
  } else if (s.code() == StatusCode::kNotFound) {
    // A plugin without a user list says so at once, and asking again each TTL
    // costs nothing; a CRM that answered 404 to the list (a wrong path, for
    // now) is read again then. Said once, as the table keeps its last read.
    if (!said_no_list_) {
      said_no_list_ = true;
      ComponentLogger("agents").information(
          "the plugin lists no CRM users (%s): agents match by inbound.agent_map only until a "
          "list is read; asked again every inbound.agent_ttl_ms",
          s.ToString());
    }
  } else {
    ComponentLogger("agents").warning("cannot list CRM users: %s", s.ToString());
  }
}

void AgentDirectory::RefreshIfStale() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    const bool stale = read_at_ms_ < 0 || clock_->NowMs() - read_at_ms_ >= config_.ttl_ms;
    if (!stale) return;
    if (refreshing_) {
      // Single flight: a stale table still serves while another thread reads
      // the CRM's users; before the first read there is nothing to serve.
      if (read_at_ms_ < 0) refreshed_.wait(lock, [&] { return !refreshing_; });
      return;
    }
    refreshing_ = true;
  }
  Refresh();
  {
    std::lock_guard<std::mutex> lock(mu_);
    refreshing_ = false;
  }
  refreshed_.notify_all();
}

std::optional<std::string> AgentDirectory::DealerFor(const std::string& agent_id) {
  auto it = config_.agent_map.find(agent_id);
  if (it != config_.agent_map.end()) return it->second;
  RefreshIfStale();
  std::lock_guard<std::mutex> lock(mu_);
  auto listed = dealer_of_user_.find(agent_id);
  if (listed == dealer_of_user_.end()) return std::nullopt;
  return listed->second;
}

std::optional<std::string> AgentDirectory::UserFor(const std::string& dealer_id) {
  for (const auto& [agent, dealer] : config_.agent_map) {
    if (dealer == dealer_id) return agent;
  }
  RefreshIfStale();
  std::lock_guard<std::mutex> lock(mu_);
  auto listed = user_of_dealer_.find(dealer_id);
  if (listed == user_of_dealer_.end()) return std::nullopt;
  return listed->second;
}

void AgentDirectory::ReportUnmatched(const std::string& direction, const std::string& agent,
                                     const std::string& where) {
  if (metrics_) {
    metrics_
        ->GetCounter("crmsync_agents_unmatched_total",
                     "Agents the directory could not match, by direction.",
                     {{"direction", direction}})
        .Inc();
  }
  const int64_t now = clock_->NowMs();
  int64_t unsaid = 0;
  {
    std::lock_guard<std::mutex> lock(report_mu_);
    auto at = reported_at_ms_.find(direction);
    if (at != reported_at_ms_.end() && now - at->second < kReportEveryMs) {
      ++unsaid_[direction];
      return;
    }
    reported_at_ms_[direction] = now;
    unsaid = unsaid_[direction];
    unsaid_[direction] = 0;
  }
  const bool outbound = direction == "outbound";
  ComponentLogger("agents").warning(
      "%s agent %s (%s) matches no %s; %s%s", direction, MaskSensitive(agent), where,
      std::string(outbound ? "active CRM user (inbound.agent_map, the user's platform id, "
                             "inbound.agent_emails)"
                           : "platform dealer"),
      std::string(outbound ? "sent without it" : "assignment ignored"),
      unsaid > 0 ? " (and " + std::to_string(unsaid) + " more in the last minute)"
                 : std::string());
}

}  // namespace crmsync::engine
