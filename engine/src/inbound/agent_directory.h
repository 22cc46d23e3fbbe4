// inbound/agent_directory.h: platform dealers <-> CRM users, both directions.
//
// One cached table serves outbound (SyncJob::related["agent"] and
// ["propertyAgent"]: dealer id -> CRM user id) and inbound (a CRM agent id in
// a webhook -> the platform's dealer id). It is built from:
//  1. inbound.agent_map pairs ("agent_123=dealer-7"): always win;
//  2. the plugin's user list (Adapter::ListUsers), matched to a dealer by the
//     platform id the CRM holds on the user (CrmUser::platform_id), else by
//     e-mail: inbound.agent_emails names each dealer's e-mail
//     ("dealer-7=asha@acme.example"), since the platform's events carry none.
// Inactive users are never matched. The list is read again once it is older
// than inbound.agent_ttl_ms (and at most once per TTL after a failed read).
// An agent with no match is reported (ReportUnmatched): a warning at most once
// a minute per direction, ids only, and crmsync_agents_unmatched_total.
// E-mails are personal data: never logged. Thread-safe.
#ifndef CRMSYNC_ENGINE_INBOUND_AGENT_DIRECTORY_H_
#define CRMSYNC_ENGINE_INBOUND_AGENT_DIRECTORY_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "metrics/metrics.h"
#include "plugin_host/guarded_adapter.h"

namespace crmsync::engine {

/// The configured part of the directory.
struct AgentDirectoryConfig {
  /// inbound.agent_map: CRM agent id -> dealer id.
  std::map<std::string, std::string> agent_map;
  /// inbound.agent_emails: dealer id -> e-mail, lower case.
  std::map<std::string, std::string> dealer_emails;
  /// inbound.agent_ttl_ms.
  int64_t ttl_ms = 300000;
};

class AgentDirectory {
 public:
  /// `adapter` may be null (no plugin list: configuration only); so may
  /// `metrics`.
  AgentDirectory(AgentDirectoryConfig config, GuardedAdapter* adapter, Clock* clock,
                 MetricsRegistry* metrics = nullptr);

  /// Parses inbound.agent_map pairs; false with `*error` naming the bad pair.
  static bool ParsePairs(const std::vector<std::string>& pairs,
                         std::map<std::string, std::string>* out, std::string* error);
  /// Parses inbound.agent_emails pairs (dealer=e-mail) into dealer -> lower-case
  /// e-mail; false with `*error` naming the bad pair (its e-mail masked).
  static bool ParseEmails(const std::vector<std::string>& pairs,
                          std::map<std::string, std::string>* out, std::string* error);

  /// Inbound: the dealer for a CRM agent id; nullopt when nothing matches.
  std::optional<std::string> DealerFor(const std::string& agent_id);
  /// Outbound: the CRM user id for a platform dealer id; nullopt when nothing
  /// matches.
  std::optional<std::string> UserFor(const std::string& dealer_id);

  /// Counts an agent nothing matched (direction "outbound" or "inbound") and
  /// logs it, rate-limited; `where` says what referred to it ("lead:42").
  void ReportUnmatched(const std::string& direction, const std::string& agent,
                       const std::string& where);

  /// Reads the plugin's list now (also done lazily on expiry).
  void Refresh();

 private:
  // Refreshes when the table has expired.
  void RefreshIfStale();

  const AgentDirectoryConfig config_;
  GuardedAdapter* adapter_;
  Clock* clock_;
  MetricsRegistry* metrics_;
  std::mutex mu_;
  // From the last good list, matched: CRM user id -> dealer, and back.
  std::map<std::string, std::string> dealer_of_user_;  ///< guarded by mu_
  std::map<std::string, std::string> user_of_dealer_;  ///< guarded by mu_
  int64_t read_at_ms_ = -1;                            ///< guarded by mu_
  bool said_no_list_ = false;                          ///< guarded by mu_
  /// One thread reads the list at a time; the others use the table they have
  /// (or, before the first read, wait for it). Guarded by mu_.
  bool refreshing_ = false;
  std::condition_variable refreshed_;
  std::mutex report_mu_;
  std::map<std::string, int64_t> reported_at_ms_;  ///< by direction; guarded by report_mu_
  std::map<std::string, int64_t> unsaid_;          ///< by direction; guarded by report_mu_
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_INBOUND_AGENT_DIRECTORY_H_
